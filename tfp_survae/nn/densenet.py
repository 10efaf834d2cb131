"""DenseNet coupling networks for images, as in the paper's image models."""

from __future__ import annotations

from typing import Any, Sequence

import keras
import tensorflow as tf

__all__ = ["DenseNet", "DenseBlock", "GatedConv"]


@keras.saving.register_keras_serializable(package="tfp_survae")
class GatedConv(keras.layers.Layer):
    """A 1x1 convolution to 3 x `filters` channels a, b, c, returning a + b * sigmoid(c).

    Args:
      filters: the output channels.
      zero_init: start the convolution's kernel at zero (else Glorot-uniform).
      **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Examples:
      >>> GatedConv(4)(tf.zeros([1, 2, 2, 3])).shape
      TensorShape([1, 2, 2, 4])
    """

    def __init__(self, filters: int, zero_init: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.zero_init = bool(zero_init)
        init = "zeros" if zero_init else "glorot_uniform"
        self.conv = keras.layers.Conv2D(3 * self.filters, 1, kernel_initializer=init,
                                        dtype=self.dtype_policy, name="conv")

    def build(self, input_shape: Sequence[int | None]) -> None:
        self.conv.build(input_shape)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        """a + b * sigmoid(c) of the convolution's three parts.

        Args:
          x: images [batch, h, w, c].

        Returns:
          [batch, h, w, filters].
        """
        a, b, c = keras.ops.split(self.conv(x), 3, axis=-1)
        return a + b * keras.ops.sigmoid(c)

    def compute_output_shape(
            self, input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(filters=self.filters, zero_init=self.zero_init)
        return config


@keras.saving.register_keras_serializable(package="tfp_survae")
class DenseBlock(keras.layers.Layer):
    """A densely connected block (Huang et al., 2017) of `depth` layers, then a 1x1 projection.

    Each layer maps its input h (c channels) through a 1x1 convolution (c channels), ReLU,
    dropout, a 3x3 convolution (`growth` channels) and ReLU, and concatenates the result to h.
    The projection to `filters` channels is a gated 1x1 convolution when `gated`.

    Args:
      filters: the output channels.
      depth: the number of densely connected layers.
      growth: the channels each layer adds.
      dropout: the dropout rate after each 1x1 convolution.
      gated: project with a `GatedConv` (else a plain 1x1 convolution).
      zero_init: start the projection's kernel at zero.
      **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Examples:
      >>> DenseBlock(4, depth=2, growth=3)(tf.zeros([1, 2, 2, 3])).shape
      TensorShape([1, 2, 2, 4])
    """

    def __init__(self, filters: int, depth: int, growth: int, dropout: float = 0.0,
                 gated: bool = True, zero_init: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.filters, self.depth, self.growth = int(filters), int(depth), int(growth)
        self.dropout_rate, self.gated, self.zero_init = float(dropout), bool(gated), bool(zero_init)
        self.wide: list[keras.layers.Layer] = []
        self.narrow: list[keras.layers.Layer] = []
        self.drop = keras.layers.Dropout(self.dropout_rate, dtype=self.dtype_policy)
        init = "zeros" if zero_init else "glorot_uniform"
        if self.gated:
            self.out = GatedConv(self.filters, zero_init=zero_init, dtype=self.dtype_policy,
                                 name="out")
        else:
            self.out = keras.layers.Conv2D(self.filters, 1, kernel_initializer=init,
                                           dtype=self.dtype_policy, name="out")

    def build(self, input_shape: Sequence[int | None]) -> None:
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"DenseBlock '{self.name}' needs a known number of input channels; "
                             f"received input shape {tuple(input_shape)}.")
        spatial = tuple(input_shape[:-1])
        for i in range(self.depth):
            wide = keras.layers.Conv2D(channels, 1, activation="relu", dtype=self.dtype_policy,
                                       name=f"wide_{i}")
            narrow = keras.layers.Conv2D(self.growth, 3, padding="same", activation="relu",
                                         dtype=self.dtype_policy, name=f"narrow_{i}")
            wide.build(spatial + (channels,))
            narrow.build(spatial + (channels,))
            self.wide.append(wide)
            self.narrow.append(narrow)
            channels += self.growth
        self.out.build(spatial + (channels,))

    def call(self, x: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        """The block on x.

        Args:
          x: images [batch, h, w, c].
          training: Keras' training flag (dropout).

        Returns:
          [batch, h, w, filters].
        """
        for wide, narrow in zip(self.wide, self.narrow):
            h = narrow(self.drop(wide(x), training=training))
            x = keras.ops.concatenate([x, h], axis=-1)
        return self.out(x)

    def compute_output_shape(
            self, input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(filters=self.filters, depth=self.depth, growth=self.growth,
                      dropout=self.dropout_rate, gated=self.gated, zero_init=self.zero_init)
        return config


@keras.saving.register_keras_serializable(package="tfp_survae")
class DenseNet(keras.layers.Layer):
    """The coupling network of the paper's image flows.

    1x1 convolution to `channels`, `num_blocks` residual dense blocks, and a zero-initialised
    1x1 convolution to `output_channels` (so a coupling starts as the identity).

    The paper's image models use 1 block, 64 channels, depth 10, growth 64 and gated
    convolutions (the defaults).

    Args:
      output_channels: channels out (2 x the transformed channels for an affine coupling).
      num_blocks: the number of residual dense blocks.
      channels: the channels between the blocks.
      depth: each block's layers (`DenseBlock`).
      growth: the channels each block layer adds.
      dropout: the blocks' dropout rate.
      gated: the blocks project with a `GatedConv`.
      **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Examples:
      >>> net = DenseNet(4, channels=8, depth=1, growth=4)
      >>> float(net(tf.ones([1, 2, 2, 3])).numpy().max())   # the zero-initialised output layer
      0.0

    References:
      Huang, Liu, van der Maaten, Weinberger, "Densely Connected Convolutional Networks",
      CVPR 2017. https://arxiv.org/abs/1608.06993
    """

    def __init__(self, output_channels: int, num_blocks: int = 1, channels: int = 64,
                 depth: int = 10, growth: int = 64, dropout: float = 0.0, gated: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.output_channels, self.num_blocks, self.channels = (
            int(output_channels), int(num_blocks), int(channels))
        self.depth, self.growth, self.dropout_rate, self.gated = (
            int(depth), int(growth), float(dropout), bool(gated))
        self.inp = keras.layers.Conv2D(self.channels, 1, dtype=self.dtype_policy, name="in")
        self.blocks = [
            DenseBlock(self.channels, self.depth, self.growth, self.dropout_rate, self.gated,
                       dtype=self.dtype_policy, name=f"block_{i}")
            for i in range(self.num_blocks)
        ]
        self.out = keras.layers.Conv2D(self.output_channels, 1, kernel_initializer="zeros",
                                       dtype=self.dtype_policy, name="out")

    def build(self, input_shape: Sequence[int | None]) -> None:
        spatial = tuple(input_shape[:-1])
        self.inp.build(tuple(input_shape))
        for block in self.blocks:
            block.build(spatial + (self.channels,))
        self.out.build(spatial + (self.channels,))

    def call(self, x: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        """The network on x.

        Args:
          x: images [batch, h, w, c].
          training: Keras' training flag (dropout).

        Returns:
          [batch, h, w, output_channels].
        """
        x = self.inp(x)
        for block in self.blocks:
            x = x + block(x, training=training)
        return self.out(x)

    def compute_output_shape(
            self, input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
        return tuple(input_shape[:-1]) + (self.output_channels,)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(output_channels=self.output_channels, num_blocks=self.num_blocks,
                      channels=self.channels, depth=self.depth, growth=self.growth,
                      dropout=self.dropout_rate, gated=self.gated)
        return config
