"""tfp_survae: SurVAE Flows for TensorFlow and TensorFlow Probability.

Composable bijections, surjections and stochastic transforms with exact or lower-bound
likelihoods (Nielsen et al., NeurIPS 2020, https://arxiv.org/abs/2007.02731), as Keras 3 layers.

The flat public API: the flows and their TFP views, every transform (`transforms.__all__`), every
distribution layer (`distributions.__all__`), the two networks most flows use, and the public
submodules. `plotting` (matplotlib) loads when first used. Layer authors import from
`tfp_survae.extend`.
"""

import importlib

from tfp_survae import (
    architectures,
    data,
    distributions,
    evaluation,
    extend,
    nn,
    serving,
    training,
    transforms,
)
from tfp_survae.conditional_flow import ConditionalFlow
from tfp_survae.distributions import *  # noqa: F403
from tfp_survae.flow import Flow
from tfp_survae.flow_bijector import FlowBijector
from tfp_survae.nn import MADE, MLP
from tfp_survae.transformed_distribution import TransformedDistribution
from tfp_survae.transforms import *  # noqa: F403

__version__ = "0.3.0.dev0"

__all__ = [
    # flows and their TFP views
    "Flow",
    "TransformedDistribution",
    "FlowBijector",
    "ConditionalFlow",
    # networks
    "MADE",
    "MLP",
    # modules
    "architectures",
    "data",
    "distributions",
    "evaluation",
    "extend",
    "nn",
    "plotting",
    "serving",
    "training",
    "transforms",
]
__all__ += transforms.__all__
__all__ += distributions.__all__

# Names that moved: an import of the old name says where the new one is.
_MOVED = {
    "dequantization_flow": "tfp_survae.architectures.dequantization_flow",
    "image_dequantization_flow": "tfp_survae.architectures.image_dequantization_flow",
}


def __getattr__(name):
    if name == "plotting":
        return importlib.import_module("tfp_survae.plotting")
    if name in _MOVED:
        raise AttributeError(f"tfp_survae.{name} moved to {_MOVED[name]}.")
    raise AttributeError(f"module 'tfp_survae' has no attribute {name!r}")
