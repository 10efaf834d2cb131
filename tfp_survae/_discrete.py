"""Discrete choices of surjections: signs, indices and permutations, fixed or predicted."""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from tfp_survae import _utils


def network_logits(owner: str, network, inputs, event_shape, dtype, what: str, training=None):
    """Runs `network` on `inputs` and reshapes its output to [batch] + `event_shape`.

    The network may output that shape or any shape with the same number of values per example
    (e.g. flat logits); anything else is a ValueError naming both shapes.
    """
    out = tf.cast(_utils.run_network(owner, network, inputs, training=training), dtype)
    event_shape = [int(d) for d in event_shape]
    want = int(np.prod(event_shape)) if event_shape else 1
    have = out.shape[1:].num_elements()
    if have is not None and have != want:
        raise ValueError(
            f"{owner}: the {what} network must output {want} logits per example (shape "
            f"{event_shape}); received output shape {out.shape.as_list()}."
        )
    return tf.reshape(out, [-1] + event_shape)


def sign_log_prob(signs, logits):
    """log p(s) for s in {-1, +1} with p(s = +1) = sigmoid(logits), elementwise."""
    return tf.math.log_sigmoid(tf.where(signs > 0, logits, -logits))


def sample_signs(logits, seed):
    """s in {-1, +1} with p(s = +1) = sigmoid(logits)."""
    uniform = _utils.random_uniform(tf.shape(logits), seed, logits.dtype)
    return tf.where(uniform < tf.sigmoid(logits), tf.ones_like(logits), -tf.ones_like(logits))


def sample_categorical(logits, seed):
    """Indices along the last axis by the Gumbel-max trick (int32)."""
    uniform = _utils.random_uniform(tf.shape(logits), seed, logits.dtype, minval=1e-12)
    return tf.argmax(logits - tf.math.log(-tf.math.log(uniform)), axis=-1, output_type=tf.int32)


def categorical_log_prob(logits, index):
    """log softmax(logits)[index] along the last axis."""
    return tf.gather(tf.nn.log_softmax(logits, axis=-1), index, batch_dims=index.shape.rank)


def log_factorial(k: int) -> float:
    return math.lgamma(k + 1)


def build_network(network, input_shape):
    if network is not None and isinstance(network, keras.layers.Layer) and not network.built:
        network.build(tuple(input_shape))
    return network


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

