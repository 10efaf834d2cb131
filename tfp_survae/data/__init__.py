"""Data pipelines on tf.data: the paper's toy 2-D sets (and images and point clouds)."""

from tfp_survae.data.toy import TOY_DATASETS, sample_toy, toy_dataset

__all__ = ["TOY_DATASETS", "sample_toy", "toy_dataset"]
