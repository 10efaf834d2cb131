"""Transforms in the paper's taxonomy (Table 1): the contract, bijections, surjections and
stochastic transforms. Each family lists its names in its own `__all__`; this list is built
from theirs."""

from tfp_survae.transforms import base, bijections, stochastic, surjections
from tfp_survae.transforms.base import *  # noqa: F403
from tfp_survae.transforms.bijections import *  # noqa: F403
from tfp_survae.transforms.stochastic import *  # noqa: F403
from tfp_survae.transforms.surjections import *  # noqa: F403

__all__: list[str] = []
__all__ += base.__all__
__all__ += bijections.__all__
__all__ += surjections.__all__
__all__ += stochastic.__all__
