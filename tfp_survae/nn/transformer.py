"""A permutation-equivariant transformer for the couplings of point-cloud flows."""

from __future__ import annotations

import math
from typing import Any, Sequence

import keras
import tensorflow as tf

__all__ = ["SetTransformer", "TransformerBlock", "sigmoid_gelu"]

LAYER_NORM_EPSILON = 1e-5  # as PyTorch's LayerNorm, and the reference code


@keras.saving.register_keras_serializable(package="tfp_survae")
def sigmoid_gelu(x: tf.Tensor) -> tf.Tensor:
    """The sigmoid approximation of GELU, x * sigmoid(1.702 x) (Hendrycks and Gimpel, 2016), the
    activation of the reference code's point-cloud transformers.

    Args:
      x: any tensor.

    Returns:
      x * sigmoid(1.702 x), elementwise.

    Examples:
      >>> np.round(sigmoid_gelu(tf.constant([-1.0, 0.0, 1.0])).numpy(), 4)
      array([-0.1542,  0.    ,  0.8458], dtype=float32)
    """
    return x * keras.ops.sigmoid(1.702 * x)


def _activation(name: str) -> Any:
    return sigmoid_gelu if name == "sigmoid_gelu" else name


@keras.saving.register_keras_serializable(package="tfp_survae")
class TransformerBlock(keras.layers.Layer):
    """Self-attention and a feed-forward network, each with a residual and a LayerNorm.

    Pre-norm (`norm_first=True`, the reference code's block): x + attention(norm1(x)), then
    h + ff(norm2(h)). Post-norm (`norm_first=False`): norm1(x + attention(x)), then
    norm2(h + ff(h)). No mask and no positions: the block is equivariant to permutations of
    the set axis.

    Args:
      d_model: the width of the set's elements.
      num_heads: attention heads (a divisor of `d_model`).
      d_ff: the feed-forward network's hidden width.
      dropout: the dropout rate.
      activation: of the feed-forward network ("sigmoid_gelu" or a Keras activation name).
      num_layers: the blocks in the stack; residual output kernels start scaled by
        1 / sqrt(2 num_layers).
      norm_first: pre-norm (else post-norm).
      epsilon: the LayerNorms' epsilon.
      **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Raises:
      ValueError: `d_model` is not a multiple of `num_heads`.

    Examples:
      >>> block = TransformerBlock(d_model=8, num_heads=2, d_ff=16)
      >>> block(tf.zeros([1, 5, 8])).shape
      TensorShape([1, 5, 8])
    """

    def __init__(self, d_model: int = 64, num_heads: int = 8, d_ff: int = 256,
                 dropout: float = 0.0, activation: str = "sigmoid_gelu", num_layers: int = 1,
                 norm_first: bool = True, epsilon: float = LAYER_NORM_EPSILON,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if d_model % num_heads:
            raise ValueError(f"d_model ({d_model}) must be a multiple of num_heads ({num_heads}).")
        self.d_model, self.num_heads, self.d_ff = int(d_model), int(num_heads), int(d_ff)
        self.dropout_rate, self.activation, self.num_layers = float(dropout), activation, num_layers
        self.norm_first, self.epsilon = bool(norm_first), float(epsilon)
        self.attention = keras.layers.MultiHeadAttention(
            self.num_heads, self.d_model // self.num_heads, dropout=self.dropout_rate,
            output_shape=self.d_model, dtype=self.dtype_policy, name="attention",
        )
        self.ff_in = keras.layers.Dense(self.d_ff, activation=_activation(activation),
                                        dtype=self.dtype_policy, name="ff_in")
        self.ff_out = keras.layers.Dense(self.d_model, dtype=self.dtype_policy, name="ff_out")
        self.norm_attention = keras.layers.LayerNormalization(
            epsilon=self.epsilon, dtype=self.dtype_policy, name="norm_attention")
        self.norm_ff = keras.layers.LayerNormalization(epsilon=self.epsilon,
                                                       dtype=self.dtype_policy, name="norm_ff")
        self.drop = keras.layers.Dropout(self.dropout_rate, dtype=self.dtype_policy)

    def build(self, input_shape: Sequence[int | None]) -> None:
        shape = tuple(input_shape)
        self.attention.build(shape, shape)
        self.ff_in.build(shape)
        self.ff_out.build(shape[:-1] + (self.d_ff,))
        # Residual branches start scaled by 1 / sqrt(2 * num_layers) (GPT-2 style).
        shrink = 1.0 / math.sqrt(2.0 * self.num_layers)
        for kernel in (self.attention._output_dense.kernel, self.ff_out.kernel):
            kernel.assign(kernel * shrink)
        self.norm_attention.build(shape)
        self.norm_ff.build(shape)

    def call(self, x: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        """The block on a set.

        Args:
          x: [batch, N, d_model].
          training: Keras' training flag (dropout).

        Returns:
          [batch, N, d_model].
        """
        if self.norm_first:
            h = self.norm_attention(x)
            x = x + self.drop(self.attention(h, h, training=training), training=training)
            h = self.ff_out(self.drop(self.ff_in(self.norm_ff(x)), training=training))
            return x + self.drop(h, training=training)
        h = self.attention(x, x, training=training)
        x = self.norm_attention(x + self.drop(h, training=training))
        h = self.ff_out(self.drop(self.ff_in(x), training=training))
        return self.norm_ff(x + self.drop(h, training=training))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(d_model=self.d_model, num_heads=self.num_heads, d_ff=self.d_ff,
                      dropout=self.dropout_rate, activation=self.activation,
                      num_layers=self.num_layers, norm_first=self.norm_first,
                      epsilon=self.epsilon)
        return config


@keras.saving.register_keras_serializable(package="tfp_survae")
class SetTransformer(keras.layers.Layer):
    """Maps a set [batch, N, d_in] to per-element outputs [batch, N, output_dim].

    A linear embedding to `d_model`, `num_layers` pre-norm transformer blocks without positional
    information (so permuting the N elements permutes the outputs the same way), a LayerNorm and
    a zero-initialised linear output (a coupling starts as the identity). The defaults compute
    the reference code's network (its DenseTransformer): pre-norm blocks, LayerNorm epsilon
    1e-5, the sigmoid GELU x * sigmoid(1.702 x), residual output kernels scaled by
    1 / sqrt(2 num_layers). With
    `positional_encoding=N` it adds learned position embeddings for N ordered elements (the
    sorted point clouds of SortFlow) and is no longer equivariant.

    The paper's point-cloud couplings: d_model 64, 8 heads, 2 layers, d_ff 256.

    Args:
      output_dim: the width of each element's output.
      d_model: the width inside the blocks.
      num_heads: attention heads (a divisor of `d_model`).
      num_layers: the transformer blocks.
      d_ff: the blocks' feed-forward width.
      dropout: the blocks' dropout rate.
      activation: of the blocks' feed-forward networks.
      positional_encoding: N, for learned position embeddings of N ordered elements; None for
        none (permutation-equivariant).
      norm_first: pre-norm blocks (else post-norm).
      epsilon: the LayerNorms' epsilon.
      **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Raises:
      ValueError: `d_model` is not a multiple of `num_heads`; at build, sets of another size
        than `positional_encoding`.

    Examples:
      >>> net = SetTransformer(3, d_model=8, num_heads=2, num_layers=1, d_ff=16)
      >>> out = net(tf.ones([1, 5, 2]))
      >>> out.shape, float(tf.reduce_max(tf.abs(out)))   # the zero-initialised output layer
      (TensorShape([1, 5, 3]), 0.0)

    References:
      Vaswani et al., "Attention Is All You Need", NeurIPS 2017.
      https://arxiv.org/abs/1706.03762
    """

    def __init__(self, output_dim: int, d_model: int = 64, num_heads: int = 8,
                 num_layers: int = 2, d_ff: int = 256, dropout: float = 0.0,
                 activation: str = "sigmoid_gelu", positional_encoding: int | None = None,
                 norm_first: bool = True, epsilon: float = LAYER_NORM_EPSILON,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.output_dim, self.d_model, self.num_heads = int(output_dim), int(d_model), num_heads
        self.num_layers, self.d_ff, self.dropout_rate = int(num_layers), int(d_ff), float(dropout)
        self.activation = activation
        self.norm_first, self.epsilon = bool(norm_first), float(epsilon)
        self.positional_encoding = None if positional_encoding is None else int(positional_encoding)
        self.embed = keras.layers.Dense(self.d_model, dtype=self.dtype_policy, name="embed")
        self.blocks = [
            TransformerBlock(self.d_model, num_heads, self.d_ff, self.dropout_rate, activation,
                             num_layers=self.num_layers, norm_first=self.norm_first,
                             epsilon=self.epsilon, dtype=self.dtype_policy, name=f"block_{i}")
            for i in range(self.num_layers)
        ]
        self.norm = keras.layers.LayerNormalization(epsilon=self.epsilon,
                                                    dtype=self.dtype_policy, name="norm")
        self.out = keras.layers.Dense(self.output_dim, kernel_initializer="zeros",
                                      dtype=self.dtype_policy, name="out")

    def build(self, input_shape: Sequence[int | None]) -> None:
        shape = tuple(input_shape)
        if self.positional_encoding is not None:
            if shape[-2] is not None and shape[-2] != self.positional_encoding:
                raise ValueError(
                    f"SetTransformer '{self.name}' has positional encodings for "
                    f"{self.positional_encoding} elements; received sets of {shape[-2]}."
                )
            self.positions = self.add_weight(
                shape=(self.positional_encoding, self.d_model), name="positions",
                initializer=keras.initializers.RandomNormal(
                    stddev=0.125 / math.sqrt(self.d_model)),
            )
        self.embed.build(shape)
        inner = shape[:-1] + (self.d_model,)
        for block in self.blocks:
            block.build(inner)
        self.norm.build(inner)
        self.out.build(inner)

    def call(self, x: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        """The network on a set.

        Args:
          x: [batch, N, d_in].
          training: Keras' training flag (dropout).

        Returns:
          [batch, N, output_dim].
        """
        h = self.embed(x)
        if self.positional_encoding is not None:
            h = h + self.positions
        for block in self.blocks:
            h = block(h, training=training)
        return self.out(self.norm(h))

    def compute_output_shape(
            self, input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
        return tuple(input_shape[:-1]) + (self.output_dim,)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(output_dim=self.output_dim, d_model=self.d_model,
                      num_heads=self.num_heads, num_layers=self.num_layers, d_ff=self.d_ff,
                      dropout=self.dropout_rate, activation=self.activation,
                      positional_encoding=self.positional_encoding,
                      norm_first=self.norm_first, epsilon=self.epsilon)
        return config
