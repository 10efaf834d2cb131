"""Bases, encoders and decoders as Keras layers mapping a condition to a `tfd.Distribution`."""

from tfp_survae.distributions.base import ConditionalDistribution, TFPDistribution
from tfp_survae.distributions.conditional import (
    ConditionalBernoulli,
    ConditionalCategorical,
    ConditionalHalfNormal,
    ConditionalNormal,
    ConditionalPlackettLuce,
)
from tfp_survae.distributions.standard import (
    DiagonalNormal,
    StandardHalfNormal,
    StandardLogistic,
    StandardNormal,
    StandardUniform,
)
from tfp_survae.distributions.zero_inflated import ZeroInflated

__all__ = [
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
]
