"""Memory-isolated benchmark tasks, one per process: `python worker.py TASK JSON_ARGS`.

Prints one JSON line with times in seconds and memory in KiB (peak = the process's high-water
resident set, so it includes TensorFlow itself; `rest_rss_kb` is the resident set after the model
is built, before the measured work); "gpu_images" prints one line per configuration.
"""

from __future__ import annotations

import json
import sys
import time

import keras
import numpy as np
import tensorflow as tf
from gpu import image_task as gpu_image_task
from timing import memory_kb

import tfp_survae as ts


def image_task(preset, pooling, batch, xla, image_size=None, repetitions=2):
    keras.utils.set_random_seed(0)
    settings = {} if image_size is None else {"image_shape": (image_size, image_size, 3)}
    start = time.perf_counter()
    flow = ts.architectures.multiscale_flow(preset, pooling=pooling, **settings)
    build = time.perf_counter() - start
    shape = flow.event_shape.as_list()
    x = tf.constant(np.random.RandomState(0).randint(0, 256, [batch] + shape), tf.int32)
    flow.initialize(x)
    optimizer = keras.optimizers.Adamax(1e-3)
    optimizer.build(flow.trainable_variables)
    rest = memory_kb()["rss_kb"]

    @tf.function(jit_compile=xla)
    def train(x):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(flow.log_prob(x, seed=(1, 2), training=True))
        optimizer.apply(tape.gradient(loss, flow.trainable_variables), flow.trainable_variables)
        return loss

    log_prob = tf.function(lambda x: flow.log_prob(x, seed=(1, 2)), jit_compile=xla)
    sample = tf.function(lambda: flow.sample(batch, seed=(3, 4)), jit_compile=xla)
    result = {"build_s": build, "parameters": ts.architectures.count_trainable_parameters(flow),
              "rest_rss_kb": rest}
    for name, fn in (("train_step", lambda: train(x)), ("log_prob", lambda: log_prob(x)),
                     ("sample", sample)):
        start = time.perf_counter()
        fn().numpy()
        result[f"{name}_first_s"] = time.perf_counter() - start  # tracing (+ XLA compile)
        times = []
        for _ in range(repetitions):
            start = time.perf_counter()
            fn().numpy()
            times.append(time.perf_counter() - start)
        result[f"{name}_s"] = float(np.median(times))
    result.update(memory_kb())
    return result


def iwbo_task(k, batch_k, batch, repetitions=2):
    keras.utils.set_random_seed(0)
    flow = ts.Flow(ts.StandardNormal([4]), [ts.Augment(2)] + [
        t for i in range(4) for t in (ts.AffineCoupling(ts.MLP([200, 100], 4)), ts.Reverse())
    ][:-1])
    x = ts.data.sample_toy("eight_gaussians", batch)
    rest = memory_kb()["rss_kb"]
    start = time.perf_counter()
    ts.evaluation.iwbo(flow, x, k, seed=(0, 0), batch_k=batch_k).numpy()
    first = time.perf_counter() - start
    times = []
    for i in range(repetitions):
        start = time.perf_counter()
        ts.evaluation.iwbo(flow, x, k, seed=(i, 1), batch_k=batch_k).numpy()
        times.append(time.perf_counter() - start)
    return {"first_s": first, "seconds": float(np.median(times)), "rest_rss_kb": rest,
            **memory_kb()}


def memory_fit_task(label, units, reps, tf_xla_flags=""):
    """`run.fit_against_jax` in this process: {variant: [[wall, CPU seconds], ...]}."""
    import run

    return run.fit_against_jax(label, units, reps, tf_xla_flags)


TASKS = {"image": image_task, "iwbo": iwbo_task, "gpu_images": gpu_image_task,
         "memory_fit": memory_fit_task}

if __name__ == "__main__":
    task, arguments = sys.argv[1], json.loads(sys.argv[2])
    result = TASKS[task](**arguments)
    if result is not None:  # a streaming task printed its own lines
        print(json.dumps(result), flush=True)
