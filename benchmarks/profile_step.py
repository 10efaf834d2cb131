"""Where a training step of the 2-D flow spends its time, in TensorFlow and in PyTorch.

    python benchmarks/profile_step.py            # prints a table; --steps to change the length

Splits a step into its phases (log_prob alone, log_prob with gradients, the whole step with
Adam), each timed as 32 steps per compiled call in TensorFlow (hand-written and tfp_survae) and
eagerly in PyTorch, interleaved. Run it under `py-spy record --native` to see the native frames.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from models_tf import HandWrittenFlow, survae_flow  # noqa: E402
from timing import Variant, interleave, timed  # noqa: E402

import tfp_survae as ts  # noqa: E402

CALL = 32


def tf_phases(name, log_prob, variables, x):
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(variables)

    @tf.function
    def forward():
        total = tf.constant(0.0)
        for _ in tf.range(CALL):
            total += tf.reduce_mean(log_prob(x))
        return total

    @tf.function
    def gradients():
        total = tf.constant(0.0)
        for _ in tf.range(CALL):
            with tf.GradientTape() as tape:
                loss = -tf.reduce_mean(log_prob(x))
            total += tf.add_n([tf.reduce_sum(g) for g in tape.gradient(loss, variables)])
        return total

    @tf.function
    def step():
        loss = tf.constant(0.0)
        for _ in tf.range(CALL):
            with tf.GradientTape() as tape:
                loss = -tf.reduce_mean(log_prob(x))
            optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    def runner(fn):
        return lambda n: timed(lambda: [fn() for _ in range(n // CALL)][-1].numpy())

    return [Variant(f"{name}: log_prob", runner(forward)),
            Variant(f"{name}: log_prob + gradients", runner(gradients)),
            Variant(f"{name}: whole step (Adam)", runner(step))]


def torch_phases(x_np):
    import models_torch as pt
    import torch

    model = pt.CouplingFlow()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.tensor(x_np)

    def forward(n):
        with torch.no_grad():
            return timed(lambda: [model.log_prob(x).mean() for _ in range(n)])

    def gradients(n):
        def body():
            for _ in range(n):
                model.zero_grad(set_to_none=True)
                (-model.log_prob(x).mean()).backward()
        return timed(body)

    def step(n):
        def body():
            for _ in range(n):
                optimizer.zero_grad(set_to_none=True)
                (-model.log_prob(x).mean()).backward()
                optimizer.step()
        return timed(body)

    return [Variant("PyTorch eager: log_prob", forward),
            Variant("PyTorch eager: log_prob + gradients", gradients),
            Variant("PyTorch eager: whole step (Adam)", step)]


def profile_table(steps: int = 320, repetitions: int = 5) -> list:
    """The phase table as markdown lines (tfp_survae, hand-written TF, PyTorch eager)."""
    keras.utils.set_random_seed(0)
    x_np = ts.data.sample_toy("checkerboard", 128)
    x = tf.constant(x_np)
    flow, hand = survae_flow(), HandWrittenFlow()
    variants = (tf_phases("tfp_survae", flow.log_prob, flow.trainable_variables, x)
                + tf_phases("hand-written TF", hand.log_prob, hand.trainable_variables, x))
    if importlib.util.find_spec("torch"):
        variants += torch_phases(x_np)
    results = interleave(variants, steps, repetitions)
    lines = ["| phase | ms / step (median) | range |", "|---|---|---|"]
    for v in variants:
        r = results[v.name]
        lines.append(f"| {v.name} | {r['median_ms']:.3f} | {r['min_ms']:.3f}-{r['max_ms']:.3f} |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=320)
    parser.add_argument("--repetitions", type=int, default=5)
    args = parser.parse_args(argv)
    print("\n".join(profile_table(args.steps, args.repetitions)))


if __name__ == "__main__":
    main()
