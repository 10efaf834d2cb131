"""The batch layout `fit`, `evaluate` and the distributed loop accept: x alone, (x,), or a dict
{"x": x, "condition": condition} (a dict with one value is x)."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

_KEYS = ("x", "condition")


def check_layout(where: str, data: Any) -> None:
    """Raises a ValueError for a batch (or an element spec) of another layout: a tuple of more
    than one element, which Keras reads as (x, y, sample_weight), or a dict with other keys."""
    if isinstance(data, (tuple, list)) and len(data) == 1:
        data = data[0]
    if isinstance(data, list):
        raise ValueError(
            f"{where}: a batch is x alone or a dict {{'x': x, 'condition': condition}}; "
            f"received a list of {len(data)} elements, which Keras reads as that many inputs: "
            "pass the data as an array, e.g. np.asarray(x, dtype='float32')."
        )
    if isinstance(data, tuple):
        raise ValueError(
            f"{where}: a batch is x alone or a dict {{'x': x, 'condition': condition}}; "
            f"received a tuple of {len(data)} elements. Keras reads a tuple as "
            "(x, y, sample_weight) and a flow has no y: pass a conditional flow's data as a "
            "dict, e.g. {'x': x, 'condition': c} or dataset.map(lambda x, c: {'x': x, "
            "'condition': c})."
        )
    if isinstance(data, dict) and len(data) > 1 and ("x" not in data or set(data) - set(_KEYS)):
        raise ValueError(
            f"{where}: a batch dict has the keys 'x' and (for a conditional flow) "
            f"'condition'; received the keys {sorted(data)}."
        )


def unpack_batch(data: Any) -> tuple[Any, Any]:
    """A batch as (x, condition), after `check_layout`."""
    check_layout("A flow's batch", data)
    if isinstance(data, (tuple, list)):
        data = data[0]
    if isinstance(data, dict):
        x = data["x"] if "x" in data else next(iter(data.values()))
        return x, data.get("condition")
    return data, None


def batch_size(data: Any) -> tf.Tensor:
    """The number of examples in a batch."""
    return tf.shape(unpack_batch(data)[0])[0]
