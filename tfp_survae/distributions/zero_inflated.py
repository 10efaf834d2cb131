"""A base with an atom at zero, for the latent of an inference ReLU."""

from __future__ import annotations

import math
from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

from tfp_survae import _seeds
from tfp_survae._types import Count, Seed, TensorLike
from tfp_survae.distributions.base import ConditionalDistribution, support_within

__all__ = ["ZeroInflated"]


@keras.saving.register_keras_serializable(package="tfp_survae")
class ZeroInflated(ConditionalDistribution):
    """Independent elements, each 0 with probability pi or else drawn from a density on (0, inf).

    log p(z) = sum_i [z_i = 0] log pi_i + [z_i > 0] (log(1 - pi_i) + log p+(z_i)), with
    pi = sigmoid(zero_logits) trainable per element. The value at z_i = 0 is a log probability
    mass: this is the base an inference `ReLU` needs, whose latent max(x, 0) is exactly 0 with
    positive probability.

    Args:
      positive: an elementwise distribution layer on [0, inf) (e.g. StandardHalfNormal).
      initial_zero_probability: pi at initialisation.
      trainable: whether pi is learned.
      **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`).

    Raises:
      TypeError: `positive` is not an elementwise distribution layer.
      ValueError: `initial_zero_probability` is not in (0, 1).

    Examples:
      >>> base = ts.ZeroInflated(ts.StandardHalfNormal([3]), initial_zero_probability=0.25)
      >>> base.log_prob(tf.constant([[0.0, 1.0, 2.0]])).shape
      TensorShape([1])
    """

    elementwise = True
    support = "nonnegative"

    def __init__(self, positive: ConditionalDistribution, initial_zero_probability: float = 0.5,
                 trainable: bool = True, **kwargs: Any) -> None:
        layer = isinstance(positive, ConditionalDistribution)
        if not (layer and positive.elementwise
                and support_within(positive.support, "nonnegative")):
            on = f", of {positive.support} values" if layer and positive.support else ""
            raise TypeError(
                "ZeroInflated needs an elementwise distribution layer on [0, inf) (e.g. "
                f"StandardHalfNormal); received {type(positive).__name__}{on}."
            )
        if not 0.0 < initial_zero_probability < 1.0:
            raise ValueError(
                f"initial_zero_probability must lie in (0, 1); received {initial_zero_probability}."
            )
        kwargs.setdefault("dtype", positive.dtype_policy)
        super().__init__(positive.event_shape, trainable=trainable, **kwargs)
        self.positive = positive
        self.initial_zero_probability = float(initial_zero_probability)
        logit = math.log(initial_zero_probability) - math.log1p(-initial_zero_probability)
        self.zero_logits = self.add_weight(
            # A NumPy float64: Keras turns a Python float into a float32 tensor before the cast.
            shape=self.event_shape, initializer=keras.initializers.Constant(np.float64(logit)),
            name="zero_logits", trainable=trainable,
        )
        self.built = True

    def build(self, context_shape: Sequence[int | None] | None = None) -> None:
        """Builds the positive part for contexts of `context_shape` (its network, if any)."""
        self.positive.build(context_shape)

    @property
    def is_conditional(self) -> bool:
        """True when the positive part takes a condition."""
        return self.positive.is_conditional

    @property
    def reparameterized(self) -> bool:
        # Whether an element is zero is a discrete choice; a learned pi has no reparameterized
        # gradient.
        return not self.zero_logits.trainable and self.positive.reparameterized

    @property
    def zero_probability(self) -> tf.Tensor:
        """pi, the probability of each element being 0 (event_shape)."""
        return tf.sigmoid(tf.convert_to_tensor(self.zero_logits))

    def log_prob_elements(self, x: TensorLike, *,
                          condition: TensorLike | None = None) -> tf.Tensor:
        x = tf.convert_to_tensor(x)
        logits = tf.cast(self.zero_logits, x.dtype)
        positive = tf.math.log_sigmoid(-logits) + self.positive.log_prob_elements(
            tf.maximum(x, 0.0), condition=condition
        )
        positive = tf.where(x > 0, positive, tf.constant(-float("inf"), x.dtype))
        return tf.where(tf.equal(x, 0.0), tf.math.log_sigmoid(logits) + tf.zeros_like(x), positive)

    def sample_and_log_prob(self, n: Count | None = None, seed: Seed | None = None, *,
                            condition: TensorLike | None = None
                            ) -> tuple[tf.Tensor, tf.Tensor]:
        n = self._num(condition, n)
        mask_seed, value_seed = _seeds.split_seed(_seeds.seed_or_random(seed), 2)
        values, _ = self.positive.sample_and_log_prob(n, value_seed, condition=condition)
        uniform = _seeds.random_uniform(tf.shape(values), mask_seed, values.dtype)
        zero = uniform < tf.cast(self.zero_probability, values.dtype)
        x = tf.where(zero, tf.zeros_like(values), values)
        return x, self.log_prob(x, condition=condition)

    def get_config(self) -> dict:
        config = keras.layers.Layer.get_config(self)
        config.update(
            positive=keras.saving.serialize_keras_object(self.positive),
            initial_zero_probability=self.initial_zero_probability,
        )
        return config
