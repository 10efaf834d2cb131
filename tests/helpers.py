"""Numerical ground-truth tools shared by the likelihood tests."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def grid_1d(low, high, num):
    """Midpoints and spacing of a uniform 1-D grid."""
    edges = np.linspace(low, high, num + 1)
    return 0.5 * (edges[1:] + edges[:-1]), edges[1] - edges[0]


def grid_2d(low, high, num):
    """[num * num, 2] midpoints of a uniform 2-D grid and the cell area."""
    mids, step = grid_1d(low, high, num)
    xx, yy = np.meshgrid(mids, mids, indexing="ij")
    return np.stack([xx.ravel(), yy.ravel()], axis=1), step * step


def batched(fn, points, batch=65536, dtype="float32"):
    """Evaluates fn on `points` in batches and concatenates the results as float64."""
    out = []
    for start in range(0, len(points), batch):
        out.append(np.asarray(fn(tf.constant(points[start:start + batch], dtype)), np.float64))
    return np.concatenate(out)


def histogram_2d(samples, low, high, bins):
    counts, _, _ = np.histogram2d(
        samples[:, 0], samples[:, 1], bins=bins, range=[[low, high], [low, high]]
    )
    return counts / len(samples)


def bin_probabilities_2d(log_prob_fn, low, high, bins, refine=6, dtype="float32"):
    """Probability of each bin of a 2-D histogram by midpoint quadrature of exp(log_prob)."""
    points, area = grid_2d(low, high, bins * refine)
    density = np.exp(batched(log_prob_fn, points, dtype=dtype)).reshape(bins * refine, bins * refine)
    return density.reshape(bins, refine, bins, refine).sum(axis=(1, 3)) * area


def total_variation(p, q):
    return 0.5 * np.abs(np.asarray(p) - np.asarray(q)).sum()
