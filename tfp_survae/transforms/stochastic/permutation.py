"""Stochastic permutation (paper App. G): exchangeability through random shuffles.

"The paper": Nielsen, Jaini, Hoogeboom, Winther, Welling, "SurVAE Flows: Surjections to Bridge
the Gap between VAEs and Flows", NeurIPS 2020. https://arxiv.org/abs/2007.02731
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from tfp_survae import _seeds
from tfp_survae.transforms.base import StochasticTransform
from tfp_survae.transforms._types import Config, Shape

__all__ = ["StochasticPermutation"]


@keras.saving.register_keras_serializable(package="tfp_survae")
class StochasticPermutation(StochasticTransform):
    """Shuffles the items along `axis` uniformly at random, in both directions.

    Inverse: z = x[P], P uniform. Forward: x = z[P'], P' uniform. V = 0.
    Between the layers of a flow it makes the density invariant to permutations of the items
    (in distribution): `log_prob` is then an ELBO of the permutation-invariant model.

    Args:
      axis: the axis of the items (-1 for a vector, -2 for a point cloud [K, D]).
      **kwargs: `Transform` arguments (`seed`, `name`, `dtype`, ...).

    Raises:
      ValueError: `axis` is 0; at build, `axis` is not an axis of the event.

    Examples:
      >>> layer = StochasticPermutation()
      >>> z, v = layer.inverse_and_log_det(tf.constant([[1.0, 2.0, 3.0]]), seed=(1, 2))
      >>> np.sort(z.numpy()), v.numpy()   # a random order; V = 0
      (array([[1., 2., 3.]], dtype=float32), array([0.], dtype=float32))
    """

    min_event_rank = 1

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = self._check_axis(axis, "shuffle")

    def build(self, input_shape: Shape) -> None:
        super().build(input_shape)
        rank = self.event_shape.rank
        axis = self._resolve_axis(self.axis, rank)
        self._axis_in_batch = rank + 1 + axis
        self._size = self.event_shape[axis]

    def _shuffle(self, t, seed):
        noise = _seeds.random_uniform(tf.stack([tf.shape(t)[0], self._size]), seed, tf.float32)
        perm = tf.argsort(noise, axis=-1)
        return tf.gather(t, perm, axis=self._axis_in_batch, batch_dims=1)

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        return self._shuffle(x, seed), tf.zeros([tf.shape(x)[0]], x.dtype)

    def _forward(self, z, *, seed, condition):
        return self._shuffle(z, seed)

    def get_config(self) -> Config:
        config = super().get_config()
        config["axis"] = self.axis
        return config
