"""Training and distribution for flows the Keras way.

The callbacks (which plot with matplotlib) load when first used.
"""

import importlib

from tfp_survae.training.distributed import distributed_fit
from tfp_survae.training.fit import (
    DEFAULT_STEPS_PER_EXECUTION,
    PROGRESS_UPDATES,
    StopOnInvalidLoss,
    training_step,
)
from tfp_survae.training.schedules import WarmupExponentialDecay

_CALLBACKS = ("DensityPlot2D", "EpochShuffle", "SampleGrid", "TensorBoardSamples")

__all__ = [
    "DEFAULT_STEPS_PER_EXECUTION",
    "DensityPlot2D",
    "EpochShuffle",
    "PROGRESS_UPDATES",
    "SampleGrid",
    "StopOnInvalidLoss",
    "TensorBoardSamples",
    "WarmupExponentialDecay",
    "distributed_fit",
    "training_step",
]


def __getattr__(name):
    if name in _CALLBACKS:
        return getattr(importlib.import_module("tfp_survae.training.callbacks"), name)
    raise AttributeError(f"module 'tfp_survae.training' has no attribute {name!r}")
