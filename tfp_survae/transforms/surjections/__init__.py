"""Surjections (paper Tables 2, 6, 7): inference kind (exact) and generative kind (ELBO)."""

from tfp_survae.transforms.surjections.abs import Abs, GenerativeAbs
from tfp_survae.transforms.surjections.dequantization import (
    UniformDequantization,
    VariationalDequantization,
)
from tfp_survae.transforms.surjections.max import GenerativeMax, Max, MaxPool2D
from tfp_survae.transforms.surjections.relu import GenerativeReLU, ReLU
from tfp_survae.transforms.surjections.rounding import Floor
from tfp_survae.transforms.surjections.slicing import Augment, Slice
from tfp_survae.transforms.surjections.sort import GenerativeSort, Sort

__all__ = [
    "Abs",
    "GenerativeAbs",
    "Augment",
    "Slice",
    "Floor",
    "UniformDequantization",
    "VariationalDequantization",
    "Max",
    "MaxPool2D",
    "GenerativeMax",
    "ReLU",
    "GenerativeReLU",
    "Sort",
    "GenerativeSort",
]
