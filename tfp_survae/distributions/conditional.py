"""Conditional distributions: a Keras network maps a condition to the parameters of a distribution.

They are the encoders q(. | x) and decoders p(. | z) of the surjective and stochastic layers.
A network's output holds the parameters side by side on its last axis, each with the event's
shape (e.g. ConditionalNormal: [mean, log_scale] for an event of shape [..., C] is [..., 2C]).
"""

from __future__ import annotations

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_survae import _discrete, _networks, _seeds, _tensors
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


@keras.saving.register_keras_serializable(package="tfp_survae")
class ConditionalNormal(ConditionalDistribution):
    """p(x | c) = N(x; mu(c), diag(sigma(c)^2)) with [mu, log sigma] = network(c).

    Args:
      event_shape: shape of x.
      network: maps the condition [batch, ...] to [batch] + event[:-1] + [2 * event[-1]].
    """

    elementwise = True

    def __init__(self, event_shape, network, **kwargs):
        _require_network("ConditionalNormal", network)
        super().__init__(event_shape, network=network, **kwargs)

    def mean_and_log_scale(self, condition, dtype):
        return self._params(condition, 2, dtype)

    def distribution(self, condition=None, num=None):
        mean, log_scale = self.mean_and_log_scale(self._checked_condition(condition), self.dtype)
        return tfd.Independent(tfd.Normal(mean, tf.exp(log_scale)), self.event_shape.rank)

    def log_prob_elements(self, x, *, condition=None):
        x = tf.convert_to_tensor(x)
        mean, log_scale = self.mean_and_log_scale(self._checked_condition(condition), x.dtype)
        return normal_log_density((x - mean) * tf.exp(-log_scale), log_scale)

    def sample_and_log_prob(self, n=None, seed=None, *, condition=None):
        mean, log_scale = self.mean_and_log_scale(self._checked_condition(condition), self.dtype)
        seed = _seeds.seed_or_random(seed)
        eps = _seeds.random_normal(tf.shape(mean), seed, dtype=mean.dtype)
        x = mean + tf.exp(log_scale) * eps
        return x, _tensors.sum_except_batch(normal_log_density(eps, log_scale))


@keras.saving.register_keras_serializable(package="tfp_survae")
class ConditionalHalfNormal(ConditionalDistribution):
    """p(x | c) = HalfNormal(x; sigma(c)) elementwise, support [0, inf), log sigma = network(c)."""

    elementwise = True

    def __init__(self, event_shape, network, **kwargs):
        _require_network("ConditionalHalfNormal", network)
        super().__init__(event_shape, network=network, **kwargs)

    def distribution(self, condition=None, num=None):
        (log_scale,) = self._params(self._checked_condition(condition), 1, self.dtype)
        return tfd.Independent(tfd.HalfNormal(tf.exp(log_scale)), self.event_shape.rank)

    def log_prob_elements(self, x, *, condition=None):
        x = tf.convert_to_tensor(x)
        (log_scale,) = self._params(self._checked_condition(condition), 1, x.dtype)
        return half_normal_log_density(x, log_scale)

    def sample_and_log_prob(self, n=None, seed=None, *, condition=None):
        (log_scale,) = self._params(self._checked_condition(condition), 1, self.dtype)
        seed = _seeds.seed_or_random(seed)
        eps = tf.abs(_seeds.random_normal(tf.shape(log_scale), seed, dtype=log_scale.dtype))
        x = eps * tf.exp(log_scale)
        return x, _tensors.sum_except_batch(half_normal_log_density(x, log_scale))


@keras.saving.register_keras_serializable(package="tfp_survae")
class ConditionalBernoulli(ConditionalDistribution):
    """p(x | c) = Bernoulli(x; sigmoid(network(c))) elementwise over x in {0, 1}."""

    elementwise = True
    discrete = True

    def __init__(self, event_shape, network, **kwargs):
        _require_network("ConditionalBernoulli", network)
        super().__init__(event_shape, network=network, **kwargs)

    def distribution(self, condition=None, num=None):
        (logits,) = self._params(self._checked_condition(condition), 1, self.dtype)
        return tfd.Independent(
            tfd.Bernoulli(logits=logits, dtype=self.dtype), self.event_shape.rank
        )

    def log_prob_elements(self, x, *, condition=None):
        x = tf.convert_to_tensor(x)
        dtype = x.dtype if x.dtype.is_floating else self.dtype
        (logits,) = self._params(self._checked_condition(condition), 1, dtype)
        return -tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(x, dtype), logits=logits)

    def sample_and_log_prob(self, n=None, seed=None, *, condition=None):
        (logits,) = self._params(self._checked_condition(condition), 1, self.dtype)
        uniform = _seeds.random_uniform(tf.shape(logits), _seeds.seed_or_random(seed), logits.dtype)
        x = tf.cast(uniform < tf.sigmoid(logits), logits.dtype)
        log_p = -tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits)
        return x, _tensors.sum_except_batch(log_p)


@keras.saving.register_keras_serializable(package="tfp_survae")
class ConditionalCategorical(ConditionalDistribution):
    """p(x | c) = Categorical(x; softmax(network(c))) elementwise over x in {0, ..., K-1}.

    The network outputs [batch] + event + [num_classes] logits (for a scalar event,
    [batch, num_classes]).
    """

    discrete = True

    def __init__(self, event_shape, num_classes: int, network, **kwargs):
        _require_network("ConditionalCategorical", network)
        super().__init__(event_shape, network=network, **kwargs)
        self.num_classes = int(num_classes)

    def logits(self, condition, dtype=None):
        logits = _networks.run_network(self.name, self.network, self._checked_condition(condition))
        logits = tf.cast(logits, dtype or self.dtype)
        expected = self.event_shape.as_list() + [self.num_classes]
        if logits.shape[1:].is_fully_defined() and logits.shape[1:].as_list() != expected:
            raise ValueError(
                f"ConditionalCategorical '{self.name}': its network must output logits of shape "
                f"[batch] + {expected}; received {logits.shape.as_list()}."
            )
        return logits

    def distribution(self, condition=None, num=None):
        return tfd.Independent(
            tfd.Categorical(logits=self.logits(condition), dtype=tf.int32), self.event_shape.rank
        )

    def sample_and_log_prob(self, n=None, seed=None, *, condition=None):
        logits = self.logits(condition)
        x = _discrete.sample_categorical(logits, _seeds.seed_or_random(seed))
        return x, _tensors.sum_except_batch(_discrete.categorical_log_prob(logits, x))

    def get_config(self):
        config = super().get_config()
        config["num_classes"] = self.num_classes
        return config


@keras.saving.register_keras_serializable(package="tfp_survae")
class ConditionalPlackettLuce(ConditionalDistribution):
    """A Plackett-Luce distribution over orderings of K items, log-scores = network(c).

    A sample is a permutation I (int32, shape [K]) listing items from first to last place:
    log p(I | c) = sum_j [s_{I_j} - logsumexp_{m >= j} s_{I_m}]. Log-scores are shifted by their
    maximum, so any real scores are stable.
    """

    discrete = True

    def __init__(self, num_items: int, network, **kwargs):
        _require_network("ConditionalPlackettLuce", network)
        super().__init__([int(num_items)], network=network, **kwargs)

    def log_scores(self, condition, dtype=None):
        scores = _networks.run_network(self.name, self.network, self._checked_condition(condition))
        scores = tf.cast(scores, dtype or self.dtype)
        return scores - tf.stop_gradient(tf.reduce_max(scores, axis=-1, keepdims=True))

    def distribution(self, condition=None, num=None):
        return tfd.PlackettLuce(tf.exp(self.log_scores(condition)), dtype=tf.int32)

    def log_prob(self, x, seed=None, *, condition=None):
        return _discrete.plackett_luce_log_prob(self.log_scores(condition), x)

    def sample_and_log_prob(self, n=None, seed=None, *, condition=None):
        log_scores = self.log_scores(condition)
        seed = _seeds.seed_or_random(seed)
        perm = _discrete.plackett_luce_sample(log_scores, seed)
        return perm, _discrete.plackett_luce_log_prob(log_scores, perm)

    def get_config(self):
        config = super().get_config()
        config["num_items"] = config.pop("event_shape")[0]
        return config
