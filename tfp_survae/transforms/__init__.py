"""Transforms in the paper's taxonomy (Table 1): bijections, surjections, stochastic."""

from tfp_survae.transforms.base import (
    Bijection,
    Sequential,
    StochasticTransform,
    Surjection,
    Transform,
)
from tfp_survae.transforms.bijections import *  # noqa: F401,F403
from tfp_survae.transforms.bijections import __all__ as _bijections
from tfp_survae.transforms.stochastic import *  # noqa: F401,F403
from tfp_survae.transforms.stochastic import __all__ as _stochastic
from tfp_survae.transforms.surjections import *  # noqa: F401,F403
from tfp_survae.transforms.surjections import __all__ as _surjections

__all__ = [
    "Bijection",
    "Sequential",
    "StochasticTransform",
    "Surjection",
    "Transform",
    *_bijections,
    *_surjections,
    *_stochastic,
]
