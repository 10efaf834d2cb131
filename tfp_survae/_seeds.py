"""Stateless seeds: the one conversion of a seed, splitting, and the random draws every
stochastic layer makes from a seed (one counter-based generator, and one conversion of its bits
to floats, so eager, graph and XLA-compiled functions draw the same numbers)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from typing import Sequence, Union

from tfp_survae._checks import INT32_MAX, INT32_MIN, is_int
from tfp_survae._types import Seed

# A shape: a list of ints or an int32 shape tensor.
ShapeLike = Union[Sequence[int], tf.Tensor, tf.TensorShape]


def to_stateless_seed(seed: Seed) -> tf.Tensor:
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
    if is_int(seed):
        seed = (int(seed), 0)  # type: ignore[arg-type]  # is_int: an int or a NumPy integer
    if isinstance(seed, (tuple, list, np.ndarray)):
        values = list(np.asarray(seed, dtype=object).ravel()) if isinstance(seed, np.ndarray) \
            else list(seed)
        if isinstance(seed, np.ndarray) and seed.shape != (2,) or len(values) != 2:
            raise ValueError(f"A stateless seed is a pair of integers; received {seed!r}.")
        if not all(is_int(v) for v in values):
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


def seed_or_random(seed: Seed | None) -> tf.Tensor:
    """`seed` as a stateless seed, or a fresh random one when it is None (direct user calls)."""
    if seed is None:
        return tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int32)
    return to_stateless_seed(seed)


# One counter-based generator everywhere ("auto_select" picks different algorithms under XLA).
RNG_ALG = "philox"

# Significand bits of a uniform draw in each float dtype (the spacing of its grid on [0, 1)).
_SIGNIFICAND_BITS = {tf.float16: 11, tf.bfloat16: 8, tf.float32: 24, tf.float64: 53}


def split_seed(seed: Seed | None, num: int) -> list:
    """Splits a stateless seed into `num` independent seeds.

    Args:
      seed: a stateless seed: a pair of int32 values (a, b), an int a (meaning (a, 0))
        or a shape-[2] integer tensor; or None.
      num: the number of seeds.

    Returns:
      A list of `num` shape-[2] int32 seeds (of `num` Nones if `seed` is None).

    Raises:
      TypeError: a seed that is not integers.
      ValueError: a seed of another length or out of the int32 range.
    """
    if seed is None:
        return [None] * num
    parts = tf.random.experimental.stateless_split(to_stateless_seed(seed), num, alg=RNG_ALG)
    return [parts[i] for i in range(num)]


def fold_in(seed: Seed, data: int | tf.Tensor) -> tf.Tensor:
    """A new stateless seed from `seed` and an integer `data` (e.g. a step counter).

    Args:
      seed: a stateless seed: a pair of int32 values (a, b), an int a (meaning (a, 0))
        or a shape-[2] integer tensor.
      data: an integer (or an integer scalar tensor).

    Returns:
      A shape-[2] int32 seed.

    Raises:
      TypeError: a seed that is not integers.
      ValueError: a seed of another length or out of the int32 range.
    """
    return tf.random.experimental.stateless_fold_in(to_stateless_seed(seed), data, alg=RNG_ALG)


def _unit_uniform(shape: ShapeLike, seed: Seed, dtype: tf.DType | str) -> tf.Tensor:
    """U[0, 1) on the grid k 2^-m (m the dtype's significand bits), from raw philox bits.

    TensorFlow's kernels and XLA draw the same raw bits for a seed, but turn them into floats
    differently (low against high significand bits), so `tf.random.stateless_uniform` gives
    other numbers in a `jit_compile=True` function fed a seed at run time. Converting the bits
    here gives the same numbers eagerly, in graphs and under XLA.
    """
    dtype = tf.as_dtype(dtype)
    if dtype not in _SIGNIFICAND_BITS:
        raise TypeError(f"Random floats are drawn in {sorted(d.name for d in _SIGNIFICAND_BITS)}; "
                        f"received dtype {dtype.name}.")
    significand = _SIGNIFICAND_BITS[dtype]
    width, unsigned = (64, tf.uint64) if significand > 32 else (32, tf.uint32)
    bits = tf.random.stateless_uniform(shape, to_stateless_seed(seed), minval=None, maxval=None,
                                       dtype=unsigned, alg=RNG_ALG)
    top = tf.bitwise.right_shift(bits, tf.constant(width - significand, unsigned))
    return tf.cast(top, dtype) * tf.constant(2.0**-significand, dtype)


def random_uniform(shape: ShapeLike, seed: Seed, dtype: tf.DType | str,
                   minval: float | tf.Tensor = 0.0,
                   maxval: float | tf.Tensor = 1.0) -> tf.Tensor:
    """U[minval, maxval) from a stateless seed: the same numbers eagerly, in graphs and under
    XLA (drawn from the raw random bits, which TensorFlow's kernels and XLA share, not by
    `tf.random.stateless_uniform`, whose floats differ under XLA).

    Args:
      shape: the shape of the draw.
      seed: a stateless seed: a pair of int32 values (a, b), an int a (meaning (a, 0))
        or a shape-[2] integer tensor.
      dtype: a float dtype (float16, bfloat16, float32 or float64).
      minval: the lower bound.
      maxval: the upper bound (excluded).

    Returns:
      A tensor of `shape` and `dtype`.

    Raises:
      TypeError: a dtype that is not one of those floats, or a seed that is not integers.

    Examples:
      >>> u = random_uniform([3], seed=(1, 2), dtype=tf.float32)
      >>> u.shape, bool(tf.reduce_all((u >= 0) & (u < 1)))
      (TensorShape([3]), True)
    """
    dtype = tf.as_dtype(dtype)
    low = tf.convert_to_tensor(minval, dtype)
    return low + (tf.convert_to_tensor(maxval, dtype) - low) * _unit_uniform(shape, seed, dtype)


def random_normal(shape: ShapeLike, seed: Seed, dtype: tf.DType | str) -> tf.Tensor:
    """N(0, 1) from a stateless seed: the same numbers eagerly, in graphs and under XLA (to the
    rounding of log, cos and sin there).

    The Box-Muller transform of consecutive pairs of uniforms, so a draw of n elements begins
    with the draw of fewer (IWBO chunks rely on it). Half-precision draws are computed in
    float32.

    Args:
      shape: the shape of the draw.
      seed: a stateless seed: a pair of int32 values (a, b), an int a (meaning (a, 0))
        or a shape-[2] integer tensor.
      dtype: a float dtype (float16, bfloat16, float32 or float64).

    Returns:
      A tensor of `shape` and `dtype`.

    Raises:
      TypeError: a dtype that is not one of those floats, or a seed that is not integers.

    Examples:
      >>> z = random_normal([5], seed=(1, 2), dtype=tf.float64)
      >>> bool(tf.reduce_all(z[:3] == random_normal([3], seed=(1, 2), dtype=tf.float64)))
      True
    """
    dtype = tf.as_dtype(dtype)
    compute = tf.float32 if dtype in (tf.float16, tf.bfloat16) else dtype
    shape = tf.cast(tf.convert_to_tensor(shape, dtype_hint=tf.int32), tf.int32)
    count = tf.reduce_prod(shape)
    u = tf.reshape(_unit_uniform([2 * ((count + 1) // 2)], seed, compute), [-1, 2])
    radius = tf.sqrt(-2.0 * tf.math.log1p(-u[:, 0]))  # 1 - u lies in (0, 1]
    angle = (2.0 * np.pi) * u[:, 1]
    pairs = tf.stack([radius * tf.cos(angle), radius * tf.sin(angle)], axis=-1)
    return tf.cast(tf.reshape(tf.reshape(pairs, [-1])[:count], shape), dtype)
