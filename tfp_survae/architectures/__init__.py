"""Ready-made flows: the paper's image and point-cloud models, density-estimation defaults
(spline, autoregressive, continuous and residual flows) and variational dequantizers."""

from tfp_survae.architectures.dequantization import (
    dequantization_flow,
    image_dequantization_flow,
)
from tfp_survae.architectures.density import masked_autoregressive_flow, neural_spline_flow
from tfp_survae.architectures.free_form import continuous_flow, residual_flow
from tfp_survae.architectures.images import IMAGE_PRESETS, maxpool_flow, multiscale_flow
from tfp_survae.architectures.point_clouds import permute_flow, sort_flow
from tfp_survae.architectures.report import (
    REFERENCE_PARAMETERS,
    count_trainable_parameters,
    parameter_report,
)

__all__ = [
    "IMAGE_PRESETS",
    "REFERENCE_PARAMETERS",
    "continuous_flow",
    "count_trainable_parameters",
    "dequantization_flow",
    "image_dequantization_flow",
    "masked_autoregressive_flow",
    "maxpool_flow",
    "multiscale_flow",
    "neural_spline_flow",
    "parameter_report",
    "permute_flow",
    "residual_flow",
    "sort_flow",
]
