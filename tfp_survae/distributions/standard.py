"""Parameter-free and trainable unconditional bases: standard normal, uniform, half-normal."""

from __future__ import annotations

import math
from typing import Any, Sequence

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_survae import _seeds
from tfp_survae._types import Count, Seed, TensorLike
from tfp_survae.distributions.base import ConditionalDistribution

tfd = tfp.distributions

__all__ = [
    "StandardNormal",
    "StandardUniform",
    "StandardHalfNormal",
    "StandardLogistic",
    "DiagonalNormal",
]

_HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)
_LOG_TWO = math.log(2.0)


def normal_log_density(u: tf.Tensor, log_scale: tf.Tensor | float = 0.0) -> tf.Tensor:
    """Elementwise log N(x; mu, sigma^2) given u = (x - mu) / sigma and log sigma.

    Args:
      u: the standardised value (x - mu) / sigma.
      log_scale: log sigma, broadcasting against u.

    Returns:
      The log-density of each element, the broadcast shape of u and log_scale.
    """
    return -0.5 * tf.square(u) - log_scale - _HALF_LOG_TWO_PI


def half_normal_log_density(x: tf.Tensor, log_scale: tf.Tensor | float = 0.0) -> tf.Tensor:
    """Elementwise log HalfNormal(x; sigma): -inf for x < 0.

    Args:
      x: the values.
      log_scale: log sigma, broadcasting against x.

    Returns:
      The log-density of each element, the broadcast shape of x and log_scale.
    """
    log_scale = tf.cast(tf.convert_to_tensor(log_scale, dtype_hint=x.dtype), x.dtype)
    u = x * tf.exp(-log_scale)
    log_density = _LOG_TWO + normal_log_density(u, log_scale)
    return tf.where(x >= 0, log_density, tf.constant(-math.inf, x.dtype))


class _Standard(ConditionalDistribution):
    """An unconditional distribution with iid elements over `event_shape` (condition ignored)."""

    elementwise = True

    def __init__(self, event_shape: Sequence[int], **kwargs: Any) -> None:
        super().__init__(event_shape, network=None, **kwargs)

    def _batch_shape(self, num):
        return tf.concat([tf.reshape(num, [1]), self.event_shape.as_list()], axis=0)

    def _element(self, shape) -> tfp.distributions.Distribution:
        raise NotImplementedError

    def distribution(self, condition: TensorLike | None = None,
                     num: Count | None = None) -> tfp.distributions.Distribution:
        num = self._num(condition, num)
        return tfd.Independent(
            self._element(self._batch_shape(num)),
            reinterpreted_batch_ndims=self.event_shape.rank,
        )

    def sample_and_log_prob(self, n: Count | None = None, seed: Seed | None = None, *,
                            condition: TensorLike | None = None
                            ) -> tuple[tf.Tensor, tf.Tensor]:
        x = self._stateless_sample(self._batch_shape(self._num(condition, n)),
                                   _seeds.seed_or_random(seed))
        return x, self.log_prob(x)

    def get_config(self) -> dict:
        config = keras.layers.Layer.get_config(self)
        config["event_shape"] = self.event_shape.as_list()
        return config

    @classmethod
    def from_config(cls, config: dict) -> _Standard:
        return cls(**config)


@keras.saving.register_keras_serializable(package="tfp_survae")
class StandardNormal(_Standard):
    """N(0, I) over `event_shape`.

    Args:
      event_shape: the shape of one sample, without the batch axis.
      **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`).

    Examples:
      >>> base = ts.StandardNormal([2])
      >>> x = base.sample(4, seed=(1, 2))
      >>> x.shape, base.log_prob(x).shape
      (TensorShape([4, 2]), TensorShape([4]))
    """

    support = "real"

    def _element(self, shape):
        zeros = tf.zeros(shape, self.dtype)
        return tfd.Normal(zeros, tf.ones_like(zeros))

    def log_prob_elements(self, x: TensorLike, *,
                          condition: TensorLike | None = None) -> tf.Tensor:
        return normal_log_density(tf.convert_to_tensor(x))

    def _stateless_sample(self, shape, seed):
        return _seeds.random_normal(shape, seed, dtype=self.dtype)


@keras.saving.register_keras_serializable(package="tfp_survae")
class StandardUniform(_Standard):
    """U[0, 1)^D over `event_shape`: log-density 0 inside the unit cube, -inf outside.

    Args:
      event_shape: the shape of one sample, without the batch axis.
      **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`).
    """

    support = "unit interval"

    def _element(self, shape):
        zeros = tf.zeros(shape, self.dtype)
        return tfd.Uniform(zeros, tf.ones_like(zeros))

    def log_prob_elements(self, x: TensorLike, *,
                          condition: TensorLike | None = None) -> tf.Tensor:
        x = tf.convert_to_tensor(x)
        inside = tf.logical_and(x >= 0, x <= 1)
        return tf.where(inside, tf.zeros_like(x), tf.constant(-math.inf, x.dtype))

    def _stateless_sample(self, shape, seed):
        return _seeds.random_uniform(shape, seed, dtype=self.dtype)


@keras.saving.register_keras_serializable(package="tfp_survae")
class StandardHalfNormal(_Standard):
    """The standard half-normal |N(0, 1)| elementwise over `event_shape` (support [0, inf)).

    Args:
      event_shape: the shape of one sample, without the batch axis.
      **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`).
    """

    support = "nonnegative"

    def _element(self, shape):
        return tfd.HalfNormal(tf.ones(shape, self.dtype))

    def log_prob_elements(self, x: TensorLike, *,
                          condition: TensorLike | None = None) -> tf.Tensor:
        return half_normal_log_density(tf.convert_to_tensor(x))

    def _stateless_sample(self, shape, seed):
        return tf.abs(_seeds.random_normal(shape, seed, dtype=self.dtype))


@keras.saving.register_keras_serializable(package="tfp_survae")
class StandardLogistic(_Standard):
    """The standard logistic distribution elementwise: sigmoid of a sample is U(0, 1).

    Args:
      event_shape: the shape of one sample, without the batch axis.
      **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`).
    """

    support = "real"

    def _element(self, shape):
        zeros = tf.zeros(shape, self.dtype)
        return tfd.Logistic(zeros, tf.ones_like(zeros))

    def log_prob_elements(self, x: TensorLike, *,
                          condition: TensorLike | None = None) -> tf.Tensor:
        x = tf.convert_to_tensor(x)
        return tf.math.log_sigmoid(x) + tf.math.log_sigmoid(-x)

    def _stateless_sample(self, shape, seed):
        u = _seeds.random_uniform(shape, seed, self.dtype, minval=1e-7, maxval=1.0 - 1e-7)
        return tf.math.log(u) - tf.math.log1p(-u)


@keras.saving.register_keras_serializable(package="tfp_survae")
class DiagonalNormal(_Standard):
    """N(loc, diag(scale^2)) over `event_shape` with trainable loc and log-scale.

    Args:
      event_shape: the event.
      per_channel: share loc and scale across all but the last axis (one pair per channel of an
        image, as the paper's image models' base).
      **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`).

    Examples:
      >>> base = ts.DiagonalNormal([8, 8, 3], per_channel=True)
      >>> [v.shape.as_list() for v in base.trainable_weights]   # loc, log-scale per channel
      [[3], [3]]
    """

    support = "real"

    def __init__(self, event_shape: Sequence[int], per_channel: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(event_shape, **kwargs)
        self.per_channel = bool(per_channel)
        shape = self.event_shape[-1:] if self.per_channel else self.event_shape
        self.loc = self.add_weight(shape=shape, initializer="zeros", name="loc", trainable=True)
        self.log_scale = self.add_weight(
            shape=shape, initializer="zeros", name="log_scale", trainable=True
        )
        self.built = True

    def _element(self, shape):
        loc = tf.broadcast_to(tf.convert_to_tensor(self.loc), shape)
        return tfd.Normal(loc, tf.broadcast_to(tf.exp(tf.convert_to_tensor(self.log_scale)), shape))

    def log_prob_elements(self, x: TensorLike, *,
                          condition: TensorLike | None = None) -> tf.Tensor:
        x = tf.convert_to_tensor(x)
        log_scale = tf.cast(self.log_scale, x.dtype)
        return normal_log_density((x - tf.cast(self.loc, x.dtype)) * tf.exp(-log_scale), log_scale)

    def _stateless_sample(self, shape, seed):
        eps = _seeds.random_normal(shape, seed, dtype=self.dtype)
        return tf.cast(self.loc, self.dtype) + tf.exp(tf.cast(self.log_scale, self.dtype)) * eps

    def get_config(self) -> dict:
        config = super().get_config()
        config["per_channel"] = self.per_channel
        return config
