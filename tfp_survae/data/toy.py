"""The paper's 2-D toy data (App. I.1), generated in-process and seedable.

* checkerboard: uniform on 8 of the 16 squares of side 2 in [-4, 4]^2 (best NLL log 32).
* corners: four L-shaped corners of uniform bars (gap 1 from the axes, width 1, length 3).
* eight_gaussians: eight N(., 0.5^2 I) around a circle of radius 4, scaled by 1 / 1.414.
* four_circles: circles of radius 2 around (+-1, +-1) with N(0, 0.1^2 I) noise.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfp_survae import _checks

__all__ = ["TOY_DATASETS", "sample_toy", "toy_dataset"]


def _checkerboard(rng: np.random.RandomState, n: int) -> np.ndarray:
    x1 = rng.uniform(-2.0, 2.0, n)
    x2 = rng.uniform(0.0, 1.0, n) - 2.0 * rng.randint(0, 2, n) + np.mod(np.floor(x1), 2)
    return 2.0 * np.stack([x1, x2], axis=1)


def _corners(rng: np.random.RandomState, n: int) -> np.ndarray:
    gap, width, length = 1.0, 1.0, 3.0
    vertical = rng.rand(n) < 0.5  # a bar along y (|x| in [1, 2)) or along x (|y| in [1, 2))
    short = gap + width * rng.rand(n)
    long = gap + length * rng.rand(n)
    x = np.where(vertical, short, long)
    y = np.where(vertical, long, short)
    signs = 2.0 * rng.randint(0, 2, (n, 2)) - 1.0
    return np.stack([x, y], axis=1) * signs


def _eight_gaussians(rng: np.random.RandomState, n: int) -> np.ndarray:
    angles = np.pi / 8 + np.arange(8) * np.pi / 4
    centers = 4.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    points = centers[rng.randint(0, 8, n)] + 0.5 * rng.randn(n, 2)
    return points / 1.414


def _four_circles(rng: np.random.RandomState, n: int) -> np.ndarray:
    centers = np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])
    angle = 2.0 * np.pi * rng.rand(n)
    circle = 2.0 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return circle + centers[rng.randint(0, 4, n)] + 0.1 * rng.randn(n, 2)


_GENERATORS = {
    "checkerboard": _checkerboard,
    "corners": _corners,
    "eight_gaussians": _eight_gaussians,
    "four_circles": _four_circles,
}
TOY_DATASETS = tuple(_GENERATORS)


def sample_toy(name: str, num_points: int, seed: int = 0) -> np.ndarray:
    """`num_points` points of the named toy set (the paper's 2-D experiments).

    Args:
      name: one of `TOY_DATASETS` ("checkerboard", "corners", ...).
      num_points: the number of points, positive.
      seed: the NumPy seed; the same seed gives the same points.

    Returns:
      A float32 array [num_points, 2].

    Raises:
      ValueError: an unknown name, or num_points not positive.

    Examples:
      >>> ts.data.sample_toy("checkerboard", 5, seed=1).shape
      (5, 2)
    """
    if name not in _GENERATORS:
        raise ValueError(f"Unknown toy dataset {name!r}; expected one of {TOY_DATASETS}.")
    if num_points <= 0:
        raise ValueError(f"num_points must be positive; received {num_points}.")
    rng = np.random.RandomState(seed)
    return _GENERATORS[name](rng, int(num_points)).astype(np.float32)


def toy_dataset(name: str, num_points: int, batch_size: int, *, seed: int = 0,
                shuffle: bool = True, drop_remainder: bool = False) -> tf.data.Dataset:
    """A `tf.data` pipeline of batches [batch_size, 2] of the named set (seeded, prefetched).

    Args:
      name: one of `TOY_DATASETS`.
      num_points: the number of points, positive.
      batch_size: points per batch.
      seed: the seed of the points and of the shuffling.
      shuffle: reshuffle the points every epoch.
      drop_remainder: drop a last, smaller batch.

    Returns:
      The `tf.data.Dataset` of float32 batches.

    Raises:
      ValueError: an unknown name, or num_points or batch_size not positive.
      TypeError: batch_size is not an integer.

    Examples:
      >>> dataset = ts.data.toy_dataset("corners", 100, batch_size=32)
      >>> [batch.shape[0] for batch in dataset]
      [32, 32, 32, 4]
    """
    _checks.check_count("toy_dataset", "batch_size", batch_size, minimum=1)
    data = sample_toy(name, num_points, seed)
    dataset = tf.data.Dataset.from_tensor_slices(data)
    if shuffle:
        dataset = dataset.shuffle(len(data), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
