"""Where the time of one compiled execution goes (2-D coupling flow, batch 128, 32 steps).

    python benchmarks/profile_execution.py

Times, per training step: pulling the batches from the tf.data iterator, stacking them, the
data check, the XLA program alone, and whole `fit` epochs with and without the
`StopOnInvalidLoss` callback (medians of 5 rounds). The invalid-step guard itself is part of
the program.
"""

from __future__ import annotations

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from models_tf import survae_flow  # noqa: E402

import tfp_survae as ts  # noqa: E402
from tfp_survae.training import compiled  # noqa: E402

STEPS, EXECUTIONS, ROUNDS = 640, 20, 5


class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start


def main():
    flow = survae_flow()
    flow.compile(keras.optimizers.Adam(1e-3), compiled_execution=True)
    data = ts.data.sample_toy("checkerboard", 128 * STEPS).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(128, drop_remainder=True).cache()
    flow.fit(dataset.take(64), epochs=1, verbose=0)
    function, iterator = flow.train_function, iter(dataset.repeat())
    per_step = 1e3 / (EXECUTIONS * 32)
    times = {}

    def timed(name, fn):
        start = time.perf_counter()
        for _ in range(EXECUTIONS):
            out = fn()
        times.setdefault(name, []).append((time.perf_counter() - start) * per_step)
        return out

    for _ in range(ROUNDS):
        batches = timed("pull 32 batches", lambda: compiled._pull(iterator, 32))
        stacked = timed("stack them", lambda: tf.stack(batches))
        timed("check the values", lambda: compiled.check_values(flow, stacked))
        timed("the XLA program", lambda: function.run_stacked(stacked)["loss"].numpy())
        for stop in (True, False):
            timer = EpochTimer()
            flow.fit(dataset, epochs=1, verbose=0, callbacks=[timer],
                     stop_on_invalid_loss=stop)
            times.setdefault(f"fit epoch, callback {'on' if stop else 'off'}", []).append(
                timer.seconds / STEPS * 1e3)
    for name, values in times.items():
        print(f"{name:24s} {np.median(values):.3f} ms per step")


if __name__ == "__main__":
    main()
