"""Affine coupling (RealNVP), computing z and V in one network pass."""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from tfp_survae import _utils, nn
from tfp_survae.transforms.base import Bijection

__all__ = ["AffineCoupling"]

# How the network's raw output r becomes the log-scale s of z_b = x_b * exp(s) + t.
SCALE_FNS = {
    "exp": "s = r (RealNVP; the reference code's 'exp')",
    "softplus": "exp(s) = softplus(r) (the reference code's 'softplus')",
    "sigmoid": "exp(s) = sigmoid(r + 2) + 1e-3 (the reference code's 'sigmoid')",
    "tanh_exp": "s = 2 tanh(r / 2) (the reference code's 'tanh_exp')",
    "tanh": "s = B tanh(r / B), B = scale_bound (a soft clamp; 'tanh_exp' is B = 2)",
    "shifted_softplus": "exp(s) = softplus(r + log(e - 1)) + 1e-3 (scale 1 at r = 0)",
    "glow_sigmoid": "exp(s) = sigmoid(r + 2) (Glow)",
}
_SOFTPLUS_ONE = math.log(math.e - 1.0)  # softplus(_SOFTPLUS_ONE) = 1


def _log_softplus(r: tf.Tensor) -> tf.Tensor:
    """log(softplus(r)), also where softplus(r) underflows (there it equals r)."""
    small = r < -20.0
    return tf.where(small, r, tf.math.log(tf.nn.softplus(tf.where(small, tf.zeros_like(r), r))))


def _log_scale(raw: tf.Tensor, scale_fn: str, bound: float) -> tf.Tensor:
    """The log-scale s for the raw network output, as `SCALE_FNS` states."""
    if scale_fn == "exp":
        return raw
    if scale_fn == "softplus":
        return _log_softplus(raw)
    if scale_fn == "sigmoid":
        return tf.math.log(tf.sigmoid(raw + 2.0) + 1e-3)
    if scale_fn == "tanh_exp":
        return 2.0 * tf.tanh(raw / 2.0)
    if scale_fn == "tanh":
        return bound * tf.tanh(raw / bound)
    if scale_fn == "shifted_softplus":
        return tf.math.log(tf.nn.softplus(raw + _SOFTPLUS_ONE) + 1e-3)
    return tf.math.log_sigmoid(raw + 2.0)  # "glow_sigmoid"


def checkerboard_mask(height: int, width: int, parity: int, dtype) -> tf.Tensor:
    """[height, width, 1] mask, 1 where (i + j + parity) is even: the conditioning pixels."""
    rows = tf.range(height)[:, None]
    cols = tf.range(width)[None, :]
    mask = tf.cast(tf.math.floormod(rows + cols + parity, 2) == 0, dtype)
    return mask[:, :, None]


@keras.saving.register_keras_serializable(package="tfp_survae")
class AffineCoupling(Bijection):
    """Affine coupling layer (Dinh et al., 2017), single pass.

    The data x is split into a conditioning part x_a and a transformed part x_b; a network of x_a
    (and of `condition`, if given) predicts a shift t and a log-scale s for x_b.

    Forward: x_a = z_a, x_b = (z_b - t(z_a)) * exp(-s(z_a)).
    Inverse: z_a = x_a, z_b = x_b * exp(s(x_a)) + t(x_a).
    V = sum s(x_a).

    Args:
      network: Keras layer mapping x_a (concatenated with the condition on the last axis) to
        [shift t, raw output r] side by side on the last axis (the first half of the channels
        is t, the second r), each of x_b's shape. (The reference code orders them [r, t], and
        interleaves them per channel for images: permute a ported network's last layer.) None: a
        default with a zero-initialised output, so the layer starts as the identity: an MLP for
        vectors, a SetTransformer for sets [N, D], a DenseNet for images [h, w, c] sized to the
        image (the paper's from 32 x 32 pixels up: 64 channels, depth 10, growth 64; depth 4,
        growth 32 from 16 x 16; 32 channels, depth 2, growth 16 below). The network's output
        shape is checked when the layer is built: a wrong width is a ValueError.
      mask: "half" splits `axis`: the first `num_identity` entries (default: half, rounded
        down; the reference code conditions on half rounded up, so pass
        num_identity=ceil(D / 2) for odd D when porting) condition the rest. "checkerboard" splits an image [h, w, c] by a spatial
        checkerboard; the network then sees the whole image with the transformed pixels zeroed
        and predicts parameters for every pixel.
      axis: the event axis split by the "half" mask (-1: features or channels; -2: the points
        of a point cloud [N, D]).
      parity: which checkerboard squares condition (0 or 1).
      scale_fn: how the network's raw output r becomes the log-scale s (z_b = x_b exp(s) + t):
        "tanh" (default): s = B tanh(r / B) with B = `scale_bound`, a soft clamp that keeps
        deep flows stable; "exp": s = r (RealNVP); "softplus": exp(s) = softplus(r);
        "sigmoid": exp(s) = sigmoid(r + 2) + 1e-3; "tanh_exp": s = 2 tanh(r / 2);
        "shifted_softplus": exp(s) = softplus(r + log(e - 1)) + 1e-3 (scale 1 at r = 0);
        "glow_sigmoid": exp(s) = sigmoid(r + 2) (Glow). "exp", "softplus", "sigmoid" and
        "tanh_exp" are the PyTorch reference code's functions of the same names.
      scale_bound: B of "tanh".
      hidden_units: sizes of the default MLP.
      condition_shape: event shape of the `condition` tensor, if the coupling is conditional
        (needed to build the network before training).

    References:
      Dinh, Sohl-Dickstein, Bengio, "Density estimation using Real NVP", ICLR 2017.
      https://arxiv.org/abs/1605.08803
    """

    min_event_rank = 1
    config_sublayers = ("network",)

    def __init__(
        self,
        network: keras.layers.Layer | None = None,
        *,
        mask: str = "half",
        num_identity: int | None = None,
        axis: int = -1,
        parity: int = 0,
        scale_fn: str = "tanh",
        scale_bound: float = 3.0,
        hidden_units=(128, 128),
        condition_shape=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if mask not in ("half", "checkerboard"):
            raise ValueError(f"mask is 'half' or 'checkerboard'; received {mask!r}.")
        if scale_fn not in SCALE_FNS:
            raise ValueError(f"scale_fn is one of {sorted(SCALE_FNS)}; received {scale_fn!r}.")
        if parity not in (0, 1):
            raise ValueError(f"parity is 0 or 1; received {parity!r}.")
        self.network = network
        self.mask = mask
        self.num_identity = num_identity
        self.axis = self._check_axis(axis, "split")
        self.parity = int(parity)
        self.scale_fn = scale_fn
        self.scale_bound = float(scale_bound)
        self.hidden_units = list(hidden_units)
        self.condition_shape = None if condition_shape is None else list(condition_shape)

    def build(self, input_shape):
        super().build(input_shape)
        event = self.event_shape.as_list()
        if self.mask == "checkerboard":
            if len(event) != 3:
                raise ValueError(
                    f"{self._owner}: mask='checkerboard' needs image events [height, width, "
                    f"channels]; received event shape {event}."
                )
            net_in_shape, net_out = list(event), 2 * event[-1]
        else:
            rank = len(event)
            axis = self._resolve_axis(self.axis, rank)
            self._split_axis = rank + 1 + axis  # in a [batch] + event tensor
            size = event[axis]
            self._split = size // 2 if self.num_identity is None else int(self.num_identity)
            if not 0 < self._split < size:
                raise ValueError(
                    f"{self._owner}: the split needs 0 < num_identity < {size} (the size of axis "
                    f"{self.axis}); received num_identity={self._split}."
                )
            net_in_shape = list(event)
            net_in_shape[axis] = self._split
            transformed = list(event)
            transformed[axis] = size - self._split
            net_out = 2 * transformed[-1]
        params_shape = (list(event) if self.mask == "checkerboard" else transformed)[:-1]
        if self.condition_shape is not None:
            net_in_shape[-1] += self.condition_shape[-1]
        if self.network is None:
            self.network = _default_network(
                len(event), net_out, self.hidden_units, self.dtype_policy,
                image_pixels=event[0] * event[1] if len(event) == 3 else 0)
        if not self.network.built:
            self.network.build((None,) + tuple(net_in_shape))
        _utils.check_network_output(
            self._owner, self.network, net_in_shape, params_shape + [net_out], self.dtype,
            "the coupling network (a shift and a log-scale for each transformed entry, side by "
            "side on the last axis)",
        )

    def _network_params(self, inputs, condition, training):
        condition = self._checked_condition(condition, inputs)
        if condition is not None:
            inputs = tf.concat([inputs, tf.cast(condition, inputs.dtype)], axis=-1)
        out = tf.cast(_utils.run_network(self._owner, self.network, inputs, training=training), inputs.dtype)
        shift, raw = tf.split(out, 2, axis=-1)
        return shift, _log_scale(raw, self.scale_fn, self.scale_bound)

    def _checked_condition(self, condition, inputs):
        """The condition, after checking it against `condition_shape` (its last axis is
        concatenated to the network's input, so the other axes match the input's)."""
        if self.condition_shape is None:
            if condition is not None:
                raise ValueError(
                    f"{self._owner} was built without condition_shape, so it takes no "
                    "condition; received one of shape "
                    f"{list(getattr(condition, 'shape', []))}. Pass condition_shape= to make "
                    "it conditional."
                )
            return None
        if condition is None:
            raise ValueError(
                f"{self._owner} is conditional (condition_shape={self.condition_shape}); pass "
                "condition= with shape [batch] + condition_shape."
            )
        condition = tf.convert_to_tensor(condition)
        expected = tf.TensorShape([inputs.shape[0]] + inputs.shape[1:-1].as_list()
                                  + [self.condition_shape[-1]])
        if not condition.shape.is_compatible_with(expected):
            raise ValueError(
                f"{self._owner}: expected condition of shape {expected.as_list()} (the batch, "
                f"the network input's other axes, then {self.condition_shape[-1]} condition "
                f"features); received shape {condition.shape.as_list()}."
            )
        return condition

    def _halves(self, t):
        size = t.shape[self._split_axis]
        return tf.split(t, [self._split, size - self._split], axis=self._split_axis)

    def _checker(self, dtype):
        event = self.event_shape
        return checkerboard_mask(event[0], event[1], self.parity, dtype)

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        if self.mask == "checkerboard":
            mask = self._checker(x.dtype)
            shift, log_scale = self._network_params(x * mask, condition, training)
            log_scale = log_scale * (1.0 - mask)
            z = x * mask + (1.0 - mask) * (x * tf.exp(log_scale) + shift)
            return z, _utils.sum_except_batch(log_scale)
        x_a, x_b = self._halves(x)
        shift, log_scale = self._network_params(x_a, condition, training)
        z_b = x_b * tf.exp(log_scale) + shift
        return tf.concat([x_a, z_b], axis=self._split_axis), _utils.sum_except_batch(log_scale)

    def _forward_and_log_det(self, z, *, seed, condition):
        if self.mask == "checkerboard":
            mask = self._checker(z.dtype)
            shift, log_scale = self._network_params(z * mask, condition, False)
            log_scale = log_scale * (1.0 - mask)
            x = z * mask + (1.0 - mask) * (z - shift) * tf.exp(-log_scale)
            return x, _utils.sum_except_batch(log_scale)
        z_a, z_b = self._halves(z)
        shift, log_scale = self._network_params(z_a, condition, False)
        x_b = (z_b - shift) * tf.exp(-log_scale)
        return tf.concat([z_a, x_b], axis=self._split_axis), _utils.sum_except_batch(log_scale)

    def get_config(self):
        config = super().get_config()
        config.update(
            mask=self.mask,
            num_identity=self.num_identity,
            axis=self.axis,
            parity=self.parity,
            scale_fn=self.scale_fn,
            scale_bound=self.scale_bound,
            hidden_units=self.hidden_units,
            condition_shape=self.condition_shape,
        )
        return config


def _image_network_size(pixels: int) -> dict:
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

