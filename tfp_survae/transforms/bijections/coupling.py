"""Affine coupling (RealNVP), computing z and V in one network pass."""

from __future__ import annotations

import math

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_survae import _networks, _tensors, nn
from tfp_survae.transforms.base import Bijection

tfb = tfp.bijectors

__all__ = ["AffineCoupling", "ElementwiseCoupling", "LogisticMixtureCoupling",
           "RationalQuadraticCoupling"]

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


class ElementwiseCoupling(Bijection):
    """A coupling layer (Dinh et al., 2017) with an elementwise map chosen by the subclass.

    The data x is split into a conditioning part x_a and a transformed part x_b; a network of x_a
    (and of `condition`, if given) predicts P parameters for every entry of x_b, and x_b goes
    through an invertible elementwise map with those parameters. One network pass gives z and V.

    Inverse: z_a = x_a, z_b = g(x_b; theta(x_a)).  Forward: x_b = g^-1(z_b; theta(z_a)).
    V = sum log |g'(x_b; theta)|.

    Subclasses set `params_per_element` (P) and implement `_inverse_elements(x_b, params)` and
    `_forward_elements(z_b, params)`, each returning the mapped values and log |g'| elementwise
    (in the inverse direction's convention), with `params` the P tensors of x_b's shape. The
    network's last axis holds the P parameters as P contiguous blocks, each of x_b's channels.

    Args:
      network: Keras layer mapping x_a (concatenated with the condition on the last axis) to the
        parameters. None: a default with a zero-initialised output, so the layer starts at its
        subclass's initial map: an MLP for vectors, a SetTransformer for sets [N, D], a DenseNet
        for images [h, w, c] sized to the image (the paper's from 32 x 32 pixels up: 64
        channels, depth 10, growth 64; depth 4, growth 32 from 16 x 16; 32 channels, depth 2,
        growth 16 below). The network's output shape is checked when the layer is built: a
        wrong width is a ValueError.
      mask: "half" splits `axis`: the first `num_identity` entries (default: half, rounded
        down; the reference code conditions on half rounded up, so pass
        num_identity=ceil(D / 2) for odd D when porting) condition the rest. "checkerboard"
        splits an image [h, w, c] by a spatial checkerboard; the network then sees the whole
        image with the transformed pixels zeroed and predicts parameters for every pixel.
      axis: the event axis split by the "half" mask (-1: features or channels; -2: the points
        of a point cloud [N, D]).
      parity: which checkerboard squares condition (0 or 1).
      hidden_units: sizes of the default MLP.
      condition_shape: event shape of the `condition` tensor, if the coupling is conditional
        (needed to build the network before training).
    """

    min_event_rank = 1
    config_sublayers = ("network",)
    params_per_element = 1
    network_role = "the coupling network"

    def __init__(
        self,
        network: keras.layers.Layer | None = None,
        *,
        mask: str = "half",
        num_identity: int | None = None,
        axis: int = -1,
        parity: int = 0,
        hidden_units=(128, 128),
        condition_shape=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if mask not in ("half", "checkerboard"):
            raise ValueError(f"mask is 'half' or 'checkerboard'; received {mask!r}.")
        if parity not in (0, 1):
            raise ValueError(f"parity is 0 or 1; received {parity!r}.")
        self.network = network
        self.mask = mask
        self.num_identity = num_identity
        self.axis = self._check_axis(axis, "split")
        self.parity = int(parity)
        self.hidden_units = list(hidden_units)
        self.condition_shape = None if condition_shape is None else list(condition_shape)

    def build(self, input_shape):
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
            net_out = p * transformed[-1]
            params_shape = transformed[:-1]
        if self.condition_shape is not None:
            net_in_shape[-1] += self.condition_shape[-1]
        if self.network is None:
            self.network = _default_network(
                len(event), net_out, self.hidden_units, self.dtype_policy,
                image_pixels=event[0] * event[1] if len(event) == 3 else 0)
        if not self.network.built:
            self.network.build((None,) + tuple(net_in_shape))
        _networks.check_network_output(
            self._owner, self.network, net_in_shape, params_shape + [net_out], self.dtype,
            f"{self.network_role} ({p} parameters for each transformed entry, as {p} blocks on "
            "the last axis)",
        )

    def _network_params(self, inputs, condition, training):
        """The P parameter tensors, each of the transformed part's shape."""
        condition = self._checked_condition(condition, inputs)
        if condition is not None:
            inputs = tf.concat([inputs, tf.cast(condition, inputs.dtype)], axis=-1)
        out = _networks.run_network(self._owner, self.network, inputs, training=training)
        return tf.split(tf.cast(out, inputs.dtype), self.params_per_element, axis=-1)

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

    @staticmethod
    def _masked(params, mask):
        """Zero parameters on the conditioning squares (their values are kept as they are), so
        the elementwise map stays finite there."""
        return [p * (1.0 - mask) for p in params]

    def _inverse_elements(self, x_b, params):
        raise NotImplementedError

    def _forward_elements(self, z_b, params):
        raise NotImplementedError

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        if self.mask == "checkerboard":
            mask = self._checker(x.dtype)
            params = self._masked(self._network_params(x * mask, condition, training), mask)
            z_t, log_det = self._inverse_elements(x, params)
            z = x * mask + (1.0 - mask) * z_t
            return z, _tensors.sum_except_batch(log_det * (1.0 - mask))
        x_a, x_b = self._halves(x)
        z_b, log_det = self._inverse_elements(x_b, self._network_params(x_a, condition,
                                                                         training))
        return tf.concat([x_a, z_b], axis=self._split_axis), _tensors.sum_except_batch(log_det)

    def _forward_and_log_det(self, z, *, seed, condition):
        if self.mask == "checkerboard":
            mask = self._checker(z.dtype)
            params = self._masked(self._network_params(z * mask, condition, False), mask)
            x_t, log_det = self._forward_elements(z, params)
            x = z * mask + (1.0 - mask) * x_t
            return x, _tensors.sum_except_batch(log_det * (1.0 - mask))
        z_a, z_b = self._halves(z)
        x_b, log_det = self._forward_elements(z_b, self._network_params(z_a, condition, False))
        return tf.concat([z_a, x_b], axis=self._split_axis), _tensors.sum_except_batch(log_det)

    def get_config(self):
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


@keras.saving.register_keras_serializable(package="tfp_survae")
class AffineCoupling(ElementwiseCoupling):
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
        num_identity=ceil(D / 2) for odd D when porting) condition the rest. "checkerboard"
        splits an image [h, w, c] by a spatial
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

    params_per_element = 2

    def __init__(self, network: keras.layers.Layer | None = None, *, scale_fn: str = "tanh",
                 scale_bound: float = 3.0, **kwargs):
        super().__init__(network, **kwargs)
        if scale_fn not in SCALE_FNS:
            raise ValueError(f"scale_fn is one of {sorted(SCALE_FNS)}; received {scale_fn!r}.")
        self.scale_fn = scale_fn
        self.scale_bound = float(scale_bound)

    def _inverse_elements(self, x_b, params):
        return affine_map(x_b, params, self.scale_fn, self.scale_bound, "inverse")

    def _forward_elements(self, z_b, params):
        return affine_map(z_b, params, self.scale_fn, self.scale_bound, "forward")

    def get_config(self):
        config = super().get_config()
        config.update(scale_fn=self.scale_fn, scale_bound=self.scale_bound)
        return config


def spline_params(params, num_bins: int, bound: float, min_bin_width: float,
                  min_slope: float):
    """Bin widths, bin heights ([..., K], positive, each summing to 2B) and interior knot slopes
    ([..., K - 1], positive) from 3K - 1 raw tensors. Raw zeros give equal bins and slopes of 1:
    the identity."""
    widths = tf.stack(params[:num_bins], axis=-1)
    heights = tf.stack(params[num_bins:2 * num_bins], axis=-1)
    slopes = tf.stack(params[2 * num_bins:], axis=-1)
    span = 2.0 * bound - num_bins * min_bin_width
    widths = tf.nn.softmax(widths, axis=-1) * span + min_bin_width
    heights = tf.nn.softmax(heights, axis=-1) * span + min_bin_width
    slopes = tf.nn.softplus(slopes + math.log(math.expm1(1.0 - min_slope))) + min_slope
    return widths, heights, slopes


def rational_quadratic_spline(widths, heights, slopes, bound: float) -> tfb.Bijector:
    """TFP's monotonic rational-quadratic spline on [-B, B], the identity outside."""
    return tfb.RationalQuadraticSpline(widths, heights, slopes, range_min=-bound)


def affine_map(values, params, scale_fn: str, bound: float, direction: str):
    """The elementwise affine map g(x) = x exp(s) + t with params [t, raw s]: "inverse" applies
    g (data to latent), "forward" its inverse. Returns the values and log g' elementwise (the
    same in both directions: it does not depend on x)."""
    shift, raw = params
    log_scale = _log_scale(raw, scale_fn, bound)
    if direction == "inverse":
        return values * tf.exp(log_scale) + shift, log_scale
    return (values - shift) * tf.exp(-log_scale), log_scale


def spline_map(values, params, num_bins: int, bound: float, min_bin_width: float,
               min_slope: float, direction: str):
    """The elementwise rational-quadratic spline g with 3K - 1 raw params: "inverse" applies g
    (data to latent), "forward" its inverse. Returns the values and log g' at the data side."""
    spline = rational_quadratic_spline(
        *spline_params(params, num_bins, bound, min_bin_width, min_slope), bound)
    if direction == "inverse":
        return spline.forward(values), spline.forward_log_det_jacobian(values, event_ndims=0)
    return spline.inverse(values), -spline.inverse_log_det_jacobian(values, event_ndims=0)


@keras.saving.register_keras_serializable(package="tfp_survae")
class RationalQuadraticCoupling(ElementwiseCoupling):
    """Neural spline coupling (Durkan et al., 2019): a monotonic rational-quadratic spline.

    For every transformed entry, K bins on [-B, B] with widths, heights and interior knot slopes
    predicted from x_a; outside [-B, B] the map is the identity (linear tails, slope 1, so the
    spline is continuous with a continuous derivative at +-B).

    Inverse: z_b = s(x_b; theta(x_a)).  Forward: x_b = s^-1(z_b; theta(z_a)) (closed form, a
    quadratic root per entry).  V = sum log s'(x_b; theta).

    The network outputs 3K - 1 parameters per entry, as blocks on the last axis: K raw bin
    widths, K raw bin heights (softmax, scaled to 2B with a minimum of `min_bin_width`) and K - 1
    raw interior slopes (softplus, at least `min_slope`). A zero-initialised default network
    starts as the identity. The spline is TFP's `tfb.RationalQuadraticSpline`.

    Args:
      network, mask, num_identity, axis, parity, hidden_units, condition_shape: as
        `AffineCoupling` (see `ElementwiseCoupling`).
      num_bins: K.
      bound: B, the spline's half-width.
      min_bin_width, min_slope: lower bounds that keep the spline well conditioned.

    References:
      Durkan, Bekasov, Murray, Papamakarios, "Neural Spline Flows", NeurIPS 2019.
      https://arxiv.org/abs/1906.04032
    """

    network_role = "the spline coupling network"

    def __init__(self, network: keras.layers.Layer | None = None, *, num_bins: int = 8,
                 bound: float = 3.0, min_bin_width: float = 1e-3, min_slope: float = 1e-3,
                 **kwargs):
        num_bins, bound = int(num_bins), float(bound)
        if num_bins < 2:
            raise ValueError(f"num_bins must be at least 2; received {num_bins}.")
        if not bound > 0:
            raise ValueError(f"bound must be positive; received {bound}.")
        if not 0 < min_bin_width * num_bins < 2 * bound:
            raise ValueError(
                f"min_bin_width must lie in (0, 2 * bound / num_bins) = (0, "
                f"{2 * bound / num_bins}); received {min_bin_width}.")
        if not 0 < min_slope < 1:
            raise ValueError(f"min_slope must lie in (0, 1); received {min_slope}.")
        self.num_bins, self.bound = num_bins, bound
        self.min_bin_width, self.min_slope = float(min_bin_width), float(min_slope)
        self.params_per_element = 3 * num_bins - 1
        super().__init__(network, **kwargs)

    def _map(self, values, params, direction):
        return spline_map(values, params, self.num_bins, self.bound, self.min_bin_width,
                          self.min_slope, direction)

    def _inverse_elements(self, x_b, params):
        return self._map(x_b, params, "inverse")

    def _forward_elements(self, z_b, params):
        return self._map(z_b, params, "forward")

    def get_config(self):
        config = super().get_config()
        config.update(num_bins=self.num_bins, bound=self.bound,
                      min_bin_width=self.min_bin_width, min_slope=self.min_slope)
        return config


def logistic_mixture_logit_cdf(x, logits, means, log_scales):
    """For a mixture of K logistics per element ([..., K] parameters): the logit of its CDF at x
    and log of the derivative of that logit, both elementwise (stable in log space)."""
    log_weights = tf.nn.log_softmax(logits, axis=-1)
    u = (x[..., None] - means) * tf.exp(-log_scales)
    log_cdf = tf.reduce_logsumexp(log_weights + tf.math.log_sigmoid(u), axis=-1)
    log_sf = tf.reduce_logsumexp(log_weights + tf.math.log_sigmoid(-u), axis=-1)
    log_pdf = tf.reduce_logsumexp(
        log_weights - u - 2.0 * tf.nn.softplus(-u) - log_scales, axis=-1)
    return log_cdf - log_sf, log_pdf - log_cdf - log_sf


@keras.saving.register_keras_serializable(package="tfp_survae")
class LogisticMixtureCoupling(ElementwiseCoupling):
    """Mixture-of-logistics CDF coupling (Flow++, Ho et al., 2019), then the inverse sigmoid.

    For every transformed entry, K logistic components with weights, means and log-scales
    predicted from x_a. Inverse: z_b = logit(F(x_b)), F = sum_k pi_k sigmoid((x_b - mu_k) /
    s_k). Forward: x_b = F^-1(sigmoid(z_b)) by bisection: the root lies between the components'
    own solutions mu_k + s_k z_b, and `bisection_steps` halvings (60 by default) bring the
    interval below float64's resolution of it; gradients flow through the implicit function. V
    = sum log f(x_b) - log F(x_b) - log(1 -
    F(x_b)), f the mixture density.

    The network outputs 3K parameters per entry, as blocks on the last axis: K logits of pi, K
    means and K raw log-scales r, with log s = 7 tanh(r / 7) (Flow++ clamps log-scales at -7).
    A zero-initialised default network gives K equal standard logistics: the identity.

    Args:
      network, mask, num_identity, axis, parity, hidden_units, condition_shape: as
        `AffineCoupling` (see `ElementwiseCoupling`).
      num_components: K.
      bisection_steps: halvings of the sampling direction's search interval.

    References:
      Ho, Chen, Srinivas, Duan, Abbeel, "Flow++: Improving Flow-Based Generative Models with
      Variational Dequantization and Architecture Design", ICML 2019.
      https://arxiv.org/abs/1902.00275
    """

    network_role = "the mixture coupling network"
    LOG_SCALE_BOUND = 7.0

    def __init__(self, network: keras.layers.Layer | None = None, *, num_components: int = 4,
                 bisection_steps: int = 60, **kwargs):
        if int(num_components) < 1:
            raise ValueError(f"num_components must be positive; received {num_components}.")
        if int(bisection_steps) < 1:
            raise ValueError(f"bisection_steps must be positive; received {bisection_steps}.")
        self.num_components = int(num_components)
        self.bisection_steps = int(bisection_steps)
        self.params_per_element = 3 * self.num_components
        super().__init__(network, **kwargs)

    def _mixture(self, params):
        k = self.num_components
        log_scales = tf.stack(params[2 * k:], axis=-1)
        bound = self.LOG_SCALE_BOUND  # a soft clamp: a component can neither vanish nor flatten
        return (tf.stack(params[:k], axis=-1), tf.stack(params[k:2 * k], axis=-1),
                bound * tf.tanh(log_scales / bound))

    def _inverse_elements(self, x_b, params):
        return logistic_mixture_logit_cdf(x_b, *self._mixture(params))

    def _forward_elements(self, z_b, params):
        logits, means, log_scales = self._mixture(params)
        roots = means + tf.exp(log_scales) * z_b[..., None]  # each component's own solution
        low, high = tf.reduce_min(roots, axis=-1), tf.reduce_max(roots, axis=-1)

        def halve(_, bounds):
            low, high = bounds
            middle = 0.5 * (low + high)
            below = logistic_mixture_logit_cdf(middle, logits, means, log_scales)[0] < z_b
            return _ + 1, (tf.where(below, middle, low), tf.where(below, high, middle))

        _, (low, high) = tf.while_loop(lambda i, _: i < self.bisection_steps, halve,
                                       (tf.constant(0), (low, high)))
        # The bisection's root as the value, with the implicit function's gradients
        # (dx/dz = 1 / g', dx/dtheta = -(dg/dtheta) / g') through a term that is 0 in value.
        root = tf.stop_gradient(0.5 * (low + high))
        value, log_slope = logistic_mixture_logit_cdf(root, logits, means, log_scales)
        residual = z_b - value
        x_b = root + (residual - tf.stop_gradient(residual)) * tf.stop_gradient(
            tf.exp(-log_slope))
        return x_b, logistic_mixture_logit_cdf(x_b, logits, means, log_scales)[1]

    def get_config(self):
        config = super().get_config()
        config.update(num_components=self.num_components,
                      bisection_steps=self.bisection_steps)
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

