"""Small helpers shared across the package: seeds, reductions, shape checks."""

from __future__ import annotations

import math
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf


INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def to_stateless_seed(seed) -> tf.Tensor:
    """The one conversion of a stateless seed to a shape-[2] int32 tensor, used everywhere.

    Accepted, with the same draws locally and in an exported SavedModel fed the same pair:

    * a pair `(a, b)` (tuple, list or array) of integers in the int32 range [-2**31, 2**31 - 1],
      used as they are: `seed=(a, b)` equals the served `seed=[a, b]`;
    * a single integer `a` in that range, which means the pair `(a, 0)`;
    * a shape-[2] integer tensor: int32 as it is; another integer dtype, eagerly, after the same
      range check. Inside a compiled function a non-int32 tensor (a Keras seed generator's
      int64 state) is folded modulo 2**31 - 1.

    Floats, booleans, strings, other lengths and out-of-range values raise a TypeError or
    ValueError naming what was received.
    """
    if _is_int(seed):
        seed = (int(seed), 0)
    if isinstance(seed, (tuple, list, np.ndarray)):
        values = list(np.asarray(seed, dtype=object).ravel()) if isinstance(seed, np.ndarray) \
            else list(seed)
        if isinstance(seed, np.ndarray) and seed.shape != (2,) or len(values) != 2:
            raise ValueError(f"A stateless seed is a pair of integers; received {seed!r}.")
        if not all(_is_int(v) for v in values):
            raise TypeError(
                "A stateless seed is a pair of integers; received "
                f"{seed!r} (types {[type(v).__name__ for v in values]})."
            )
        if not all(INT32_MIN <= int(v) <= INT32_MAX for v in values):
            raise ValueError(
                f"A stateless seed's integers lie in the int32 range [{INT32_MIN}, {INT32_MAX}]; "
                f"received {seed!r}."
            )
        return tf.constant([int(v) for v in values], tf.int32)
    if not isinstance(seed, (tf.Tensor, tf.Variable)):
        raise TypeError(
            "A stateless seed is an int, a pair of ints or a shape-[2] integer tensor; received "
            f"{type(seed).__name__}: {seed!r}."
        )
    seed = tf.convert_to_tensor(seed)
    if not seed.dtype.is_integer:
        raise TypeError(f"A stateless seed must hold integers; received dtype {seed.dtype.name}.")
    if seed.shape.rank is not None and seed.shape != (2,):
        raise ValueError(f"A stateless seed has shape [2]; received shape {seed.shape}.")
    if seed.dtype == tf.int32:
        return seed
    if tf.executing_eagerly():
        return to_stateless_seed(tuple(int(v) for v in seed.numpy()))
    return tf.cast(tf.math.floormod(tf.cast(seed, tf.int64), 2**31 - 1), tf.int32)


def check_count(owner: str, what: str, value, *, minimum: int, maximum: int = INT32_MAX,
                hint: str = ""):
    """A count argument (a sample size n, a number k of importance samples): a Python or NumPy
    integer, or an integer scalar tensor, in [minimum, maximum]. Returns it unchanged.

    Symbolic tensors are checked in the graph (InvalidArgumentError); anything else that is not
    an integer raises a TypeError, and a value out of range a ValueError.
    """
    if isinstance(value, (tf.Tensor, tf.Variable)):
        if not value.dtype.is_integer:
            raise TypeError(f"{owner}: {what} must be an integer; received a {value.dtype.name} "
                            "tensor.")
        if value.shape.rank not in (None, 0):
            raise ValueError(f"{owner}: {what} must be a scalar; received shape {value.shape}.")
        if not tf.executing_eagerly():
            wide = tf.cast(value, tf.int64)
            check = tf.debugging.Assert(
                tf.logical_and(wide >= minimum, wide <= maximum),
                [f"[tfp_survae] {owner}: {what} must lie in [{minimum}, {maximum}]{hint}; "
                 "received", wide])
            with tf.control_dependencies([check]):
                return tf.identity(value)
        number = int(value.numpy())
    elif _is_int(value):
        number = int(value)
    else:
        raise TypeError(f"{owner}: {what} must be an integer; received {type(value).__name__}: "
                        f"{value!r}.")
    if not minimum <= number <= maximum:
        raise ValueError(f"{owner}: {what} must lie in [{minimum}, {maximum}]{hint}; received "
                         f"{number}.")
    return value


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


def backing_variables(layers, *, trainable_only: bool = False) -> list:
    """The `tf.Variable`s behind the Keras variables of `layers`, each once, in order.

    Keras 3 variables are invisible to `tf.Module` and to TFP's optimizers; the `tf.Variable`
    each one wraps is the same storage, so training it trains the layer.
    """
    found, seen = [], set()
    for layer in layers:
        variables = layer.trainable_variables if trainable_only else layer.variables
        for backing in backing_variables_of(variables):
            if id(backing) not in seen:
                seen.add(id(backing))
                found.append(backing)
    return found


def backing_variables_of(variables) -> list:
    """The `tf.Variable` behind each Keras variable (the variable itself otherwise)."""
    out = []
    for v in variables:
        backing = getattr(v, "value", v)
        out.append(backing if isinstance(backing, tf.Variable) else v)
    return out


def run_network(owner: str, network, inputs, **kwargs):
    """Calls `network` on `inputs`, after checking that they fit its compute dtype.

    A network squares its inputs' scale (variances in a LayerNorm, products in attention), so
    an input beyond the square root of the dtype's largest value (1.8e19 in float32; in
    float16, whose range ends at 65504, anything beyond 65504) would overflow inside it and
    come out as Inf, NaN or a silently different number. Such an input raises a ValueError
    (a check op in graphs) that says what to change.
    """
    compute = tf.as_dtype(getattr(network, "compute_dtype", None) or inputs.dtype)
    if compute.is_floating:
        largest = float(compute.max)
        limit = largest if compute == tf.float16 else math.sqrt(largest)
        message = (f"{owner}: a network computing in {compute.name} received values beyond "
                   f"{limit:.3g}, which would overflow inside it. Rescale the data, or use a "
                   "wider dtype ('mixed_bfloat16', 'float32' or 'float64').")
        wide = tf.float64 if inputs.dtype == tf.float64 else tf.float32
        too_large = tf.reduce_any(tf.abs(tf.cast(inputs, wide)) > limit)
        if tf.executing_eagerly():
            if bool(too_large):
                raise ValueError(message)
        else:
            check = tf.debugging.Assert(tf.logical_not(too_large), [f"[tfp_survae] {message}"])
            with tf.control_dependencies([check]):
                inputs = tf.identity(inputs)
    return network(inputs, **kwargs)


def check_network_output(owner: str, network, input_event, expected_event, dtype,
                         role: str) -> None:
    """Raises a ValueError unless `network` maps [batch] + `input_event` to exactly
    [batch] + `expected_event` (checked when the layer is built, so a network of the wrong
    width can never broadcast into a wrong likelihood).

    Uses the network's `compute_output_shape`, or one call on a batch of zeros where it has
    none.
    """
    input_shape = (None,) + tuple(int(d) for d in input_event)
    try:
        produced = tf.TensorShape(network.compute_output_shape(input_shape))
    except Exception:  # noqa: BLE001 (layers without a shape function)
        produced = None
    if produced is None or produced.rank is None or not produced[1:].is_fully_defined():
        probe = tf.zeros((1,) + input_shape[1:], dtype)
        produced = network(probe).shape
    expected = [int(d) for d in expected_event]
    if produced[1:].as_list() != expected:
        raise ValueError(
            f"{owner}: {role} must map inputs of shape {list(input_shape)} to outputs of shape "
            f"{[None] + expected}; it gives {produced.as_list()}. Set the network's output "
            f"width to {expected[-1]}."
        )


def unpack_batch(data):
    """A batch as (x, condition): x alone, (x,), or a dict with "x" (or one value) and an
    optional "condition"."""
    if isinstance(data, (tuple, list)):
        data = data[0]
    if isinstance(data, dict):
        x = data["x"] if "x" in data else next(iter(data.values()))
        return x, data.get("condition")
    return data, None


def _is_serialized_keras_object(value) -> bool:
    return isinstance(value, dict) and "class_name" in value and "config" in value


def deserialize_sublayers(config: dict) -> dict:
    """Returns `config` with serialized Keras objects (and lists of them) deserialized."""
    out = dict(config)
    for key, value in config.items():
        if _is_serialized_keras_object(value):
            out[key] = keras.saving.deserialize_keras_object(value)
        elif isinstance(value, list) and value and all(
            _is_serialized_keras_object(v) for v in value
        ):
            out[key] = [keras.saving.deserialize_keras_object(v) for v in value]
    return out


def check_values(owner: str, what: str, x: tf.Tensor, event_shape, *, finite: bool = True):
    """The one data check used by `Flow` and by every transform's public methods: x must be
    [batch] + `event_shape` with a batch of at least one (static checks) and, with `finite`,
    hold no NaN or Inf (a ValueError eagerly; a check op in graphs, which `fit`, `evaluate`
    and `predict` report as a ValueError and which XLA compiles away). Returns x."""
    check_event_shape(owner, what, x, event_shape)
    if x.shape.rank and x.shape[0] == 0:
        raise ValueError(f"{owner}: {what} is an empty batch (shape {x.shape.as_list()}); pass "
                         "at least one example.")
    if not finite:
        return x
    if tf.executing_eagerly():
        values = x.numpy()
        bad = np.argwhere(~np.isfinite(values))
        if len(bad):
            raise ValueError(
                f"{owner}: {what} contains NaN or Inf ({len(bad)} values; the first at index "
                f"{tuple(int(i) for i in bad[0])}: {values[tuple(bad[0])]})."
            )
        return x
    return tf.debugging.assert_all_finite(x, f"[tfp_survae] {owner}: {what} contains NaN or Inf")


def check_in_range(owner: str, x, num_values: int) -> None:
    """Eagerly: raises a ValueError unless the integers x lie in [0, num_values)."""
    low, high = int(tf.reduce_min(x)), int(tf.reduce_max(x))
    if low < 0 or high >= num_values:
        raise ValueError(
            f"{owner}: expected data x as integers in [0, {num_values}) (num_values="
            f"{num_values}); received values from {low} to {high}."
        )


def assert_in_range(owner: str, x: tf.Tensor, num_values: int) -> tf.Tensor:
    """Graph-mode check that integer `x` lies in [0, num_values); returns x."""
    wide = tf.cast(x, tf.int64)
    checks = [
        tf.debugging.assert_greater_equal(
            wide, tf.constant(0, tf.int64),
            message=f"[tfp_survae] {owner}: expected data x as integers in [0, {num_values}); "
            "received a negative value",
        ),
        tf.debugging.assert_less(
            wide, tf.constant(num_values, tf.int64),
            message=f"[tfp_survae] {owner}: expected data x as integers in [0, {num_values}); "
            f"received a value >= {num_values}",
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
