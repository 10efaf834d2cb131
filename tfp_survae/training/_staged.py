"""In-memory data staged for compiled executions: `fit` on arrays, tensors or a dataset that
only batches tensors it holds (`from_tensor_slices(...).batch(...)`, cached, taken or
prefetched) hands the whole data to the compiled program once, with each epoch's order of rows,
and the program slices its batches itself: no tf.data pull per batch.

The batches are those Keras would make of the data: batches of `batch_size` rows in order (a
dataset's, or an array's with `shuffle=False`) or in a new permutation of the rows each epoch
(`shuffle=True`, drawn from NumPy's global generator, which `keras.utils.set_random_seed`
seeds), the last batch holding the rows left over (none with `drop_remainder`).
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from tfp_survae.training import _batches, _data, compiled

# The tf.data classes a dataset of in-memory batches is built from (TF 2.21 names): the
# transformations outside the batching, the batching, the transformations of its rows.
_OUTER = ("_TakeDataset", "CacheDataset", "_CacheDataset", "_PrefetchDataset")
_BATCH = "_BatchDataset"
_INNER = ("_TakeDataset", "CacheDataset", "_CacheDataset")
_SLICES = "_TensorSliceDataset"


class Staged:
    """Data in memory: `data` (a nest of [rows, ...] tensors, in the batch layout) trained on
    in batches of `batch_size` rows, in order or shuffled each epoch.

    Attributes:
      num_batches: batches per epoch (the last may be short).
      first_invalid: for a dataset (whose batches are checked as they train), the first
        invalid row as (row, `compiled.InvalidBatch` of it at batch 0), or None.
    """

    def __init__(self, data, batch_size: int, shuffle: bool):
        self.data = data
        self.rows = int(tf.nest.flatten(data)[0].shape[0])
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.num_batches = -(-self.rows // batch_size)
        self.first_invalid: tuple[int, Exception] | None = None
        self._in_order = tf.range(self.rows, dtype=tf.int32)

    def epoch_order(self) -> tf.Tensor:
        """The rows in the order of a new epoch."""
        if not self.shuffle:
            return self._in_order
        return tf.constant(np.random.permutation(self.rows).astype(np.int32))

    def stand_in(self) -> tf.data.Dataset:
        """What Keras' loop iterates instead of the data: one cheap element per batch, which
        sets the epoch's length; the compiled function never pulls it."""
        return tf.data.Dataset.range(self.num_batches)


def stage(x, batch_size, shuffle) -> Staged | None:
    """`x` staged for `fit` (`batch_size` and `shuffle` as `fit` received them), or None for
    data that stream (generators, PyDatasets, datasets that map, shuffle or repeat) and for
    `shuffle="batch"`."""
    if isinstance(x, tf.data.Dataset):
        return _from_dataset(x)
    if not _data.is_array_data(x) or shuffle not in (True, False):
        return None
    if isinstance(x, (tuple, list)):
        x = x[0]
    return Staged(tf.nest.map_structure(_as_tensor, x), batch_size or 32, bool(shuffle))


def split(x, validation_split: float):
    """(training, validation) arrays as Keras' `validation_split` makes them (the last
    rows validate), or None for other data and a split that leaves either part empty (Keras
    then refuses it)."""
    if not _data.is_array_data(x):
        return None
    rows = int(tf.nest.flatten(x)[0].shape[0])
    at = int(math.floor(rows * (1.0 - validation_split)))
    if at in (0, rows):
        return None
    return (tf.nest.map_structure(lambda a: a[:at], x),
            tf.nest.map_structure(lambda a: a[at:], x))


def _as_tensor(array) -> tf.Tensor:
    """An array as Keras stages it: floats in Keras' float type."""
    tensor = tf.convert_to_tensor(array)
    if tensor.dtype.is_floating and tensor.dtype != keras.config.floatx():
        tensor = tf.cast(tensor, keras.config.floatx())
    return tensor


def _from_dataset(dataset: tf.data.Dataset) -> Staged | None:
    """A dataset that batches tensors it holds, staged; None for any other dataset."""
    batches = rows = None  # the limits of takes outside and inside the batching
    node = dataset
    while type(node).__name__ in _OUTER:
        if type(node).__name__ == "_TakeDataset":
            batches = _limit(batches, int(node._count))
        node = node._input_dataset
    if type(node).__name__ != _BATCH:
        return None
    batch_size, drop_remainder = int(node._batch_size), bool(node._drop_remainder)
    node = node._input_dataset
    while type(node).__name__ in _INNER:
        if type(node).__name__ == "_TakeDataset":
            rows = _limit(rows, int(node._count))
        node = node._input_dataset
    if type(node).__name__ != _SLICES:
        return None
    data = tf.nest.pack_sequence_as(node._structure, node._tensors)
    total = int(tf.nest.flatten(data)[0].shape[0])
    used = total if rows is None else min(rows, total)
    full = used // batch_size
    count = full if drop_remainder else -(-used // batch_size)
    if batches is not None:
        count = min(count, batches)
    used = min(used, count * batch_size)
    if used == 0:
        return None
    return Staged(tf.nest.map_structure(lambda t: t[:used], data), batch_size, False)


def _limit(limit, count: int):
    """The tighter of a take's `count` (-1: all) and an earlier `limit` (None: none)."""
    if count < 0:
        return limit
    return count if limit is None else min(limit, count)


def check_dataset_values(flow, staged: Staged) -> None:
    """A staged dataset's dtype and event shape (a ValueError), and its first invalid value
    (of x or its condition), kept in `staged.first_invalid` so that its batch fails when it
    comes, after the batches before it trained, as a dataset's batches do."""
    x, condition = _batches.unpack_batch(staged.data)
    flow.check_data(x[:1])
    if condition is not None:
        flow.check_condition(condition[:1])
        condition = condition[None]
    else:
        condition = None
    num_values = getattr(flow.chain[0], "num_values", None) if flow.integer_data else None
    invalid = compiled.first_invalid(flow, x[None], num_values, condition)
    if invalid is not None:
        row = invalid.index[0]
        invalid.index = (row % staged.batch_size,) + invalid.index[1:]
        staged.first_invalid = (row, invalid)
