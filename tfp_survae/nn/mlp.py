"""Multi-layer perceptron for vector couplings, classifiers and encoders."""

from __future__ import annotations

from typing import Sequence

import keras

__all__ = ["MLP"]


@keras.saving.register_keras_serializable(package="tfp_survae")
class MLP(keras.layers.Layer):
    """Dense layers `hidden_units` with `activation`, then a linear layer of `output_units`.

    Acts on the last axis. `output_initializer="zeros"` makes a coupling layer start as the
    identity, which stabilises deep flows.

    Example:
      >>> net = MLP([200, 100], 2)   # the paper's 2-D coupling network: 1 -> 200 -> 100 -> 2
      >>> net(tf.zeros([5, 1])).shape
      TensorShape([5, 2])
    """

    def __init__(
        self,
        hidden_units: Sequence[int],
        output_units: int,
        activation: str = "relu",
        output_initializer: str = "glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_units = [int(u) for u in hidden_units]
        self.output_units = int(output_units)
        self.activation = activation
        self.output_initializer = output_initializer
        self.hidden = [
            keras.layers.Dense(u, activation=activation, dtype=self.dtype_policy, name=f"dense_{i}")
            for i, u in enumerate(self.hidden_units)
        ]
        self.out = keras.layers.Dense(
            self.output_units,
            kernel_initializer=output_initializer,
            dtype=self.dtype_policy,
            name="output",
        )

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.hidden:
            layer.build(shape)
            shape = shape[:-1] + (layer.units,)
        self.out.build(shape)

    def call(self, x):
        for layer in self.hidden:
            x = layer(x)
        return self.out(x)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)[:-1] + (self.output_units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_units=self.hidden_units,
            output_units=self.output_units,
            activation=self.activation,
            output_initializer=self.output_initializer,
        )
        return config
