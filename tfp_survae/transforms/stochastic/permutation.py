"""Stochastic permutation (paper App. G): exchangeability through random shuffles.

"The paper": Nielsen, Jaini, Hoogeboom, Winther, Welling, "SurVAE Flows: Surjections to Bridge
the Gap between VAEs and Flows", NeurIPS 2020. https://arxiv.org/abs/2007.02731
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfp_survae import _seeds
from tfp_survae.transforms.base import StochasticTransform

__all__ = ["StochasticPermutation"]


@keras.saving.register_keras_serializable(package="tfp_survae")
class StochasticPermutation(StochasticTransform):
    """Shuffles the items along `axis` uniformly at random, in both directions.

    Inverse: z = x[P], P uniform. Forward: x = z[P'], P' uniform. V = 0.
    Between the layers of a flow it makes the density invariant to permutations of the items
    (in distribution): `log_prob` is then an ELBO of the permutation-invariant model.

    Args:
      axis: the axis of the items (-1 for a vector, -2 for a point cloud [K, D]).
    """

    min_event_rank = 1

    def __init__(self, axis: int = -1, **kwargs):
        super().__init__(**kwargs)
        self.axis = self._check_axis(axis, "shuffle")

    def build(self, input_shape):
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

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config
