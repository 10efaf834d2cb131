"""A conditional flow as a distribution layer: a learned encoder q(. | x) or decoder p(. | z).

The Flow++ dequantizers built from it are presets in `tfp_survae.architectures`.
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_survae._types import Count, Seed, TensorLike
from tfp_survae.distributions import ConditionalDistribution
from tfp_survae.flow import Flow

__all__ = ["ConditionalFlow"]


@keras.saving.register_keras_serializable(package="tfp_survae")
class ConditionalFlow(ConditionalDistribution):
    """A `Flow` whose `condition` is the condition: p(x | c) = flow.log_prob(x, condition=c).

    Use it wherever a conditional distribution is expected (encoders of generative surjections,
    decoders of inference surjections) when a fixed family is too rigid, e.g. the variational
    dequantizer of Flow++ or a learned density of the gaps below a max.

    Args:
      flow: the flow of x, conditional (`condition_shape` set) or not.
      context_network: an optional layer mapping the condition to the flow's condition.
      **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`).

    Raises:
      TypeError: `flow` is not a `Flow`.

    Examples:
      >>> coupling = ts.AffineCoupling(ts.MLP([8], 2), condition_shape=[3])
      >>> flow = ts.Flow(ts.StandardNormal([2]), [coupling], condition_shape=[3])
      >>> encoder = ts.ConditionalFlow(flow)
      >>> x, log_q = encoder.sample_and_log_prob(seed=(1, 2), condition=tf.ones([4, 3]))
      >>> x.shape, log_q.shape
      (TensorShape([4, 2]), TensorShape([4]))
    """

    def __init__(self, flow: Flow, context_network: keras.layers.Layer | None = None,
                 **kwargs: Any) -> None:
        if not isinstance(flow, Flow):
            raise TypeError(f"ConditionalFlow wraps a Flow; received {type(flow).__name__}.")
        kwargs.setdefault("dtype", flow.dtype_policy)
        super().__init__(flow.event_shape, **kwargs)
        self.flow = flow
        self.context_network = context_network

    @property
    def is_conditional(self) -> bool:
        """True when the flow takes a condition."""
        return self.flow.is_conditional

    @property
    def reparameterized(self) -> bool:
        """True when the flow's samples are reparameterized (`Flow.reparameterized`)."""
        return self.flow.reparameterized

    def build(self, context_shape: Sequence[int | None] | None = None) -> None:
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
        """The flow's condition: None for an unconditional flow (which refuses one, while the
        layers hand their decoders and encoders theirs)."""
        if condition is None or not self.flow.is_conditional:
            return None
        if self.context_network is None:
            return condition
        return self.context_network(condition)

    def distribution(self, condition: TensorLike | None = None,
                     num: Count | None = None) -> tfp.distributions.Distribution:
        raise NotImplementedError(
            "A ConditionalFlow has no closed-form tfd.Distribution; use log_prob and "
            "sample_and_log_prob, or flow.as_distribution()."
        )

    def log_prob(self, x: TensorLike, seed: Seed | None = None, *,
                 condition: TensorLike | None = None) -> tf.Tensor:
        return self.flow.log_prob(x, seed=seed, condition=self._mapped_condition(condition))

    def sample_and_log_prob(self, n: Count | None = None, seed: Seed | None = None, *,
                            condition: TensorLike | None = None
                            ) -> tuple[tf.Tensor, tf.Tensor]:
        n = self._num(condition, n)
        return self.flow.sample_and_log_prob(n, seed=seed,
                                             condition=self._mapped_condition(condition))

    def get_config(self) -> dict:
        config = keras.layers.Layer.get_config(self)
        config["flow"] = keras.saving.serialize_keras_object(self.flow)
        config["context_network"] = keras.saving.serialize_keras_object(self.context_network)
        return config
