"""A permutation-equivariant transformer for the couplings of point-cloud flows."""

from __future__ import annotations

import math

import keras

__all__ = ["SetTransformer", "TransformerBlock", "sigmoid_gelu"]

LAYER_NORM_EPSILON = 1e-5  # as PyTorch's LayerNorm, and the reference code


@keras.saving.register_keras_serializable(package="tfp_survae")
def sigmoid_gelu(x):
    """The sigmoid approximation of GELU, x * sigmoid(1.702 x) (Hendrycks and Gimpel, 2016), the
    activation of the reference code's point-cloud transformers."""
    return x * keras.ops.sigmoid(1.702 * x)


def _activation(name):
    return sigmoid_gelu if name == "sigmoid_gelu" else name


@keras.saving.register_keras_serializable(package="tfp_survae")
class TransformerBlock(keras.layers.Layer):
    """Self-attention and a feed-forward network, each with a residual and a LayerNorm.

    Pre-norm (`norm_first=True`, the reference code's block): x + attention(norm1(x)), then
    h + ff(norm2(h)). Post-norm (`norm_first=False`): norm1(x + attention(x)), then
    norm2(h + ff(h)). No mask and no positions: the block is equivariant to permutations of
    the set axis.
    """

    def __init__(self, d_model: int = 64, num_heads: int = 8, d_ff: int = 256,
                 dropout: float = 0.0, activation: str = "sigmoid_gelu", num_layers: int = 1,
                 norm_first: bool = True, epsilon: float = LAYER_NORM_EPSILON, **kwargs):
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

    def build(self, input_shape):
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

    def call(self, x, training=None):
        if self.norm_first:
            h = self.norm_attention(x)
            x = x + self.drop(self.attention(h, h, training=training), training=training)
            h = self.ff_out(self.drop(self.ff_in(self.norm_ff(x)), training=training))
            return x + self.drop(h, training=training)
        h = self.attention(x, x, training=training)
        x = self.norm_attention(x + self.drop(h, training=training))
        h = self.ff_out(self.drop(self.ff_in(x), training=training))
        return self.norm_ff(x + self.drop(h, training=training))

    def get_config(self):
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

    References:
      Vaswani et al., "Attention Is All You Need", NeurIPS 2017.
      https://arxiv.org/abs/1706.03762
    """

    def __init__(self, output_dim: int, d_model: int = 64, num_heads: int = 8,
                 num_layers: int = 2, d_ff: int = 256, dropout: float = 0.0,
                 activation: str = "sigmoid_gelu", positional_encoding: int | None = None,
                 norm_first: bool = True, epsilon: float = LAYER_NORM_EPSILON, **kwargs):
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

    def build(self, input_shape):
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

    def call(self, x, training=None):
        h = self.embed(x)
        if self.positional_encoding is not None:
            h = h + self.positions
        for block in self.blocks:
            h = block(h, training=training)
        return self.out(self.norm(h))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.output_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(output_dim=self.output_dim, d_model=self.d_model,
                      num_heads=self.num_heads, num_layers=self.num_layers, d_ff=self.d_ff,
                      dropout=self.dropout_rate, activation=self.activation,
                      positional_encoding=self.positional_encoding,
                      norm_first=self.norm_first, epsilon=self.epsilon)
        return config
