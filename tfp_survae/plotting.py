"""Pictures of flows: 2-D densities, 2-D samples and image grids, written as PNG files."""

from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

__all__ = ["density_grid_2d", "plot_density_2d", "plot_samples_2d", "save_image_grid"]


def density_grid_2d(log_prob_fn: Callable[[tf.Tensor], Any],
                    bounds: Sequence[float] = (-4.0, 4.0), grid_size: int = 200,
                    batch: int = 16384, dtype: str | np.dtype = "float32"
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evaluates exp(log_prob_fn) on a grid_size x grid_size grid over bounds^2.

    Args:
      log_prob_fn: points [n, 2] -> log-densities [n] (`flow.log_prob`).
      bounds: (low, high) of both axes.
      grid_size: grid points per axis.
      batch: points per call of `log_prob_fn`.
      dtype: the dtype of the points.

    Returns:
      (xs, ys, density) with density[i, j] at (xs[j], ys[i]); 0 where log_prob_fn is NaN.

    Examples:
      >>> flow = ts.Flow(ts.StandardNormal([2]), [])
      >>> xs, ys, density = ts.plotting.density_grid_2d(flow.log_prob, grid_size=5)
      >>> density.shape, round(float(density[2, 2]), 4)        # 1 / (2 pi) at the origin
      ((5, 5), 0.1592)
    """
    low, high = bounds
    axis = np.linspace(low, high, grid_size)
    xx, yy = np.meshgrid(axis, axis)
    points = np.stack([xx.ravel(), yy.ravel()], axis=1).astype(dtype)
    values = [
        np.asarray(log_prob_fn(tf.constant(points[i:i + batch])))
        for i in range(0, len(points), batch)
    ]
    density = np.exp(np.concatenate(values)).reshape(grid_size, grid_size)
    # Outside a flow's support log_prob may be NaN (e.g. a logit past 1): density 0 there.
    density = np.where(np.isfinite(density), density, 0.0)
    return axis, axis, density


def _save(fig, path):
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    fig.savefig(path, bbox_inches="tight", pad_inches=0.05)
    plt.close(fig)


def _square_plot(draw, path, title):
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    draw(ax)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    _save(fig, path)
    return path


def plot_density_2d(log_prob_fn: Callable[[tf.Tensor], Any], path: str,
                    bounds: Sequence[float] = (-4.0, 4.0), grid_size: int = 200,
                    title: str | None = None, vmax: float | None = None) -> str:
    """Writes a PNG heat map of the density exp(log_prob_fn(x)) over bounds^2.

    Args:
      log_prob_fn: points [n, 2] -> log-densities [n] (`flow.log_prob`).
      path: the PNG file (its directory is created).
      bounds: (low, high) of both axes.
      grid_size: grid points per axis.
      title: an optional title.
      vmax: the density at the top of the colour scale (default: its 99.5th percentile).

    Returns:
      path.
    """
    xs, ys, density = density_grid_2d(log_prob_fn, bounds, grid_size)
    if vmax is None:  # robust to the thin spikes flows put on discontinuities
        vmax = float(np.percentile(density, 99.5))
    return _square_plot(
        lambda ax: ax.pcolormesh(xs, ys, density, shading="auto", vmin=0.0, vmax=vmax,
                                 cmap="viridis"), path, title)


def plot_samples_2d(samples: Any, path: str, bounds: Sequence[float] = (-4.0, 4.0),
                    bins: int = 200, title: str | None = None) -> str:
    """Writes a PNG 2-D histogram of samples [n, 2].

    Args:
      samples: points [n, 2] (an array or tensor).
      path: the PNG file (its directory is created).
      bounds: (low, high) of both axes.
      bins: bins per axis.
      title: an optional title.

    Returns:
      path.
    """
    samples = np.asarray(samples)
    return _square_plot(
        lambda ax: ax.hist2d(samples[:, 0], samples[:, 1], bins=bins, range=[bounds, bounds],
                             cmap="viridis"), path, title)


def save_image_grid(images: Any, path: str, num_values: int = 256,
                    columns: int | None = None) -> str:
    """Writes a PNG grid of images [n, h, w, c] with integer values in [0, num_values).

    Args:
      images: [n, h, w, c] integers in [0, num_values) (an array or tensor).
      path: the PNG file (its directory is created).
      num_values: the number of intensity levels (256 for 8 bits).
      columns: images per row (default: a square grid).

    Returns:
      path.
    """
    images = np.asarray(images, np.float64) / (num_values - 1)
    n, h, w, c = images.shape
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    grid = np.ones((rows * (h + 1) + 1, columns * (w + 1) + 1, c))
    for i in range(n):
        r, col = divmod(i, columns)
        grid[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + col * (w + 1):1 + col * (w + 1) + w] = images[i]
    grid = np.clip(grid, 0.0, 1.0)
    fig, ax = plt.subplots(figsize=(columns * 0.6 + 0.5, rows * 0.6 + 0.5), dpi=100)
    ax.imshow(grid[..., 0] if c == 1 else grid, cmap="gray" if c == 1 else None,
              interpolation="nearest")
    ax.set_axis_off()
    _save(fig, path)
    return path
