"""The circular rational-quadratic spline: an elementwise map of angles on [-pi, pi), a
diffeomorphism of the circle, for couplings and autoregressive layers on tori."""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from tfp_survae import _checks
from tfp_survae.transforms.bijections import _spline
from tfp_survae.transforms._types import Config
from tfp_survae.transforms.bijections.maps import ElementwiseMap

__all__ = ["CircularSplineMap", "wrap_angle"]


def wrap_angle(values: tf.Tensor) -> tf.Tensor:
    """values modulo 2 pi, in [-pi, pi) (the gradient is 1: a rotation by a multiple of 2 pi)."""
    two_pi = 2.0 * math.pi
    wrapped = values - two_pi * tf.floor((values + math.pi) / two_pi)
    return tf.where(wrapped >= math.pi, wrapped - two_pi, wrapped)  # rounding can reach pi


@keras.saving.register_keras_serializable(package="tfp_survae")
class CircularSplineMap(ElementwiseMap):
    """A circular rational-quadratic spline (Rezende et al., 2020): a diffeomorphism of the
    circle, for angles in [-pi, pi).

    A rational-quadratic spline s on [-pi, pi] (Durkan et al., 2019; the formulas of
    `RationalQuadraticMap`) with K bins, s(-pi) = -pi, s(pi) = pi, and equal knot derivatives
    at the two ends, d_0 = d_K (learned), so that s and s' agree at the seam and s is a
    diffeomorphism of the circle; then, with `rotation`, a rotation by a learned angle theta.
    This is the paper's circular spline: end derivatives tied and learned, composed with a
    rotation, so that no point of the circle stays fixed. (zuko's `NCSF` fixes d_0 = d_K = 1
    and rotates by a fixed pi instead.) With w(v) = v modulo 2 pi in [-pi, pi):

    Inverse: z = w(s(x) + theta).  Forward: x = w(s^-1(w(z - theta))) (the spline's closed-form
    root).  log g'(x) = log s'(x), so V = sum_i log s'(x_i).

    Domain: x and z in [-pi, pi] (pi and -pi are the same point; results lie in [-pi, pi)).
    Values outside are refused, not wrapped: the layers raise a ValueError naming "data x" or
    "latent z" (under XLA, where checks are compiled away, the map returns NaN there). Wrap
    angles with `ts.transforms.bijections.circular.wrap_angle` first if they are not in it.

    The P = 3K + 1 raw parameters per entry (3K without rotation) are K raw widths, K raw
    heights (softmax, scaled to 2 pi with a minimum of `min_bin_width` each), K - 1 raw
    interior derivatives and one raw end derivative (softplus, shifted so a raw 0 gives 1, at
    least `min_slope`), then the angle theta itself. Raw zeros give the identity.

    Accuracy: as `RationalQuadraticMap`'s (the same root).

    Examples:
      >>> coupling = ts.Coupling(map=ts.CircularSplineMap(num_bins=4), hidden_units=[8])
      >>> z, v = coupling.inverse_and_log_det([[0.5, -3.0]])
      >>> bool(tf.reduce_all(tf.abs(z) <= np.pi))
      True

    Args:
      num_bins: K, an integer >= 2.
      min_bin_width: the least width and height of a bin, in (0, 2 pi / K).
      min_slope: the least knot derivative, in (0, 1).
      rotation: learn a rotation angle (True, the paper's) or not (False: P = 3K, s alone).

    Raises:
      ValueError, TypeError: an argument outside the ranges above (naming it).

    References:
      Rezende, Papamakarios, Racaniere, Albergo, Kanwar, Shanahan, Cranmer, "Normalizing
      Flows on Tori and Spheres", ICML 2020. https://arxiv.org/abs/2002.02428
      Durkan, Bekasov, Murray, Papamakarios, "Neural Spline Flows", NeurIPS 2019.
      https://arxiv.org/abs/1906.04032
    """

    domain = (-math.pi, math.pi)

    def __init__(self, num_bins: int = 8, min_bin_width: float = 1e-3,
                 min_slope: float = 1e-3, rotation: bool = True):
        owner = "CircularSplineMap"
        self.num_bins = _checks.check_integer(owner, "num_bins", num_bins, minimum=2)
        self.min_bin_width = _checks.check_real(
            owner, f"min_bin_width (with num_bins={self.num_bins}: 2 pi / num_bins is the "
            "widest)", min_bin_width, low=0.0, high=2.0 * math.pi / self.num_bins)
        self.min_slope = _checks.check_real(owner, "min_slope", min_slope, low=0.0, high=1.0)
        self.rotation = _checks.check_flag(owner, "rotation", rotation)
        self.params_per_element = 3 * self.num_bins + int(self.rotation)

    def spline(self, params: list[tf.Tensor]) -> tuple[_spline.Spline, tf.Tensor]:
        """The spline s on [-pi, pi] and the rotation angle (0 without `rotation`) from the raw
        parameter tensors."""
        k = self.num_bins
        widths = tf.stack(params[:k], axis=-1)
        heights = tf.stack(params[k:2 * k], axis=-1)
        slopes = tf.stack(params[2 * k:3 * k], axis=-1)  # K - 1 interior, then the ends'
        span = 2.0 * math.pi - k * self.min_bin_width
        widths = tf.nn.softmax(widths, axis=-1) * span + self.min_bin_width
        heights = tf.nn.softmax(heights, axis=-1) * span + self.min_bin_width
        slopes = tf.nn.softplus(slopes + math.log(math.expm1(1.0 - self.min_slope))) + \
            self.min_slope
        angle = params[3 * k] if self.rotation else tf.zeros_like(params[0])
        spline = _spline.Spline(widths, heights, slopes[..., :-1], -math.pi,
                                boundary=slopes[..., -1])
        return spline, angle

    @staticmethod
    def _inside(values: tf.Tensor) -> tf.Tensor:
        """The values, with NaN outside [-pi, pi] (what XLA, which drops the layers' checks,
        returns there)."""
        inside = (values >= -math.pi) & (values <= math.pi)
        return tf.where(inside, values, tf.constant(math.nan, values.dtype))

    def inverse(self, x: tf.Tensor, params: list[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        spline, angle = self.spline(params)
        x = tf.clip_by_value(self._inside(x), spline.kx[..., 0], spline.kx[..., -1])
        return wrap_angle(spline.value(x) + angle), spline.log_slope(x)

    def forward(self, z: tf.Tensor, params: list[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        spline, angle = self.spline(params)
        y = tf.clip_by_value(wrap_angle(self._inside(z) - angle), spline.ky[..., 0],
                             spline.ky[..., -1])
        x = spline.root(y)
        return wrap_angle(x), spline.log_slope(x)

    def get_config(self) -> Config:
        return {"num_bins": self.num_bins, "min_bin_width": self.min_bin_width,
                "min_slope": self.min_slope, "rotation": self.rotation}
