"""Discrete choices of surjections: signs, indices and permutations, fixed or predicted."""

from __future__ import annotations

import math

import tensorflow as tf

from tfp_survae import _networks, _seeds, _tensors



def sign_log_prob(signs, logits):
    """log p(s) for s in {-1, +1} with p(s = +1) = sigmoid(logits), elementwise."""
    return tf.math.log_sigmoid(tf.where(signs > 0, logits, -logits))


def sample_signs(logits, seed):
    """s in {-1, +1} with p(s = +1) = sigmoid(logits)."""
    uniform = _seeds.random_uniform(tf.shape(logits), seed, logits.dtype)
    return tf.where(uniform < tf.sigmoid(logits), tf.ones_like(logits), -tf.ones_like(logits))


def sample_categorical(logits, seed):
    """Indices along the last axis by the Gumbel-max trick (int32)."""
    uniform = _seeds.random_uniform(tf.shape(logits), seed, logits.dtype, minval=1e-12)
    return tf.argmax(logits - tf.math.log(-tf.math.log(uniform)), axis=-1, output_type=tf.int32)


def categorical_log_prob(logits, index):
    """log softmax(logits)[index] along the last axis."""
    return tf.gather(tf.nn.log_softmax(logits, axis=-1), index, batch_dims=index.shape.rank)


def log_factorial(k: int) -> float:
    return math.lgamma(k + 1)



def plackett_luce_log_prob(log_scores: tf.Tensor, perm: tf.Tensor) -> tf.Tensor:
    """log p(perm) under Plackett-Luce with `log_scores` [batch, K]; perm [batch, K] int."""
    ordered = tf.gather(log_scores, tf.cast(perm, tf.int32), batch_dims=1)
    tail = tf.math.cumulative_logsumexp(ordered, axis=-1, reverse=True)
    return tf.reduce_sum(ordered - tail, axis=-1)


def plackett_luce_sample(log_scores: tf.Tensor, seed) -> tf.Tensor:
    """Samples permutations by the Gumbel-max trick: argsort of perturbed scores, descending."""
    uniform = _seeds.random_uniform(
        tf.shape(log_scores), seed, minval=1e-12, maxval=1.0, dtype=log_scores.dtype
    )
    gumbel = -tf.math.log(-tf.math.log(uniform))
    return tf.argsort(log_scores + gumbel, axis=-1, direction="DESCENDING", stable=True)



class DiscreteChoice:
    """The discrete choice of a surjection, uniform or predicted by a network: the sign of each
    folded element (Abs), the index of the max in each group of K (Max, MaxPool2D) or the order
    of K items (Sort).

    With `network=None` the choice is uniform (the paper's simple layers); otherwise the network
    maps the layer's input to logits (Bernoulli logits of s = +1, K categorical logits per group,
    or K Plackett-Luce log-scores). Every method takes the logits from `logits()`, None when
    uniform.

    Args:
      owner: the layer's name for errors.
      kind: "sign", "index" or "order".
      network: a Keras layer or None.
      size: K, the options per choice (2 for signs).
      role: what the network is, for errors ("sign classifier", ...).
    """

    KINDS = ("sign", "index", "order")

    def __init__(self, owner: str, kind: str, network, size: int, role: str):
        if kind not in self.KINDS:
            raise ValueError(f"kind is one of {self.KINDS}; received {kind!r}.")
        self.owner, self.kind, self.network, self.size, self.role = (
            owner, kind, network, int(size), role)

    def build(self, input_shape):
        _networks.build_network(self.network, input_shape)

    def logits(self, inputs, choice_shape, dtype, training=None):
        """The network's logits, shaped [batch] + choice_shape (+ [K] for an index or an order),
        or None for a uniform choice."""
        if self.network is None:
            return None
        shape = list(choice_shape) + ([] if self.kind == "sign" else [self.size])
        return _networks.network_logits(self.owner, self.network, inputs, shape, dtype, self.role,
                              training=training)

    def log_prob(self, choice, logits, dtype) -> tf.Tensor:
        """log p(choice) per example, shape [batch]."""
        if logits is None:
            if self.kind == "order":
                per_example = -log_factorial(self.size)
            else:
                options = 2 if self.kind == "sign" else self.size
                per_example = -_tensors.num_elements(choice.shape[1:]) * math.log(options)
            return tf.fill([tf.shape(choice)[0]], tf.constant(per_example, dtype))
        if self.kind == "sign":
            return _tensors.sum_except_batch(sign_log_prob(choice, logits))
        if self.kind == "index":
            return _tensors.sum_except_batch(categorical_log_prob(logits, choice))
        return plackett_luce_log_prob(logits, choice)

    def sample(self, logits, like, seed) -> tf.Tensor:
        """A choice for each example; `like` gives the shape for a uniform choice: the folded
        values (sign), the grouped values without the K axis (index), or [batch, ...] (order)."""
        if logits is None:
            if self.kind == "sign":
                logits = tf.zeros_like(like)
            elif self.kind == "index":
                logits = tf.zeros(tf.concat([tf.shape(like), [self.size]], axis=0), like.dtype)
            else:
                logits = tf.zeros(tf.stack([tf.shape(like)[0], self.size]), like.dtype)
        if self.kind == "sign":
            return sample_signs(logits, seed)
        if self.kind == "index":
            return sample_categorical(logits, seed)
        return plackett_luce_sample(logits, seed)
