"""Bijections: exact, deterministic both ways, V = log |det dz/dx|."""

from tfp_survae.transforms.bijections.actnorm import ActNorm
from tfp_survae.transforms.bijections.autoregressive import MaskedAutoregressive
from tfp_survae.transforms.bijections.batch_norm import BatchNormalization
from tfp_survae.transforms.bijections.bijector import BijectorTransform
from tfp_survae.transforms.bijections.continuous import ContinuousFlow
from tfp_survae.transforms.bijections.conv1x1 import Conv1x1, LinearLU
from tfp_survae.transforms.bijections.coupling import (
    AffineCoupling,
    ElementwiseCoupling,
    LogisticMixtureCoupling,
    RationalQuadraticCoupling,
)
from tfp_survae.transforms.bijections.permutations import Permute, Reverse
from tfp_survae.transforms.bijections.residual import ResidualBlock
from tfp_survae.transforms.bijections.squeeze import Squeeze2D

__all__ = [
    "ActNorm",
    "AffineCoupling",
    "BatchNormalization",
    "BijectorTransform",
    "ContinuousFlow",
    "Conv1x1",
    "ElementwiseCoupling",
    "LinearLU",
    "LogisticMixtureCoupling",
    "MaskedAutoregressive",
    "Permute",
    "RationalQuadraticCoupling",
    "ResidualBlock",
    "Reverse",
    "Squeeze2D",
]
