"""Small real data sets that need no download, for the CPU presets of the examples.

scikit-learn ships 1,797 handwritten digits (8x8, 17 grey levels, from the UCI repository). The
`--small` presets use them where the paper uses MNIST: as 8-bit images, binarized images and
SpatialMNIST-style point clouds.
"""

from __future__ import annotations

import numpy as np

import tfp_survae as ts


def digits() -> np.ndarray:
    """The digits as uint8 images [1797, 8, 8, 1] in 0..255, shuffled with a fixed seed."""
    from sklearn.datasets import load_digits

    images = load_digits().images  # 0..16
    images = np.round(images * 255.0 / 16.0).astype(np.uint8)[..., None]
    return images[np.random.RandomState(0).permutation(len(images))]


def binarized_digits() -> np.ndarray:
    """The digits binarized at half intensity, float32 {0, 1} vectors [1797, 64]."""
    return (digits().reshape(-1, 64) >= 128).astype(np.float32)


def digit_point_clouds(num_points: int = 50, seed: int = 0) -> np.ndarray:
    """SpatialMNIST-style clouds of the digits: points by intensity, scaled to [0, 28)^2."""
    return ts.data.points_from_images(digits(), num_points, seed=seed) * (28.0 / 8.0)


def split(data: np.ndarray, test_fraction: float = 0.2):
    cut = int(len(data) * (1.0 - test_fraction))
    return data[:cut], data[cut:]
