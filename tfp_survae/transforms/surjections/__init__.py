"""Surjections (paper Tables 2, 6, 7): inference kind (exact) and generative kind (ELBO)."""

from tfp_survae.transforms.surjections.dequantization import (
    UniformDequantization,
    VariationalDequantization,
)
from tfp_survae.transforms.surjections.slicing import Augment, Slice

__all__ = ["Augment", "Slice", "UniformDequantization", "VariationalDequantization"]
