"""Bijections: exact, deterministic both ways, V = log |det dz/dx|; and the elementwise maps
that couplings and autoregressive layers apply."""

from tfp_survae.transforms.bijections.actnorm import ActNorm
from tfp_survae.transforms.bijections.autoregressive import MaskedAutoregressive
from tfp_survae.transforms.bijections.batch_norm import BatchNormalization
from tfp_survae.transforms.bijections.bijector import BijectorTransform
from tfp_survae.transforms.bijections.circular import CircularSplineMap
from tfp_survae.transforms.bijections.continuous import ContinuousFlow
from tfp_survae.transforms.bijections.conv1x1 import Conv1x1, LinearLU
from tfp_survae.transforms.bijections.coupling import (
    AffineCoupling,
    Coupling,
    LogisticMixtureCoupling,
    RationalQuadraticCoupling,
)
from tfp_survae.transforms.bijections.maps import (
    AdditiveMap,
    AffineMap,
    ElementwiseMap,
    LogisticMixtureMap,
    RationalQuadraticMap,
)
from tfp_survae.transforms.bijections.permutations import Permute, Reverse
from tfp_survae.transforms.bijections.residual import ResidualBlock
from tfp_survae.transforms.bijections.scaling import DiagonalScale, Standardize
from tfp_survae.transforms.bijections.squeeze import Squeeze2D

__all__ = [
    "ActNorm",
    "AdditiveMap",
    "AffineCoupling",
    "AffineMap",
    "BatchNormalization",
    "BijectorTransform",
    "CircularSplineMap",
    "ContinuousFlow",
    "Conv1x1",
    "Coupling",
    "DiagonalScale",
    "ElementwiseMap",
    "LinearLU",
    "LogisticMixtureCoupling",
    "LogisticMixtureMap",
    "MaskedAutoregressive",
    "Permute",
    "RationalQuadraticCoupling",
    "RationalQuadraticMap",
    "ResidualBlock",
    "Reverse",
    "Squeeze2D",
    "Standardize",
]
