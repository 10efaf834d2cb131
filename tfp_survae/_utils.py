"""Small helpers shared across the package: seeds, reductions, shape checks."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import tensorflow as tf


def to_stateless_seed(seed) -> tf.Tensor:
    """Returns `seed` as a shape-[2] int32 tensor for `tf.random.stateless_*` and TFP.

    Accepts an `(int, int)` tuple or list, a shape-[2] integer tensor or array, or a single int
    (expanded to `(seed, 0)`).
    """
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        seed = (int(seed), 0)
    if isinstance(seed, (tuple, list)):
        if len(seed) != 2:
            raise ValueError(f"A stateless seed is a pair of integers; received {seed!r}.")
        seed = np.asarray(seed, dtype=np.int64)
    seed = tf.convert_to_tensor(seed)
    if not seed.dtype.is_integer:
        raise TypeError(f"A stateless seed must hold integers; received dtype {seed.dtype.name}.")
    if seed.shape.rank is not None and seed.shape != (2,):
        raise ValueError(f"A stateless seed has shape [2]; received shape {seed.shape}.")
    if seed.dtype != tf.int32:
        # Fold 64-bit values into int32 without overflow errors.
        seed = tf.cast(tf.math.floormod(tf.cast(seed, tf.int64), 2**31 - 1), tf.int32)
    return seed


def seed_or_random(seed) -> tf.Tensor:
    """`seed` as a stateless seed, or a fresh random one when it is None (direct user calls)."""
    if seed is None:
        return tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int32)
    return to_stateless_seed(seed)


# One counter-based generator everywhere, so eager and tf.function draw the same numbers for
# the same seed ("auto_select" picks different algorithms under XLA). Under XLA the numbers
# match too when the seed is a constant; with a seed fed in at run time, TensorFlow's XLA
# kernels draw other (equally valid) numbers.
RNG_ALG = "philox"


def split_seed(seed, num: int) -> list:
    """Splits a stateless seed into `num` independent seeds (a list of `None` if `seed` is None)."""
    if seed is None:
        return [None] * num
    parts = tf.random.experimental.stateless_split(to_stateless_seed(seed), num, alg=RNG_ALG)
    return [parts[i] for i in range(num)]


def fold_in(seed, data) -> tf.Tensor:
    """A new stateless seed from `seed` and an integer `data` (e.g. a step counter)."""
    return tf.random.experimental.stateless_fold_in(to_stateless_seed(seed), data, alg=RNG_ALG)


def random_uniform(shape, seed, dtype, minval=0.0, maxval=1.0) -> tf.Tensor:
    """U[minval, maxval) from a stateless seed."""
    return tf.random.stateless_uniform(
        shape, to_stateless_seed(seed), minval=minval, maxval=maxval, dtype=dtype, alg=RNG_ALG
    )


def random_normal(shape, seed, dtype) -> tf.Tensor:
    """N(0, 1) from a stateless seed."""
    return tf.random.stateless_normal(shape, to_stateless_seed(seed), dtype=dtype, alg=RNG_ALG)


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


def check_event_shape(owner: str, what: str, tensor: tf.Tensor, expected: tf.TensorShape) -> None:
    """Raises ValueError unless `tensor` is [batch] + `expected` (static check)."""
    expected = tf.TensorShape(expected)
    shape = tensor.shape
    if shape.rank is None:
        return
    if shape.rank != expected.rank + 1:
        raise ValueError(
            f"{owner}: expected {what} of rank {expected.rank + 1} (a batch axis, then the event "
            f"shape {expected.as_list()}); received shape {shape.as_list()}."
        )
    if not shape[1:].is_compatible_with(expected):
        raise ValueError(
            f"{owner}: expected {what} with event shape {expected.as_list()} after the batch "
            f"axis; received shape {shape.as_list()} (event shape {shape[1:].as_list()})."
        )


def as_float(owner: str, what: str, x, dtype: tf.DType) -> tf.Tensor:
    """Converts `x` to the float `dtype`, refusing integer or boolean tensors."""
    if isinstance(x, tf.Tensor | tf.Variable):
        if not x.dtype.is_floating:
            raise ValueError(
                f"{owner}: expected {what} as a floating-point tensor; received dtype "
                f"{x.dtype.name}. Integer data goes through a dequantization layer first."
            )
        return tf.cast(x, dtype) if x.dtype != dtype else x
    array = np.asarray(x)
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(
            f"{owner}: expected {what} as floating-point values; received dtype {array.dtype}. "
            "Integer data goes through a dequantization layer first."
        )
    return tf.convert_to_tensor(array, dtype=dtype)


def as_integer(owner: str, what: str, x) -> tf.Tensor:
    """Converts `x` to an integer tensor, refusing floating-point input."""
    if isinstance(x, tf.Tensor | tf.Variable):
        if not x.dtype.is_integer:
            raise ValueError(
                f"{owner}: expected {what} as an integer tensor (discrete data such as uint8 "
                f"pixels); received dtype {x.dtype.name}."
            )
        return x
    array = np.asarray(x)
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"{owner}: expected {what} as integers (discrete data such as uint8 pixels); "
            f"received dtype {array.dtype}."
        )
    return tf.convert_to_tensor(array)


def _is_serialized_keras_object(value) -> bool:
    return isinstance(value, dict) and "class_name" in value and "config" in value


def deserialize_sublayers(config: dict) -> dict:
    """Returns `config` with serialized Keras objects (and lists of them) deserialized."""
    import keras

    out = dict(config)
    for key, value in config.items():
        if _is_serialized_keras_object(value):
            out[key] = keras.saving.deserialize_keras_object(value)
        elif isinstance(value, list) and value and all(
            _is_serialized_keras_object(v) for v in value
        ):
            out[key] = [keras.saving.deserialize_keras_object(v) for v in value]
    return out


def check_finite(owner: str, x: tf.Tensor) -> tf.Tensor:
    """x, after checking it holds no NaN or Inf (ValueError eagerly, a check op in graphs)."""
    if tf.executing_eagerly():
        bad = np.argwhere(~np.isfinite(x.numpy()))
        if len(bad):
            raise ValueError(
                f"{owner}: data x contains NaN or Inf ({len(bad)} values; the first at index "
                f"{tuple(int(i) for i in bad[0])}: {x.numpy()[tuple(bad[0])]})."
            )
        return x
    return tf.debugging.assert_all_finite(x, f"[tfp_survae] {owner}: data x contains NaN or Inf")


def assert_in_range(owner: str, x: tf.Tensor, num_values: int) -> tf.Tensor:
    """Graph-mode check that integer `x` lies in [0, num_values); returns x."""
    wide = tf.cast(x, tf.int64)
    checks = [
        tf.debugging.assert_greater_equal(
            wide, tf.constant(0, tf.int64),
            message=f"[tfp_survae] {owner}: expected integer data in [0, {num_values}); received a "
            "negative value",
        ),
        tf.debugging.assert_less(
            wide, tf.constant(num_values, tf.int64),
            message=f"[tfp_survae] {owner}: expected integer data in [0, {num_values}); received a "
            f"value >= {num_values}",
        ),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(x)


def save_variables_and_seed(layer, store, seed_generator) -> None:
    """Layer.save_own_variables, plus the state of the layer's seed generator.

    Keras leaves seed generators out of saved weights; saving them makes a restored model (and
    training resumed from a backup) draw the same random numbers as the original.
    """
    variables = layer._trainable_variables + layer._non_trainable_variables
    for i, v in enumerate(variables):
        store[f"{i}"] = v
    if seed_generator is not None:
        store["seed_generator_state"] = seed_generator.state


def load_variables_and_seed(layer, store, seed_generator) -> None:
    """The inverse of `save_variables_and_seed` (files without a seed state load too)."""
    variables = layer._trainable_variables + layer._non_trainable_variables
    keys = set(store.keys())
    if seed_generator is not None and "seed_generator_state" in keys:
        seed_generator.state.assign(store["seed_generator_state"])
        keys.discard("seed_generator_state")
    if len(keys) != len(variables):
        raise ValueError(
            f"Layer '{layer.name}' expected {len(variables)} variables, but the saved file has "
            f"{len(keys)}: the file was saved from a different architecture."
        )
    for i, v in enumerate(variables):
        v.assign(store[f"{i}"])
