"""The monotonic rational-quadratic spline's arithmetic (Durkan et al., 2019, App. A).

The value and the log-derivative are computed with the operations of TFP's
`tfb.RationalQuadraticSpline`, so they give its numbers to the last bit. The root differs:
TFP takes 2c / (-b - sqrt(b^2 - 4ac)) for every b, which cancels when b < 0 (a knot
derivative above twice the bin's slope), turns a discriminant rounded below zero into NaN,
and can leave [0, 1], putting x outside its bin by up to a whole bin (a float32 round trip off
by 2B on sharp splines). Here the root takes the non-cancelling form for each sign of b, the
discriminant is kept at zero or above and the root in [0, 1]; where TFP's form was accurate
(b >= 0, a root inside the bin) the numbers are the same.
"""

from __future__ import annotations

import tensorflow as tf


def _knots(sizes: tf.Tensor, low: tf.Tensor) -> tf.Tensor:
    """[..., K + 1] knot positions low, low + cumsum(sizes)."""
    inner = tf.cumsum(sizes, axis=-1) + low
    paddings = tf.concat([tf.zeros([tf.rank(inner) - 1, 2], tf.int32), [[1, 0]]], axis=0)
    return tf.pad(inner, paddings, constant_values=low)


class Spline:
    """A spline with bin widths and heights [..., K] (summing to the same 2B), interior knot
    derivatives [..., K - 1] and first knot (`low`, `low`); slope 1 and the identity outside
    [low, low + 2B]. The batch shape [...] is the values' shape.

    `boundary` ([...], positive), if given, is the knot derivative at both ends (d_0 = d_K, a
    circular spline's); the spline is then closed: the end knots belong to the end bins, so
    g'(low) = g'(low + 2B) = `boundary` there rather than the tails' 1.
    """

    def __init__(self, widths: tf.Tensor, heights: tf.Tensor, slopes: tf.Tensor,
                 low: float, boundary: tf.Tensor | None = None) -> None:
        low = tf.convert_to_tensor(low, dtype=widths.dtype)
        self.kx, self.ky = _knots(widths, low), _knots(heights, low)
        self.closed = boundary is not None
        ends = tf.ones_like(slopes[..., :1]) if boundary is None else boundary[..., None]
        self.kd = tf.concat([ends, slopes, ends], axis=-1)

    def _bin(self, values, knots):
        """The bin of each value among `knots` (kx or ky), its out-of-bounds mask, and the bin's
        x^k, y^k, d_k, d_{k+1}, h_k, w_k and s_k."""
        if self.closed:
            out_of_bounds = (values < knots[..., 0]) | (values > knots[..., -1])
        else:
            out_of_bounds = (values <= knots[..., 0]) | (values >= knots[..., -1])
        values = tf.where(out_of_bounds, knots[..., 0], values)
        index = tf.maximum(
            tf.zeros([], dtype=tf.int64),
            tf.searchsorted(knots[..., :-1], values[..., None], side="right",
                            out_type=tf.int64) - 1)
        batch_dims = index.shape.rank - 1

        def gather(params, i):
            return tf.gather(params, i, axis=-1, batch_dims=batch_dims)[..., 0]

        x_k, x_k1 = gather(self.kx, index), gather(self.kx, index + 1)
        y_k, y_k1 = gather(self.ky, index), gather(self.ky, index + 1)
        d_k, d_k1 = gather(self.kd, index), gather(self.kd, index + 1)
        h_k, w_k = y_k1 - y_k, x_k1 - x_k
        return out_of_bounds, x_k, y_k, d_k, d_k1, h_k, w_k, h_k / w_k

    def value(self, x: tf.Tensor) -> tf.Tensor:
        """g(x)."""
        out, x_k, y_k, d_k, d_k1, h_k, w_k, s_k = self._bin(x, self.kx)
        relx = (x - x_k) / w_k
        spline = y_k + ((h_k * (s_k * relx**2 + d_k * relx * (1 - relx))) /
                        (s_k + (d_k1 + d_k - 2 * s_k) * relx * (1 - relx)))
        return tf.where(out, x, spline)

    def log_slope(self, x: tf.Tensor) -> tf.Tensor:
        """log g'(x)."""
        out, x_k, _, d_k, d_k1, _, w_k, s_k = self._bin(x, self.kx)
        relx = (x - x_k) / w_k
        relx = tf.where(out, tf.constant(.5, x.dtype), relx)
        grad = (2 * tf.math.log(s_k)
                + tf.math.log(d_k1 * relx**2 + 2 * s_k * relx * (1 - relx)
                              + d_k * (1 - relx)**2)
                - 2 * tf.math.log((d_k1 + d_k - 2 * s_k) * relx * (1 - relx) + s_k))
        return tf.where(out, tf.zeros([], dtype=x.dtype), grad)

    def root(self, z: tf.Tensor) -> tf.Tensor:
        """g^-1(z)."""
        out, x_k, y_k, d_k, d_k1, h_k, w_k, s_k = self._bin(z, self.ky)
        rely = tf.where(out, tf.zeros([], dtype=z.dtype), z - y_k)
        term2 = rely * (d_k1 + d_k - 2 * s_k)
        a = h_k * (s_k - d_k) + term2
        b = h_k * d_k - term2
        c = -s_k * rely
        discriminant = b**2 - 4 * a * c
        root = tf.sqrt(tf.where(discriminant > 0, discriminant, tf.zeros_like(discriminant)))
        # b >= 0: -b - root < 0; b < 0 forces a > 0 (as a + b + c = s_k (h_k - rely) >= 0):
        # neither denominator vanishes on its side, and the other side's is replaced.
        positive = b >= 0
        relx = tf.where(
            positive,
            (2 * c) / tf.where(positive, -b - root, -tf.ones_like(b)),
            (-b + root) / tf.where(positive, tf.ones_like(a), 2 * a))
        relx = tf.where(tf.equal(rely, 0), tf.zeros([], dtype=z.dtype), relx)
        relx = tf.clip_by_value(relx, tf.zeros([], z.dtype), tf.ones([], z.dtype))
        return tf.where(out, z, relx * w_k + x_k)
