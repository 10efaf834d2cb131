"""Elementwise maps: the invertible scalar functions that couplings and autoregressive layers
apply to every transformed entry, with parameters predicted by their networks."""

from __future__ import annotations

import abc
import math

import keras
import tensorflow as tf

from tfp_survae import _checks
from tfp_survae.transforms.bijections import _spline
from tfp_survae.transforms._types import Config

__all__ = ["ElementwiseMap", "AdditiveMap", "AffineMap", "RationalQuadraticMap",
           "LogisticMixtureMap"]


class ElementwiseMap(abc.ABC):
    """An increasing bijection g(x; theta) of each entry, with P raw parameters per entry.

    A `Coupling` or `MaskedAutoregressive` layer predicts, for every transformed entry x_i, P
    raw parameters theta_i from its network and applies g elementwise:

    Inverse (data to latent): z_i = g(x_i; theta_i).  Forward: x_i = g^-1(z_i; theta_i).
    V = sum_i log g'(x_i; theta_i).

    A map is a stateless, serializable description (its weights live in the layer's
    network). A subclass sets `params_per_element` (P) in its constructor, checks its
    constructor arguments there (a ValueError or TypeError naming the argument), implements
    `inverse` and `forward`, and returns its constructor arguments from `get_config`. Register
    it with `@keras.saving.register_keras_serializable()` so saved layers load. Raw parameters
    of zero should give the identity map: the layers' default networks start at zero.

    Both methods take `params`, a list of P tensors of the values' shape (the network's P
    blocks in order, unconstrained: the map constrains them), and return the mapped values and
    log g' at the data side, elementwise. A map of a bounded or periodic domain (a circular
    spline on [-pi, pi)) implements the same two methods on its domain and names it in
    `domain`, a closed interval (low, high) that holds both x and z (None: the real line).
    The layers refuse values outside it with a ValueError naming "data x" or "latent z"
    (eagerly and in graphs; under XLA, where checks are compiled away, the map returns NaN
    there).

    Examples:
      >>> @keras.saving.register_keras_serializable(package="my_maps")
      ... class Shift(ElementwiseMap):
      ...     '''g(x) = x + t: Inverse z = x + t, Forward x = z - t, log g' = 0.'''
      ...     params_per_element = 1
      ...     def inverse(self, x: tf.Tensor, params: list[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
      ...         return x + params[0], tf.zeros_like(x)
      ...     def forward(self, z: tf.Tensor, params: list[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
      ...         return z - params[0], tf.zeros_like(z)
      >>> z, log_slope = Shift().inverse(tf.constant([1.0, 2.0]), [tf.constant([0.5, 0.5])])
      >>> z.numpy().tolist(), log_slope.numpy().tolist()
      ([1.5, 2.5], [0.0, 0.0])
    """

    params_per_element: int = 1
    domain: tuple[float, float] | None = None

    @abc.abstractmethod
    def inverse(self, x: tf.Tensor, params: list[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        """Data to latent: z = g(x; theta), elementwise.

        Args:
          x: the values.
          params: the P raw parameter tensors, each of x's shape.

        Returns:
          (z, log g'(x; theta)), each of x's shape.
        """

    @abc.abstractmethod
    def forward(self, z: tf.Tensor, params: list[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        """Latent to data: x = g^-1(z; theta), elementwise.

        Args:
          z: the values.
          params: the P raw parameter tensors, each of z's shape.

        Returns:
          (x, log g'(x; theta)), each of z's shape.
        """

    def get_config(self) -> Config:
        """The constructor arguments.

        Returns:
          The arguments `from_config` rebuilds the map from.
        """
        return {}

    @classmethod
    def from_config(cls, config: Config) -> ElementwiseMap:
        """Rebuilds a map from `get_config`'s output.

        Args:
          config: the constructor arguments.

        Returns:
          The new map.
        """
        return cls(**config)

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({arguments})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.get_config() == self.get_config()

    def __hash__(self) -> int:
        return hash(repr(self))


@keras.saving.register_keras_serializable(package="tfp_survae")
class AdditiveMap(ElementwiseMap):
    """The additive map of NICE (Dinh et al., 2015): g(x) = x + t, volume-preserving.

    Inverse: z = x + t.  Forward: x = z - t.  log g'(x) = 0, so V = 0.

    The P = 1 raw parameter per entry is the shift t itself; a raw zero gives the identity.

    Examples:
      >>> coupling = ts.Coupling(map=ts.AdditiveMap(), hidden_units=[8])
      >>> z, v = coupling.inverse_and_log_det([[0.5, -1.0]])
      >>> float(v[0])
      0.0

    References:
      Dinh, Krueger, Bengio, "NICE: Non-linear Independent Components Estimation", ICLR 2015
      workshop. https://arxiv.org/abs/1410.8516
    """

    params_per_element = 1

    def inverse(self, x: tf.Tensor, params: list[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        return x + params[0], tf.zeros_like(x)

    def forward(self, z: tf.Tensor, params: list[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        return z - params[0], tf.zeros_like(z)


# How the network's raw output r becomes the log-scale s of z = x exp(s) + t.
SCALE_FNS = {
    "exp": "s = r (RealNVP; the reference code's 'exp')",
    "softplus": "exp(s) = softplus(r) (the reference code's 'softplus')",
    "sigmoid": "exp(s) = sigmoid(r + 2) + 1e-3 (the reference code's 'sigmoid')",
    "tanh_exp": "s = 2 tanh(r / 2) (the reference code's 'tanh_exp')",
    "tanh": "s = B tanh(r / B), B = scale_bound (a soft clamp; 'tanh_exp' is B = 2)",
    "shifted_softplus": "exp(s) = softplus(r + log(e - 1)) + 1e-3 (scale 1 at r = 0)",
    "iaf_gate": "exp(-s) = sigmoid(r + 2) (IAF's gate: the forward multiplies by it)",
    "glow_sigmoid": "exp(s) = sigmoid(r + 2) (Glow)",
}
_SOFTPLUS_ONE = math.log(math.e - 1.0)  # softplus(_SOFTPLUS_ONE) = 1


def _log_softplus(r: tf.Tensor) -> tf.Tensor:
    """log(softplus(r)), also where softplus(r) underflows (there it equals r)."""
    small = r < -20.0
    return tf.where(small, r, tf.math.log(tf.nn.softplus(tf.where(small, tf.zeros_like(r), r))))


@keras.saving.register_keras_serializable(package="tfp_survae")
class AffineMap(ElementwiseMap):
    """The affine map of RealNVP and MAF: g(x) = x exp(s) + t.

    Inverse: z = x exp(s) + t.  Forward: x = (z - t) exp(-s).  log g'(x) = s.

    The P = 2 raw parameters per entry are the shift t and a raw output r that `scale_fn`
    turns into the log-scale s: "tanh" (default): s = B tanh(r / B) with B = `scale_bound`, a
    soft clamp that keeps deep flows stable; "exp": s = r (RealNVP); "softplus":
    exp(s) = softplus(r); "sigmoid": exp(s) = sigmoid(r + 2) + 1e-3; "tanh_exp":
    s = 2 tanh(r / 2); "shifted_softplus": exp(s) = softplus(r + log(e - 1)) + 1e-3 (scale 1
    at r = 0); "glow_sigmoid": exp(s) = sigmoid(r + 2) (Glow); "iaf_gate": exp(-s) =
    sigmoid(r + 2), so the forward x = sigma (z - t) with the gate sigma in (0, 1) (IAF's
    numerically stable update, Kingma et al., 2016). "exp", "softplus", "sigmoid"
    and "tanh_exp" are the PyTorch reference code's functions of the same names. Raw zeros
    give the identity for "exp", "tanh", "tanh_exp" and "shifted_softplus" (up to its 1e-3).

    Both directions are exact to the dtype's rounding.

    Args:
      scale_fn: one of the names above (`AffineMap.SCALE_FNS`).
      scale_bound: B of "tanh", positive.

    Raises:
      ValueError: an unknown `scale_fn`, or a `scale_bound` that is not positive and finite.
      TypeError: a `scale_fn` that is not a string, or a `scale_bound` that is not a number.

    Examples:
      >>> z, log_slope = AffineMap("exp").inverse(
      ...     tf.constant([1.0]), [tf.constant([0.5]), tf.constant([math.log(2.0)])])
      >>> z.numpy(), np.round(log_slope.numpy(), 4)
      (array([2.5], dtype=float32), array([0.6931], dtype=float32))
    """

    params_per_element = 2
    SCALE_FNS = SCALE_FNS

    def __init__(self, scale_fn: str = "tanh", scale_bound: float = 3.0) -> None:
        if not isinstance(scale_fn, str) or scale_fn not in SCALE_FNS:
            kind = ValueError if isinstance(scale_fn, str) else TypeError
            raise kind(f"AffineMap: scale_fn must be one of {sorted(SCALE_FNS)}; received "
                       f"{scale_fn!r}.")
        self.scale_fn = scale_fn
        self.scale_bound = _checks.check_real("AffineMap", "scale_bound", scale_bound, low=0.0)

    def log_scale(self, raw: tf.Tensor) -> tf.Tensor:
        """The log-scale s for the raw network output r.

        Args:
          raw: r.

        Returns:
          s, of r's shape.
        """
        fn, bound = self.scale_fn, self.scale_bound
        if fn == "exp":
            return raw
        if fn == "softplus":
            return _log_softplus(raw)
        if fn == "sigmoid":
            return tf.math.log(tf.sigmoid(raw + 2.0) + 1e-3)
        if fn == "tanh_exp":
            return 2.0 * tf.tanh(raw / 2.0)
        if fn == "tanh":
            return bound * tf.tanh(raw / bound)
        if fn == "shifted_softplus":
            return tf.math.log(tf.nn.softplus(raw + _SOFTPLUS_ONE) + 1e-3)
        if fn == "iaf_gate":
            return -tf.math.log_sigmoid(raw + 2.0)
        return tf.math.log_sigmoid(raw + 2.0)  # "glow_sigmoid"

    def inverse(self, x: tf.Tensor, params: list[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        shift, raw = params
        log_scale = self.log_scale(raw)
        return x * tf.exp(log_scale) + shift, log_scale

    def forward(self, z: tf.Tensor, params: list[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        shift, raw = params
        log_scale = self.log_scale(raw)
        return (z - shift) * tf.exp(-log_scale), log_scale

    def get_config(self) -> Config:
        return {"scale_fn": self.scale_fn, "scale_bound": self.scale_bound}


@keras.saving.register_keras_serializable(package="tfp_survae")
class RationalQuadraticMap(ElementwiseMap):
    """A monotonic rational-quadratic spline (Durkan et al., 2019) on [-B, B], the identity
    outside.

    K bins with knots (x^k, y^k), x^0 = y^0 = -B, x^K = y^K = B, widths w_k, heights h_k,
    slopes s_k = h_k / w_k and knot derivatives d_k (d_0 = d_K = 1, so the map is continuous
    with a continuous derivative at +-B). On bin k, with xi = (x - x^k) / w_k in [0, 1]:

    Inverse: z = g(x) = y^k + h_k (s_k xi^2 + d_k xi (1 - xi)) / (s_k + (d_{k+1} + d_k -
    2 s_k) xi (1 - xi)).
    Forward: x = g^-1(z) = x^k + w_k xi, xi the root in [0, 1] of a xi^2 + b xi + c = 0 with
    a = h_k (s_k - d_k) + r (d_{k+1} + d_k - 2 s_k), b = h_k d_k - r (d_{k+1} + d_k -
    2 s_k), c = -s_k r, r = z - y^k; taken as 2c / (-b - sqrt(b^2 - 4ac)) for b >= 0 and
    (-b + sqrt(b^2 - 4ac)) / (2a) for b < 0, so neither form cancels, and kept in [0, 1].
    log g'(x) = 2 log s_k + log(d_{k+1} xi^2 + 2 s_k xi (1 - xi) + d_k (1 - xi)^2) -
    2 log(s_k + (d_{k+1} + d_k - 2 s_k) xi (1 - xi)); 0 in the tails.

    The P = 3K - 1 raw parameters per entry are K raw widths, K raw heights (softmax, scaled
    to 2B with a minimum of `min_bin_width` each) and K - 1 raw interior derivatives
    (softplus, shifted so a raw 0 gives 1, at least `min_slope`). Raw zeros give equal bins and
    derivatives of 1: the identity.

    Accuracy: `forward` solves g(x) = z to the dtype's precision. For z = `inverse`(x) and
    x_hat = `forward`(z): `inverse`(x_hat) differs from z by at most eps (1 + |z| +
    g'(x_hat) (1 + |x_hat|)), and |x_hat - x| <= eps (1 + |x|) + eps (1 + |z|) / m, m the
    least g' between x and x_hat; eps = 5e-6 in float32 and 1e-14 in float64 (measured up to
    5e-7 and 8e-16 with networks of three times the usual initial weights, over the bins,
    their edges and the tails). The second term is the spline's own conditioning: a bin whose
    height is near `min_bin_width` over a wide width has g' down to 1e-9, and there distinct
    x share one float32 z, which no inversion can tell apart (x_hat then lies elsewhere in
    that flat stretch); use float64, or a larger `min_bin_width` / `min_slope`, where that
    matters.

    Args:
      num_bins: K, an integer >= 2.
      bound: B, positive.
      min_bin_width: the least width and height of a bin, in (0, 2B / K).
      min_slope: the least interior knot derivative, in (0, 1).

    Raises:
      ValueError: an argument outside the ranges above (naming it).
      TypeError: an argument of the wrong type (naming it).

    Examples:
      >>> rq = RationalQuadraticMap(num_bins=4)
      >>> x = tf.constant([0.5, 5.0])
      >>> params = [tf.zeros([2])] * rq.params_per_element   # raw zeros: the identity
      >>> z, log_slope = rq.inverse(x, params)
      >>> np.allclose(z, x), np.allclose(log_slope, 0.0, atol=1e-6)
      (True, True)

    References:
      Durkan, Bekasov, Murray, Papamakarios, "Neural Spline Flows", NeurIPS 2019.
      https://arxiv.org/abs/1906.04032
    """

    def __init__(self, num_bins: int = 8, bound: float = 3.0, min_bin_width: float = 1e-3,
                 min_slope: float = 1e-3) -> None:
        owner = "RationalQuadraticMap"
        self.num_bins = _checks.check_integer(owner, "num_bins", num_bins, minimum=2)
        self.bound = _checks.check_real(owner, "bound", bound, low=0.0)
        self.min_bin_width = _checks.check_real(
            owner, f"min_bin_width (with bound={self.bound:g}, num_bins={self.num_bins}: "
            "2 * bound / num_bins is the widest)", min_bin_width, low=0.0,
            high=2.0 * self.bound / self.num_bins)
        self.min_slope = _checks.check_real(owner, "min_slope", min_slope, low=0.0, high=1.0)
        self.params_per_element = 3 * self.num_bins - 1

    def bins(self, params: list[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Bin widths and heights ([..., K], positive, each summing to 2B) and interior knot
        derivatives ([..., K - 1], positive) from the 3K - 1 raw parameter tensors.

        Args:
          params: the 3K - 1 raw parameter tensors.

        Returns:
          (widths, heights, derivatives).
        """
        k = self.num_bins
        widths = tf.stack(params[:k], axis=-1)
        heights = tf.stack(params[k:2 * k], axis=-1)
        slopes = tf.stack(params[2 * k:], axis=-1)
        span = 2.0 * self.bound - k * self.min_bin_width
        widths = tf.nn.softmax(widths, axis=-1) * span + self.min_bin_width
        heights = tf.nn.softmax(heights, axis=-1) * span + self.min_bin_width
        slopes = tf.nn.softplus(slopes + math.log(math.expm1(1.0 - self.min_slope))) + \
            self.min_slope
        return widths, heights, slopes

    def inverse(self, x: tf.Tensor, params: list[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        spline = _spline.Spline(*self.bins(params), -self.bound)
        return spline.value(x), spline.log_slope(x)

    def forward(self, z: tf.Tensor, params: list[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        spline = _spline.Spline(*self.bins(params), -self.bound)
        x = spline.root(z)
        return x, spline.log_slope(x)

    def get_config(self) -> Config:
        return {"num_bins": self.num_bins, "bound": self.bound,
                "min_bin_width": self.min_bin_width, "min_slope": self.min_slope}


def logistic_mixture_logit_cdf(x: tf.Tensor, logits: tf.Tensor, means: tf.Tensor,
                               log_scales: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
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
class LogisticMixtureMap(ElementwiseMap):
    """The mixture-of-logistics CDF of Flow++ (Ho et al., 2019), then the inverse sigmoid.

    F(x) = sum_k pi_k sigmoid((x - mu_k) / s_k), K components.

    Inverse: z = g(x) = logit F(x).  Forward: x = F^-1(sigmoid(z)) by bisection: the root lies
    between the components' own solutions mu_k + s_k z (at the smallest of them every
    component's CDF is at most sigmoid(z), at the largest at least), and `bisection_steps`
    halvings (60 by default) bring that interval below float64's resolution of the root;
    gradients flow through the implicit function (dx/dz = 1 / g', dx/dtheta =
    -(dg/dtheta) / g').  log g'(x) = log f(x) - log F(x) - log(1 - F(x)), f the mixture
    density.

    The P = 3K raw parameters per entry are K logits of pi, K means and K raw log-scales r,
    with log s = 7 tanh(r / 7) (Flow++ clamps log-scales at -7). Raw zeros give K equal
    standard logistics: the identity.

    Accuracy: with the default 60 steps, for z = `inverse`(x) and x_hat = `forward`(z):
    `inverse`(x_hat) differs from z by at most eps (1 + |z| + g'(x_hat) (1 + |x_hat|)), and
    |x_hat - x| <= eps (1 + |x|) + eps (1 + |z|) / m, m the least g' between x and x_hat;
    eps = 5e-6 in float32 and 1e-14 in float64 (measured up to 3e-7 and 6e-16 for |x| up to
    1e3 with networks of three times the usual initial weights). The second term is the
    mixture's own conditioning: between two sharp components F can be flat to the dtype's
    precision (g' below 1e-30), every x on that plateau has the same z, and the inversion
    returns the plateau's left end.

    Args:
      num_components: K, an integer >= 1.
      bisection_steps: halvings of the search interval, an integer >= 1.

    Raises:
      ValueError: an argument below 1 (naming it).
      TypeError: an argument that is not an integer (naming it).

    Examples:
      >>> mix = LogisticMixtureMap(num_components=2)
      >>> params = [tf.zeros([1])] * mix.params_per_element   # raw zeros: the identity
      >>> z, _ = mix.inverse(tf.constant([0.75]), params)
      >>> np.round(z.numpy(), 4).tolist(), np.round(mix.forward(z, params)[0].numpy(), 4).tolist()
      ([0.75], [0.75])

    References:
      Ho, Chen, Srinivas, Duan, Abbeel, "Flow++: Improving Flow-Based Generative Models with
      Variational Dequantization and Architecture Design", ICML 2019.
      https://arxiv.org/abs/1902.00275
    """

    LOG_SCALE_BOUND = 7.0

    def __init__(self, num_components: int = 4, bisection_steps: int = 60) -> None:
        self.num_components = _checks.check_integer("LogisticMixtureMap", "num_components",
                                                     num_components, minimum=1)
        self.bisection_steps = _checks.check_integer("LogisticMixtureMap", "bisection_steps",
                                                     bisection_steps, minimum=1)
        self.params_per_element = 3 * self.num_components

    def mixture(self, params: list[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Logits, means and clamped log-scales ([..., K] each) from the 3K raw tensors.

        Args:
          params: the 3K raw parameter tensors.

        Returns:
          (logits, means, log-scales).
        """
        k = self.num_components
        log_scales = tf.stack(params[2 * k:], axis=-1)
        bound = self.LOG_SCALE_BOUND  # a soft clamp: a component can neither vanish nor flatten
        return (tf.stack(params[:k], axis=-1), tf.stack(params[k:2 * k], axis=-1),
                bound * tf.tanh(log_scales / bound))

    def inverse(self, x: tf.Tensor, params: list[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        return logistic_mixture_logit_cdf(x, *self.mixture(params))

    def forward(self, z: tf.Tensor, params: list[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        logits, means, log_scales = self.mixture(params)
        roots = means + tf.exp(log_scales) * z[..., None]  # each component's own solution
        low, high = tf.reduce_min(roots, axis=-1), tf.reduce_max(roots, axis=-1)

        def halve(step, bounds):
            low, high = bounds
            middle = 0.5 * (low + high)
            below = logistic_mixture_logit_cdf(middle, logits, means, log_scales)[0] < z
            return step + 1, (tf.where(below, middle, low), tf.where(below, high, middle))

        _, (low, high) = tf.while_loop(lambda i, _: i < self.bisection_steps, halve,
                                       (tf.constant(0), (low, high)))
        # The bisection's root as the value, with the implicit function's gradients
        # (dx/dz = 1 / g', dx/dtheta = -(dg/dtheta) / g') through a term that is 0 in value.
        root = tf.stop_gradient(0.5 * (low + high))
        value, log_slope = logistic_mixture_logit_cdf(root, logits, means, log_scales)
        residual = z - value
        x = root + (residual - tf.stop_gradient(residual)) * tf.stop_gradient(
            tf.exp(-log_slope))
        return x, logistic_mixture_logit_cdf(x, logits, means, log_scales)[1]

    def get_config(self) -> Config:
        return {"num_components": self.num_components, "bisection_steps": self.bisection_steps}


def check_domain(owner: str, elementwise_map: ElementwiseMap, values: tf.Tensor,
                 what: str) -> tf.Tensor:
    """Refuses `values` outside the map's `domain` (a ValueError naming `what`, "data x" or
    "latent z", eagerly; a check op in graphs, which XLA compiles away: the map then returns
    NaN there). Returns the values."""
    if elementwise_map.domain is None:
        return values
    low, high = elementwise_map.domain
    message = (f"{owner}: expected {what} in [{low:.7g}, {high:.7g}], the domain of "
               f"{elementwise_map!r}")
    inside = tf.reduce_all((values >= low) & (values <= high))
    if tf.executing_eagerly():
        if not bool(inside):
            array = values.numpy()
            raise ValueError(f"{message}; received values from {array.min():.7g} to "
                             f"{array.max():.7g}.")
        return values
    return _checks.guarded(values, inside, f"{message}; received values from",
                           tf.reduce_min(values), "to", tf.reduce_max(values))


def check_map(owner: str, value: object) -> ElementwiseMap:
    """A layer's `map` argument: an ElementwiseMap instance, or None for `AffineMap()`."""
    if value is None:
        return AffineMap()
    if isinstance(value, type) and issubclass(value, ElementwiseMap):
        raise TypeError(f"{owner}: map must be an ElementwiseMap instance; received the class "
                        f"{value.__name__}. Pass map={value.__name__}(...).")
    if not isinstance(value, ElementwiseMap):
        raise TypeError(f"{owner}: map must be an ElementwiseMap (e.g. ts.AffineMap(), "
                        "ts.RationalQuadraticMap(), ts.CircularSplineMap()); received "
                        f"{type(value).__name__}: {value!r}.")
    return value
