"""Ready-made flows of the paper's experiments: images and point clouds."""

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
    "count_trainable_parameters",
    "maxpool_flow",
    "multiscale_flow",
    "parameter_report",
    "permute_flow",
    "sort_flow",
]
