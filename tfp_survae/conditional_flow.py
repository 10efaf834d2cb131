"""Conditional flows as distributions: learned encoders q(. | x) and decoders p(. | z)."""

from __future__ import annotations

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_survae.distributions import ConditionalDistribution, StandardLogistic
from tfp_survae.flow import Flow
from tfp_survae.transforms import AffineCoupling, BijectorTransform, Reverse

tfb = tfp.bijectors

__all__ = ["ConditionalFlow", "dequantization_flow"]


@keras.saving.register_keras_serializable(package="tfp_survae")
class ConditionalFlow(ConditionalDistribution):
    """A `Flow` whose `condition` is the context: p(x | c) = flow.log_prob(x, condition=c).

    Use it wherever a conditional distribution is expected (encoders of generative surjections,
    decoders of inference surjections) when a fixed family is too rigid, e.g. the variational
    dequantizer of Flow++ or a learned density of the gaps below a max.
    """

    def __init__(self, flow: Flow, **kwargs):
        if not isinstance(flow, Flow):
            raise TypeError(f"ConditionalFlow wraps a Flow; received {type(flow).__name__}.")
        kwargs.setdefault("dtype", flow.dtype_policy)
        super().__init__(flow.event_shape, **kwargs)
        self.flow = flow

    @property
    def is_conditional(self) -> bool:
        return self.flow.condition_shape is not None

    def build(self, context_shape=None):
        if (context_shape is not None and self.flow.condition_shape is not None
                and list(context_shape)[1:] != list(self.flow.condition_shape)):
            raise ValueError(
                f"ConditionalFlow '{self.name}': the flow takes conditions of event shape "
                f"{self.flow.condition_shape}; received context shape {list(context_shape)}."
            )

    def distribution(self, context=None, num=None):
        raise NotImplementedError(
            "A ConditionalFlow has no closed-form tfd.Distribution; use log_prob and "
            "sample_and_log_prob, or flow.as_distribution()."
        )

    def log_prob(self, x, context=None):
        return self.flow.log_prob(x, condition=context)

    def sample_and_log_prob(self, context=None, *, num=None, seed=None):
        num = self._num(context, num) if context is None else tf.shape(context)[0]
        return self.flow.sample_and_log_prob(num, seed=seed, condition=context)

    def get_config(self):
        config = keras.layers.Layer.get_config(self)
        config["flow"] = keras.saving.serialize_keras_object(self.flow)
        return config


def dequantization_flow(event_shape, *, num_steps: int = 2, network_fn=None,
                        hidden_units=(64, 64), dtype=None) -> ConditionalFlow:
    """The Flow++ variational dequantizer q(u | x): a conditional flow on (0, 1)^D.

    From u to the latent: logit (u in (0, 1) onto R), then `num_steps` affine couplings
    conditioned on x, with the order reversed between them, onto a standard logistic base.
    The couplings start as the identity, and the sigmoid of a logistic variable is uniform, so
    the dequantizer starts as uniform dequantization and learns from there.

    Args:
      event_shape: shape of x (and u).
      num_steps: conditional couplings.
      network_fn: (output_channels) -> Keras layer for the couplings, mapping the conditioning
        half of u concatenated with x (on the last axis) to shift and log-scale. None: an MLP
        with `hidden_units` for vectors; images need a convolutional network.
      dtype: dtype policy of the layers.
    """
    event_shape = list(event_shape)
    features = event_shape[-1]
    if features < 2:
        raise ValueError(
            "dequantization_flow couples halves of the last axis, so it needs at least 2 "
            f"entries there; received event shape {event_shape}."
        )
    transformed = features - features // 2
    transforms = [BijectorTransform(tfb.Sigmoid(), dtype=dtype)]
    for step in range(num_steps):
        network = None if network_fn is None else network_fn(2 * transformed)
        transforms.append(
            AffineCoupling(
                network, hidden_units=hidden_units, condition_shape=event_shape, dtype=dtype
            )
        )
        if step < num_steps - 1:
            transforms.append(Reverse(dtype=dtype))
    flow = Flow(StandardLogistic(event_shape, dtype=dtype), transforms,
                condition_shape=event_shape, dtype=dtype)
    return ConditionalFlow(flow)
