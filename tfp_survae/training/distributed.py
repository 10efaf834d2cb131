"""A distributed training loop for flows: any tf.distribute strategy, multi-worker included.

Keras `fit` works under `MirroredStrategy` (one machine, several devices); under
`MultiWorkerMirroredStrategy` Keras 3's `fit` fails (keras-team/keras#20585), so this loop
(`strategy.run` over `distribute_datasets_from_function`) trains across workers, and equally
on `TPUStrategy`, with the same metrics, checkpoints and callbacks.

The pieces: `_build` (flow and optimizer in the strategy's scope), `_Checkpoints` (the
restoring checkpoint manager), `_execution_function` (one execution of steps, compiled or
`strategy.run` per step), `_run_epoch` (the executions of an epoch, stopping at an invalid
step) and `_Report` (history, callbacks, warnings and printing).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from typing import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from tfp_survae import _tensors
from tfp_survae.training import _batches, _steps, compiled
from tfp_survae.training._errors import ERROR_TAG, check_message
from tfp_survae.training.fit import training_step

__all__ = ["distributed_fit"]


def distributed_fit(
    make_flow: Callable,
    dataset_fn: Callable,
    *,
    steps_per_epoch: int,
    epochs: int = 1,
    strategy: tf.distribute.Strategy | None = None,
    make_optimizer: Callable = lambda: keras.optimizers.Adam(1e-3),
    steps_per_execution: int = 1,
    compiled_execution: bool | str = "auto",
    checkpoint_dir: str | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int = 1,
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Trains a flow with a custom loop under a tf.distribute strategy.

    Each step is `training.training_step`, the step `Flow.fit` runs: the flow's regularisation
    losses, a `condition` in the batch (a dict with "x" and "condition") and mixed-precision
    loss scaling count here as they do in `fit`, and a step whose loss or gradients are not
    finite changes nothing (weights, optimizer, layer state) and stops training.

    Args:
      make_flow: builds the Flow (called inside `strategy.scope()`).
      dataset_fn: `tf.distribute.InputContext` -> a repeating `tf.data.Dataset` of per-replica
        batches (`context.get_per_replica_batch_size(global_batch)`, and
        `dataset.shard(context.num_input_pipelines, context.input_pipeline_id)` for a
        multi-worker run).
      steps_per_epoch: global steps per epoch, a positive integer.
      epochs: epochs to train; with `checkpoint_dir`, an interrupted run resumes after its last
        completed epoch.
      strategy: the strategy (default: the current one).
      make_optimizer: builds the Keras optimizer (inside the scope); under the
        "mixed_float16" policy it is wrapped in a LossScaleOptimizer, as `compile` does.
      steps_per_execution: steps per compiled call, a positive integer (an epoch runs exactly
        `steps_per_epoch` steps: its last execution may be shorter).
      compiled_execution: run each execution as one XLA program, as `Flow.compile`'s option
        does (True, False or "auto": on for CPUs). Only under a strategy with one replica; with
        several, each step runs `strategy.run` (`training.compiled.resolve_for_strategy`).
      checkpoint_dir: saves every variable of the flow (trainable or not: ActNorm's
        initialisation, running statistics, seed generators), the optimizer and the epoch
        after every epoch (the chief writes there; other workers write to a temporary
        directory, as tf.distribute requires), and restores the latest of them when called
        again. The dataset starts again from `dataset_fn`, so a resumed run ends where an
        uninterrupted one does when its epochs start at the same place in the data (a
        dataset of `steps_per_epoch` global batches, repeated, or reshuffled per epoch).
      callbacks: Keras callbacks; they receive on_train/epoch begin/end with logs {"loss",
        "bits_per_dim"} and `model` set to the flow.
      verbose: 1 prints a line per epoch (on the chief).

    Returns:
      (flow, history) with history a dict of per-epoch "loss" (the mean NLL over the epoch's
      examples, in nats) and "bits_per_dim" lists.

    Raises:
      ValueError: a step count that is not a positive integer; invalid data (NaN or Inf,
        integers out of range), named by epoch and step.
    """
    owner = "distributed_fit()"
    for name, value in (("steps_per_epoch", steps_per_epoch), ("epochs", epochs),
                        ("steps_per_execution", steps_per_execution)):
        _steps.check_steps(owner, name, value)
    compiled.check_setting(compiled_execution)
    strategy = strategy or tf.distribute.get_strategy()
    flow, optimizer, epoch_counter = _build(make_flow, make_optimizer, strategy)
    checkpoints = None if checkpoint_dir is None else _Checkpoints(
        tf.train.Checkpoint(flow=_flow_variables(flow), optimizer=optimizer,
                            epoch=epoch_counter),
        checkpoint_dir, strategy)
    if any(t.needs_initialization for t in flow.chain):
        x, condition = _batches.unpack_batch(next(iter(dataset_fn(tf.distribute.InputContext()))))
        flow.initialize(x, condition=condition)
    train_steps = _execution_function(flow, optimizer, strategy, steps_per_execution,
                                      compiled_execution)
    iterator = iter(strategy.distribute_datasets_from_function(dataset_fn))
    report = _Report(flow, callbacks, epochs, verbose=bool(verbose) and _is_chief(strategy))
    report.begin()
    for epoch in range(int(epoch_counter.numpy()), epochs):
        report.epoch_begin(epoch)
        nll, last_steps = _run_epoch(train_steps, iterator, epoch, steps_per_epoch,
                                     steps_per_execution)
        if np.isfinite(nll):
            epoch_counter.assign(epoch + 1)
            if checkpoints is not None:
                checkpoints.save()
        else:  # no checkpoint of an epoch that did not finish
            report.halted(nll, epoch, last_steps)
        report.epoch_end(epoch, nll)
        if getattr(flow, "stop_training", False):
            break
    report.end()
    if checkpoints is not None:
        checkpoints.close()
    return flow, report.history


def _is_chief(strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type is None or task_type == "chief" or (task_type == "worker" and task_id == 0)


def _flow_variables(flow) -> list:
    """Every variable of the flow, trainable or not (ActNorm's initialisation, running
    statistics, seed generators), in the flow's order: `tf.train.Checkpoint(flow=flow)`
    tracks none of a Keras 3 model's variables, and the optimizer only the trainable ones.
    By position, as Keras' weight files: the layers' names (and so the variables' paths)
    differ between two flows that `make_flow` builds in one process."""
    return list(flow.variables)


def _build(make_flow, make_optimizer, strategy):
    """(flow, optimizer with its variables, epoch counter), made in the strategy's scope."""
    with strategy.scope():
        flow = make_flow()
        optimizer = make_optimizer()
        if keras.config.dtype_policy().name == "mixed_float16" and not isinstance(
                optimizer, keras.optimizers.LossScaleOptimizer):
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)  # as Keras' compile
        optimizer.build(flow.trainable_variables)
        epoch_counter = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    return flow, optimizer, epoch_counter


class _Checkpoints:
    """A checkpoint manager that restores the latest checkpoint of `directory` when made.

    The chief writes to `directory`; other workers write to a temporary directory (as
    tf.distribute requires every worker to save), removed by `close`.
    """

    def __init__(self, checkpoint: tf.train.Checkpoint, directory: str, strategy):
        self._chief = _is_chief(strategy)
        own = directory if self._chief else tempfile.mkdtemp()
        self._manager = tf.train.CheckpointManager(checkpoint, own, max_to_keep=2)
        latest = tf.train.latest_checkpoint(directory)
        if latest:
            checkpoint.restore(latest)

    def save(self) -> None:
        self._manager.save()

    def close(self) -> None:
        if not self._chief and os.path.isdir(self._manager.directory):
            tf.io.gfile.rmtree(self._manager.directory)


def _execution_function(flow, optimizer, strategy, steps_per_execution, setting):
    """(iterator, steps) -> (summed NLL, examples) of `steps` training steps: a compiled
    execution (`training.compiled`, one replica) or a graph loop of `strategy.run`. No step
    runs after one that was not applied (its NLL is NaN)."""
    kind = compiled.resolve_for_strategy(setting, strategy, flow)
    if kind is not None:
        return _compiled_steps(flow, optimizer, strategy, steps_per_execution, kind)
    replicas = strategy.num_replicas_in_sync

    @tf.autograph.experimental.do_not_convert  # as Keras' loop runs a model's step
    def step(data, halted):
        nll = training_step(flow, optimizer, data, replicas=replicas, halted=halted)
        examples = tf.cast(_batches.batch_size(data), tf.float32)
        return tf.cast(nll, tf.float32) * examples, examples

    @tf.function
    def graph_steps(iterator, steps):
        total, examples = tf.constant(0.0), tf.constant(0.0)
        for _ in tf.range(steps):
            halted = tf.logical_not(tf.math.is_finite(total))  # apply nothing after a NaN
            nll_sum, count = strategy.run(step, args=(next(iterator), halted))
            total += strategy.reduce(tf.distribute.ReduceOp.SUM, nll_sum, None)
            examples += strategy.reduce(tf.distribute.ReduceOp.SUM, count, None)
        return total, examples

    return lambda iterator, steps: graph_steps(iterator, tf.constant(steps))


def _compiled_steps(flow, optimizer, strategy, steps_per_execution, kind):
    """`_execution_function` as a compiled execution of `kind`; its loop stops at a step that
    was not applied."""
    with strategy.scope():
        total = tf.Variable(0.0, trainable=False, name="execution_loss")
        examples = tf.Variable(0.0, trainable=False, name="execution_examples")

    def step(data):
        nll = training_step(flow, optimizer, data)
        count = tf.cast(_batches.batch_size(data), tf.float32)
        total.assign_add(tf.cast(nll, tf.float32) * count)
        examples.assign_add(count)
        return {"loss": nll}

    function = compiled.make_function(lambda: steps_per_execution, step,
                                      lambda stacked: compiled.check_values(flow, stacked), kind)

    def train_steps(iterator, steps):
        total.assign(0.0)
        examples.assign(0.0)
        function(iterator, steps)
        return total.numpy(), examples.numpy()

    return train_steps


def _run_epoch(train_steps, iterator, epoch, steps_per_epoch, steps_per_execution):
    """Runs the executions of an epoch, exactly `steps_per_epoch` steps unless one is invalid;
    returns (mean NLL over the examples, the last execution's (first, last) steps)."""
    total, examples, done, steps = 0.0, 0.0, 0, 0
    while done < steps_per_epoch and np.isfinite(total):
        steps = min(steps_per_execution, steps_per_epoch - done)
        with _said_where(epoch, done, steps):
            nll_sum, count = train_steps(iterator, steps)
        total, examples, done = total + float(nll_sum), examples + float(count), done + steps
    return total / examples, (done - steps, done - 1)


@contextlib.contextmanager
def _said_where(epoch: int, first: int, steps: int):
    """The data checks' errors of an execution as ValueErrors naming the epoch and step."""
    try:
        yield
    except compiled.InvalidBatch as error:
        where = f"epoch {epoch + 1}, step {first + error.batch} (counting from 0)"
        raise ValueError(f"distributed_fit(): {error.said_at(where)} The steps before it were "
                         "trained on.") from None
    except tf.errors.InvalidArgumentError as error:
        if ERROR_TAG not in error.message:
            raise
        raise ValueError(
            f"{check_message(error.message)} (in epoch {epoch + 1}, "
            f"steps {first}-{first + steps - 1}, counting from 0)."
        ) from None


class _Report:
    """The history, the callbacks, the warning for an epoch stopped by an invalid step, and a
    line per epoch."""

    def __init__(self, flow, callbacks, epochs: int, *, verbose: bool):
        self.flow, self.epochs, self.verbose = flow, epochs, verbose
        self.callbacks = keras.callbacks.CallbackList(list(callbacks), model=flow)
        self.history: dict[str, list[float]] = {"loss": [], "bits_per_dim": []}

    def begin(self):
        self.callbacks.on_train_begin()

    def epoch_begin(self, epoch: int):
        self.callbacks.on_epoch_begin(epoch)

    def halted(self, nll: float, epoch: int, steps: tuple):
        warnings.warn(
            f"distributed_fit: the loss became {nll} at epoch {epoch + 1}, steps "
            f"{steps[0]}-{steps[1]}; training stopped. No step with a non-finite loss "
            "or gradient was applied: the weights, optimizer state and layer state are those "
            "from before the first such batch.", RuntimeWarning, stacklevel=3)
        self.flow.stop_training = True

    def epoch_end(self, epoch: int, nll: float):
        bits = _tensors.nats_to_bits_per_dim(nll, self.flow.num_dims)
        self.history["loss"].append(nll)
        self.history["bits_per_dim"].append(bits)
        self.callbacks.on_epoch_end(epoch, {"loss": nll, "bits_per_dim": bits})
        if self.verbose:
            print(f"epoch {epoch + 1}/{self.epochs} - loss: {nll:.4f} - bits_per_dim: "
                  f"{bits:.4f}", flush=True)

    def end(self):
        self.callbacks.on_train_end()
