"""Layer state that a forward pass changes in training (running statistics, data-dependent
initialisation, seed counters), and its deferral to the optimizer step.

Layers change such state through `assign`, read it through `read` and draw seeds through
`next_seed`. Outside `deferred()` these act at once, as `variable.assign` and
`SeedGenerator.next` do. Inside `deferred()` (the training step, `Flow.initialize`) an
assignment is only recorded: later reads in the same pass see the recorded value (gradients
reach the variable as if it held it), and the caller assigns the record with the optimizer's
update, under the same validity condition, or drops it. A step that is not applied then
changes no state of any layer.
"""

from __future__ import annotations

import contextlib
import threading

import tensorflow as tf

_LOCAL = threading.local()  # MirroredStrategy traces each replica's step in its own thread


class PendingUpdates:
    """Assignments recorded in `deferred()`, in order, one value per variable."""

    def __init__(self):
        self._updates = {}  # id(variable) -> (variable, value, initialization)

    def __len__(self) -> int:
        return len(self._updates)

    def record(self, variable, value, *, initialization: bool) -> None:
        self._updates[id(variable)] = (variable, value, initialization)

    def pending(self, variable):
        """The value recorded for `variable`, or None."""
        update = self._updates.get(id(variable))
        return None if update is None else update[1]

    def values(self, *, initialization_only: bool = False) -> list:
        """The recorded values (to pass through a strategy's merge_call), in order."""
        return [value for _, value, init in self._updates.values()
                if init or not initialization_only]

    def assign(self, values=None, *, initialization_only: bool = False) -> None:
        """Assigns the recorded values (or `values`, one per recorded update, in order)."""
        updates = [(variable, value) for variable, value, init in self._updates.values()
                   if init or not initialization_only]
        values = [value for _, value in updates] if values is None else values
        for (variable, _), value in zip(updates, values):
            variable.assign(value)


@contextlib.contextmanager
def deferred():
    """Records the layers' state assignments made inside instead of applying them; yields the
    `PendingUpdates`. Nested use yields the enclosing record."""
    outer = getattr(_LOCAL, "updates", None)
    if outer is not None:
        yield outer
        return
    _LOCAL.updates = PendingUpdates()
    try:
        yield _LOCAL.updates
    finally:
        _LOCAL.updates = None


def assign(variable, value, *, initialization: bool = False) -> None:
    """`variable.assign(value)`, or, inside `deferred()`, recorded for the caller to assign.

    `initialization` marks a data-dependent initialisation (`Flow.initialize` assigns only
    those)."""
    updates = getattr(_LOCAL, "updates", None)
    if updates is None:
        variable.assign(value)
    else:
        updates.record(variable, tf.convert_to_tensor(value, variable.dtype),
                       initialization=initialization)


def read(variable) -> tf.Tensor:
    """The variable's value, or the value recorded for it inside `deferred()`; gradients
    reach the variable as they would had the value been assigned to it."""
    updates = getattr(_LOCAL, "updates", None)
    value = None if updates is None else updates.pending(variable)
    current = tf.convert_to_tensor(variable)
    if value is None:
        return current
    return _as_if_assigned(current, value) if variable.trainable else value


@tf.custom_gradient
def _as_if_assigned(current, value):
    return tf.identity(value), lambda upstream: (upstream, tf.zeros_like(value))


def next_seed(generator) -> tf.Tensor:
    """`generator.next()` (a Keras `SeedGenerator`): its state, which then moves on by
    (0, 1), as Keras' ordered generator does; inside `deferred()` the move is recorded."""
    if getattr(_LOCAL, "updates", None) is None:
        return generator.next()
    state = read(generator.state)
    assign(generator.state, state + tf.constant([0, 1], state.dtype))
    return state
