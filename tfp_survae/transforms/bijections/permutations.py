"""Fixed permutations of an axis: reversal and arbitrary permutations."""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

from tfp_survae.transforms.base import Bijection
from tfp_survae.transforms._types import Config, Shape

__all__ = ["Reverse", "Permute"]


class _AxisBijection(Bijection):
    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = self._check_axis(axis, "permute")

    def build(self, input_shape: Shape) -> None:
        super().build(input_shape)
        self._event_axis = self._resolve_axis(self.axis, self.event_shape.rank)
        self._size = self.event_shape[self._event_axis]

    def _zeros(self, x):
        return tf.zeros([tf.shape(x)[0]], x.dtype)

    def get_config(self) -> Config:
        config = super().get_config()
        config["axis"] = self.axis
        return config


@keras.saving.register_keras_serializable(package="tfp_survae")
class Reverse(_AxisBijection):
    """Reverses the order of an axis. Forward = inverse = reversal; V = 0.

    Args:
      axis: the event axis to reverse (negative: counted from the end of the event; positive:
        counted with the batch axis, so 1 is the first event axis).
      **kwargs: `Transform` arguments (`name`, `dtype`, ...).

    Raises:
      ValueError: `axis` is 0 (the batch axis), or, at build, not an axis of the event.

    Examples:
      >>> Reverse().inverse(tf.constant([[1.0, 2.0, 3.0]])).numpy().tolist()
      [[3.0, 2.0, 1.0]]
    """

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        return tf.reverse(x, axis=[self._event_axis]), self._zeros(x)

    def _forward(self, z, *, seed, condition):
        return tf.reverse(z, axis=[self._event_axis])


@keras.saving.register_keras_serializable(package="tfp_survae")
class Permute(_AxisBijection):
    """A fixed permutation P of an axis. Inverse: z = x[..., P]. Forward: x = z[..., P^-1]; V = 0.

    Args:
      permutation: a permutation of range(size of the axis), or an int seed to draw one at build.
      axis: the event axis to permute (as `Reverse`).
      **kwargs: `Transform` arguments (`name`, `dtype`, ...).

    Raises:
      ValueError: `axis` is 0 (the batch axis), or, at build, `permutation` does not rearrange
        range(size of the axis).

    Examples:
      >>> layer = Permute([2, 0, 1])
      >>> z = layer.inverse(tf.constant([[10.0, 20.0, 30.0]]))
      >>> z.numpy().tolist(), layer.forward(z).numpy().tolist()
      ([[30.0, 10.0, 20.0]], [[10.0, 20.0, 30.0]])
    """

    def __init__(self, permutation: Sequence[int] | int, axis: int = -1,
                 **kwargs: Any) -> None:
        super().__init__(axis=axis, **kwargs)
        self.permutation = permutation if isinstance(permutation, int) else [
            int(i) for i in permutation
        ]

    def build(self, input_shape: Shape) -> None:
        super().build(input_shape)
        permutation = self.permutation
        if isinstance(permutation, int):
            permutation = np.random.RandomState(permutation).permutation(self._size).tolist()
            self.permutation = permutation
        if sorted(permutation) != list(range(self._size)):
            raise ValueError(
                f"{self._owner}: permutation must rearrange range({self._size}) (the axis size); "
                f"received {permutation}."
            )
        self._perm = np.asarray(permutation, np.int32)
        self._inverse_perm = np.argsort(self._perm).astype(np.int32)

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        return tf.gather(x, self._perm, axis=self._event_axis), self._zeros(x)

    def _forward(self, z, *, seed, condition):
        return tf.gather(z, self._inverse_perm, axis=self._event_axis)

    def get_config(self) -> Config:
        config = super().get_config()
        config["permutation"] = self.permutation
        return config
