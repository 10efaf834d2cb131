"""The batch layout `fit`, `evaluate` and the distributed loop accept."""

from __future__ import annotations

import tensorflow as tf


def unpack_batch(data):
    """A batch as (x, condition): x alone, (x,), or a dict with "x" (or one value) and an
    optional "condition"."""
    if isinstance(data, (tuple, list)):
        data = data[0]
    if isinstance(data, dict):
        x = data["x"] if "x" in data else next(iter(data.values()))
        return x, data.get("condition")
    return data, None


def batch_size(data) -> tf.Tensor:
    """The number of examples in a batch."""
    return tf.shape(unpack_batch(data)[0])[0]
