"""The picture of the conditional tutorial: p(x | theta) of a conditional flow on the two-moons
simulator, for three values of theta, over the simulator's own draws.

Trains `masked_autoregressive_flow(2, condition_size=2)` (affine) with the settings of
examples/density_estimation.py (3 layers, MADE 64-64, Adam 1e-3, batch 256, 3,000 steps, 20,000
simulations, seed 0) and writes docs/img/tutorials/conditional.png. Run from the repository root
(about a minute on a 2-core CPU):

    python docs/img/make_conditional.py
"""

from __future__ import annotations

import os
import sys

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfp_survae as ts  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, os.pardir, "examples"))
from density_estimation import conditional_two_moons  # noqa: E402

THETAS = [(0.0, 0.0), (0.6, 0.2), (-0.3, -0.5)]
STEPS, BATCH, SEED = 3000, 256, 0


def train():
    keras.utils.set_random_seed(SEED)
    x, theta = conditional_two_moons(20_000, 100)
    flow = ts.architectures.masked_autoregressive_flow(2, num_layers=3, hidden_units=(64, 64),
                                                       condition_size=2)
    data = tf.data.Dataset.from_tensor_slices({"x": x, "condition": theta})
    data = data.shuffle(len(x), seed=SEED).batch(BATCH, drop_remainder=True).repeat()
    flow.compile(keras.optimizers.Adam(1e-3))
    flow.fit(data, steps_per_epoch=STEPS, epochs=1, verbose=0)
    x_test, theta_test = conditional_two_moons(20_000, 200)
    nll = -float(np.mean(flow.log_prob(x_test, condition=theta_test)))
    return flow, nll


def simulate_at(theta, n, seed):
    """n draws of x | theta from the simulator (the same formula as conditional_two_moons)."""
    rng = np.random.RandomState(seed)
    angle = rng.uniform(-np.pi / 2, np.pi / 2, n)
    radius = rng.normal(0.1, 0.01, n)
    t0, t1 = theta
    center = np.array([0.25 - abs(t0 + t1) / np.sqrt(2), (-t0 + t1) / np.sqrt(2)])
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1) + center, center


def main():
    flow, nll = train()
    fig, axes = plt.subplots(1, len(THETAS), figsize=(4 * len(THETAS), 4.2))
    for ax, theta in zip(axes, THETAS):
        draws, center = simulate_at(theta, 300, seed=1)
        span = 0.22
        axis_x = np.linspace(center[0] - span, center[0] + span, 200)
        axis_y = np.linspace(center[1] - span, center[1] + span, 200)
        xx, yy = np.meshgrid(axis_x, axis_y)
        points = np.stack([xx.ravel(), yy.ravel()], 1).astype("float32")
        condition = np.tile(np.asarray(theta, "float32"), (len(points), 1))
        density = np.exp(flow.log_prob(points, condition=condition).numpy()).reshape(xx.shape)
        ax.pcolormesh(axis_x, axis_y, density, shading="auto", cmap="viridis")
        ax.scatter(draws[:, 0], draws[:, 1], s=2, c="white", alpha=0.7, linewidths=0)
        ax.set_aspect("equal")
        ax.set_title(f"p(x | theta = {theta})", fontsize=10)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"conditional MAF on the two-moons simulator (white: simulator draws); "
                 f"test NLL {nll:.3f} nats", fontsize=10)
    fig.tight_layout()
    os.makedirs(os.path.join(HERE, "tutorials"), exist_ok=True)
    path = os.path.join(HERE, "tutorials", "conditional.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"test NLL {nll:.3f} nats; wrote {path}")


if __name__ == "__main__":
    main()
