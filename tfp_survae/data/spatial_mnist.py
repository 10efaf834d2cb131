"""SpatialMNIST (Edwards and Storkey, 2017): each digit as a set of 50 points in [0, 28)^2."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import tensorflow as tf

__all__ = ["SPATIAL_MNIST_SPLITS", "points_from_images", "spatial_mnist", "spatial_mnist_dataset"]

# The paper's splits, in order over MNIST's 60,000 training then 10,000 test digits.
SPATIAL_MNIST_SPLITS = {"train": (0, 50_000), "valid": (50_000, 60_000), "test": (60_000, 70_000)}


def points_from_images(images: np.ndarray, num_points: int = 50, seed: int = 0) -> np.ndarray:
    """Samples `num_points` pixels per image with probability proportional to intensity.

    Each point is the (column, row-from-bottom) position of its pixel plus a uniform offset in
    [0, 1)^2, so clouds are continuous in [0, 28)^2 and look upright.

    Args:
      images: [n, height, width] (or [n, height, width, 1]) intensities.
      num_points: points per image.
      seed: the NumPy seed; the same seed gives the same points.

    Returns:
      A float32 array [n, num_points, 2].

    Raises:
      ValueError: an image has no ink (all zeros).

    Examples:
      >>> images = np.zeros([2, 28, 28], np.uint8)
      >>> images[:, 10:14, 12:16] = 255
      >>> points = ts.data.points_from_images(images, num_points=50)
      >>> points.shape, bool(points.min() >= 12 and points.max() < 18)
      ((2, 50, 2), True)
    """
    images = np.asarray(images, np.float64).reshape(len(images), images.shape[1], images.shape[2])
    n, height, width = images.shape
    weights = images.reshape(n, -1)
    totals = weights.sum(axis=1, keepdims=True)
    if np.any(totals <= 0):
        raise ValueError("points_from_images received an image with no ink (all zeros).")
    cumulative = np.cumsum(weights / totals, axis=1)
    rng = np.random.RandomState(seed)
    draws = rng.rand(n, num_points)
    pixel = np.minimum(np.array([np.searchsorted(c, d, side="right")
                                 for c, d in zip(cumulative, draws)]), height * width - 1)
    rows, cols = np.divmod(pixel, width)
    jitter = rng.rand(n, num_points, 2)
    points = np.stack([cols, height - 1 - rows], axis=-1) + jitter
    return points.astype(np.float32)


def spatial_mnist(split: str = "train", *, data_dir: str | None = None,
                  cache_dir: str | None = None, num_points: int = 50, seed: int = 0,
                  download: bool = True) -> np.ndarray:
    """The SpatialMNIST point clouds of a split ("train", "valid", "test"), [n, 50, 2] float32.

    Built from tfds "mnist" (its train split then its test split, 70,000 digits in order).

    Args:
      split: "train", "valid" or "test".
      data_dir: where tfds keeps the prepared MNIST.
      cache_dir: if given, the clouds are saved there as .npy and loaded on later calls.
      num_points: points per cloud.
      seed: the seed of the points.
      download: let tfds download and prepare MNIST if it is missing.

    Returns:
      A float32 array [n, num_points, 2].

    Raises:
      ValueError: an unknown split.
    """
    if split not in SPATIAL_MNIST_SPLITS:
        raise ValueError(f"split is one of {sorted(SPATIAL_MNIST_SPLITS)}; received {split!r}.")
    path = None
    if cache_dir is not None:
        path = os.path.join(cache_dir, f"spatial_mnist_{split}_{num_points}_{seed}.npy")
        if os.path.exists(path):
            return np.load(path)
    import tensorflow_datasets as tfds

    start, stop = SPATIAL_MNIST_SPLITS[split]
    pieces = []
    for tfds_split, offset in (("train", 0), ("test", 60_000)):
        lo, hi = max(start - offset, 0), min(stop - offset, 10_000 if offset else 60_000)
        if lo >= hi:
            continue
        data = tfds.load("mnist", split=f"{tfds_split}[{lo}:{hi}]", data_dir=data_dir,
                         download=download)
        for batch in data.map(lambda example: example["image"]).batch(10_000):
            pieces.append(batch.numpy())
    images = np.concatenate(pieces)
    points = points_from_images(images, num_points, seed=seed + start)
    if path is not None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        np.save(path, points)
    return points


def spatial_mnist_dataset(split: str = "train", batch_size: int = 128, *,
                          shuffle: bool | None = None, seed: int = 0,
                          **kwargs: Any) -> tf.data.Dataset:
    """`spatial_mnist` as a tf.data pipeline of batches [batch, 50, 2].

    Args:
      split: "train", "valid" or "test".
      batch_size: clouds per batch.
      shuffle: reshuffle every epoch (default: for "train").
      seed: the seed of the points and of the shuffling.
      **kwargs: `spatial_mnist`'s other arguments (`data_dir`, `cache_dir`, ...).

    Returns:
      The `tf.data.Dataset` of float32 batches.

    Raises:
      ValueError: an unknown split.
    """
    points = spatial_mnist(split, seed=seed, **kwargs)
    dataset = tf.data.Dataset.from_tensor_slices(points)
    if (split == "train") if shuffle is None else shuffle:
        dataset = dataset.shuffle(len(points), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
