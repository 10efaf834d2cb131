"""Data pipelines on tf.data: the paper's toy 2-D sets, images (tfds) and SpatialMNIST."""

from tfp_survae.data.images import IMAGE_DATASETS, image_dataset
from tfp_survae.data.spatial_mnist import (
    SPATIAL_MNIST_SPLITS,
    points_from_images,
    spatial_mnist,
    spatial_mnist_dataset,
)
from tfp_survae.data.toy import TOY_DATASETS, sample_toy, toy_dataset

__all__ = [
    "IMAGE_DATASETS",
    "SPATIAL_MNIST_SPLITS",
    "TOY_DATASETS",
    "image_dataset",
    "points_from_images",
    "sample_toy",
    "spatial_mnist",
    "spatial_mnist_dataset",
    "toy_dataset",
]
