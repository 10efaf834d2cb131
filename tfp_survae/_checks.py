"""Argument and value checks shared by transforms, distributions and flows: dtypes, event
shapes, counts, NaN / Inf and integer ranges, each a ValueError or TypeError naming what was
received and what was expected."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1



def is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


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
    elif is_int(value):
        number = int(value)
    else:
        raise TypeError(f"{owner}: {what} must be an integer; received {type(value).__name__}: "
                        f"{value!r}.")
    if not minimum <= number <= maximum:
        raise ValueError(f"{owner}: {what} must lie in [{minimum}, {maximum}]{hint}; received "
                         f"{number}.")
    return value


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
