"""ReLU surjections (paper Tables 6, 7): ReLU (inference) and GenerativeReLU (generative).

"The paper": Nielsen, Jaini, Hoogeboom, Winther, Welling, "SurVAE Flows: Surjections to Bridge
the Gap between VAEs and Flows", NeurIPS 2020. https://arxiv.org/abs/2007.02731
"""

from __future__ import annotations

import math

from typing import Any

import keras
import tensorflow as tf

from tfp_survae import _tensors
from tfp_survae.distributions import ConditionalDistribution, StandardHalfNormal
from tfp_survae.transforms.base import Surjection
from tfp_survae.transforms._types import Shape

__all__ = ["ReLU", "GenerativeReLU"]


@keras.saving.register_keras_serializable(package="tfp_survae")
class ReLU(Surjection, kind="inference"):
    """Inference ReLU (paper Table 6).

    Inverse: z = max(x, 0). V = sum_{i: z_i = 0} log p(x_i | z), with x_i = -g_i and g_i from
    a density on [0, inf) (default standard half-normal). Exact.
    Forward: where z_i = 0, x_i = -g_i with g ~ p(g | z); elsewhere x_i = z_i.

    Where it may stand: the latent has an atom at 0 (z_i = 0 with positive probability), so
    the base must give that point a probability mass, e.g. `ZeroInflated(StandardHalfNormal(...))`.
    Put the layer next to the base: a bijection applied to the latent would map the atom to
    another point and add no Jacobian term for it.

    Args:
      decoder: an elementwise ConditionalDistribution over g = -x on [0, inf) given z (e.g.
        ConditionalHalfNormal); None: standard half-normal.
      **kwargs: `Transform` arguments (`seed`, `name`, `dtype`, ...).

    Raises:
      TypeError: at build, `decoder` is not an elementwise distribution layer.
      ValueError: at build, the decoder's event shape is not the data's.

    Examples:
      >>> layer = ReLU()
      >>> z, v = layer.inverse_and_log_det(tf.constant([[-1.0, 2.0]]))
      >>> z.numpy(), np.round(v.numpy(), 4)   # V = log p(g = 1), half-normal
      (array([[0., 2.]], dtype=float32), array([-0.7258], dtype=float32))
    """

    config_sublayers = ("decoder",)
    forward_samplers = ("decoder",)

    def __init__(self, decoder: ConditionalDistribution | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.decoder = decoder

    def build(self, input_shape: Shape) -> None:
        super().build(input_shape)
        self.decoder = self._prepare_distribution(
            self.decoder, "decoder of -x on [0, inf)", self.event_shape, self.event_shape,
            StandardHalfNormal, elementwise=True, support="nonnegative")

    def _log_det(self, x, z):
        per = self.decoder.log_prob_elements(tf.maximum(-x, 0.0), condition=z)
        return _tensors.sum_except_batch(tf.where(tf.equal(z, 0.0), per, tf.zeros_like(per)))

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        z = tf.maximum(x, 0.0)
        return z, self._log_det(x, z)

    def _forward_and_log_det(self, z, *, seed, condition):
        g, _ = self.decoder.sample_and_log_prob(tf.shape(z)[0], seed, condition=z)
        x = tf.where(z > 0, z, -tf.cast(g, z.dtype))
        return x, self._log_det(x, z)



@keras.saving.register_keras_serializable(package="tfp_survae")
class GenerativeReLU(Surjection, kind="generative"):
    """Generative ReLU (paper Table 7): data with an atom at 0 (censored or zero-inflated).

    Forward: x = max(z, 0).
    Inverse: where x_i > 0, z_i = x_i; where x_i = 0, z_i = -g_i with g ~ q(g | x) on [0, inf)
    (default standard half-normal). V = -sum_{i: x_i = 0} log q(g_i | x) (one-sample ELBO term).
    For x_i = 0 the flow bounds the probability mass P(x_i = 0) = integral of p(z_i) over
    (-inf, 0]. Negative data lies outside the image: V = -inf.

    Args:
      encoder: an elementwise ConditionalDistribution over g on [0, inf) given x; None: standard
        half-normal.
      **kwargs: `Transform` arguments (`seed`, `name`, `dtype`, ...).

    Raises:
      TypeError: at build, `encoder` is not an elementwise distribution layer.
      ValueError: at build, the encoder's event shape is not the data's.

    Examples:
      >>> layer = GenerativeReLU()
      >>> z, v = layer.inverse_and_log_det(tf.constant([[0.0, 2.0]]), seed=(1, 2))
      >>> bool(z[0, 0] <= 0.0), float(z[0, 1]), layer.forward(z).numpy()
      (True, 2.0, array([[0., 2.]], dtype=float32))
    """

    config_sublayers = ("encoder",)

    def __init__(self, encoder: ConditionalDistribution | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.encoder = encoder

    def build(self, input_shape: Shape) -> None:
        super().build(input_shape)
        self.encoder = self._prepare_distribution(
            self.encoder, "encoder of -z on [0, inf)", self.event_shape, self.event_shape,
            StandardHalfNormal, elementwise=True, support="nonnegative")

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        g, _ = self.encoder.sample_and_log_prob(tf.shape(x)[0], seed, condition=x)
        g = tf.cast(g, x.dtype)
        zero = tf.equal(x, 0.0)
        per = self.encoder.log_prob_elements(g, condition=x)
        log_det = -_tensors.sum_except_batch(tf.where(zero, per, tf.zeros_like(per)))
        outside = _tensors.any_negative(x)
        log_det = tf.where(outside, tf.constant(-math.inf, x.dtype), log_det)
        return tf.where(zero, -g, x), log_det

    def _forward(self, z, *, seed, condition):
        return tf.maximum(z, 0.0)

