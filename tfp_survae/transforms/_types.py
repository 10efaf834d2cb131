"""Type aliases of the transforms' signatures."""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Union

import tensorflow as tf

from tfp_survae._types import Seed  # the package's seed; a method's None draws from its layer

__all__ = ["Config", "Seed", "Shape"]

# A shape: a sequence of dimensions (None where unknown, as the batch axis) or a tf.TensorShape.
Shape = Union[Sequence[Optional[int]], tf.TensorShape]

# A Keras layer configuration (`get_config` / `from_config`).
Config = Dict[str, Any]
