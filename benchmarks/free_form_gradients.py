"""The gradients of the free-form layers, measured against the alternatives.

* `ContinuousFlow`: the adjoint method (TFP's `DormandPrince.solve`, the one the layer uses)
  against backpropagating through the solver's steps (its private `_solve`).
* `ResidualBlock`: the Neumann-series gradient of the Russian-roulette estimator (the one the
  layer uses) against backpropagating through the series' terms.

One gradient of the mean log-likelihood of a 2-D batch, compiled with `tf.function`; median
seconds over `--repeats` after one warm-up call. Run:
`python benchmarks/free_form_gradients.py`.
"""

from __future__ import annotations

import argparse
import time

import keras
import numpy as np
import tensorflow as tf

import tfp_survae as ts
from tfp_survae.transforms.bijections import residual


def _median_seconds(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _gradient_step(flow, x):
    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(flow.log_prob(x, seed=tf.constant([1, 2])))
        return [g for g in tape.gradient(loss, flow.trainable_variables)]

    return lambda: [g.numpy() for g in step()]


def _direct_solve(solver, ode_fn, initial_time, initial_state, solution_times, constants=None):
    """No adjoint: gradients through the solver's steps (its private `_solve`)."""
    constants = constants or {}
    return solver._solve(lambda t, y: ode_fn(t, y, **constants), initial_time, initial_state,
                         solution_times)


def continuous_flow(x, repeats):
    results = {}
    for name in ("adjoint", "direct"):
        keras.utils.set_random_seed(0)
        flow = ts.architectures.continuous_flow(2)
        if name == "direct":
            layer = flow.chain[0]
            original = layer._solver

            def patched(original=original):
                solver = original()
                solver.solve = lambda *a, **k: _direct_solve(solver, *a, **k)
                return solver

            layer._solver = patched
        grads = _gradient_step(flow, x)
        results[name] = _median_seconds(grads, repeats)
    return results


def _backprop_roulette(factors, eps, num_terms, exact_terms, p, x_size):
    dtype = eps.dtype
    value = tf.zeros_like(eps[:, 0])
    u = eps
    survival = lambda k: tf.pow(tf.constant(1.0 - p, dtype),
                                tf.cast(tf.maximum(k - exact_terms - 1, 0), dtype))
    k = tf.constant(1)

    def body(k, u, value):
        u = residual.vjp(factors, u, x_size)
        sign = tf.cast(1 - 2 * ((k + 1) % 2), dtype)
        value = value + sign / (tf.cast(k, dtype) * survival(k)) * tf.reduce_sum(u * eps, -1)
        return k + 1, u, value

    return tf.while_loop(lambda k, *_: k <= num_terms, body, (k, u, value))[2]


def residual_flow(x, repeats):
    results = {}
    for name in ("neumann", "backprop"):
        keras.utils.set_random_seed(0)
        flow = ts.architectures.residual_flow(2, num_blocks=10)
        flow.log_prob(x[:8])  # ActNorm's data-dependent initialisation
        original = residual.roulette_log_det
        if name == "backprop":
            residual.roulette_log_det = _backprop_roulette
        try:
            results[name] = _median_seconds(_gradient_step(flow, x), repeats)
        finally:
            residual.roulette_log_det = original
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    x = tf.constant(np.random.RandomState(0).randn(args.batch, 2).astype("float32"))
    for task, fn in (("continuous_flow(2)", continuous_flow), ("residual_flow(2)", residual_flow)):
        for name, seconds in fn(x, args.repeats).items():
            print(f"{task:22s} {name:9s} {seconds * 1e3:9.1f} ms per gradient step")


if __name__ == "__main__":
    main()
