"""One XLA program per execution of `steps_per_execution` batches (`fit` and `evaluate`).

Keras runs `steps_per_execution` as a graph loop that launches one step at a time (XLA or not)
with an iterator call between. Here the batches of an execution are pulled from the iterator
and stacked outside, checked (NaN, Inf, integers out of range: the checks XLA would compile
away), and the whole loop over them runs as one `jit_compile=True` program. Metrics, seeds, the
score-function surrogate and the invalid-step guard behave as in Keras' loop; batches whose
shape differs from the execution's first (a short last batch) run as a program of their own.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tfp_survae import _utils

# Where a compiled execution is the default ("auto"), by device class. Measured on a 2-core
# CPU (benchmarks/RESULTS.md, section 8); GPUs and TPUs keep Keras' loop until measured there.
AUTO_DEVICE_TYPES = ("CPU",)
# ... for models without convolutions and with up to this many trainable parameters. Small
# dense models gain (per-step dispatch dominates their steps: 1.5x on the 2-D flows); XLA's CPU
# convolutions lose (the small image preset 3.5x slower at 28x28, though 3.5x faster at 8x8;
# the 105 M-parameter image presets up to 1.26x slower with 1.3x the memory), and so do dense
# models past about 10 M parameters (1.10x slower at 16.8 M): RESULTS.md sections 3 and 8.
AUTO_MAX_PARAMETERS = 10_000_000


def _check_setting(setting) -> None:
    if setting not in (True, False, "auto"):
        raise ValueError(f"compiled_execution is True, False or 'auto'; received {setting!r}.")


_CONVOLUTIONS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D,
                 keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose,
                 keras.layers.Conv3DTranspose, keras.layers.DepthwiseConv1D,
                 keras.layers.DepthwiseConv2D, keras.layers.SeparableConv1D,
                 keras.layers.SeparableConv2D)


def _has_convolutions(model) -> bool:
    # Keras has no public walk over nested layers; `_flatten_layers` is the one it uses itself.
    return any(isinstance(layer, _CONVOLUTIONS) for layer in model._flatten_layers())


def _on(setting, model) -> bool:
    """True for True, and for "auto" on a device class and a model size measured faster."""
    if setting == "auto":
        accelerators = (tf.config.list_logical_devices("GPU")
                        + tf.config.list_logical_devices("TPU"))
        size = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
        return (("GPU" if accelerators else "CPU") in AUTO_DEVICE_TYPES
                and size <= AUTO_MAX_PARAMETERS and not _has_convolutions(model))
    return setting is True


def resolve(setting, model) -> bool:
    """True when `fit`/`evaluate` should run compiled executions for `setting` (True, False or
    "auto": CPUs, models without convolutions and up to AUTO_MAX_PARAMETERS) on this model: not eagerly, not under a
    tf.distribute strategy."""
    _check_setting(setting)
    if setting is False or model.run_eagerly:
        return False
    if tf.distribute.has_strategy() or model.distribute_strategy is not \
            tf.distribute.get_strategy():
        return False
    return _on(setting, model)


def resolve_for_strategy(setting, strategy, model) -> bool:
    """True when `distributed_fit` should run compiled executions of `model` under `strategy`
    ("auto" as in `resolve`): only with one replica. With several, each replica's step would need the optimizer's cross-replica
    update inside its XLA program, which MirroredStrategy cannot compile (its variables live on
    several devices: tensorflow.org/xla/known_issues); TPUStrategy compiles its loop anyway."""
    _check_setting(setting)
    if setting is False or strategy.num_replicas_in_sync != 1:
        return False
    return _on(setting, model)


def _pull(iterator, steps: int) -> list:
    batches = []
    for _ in range(steps):
        try:
            batches.append(next(iterator))
        except (StopIteration, tf.errors.OutOfRangeError):
            break
    return batches


def _shape_key(batch):
    return tuple(tuple(t.shape) for t in tf.nest.flatten(batch))


def _groups(batches):
    """Consecutive runs of batches with the same shapes."""
    groups, current, key = [], [], None
    for batch in batches:
        batch_key = _shape_key(batch)
        if current and batch_key != key:
            groups.append(current)
            current = []
        current.append(batch)
        key = batch_key
    if current:
        groups.append(current)
    return groups


def _finite(logs):
    values = [v for v in tf.nest.flatten(logs) if v.dtype.is_floating]
    return tf.reduce_all(tf.stack([tf.reduce_all(tf.math.is_finite(v)) for v in values]))


def make_function(steps_per_execution, step_function, check_batch):
    """A Keras train/test function: (iterator, steps=None) -> logs of the execution's last step.

    `steps_per_execution()` gives the batches per execution when `steps` is None;
    `step_function(data)` is the model's train or test step; `check_batch(stacked)` checks the
    stacked data's values outside XLA (a ValueError or a check op).
    """

    @tf.function(jit_compile=True, reduce_retracing=True)
    def run(stacked):
        count = tf.shape(tf.nest.flatten(stacked)[0])[0]
        logs = step_function(tf.nest.map_structure(lambda t: t[0], stacked))

        def body(i, _):
            return i + 1, step_function(tf.nest.map_structure(lambda t: t[i], stacked))

        # Stop at a non-finite log (an invalid training step): the rest would not be applied.
        _, logs = tf.while_loop(lambda i, logs: tf.logical_and(i < count, _finite(logs)), body,
                                (tf.constant(1), logs))
        return logs

    def function(iterator, steps=None):
        batches = _pull(iterator, steps or steps_per_execution())
        if not batches:
            raise StopIteration
        logs = None
        for group in _groups(batches):
            stacked = tf.nest.map_structure(lambda *parts: tf.stack(parts), *group)
            check_batch(stacked)
            logs = run(stacked)
        return logs

    function.run_stacked = run  # the compiled program alone (profiling)
    return function


def check_values(model, stacked):
    """`Flow.check_data` (and the first transform's integer range) on a stack of batches,
    before XLA runs, which would compile those checks away."""
    x, _ = _utils.unpack_batch(stacked)
    x = tf.convert_to_tensor(x)
    x = model.check_data(tf.reshape(x, [-1] + x.shape[2:].as_list()))
    num_values = getattr(model.chain[0], "num_values", None) if model.integer_data else None
    if num_values is not None:
        _utils.check_in_range(f"Flow '{model.name}'", x, num_values)
