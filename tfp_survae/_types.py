"""Type aliases of the public annotations."""

from __future__ import annotations

from typing import Sequence, Union

import numpy as np
import tensorflow as tf

# A seed: an int a (meaning (a, 0)), a pair (a, b) or a shape-[2] integer tensor or array.
Seed = Union[int, Sequence[int], tf.Tensor, np.ndarray]

# An integer count: a Python int or an integer scalar tensor.
Count = Union[int, tf.Tensor]

# Data a method converts to a tensor: a tensor, a NumPy array, nested lists or a scalar.
TensorLike = Union[tf.Tensor, np.ndarray, Sequence, float, int]

__all__ = ["Count", "Seed", "TensorLike"]
