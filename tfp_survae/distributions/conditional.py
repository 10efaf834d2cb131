"""Conditional distributions: a Keras network maps a context to the parameters of a distribution.

They are the encoders q(. | x) and decoders p(. | z) of the surjective and stochastic layers.
A network's output holds the parameters side by side on its last axis, each with the event's
shape (e.g. ConditionalNormal: [mean, log_scale] for an event of shape [..., C] is [..., 2C]).
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_survae import _utils
from tfp_survae.distributions.base import ConditionalDistribution

tfd = tfp.distributions

__all__ = [
    "ConditionalNormal",
    "ConditionalHalfNormal",
    "ConditionalBernoulli",
    "ConditionalCategorical",
    "ConditionalPlackettLuce",
]

_HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)


def _require_network(owner: str, network):
    if network is None or not callable(network):
        raise TypeError(
            f"{owner} needs a Keras network mapping the context to its parameters; received "
            f"{network!r}. Use StandardNormal / StandardHalfNormal for a fixed distribution."
        )


@keras.saving.register_keras_serializable(package="tfp_survae")
class ConditionalNormal(ConditionalDistribution):
    """p(x | c) = N(x; mu(c), diag(sigma(c)^2)) with [mu, log sigma] = network(c).

    Args:
      event_shape: shape of x.
      network: maps the context [batch, ...] to [batch] + event[:-1] + [2 * event[-1]].
    """

    def __init__(self, event_shape, network, **kwargs):
        _require_network("ConditionalNormal", network)
        super().__init__(event_shape, network=network, **kwargs)

    def mean_and_log_scale(self, context, dtype):
        return self._params(context, 2, dtype)

    def distribution(self, context=None, num=None):
        mean, log_scale = self.mean_and_log_scale(self._context(context), self.dtype)
        return tfd.Independent(tfd.Normal(mean, tf.exp(log_scale)), self.event_shape.rank)

    def log_prob(self, x, context=None):
        x = tf.convert_to_tensor(x)
        mean, log_scale = self.mean_and_log_scale(self._context(context), x.dtype)
        u = (x - mean) * tf.exp(-log_scale)
        return _utils.sum_except_batch(-0.5 * tf.square(u) - log_scale - _HALF_LOG_TWO_PI)

    def sample_and_log_prob(self, context=None, *, num=None, seed=None):
        mean, log_scale = self.mean_and_log_scale(self._context(context), self.dtype)
        seed = _utils.seed_or_random(seed)
        eps = _utils.random_normal(tf.shape(mean), seed, dtype=mean.dtype)
        x = mean + tf.exp(log_scale) * eps
        log_prob = _utils.sum_except_batch(-0.5 * tf.square(eps) - log_scale - _HALF_LOG_TWO_PI)
        return x, log_prob


@keras.saving.register_keras_serializable(package="tfp_survae")
class ConditionalHalfNormal(ConditionalDistribution):
    """p(x | c) = HalfNormal(x; sigma(c)) elementwise, support [0, inf), log sigma = network(c)."""

    def __init__(self, event_shape, network, **kwargs):
        _require_network("ConditionalHalfNormal", network)
        super().__init__(event_shape, network=network, **kwargs)

    def distribution(self, context=None, num=None):
        (log_scale,) = self._params(self._context(context), 1, self.dtype)
        return tfd.Independent(tfd.HalfNormal(tf.exp(log_scale)), self.event_shape.rank)

    def log_prob(self, x, context=None):
        x = tf.convert_to_tensor(x)
        (log_scale,) = self._params(self._context(context), 1, x.dtype)
        u = x * tf.exp(-log_scale)
        log_density = math.log(2.0) - _HALF_LOG_TWO_PI - log_scale - 0.5 * tf.square(u)
        log_density = tf.where(x >= 0, log_density, tf.constant(-math.inf, x.dtype))
        return _utils.sum_except_batch(log_density)

    def sample_and_log_prob(self, context=None, *, num=None, seed=None):
        (log_scale,) = self._params(self._context(context), 1, self.dtype)
        seed = _utils.seed_or_random(seed)
        eps = tf.abs(_utils.random_normal(tf.shape(log_scale), seed, dtype=log_scale.dtype))
        log_prob = _utils.sum_except_batch(
            math.log(2.0) - _HALF_LOG_TWO_PI - log_scale - 0.5 * tf.square(eps)
        )
        return eps * tf.exp(log_scale), log_prob


@keras.saving.register_keras_serializable(package="tfp_survae")
class ConditionalBernoulli(ConditionalDistribution):
    """p(x | c) = Bernoulli(x; sigmoid(network(c))) elementwise over x in {0, 1}."""

    def __init__(self, event_shape, network, **kwargs):
        _require_network("ConditionalBernoulli", network)
        super().__init__(event_shape, network=network, **kwargs)

    def distribution(self, context=None, num=None):
        (logits,) = self._params(self._context(context), 1, self.dtype)
        return tfd.Independent(
            tfd.Bernoulli(logits=logits, dtype=self.dtype), self.event_shape.rank
        )

    def log_prob(self, x, context=None):
        x = tf.convert_to_tensor(x)
        (logits,) = self._params(self._context(context), 1, x.dtype if x.dtype.is_floating
                                 else self.dtype)
        x = tf.cast(x, logits.dtype)
        return _utils.sum_except_batch(
            -tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits)
        )


@keras.saving.register_keras_serializable(package="tfp_survae")
class ConditionalCategorical(ConditionalDistribution):
    """p(x | c) = Categorical(x; softmax(network(c))) elementwise over x in {0, ..., K-1}.

    The network outputs [batch] + event + [num_classes] logits (for a scalar event,
    [batch, num_classes]).
    """

    def __init__(self, event_shape, num_classes: int, network, **kwargs):
        _require_network("ConditionalCategorical", network)
        super().__init__(event_shape, network=network, **kwargs)
        self.num_classes = int(num_classes)

    def logits(self, context, dtype=None):
        logits = tf.cast(self.network(self._context(context)), dtype or self.dtype)
        expected = self.event_shape.as_list() + [self.num_classes]
        if logits.shape[1:].is_fully_defined() and logits.shape[1:].as_list() != expected:
            raise ValueError(
                f"ConditionalCategorical '{self.name}': its network must output logits of shape "
                f"[batch] + {expected}; received {logits.shape.as_list()}."
            )
        return logits

    def distribution(self, context=None, num=None):
        return tfd.Independent(
            tfd.Categorical(logits=self.logits(context), dtype=tf.int32), self.event_shape.rank
        )

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

    def __init__(self, num_items: int, network, **kwargs):
        _require_network("ConditionalPlackettLuce", network)
        super().__init__([int(num_items)], network=network, **kwargs)

    def log_scores(self, context, dtype=None):
        scores = tf.cast(self.network(self._context(context)), dtype or self.dtype)
        return scores - tf.stop_gradient(tf.reduce_max(scores, axis=-1, keepdims=True))

    def distribution(self, context=None, num=None):
        return tfd.PlackettLuce(tf.exp(self.log_scores(context)), dtype=tf.int32)

    def log_prob(self, x, context=None):
        return plackett_luce_log_prob(self.log_scores(context), x)

    def sample_and_log_prob(self, context=None, *, num=None, seed=None):
        log_scores = self.log_scores(context)
        seed = _utils.seed_or_random(seed)
        perm = plackett_luce_sample(log_scores, seed)
        return perm, plackett_luce_log_prob(log_scores, perm)

    def get_config(self):
        config = super().get_config()
        config["num_items"] = config.pop("event_shape")[0]
        return config


def plackett_luce_log_prob(log_scores: tf.Tensor, perm: tf.Tensor) -> tf.Tensor:
    """log p(perm) under Plackett-Luce with `log_scores` [batch, K]; perm [batch, K] int."""
    ordered = tf.gather(log_scores, tf.cast(perm, tf.int32), batch_dims=1)
    tail = tf.math.cumulative_logsumexp(ordered, axis=-1, reverse=True)
    return tf.reduce_sum(ordered - tail, axis=-1)


def plackett_luce_sample(log_scores: tf.Tensor, seed) -> tf.Tensor:
    """Samples permutations by the Gumbel-max trick: argsort of perturbed scores, descending."""
    uniform = _utils.random_uniform(
        tf.shape(log_scores), seed, minval=1e-12, maxval=1.0, dtype=log_scores.dtype
    )
    gumbel = -tf.math.log(-tf.math.log(uniform))
    return tf.argsort(log_scores + gumbel, axis=-1, direction="DESCENDING", stable=True)

