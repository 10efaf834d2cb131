"""The API for writing new layers: everything a transform or distribution needs, and no more.

A new transform derives from one of the contract's base classes and implements its hooks
(CONTRIBUTING.md, "Adding a layer"); the base class converts and checks the arguments, draws a
seed when the caller gives none, and checks the results. Inside the hooks a layer uses:

* **the contract**: `Transform`, `Bijection`, `Surjection` (``kind="inference"`` or
  ``kind="generative"``), `StochasticTransform`, and `InverseResult` for an inverse that samples
  a learned discrete choice;
* **distributions** for its decoders p(x | z) and encoders q(z | x): `ConditionalDistribution`
  (check and build one with the transform's `_prepare_distribution`);
* **randomness** from the stateless seed its hook receives: `random_uniform`, `random_normal`,
  `split_seed` (one seed into several), `fold_in`;
* **networks**: `run_network` (checks the inputs fit the network's dtype before the call),
  `check_network_output` (checks the output shape when the layer is built), `network_logits`
  (a network's output as logits of a given shape);
* **discrete choices** (signs, indices, orders; uniform or predicted): `DiscreteChoice`;
* **reductions**: `sum_except_batch` (V has shape [batch]);
* **its test**: `check_transform` runs the conformance suite every layer of the package passes
  (shapes, right inverses, V against the autodiff Jacobian for a bijection, gradients, seeds,
  compiled against eager, config round trip) on the new layer.

A new elementwise map for couplings and autoregressive layers (`Coupling(map=...)`,
`MaskedAutoregressive(map=...)`) derives from `ElementwiseMap`: its number of parameters per
entry, the map data -> latent and its inverse, each with log g' elementwise, and `get_config`.

Examples:
  A surjection folding x onto its square, z = x^2 elementwise, with a uniform sign:

  >>> import keras, math, tensorflow as tf
  >>> from tfp_survae import extend
  >>> @keras.saving.register_keras_serializable(package="my_layers")
  ... class Square(extend.Surjection, kind="inference"):
  ...     '''Inverse: z = x^2. Forward: x = s sqrt(z), s uniform on {-1, +1}.
  ...     V = log p(s) + log |dz/dx| = sum log(2 |x|) - D log 2.'''
  ...     def _inverse_and_log_det(self, x, *, seed, condition, training):
  ...         log_det = extend.sum_except_batch(tf.math.log(2.0 * tf.abs(x)) - math.log(2.0))
  ...         return tf.square(x), log_det
  ...     def _forward(self, z, *, seed, condition):
  ...         u = extend.random_uniform(tf.shape(z), seed, z.dtype)
  ...         return tf.where(u < 0.5, -tf.sqrt(z), tf.sqrt(z))
  >>> z, v = Square().inverse_and_log_det(tf.constant([[1.0, -2.0]]))
  >>> z.numpy().tolist(), round(float(v[0]), 4)
  ([[1.0, 4.0]], 0.6931)
  >>> extend.check_transform(lambda dtype: Square(dtype=dtype),
  ...                        data=lambda rng, n, dtype: rng.randn(n, 2).astype(dtype),
  ...                        latent=lambda rng, n, dtype: rng.rand(n, 2).astype(dtype) + 0.1)
"""

from tfp_survae._conformance import check_transform
from tfp_survae._discrete import DiscreteChoice
from tfp_survae._networks import check_network_output, network_logits, run_network
from tfp_survae._seeds import fold_in, random_normal, random_uniform, split_seed
from tfp_survae._tensors import sum_except_batch
from tfp_survae.distributions.base import ConditionalDistribution
from tfp_survae.transforms.base import (
    Bijection,
    InverseResult,
    StochasticTransform,
    Surjection,
    Transform,
)
from tfp_survae.transforms.bijections.maps import ElementwiseMap

__all__ = [
    # the contract
    "Transform",
    "Bijection",
    "Surjection",
    "StochasticTransform",
    "InverseResult",
    # distributions
    "ConditionalDistribution",
    # randomness
    "random_uniform",
    "random_normal",
    "split_seed",
    "fold_in",
    # networks
    "run_network",
    "check_network_output",
    "network_logits",
    # discrete choices
    "DiscreteChoice",
    # reductions
    "sum_except_batch",
    # elementwise maps of couplings and autoregressive layers
    "ElementwiseMap",
    # the conformance suite
    "check_transform",
]
