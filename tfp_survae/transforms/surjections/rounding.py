"""Inference rounding (paper Example 2): Floor, a continuous x through a discrete latent."""

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

    def __init__(self, decoder: ConditionalDistribution | None = None, **kwargs):
        super().__init__(**kwargs)
        self.decoder = decoder

    def build(self, input_shape):
        super().build(input_shape)
        event = self.event_shape.as_list()
        if self.decoder is None:
            self.decoder = StandardUniform(event, dtype=self.dtype_policy)
        if not isinstance(self.decoder, ConditionalDistribution):
            raise TypeError(f"{self._owner}: decoder must be a ConditionalDistribution over [0, 1)"
                            f"^D; received {type(self.decoder).__name__}.")
        if self.decoder.event_shape.as_list() != event:
            raise ValueError(f"{self._owner}: the decoder needs event shape {event}; received "
                             f"{self.decoder.event_shape.as_list()}.")
        self.decoder.build((None,) + tuple(event))

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        z = tf.floor(x)
        return z, self.decoder.log_prob(x - z, context=z)

    def _forward_and_log_det(self, z, *, seed, condition):
        u, log_p = self.decoder.sample_and_log_prob(z, num=tf.shape(z)[0], seed=seed)
        return z + tf.cast(u, z.dtype), log_p

    def _forward(self, z, *, seed, condition):
        return self._forward_and_log_det(z, seed=seed, condition=condition)[0]

    def get_config(self):
        config = super().get_config()
        config["decoder"] = keras.saving.serialize_keras_object(self.decoder)
        return config
