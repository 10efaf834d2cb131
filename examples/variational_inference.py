"""Variational inference with a flow surrogate, through TFP's own `fit_surrogate_posterior`.

The target is a banana-shaped unnormalized density with a known normalizer:

    log p~(x) = -x1^2 / (2 s^2) - (x2 - b (x1^2 - s^2))^2 / 2,     Z = 2 pi s,

(a Gaussian bent by a shear of unit Jacobian). A coupling flow, viewed as a `tfd.Distribution`
with `flow.as_distribution()`, is the surrogate; `tfp.vi.fit_surrogate_posterior` finds its
variables by itself (no variable list) and trains it by the reparameterized ELBO. The script
prints the final ELBO against log Z (their gap is KL(q || p) >= 0) and plots the fitted density
over the target's contours.

    python examples/variational_inference.py --update-results
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_survae as ts
from results_dir import add_output_arguments, output_dir

tfd = tfp.distributions

# Contours of the unnormalized log-density (its maximum is 0).
CONTOURS = [-12.0, -8.0, -5.0, -3.0, -1.5, -0.5]


def banana_log_prob(x, scale: float = 2.0, bend: float = 0.5):
    """The unnormalized banana log-density; its log normalizer is log(2 pi scale)."""
    x1, x2 = x[..., 0], x[..., 1]
    return -0.5 * (x1 / scale) ** 2 - 0.5 * (x2 - bend * (x1**2 - scale**2)) ** 2


def banana_log_normalizer(scale: float = 2.0) -> float:
    return math.log(2.0 * math.pi * scale)


def coupling_surrogate(num_couplings: int = 4, hidden=(64, 64)) -> ts.Flow:
    """A RealNVP surrogate: affine couplings with the order reversed between them."""
    transforms = [ts.ActNorm()]
    for i in range(num_couplings):
        transforms.append(ts.AffineCoupling(ts.MLP(hidden, 2)))
        transforms.append(ts.Reverse())
    flow = ts.Flow(ts.StandardNormal([2]), transforms)
    flow.initialize(np.random.RandomState(0).randn(256, 2).astype("float32"))
    return flow


def fit_surrogate(target_log_prob, *, steps: int, sample_size: int, lr: float, seed: int):
    """Trains a flow surrogate by `tfp.vi.fit_surrogate_posterior`; returns (flow, losses)."""
    keras.utils.set_random_seed(seed)
    flow = coupling_surrogate()
    surrogate = flow.as_distribution()
    losses = tfp.vi.fit_surrogate_posterior(
        target_log_prob,
        surrogate_posterior=surrogate,  # its trainable_variables are the flow's
        optimizer=keras.optimizers.Adam(lr),
        num_steps=steps,
        sample_size=sample_size,
        seed=(seed, 1),
    )
    return flow, losses.numpy()


def elbo(flow, target_log_prob, num: int = 100_000, seed=(7, 7)) -> tuple[float, float]:
    """Monte Carlo ELBO E_q[log p~(x) - log q(x)] and its standard error."""
    x, log_q = flow.sample_and_log_prob(num, seed=seed)
    terms = np.asarray(target_log_prob(x) - log_q)
    return float(terms.mean()), float(terms.std() / math.sqrt(num))


def target_grid(target_log_prob, xlim, ylim, size=200):
    """(xs, ys, grid points [size^2, 2], log p~ on the grid [size, size]) for contour plots."""
    xs, ys = np.linspace(*xlim, size), np.linspace(*ylim, size)
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2).astype("float32")
    log_p = np.asarray(target_log_prob(tf.constant(grid))).reshape(size, size)
    return xs, ys, grid, log_p


def save_figure(fig, path):
    import matplotlib.pyplot as plt

    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot(flow, target_log_prob, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lo, hi = (-6.0, 6.0), (-4.0, 10.0)
    xs, ys, grid, log_p = target_grid(target_log_prob, lo, hi)
    q = np.exp(flow.log_prob(grid).numpy()).reshape(len(ys), len(xs))
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(q, origin="lower", extent=(*lo, *hi), cmap="viridis", aspect="auto")
    ax.contour(xs, ys, log_p, levels=CONTOURS, colors="white", linewidths=0.8)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    save_figure(fig, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--sample_size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval_samples", type=int, default=100_000)
    add_output_arguments(parser, "tfp")
    args = parser.parse_args(argv)
    args.output = output_dir(parser, args, "tfp")

    start = time.perf_counter()
    flow, losses = fit_surrogate(banana_log_prob, steps=args.steps,
                                 sample_size=args.sample_size, lr=args.lr, seed=args.seed)
    seconds = time.perf_counter() - start
    value, error = elbo(flow, banana_log_prob, args.eval_samples)
    log_z = banana_log_normalizer()
    gap = log_z - value
    print(f"trained {args.steps} steps in {seconds:.1f} s")
    print(f"ELBO {value:.4f} +- {error:.4f} nats; log Z = {log_z:.4f}; gap (KL(q || p)) "
          f"{gap:.4f} nats")
    os.makedirs(args.output, exist_ok=True)
    path = os.path.join(args.output, "vi_banana.png")
    plot(flow, banana_log_prob, path, f"flow surrogate (colour) over the banana (contours)\n"
                                      f"ELBO {value:.3f}, log Z {log_z:.3f}")
    results = {"elbo": value, "elbo_standard_error": error, "log_z": log_z, "gap": gap,
               "steps": args.steps, "seconds": seconds, "final_loss": float(losses[-1])}
    with open(os.path.join(args.output, "vi_banana.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(f"wrote {path}")
    return results


if __name__ == "__main__":
    main()
