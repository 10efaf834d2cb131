"""Type aliases of the transforms' signatures."""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple, Union

import tensorflow as tf

# A stateless seed: an int, a pair of ints or a shape-[2] integer tensor; None draws one from the
# layer's own seed generator (`tfp_survae._seeds.to_stateless_seed` converts them).
Seed = Union[int, Tuple[int, int], Sequence[int], tf.Tensor, None]

# A shape: a sequence of dimensions (None where unknown, as the batch axis) or a tf.TensorShape.
Shape = Union[Sequence[Optional[int]], tf.TensorShape]

# A Keras layer configuration (`get_config` / `from_config`).
Config = Dict[str, Any]

__all__: list[str] = []
