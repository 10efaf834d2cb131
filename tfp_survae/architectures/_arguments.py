"""The builders' shared argument checks, and the standardization they can put first."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfp_survae import _checks
from tfp_survae.transforms import RationalQuadraticMap, Standardize


def check_name(owner: str, name) -> None:
    if name is not None and not isinstance(name, str):
        raise TypeError(f"{owner}: name must be a string or None; received "
                        f"{type(name).__name__}: {name!r}.")


def check_condition_size(owner: str, condition_size) -> list[int] | None:
    """The condition_shape [C] of `condition_size` (None: unconditional)."""
    if condition_size is None:
        return None
    return [_checks.check_integer(owner, "condition_size", condition_size, minimum=1)]


def check_vector_flow(owner: str, event_size, num_layers, hidden_units, condition_size, name,
                      *, minimum_size: int = 1):
    """The vector builders' shared arguments: (event_size, num_layers, hidden_units,
    condition_shape)."""
    event_size = _checks.check_integer(owner, "event_size", event_size, minimum=minimum_size)
    num_layers = _checks.check_integer(owner, "num_layers", num_layers, minimum=1)
    hidden_units = _checks.check_units(owner, "hidden_units", hidden_units, allow_empty=False)
    condition_shape = check_condition_size(owner, condition_size)
    check_name(owner, name)
    return event_size, num_layers, hidden_units, condition_shape


def spline_map(owner: str, num_bins, bound) -> RationalQuadraticMap:
    try:
        return RationalQuadraticMap(num_bins=num_bins, bound=bound)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{owner}: {error}") from None


def standardization(owner: str, standardize, event, dtype) -> list:
    """The transforms `standardize=` puts first: none (False), a `Standardize` to adapt before
    training (True), or one adapted on the data given (an array [N] + event or a
    tf.data.Dataset of batches). `event` is the event size (vectors) or shape."""
    event = [event] if isinstance(event, int) else list(event)
    if isinstance(standardize, (bool, np.bool_)):
        return [Standardize(dtype=dtype)] if standardize else []
    if not isinstance(standardize, (np.ndarray, tf.Tensor, tf.data.Dataset, list, tuple)):
        raise TypeError(
            f"{owner}: standardize must be True (adapt the flow's first layer before training), "
            f"False, or the training data (an array [N, {', '.join(map(str, event))}] or a "
            "tf.data.Dataset of batches) to adapt on; received "
            f"{type(standardize).__name__}: {standardize!r}.")
    layer = Standardize(dtype=dtype)
    layer.build((None, *event))
    try:
        layer.adapt(standardize)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{owner}: standardize: {error}") from None
    return [layer]
