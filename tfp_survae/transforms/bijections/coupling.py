"""Coupling layers: any elementwise map of one part of x, parameterized by the other part, in
one network pass; the affine, spline and logistic-mixture couplings are its presets."""

from __future__ import annotations

from typing import Any, Sequence

import keras
import tensorflow as tf

from tfp_survae import _checks, _networks, _tensors, nn
from tfp_survae.transforms.base import Bijection
from tfp_survae.transforms.bijections.maps import (
    AffineMap,
    ElementwiseMap,
    LogisticMixtureMap,
    RationalQuadraticMap,
    check_domain,
    check_map,
)
from tfp_survae.transforms._types import Config, Shape

__all__ = ["AffineCoupling", "Coupling", "LogisticMixtureCoupling", "RationalQuadraticCoupling"]


def checkerboard_mask(height: int, width: int, parity: int, dtype: tf.DType) -> tf.Tensor:
    """[height, width, 1] mask, 1 where (i + j + parity) is even: the conditioning pixels."""
    rows = tf.range(height)[:, None]
    cols = tf.range(width)[None, :]
    mask = tf.cast(tf.math.floormod(rows + cols + parity, 2) == 0, dtype)
    return mask[:, :, None]


@keras.saving.register_keras_serializable(package="tfp_survae")
class Coupling(Bijection):
    """A coupling layer (Dinh et al., 2017) with any elementwise map g (`ElementwiseMap`).

    The data x is split into a conditioning part x_a and a transformed part x_b; a network of x_a
    (and of `condition`, if given) predicts the map's P parameters theta for every entry of
    x_b. One network pass gives z and V.

    Inverse: z_a = x_a, z_b = g(x_b; theta(x_a)).
    Forward: x_a = z_a, x_b = g^-1(z_b; theta(z_a)).
    V = sum log g'(x_b; theta(x_a)).

    The network's last axis holds the P parameters as P contiguous blocks, each of x_b's
    channels. `AffineCoupling`, `RationalQuadraticCoupling` and `LogisticMixtureCoupling` are
    this layer with `AffineMap`, `RationalQuadraticMap` and `LogisticMixtureMap`.

    Args:
      network: Keras layer mapping x_a (concatenated with the condition on the last axis) to the
        parameters. None: a default with a zero-initialised output, so the layer starts at the
        map's raw-zero parameters (the identity for the maps above): an MLP for vectors, a
        SetTransformer for sets [N, D], a DenseNet for images [h, w, c] sized to the image
        (the paper's from 32 x 32 pixels up: 64 channels, depth 10, growth 64; depth 4,
        growth 32 from 16 x 16; 32 channels, depth 2, growth 16 below). The network's output
        shape is checked when the layer is built: a wrong width is a ValueError.
      map: the elementwise map g, an `ElementwiseMap`; None: `AffineMap()`.
      mask: "half" splits `axis`: the first `num_identity` entries (default: half, rounded
        down; the reference code conditions on half rounded up, so pass
        num_identity=ceil(D / 2) for odd D when porting) condition the rest. "checkerboard"
        splits an image [h, w, c] by a spatial checkerboard; the network then sees the whole
        image with the transformed pixels zeroed and predicts parameters for every pixel.
      num_identity: the size of x_a on `axis` ("half" mask), at least 1 and below the axis'
        size (checked when the layer is built).
      axis: the event axis split by the "half" mask (-1: features or channels; -2: the points
        of a point cloud [N, D]); it needs at least 2 entries.
      parity: which checkerboard squares condition (0 or 1).
      hidden_units: sizes of the default MLP (integers >= 1).
      condition_shape: event shape of the `condition` tensor, if the coupling is conditional
        (needed to build the network before training).
      **kwargs: `Transform` arguments (`name`, `dtype`, ...).

    Raises:
      ValueError: an argument outside the ranges above, naming it (when the layer is
        constructed, or for shapes when it is built); a condition given to a layer built
        without `condition_shape`, or none given to one built with it.
      TypeError: `network` is not a Keras layer, `map` not an `ElementwiseMap`, or `axis` not
        an integer.

    Examples:
      >>> layer = Coupling(map=RationalQuadraticMap(num_bins=4), hidden_units=[8])
      >>> x = tf.constant([[0.5, -1.0, 2.0]])
      >>> z, v = layer.inverse_and_log_det(x)
      >>> np.allclose(z, x), np.allclose(v, 0.0, atol=1e-6)  # the identity at first
      (True, True)

    References:
      Dinh, Sohl-Dickstein, Bengio, "Density estimation using Real NVP", ICLR 2017.
      https://arxiv.org/abs/1605.08803
    """

    min_event_rank = 1
    config_sublayers = ("network", "map")

    def __init__(
        self,
        network: keras.layers.Layer | None = None,
        map: ElementwiseMap | None = None,  # noqa: A002 (the peers' name for it)
        *,
        mask: str = "half",
        num_identity: int | None = None,
        axis: int = -1,
        parity: int = 0,
        hidden_units: Sequence[int] = (128, 128),
        condition_shape: Sequence[int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = self._owner
        if mask not in ("half", "checkerboard"):
            raise ValueError(f"{owner}: mask must be 'half' or 'checkerboard'; received "
                             f"{mask!r}.")
        if not _checks.is_int(parity) or parity not in (0, 1):
            raise ValueError(f"{owner}: parity must be 0 or 1; received {parity!r}.")
        if not _checks.is_int(axis):
            raise TypeError(f"{owner}: axis must be an integer; received {axis!r}.")
        self.network = _networks.check_network(owner, network, "network")
        self.map = check_map(owner, map)
        self.mask = mask
        self.num_identity = None if num_identity is None else _checks.check_integer(
            owner, "num_identity", num_identity, minimum=1)
        self.axis = self._check_axis(axis, "split")
        self.parity = int(parity)
        self.hidden_units = _checks.check_units(owner, "hidden_units", hidden_units)
        self.condition_shape = None if condition_shape is None else _checks.check_shape(
            owner, "condition_shape", condition_shape)
        self._condition_positions: list[int] | None = None  # known once built

    @property
    def params_per_element(self) -> int:
        """P, the map's parameters per transformed entry."""
        return self.map.params_per_element

    def build(self, input_shape: Shape) -> None:
        super().build(input_shape)
        event = self.event_shape.as_list()
        p = self.params_per_element
        if self.mask == "checkerboard":
            if len(event) != 3:
                raise ValueError(
                    f"{self._owner}: mask='checkerboard' needs image events [height, width, "
                    f"channels]; received event shape {event}."
                )
            net_in_shape, net_out = list(event), p * event[-1]
            params_shape = list(event)[:-1]
        else:
            rank = len(event)
            axis = self._resolve_axis(self.axis, rank)
            self._split_axis = rank + 1 + axis  # in a [batch] + event tensor
            size = event[axis]
            if size < 2:
                raise ValueError(
                    f"{self._owner}: a coupling needs at least 2 entries on the split axis "
                    f"{self.axis} (one part conditions the other); received event shape "
                    f"{event}, of size {size} there. Use an autoregressive layer "
                    "(MaskedAutoregressive) or an elementwise transform for 1-D data."
                )
            self._split = size // 2 if self.num_identity is None else self.num_identity
            if not 0 < self._split < size:
                raise ValueError(
                    f"{self._owner}: the split needs 0 < num_identity < {size} (the size of axis "
                    f"{self.axis}); received num_identity={self._split}."
                )
            net_in_shape = list(event)
            net_in_shape[axis] = self._split
            transformed = list(event)
            transformed[axis] = size - self._split
            net_out = p * transformed[-1]
            params_shape = transformed[:-1]
        if self.condition_shape is not None:
            positions = list(net_in_shape[:-1])
            if self.condition_shape[:-1] not in ([], positions):
                axes = "".join(f"{d}, " for d in positions)
                allowed = "[C]" + (f" or [{axes}C]" if positions else "")
                raise ValueError(
                    f"{self._owner}: the condition is concatenated to the network's input on "
                    f"its last axis, so it has shape [batch, {axes}C]: condition_shape must be "
                    f"{allowed}; received {self.condition_shape}.")
            net_in_shape[-1] += self.condition_shape[-1]
            self._condition_positions = positions
        if self.network is None:
            self.network = _default_network(
                len(event), net_out, self.hidden_units, self.dtype_policy,
                image_pixels=event[0] * event[1] if len(event) == 3 else 0)
        if not self.network.built:
            self.network.build((None,) + tuple(net_in_shape))
        _networks.check_network_output(
            self._owner, self.network, net_in_shape, params_shape + [net_out], self.dtype,
            f"the coupling network of {self.map!r} ({p} parameters for each transformed entry, "
            f"as {p} blocks on the last axis)",
        )

    def _network_params(self, inputs, condition, training):
        """The P parameter tensors, each of the transformed part's shape."""
        condition = self._checked_condition(condition, inputs)
        if condition is not None:
            inputs = tf.concat([inputs, tf.cast(condition, inputs.dtype)], axis=-1)
        out = _networks.run_network(self._owner, self.network, inputs, training=training)
        return tf.split(tf.cast(out, inputs.dtype), self.params_per_element, axis=-1)

    @property
    def condition_event_shape(self) -> list[int] | None:
        """The condition's event shape in a flow: the network input's positions, then
        `condition_shape`'s last axis (C), one condition per position; `condition_shape`
        before the layer is built."""
        if self.condition_shape is None or self._condition_positions is None:
            return super().condition_event_shape
        return list(self._condition_positions) + [self.condition_shape[-1]]

    def _checked_condition(self, condition, inputs):
        """The condition, after checking it against `condition_shape` (its last axis is
        concatenated to the network's input, so the other axes match the input's)."""
        if self.condition_shape is None or condition is None:
            return _checks.layer_condition(self._owner, condition, self.condition_shape)
        expected = tf.TensorShape([inputs.shape[0]] + inputs.shape[1:-1].as_list()
                                  + [self.condition_shape[-1]])
        return _checks.layer_condition(
            self._owner, condition, self.condition_shape, expected,
            f"the batch, the network input's other axes, then {self.condition_shape[-1]} "
            "condition features")

    def _halves(self, t):
        size = t.shape[self._split_axis]
        return tf.split(t, [self._split, size - self._split], axis=self._split_axis)

    def _checker(self, dtype):
        event = self.event_shape
        return checkerboard_mask(event[0], event[1], self.parity, dtype)

    @staticmethod
    def _masked(params, mask):
        """Zero parameters on the conditioning squares (their values are kept as they are), so
        the elementwise map stays finite there."""
        return [p * (1.0 - mask) for p in params]

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        if self.mask == "checkerboard":
            x = check_domain(self._owner, self.map, x, "data x")
            mask = self._checker(x.dtype)
            params = self._masked(self._network_params(x * mask, condition, training), mask)
            z_t, log_det = self.map.inverse(x, params)
            z = x * mask + (1.0 - mask) * z_t
            return z, _tensors.sum_except_batch(log_det * (1.0 - mask))
        x_a, x_b = self._halves(x)
        x_b = check_domain(self._owner, self.map, x_b, "data x")
        z_b, log_det = self.map.inverse(x_b, self._network_params(x_a, condition, training))
        return tf.concat([x_a, z_b], axis=self._split_axis), _tensors.sum_except_batch(log_det)

    def _forward_and_log_det(self, z, *, seed, condition):
        if self.mask == "checkerboard":
            z = check_domain(self._owner, self.map, z, "latent z")
            mask = self._checker(z.dtype)
            params = self._masked(self._network_params(z * mask, condition, False), mask)
            x_t, log_det = self.map.forward(z, params)
            x = z * mask + (1.0 - mask) * x_t
            return x, _tensors.sum_except_batch(log_det * (1.0 - mask))
        z_a, z_b = self._halves(z)
        z_b = check_domain(self._owner, self.map, z_b, "latent z")
        x_b, log_det = self.map.forward(z_b, self._network_params(z_a, condition, False))
        return tf.concat([z_a, x_b], axis=self._split_axis), _tensors.sum_except_batch(log_det)

    def get_config(self) -> Config:
        config = super().get_config()
        config.update(
            mask=self.mask,
            num_identity=self.num_identity,
            axis=self.axis,
            parity=self.parity,
            hidden_units=self.hidden_units,
            condition_shape=self.condition_shape,
        )
        return config


def _map_argument(name: str) -> property:
    def get(self: Coupling) -> Any:
        return getattr(self.map, name)

    return property(get, doc=f"The map's `{name}`.")


class _Preset(Coupling):
    """A `Coupling` with a fixed kind of map, built from the map's own arguments, which its
    configuration lists in place of `map` and which it shows as attributes."""

    def get_config(self) -> Config:
        config = super().get_config()
        del config["map"]
        config.update(self.map.get_config())
        return config


@keras.saving.register_keras_serializable(package="tfp_survae")
class AffineCoupling(_Preset):
    """Affine coupling layer (Dinh et al., 2017), single pass: `Coupling` with `AffineMap`.

    Forward: x_a = z_a, x_b = (z_b - t(z_a)) * exp(-s(z_a)).
    Inverse: z_a = x_a, z_b = x_b * exp(s(x_a)) + t(x_a).
    V = sum s(x_a).

    The network outputs [shift t, raw output r] side by side on the last axis (the first half
    of the channels is t, the second r), each of x_b's shape. (The reference code's
    `AffineCouplingBijection` reads them through `ElementwiseParams(2)` in its default
    mode='interleaved', which despite its name takes two contiguous halves of the channel
    axis, [r | t], for vectors and images alike (`ElementwiseParams2d`, channels on axis 1):
    swap the two halves of a ported network's last layer. Only its mode='sequential'
    alternates r and t element by element.)

    Args:
      network: as `Coupling`.
      scale_fn: as `AffineMap` (how r becomes the log-scale s; "tanh" by default, a soft clamp
        at `scale_bound`).
      scale_bound: as `AffineMap`.
      **kwargs: `Coupling`'s `mask`, `num_identity`, `axis`, `parity`, `hidden_units`,
        `condition_shape`, and `Transform` arguments.

    Raises:
      ValueError: as `Coupling` and `AffineMap`.
      TypeError: as `Coupling` and `AffineMap`.

    Examples:
      >>> layer = AffineCoupling(hidden_units=[8])
      >>> x = tf.constant([[1.0, 2.0, 3.0, 4.0]])
      >>> z, v = layer.inverse_and_log_det(x)
      >>> z.numpy().tolist(), v.numpy().tolist()  # the zero-initialised network: the identity
      ([[1.0, 2.0, 3.0, 4.0]], [0.0])

    References:
      Dinh, Sohl-Dickstein, Bengio, "Density estimation using Real NVP", ICLR 2017.
      https://arxiv.org/abs/1605.08803
    """

    scale_fn = _map_argument("scale_fn")
    scale_bound = _map_argument("scale_bound")

    def __init__(self, network: keras.layers.Layer | None = None, *, scale_fn: str = "tanh",
                 scale_bound: float = 3.0, **kwargs: Any) -> None:
        super().__init__(network, AffineMap(scale_fn, scale_bound), **kwargs)


@keras.saving.register_keras_serializable(package="tfp_survae")
class RationalQuadraticCoupling(_Preset):
    """Neural spline coupling (Durkan et al., 2019): `Coupling` with `RationalQuadraticMap`,
    a monotonic rational-quadratic spline on [-B, B] and the identity outside.

    Inverse: z_a = x_a, z_b = g(x_b; theta(x_a)).  Forward: x_a = z_a, x_b = g^-1(z_b;
    theta(z_a)) (closed form, a quadratic root per entry).  V = sum log g'(x_b; theta(x_a)).

    The network outputs 3K - 1 parameters per entry, as blocks on the last axis (see
    `RationalQuadraticMap`, which also states the inversion's accuracy). A zero-initialised
    default network starts as the identity.

    Args:
      network: as `Coupling`.
      num_bins: as `RationalQuadraticMap`.
      bound: as `RationalQuadraticMap`.
      min_bin_width: as `RationalQuadraticMap`.
      min_slope: as `RationalQuadraticMap`.
      **kwargs: `Coupling`'s `mask`, `num_identity`, `axis`, `parity`, `hidden_units`,
        `condition_shape`, and `Transform` arguments.

    Raises:
      ValueError: as `Coupling` and `RationalQuadraticMap`.
      TypeError: as `Coupling` and `RationalQuadraticMap`.

    Examples:
      >>> layer = RationalQuadraticCoupling(num_bins=4, hidden_units=[8])
      >>> x = tf.constant([[0.5, -1.0, 5.0, 0.25]])
      >>> z, v = layer.inverse_and_log_det(x)
      >>> np.allclose(layer.forward(z), x, atol=1e-5), v.shape.as_list()
      (True, [1])

    References:
      Durkan, Bekasov, Murray, Papamakarios, "Neural Spline Flows", NeurIPS 2019.
      https://arxiv.org/abs/1906.04032
    """

    num_bins = _map_argument("num_bins")
    bound = _map_argument("bound")
    min_bin_width = _map_argument("min_bin_width")
    min_slope = _map_argument("min_slope")

    def __init__(self, network: keras.layers.Layer | None = None, *, num_bins: int = 8,
                 bound: float = 3.0, min_bin_width: float = 1e-3, min_slope: float = 1e-3,
                 **kwargs: Any) -> None:
        super().__init__(network, RationalQuadraticMap(num_bins, bound, min_bin_width,
                                                       min_slope), **kwargs)


@keras.saving.register_keras_serializable(package="tfp_survae")
class LogisticMixtureCoupling(_Preset):
    """Mixture-of-logistics CDF coupling (Flow++, Ho et al., 2019): `Coupling` with
    `LogisticMixtureMap`.

    Inverse: z_a = x_a, z_b = logit F(x_b; theta(x_a)), F = sum_k pi_k sigmoid((x_b - mu_k) /
    s_k).  Forward: x_a = z_a, x_b = F^-1(sigmoid(z_b)) by bisection, with the implicit
    function's gradients.  V = sum log f(x_b) - log F(x_b) - log(1 - F(x_b)), f the mixture
    density.

    The network outputs 3K parameters per entry, as blocks on the last axis (see
    `LogisticMixtureMap`, which also states the inversion's accuracy). A zero-initialised
    default network gives K equal standard logistics: the identity.

    Args:
      network: as `Coupling`.
      num_components: as `LogisticMixtureMap`.
      bisection_steps: as `LogisticMixtureMap`.
      **kwargs: `Coupling`'s `mask`, `num_identity`, `axis`, `parity`, `hidden_units`,
        `condition_shape`, and `Transform` arguments.

    Raises:
      ValueError: as `Coupling` and `LogisticMixtureMap`.
      TypeError: as `Coupling` and `LogisticMixtureMap`.

    Examples:
      >>> layer = LogisticMixtureCoupling(num_components=2, hidden_units=[8])
      >>> x = tf.constant([[0.5, -1.0, 2.0, 0.25]])
      >>> z, v = layer.inverse_and_log_det(x)
      >>> np.allclose(layer.forward(z), x, atol=1e-4), v.shape.as_list()
      (True, [1])

    References:
      Ho, Chen, Srinivas, Duan, Abbeel, "Flow++: Improving Flow-Based Generative Models with
      Variational Dequantization and Architecture Design", ICML 2019.
      https://arxiv.org/abs/1902.00275
    """

    num_components = _map_argument("num_components")
    bisection_steps = _map_argument("bisection_steps")

    def __init__(self, network: keras.layers.Layer | None = None, *, num_components: int = 4,
                 bisection_steps: int = 60, **kwargs: Any) -> None:
        super().__init__(network, LogisticMixtureMap(num_components, bisection_steps),
                         **kwargs)


def _image_network_size(pixels: int) -> dict[str, int]:
    """DenseNet settings for images of `pixels` = height x width: the paper's (64 channels,
    depth 10, growth 64; 3.7 M parameters per coupling) from 32 x 32 up, smaller below, so a
    tiny image does not carry a CIFAR-sized network."""
    if pixels >= 32 * 32:
        return dict(channels=64, depth=10, growth=64)
    if pixels >= 16 * 16:
        return dict(channels=64, depth=4, growth=32)
    return dict(channels=32, depth=2, growth=16)


def _default_network(event_rank, outputs, hidden_units, dtype_policy, image_pixels=0):
    """A zero-initialised network suited to the event: vectors, sets or images."""
    if event_rank == 1:
        return nn.MLP(hidden_units, outputs, output_initializer="zeros", dtype=dtype_policy,
                      name="network")
    if event_rank == 2:
        return nn.SetTransformer(outputs, dtype=dtype_policy, name="network")
    if event_rank == 3:
        return nn.DenseNet(outputs, dtype=dtype_policy, name="network",
                           **_image_network_size(image_pixels))
    raise ValueError(f"No default coupling network for events of rank {event_rank}; pass one.")
