"""Fixed permutations of an axis: reversal and arbitrary permutations."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tfp_survae.transforms.base import Bijection

__all__ = ["Reverse", "Permute"]


class _AxisBijection(Bijection):
    def __init__(self, axis: int = -1, **kwargs):
        super().__init__(**kwargs)
        self.axis = self._check_axis(axis, "permute")

    def build(self, input_shape):
        super().build(input_shape)
        self._event_axis = self._resolve_axis(self.axis, self.event_shape.rank)
        self._size = self.event_shape[self._event_axis]

    def _zeros(self, x):
        return tf.zeros([tf.shape(x)[0]], x.dtype)

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config


@keras.saving.register_keras_serializable(package="tfp_survae")
class Reverse(_AxisBijection):
    """Reverses the order of an axis. Forward = inverse = reversal; V = 0."""

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        return tf.reverse(x, axis=[self._event_axis]), self._zeros(x)

    def _forward(self, z, *, seed, condition):
        return tf.reverse(z, axis=[self._event_axis])


@keras.saving.register_keras_serializable(package="tfp_survae")
class Permute(_AxisBijection):
    """A fixed permutation P of an axis. Inverse: z = x[..., P]. Forward: x = z[..., P^-1]; V = 0.

    Args:
      permutation: a permutation of range(size of the axis), or an int seed to draw one at build.
    """

    def __init__(self, permutation, axis: int = -1, **kwargs):
        super().__init__(axis=axis, **kwargs)
        self.permutation = permutation if isinstance(permutation, int) else [
            int(i) for i in permutation
        ]

    def build(self, input_shape):
        super().build(input_shape)
        if isinstance(self.permutation, int):
            self.permutation = np.random.RandomState(self.permutation).permutation(
                self._size
            ).tolist()
        if sorted(self.permutation) != list(range(self._size)):
            raise ValueError(
                f"{self._owner}: permutation must rearrange range({self._size}) (the axis size); "
                f"received {self.permutation}."
            )
        self._perm = np.asarray(self.permutation, np.int32)
        self._inverse_perm = np.argsort(self._perm).astype(np.int32)

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        return tf.gather(x, self._perm, axis=self._event_axis), self._zeros(x)

    def _forward(self, z, *, seed, condition):
        return tf.gather(z, self._inverse_perm, axis=self._event_axis)

    def get_config(self):
        config = super().get_config()
        config["permutation"] = self.permutation
        return config
