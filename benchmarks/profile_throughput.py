"""Where `log_prob` and `sample` of the 2-D flows spend their time, against jitted JAX.

    python benchmarks/profile_throughput.py                # all three models, batch 1024, 4096
    python benchmarks/profile_throughput.py --models "coupling flow" --batches 1024

For each model, operation and batch, these run interleaved in one process, a few calls per
repetition, many repetitions:

* tfp_survae's compiled function (`log_prob_function()` / `sample_function()`: the argument
  checks in a graph, the model in an XLA program);
* the same XLA program without the checks (`flow.log_prob` / `flow.sample` in a
  `jit_compile=True` tf.function);
* the same math hand-written in TensorFlow on the flow's own networks (no tfp_survae layers, no
  TFP, one Philox draw per random tensor), with and without XLA;
* the same math in JAX (`models_jax`), through `jax.jit`;
* the per-call cost: each kind of function on a batch of 8.

It prints wall time (median, range) and process CPU time per call, and each variant's time
over JAX's in the same repetition (median and range of those ratios): on a loaded machine,
the ratio of neighbouring calls is steadier than either time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import math  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from models_tf import abs_flow, augmented_flow, survae_flow  # noqa: E402

import tfp_survae as ts  # noqa: E402

BUILDERS = {"coupling flow": survae_flow, "AbsFlow": abs_flow, "augmented flow": augmented_flow}
HALF_LOG_TWO_PI = 0.5 * math.log(2 * math.pi)


class HandWritten:
    """The flow's math written directly in TensorFlow on the flow's own networks: the models of
    `models_jax` line by line (4 affine couplings with exp scale, reversed between them)."""

    def __init__(self, flow: ts.Flow, label: str):
        self.nets = [t.network for t in flow.chain if isinstance(t, ts.AffineCoupling)]
        self.label = label

    def _couplings_inverse(self, x):
        half = x.shape[-1] // 2
        total = 0.0
        for i, net in enumerate(self.nets):
            x_a, x_b = x[:, :half], x[:, half:]
            shift, log_scale = tf.split(net(x_a), 2, axis=-1)
            x = tf.concat([x_a, x_b * tf.exp(log_scale) + shift], axis=-1)
            total += tf.reduce_sum(log_scale, axis=-1)
            if i < len(self.nets) - 1:
                x = tf.reverse(x, axis=[-1])
        return x, total

    def _couplings_forward(self, z):
        half = z.shape[-1] // 2
        for i in reversed(range(len(self.nets))):
            if i < len(self.nets) - 1:
                z = tf.reverse(z, axis=[-1])
            z_a, z_b = z[:, :half], z[:, half:]
            shift, log_scale = tf.split(self.nets[i](z_a), 2, axis=-1)
            z = tf.concat([z_a, (z_b - shift) * tf.exp(-log_scale)], axis=-1)
        return z

    @staticmethod
    def _normal(z):
        return tf.reduce_sum(-0.5 * tf.square(z) - HALF_LOG_TWO_PI, axis=-1)

    def _coupling_log_prob(self, x):
        z, log_det = self._couplings_inverse(x)
        return self._normal(z) + log_det

    def log_prob(self, x, seed):
        if self.label == "AbsFlow":
            u = tf.abs(x) / 4.0
            y = tf.math.log(u) - tf.math.log1p(-u)
            log_det = tf.reduce_sum(-math.log(4.0) - tf.math.log(u) - tf.math.log1p(-u), -1)
            return self._coupling_log_prob(y) + log_det - 2 * math.log(2.0)
        if self.label == "augmented flow":
            e = tf.random.stateless_normal(tf.shape(x), seed, alg="philox")
            return self._coupling_log_prob(tf.concat([x, e], -1)) - self._normal(e)
        return self._coupling_log_prob(x)

    def sample(self, n, seed):
        dims = 4 if self.label == "augmented flow" else 2
        noise, signs = tf.unstack(tf.random.experimental.stateless_split(seed, 2, alg="philox"))
        x = self._couplings_forward(tf.random.stateless_normal([n, dims], noise, alg="philox"))
        if self.label == "AbsFlow":
            flip = tf.random.stateless_uniform([n, 2], signs, alg="philox") < 0.5
            return tf.where(flip, -1.0, 1.0) * 4.0 * tf.sigmoid(x)
        return x[:, :2]


def _data(label, batch):
    x = ts.data.sample_toy("checkerboard", batch).astype("float32")
    return np.clip(x, -3.9, 3.9) if label == "AbsFlow" else x


TFP_SURVAE, PROGRAM, HAND_XLA, HAND_GRAPH, JAX = (
    "tfp_survae compiled function", "tfp_survae XLA program, no checks", "hand-written TF, XLA",
    "hand-written TF, no XLA", "JAX jit")
KINDS = (TFP_SURVAE, PROGRAM, HAND_XLA, HAND_GRAPH, JAX)


def variants(label, op, batch, kinds=KINDS) -> dict:
    """{kind: a no-argument callable running one call and fetching its result} for the `kinds`
    asked for; `op` is "log_prob" or "sample"."""
    import jax
    import models_jax as mj

    flow, model = BUILDERS[label](), mj.HandWritten(label)
    hand = HandWritten(flow, label)
    seed, key = tf.constant([1, 2]), jax.random.PRNGKey(0)
    if op == "log_prob":
        x = _data(label, batch)
        arguments, jax_call = (tf.constant(x), seed), lambda: model.jit_log_prob(
            model.params, x, key)
        checked = flow.log_prob_function(with_seed=True)
        program = tf.function(lambda x, s: flow.log_prob(x, seed=s), jit_compile=True)
        hand_fn = hand.log_prob
    else:
        arguments, jax_call = (tf.constant(batch), seed), lambda: model.jit_sample(
            model.params, key, batch)
        checked = flow.sample_function()
        program = tf.function(lambda n, s: flow.sample(n, seed=s), jit_compile=True)
        hand_fn = hand.sample
    functions = {TFP_SURVAE: checked, PROGRAM: program,
                 HAND_XLA: tf.function(hand_fn, jit_compile=True),
                 HAND_GRAPH: tf.function(hand_fn)}
    if op == "log_prob" and label != "augmented flow":  # the same function: check it first
        np.testing.assert_allclose(checked(*arguments).numpy(),
                                   functions[HAND_XLA](*arguments).numpy(), rtol=2e-4, atol=2e-4)
    calls = {kind: (lambda f=f: f(*arguments).numpy()) for kind, f in functions.items()}
    calls[JAX] = lambda: np.asarray(jax_call())
    return {kind: calls[kind] for kind in kinds}


def calls_per_repetition(batch: int) -> int:
    return 20 if batch <= 128 else (4 if batch <= 1024 else 2)


def measure(calls: dict, per_repetition: int, repetitions: int) -> dict:
    """Interleaved: each repetition runs every callable `per_repetition` times in turn, the
    order rotated by one each repetition (no variant always follows the same one). Returns
    {name: (wall ms per call list, cpu ms per call list)}."""
    for fn in calls.values():  # warm-up: tracing, XLA compilation
        for _ in range(3):
            fn()
    times = {name: ([], []) for name in calls}
    names = list(calls)
    for r in range(repetitions):
        for name in names[r % len(names):] + names[: r % len(names)]:
            fn = calls[name]
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(per_repetition):
                fn()
            times[name][0].append((time.perf_counter() - wall) * 1e3 / per_repetition)
            times[name][1].append((time.process_time() - cpu) * 1e3 / per_repetition)
    return times


def table(label, op, batch, times, reference=JAX) -> list:
    ref = np.asarray(times[reference][0])
    rows = []
    for name, (wall, cpu) in times.items():
        ratio = np.asarray(wall) / ref
        rows.append(f"| {label} | {op} | {batch} | {name} | {np.median(wall):.3f} | "
                    f"{min(wall):.3f}-{max(wall):.3f} | {np.median(cpu):.3f} | "
                    f"{np.median(ratio):.2f} ({ratio.min():.2f}-{ratio.max():.2f}) |")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(BUILDERS), choices=list(BUILDERS))
    parser.add_argument("--ops", nargs="+", default=["log_prob", "sample"])
    parser.add_argument("--batches", nargs="+", type=int, default=[8, 1024, 4096])
    parser.add_argument("--repetitions", type=int, default=30)
    args = parser.parse_args(argv)
    print("| model | operation | batch | variant | wall ms / call (median) | range | "
          "CPU ms / call | time / JAX's (median, range) |")
    print("|---|---|---|---|---|---|---|---|")
    for label in args.models:
        for op in args.ops:
            for batch in args.batches:
                times = measure(variants(label, op, batch), calls_per_repetition(batch),
                                args.repetitions)
                print("\n".join(table(label, op, batch, times)), flush=True)


if __name__ == "__main__":
    main()
