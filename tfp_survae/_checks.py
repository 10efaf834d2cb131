"""Argument and value checks shared by transforms, distributions and flows: dtypes, event
shapes, counts, NaN / Inf and integer ranges, each a ValueError or TypeError naming what was
received and what was expected."""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator, Sequence

import numpy as np
import tensorflow as tf
from tensorflow.python.ops import control_flow_util

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def in_xla_program() -> bool:
    """True while tracing code that XLA compiles: a `tf.function(jit_compile=True)` (Keras'
    `jit_compile`, the compiled endpoints, compiled executions), or anything it calls.

    XLA compiles check ops away (and warns "Ignoring Assert operator" once per op), so inside
    such a program no check op is emitted: the checks that matter run before it (the
    endpoints' and compiled executions' own), and `log_prob` turns invalid examples into NaN.
    The test is TensorFlow's own (`tf.function` enters an XLA control-flow context while it
    traces a function to compile; `TensorArray` and `while_loop` read it the same way).
    """
    if tf.executing_eagerly():
        return False
    return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


_MODE = threading.local()


@contextlib.contextmanager
def invalid_as_nan() -> Iterator[None]:
    """Inside (while running or tracing), the layers raise no error and emit no check op for
    values they cannot compute: a network's input beyond its dtype's range gives NaN for that
    example, and a NaN or Inf result is returned as it is. For callers that reject a NaN
    result themselves, as HMC rejects a proposal whose log-density is NaN (`FlowBijector`)."""
    before = getattr(_MODE, "invalid_as_nan", False)
    _MODE.invalid_as_nan = True
    try:
        yield
    finally:
        _MODE.invalid_as_nan = before


def invalid_gives_nan() -> bool:
    """True inside `invalid_as_nan()`."""
    return getattr(_MODE, "invalid_as_nan", False)


def guarded(tensor: tf.Tensor, ok: tf.Tensor, message: str, *data: Any) -> tf.Tensor:
    """`tensor` after an in-graph check that the boolean `ok` holds (an InvalidArgumentError
    carrying `message` and `data`); `tensor` itself inside an XLA program (`in_xla_program`)
    or `invalid_as_nan()`."""
    if in_xla_program() or invalid_gives_nan():
        return tensor
    check = tf.debugging.Assert(ok, [f"[tfp_survae] {message}", *data])
    with tf.control_dependencies([check]):
        return tf.identity(tensor)


def same_rows(tensor: tf.Tensor, rows: tf.Tensor, message: str, *data: Any) -> tf.Tensor:
    """`tensor` after checking that it has `rows` rows: `require`'s check (a ValueError eagerly,
    an in-graph check in a graph), and inside an XLA program, where no check op runs but every
    shape is fixed when XLA compiles, a reshape to `rows` rows, so that XLA refuses to compile
    a call whose rows differ (naming this op) instead of broadcasting one row to all."""
    if in_xla_program():
        shape = tf.concat([tf.reshape(tf.cast(rows, tf.int32), [1]), tf.shape(tensor)[1:]], 0)
        return tf.reshape(tensor, shape, name="tfp_survae_rows_must_match")
    return require(tensor, tf.equal(tf.shape(tensor)[0], tf.cast(rows, tf.int32)), message,
                   *data)


def require(tensor: tf.Tensor, ok: tf.Tensor, message: str, *data: Any) -> tf.Tensor:
    """`tensor` where the boolean `ok` holds: eagerly a ValueError carrying `message` and the
    values of `data` otherwise; in a graph, `guarded`'s in-graph check."""
    if not tf.executing_eagerly():
        return guarded(tensor, ok, message, *data)
    if not bool(ok):
        shown = " ".join(str(np.asarray(d).tolist()) if isinstance(d, (tf.Tensor, np.ndarray))
                         else str(d) for d in data)
        raise ValueError(f"{message} {shown}".rstrip() + ".")
    return tensor


def nan_where_invalid(values: tf.Tensor, *tensors: tf.Tensor) -> tf.Tensor:
    """`values` ([batch]) with NaN for the examples where one of `tensors` ([batch, ...]; None
    skipped; integer tensors ignored) holds NaN or Inf: the result a caller cannot mistake for a
    density where no check op can run (XLA)."""
    valid = None
    for t in tensors:
        if t is None or not t.dtype.is_floating:
            continue
        rows = tf.reduce_all(tf.reshape(tf.math.is_finite(t), [tf.shape(t)[0], -1]), axis=-1)
        valid = rows if valid is None else tf.logical_and(valid, rows)
    if valid is None:
        return values
    return tf.where(valid, values, tf.constant(float("nan"), values.dtype))


def is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_count(owner: str, what: str, value: Any, *, minimum: int, maximum: int = INT32_MAX,
                hint: str = "") -> Any:
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
            return guarded(value, tf.logical_and(wide >= minimum, wide <= maximum),
                           f"{owner}: {what} must lie in [{minimum}, {maximum}]{hint}; received",
                           wide)
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


def check_integer(owner: str, what: str, value: Any, *, minimum: int) -> int:
    """A constructor's integer argument (a Python or NumPy integer, not a bool) of at least
    `minimum`, returned as an int; a TypeError or ValueError naming it otherwise."""
    if not is_int(value):
        raise TypeError(f"{owner}: {what} must be an integer >= {minimum}; received "
                        f"{type(value).__name__}: {value!r}.")
    if int(value) < minimum:
        raise ValueError(f"{owner}: {what} must be an integer >= {minimum}; received {value!r}.")
    return int(value)


def check_real(owner: str, what: str, value: Any, *, low: float = -np.inf, high: float = np.inf,
               closed: str = "neither") -> float:
    """A constructor's real argument (a Python or NumPy number, not a bool), finite and in the
    interval from `low` to `high` (`closed`: "neither", "low", "high" or "both" of its ends
    included), returned as a float; a TypeError or ValueError naming it otherwise."""
    left = "[" if closed in ("low", "both") else "("
    right = "]" if closed in ("high", "both") else ")"
    interval = f"{left}{low:g}, {high:g}{right}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                      np.floating)):
        raise TypeError(f"{owner}: {what} must be a real number in {interval}; received "
                        f"{type(value).__name__}: {value!r}.")
    number = float(value)
    above = number >= low if left == "[" else number > low
    below = number <= high if right == "]" else number < high
    if not (np.isfinite(number) and above and below):
        raise ValueError(f"{owner}: {what} must be a real number in {interval}; received "
                         f"{value!r}.")
    return number


def check_flag(owner: str, what: str, value: Any) -> bool:
    """A constructor's boolean argument (True or False, not a truthy object)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {what} must be True or False; received "
                        f"{type(value).__name__}: {value!r}.")
    return bool(value)


def check_units(owner: str, what: str, value: Any, *, allow_empty: bool = True) -> list[int]:
    """Layer widths (`hidden_units`): a list or tuple of integers >= 1, returned as a list."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, np.ndarray)):
        raise TypeError(f"{owner}: {what} must be a list of layer widths (integers >= 1); "
                        f"received {type(value).__name__}: {value!r}.")
    if not allow_empty and len(value) == 0:
        raise ValueError(f"{owner}: {what} must hold at least one layer width; received "
                         f"{list(value)!r}.")
    for unit in value:
        if not is_int(unit) or int(unit) < 1:
            raise ValueError(f"{owner}: {what} must hold layer widths that are integers >= 1; "
                             f"received {list(value)!r}.")
    return [int(unit) for unit in value]


def check_shape(owner: str, what: str, value: Any) -> list[int]:
    """An event shape argument (`condition_shape`): a non-empty list or tuple of integers
    >= 1, returned as a list."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, tf.TensorShape)):
        raise TypeError(f"{owner}: {what} must be an event shape, a list of integers >= 1; "
                        f"received {type(value).__name__}: {value!r}.")
    dims = list(value.as_list() if isinstance(value, tf.TensorShape) else value)
    if not dims or not all(is_int(d) and int(d) >= 1 for d in dims):
        raise ValueError(f"{owner}: {what} must be a non-empty list of integers >= 1; "
                         f"received {dims!r}.")
    return [int(d) for d in dims]


def layer_condition(owner: str, condition: Any, condition_shape: Sequence[int] | None,
                    expected: tf.TensorShape | None = None,
                    layout: str = "the batch, then condition_shape") -> tf.Tensor | None:
    """The condition a layer reads, checked against its `condition_shape`: None for a layer
    that reads none (refusing a given one), else the tensor, of static shape compatible with
    `expected` (default [batch] + condition_shape; `layout` says what its axes are).

    Raises:
      ValueError: a condition given to a layer without condition_shape, none given to one
        with it, or one of another shape.
    """
    if condition_shape is None:
        if condition is not None:
            raise ValueError(
                f"{owner} was built without condition_shape, so it takes no condition; received "
                f"one of shape {list(getattr(condition, 'shape', []))}. Pass condition_shape= "
                "to make it conditional.")
        return None
    if condition is None:
        raise ValueError(f"{owner} is conditional (condition_shape={list(condition_shape)}); "
                         "pass condition= with shape [batch] + condition_shape.")
    condition = tf.convert_to_tensor(condition)
    if expected is None:
        expected = tf.TensorShape([None] + list(condition_shape))
    if not condition.shape.is_compatible_with(expected):
        raise ValueError(f"{owner}: expected condition of shape {expected.as_list()} ({layout}); "
                         f"received shape {condition.shape.as_list()}.")
    return condition


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


def as_float(owner: str, what: str, x: Any, dtype: tf.DType) -> tf.Tensor:
    """Converts `x` to the float `dtype`, refusing integer or boolean tensors."""
    def hint(received: str) -> str:
        if received == "bool" or not what.startswith("data"):
            return f" Cast the {what} to {tf.as_dtype(dtype).name}."
        return " Integer data goes through a dequantization layer first."

    if isinstance(x, tf.Tensor | tf.Variable):
        if not x.dtype.is_floating:
            raise ValueError(
                f"{owner}: expected {what} as a floating-point tensor; received dtype "
                f"{x.dtype.name}.{hint(x.dtype.name)}"
            )
        if x.dtype == dtype:
            return x
        if tf.executing_eagerly():
            check_range(owner, what, x.numpy(), dtype)
        return tf.cast(x, dtype)
    array = np.asarray(x)
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(
            f"{owner}: expected {what} as floating-point values; received dtype "
            f"{array.dtype}.{hint(array.dtype.name)}"
        )
    check_range(owner, what, array, dtype)
    return tf.convert_to_tensor(array, dtype=dtype)


def check_range(owner: str, what: str, array: np.ndarray, dtype: tf.DType | str,
                offset: int = 0) -> None:
    """Raises a ValueError where a finite value of `array` lies beyond the range of the float
    `dtype` it is cast to (it would become Inf, and be reported as Inf); `offset` is the row
    of the data that `array` starts at, for the index in the message."""
    limit = tf.as_dtype(dtype).max
    if array.dtype.itemsize <= tf.as_dtype(dtype).size:
        return
    beyond = np.argwhere(np.isfinite(array) & (np.abs(array) > limit))
    if len(beyond):
        index = tuple(int(i) for i in beyond[0])
        value = array[index]
        if index:
            index = (index[0] + offset,) + index[1:]
        raise ValueError(
            f"{owner}: {what} holds {value} (at index {index}), beyond the range of "
            f"{tf.as_dtype(dtype).name} (+-{limit:.4g}), the flow's dtype; scale the data.")


def as_integer(owner: str, what: str, x: Any) -> tf.Tensor:
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


def check_values(owner: str, what: str, x: tf.Tensor, event_shape: Any, *, finite: bool = True,
                 nonempty: bool = True) -> tf.Tensor:
    """The one data check used by `Flow` and by every transform's public methods: x must be
    [batch] + `event_shape`, with `nonempty` a batch of at least one (static checks), and, with
    `finite`, hold no NaN or Inf (a ValueError eagerly; a check op in graphs, which `fit`,
    `evaluate` and `predict` report as a ValueError; none inside an XLA program, see
    `in_xla_program`). Where x's event dimensions are known only when a graph runs, they are
    checked there and set statically after (the layers read them). Returns x."""
    check_event_shape(owner, what, x, event_shape)
    x = _with_event_shape(owner, what, x, tf.TensorShape(event_shape))
    if nonempty and x.shape.rank and x.shape[0] == 0:
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
    if in_xla_program():
        return x
    return tf.debugging.assert_all_finite(x, f"[tfp_survae] {owner}: {what} contains NaN or Inf")


def _with_event_shape(owner: str, what: str, x: tf.Tensor, event: tf.TensorShape) -> tf.Tensor:
    """x after an in-graph check that it is [batch] + `event`, with that static shape set;
    x itself where the static shape already shows it (or `event` is not fully known)."""
    if not event.is_fully_defined() or (x.shape.rank is not None
                                        and x.shape[1:].is_fully_defined()):
        return x
    if in_xla_program():  # no check op runs there; XLA checks this shape when it compiles
        return tf.ensure_shape(x, [None] + event.as_list(), name="tfp_survae_event_shape")
    shape = tf.shape(x)
    x = guarded(x, is_batch_of(shape, event.as_list()),
                f"{owner}: expected {what} of shape [batch] + {event.as_list()}; "
                "received shape:", shape)
    x.set_shape([None] + event.as_list())
    return x


def is_batch_of(shape: tf.Tensor, event: list) -> tf.Tensor:
    """In-graph: whether the shape tensor `shape` is [batch] + `event` (any rank)."""
    rank = len(event) + 1
    padded = tf.concat([shape, tf.fill([rank], -1)], axis=0)[1:rank]
    return tf.logical_and(tf.equal(tf.size(shape), rank),
                          tf.reduce_all(tf.equal(padded, tf.constant(event, tf.int32))))


def check_trailing(owner: str, what: str, value: tf.Tensor, event: tf.TensorShape,
                   label: str) -> tf.Tensor:
    """`value` after checking that its trailing dimensions are `event` (`label` names it:
    "the event shape", "condition_shape"): a ValueError where the static shape shows they are
    not, an in-graph check where they are known only when the graph runs (so a value is never
    broadcast or reshaped into the event shape instead)."""
    rank = value.shape.rank
    message = f"{owner}: expected {what} whose trailing dimensions are {label} {event.as_list()}"
    if rank is not None and (rank < event.rank or not value.shape[rank - event.rank:]
                             .is_compatible_with(event)):
        raise ValueError(f"{message}; received shape {value.shape.as_list()}.")
    if rank is not None and in_xla_program():  # XLA checks this shape when it compiles
        return tf.ensure_shape(value, [None] * (rank - event.rank) + event.as_list(),
                               name="tfp_survae_trailing_shape")
    if rank is None or not value.shape[rank - event.rank:].is_fully_defined():
        shape = tf.shape(value)
        trailing = shape[tf.maximum(tf.size(shape) - event.rank, 0):]
        value = guarded(value, tf.logical_and(tf.size(shape) >= event.rank, tf.reduce_all(
            tf.equal(tf.pad(trailing, [[event.rank - tf.size(trailing), 0]]), event.as_list()))),
            f"{message}; received shape:", shape)
    return value


def view_condition(owner: str, condition: Any, condition_shape: Sequence[int] | None,
                   leading: tf.Tensor, static_leading: tf.TensorShape, dtype: tf.DType, *,
                   draws: bool = False) -> tuple[tf.Tensor | None, tf.Tensor]:
    """The condition of a TFP view of a flow (`TransformedDistribution`, `FlowBijector`), one
    row per value. Its trailing dimensions are `condition_shape`; its leading ones broadcast
    against the value's (`leading`, statically `static_leading`) as TFP broadcasts a batch,
    or, with `draws`, to the sample shape of `sample` (one row per draw, or one for all).

    Returns:
      (the condition broadcast and flattened to [-1] + condition_shape, then checked for NaN
      or Inf; the leading shape the value broadcasts to). (None, `leading`) for a view of a
      flow whose transforms read no condition.

    Raises:
      ValueError: a condition given to an unconditional view or none to a conditional one;
        one of another dtype or trailing shape, or whose leading shape does not broadcast
        (in a graph, an InvalidArgumentError with the same message when the shapes are
        known only then).
    """
    if condition_shape is None:
        if condition is not None:
            raise ValueError(f"{owner} takes no condition (no transform of its flow reads one); "
                             f"received one of shape {list(np.shape(condition))}.")
        return None, leading
    event = tf.TensorShape(condition_shape)
    if condition is None:
        raise ValueError(f"{owner} views a conditional flow (condition_shape="
                         f"{event.as_list()}); pass condition= with one row per value: shape "
                         "[...] + condition_shape.")
    c = check_trailing(owner, "a condition", as_float(owner, "condition", condition, dtype),
                       event, "condition_shape")
    rank = c.shape.rank
    rows = tf.shape(c)[:tf.rank(c) - event.rank]
    static_rows = c.shape[:rank - event.rank] if rank is not None else tf.TensorShape(None)
    message = (f"{owner}: the condition's leading shape does not broadcast "
               f"{'to the sample shape' if draws else 'against the leading shape of the value'}"
               f"; pass one condition row per {'draw' if draws else 'value'} (or one for all)")
    if static_rows.rank is not None and static_leading.rank is not None:
        _check_broadcast(message, static_rows, static_leading, draws)
        if (not draws and static_rows.num_elements() == 0
                and (static_leading.num_elements() or 0) > 0):
            raise ValueError(f"{owner}: the condition's leading shape {static_rows.as_list()} "
                             "holds no row, so it broadcasts the value's leading shape "
                             f"{static_leading.as_list()} to an empty batch; pass one condition "
                             "row per value (or one for all).")
    c = guarded(c, _broadcasts(rows, leading, draws),
                message + f". Condition rows, {'sample shape' if draws else 'value rows'}:",
                rows, leading)
    rows = tf.shape(c)[:tf.rank(c) - event.rank]  # after the checks
    if not draws:
        leading = tf.broadcast_dynamic_shape(rows, leading)
    # The leading axes alone broadcast: the trailing ones are the condition's own.
    c = tf.broadcast_to(c, tf.concat([leading, tf.shape(c)[tf.rank(c) - event.rank:]], axis=0))
    flat = check_values(owner, "condition", tf.reshape(c, [-1] + event.as_list()), event,
                        nonempty=False)
    return flat, leading


def value_and_condition(owner: str, value: tf.Tensor, event: tf.TensorShape, leading: tf.Tensor,
                        condition: Any, condition_shape: Sequence[int] | None,
                        dtype: tf.DType) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor | None]:
    """A view's value ([leading] + `event`) and its condition broadcast against each other
    (`view_condition`): (the value, their leading shape, the flattened condition or None)."""
    static = value.shape[:value.shape.rank - event.rank] if value.shape.rank is not None \
        else tf.TensorShape(None)
    condition, leading = view_condition(owner, condition, condition_shape, leading, static, dtype)
    if condition is not None:
        value = tf.broadcast_to(value, tf.concat([leading, event.as_list()], axis=0))
    return value, leading, condition


def _check_broadcast(message: str, rows: tf.TensorShape, leading: tf.TensorShape,
                     draws: bool) -> None:
    """Raises the ValueError `message` where the static shapes show that `rows` does not
    broadcast against `leading` (with `draws`: to `leading`, adding no dimension)."""
    ok = not (draws and rows.rank > leading.rank)
    for a, b in zip(reversed(rows.as_list()), reversed(leading.as_list())):
        if a is not None and b is not None and a != b and a != 1 and (draws or b != 1):
            ok = False
    if not ok:
        against = "a sample shape of" if draws else "a value of leading shape"
        raise ValueError(f"{message}: received a condition of leading shape {rows.as_list()} "
                         f"for {against} {leading.as_list()}.")


def _broadcasts(rows: tf.Tensor, leading: tf.Tensor, draws: bool) -> tf.Tensor:
    """In-graph: whether the shape `rows` broadcasts against the shape `leading` (with
    `draws`, to it, adding no dimension); ranks may be known only in the graph."""
    rows, leading = tf.cast(rows, tf.int32), tf.cast(leading, tf.int32)
    size = tf.maximum(tf.size(rows), tf.size(leading))
    a = tf.concat([tf.ones([size - tf.size(rows)], tf.int32), rows], 0)
    b = tf.concat([tf.ones([size - tf.size(leading)], tf.int32), leading], 0)
    ok = tf.logical_or(tf.equal(a, b), tf.equal(a, 1))
    if draws:
        return tf.logical_and(tf.reduce_all(ok), tf.size(rows) <= tf.size(leading))
    return tf.reduce_all(tf.logical_or(ok, tf.equal(b, 1)))


def check_in_range(owner: str, x: tf.Tensor, num_values: int) -> None:
    """Eagerly: raises a ValueError unless the integers x lie in [0, num_values)."""
    low, high = int(tf.reduce_min(x)), int(tf.reduce_max(x))
    if low < 0 or high >= num_values:
        raise ValueError(
            f"{owner}: expected data x as integers in [0, {num_values}) (num_values="
            f"{num_values}); received values from {low} to {high}."
        )


def assert_in_range(owner: str, x: tf.Tensor, num_values: int) -> tf.Tensor:
    """Graph-mode check that integer `x` lies in [0, num_values); returns x (x itself inside an
    XLA program, see `in_xla_program`)."""
    wide = tf.cast(x, tf.int64)
    return guarded(x, tf.logical_and(tf.reduce_all(wide >= 0), tf.reduce_all(wide < num_values)),
                   f"{owner}: expected data x as integers in [0, {num_values}) (num_values="
                   f"{num_values}); received values from", tf.reduce_min(wide), "to",
                   tf.reduce_max(wide))
