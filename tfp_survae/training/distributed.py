"""A distributed training loop for flows: any tf.distribute strategy, multi-worker included.

Keras `fit` works under `MirroredStrategy` (one machine, several devices); under
`MultiWorkerMirroredStrategy` Keras 3's `fit` fails (keras-team/keras#20585), so this loop
(`strategy.run` over `distribute_datasets_from_function`) trains across workers, and equally
on `TPUStrategy`, with the same metrics, checkpoints and callbacks.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from tfp_survae import _tensors
from tfp_survae.training import _batches
from tfp_survae.training import compiled
from tfp_survae.training.fit import training_step

__all__ = ["distributed_fit"]


def _is_chief(strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type is None or task_type == "chief" or (task_type == "worker" and task_id == 0)


def _compiled_steps(flow, optimizer, strategy, steps_per_execution, kind):
    """(iterator, steps) -> the summed loss of `steps` training steps run as a compiled
    execution of `kind` (`training.compiled`); the loop stops at a step that was not applied."""
    with strategy.scope():
        total = tf.Variable(0.0, trainable=False, name="execution_loss")

    def step(data):
        nll = training_step(flow, optimizer, data)
        total.assign_add(tf.cast(nll, tf.float32))
        return {"loss": nll}

    function = compiled.make_function(lambda: steps_per_execution, step,
                                      lambda stacked: compiled.check_values(flow, stacked), kind)

    def train_steps(iterator, steps):
        total.assign(0.0)
        function(iterator, steps)
        return total.numpy()

    return train_steps


def distributed_fit(
    make_flow: Callable,
    dataset_fn: Callable,
    *,
    steps_per_epoch: int,
    epochs: int = 1,
    strategy: tf.distribute.Strategy | None = None,
    make_optimizer: Callable = lambda: keras.optimizers.Adam(1e-3),
    steps_per_execution: int = 1,
    compiled_execution="auto",
    checkpoint_dir: str | None = None,
    callbacks=(),
    verbose: int = 1,
):
    """Trains a flow with a custom loop under a tf.distribute strategy.

    Each step is `training.training_step`, the step `Flow.fit` runs: the flow's regularisation
    losses, a `condition` in the batch (a dict with "x" and "condition") and mixed-precision
    loss scaling count here as they do in `fit`.

    Args:
      make_flow: builds the Flow (called inside `strategy.scope()`).
      dataset_fn: `tf.distribute.InputContext` -> a repeating `tf.data.Dataset` of per-replica
        batches (`context.get_per_replica_batch_size(global_batch)`, and
        `dataset.shard(context.num_input_pipelines, context.input_pipeline_id)` for a
        multi-worker run).
      steps_per_epoch: global steps per epoch.
      epochs: epochs to train; with `checkpoint_dir`, an interrupted run resumes after its last
        completed epoch.
      strategy: the strategy (default: the current one).
      make_optimizer: builds the Keras optimizer (inside the scope); under the
        "mixed_float16" policy it is wrapped in a LossScaleOptimizer, as `compile` does.
      steps_per_execution: steps per compiled call.
      compiled_execution: run each execution as one XLA program, as `Flow.compile`'s option
        does (True, False or "auto": on for CPUs). Only under a strategy with one replica; with
        several, each step runs `strategy.run` (`training.compiled.resolve_for_strategy`).
      checkpoint_dir: saves the flow, optimizer and epoch after every epoch (the chief writes
        there; other workers write to a temporary directory, as tf.distribute requires).
      callbacks: Keras callbacks; they receive on_train/epoch begin/end with logs {"loss",
        "bits_per_dim"} and `model` set to the flow.
      verbose: 1 prints a line per epoch (on the chief).

    Returns:
      (flow, history) with history a dict of per-epoch "loss" (nats) and "bits_per_dim" lists.
    """
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        flow = make_flow()
        optimizer = make_optimizer()
        if keras.config.dtype_policy().name == "mixed_float16" and not isinstance(
                optimizer, keras.optimizers.LossScaleOptimizer):
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)  # as Keras' compile
        optimizer.build(flow.trainable_variables)
        epoch_counter = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    replicas = strategy.num_replicas_in_sync
    dims = flow.num_dims

    manager = None
    if checkpoint_dir is not None:
        checkpoint = tf.train.Checkpoint(flow=flow, optimizer=optimizer, epoch=epoch_counter)
        directory = checkpoint_dir if _is_chief(strategy) else tempfile.mkdtemp()
        manager = tf.train.CheckpointManager(checkpoint, directory, max_to_keep=2)
        latest = tf.train.latest_checkpoint(checkpoint_dir)
        if latest:
            checkpoint.restore(latest)

    def step(data, halted):
        return training_step(flow, optimizer, data, replicas=replicas, halted=halted)

    @tf.function
    def graph_steps(iterator, steps):
        total = tf.constant(0.0)
        for _ in tf.range(steps):
            halted = tf.logical_not(tf.math.is_finite(total))  # apply nothing after a NaN
            per_replica = strategy.run(step, args=(next(iterator), halted))
            total += tf.cast(strategy.reduce(tf.distribute.ReduceOp.MEAN, per_replica, None),
                             tf.float32)
        return total

    kind = compiled.resolve_for_strategy(compiled_execution, strategy, flow)
    if kind is not None:
        train_steps = _compiled_steps(flow, optimizer, strategy, steps_per_execution, kind)
    else:
        def train_steps(iterator, steps):
            return graph_steps(iterator, tf.constant(steps))

    if any(t.needs_initialization for t in flow.chain):
        x, condition = _batches.unpack_batch(next(iter(dataset_fn(tf.distribute.InputContext()))))
        flow.initialize(x, condition=condition)
    iterator = iter(strategy.distribute_datasets_from_function(dataset_fn))
    callback_list = keras.callbacks.CallbackList(list(callbacks), model=flow)
    history = {"loss": [], "bits_per_dim": []}
    callback_list.on_train_begin()
    for epoch in range(int(epoch_counter.numpy()), epochs):
        callback_list.on_epoch_begin(epoch)
        total, done = 0.0, 0
        while done < steps_per_epoch and np.isfinite(total):
            steps = min(steps_per_execution, steps_per_epoch - done)
            total += float(train_steps(iterator, steps))
            done += steps
        nll = total / done
        if np.isfinite(nll):
            epoch_counter.assign(epoch + 1)
            if manager is not None:
                manager.save()
        else:  # no checkpoint of an epoch that did not finish
            warnings.warn(
                f"distributed_fit: the loss became {nll} at epoch {epoch + 1}, steps "
                f"{done - steps}-{done - 1}; training stopped. No step with a non-finite loss "
                "or gradient was applied: the weights and optimizer state are those from "
                "before the first such batch.", RuntimeWarning, stacklevel=2)
            flow.stop_training = True
        logs = {"loss": nll, "bits_per_dim": _tensors.nats_to_bits_per_dim(nll, dims)}
        history["loss"].append(nll)
        history["bits_per_dim"].append(logs["bits_per_dim"])
        callback_list.on_epoch_end(epoch, logs)
        if verbose and _is_chief(strategy):
            print(f"epoch {epoch + 1}/{epochs} - loss: {nll:.4f} - bits_per_dim: "
                  f"{logs['bits_per_dim']:.4f}", flush=True)
        if getattr(flow, "stop_training", False):
            break
    callback_list.on_train_end()
    if manager is not None and not _is_chief(strategy):
        tf.io.gfile.rmtree(manager.directory) if os.path.isdir(manager.directory) else None
    return flow, history
