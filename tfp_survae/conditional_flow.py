"""A conditional flow as a distribution layer: a learned encoder q(. | x) or decoder p(. | z).

The Flow++ dequantizers built from it are presets in `tfp_survae.architectures`.
"""

from __future__ import annotations

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_survae.distributions import ConditionalDistribution
from tfp_survae.flow import Flow

__all__ = ["ConditionalFlow"]


@keras.saving.register_keras_serializable(package="tfp_survae")
class ConditionalFlow(ConditionalDistribution):
    """A `Flow` whose `condition` is the condition: p(x | c) = flow.log_prob(x, condition=c).

    Use it wherever a conditional distribution is expected (encoders of generative surjections,
    decoders of inference surjections) when a fixed family is too rigid, e.g. the variational
    dequantizer of Flow++ or a learned density of the gaps below a max.
    """

    def __init__(self, flow: Flow, context_network: keras.layers.Layer | None = None, **kwargs):
        if not isinstance(flow, Flow):
            raise TypeError(f"ConditionalFlow wraps a Flow; received {type(flow).__name__}.")
        kwargs.setdefault("dtype", flow.dtype_policy)
        super().__init__(flow.event_shape, **kwargs)
        self.flow = flow
        self.context_network = context_network

    @property
    def is_conditional(self) -> bool:
        return self.flow.condition_shape is not None

    @property
    def reparameterized(self) -> bool:
        return self.flow.reparameterized

    def build(self, context_shape=None):
        if context_shape is None or self.flow.condition_shape is None:
            return
        shape = list(context_shape)
        if self.context_network is not None:
            if not self.context_network.built:
                self.context_network.build(tuple(shape))
            shape = list(self.context_network.compute_output_shape(tuple(shape)))
        if shape[1:] != list(self.flow.condition_shape):
            raise ValueError(
                f"ConditionalFlow '{self.name}': the flow takes conditions of event shape "
                f"{self.flow.condition_shape}; the condition gives {shape[1:]}."
            )

    def _mapped_condition(self, condition):
        if condition is None or self.context_network is None:
            return condition
        return self.context_network(condition)

    def distribution(self, condition=None, num=None):
        raise NotImplementedError(
            "A ConditionalFlow has no closed-form tfd.Distribution; use log_prob and "
            "sample_and_log_prob, or flow.as_distribution()."
        )

    def log_prob(self, x, seed=None, *, condition=None):
        return self.flow.log_prob(x, condition=self._mapped_condition(condition))

    def sample_and_log_prob(self, n=None, seed=None, *, condition=None):
        n = self._num(condition, n) if condition is None else tf.shape(condition)[0]
        return self.flow.sample_and_log_prob(n, seed=seed,
                                             condition=self._mapped_condition(condition))

    def get_config(self):
        config = keras.layers.Layer.get_config(self)
        config["flow"] = keras.saving.serialize_keras_object(self.flow)
        config["context_network"] = keras.saving.serialize_keras_object(self.context_network)
        return config
