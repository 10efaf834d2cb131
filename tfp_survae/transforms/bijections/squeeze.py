"""Squeeze (space-to-depth) of channels-last images."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfp_survae.transforms.base import Bijection

__all__ = ["Squeeze2D"]


@keras.saving.register_keras_serializable(package="tfp_survae")
class Squeeze2D(Bijection):
    """Space-to-depth: [h, w, c] -> [h / f, w / f, c f^2] (Dinh et al., 2017).

    Inverse: z = tf.nn.space_to_depth(x, f). Forward: x = tf.nn.depth_to_space(z, f). V = 0.

    Args:
      factor: f, the block size (2 by default); height and width must be multiples of it.
    """

    min_event_rank = 3

    def __init__(self, factor: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.factor = int(factor)
        if self.factor < 2:
            raise ValueError(f"factor must be at least 2; received {factor}.")

    def inverse_event_shape(self, x_event_shape):
        shape = tf.TensorShape(x_event_shape).as_list()
        if len(shape) != 3:
            raise ValueError(f"{self._owner}: expects images [height, width, channels]; received "
                             f"event shape {shape}.")
        h, w, c = shape
        if h % self.factor or w % self.factor:
            raise ValueError(
                f"{self._owner}: height and width must be multiples of {self.factor}; received "
                f"an image of shape {shape}."
            )
        f = self.factor
        return tf.TensorShape([h // f, w // f, c * f * f])

    def forward_event_shape(self, z_event_shape):
        h, w, c = tf.TensorShape(z_event_shape).as_list()
        f = self.factor
        if c % (f * f):
            raise ValueError(f"{self._owner}: latent channels must be a multiple of {f * f}; "
                             f"received {c}.")
        return tf.TensorShape([h * f, w * f, c // (f * f)])

    def build(self, input_shape):
        super().build(input_shape)
        self.inverse_event_shape(self.event_shape)

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        return tf.nn.space_to_depth(x, self.factor), tf.zeros([tf.shape(x)[0]], x.dtype)

    def _forward(self, z, *, seed, condition):
        return tf.nn.depth_to_space(z, self.factor)

    def get_config(self):
        config = super().get_config()
        config["factor"] = self.factor
        return config
