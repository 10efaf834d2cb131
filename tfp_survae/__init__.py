"""tfp_survae: SurVAE Flows for TensorFlow and TensorFlow Probability.

Composable bijections, surjections and stochastic transforms with exact or lower-bound
likelihoods (Nielsen et al., NeurIPS 2020, https://arxiv.org/abs/2007.02731), as Keras 3 layers.

Every public name is listed here. `plotting` (matplotlib) loads when first used.
"""

import importlib

from tfp_survae import architectures, data, distributions, evaluation, nn, training, transforms
from tfp_survae.conditional_flow import (
    ConditionalFlow,
    dequantization_flow,
    image_dequantization_flow,
)
from tfp_survae.distributions import (
    ConditionalBernoulli,
    ConditionalCategorical,
    ConditionalDistribution,
    ConditionalHalfNormal,
    ConditionalNormal,
    ConditionalPlackettLuce,
    DiagonalNormal,
    StandardHalfNormal,
    StandardLogistic,
    StandardNormal,
    StandardUniform,
    TFPDistribution,
    ZeroInflated,
)
from tfp_survae.flow import Flow
from tfp_survae.flow_bijector import FlowBijector
from tfp_survae.nn import MADE, MLP
from tfp_survae.transformed_distribution import TransformedDistribution
from tfp_survae.transforms import (
    VAE,
    Abs,
    ActNorm,
    AffineCoupling,
    Augment,
    BatchNormalization,
    Bijection,
    BijectorTransform,
    Conv1x1,
    ElementwiseCoupling,
    Floor,
    GenerativeAbs,
    GenerativeMax,
    GenerativeReLU,
    GenerativeSort,
    LinearLU,
    LogisticMixtureCoupling,
    Max,
    MaskedAutoregressive,
    MaxPool2D,
    Permute,
    RationalQuadraticCoupling,
    ReLU,
    Reverse,
    Sequential,
    Slice,
    Sort,
    Squeeze2D,
    StochasticPermutation,
    StochasticTransform,
    Surjection,
    Transform,
    UniformDequantization,
    VariationalDequantization,
)

__version__ = "0.2.0"

__all__ = [
    # flows and their TFP views
    "Flow",
    "TransformedDistribution",
    "FlowBijector",
    "ConditionalFlow",
    "dequantization_flow",
    "image_dequantization_flow",
    # the transform contract
    "Transform",
    "Bijection",
    "Surjection",
    "StochasticTransform",
    "Sequential",
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
    # stochastic transforms
    "VAE",
    "StochasticPermutation",
    # distributions
    "ConditionalDistribution",
    "TFPDistribution",
    "ConditionalBernoulli",
    "ConditionalCategorical",
    "ConditionalHalfNormal",
    "ConditionalNormal",
    "ConditionalPlackettLuce",
    "DiagonalNormal",
    "StandardHalfNormal",
    "StandardLogistic",
    "StandardNormal",
    "StandardUniform",
    "ZeroInflated",
    # networks
    "MADE",
    "MLP",
    # modules
    "architectures",
    "data",
    "distributions",
    "evaluation",
    "nn",
    "plotting",
    "training",
    "transforms",
]


def __getattr__(name):
    if name == "plotting":
        return importlib.import_module("tfp_survae.plotting")
    raise AttributeError(f"module 'tfp_survae' has no attribute {name!r}")
