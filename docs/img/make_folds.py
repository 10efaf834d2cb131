"""Pictures of the Layer guide: how Abs, Max and Sort fold a 2-D density.

Each picture is made from a fixed (untrained) flow whose densities are exact: on the left the
data density p(x) = exp(flow.log_prob(x)) with samples from `flow.sample` (the forward
direction) on top, on the right the latent density p(z) of z = inverse(x), i.e. the density of
the rest of the flow. Run from the repository root:

    python docs/img/make_folds.py            # writes docs/img/{abs,max,sort}_fold.png
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

import tfp_survae as ts  # noqa: E402

tfd, tfb = tfp.distributions, tfp.bijectors
HERE = os.path.dirname(os.path.abspath(__file__))
LIMITS = (-4.0, 4.0)
GRID = 240


def grid_density(log_prob, limits=LIMITS, size=GRID):
    """(axis, density [size, size]) of exp(log_prob) on a square grid; density[i, j] is at
    (axis[j], axis[i])."""
    axis = np.linspace(*limits, size)
    xx, yy = np.meshgrid(axis, axis)
    points = np.stack([xx.ravel(), yy.ravel()], 1).astype("float32")
    density = np.exp(np.asarray(log_prob(points), np.float64)).reshape(size, size)
    return axis, np.where(np.isfinite(density), density, 0.0)


def heat(ax, axis, density, title, samples=None):
    ax.pcolormesh(axis, axis, density, shading="auto", cmap="viridis",
                  vmax=float(np.percentile(density, 99.7)))
    if samples is not None:
        ax.scatter(samples[:, 0], samples[:, 1], s=1.5, c="white", alpha=0.6, linewidths=0)
    ax.set_xlim(*LIMITS)
    ax.set_ylim(*LIMITS)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=10)
    ax.set_xticks([-4, -2, 0, 2, 4])
    ax.set_yticks([-4, -2, 0, 2, 4])
    ax.tick_params(labelsize=7)


def save(fig, name):
    path = os.path.join(HERE, name)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"wrote {path}")


def abs_fold():
    """Abs of both coordinates: four mirrored copies of a density on the positive quadrant."""
    base = tfd.MultivariateNormalTriL([0.8, -0.2], [[0.7, 0.0], [0.5, 0.6]])
    onto_reals = ts.BijectorTransform(tfb.Softplus())   # z in (0, inf)^2 <- u in R^2
    flow = ts.Flow(base, [ts.Abs(), onto_reals])
    latent = ts.Flow(base, [onto_reals])                # the density of z = |x|
    fig, axes = plt.subplots(1, 2, figsize=(8, 4))
    heat(axes[0], *grid_density(flow.log_prob), "data: p(x), with samples",
         flow.sample(1500, seed=(0, 1)).numpy())
    heat(axes[1], *grid_density(latent.log_prob), "latent: p(z) of z = |x|")
    save(fig, "abs_fold.png")


def max_fold():
    """Max over 2 coordinates: a 1-D latent spread into 2-D below its value."""
    base = tfd.Normal(1.0, 0.8)
    flow = ts.Flow(base, [ts.Max()], event_shape=[2])   # uniform index, half-normal gap
    axis, density = grid_density(flow.log_prob)
    samples = flow.sample(1500, seed=(0, 2)).numpy()
    fig, axes = plt.subplots(1, 2, figsize=(8, 4))
    heat(axes[0], axis, density, "data: p(x), with samples", samples)
    axes[0].plot(LIMITS, LIMITS, color="white", linewidth=0.6, linestyle=":")
    zs = np.linspace(*LIMITS, 400)
    axes[1].plot(zs, base.prob(zs), color="tab:blue", label="base p(z)")
    axes[1].hist(samples.max(axis=1), bins=60, range=LIMITS, density=True, color="tab:orange",
                 alpha=0.5, label="max of the samples")
    axes[1].set_xlim(*LIMITS)
    axes[1].set_box_aspect(1)
    axes[1].set_title("latent: p(z) of z = max(x1, x2)", fontsize=10)
    axes[1].legend(fontsize=8, loc="upper left")
    axes[1].tick_params(labelsize=7)
    save(fig, "max_fold.png")


def sort_fold():
    """Sort of 2 coordinates: the data density is symmetric about x1 = x2, the latent lives
    on z1 <= z2. The latent density is a flow of its own (a GenerativeSort, exact)."""
    gaussian = tfd.MultivariateNormalTriL([1.2, -0.8], [[0.9, 0.0], [-0.4, 0.7]])
    sorted_pairs = ts.Flow(gaussian, [ts.GenerativeSort(exact=True)])   # density on z1 <= z2
    flow = ts.Flow(sorted_pairs, [ts.Sort()])           # flows as bases (paper Eq. 3)
    fig, axes = plt.subplots(1, 2, figsize=(8, 4))
    heat(axes[0], *grid_density(flow.log_prob), "data: p(x), with samples",
         flow.sample(1500, seed=(0, 3)).numpy())
    heat(axes[1], *grid_density(sorted_pairs.log_prob), "latent: p(z) of z = sort(x)")
    for ax in axes:
        ax.plot(LIMITS, LIMITS, color="white", linewidth=0.6, linestyle=":")
    save(fig, "sort_fold.png")


if __name__ == "__main__":
    abs_fold()
    max_fold()
    sort_fold()
