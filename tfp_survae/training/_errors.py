"""Errors from inside `fit` and `evaluate`, said where they happened: a callback that follows
the epoch and batch, and the translation of the data checks' errors into ValueErrors."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, Sequence

import keras
import tensorflow as tf

from tfp_survae.training.compiled import InvalidBatch

# Errors raised by the data checks inside compiled functions carry this tag.
ERROR_TAG = "[tfp_survae]"


def check_message(message: str) -> str:
    """The text of a tfp_survae check op from TensorFlow's error `message` (which holds
    ERROR_TAG): TensorFlow prints an Assert's message and data as "[message:] [d1] [d2]",
    with quotes escaped; this gives "message: [d1] [d2]", without a final full stop."""
    first = message[message.index(ERROR_TAG) + len(ERROR_TAG):].split("\n")[0].strip()
    if ":] [" in first:
        head, _, data = first.partition(":] [")
        first = f"{head}: [{data}"
    else:
        first = first.removesuffix("]")
    first = first.split(" : Tensor had ")[0]  # CheckNumerics' own words after ours
    return first.replace("\\'", "'").replace('\\"', '"').rstrip(".")


class Position(keras.callbacks.Callback):
    """Follows where `fit` or `evaluate` is: the epoch, whether it validates, and the first
    batch of the execution running (Keras announces each execution by its first batch)."""

    def __init__(self, method: str):
        super().__init__()
        self.method = method  # the call it follows ("Flow 'flow'.fit()")
        self.epoch: int | None = None
        self.batch, self.validating = 0, False

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch, self.validating = epoch, False

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.batch = batch

    def on_test_begin(self, logs: dict | None = None) -> None:
        self.validating, self.batch = self.epoch is not None, 0

    def on_test_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.batch = batch

    def on_predict_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.batch = batch

    def on_test_end(self, logs: dict | None = None) -> None:
        self.validating = False

    def where(self, batch: int | None = None) -> str:
        """'epoch 2, batch 7' (batch: this execution's first plus `batch`); without `batch`,
        the batches of the execution."""
        # The epoch's (or evaluate's) batches, None where unknown; a validation's are not fit's.
        last = last_batch_of_execution(self.model, self.batch,
                                       None if self.validating else self.params)
        batches = f"batch {self.batch + batch}" if batch is not None else (
            f"batch {self.batch}" if last <= self.batch else
            f"one of batches {self.batch}-{last}")
        batches += " (counting from 0)"
        if self.validating and self.epoch is not None:  # fit validates at an epoch's end
            return f"{batches} of the validation at the end of epoch {self.epoch + 1}"
        return f"epoch {self.epoch + 1}, {batches}" if self.epoch is not None else batches


def last_batch_of_execution(model: Any, first: int, params: dict | None) -> int:
    """The last batch (counting from 0) of `model`'s execution that starts at batch `first`:
    `steps_per_execution` batches on, but not past the epoch's last (`params["steps"]`, the
    callbacks' parameters; None or no "steps" where unknown)."""
    last = first + (getattr(model, "steps_per_execution", 1) or 1) - 1
    epoch_steps = (params or {}).get("steps")
    return min(last, int(epoch_steps) - 1) if epoch_steps else last


def with_position(method: str, callbacks: Any) -> tuple[Any, Position]:
    """(callbacks, the `Position` among them): a new one for `method` added to a list, or, in
    the CallbackList `fit` hands its validation, fit's own."""
    if isinstance(callbacks, keras.callbacks.CallbackList):
        found = [c for c in callbacks.callbacks if isinstance(c, Position)]
        return callbacks, found[0] if found else Position(method)
    position = Position(method)
    return list(callbacks or []) + [position], position


@contextlib.contextmanager
def as_value_errors(position: Position, on_error: Callable[[], Any]) -> Iterator[None]:
    """Turns the data checks' errors from compiled functions into ValueErrors naming the
    call, epoch, batch and row (`position`); calls `on_error()` for any exception."""
    try:
        yield
    except InvalidBatch as error:
        on_error()
        done = "evaluated" if position.validating or position.epoch is None else "trained on"
        data = error.argument
        if position.validating:
            data = "validation_data" if data == "data x" else f"the {data} of validation_data"
        raise ValueError(f"{position.method}: {error.said_at(position.where(error.batch), data)}"
                         f" The batches before it were {done}.") from None
    except tf.errors.InvalidArgumentError as error:
        on_error()
        message = error.message
        if ERROR_TAG not in message:
            raise
        raise ValueError(f"{check_message(message)} (in {position.where()}).") from None
    except BaseException:
        on_error()
        raise
