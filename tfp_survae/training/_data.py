"""The data `fit`, `evaluate` and `predict` receive: the kinds accepted, empty data, the batch
layout, the values of in-memory arrays (checked before training, so that an error names the row
as the caller knows it), and the first batch (for a data-dependent initialisation)."""

from __future__ import annotations

import contextlib
import types
from typing import Any, Iterator

import keras
import numpy as np
import tensorflow as tf

from tfp_survae import _checks
from tfp_survae.training import _batches

KINDS = ("an array (or a dict of arrays with 'x' and 'condition'), a tf.data.Dataset, a "
         "keras.utils.PyDataset or a generator")

# Rows converted and scanned at a time when an array's values are checked (about 16 MB of
# float32 values), so the check never holds a second copy of a large array.
_CHUNK_ELEMENTS = 2**22


def is_array_data(x: Any) -> bool:
    """True for in-memory data: an array or tensor, or a dict or tuple of them."""
    return all(isinstance(v, (np.ndarray, tf.Tensor)) for v in tf.nest.flatten(x))


def check_data_argument(method: str, x: Any) -> None:
    """Refuses no data, empty data and a tuple layout before Keras sees them (`method` names
    the call in the messages, e.g. "Flow 'flow'.fit()")."""
    if x is None:
        raise ValueError(f"{method} needs data x; received None.")
    if isinstance(x, tf.data.Dataset):
        empty = int(x.cardinality()) == 0
        _batches.check_layout(method, x.element_spec)
    elif isinstance(x, keras.utils.PyDataset):
        empty = x.num_batches == 0
    elif isinstance(x, (np.ndarray, tf.Tensor, dict, tuple, list)):
        _batches.check_layout(method, x)
        empty = any(len(v) == 0 for v in tf.nest.flatten(x))
    else:
        return
    if empty:
        raise ValueError(f"{method} received no data (an empty array or dataset).")


def as_keras_data(method: str, x: Any) -> Any:
    """`x` as Keras takes it: a generator's batches (checked on the first) are yielded as
    1-tuples, which Keras requires of generators; a PyDataset's first batch is checked."""
    if isinstance(x, keras.utils.PyDataset) and x.num_batches != 0:
        _batches.check_layout(method, x[0])
    if not isinstance(x, types.GeneratorType):
        return x
    batch, x = first_batch(method, x)
    _batches.check_layout(method, batch)
    return (b if isinstance(b, tuple) else (b,) for b in x)


@contextlib.contextmanager
def floats_in(dtype: tf.DType | str) -> Iterator[None]:
    """Inside, Keras' data adapters (and the staging of in-memory data, which does as they do)
    cast float arrays to `dtype`, the flow's, instead of Keras' float type (`floatx`): a float64
    flow was trained and evaluated on float32-rounded data. Sets `floatx` for the process while
    inside, where it differs."""
    before, wanted = keras.config.floatx(), tf.as_dtype(dtype).name
    if wanted == before:
        yield
        return
    keras.config.set_floatx(wanted)
    try:
        yield
    finally:
        keras.config.set_floatx(before)


def check_shapes(flow: Any, method: str, x: Any, *, name: str = "data x") -> None:
    """The shapes of in-memory data, or of a dataset's elements, against the flow's event and
    condition shapes, before Keras batches or stages them, so that an error shows the shape
    as passed (a dataset of single examples is told to batch)."""
    if isinstance(x, tf.data.Dataset):
        data, condition = _batches.unpack_batch(x.element_spec)
        name = f"the elements of {name}" if name != "data x" else "the dataset's elements"
    elif is_array_data(x):
        data, condition = _batches.unpack_batch(x)
    else:
        return
    for value, event in ((data, flow.event_shape), (condition, flow.condition_shape)):
        if value is None or event is None or not hasattr(value, "shape"):
            continue
        event = tf.TensorShape(event)
        shape = tf.TensorShape(value.shape)
        single = shape.rank == event.rank and (shape.rank == 0 or shape[0] is not None)
        if isinstance(x, tf.data.Dataset) and single and shape.is_compatible_with(event):
            raise ValueError(
                f"{method}: {name} are single examples (shape {shape.as_list()}); a flow takes "
                "batches: pass dataset.batch(batch_size).")
        what = name if value is data else f"the condition of {name}"
        _checks.check_event_shape(method, what, tf.TensorSpec(shape), event)


def check_array_values(flow: Any, method: str, x: Any, *, name: str = "data x") -> None:
    """For in-memory data: the values of the whole array (NaN or Inf, integers out of range)
    and of its condition, if any (NaN or Inf), before any step, an error naming the row as
    passed (`name` says which argument: "data x", "validation_data"). Other data are checked
    batch by batch as they arrive. Shapes are checked first (`check_shapes`), also for
    datasets."""
    check_shapes(flow, method, x, name=name)
    if not is_array_data(x):
        return
    data, condition = _batches.unpack_batch(x)
    flow.check_data(data[:1])  # dtype and event shape
    num_values = getattr(flow.chain[0], "num_values", None) if flow.integer_data else None
    if not flow.integer_data:
        _check_rows(method, data, name, np.dtype(flow.dtype))
    elif num_values is not None:
        _check_rows(method, data, name, None, num_values)
    if condition is not None:
        flow.check_condition(condition[:1])  # dtype and event shape
        if len(condition) != len(data):
            raise ValueError(
                f"{method}: {name} has {len(data)} rows but its condition has "
                f"{len(condition)}; pass one condition row per example.")
        _check_rows(method, condition, "condition" if name == "data x" else
                    f"the condition of {name}", np.dtype(flow.dtype))


def _check_rows(method: str, data: Any, name: str, dtype: np.dtype | None,
                num_values: int | None = None) -> None:
    """Raises a ValueError naming the row of the first value of `data` that is not finite
    (`dtype` a float type) or not an integer in [0, num_values), scanning chunks of rows."""
    if num_values is None:
        problem = f"{name} contains NaN or Inf"
    else:
        problem = f"expected {name} as integers in [0, {num_values})"
    rows = max(1, _CHUNK_ELEMENTS // max(1, int(np.prod(data.shape[1:]))))
    for start in range(0, int(data.shape[0]), rows):
        if dtype is not None and isinstance(data, np.ndarray):
            _checks.check_range(method, name, data[start:start + rows], dtype, start)
        chunk = np.asarray(data[start:start + rows], dtype=dtype)
        if num_values is None:
            bad = np.argwhere(~np.isfinite(chunk))
        else:
            bad = np.argwhere((chunk < 0) | (chunk >= num_values))
        if len(bad):
            index = (start + int(bad[0][0]),) + tuple(int(i) for i in bad[0][1:])
            raise ValueError(
                f"{method}: {problem}; the first invalid value, {chunk[tuple(bad[0])]}, is at "
                f"row {index[0]} of the data passed (index {index})."
            )


def epoch_length(x: Any, batch_size: int | None = None) -> int | None:
    """The batches in an epoch over `x` as Keras batches it (arrays: of `batch_size` rows, 32
    by default), or None where unknown (generators, datasets of unknown or infinite
    cardinality)."""
    if isinstance(x, tf.data.Dataset):
        cardinality = int(x.cardinality())
        return cardinality if cardinality > 0 else None
    if isinstance(x, keras.utils.PyDataset):
        return x.num_batches
    if is_array_data(x):
        return -(-int(tf.nest.flatten(x)[0].shape[0]) // (batch_size or 32))
    return None


def first_batch(method: str, x: Any, batch_size: int | None = None) -> tuple[Any, Any]:
    """(the first batch of `x`, the data to pass on): a generator's first batch is put back in
    front of it, so no batch is lost. Raises a ValueError for a generator that yields nothing
    and a TypeError for a kind of data Keras does not take."""
    if isinstance(x, tf.data.Dataset):
        for batch in x.take(1):
            return batch, x
    elif isinstance(x, keras.utils.PyDataset):
        return x[0], x
    elif isinstance(x, types.GeneratorType):
        try:
            batch = next(x)
        except StopIteration:
            raise ValueError(f"{method} received a generator that yields no batch.") from None
        return batch, _put_back(batch, x)
    elif is_array_data(x):
        return tf.nest.map_structure(lambda v: v[: batch_size or 32], x), x
    elif hasattr(x, "__iter__") and iter(x) is not x:  # re-iterable, as a torch DataLoader
        for batch in x:
            return batch, x
    else:
        raise TypeError(f"{method} takes {KINDS}; received {type(x).__name__}.")
    raise ValueError(f"{method} received no data (an empty array or dataset).")


def _put_back(batch, generator):
    yield batch
    yield from generator


def refuse_weights(method: str, kwargs: dict) -> None:
    """A flow takes no sample or class weights (see `FitMixin.fit`)."""
    for name in ("sample_weight", "class_weight"):
        if kwargs.get(name) is not None:
            value = kwargs[name]
            shown = f"an array of shape {np.shape(value)}" if hasattr(value, "shape") \
                else f"{type(value).__name__}"
            raise ValueError(
                f"{method} takes no {name}; received {shown}. A flow fits the mean negative "
                "log-likelihood over its examples, and Keras passes no weights to a model "
                "without targets. To weight examples, resample them in proportion to their "
                "weights (e.g. x[rng.choice(len(x), len(x), p=w / w.sum())])."
            )
