"""The GPU section of the benchmark suite: `python benchmarks/run.py --sections gpu`.

On one GPU, within `--gpu_budget` seconds (default 450: the section, start-up included, takes
at most 8 minutes):

* the image presets' training step (`multiscale_flow` and `maxpool_flow`, "cifar10", Adamax
  1e-3, batch 32) in Keras' loop without XLA, in Keras' loop with per-step XLA
  (`jit_compile=True`) and as compiled executions (`compiled_execution=True`), in float32 and
  under the "mixed_float16" policy; each configuration's FLOPs per step from TensorFlow's
  graph cost analysis, and the achieved FLOP/s against the card's datasheet peak (`PEAKS`,
  keyed by the device name) and against a large matrix product measured on the card;
* the 2-D flows' `fit` (compiled execution and Keras' loops) against JAX + optax on the same
  card.

The image configurations run in one separate process, in order of priority (`image_jobs`),
each only if the time left allows; what the budget leaves out is listed as skipped. With
`--quick` the same code runs at tiny sizes on whatever device there is (the CPU in the smoke
test).
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # JAX beside TensorFlow

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfp_survae as ts  # noqa: E402

# Datasheet dense peaks (no sparsity), TFLOP/s: (float32 on the CUDA cores, TF32 on the tensor
# cores, float16 on the tensor cores); None where the card has no such unit. The first key
# found in the device's name is used, so the more specific names come first.
PEAKS = (
    ("H200", (67.0, 494.7, 989.4)),  # the H100 SXM's chip
    ("H100 PCIe", (51.2, 378.0, 756.0)),
    ("H100", (67.0, 494.7, 989.4)),  # SXM
    ("A100", (19.5, 156.0, 312.0)),
    ("L4", (30.3, 60.0, 121.0)),
    ("V100", (15.7, None, 125.0)),
    ("T4", (8.1, None, 65.0)),
)

KERAS_GRAPH, KERAS_XLA, COMPILED = ("Keras' loop, no XLA", "Keras' loop, per-step XLA",
                                    "compiled execution")
EXECUTIONS = {KERAS_GRAPH: dict(jit_compile=False, compiled_execution=False),
              KERAS_XLA: dict(jit_compile=True, compiled_execution=False),
              COMPILED: dict(compiled_execution=True)}
PRECISIONS = ("float32", "mixed_float16")


def peak_for(name: str):
    """(key, (float32, TF32, float16) TFLOP/s) for a device name, or (None, None)."""
    for key, peaks in PEAKS:
        if key.lower() in name.lower():
            return key, peaks
    return None, None


def device() -> dict:
    """The device TensorFlow computes on: its type, name and (for a GPU) compute capability."""
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return {"type": "CPU", "name": "CPU", "details": {}}
    details = tf.config.experimental.get_device_details(gpus[0])
    return {"type": "GPU", "name": details.get("device_name", gpus[0].name),
            "details": {k: str(v) for k, v in details.items()}}


def matmul_tflops(dtype, size: int, chain: int = 10) -> float:
    """TFLOP/s of `chain` dependent [size, size] products in `dtype` (random operands; TF32 for
    float32 where TensorFlow enables it), the best of three timed calls after a warm-up."""
    a = tf.random.normal([size, size], dtype=tf.float32)
    b = tf.cast(tf.random.normal([size, size]) / np.sqrt(size), dtype)

    @tf.function
    def run(c):
        c = tf.cast(c, dtype)
        for _ in range(chain):
            c = tf.matmul(c, b)
        return tf.reduce_sum(tf.cast(c, tf.float32))

    float(run(a))
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        float(run(a))
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 * chain / best / 1e12


def step_flops(flow, x) -> int:
    """Floating-point operations of one training step's forward and backward pass (TensorFlow's
    graph cost analysis of the traced step at this batch; the optimizer update not counted)."""
    variables = flow.trainable_variables

    def gradients(x):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(flow.log_prob(x, seed=(1, 2), training=True))
        return tape.gradient(loss, variables)

    graph = tf.function(gradients).get_concrete_function(
        tf.TensorSpec(x.shape, x.dtype)).graph
    options = (tf.compat.v1.profiler.ProfileOptionBuilder(
        tf.compat.v1.profiler.ProfileOptionBuilder.float_operation())
        .with_empty_output().build())
    return int(tf.compat.v1.profiler.profile(graph, options=options).total_float_ops)


class _ExecutionTimer(keras.callbacks.Callback):
    """Seconds per epoch (one execution per epoch), taken after the epoch's logs are fetched
    (which waits for the device)."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        float((logs or {}).get("loss", 0.0))
        self.seconds.append(time.perf_counter() - self._start)


def _gpu_memory_reset():
    try:
        tf.config.experimental.reset_memory_stats("GPU:0")
    except (ValueError, tf.errors.NotFoundError):
        pass


def _gpu_memory_peak():
    try:
        return tf.config.experimental.get_memory_info("GPU:0")["peak"]
    except (ValueError, tf.errors.NotFoundError):
        return None


def image_jobs(quick: bool) -> list:
    """("time", pooling, precision, execution) and ("flops", pooling), in order of priority:
    what decides `compiled_execution="auto"` first (compiled executions against Keras' default
    loop on a GPU, per-step XLA), then the FLOP count, then the rest."""
    if quick:  # the smoke run: both precisions, no XLA compilation
        return [("time", "slice", p, KERAS_GRAPH) for p in PRECISIONS] + [("flops", "slice")]
    return ([("time", "slice", p, e) for p in PRECISIONS for e in (KERAS_XLA, COMPILED)]
            + [("flops", "slice")]
            + [("time", "slice", p, KERAS_GRAPH) for p in PRECISIONS]
            + [("time", "max", p, e) for p in PRECISIONS for e in (KERAS_XLA, COMPILED)]
            + [("flops", "max")])


def _image_setup(quick: bool) -> tuple:
    """(preset, settings, batch, steps per execution, timed executions)."""
    if quick:
        return "small", dict(image_shape=(4, 4, 1), num_scales=1, num_steps=1, depth=1), 4, 2, 1
    return "cifar10", {}, 32, 8, 4


def _time_training(flow, data, steps, executions) -> dict:
    timer = _ExecutionTimer()
    _gpu_memory_reset()
    flow.fit(data, epochs=executions + 1, steps_per_epoch=steps, verbose=0, callbacks=[timer])
    per_step = np.asarray(timer.seconds[1:]) * 1e3 / steps
    return dict(ms_per_step=float(np.median(per_step)), min_ms=float(per_step.min()),
                max_ms=float(per_step.max()), first_execution_s=timer.seconds[0],
                peak_memory_bytes=_gpu_memory_peak())


def image_rows(quick: bool, deadline: float, emit=print):
    """Runs `image_jobs` while the time left allows (a job is skipped when 1.2 times the longest
    so far would pass `deadline`) and emits one JSON-able dict per job: for "time", ms per step
    (median and range over the timed executions), the first execution's seconds (tracing,
    compilation included) and peak GPU memory; for "flops", `step_flops` at the batch."""
    preset, settings, batch, steps, executions = _image_setup(quick)
    shape = tuple(settings.get("image_shape", (32, 32, 3)))
    images = np.random.RandomState(0).randint(0, 256, ((executions + 1) * steps * batch,)
                                              + shape).astype("int32")
    data = tf.data.Dataset.from_tensor_slices(images).batch(batch).cache().repeat()
    longest = 0.0
    for job, pooling, *config in image_jobs(quick):
        row = dict(job=job, preset=preset, pooling=pooling, batch=batch,
                   steps_per_execution=steps)
        if job == "time":
            row.update(precision=config[0], execution=config[1])
        if longest and time.perf_counter() + 1.2 * longest > deadline:
            emit(dict(row, skipped="time budget"))
            continue
        start = time.perf_counter()
        keras.mixed_precision.set_global_policy(config[0] if config else "float32")
        try:
            keras.utils.set_random_seed(0)
            flow = ts.architectures.multiscale_flow(preset, pooling=pooling, **settings)
            row["parameters"] = ts.architectures.count_trainable_parameters(flow)
            if job == "flops":
                x = tf.constant(images[:batch])
                flow.initialize(x)
                row["flops_per_step"] = step_flops(flow, x)
            else:
                flow.compile(keras.optimizers.Adamax(1e-3), steps_per_execution=steps,
                             **EXECUTIONS[config[1]])
                row.update(_time_training(flow, data, steps, executions))
        except Exception as error:  # noqa: BLE001 (a failed job is a row, not the end)
            row["error"] = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
        finally:
            keras.mixed_precision.set_global_policy("float32")
            flow = None
            keras.backend.clear_session()
            gc.collect()
        row["seconds"] = time.perf_counter() - start
        longest = max(longest, row["seconds"])
        emit(row)


def image_task(quick: bool, budget_s: float):
    """Worker entry: `image_rows`, one JSON line per configuration as it finishes."""
    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)
    image_rows(quick, time.perf_counter() + budget_s,
               emit=lambda row: print(json.dumps(row), flush=True))
