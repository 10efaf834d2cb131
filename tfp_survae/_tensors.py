"""Small tensor helpers: reductions over the event, element counts, dtypes, bits per dim."""

from __future__ import annotations

import math
from typing import Sequence

import keras
import tensorflow as tf


def likelihood_dtype(dtype) -> str:
    """The float dtype in which a transform built with `dtype` computes its likelihood (a name,
    a policy, or None: the global policy; float32 under mixed precision)."""
    return keras.dtype_policies.get(dtype or keras.config.dtype_policy()).variable_dtype


def sum_except_batch(x: tf.Tensor) -> tf.Tensor:
    """Sums every axis but the leading batch axis, giving shape [batch]."""
    if x.shape.rank == 1:
        return x
    return tf.reduce_sum(tf.reshape(x, [tf.shape(x)[0], -1]), axis=-1)


def nats_to_bits_per_dim(nll, dims: int):
    """Negative log-likelihood in nats per example -> bits per dimension."""
    return nll / (dims * math.log(2.0))


def any_negative(t: tf.Tensor) -> tf.Tensor:
    """[batch] booleans: does the example hold a negative element (outside an image of |.|,
    max(., 0))?"""
    return tf.reduce_any(tf.reshape(t < 0, [tf.shape(t)[0], -1]), axis=-1)


def num_elements(shape: Sequence[int]) -> int:
    return int(math.prod(int(d) for d in shape))
