"""Inference rounding (paper Example 2): Floor, a continuous x through a discrete latent.

"The paper": Nielsen, Jaini, Hoogeboom, Winther, Welling, "SurVAE Flows: Surjections to Bridge
the Gap between VAEs and Flows", NeurIPS 2020. https://arxiv.org/abs/2007.02731
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from tfp_survae.distributions import ConditionalDistribution, StandardUniform
from tfp_survae.transforms.base import Surjection
from tfp_survae.transforms._types import Shape

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
        `tfp_survae.architectures.dequantization_flow(event_shape)`; None: uniform.
      **kwargs: `Transform` arguments (`seed`, `name`, `dtype`, ...).

    Raises:
      TypeError: at build, `decoder` is not a ConditionalDistribution.
      ValueError: at build, the decoder's event shape is not the data's.

    Examples:
      >>> layer = Floor()
      >>> z, v = layer.inverse_and_log_det(tf.constant([[1.25, -0.5]]))
      >>> z.numpy(), v.numpy()
      (array([[ 1., -1.]], dtype=float32), array([0.], dtype=float32))
      >>> x = layer.forward(z, seed=(1, 2))
      >>> tf.floor(x).numpy()
      array([[ 1., -1.]], dtype=float32)
    """

    config_sublayers = ("decoder",)
    forward_samplers = ("decoder",)

    def __init__(self, decoder: ConditionalDistribution | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.decoder = decoder

    def build(self, input_shape: Shape) -> None:
        super().build(input_shape)
        self.decoder = self._prepare_distribution(
            self.decoder, "decoder of x - z on [0, 1)", self.event_shape, self.event_shape,
            StandardUniform, support="unit interval")

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        z = tf.floor(x)
        return z, self.decoder.log_prob(x - z, condition=z)

    def _forward_and_log_det(self, z, *, seed, condition):
        u, log_p = self.decoder.sample_and_log_prob(tf.shape(z)[0], seed, condition=z)
        return z + tf.cast(u, z.dtype), log_p

