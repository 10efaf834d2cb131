"""Squeeze (space-to-depth) of channels-last images."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from tfp_survae.transforms.base import Bijection
from tfp_survae.transforms._types import Config, Shape

__all__ = ["Squeeze2D"]


@keras.saving.register_keras_serializable(package="tfp_survae")
class Squeeze2D(Bijection):
    """Space-to-depth: [h, w, c] -> [h / f, w / f, c f^2] (Dinh et al., 2017).

    Inverse: z[i, j, k] = x[f i + r, f j + s, ch], with the output channel k given by `order`.
    Forward: its inverse (depth-to-space). V = 0.

    Args:
      factor: f, the block size (2 by default); height and width must be multiples of it.
      order: how the f^2 c output channels are laid out. "position" (TensorFlow's
        `space_to_depth`): k = (f r + s) c + ch, the block position first. "channel" (the
        PyTorch reference code's squeeze): k = ch f^2 + f r + s, each input channel's f^2
        pixels together. The order matters before a `Slice` or `MaxPool2D`, which then factor
        out other variables; the paper's image presets use "channel", as the reference.
      **kwargs: `Transform` arguments (`name`, `dtype`, ...).

    Raises:
      ValueError: `factor` is below 2 or `order` is not "position" or "channel"; at build, the
        event is not [height, width, channels] with height and width multiples of `factor`.

    Examples:
      >>> x = tf.reshape(tf.range(8.0), [1, 2, 2, 2])
      >>> z = Squeeze2D().inverse(x)
      >>> z.shape.as_list(), z.numpy().ravel().tolist()
      ([1, 1, 1, 8], [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
      >>> Squeeze2D(order="channel").inverse(x).numpy().ravel().tolist()
      [0.0, 2.0, 4.0, 6.0, 1.0, 3.0, 5.0, 7.0]
    """

    min_event_rank = 3

    def __init__(self, factor: int = 2, order: str = "position", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.factor = int(factor)
        if self.factor < 2:
            raise ValueError(f"factor must be at least 2; received {factor}.")
        if order not in ("position", "channel"):
            raise ValueError(f"order is 'position' or 'channel'; received {order!r}.")
        self.order = order

    def inverse_event_shape(self, x_event_shape: Shape) -> tf.TensorShape:
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

    def forward_event_shape(self, z_event_shape: Shape) -> tf.TensorShape:
        h, w, c = tf.TensorShape(z_event_shape).as_list()
        f = self.factor
        if c % (f * f):
            raise ValueError(f"{self._owner}: latent channels must be a multiple of {f * f}; "
                             f"received {c}.")
        return tf.TensorShape([h * f, w * f, c // (f * f)])

    def build(self, input_shape: Shape) -> None:
        super().build(input_shape)
        self.inverse_event_shape(self.event_shape)

    def _swap_channel_groups(self, t, groups: int):
        """[..., a * b] read as [..., groups, rest] -> [..., rest, groups], flattened."""
        shape = tf.shape(t)
        channels = t.shape[-1]
        split = tf.reshape(t, tf.concat([shape[:-1], [groups, channels // groups]], axis=0))
        swapped = tf.transpose(split, [0, 1, 2, 4, 3])
        return tf.reshape(swapped, shape)

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        z = tf.nn.space_to_depth(x, self.factor)
        if self.order == "channel":
            z = self._swap_channel_groups(z, self.factor**2)
        return z, tf.zeros([tf.shape(x)[0]], x.dtype)

    def _forward(self, z, *, seed, condition):
        if self.order == "channel":
            z = self._swap_channel_groups(z, z.shape[-1] // self.factor**2)
        return tf.nn.depth_to_space(z, self.factor)

    def get_config(self) -> Config:
        config = super().get_config()
        config.update(factor=self.factor, order=self.order)
        return config
