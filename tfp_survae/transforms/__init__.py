"""Transforms in the paper's taxonomy (Table 1): bijections, surjections, stochastic."""

from tfp_survae.transforms.base import (
    Bijection,
    InverseResult,
    Sequential,
    StochasticTransform,
    Surjection,
    Transform,
)
from tfp_survae.transforms.bijections import (
    ActNorm,
    AffineCoupling,
    BatchNormalization,
    BijectorTransform,
    Conv1x1,
    ElementwiseCoupling,
    LinearLU,
    LogisticMixtureCoupling,
    MaskedAutoregressive,
    Permute,
    RationalQuadraticCoupling,
    Reverse,
    Squeeze2D,
)
from tfp_survae.transforms.stochastic import VAE, StochasticPermutation
from tfp_survae.transforms.surjections import (
    Abs,
    Augment,
    Floor,
    GenerativeAbs,
    GenerativeMax,
    GenerativeReLU,
    GenerativeSort,
    Max,
    MaxPool2D,
    ReLU,
    Slice,
    Sort,
    UniformDequantization,
    VariationalDequantization,
)

__all__ = [
    # the contract
    "Transform",
    "Bijection",
    "Surjection",
    "StochasticTransform",
    "Sequential",
    "InverseResult",
    # bijections
    "ActNorm",
    "AffineCoupling",
    "BatchNormalization",
    "BijectorTransform",
    "Conv1x1",
    "ElementwiseCoupling",
    "LinearLU",
    "LogisticMixtureCoupling",
    "MaskedAutoregressive",
    "Permute",
    "RationalQuadraticCoupling",
    "Reverse",
    "Squeeze2D",
    # surjections
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
    # stochastic
    "VAE",
    "StochasticPermutation",
]
