"""Inference rounding (paper Example 2): Floor, a continuous x through a discrete latent.

"The paper": Nielsen, Jaini, Hoogeboom, Winther, Welling, "SurVAE Flows: Surjections to Bridge
the Gap between VAEs and Flows", NeurIPS 2020. https://arxiv.org/abs/2007.02731
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfp_survae.distributions import ConditionalDistribution, StandardUniform
from tfp_survae.transforms.base import Surjection

__all__ = ["Floor"]


@keras.saving.register_keras_serializable(package="tfp_survae")
class Floor(Surjection, kind="inference"):
    """Inference rounding (paper Example 2).

    Inverse: z = floor(x) (integers held in a float tensor), V = log p(x - z | z) with
    p(. | z) a density on [0, 1)^D; default uniform, V = 0. Exact.
    Forward: u ~ p(u | z), x = z + u.

    The latent is integer-valued, so the base is a discrete distribution evaluated at integer
    floats: `tfd.Poisson`, a categorical over a range, a discretized logistic, ... The flow then
    models a continuous x as a discrete z plus a within-cell density.

    Args:
      decoder: ConditionalDistribution over u in [0, 1)^D given z, e.g.
        `dequantization_flow(event_shape)`; None: uniform.
    """

    config_sublayers = ("decoder",)
    forward_samplers = ("decoder",)

    def __init__(self, decoder: ConditionalDistribution | None = None, **kwargs):
        super().__init__(**kwargs)
        self.decoder = decoder

    def build(self, input_shape):
        super().build(input_shape)
        self.decoder = self._prepare_distribution(
            self.decoder, "decoder of x - z on [0, 1)", self.event_shape, self.event_shape,
            StandardUniform)

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        z = tf.floor(x)
        return z, self.decoder.log_prob(x - z, condition=z)

    def _forward_and_log_det(self, z, *, seed, condition):
        u, log_p = self.decoder.sample_and_log_prob(tf.shape(z)[0], seed, condition=z)
        return z + tf.cast(u, z.dtype), log_p

