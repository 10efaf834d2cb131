"""tfp_survae: SurVAE Flows for TensorFlow and TensorFlow Probability.

Composable bijections, surjections and stochastic transforms with exact or lower-bound
likelihoods (Nielsen et al., NeurIPS 2020, https://arxiv.org/abs/2007.02731), as Keras 3 layers.
"""

from tfp_survae import (
    architectures,
    data,
    distributions,
    evaluation,
    nn,
    plotting,
    training,
    transforms,
)
from tfp_survae.conditional_flow import (
    ConditionalFlow,
    dequantization_flow,
    image_dequantization_flow,
)
from tfp_survae.distributions import *  # noqa: F401,F403
from tfp_survae.distributions import __all__ as _distributions
from tfp_survae.flow import Flow
from tfp_survae.flow_bijector import FlowBijector
from tfp_survae.nn import MLP
from tfp_survae.transformed_distribution import TransformedDistribution
from tfp_survae.transforms import *  # noqa: F401,F403
from tfp_survae.transforms import __all__ as _transforms

__version__ = "0.1.0"

__all__ = [
    "Flow",
    "TransformedDistribution",
    "FlowBijector",
    "ConditionalFlow",
    "dequantization_flow",
    "image_dequantization_flow",
    "MLP",
    *_transforms,
    *_distributions,
    "architectures",
    "data",
    "distributions",
    "evaluation",
    "nn",
    "plotting",
    "training",
    "transforms",
]
