"""Conditional distributions: a Keras network maps a condition to the parameters of a distribution.

They are the encoders q(. | x) and decoders p(. | z) of the surjective and stochastic layers.
A network's output holds the parameters side by side on its last axis, each with the event's
shape (e.g. ConditionalNormal: [mean, log_scale] for an event of shape [..., C] is [..., 2C]).
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_survae import _checks, _discrete, _networks, _seeds, _tensors
from tfp_survae._types import Count, Seed, TensorLike
from tfp_survae.distributions.base import ConditionalDistribution
from tfp_survae.distributions.standard import (
    half_normal_log_density,
    normal_log_density,
)

tfd = tfp.distributions

__all__ = [
    "ConditionalNormal",
    "ConditionalHalfNormal",
    "ConditionalBernoulli",
    "ConditionalCategorical",
    "ConditionalPlackettLuce",
]


def _require_network(owner: str, network):
    if network is None or not callable(network):
        raise TypeError(
            f"{owner} needs a Keras network mapping the condition to its parameters; received "
            f"{network!r}. Use StandardNormal / StandardHalfNormal for a fixed distribution."
        )


def _as_index(owner: str, x: tf.Tensor, holds: str) -> tf.Tensor:
    """x, which `holds` (classes, orderings) as integers of any integer dtype (uint8, ...), as
    the int32 or int64 that TensorFlow's index ops take; a TypeError for other values."""
    if not x.dtype.is_integer:
        raise TypeError(f"{owner}: x holds {holds} as integers; received dtype {x.dtype.name}.")
    return x if x.dtype in (tf.int32, tf.int64) else tf.cast(x, tf.int64)


@keras.saving.register_keras_serializable(package="tfp_survae")
class ConditionalNormal(ConditionalDistribution):
    """p(x | c) = N(x; mu(c), diag(sigma(c)^2)) with [mu, log sigma] = network(c).

    Args:
      event_shape: shape of x.
      network: maps the condition [batch, ...] to [batch] + event[:-1] + [2 * event[-1]].
      **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`).

    Raises:
      TypeError: `network` is missing or not callable.

    Examples:
      >>> decoder = ts.ConditionalNormal([2], ts.MLP([8], 4))
      >>> decoder.log_prob(tf.zeros([3, 2]), condition=tf.ones([3, 5])).shape
      TensorShape([3])
    """

    elementwise = True
    support = "real"

    def __init__(self, event_shape: Sequence[int], network: keras.layers.Layer,
                 **kwargs: Any) -> None:
        _require_network("ConditionalNormal", network)
        super().__init__(event_shape, network=network, **kwargs)

    def mean_and_log_scale(self, condition: tf.Tensor | None,
                           dtype: tf.DType | str) -> list[tf.Tensor]:
        """The network's parameters for `condition`.

        Args:
          condition: [batch] + the condition's event shape.
          dtype: the dtype to cast them to.

        Returns:
          [mean, log_scale], each of shape [batch] + event_shape.

        Raises:
          ValueError: the network's output has the wrong last axis.
        """
        return self._params(condition, 2, dtype)

    def distribution(self, condition: TensorLike | None = None,
                     num: Count | None = None) -> tfp.distributions.Distribution:
        mean, log_scale = self.mean_and_log_scale(self._checked_condition(condition), self.dtype)
        return tfd.Independent(tfd.Normal(mean, tf.exp(log_scale)), self.event_shape.rank)

    def log_prob_elements(self, x: TensorLike, *,
                          condition: TensorLike | None = None) -> tf.Tensor:
        x = tf.convert_to_tensor(x)
        mean, log_scale = self.mean_and_log_scale(self._checked_condition(condition), x.dtype)
        return normal_log_density((x - mean) * tf.exp(-log_scale), log_scale)

    def sample_and_log_prob(self, n: Count | None = None, seed: Seed | None = None, *,
                            condition: TensorLike | None = None
                            ) -> tuple[tf.Tensor, tf.Tensor]:
        self._num(condition, n)  # one draw per condition row: n, if given, must agree
        mean, log_scale = self.mean_and_log_scale(self._checked_condition(condition), self.dtype)
        seed = _seeds.seed_or_random(seed)
        eps = _seeds.random_normal(tf.shape(mean), seed, dtype=mean.dtype)
        x = mean + tf.exp(log_scale) * eps
        return x, _tensors.sum_except_batch(normal_log_density(eps, log_scale))


@keras.saving.register_keras_serializable(package="tfp_survae")
class ConditionalHalfNormal(ConditionalDistribution):
    """p(x | c) = HalfNormal(x; sigma(c)) elementwise, support [0, inf), log sigma = network(c).

    Args:
      event_shape: shape of x.
      network: maps the condition [batch, ...] to [batch] + event_shape (log sigma).
      **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`).

    Raises:
      TypeError: `network` is missing or not callable.
    """

    elementwise = True
    support = "nonnegative"

    def __init__(self, event_shape: Sequence[int], network: keras.layers.Layer,
                 **kwargs: Any) -> None:
        _require_network("ConditionalHalfNormal", network)
        super().__init__(event_shape, network=network, **kwargs)

    def distribution(self, condition: TensorLike | None = None,
                     num: Count | None = None) -> tfp.distributions.Distribution:
        (log_scale,) = self._params(self._checked_condition(condition), 1, self.dtype)
        return tfd.Independent(tfd.HalfNormal(tf.exp(log_scale)), self.event_shape.rank)

    def log_prob_elements(self, x: TensorLike, *,
                          condition: TensorLike | None = None) -> tf.Tensor:
        x = tf.convert_to_tensor(x)
        (log_scale,) = self._params(self._checked_condition(condition), 1, x.dtype)
        return half_normal_log_density(x, log_scale)

    def sample_and_log_prob(self, n: Count | None = None, seed: Seed | None = None, *,
                            condition: TensorLike | None = None
                            ) -> tuple[tf.Tensor, tf.Tensor]:
        self._num(condition, n)  # one draw per condition row: n, if given, must agree
        (log_scale,) = self._params(self._checked_condition(condition), 1, self.dtype)
        seed = _seeds.seed_or_random(seed)
        eps = tf.abs(_seeds.random_normal(tf.shape(log_scale), seed, dtype=log_scale.dtype))
        x = eps * tf.exp(log_scale)
        return x, _tensors.sum_except_batch(half_normal_log_density(x, log_scale))


@keras.saving.register_keras_serializable(package="tfp_survae")
class ConditionalBernoulli(ConditionalDistribution):
    """p(x | c) = Bernoulli(x; sigmoid(network(c))) elementwise over x in {0, 1}.

    Args:
      event_shape: shape of x.
      network: maps the condition [batch, ...] to [batch] + event_shape (logits).
      **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`).

    Raises:
      TypeError: `network` is missing or not callable.
    """

    elementwise = True
    discrete = True
    support = "binary"

    def __init__(self, event_shape: Sequence[int], network: keras.layers.Layer,
                 **kwargs: Any) -> None:
        _require_network("ConditionalBernoulli", network)
        super().__init__(event_shape, network=network, **kwargs)

    def _checked_value(self, x: TensorLike) -> tf.Tensor:
        """x as binary values: each 0 or 1 (a mass elsewhere would be a number, silently)."""
        x = super()._checked_value(x)
        if x.dtype == tf.bool:
            x = tf.cast(x, self.dtype)
        return _checks.require(x, tf.reduce_all(tf.logical_or(tf.equal(x, 0), tf.equal(x, 1))),
                               f"{self._owner}: x must hold binary values, 0 or 1")

    def distribution(self, condition: TensorLike | None = None,
                     num: Count | None = None) -> tfp.distributions.Distribution:
        (logits,) = self._params(self._checked_condition(condition), 1, self.dtype)
        return tfd.Independent(
            tfd.Bernoulli(logits=logits, dtype=self.dtype), self.event_shape.rank
        )

    def log_prob_elements(self, x: TensorLike, *,
                          condition: TensorLike | None = None) -> tf.Tensor:
        x = tf.convert_to_tensor(x)
        dtype = x.dtype if x.dtype.is_floating else self.dtype
        (logits,) = self._params(self._checked_condition(condition), 1, dtype)
        return -tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(x, dtype), logits=logits)

    def sample_and_log_prob(self, n: Count | None = None, seed: Seed | None = None, *,
                            condition: TensorLike | None = None
                            ) -> tuple[tf.Tensor, tf.Tensor]:
        self._num(condition, n)  # one draw per condition row: n, if given, must agree
        (logits,) = self._params(self._checked_condition(condition), 1, self.dtype)
        uniform = _seeds.random_uniform(tf.shape(logits), _seeds.seed_or_random(seed), logits.dtype)
        x = tf.cast(uniform < tf.sigmoid(logits), logits.dtype)
        log_p = -tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits)
        return x, _tensors.sum_except_batch(log_p)


@keras.saving.register_keras_serializable(package="tfp_survae")
class ConditionalCategorical(ConditionalDistribution):
    """p(x | c) = Categorical(x; softmax(network(c))) elementwise over x in {0, ..., K-1}.

    Args:
      event_shape: shape of x.
      num_classes: K, the number of categories.
      network: maps the condition [batch, ...] to [batch] + event_shape + [num_classes] logits
        (for a scalar event, [batch, num_classes]).
      **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`).

    Raises:
      TypeError: `network` is missing or not callable.
    """

    discrete = True
    support = "classes"

    def __init__(self, event_shape: Sequence[int], num_classes: int, network: keras.layers.Layer,
                 **kwargs: Any) -> None:
        _require_network("ConditionalCategorical", network)
        super().__init__(event_shape, network=network, **kwargs)
        self.num_classes = _checks.check_integer("ConditionalCategorical", "num_classes",
                                                 num_classes, minimum=2)

    def _checked_value(self, x: TensorLike) -> tf.Tensor:
        """x as classes: integers in [0, num_classes)."""
        x = _as_index(self._owner, super()._checked_value(x), "classes")
        wide = tf.cast(x, tf.int64)
        return _checks.require(
            x, tf.logical_and(tf.reduce_all(wide >= 0), tf.reduce_all(wide < self.num_classes)),
            f"{self._owner}: x must hold classes in [0, {self.num_classes}); received values "
            "from", tf.reduce_min(wide), "to", tf.reduce_max(wide))

    def logits(self, condition: TensorLike | None,
               dtype: tf.DType | str | None = None) -> tf.Tensor:
        """The network's logits for `condition`.

        Args:
          condition: [batch] + the condition's event shape.
          dtype: the dtype to cast them to (default: the layer's).

        Returns:
          Logits of shape [batch] + event_shape + [num_classes].

        Raises:
          ValueError: the network's output has another shape, or no condition is given.
        """
        condition = self._checked_condition(condition)
        logits = _networks.run_network(self.name, self.network, condition)
        logits = self._same_rows(tf.cast(logits, dtype or self.dtype), condition, "condition")
        expected = self.event_shape.as_list() + [self.num_classes]
        if logits.shape[1:].is_fully_defined() and logits.shape[1:].as_list() != expected:
            raise ValueError(
                f"ConditionalCategorical '{self.name}': its network must output logits of shape "
                f"[batch] + {expected}; received {logits.shape.as_list()}."
            )
        return logits

    def distribution(self, condition: TensorLike | None = None,
                     num: Count | None = None) -> tfp.distributions.Distribution:
        return tfd.Independent(
            tfd.Categorical(logits=self.logits(condition), dtype=tf.int32), self.event_shape.rank
        )

    def sample_and_log_prob(self, n: Count | None = None, seed: Seed | None = None, *,
                            condition: TensorLike | None = None
                            ) -> tuple[tf.Tensor, tf.Tensor]:
        self._num(condition, n)  # one draw per condition row: n, if given, must agree
        logits = self.logits(condition)
        x = _discrete.sample_categorical(logits, _seeds.seed_or_random(seed))
        return x, _tensors.sum_except_batch(_discrete.categorical_log_prob(logits, x))

    def get_config(self) -> dict:
        config = super().get_config()
        config["num_classes"] = self.num_classes
        return config


@keras.saving.register_keras_serializable(package="tfp_survae")
class ConditionalPlackettLuce(ConditionalDistribution):
    """A Plackett-Luce distribution over orderings of K items, log-scores = network(c).

    A sample is a permutation I (int32, shape [K]) listing items from first to last place:
    log p(I | c) = sum_j [s_{I_j} - logsumexp_{m >= j} s_{I_m}]. Log-scores are shifted by their
    maximum, so any real scores are stable.

    Args:
      num_items: K, the number of items.
      network: maps the condition [batch, ...] to [batch, K] log-scores.
      **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`).

    Raises:
      TypeError: `network` is missing or not callable.
    """

    discrete = True
    support = "orderings"

    def __init__(self, num_items: int, network: keras.layers.Layer, **kwargs: Any) -> None:
        _require_network("ConditionalPlackettLuce", network)
        super().__init__([_checks.check_integer("ConditionalPlackettLuce", "num_items",
                                                num_items, minimum=2)],
                         network=network, **kwargs)

    def log_scores(self, condition: TensorLike | None,
                   dtype: tf.DType | str | None = None) -> tf.Tensor:
        """The network's log-scores for `condition`, shifted by their maximum.

        Args:
          condition: [batch] + the condition's event shape.
          dtype: the dtype to cast them to (default: the layer's).

        Returns:
          Log-scores of shape [batch, K].

        Raises:
          ValueError: no condition is given.
        """
        condition = self._checked_condition(condition)
        scores = _networks.run_network(self.name, self.network, condition)
        scores = self._same_rows(tf.cast(scores, dtype or self.dtype), condition, "condition")
        expected = self.event_shape.as_list()
        if scores.shape.rank is not None and (scores.shape.rank != 2 or not scores.shape[1:]
                                              .is_compatible_with(expected)):
            raise ValueError(f"{self._owner}: its network must output log-scores of shape "
                             f"[batch] + {expected}; received {scores.shape.as_list()}.")
        return scores - tf.stop_gradient(tf.reduce_max(scores, axis=-1, keepdims=True))

    def distribution(self, condition: TensorLike | None = None,
                     num: Count | None = None) -> tfp.distributions.Distribution:
        return tfd.PlackettLuce(tf.exp(self.log_scores(condition)), dtype=tf.int32)

    def log_prob(self, x: TensorLike, seed: Seed | None = None, *,
                 condition: TensorLike | None = None) -> tf.Tensor:
        x = self._checked_value(x)
        condition = None if condition is None else self._same_rows(
            tf.convert_to_tensor(condition), x, "x")
        return _discrete.plackett_luce_log_prob(self.log_scores(condition), x)

    def _checked_value(self, x: TensorLike) -> tf.Tensor:
        """x as orderings: integer rows, each a permutation of 0, ..., K-1."""
        x = _as_index(self._owner, super()._checked_value(x), "orderings of the items")
        items = tf.range(self.event_shape[0], dtype=x.dtype)
        return _checks.require(x, tf.reduce_all(tf.equal(tf.sort(x, axis=-1), items)),
                               f"{self._owner}: each row of x must be an ordering (a "
                               f"permutation) of 0, ..., {self.event_shape[0] - 1}")

    def sample_and_log_prob(self, n: Count | None = None, seed: Seed | None = None, *,
                            condition: TensorLike | None = None
                            ) -> tuple[tf.Tensor, tf.Tensor]:
        self._num(condition, n)  # one draw per condition row: n, if given, must agree
        log_scores = self.log_scores(condition)
        seed = _seeds.seed_or_random(seed)
        perm = _discrete.plackett_luce_sample(log_scores, seed)
        return perm, _discrete.plackett_luce_log_prob(log_scores, perm)

    def get_config(self) -> dict:
        config = super().get_config()
        config["num_items"] = config.pop("event_shape")[0]
        return config
