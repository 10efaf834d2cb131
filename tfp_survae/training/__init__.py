"""Training, evaluation, export and distribution for flows the Keras way."""

from tfp_survae.training.callbacks import (
    DensityPlot2D,
    EpochShuffle,
    SampleGrid,
    TensorBoardSamples,
)
from tfp_survae.training.distributed import distributed_fit
from tfp_survae.training.export import DEFAULT_SEED, export_flow
from tfp_survae.training.fit import (
    DEFAULT_STEPS_PER_EXECUTION,
    FitMixin,
    StopOnInvalidLoss,
)
from tfp_survae.training.schedules import WarmupExponentialDecay

__all__ = [
    "DEFAULT_SEED",
    "DEFAULT_STEPS_PER_EXECUTION",
    "DensityPlot2D",
    "EpochShuffle",
    "FitMixin",
    "SampleGrid",
    "StopOnInvalidLoss",
    "TensorBoardSamples",
    "WarmupExponentialDecay",
    "distributed_fit",
    "export_flow",
]
