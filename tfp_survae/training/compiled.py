"""One XLA program per execution of `steps_per_execution` batches (`fit` and `evaluate`).

Keras runs `steps_per_execution` as a graph loop that launches one step at a time (XLA or not)
with an iterator call between. Here the batches of an execution are pulled from the iterator
and stacked outside, checked (NaN, Inf, integers out of range: the checks XLA would compile
away), and the whole loop over them runs as one `jit_compile=True` program (for a model with
convolutions, a graph loop of one such program per step). Metrics, seeds, the
score-function surrogate and the invalid-step guard behave as in Keras' loop; batches whose
shape differs from the execution's first (a short last batch) run as a program of their own.
"""

from __future__ import annotations

from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf

from tfp_survae import _checks
from tfp_survae.training import _batches

# Where a compiled execution is the default ("auto"), by device class: where it measured faster
# (benchmarks/RESULTS.md, sections 8 and 10); GPUs and TPUs keep Keras' loop until measured.
AUTO_DEVICE_TYPES = ("CPU",)
# ... and for models with up to this many trainable parameters: small models gain (per-step
# dispatch dominates their steps), large ones measured slower under XLA (RESULTS.md, sections 3
# and 10).
AUTO_MAX_PARAMETERS = 10_000_000

# The two kinds of compiled execution. PROGRAM: the whole loop over the execution's batches is
# one XLA program (fastest for dense models). STEPS: a graph loop over the batches runs one XLA
# program per step (faster for convolutional models; RESULTS.md, section 10).
PROGRAM, STEPS = "program", "steps"

_CONVOLUTIONS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D,
                 keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose,
                 keras.layers.Conv3DTranspose, keras.layers.DepthwiseConv1D,
                 keras.layers.DepthwiseConv2D, keras.layers.SeparableConv1D,
                 keras.layers.SeparableConv2D)


def check_setting(setting: bool | str) -> None:
    """Checks a `compiled_execution` setting.

    Args:
      setting: the setting.

    Raises:
      ValueError: `setting` is not True, False or "auto".
    """
    if setting not in (True, False, "auto"):
        raise ValueError(f"compiled_execution is True, False or 'auto'; received {setting!r}.")


def _has_convolutions(model) -> bool:
    # Keras has no public walk over nested layers; `_flatten_layers` is the one it uses itself.
    return any(isinstance(layer, _CONVOLUTIONS) for layer in model._flatten_layers())


def _kind(setting, model):
    """PROGRAM or STEPS for True, and for "auto" where measured faster; else None."""
    if setting == "auto":
        accelerators = (tf.config.list_logical_devices("GPU")
                        + tf.config.list_logical_devices("TPU"))
        size = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
        if ("GPU" if accelerators else "CPU") not in AUTO_DEVICE_TYPES \
                or size > AUTO_MAX_PARAMETERS:
            return None
    elif setting is not True:
        return None
    return STEPS if _has_convolutions(model) else PROGRAM


def resolve(setting: bool | str, model: keras.Model) -> str | None:
    """The kind of compiled execution `fit` and `evaluate` run for `setting` on `model`.

    Args:
      setting: True, False or "auto" (CPUs, models up to AUTO_MAX_PARAMETERS).
      model: the flow.

    Returns:
      PROGRAM or STEPS, or None for Keras' loop: always None eagerly or under a
      tf.distribute strategy.

    Raises:
      ValueError: `setting` is not True, False or "auto".
    """
    check_setting(setting)
    if setting is False or model.run_eagerly:
        return None
    if tf.distribute.has_strategy() or model.distribute_strategy is not \
            tf.distribute.get_strategy():
        return None
    return _kind(setting, model)


def resolve_for_strategy(setting: bool | str, strategy: tf.distribute.Strategy,
                         model: keras.Model) -> str | None:
    """As `resolve`, for `distributed_fit` under `strategy`: only with one replica.

    With several, each replica's step would need the optimizer's cross-replica update inside
    its XLA program, which MirroredStrategy cannot compile (docs/contributing.md, Known
    TensorFlow pitfalls); TPUStrategy compiles its loop anyway.

    Args:
      setting: True, False or "auto".
      strategy: the tf.distribute strategy.
      model: the flow.

    Returns:
      PROGRAM or STEPS, or None for a step per `strategy.run`.

    Raises:
      ValueError: `setting` is not True, False or "auto".
    """
    check_setting(setting)
    if setting is False or strategy.num_replicas_in_sync != 1:
        return None
    return _kind(setting, model)


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


def _loop(step_function, batch_at):
    """(count, *args) -> logs of the last step run over `count` batches (`batch_at(i, *args)`
    gives batch i), stopping at a non-finite log (an invalid training step: the rest would not
    be applied). The step is traced once: its first run (which gives the loop the logs'
    structure) and the loop's body call one graph function."""
    step = tf.function(step_function, autograph=False)

    def run(count, *args):
        # The logs' structure from the step's trace, without running it: a first run outside
        # the loop would put a second copy of the step into the XLA program, and XLA compiles
        # each copy's kernels anew.
        traced = step.get_concrete_function(batch_at(0, *args)).structured_outputs
        logs = tf.nest.map_structure(lambda t: tf.zeros(t.shape, t.dtype), traced)

        def body(i, _):
            return i + 1, step(batch_at(i, *args))

        _, logs = tf.while_loop(lambda i, logs: tf.logical_and(i < count, _finite(logs)), body,
                                (tf.constant(0), logs))
        return logs
    return run


def _stacked_loop(step_function):
    """stacked batches -> logs of the last step run (`_loop`)."""
    loop = _loop(step_function, lambda i, stacked: tf.nest.map_structure(lambda t: t[i],
                                                                         stacked))

    def run(stacked):
        return loop(tf.shape(tf.nest.flatten(stacked)[0])[0], stacked)
    return run


def _compiled(loop, step_function, kind):
    """`loop(step)` as one XLA program (PROGRAM) or a graph loop of XLA-compiled steps. As in
    Keras' loop (whose step functions are `do_not_convert`), the step runs without AutoGraph:
    the same Python runs in both, and tracing skips AutoGraph's conversion of the model's
    code."""
    if kind == PROGRAM:
        return tf.function(loop(step_function), jit_compile=True, reduce_retracing=True,
                           autograph=False)
    step = tf.function(step_function, jit_compile=True, reduce_retracing=True, autograph=False)
    return tf.function(loop(step), reduce_retracing=True, autograph=False)


class InvalidBatch(ValueError):
    """Invalid values in a batch of an execution, found before XLA runs.

    Attributes:
      owner: who checked ("Flow 'flow'").
      problem: what is wrong, with "{data}" for the argument's name ("{data} contains NaN or
        Inf", "expected {data} as integers in [0, 256)").
      batch: the batch's position in the execution (from 0).
      index: the index of the first invalid value within that batch (row first).
      value: that value.
      argument: the argument holding it: "data x" or "condition".
    """

    def __init__(self, owner: str, problem: str, batch: int, index: tuple,
                 value: Any, argument: str = "data x") -> None:
        self.owner, self.problem, self.batch, self.index, self.value = (owner, problem, batch,
                                                                        index, value)
        self.argument = argument
        super().__init__(f"{owner}: {self.said_at(f'batch {batch} of the execution')}")

    def said_at(self, where: str, data: str | None = None) -> str:
        """The message without the owner, the batch said as `where` ("epoch 1, batch 7") and
        the argument as `data` (by default `argument`)."""
        data = data or self.argument
        return (f"{self.problem.format(data=data)}; the first invalid value, {self.value}, is "
                f"in {where}, row {self.index[0]} of that batch (index {self.index} within the "
                "batch).")


def make_function(steps_per_execution: Callable[[], int], step_function: Callable,
                  check_batch: Callable[[Any], None], kind: str = PROGRAM) -> Callable:
    """A Keras train/test function: (iterator, steps=None) -> logs of the execution's last step.

    `steps_per_execution()` gives the batches per execution when `steps` is None;
    `step_function(data)` is the model's train or test step; `check_batch(stacked)` checks the
    stacked data's values outside XLA (`check_values`); `kind` is PROGRAM (the loop inside one
    XLA program) or STEPS (a graph loop of XLA-compiled steps). When a batch is invalid, the
    batches before it run (as in Keras' loop) and its `InvalidBatch` is raised, `batch` then
    counting from the execution's first batch.
    """
    run = _compiled(_stacked_loop, step_function, kind)

    def function(iterator, steps=None):
        batches = _pull(iterator, steps or steps_per_execution())
        if not batches:
            raise StopIteration
        logs, done = None, 0
        for group in _groups(batches):
            stacked = tf.nest.map_structure(lambda *parts: tf.stack(parts), *group)
            try:
                check_batch(stacked)
            except InvalidBatch as error:
                valid = error.batch  # the batches before the invalid one
                if valid:
                    run(tf.nest.map_structure(lambda t: t[:valid], stacked))
                error.batch += done
                raise
            logs = run(stacked)
            done += len(group)
        return logs

    function.run_stacked = run  # type: ignore[attr-defined]  # the compiled loop alone (profiling)
    function.kind = kind  # type: ignore[attr-defined]
    return function


def staged_programs(step_function, kind=PROGRAM):
    """batch_size -> the compiled loop over batches of `batch_size` rows sliced from in-memory
    data, made once per size: (data, order, start, count) -> logs of the last step run, batch
    i holding the rows order[start + i * batch_size:][:batch_size] of each tensor in `data`
    (`_staged`)."""
    programs = {}

    def program(batch_size: int):
        if batch_size not in programs:
            def loop(step):
                def batch_at(i, data, order, start):
                    rows = tf.gather(order, start + i * batch_size + tf.range(batch_size))
                    return tf.nest.map_structure(lambda t: tf.gather(t, rows), data)
                inner = _loop(step, batch_at)
                return lambda data, order, start, count: inner(count, data, order, start)
            programs[batch_size] = _compiled(loop, step_function, kind)
        return programs[batch_size]

    program.kind = kind
    return program


def make_staged_function(staged, steps_per_execution, program):
    """A Keras train function, (iterator, steps=None) -> logs, over `staged` data (a
    `_staged.Staged`) that never pulls the iterator Keras hands it: a new iterator starts an
    epoch (a new order of the rows), and each call trains the epoch's next
    `steps_per_execution()` batches (fewer at its end) with `program(batch_size)`
    (`staged_program`). A dataset's invalid batch raises its `InvalidBatch` after the batches
    before it in the execution trained."""
    epoch = {"iterator": None, "order": None, "batch": 0}
    size, full_batches = staged.batch_size, staged.rows // staged.batch_size

    def train(first, last):
        logs = None
        if min(last, full_batches) > first:
            logs = program(size)(staged.data, epoch["order"], tf.constant(first * size),
                                 tf.constant(min(last, full_batches) - first))
        if last > full_batches:  # the short last batch
            logs = program(staged.rows - full_batches * size)(
                staged.data, epoch["order"], tf.constant(full_batches * size), tf.constant(1))
        return logs

    def function(iterator, steps=None):
        if iterator is not epoch["iterator"]:  # Keras' loop gives each epoch a new iterator
            epoch.update(iterator=iterator, order=staged.epoch_order(), batch=0)
        first = epoch["batch"]
        last = min(first + (steps or steps_per_execution()), staged.num_batches)
        if first >= last:
            raise StopIteration
        epoch["batch"] = last
        if staged.first_invalid is not None:
            row, error = staged.first_invalid
            if first * size <= row < last * size:
                if row // size > first:
                    train(first, row // size)
                error.batch = row // size - first
                raise error
        return train(first, last)

    function.kind = "staged"
    return function


def check_values(model: keras.Model, stacked: Any) -> None:
    """`Flow.check_data` (and the first transform's integer range) on a stack of batches, and
    the finiteness of their condition, before XLA runs, which would compile those checks
    away. Invalid values raise an `InvalidBatch` naming the first batch and row holding one; a
    wrong dtype or event shape a ValueError."""
    x, condition = _batches.unpack_batch(stacked)
    x = tf.convert_to_tensor(x)
    num_values = getattr(model.chain[0], "num_values", None) if model.integer_data else None
    if condition is not None:
        condition = tf.convert_to_tensor(condition)
    else:
        condition = None
    try:
        flat = model.check_data(tf.reshape(x, [-1] + x.shape[2:].as_list()))
        if num_values is not None:
            _checks.check_in_range(f"Flow '{model.name}'", flat, num_values)
        if condition is not None:
            model.check_condition(tf.reshape(condition, [-1] + condition.shape[2:].as_list()))
    except ValueError:
        invalid = first_invalid(model, x, num_values, condition)
        if invalid is None:
            raise
        raise invalid from None


def first_invalid(model, stacked_x, num_values, stacked_condition=None):
    """The `InvalidBatch` for the first invalid value of [batches, batch, ...event] data (or
    of its condition, [batches, batch, ...condition event], when given; of the two, the one in
    the earlier batch and row), or None when the values are valid."""
    owner = f"Flow '{model.name}'"
    found = []
    if model.integer_data:
        values = stacked_x.numpy()
        if num_values is not None:
            bad = np.argwhere((values < 0) | (values >= num_values))
            found.append((bad, values, f"expected {{data}} as integers in [0, {num_values})",
                          "data x"))
    else:
        values = tf.cast(stacked_x, model.dtype).numpy()
        found.append((np.argwhere(~np.isfinite(values)), values, "{data} contains NaN or Inf",
                      "data x"))
    if stacked_condition is not None:
        values = tf.cast(stacked_condition, model.dtype).numpy()
        found.append((np.argwhere(~np.isfinite(values)), values, "{data} contains NaN or Inf",
                      "condition"))
    found = [f for f in found if len(f[0])]
    if not found:
        return None
    bad, values, problem, argument = min(found, key=lambda f: tuple(f[0][0][:2]))
    first = tuple(int(i) for i in bad[0])
    return InvalidBatch(owner, problem, first[0], first[1:], values[first], argument)
