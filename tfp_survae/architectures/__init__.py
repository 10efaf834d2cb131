"""Ready-made flows: the paper's image and point-cloud models, density-estimation defaults
(spline, autoregressive, continuous and residual flows) and variational dequantizers."""

from tfp_survae.architectures.dequantization import (
    dequantization_flow,
    image_dequantization_flow,
)
from tfp_survae.architectures.couplings import circular_spline_flow, nice, real_nvp
from tfp_survae.architectures.density import (
    inverse_autoregressive_flow,
    masked_autoregressive_flow,
    neural_spline_flow,
)
from tfp_survae.architectures.glow import glow
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
    "circular_spline_flow",
    "continuous_flow",
    "count_trainable_parameters",
    "dequantization_flow",
    "glow",
    "image_dequantization_flow",
    "inverse_autoregressive_flow",
    "masked_autoregressive_flow",
    "maxpool_flow",
    "multiscale_flow",
    "neural_spline_flow",
    "nice",
    "parameter_report",
    "permute_flow",
    "real_nvp",
    "residual_flow",
    "sort_flow",
]
