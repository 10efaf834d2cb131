"""MADE: a masked autoencoder whose outputs depend only on earlier inputs (Keras 3)."""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from tfp_survae import _checks

__all__ = ["MADE"]


def hidden_degrees(size: int, dims: int) -> np.ndarray:
    """Degrees 1..dims-1 of `size` hidden units, cycled (deterministic, so masks are rebuilt
    identically from the configuration)."""
    return np.arange(size) % max(dims - 1, 1) + 1


@keras.saving.register_keras_serializable(package="tfp_survae")
class MADE(keras.layers.Layer):
    """Masked autoencoder for distribution estimation (Germain et al., 2015).

    Maps x [batch, D] to P parameters per dimension, [batch, P * D] as P blocks of D, such that
    the parameters of dimension i depend only on x_1..x_{i-1} (and on an optional condition,
    which every unit sees). Dense layers whose kernels are multiplied by fixed 0/1 masks from the
    units' degrees; with `residual=True` the hidden layers after the first are residual blocks
    h + act(masked dense(h)). The output layer starts at zero by default, so an autoregressive
    transform built on it starts as its identity parameters.

    Args:
      params_per_dim: P.
      hidden_units: widths of the hidden layers (equal widths for `residual`).
      activation: of the hidden layers.
      residual: residual hidden blocks.
      output_initializer: of the masked output kernel.

    References:
      Germain, Gregor, Murray, Larochelle, "MADE: Masked Autoencoder for Distribution
      Estimation", ICML 2015. https://arxiv.org/abs/1502.03509
    """

    def __init__(self, params_per_dim: int, hidden_units: Sequence[int] = (64, 64),
                 activation: str = "relu", residual: bool = False,
                 output_initializer: str = "zeros", **kwargs):
        super().__init__(**kwargs)
        owner = f"MADE '{self.name}'"
        self.params_per_dim = _checks.check_integer(owner, "params_per_dim", params_per_dim,
                                                    minimum=1)
        self.hidden_units = _checks.check_units(owner, "hidden_units", hidden_units,
                                                allow_empty=False)
        self.residual = _checks.check_flag(owner, "residual", residual)
        if self.residual and len(set(self.hidden_units)) != 1:
            raise ValueError(f"{owner}: residual=True needs equal hidden_units; received "
                             f"{self.hidden_units}.")
        self.activation = activation
        self.output_initializer = output_initializer
        self._condition_shape = None

    def build(self, input_shape, condition_shape=None):
        dims = int(input_shape[-1])
        if dims < 1:
            raise ValueError(f"MADE needs at least one input dimension; received {input_shape}.")
        self.dims = dims
        degrees = [np.arange(1, dims + 1)] + [hidden_degrees(u, dims) for u in self.hidden_units]
        self._masks = [
            (degrees[i + 1][None, :] >= degrees[i][:, None]).astype("float32")
            for i in range(len(self.hidden_units))
        ]
        out_degrees = np.tile(np.arange(1, dims + 1), self.params_per_dim)
        self._out_mask = (out_degrees[None, :] > degrees[-1][:, None]).astype("float32")
        sizes = [dims] + self.hidden_units
        self.kernels, self.biases = [], []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            self.kernels.append(self.add_weight(shape=(n_in, n_out), name=f"kernel_{i}",
                                                initializer="glorot_uniform"))
            self.biases.append(self.add_weight(shape=(n_out,), name=f"bias_{i}",
                                               initializer="zeros"))
        self.condition_kernel = None
        if condition_shape is not None:
            self.condition_kernel = self.add_weight(
                shape=(int(condition_shape[-1]), sizes[1]), name="condition_kernel",
                initializer="glorot_uniform")
        self.out_kernel = self.add_weight(shape=(sizes[-1], dims * self.params_per_dim),
                                          name="out_kernel",
                                          initializer=self.output_initializer)
        self.out_bias = self.add_weight(shape=(dims * self.params_per_dim,), name="out_bias",
                                        initializer="zeros")
        self._condition_shape = None if condition_shape is None else list(condition_shape)
        self.built = True

    @property
    def condition_shape(self) -> list[int] | None:
        """The condition's event shape [C] the MADE was built for, or None."""
        return self._condition_shape

    def _checked_condition(self, x, condition):
        """The condition as a tensor after checking it against x and the build."""
        owner = f"MADE '{self.name}'"
        if self.condition_kernel is None:
            if condition is not None:
                raise ValueError(f"{owner} was built without a condition; received one of shape "
                                 f"{list(getattr(condition, 'shape', []))}. Build it with "
                                 "condition_shape to make it conditional.")
            return None
        if condition is None:
            raise ValueError(f"{owner} was built for a condition of shape "
                             f"{self._condition_shape}; received condition=None.")
        condition = tf.convert_to_tensor(condition)
        expected = tf.TensorShape([x.shape[0], self.condition_kernel.shape[0]])
        if not condition.shape.is_compatible_with(expected):
            raise ValueError(f"{owner}: expected a condition of shape {expected.as_list()} (x's "
                             f"batch, then {expected[1]} features); received shape "
                             f"{condition.shape.as_list()}.")
        return condition

    def call(self, x, condition=None):
        act = keras.activations.get(self.activation)
        dtype = x.dtype
        condition = self._checked_condition(x, condition)
        h = x
        for i, (kernel, bias) in enumerate(zip(self.kernels, self.biases)):
            pre = h @ (tf.cast(kernel, dtype) * tf.cast(self._masks[i], dtype)) + tf.cast(bias,
                                                                                          dtype)
            if i == 0 and condition is not None:
                pre = pre + tf.cast(condition, dtype) @ tf.cast(self.condition_kernel, dtype)
            h = h + act(pre) if (self.residual and i > 0) else act(pre)
        return h @ (tf.cast(self.out_kernel, dtype) * tf.cast(self._out_mask, dtype)) + tf.cast(
            self.out_bias, dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (int(input_shape[-1]) * self.params_per_dim,)

    def get_build_config(self):
        if not self.built:
            return None
        return {"input_shape": [None, self.dims], "condition_shape": self._condition_shape}

    def build_from_config(self, config):
        if config:
            self.build(config["input_shape"], config.get("condition_shape"))

    def get_config(self):
        config = super().get_config()
        config.update(params_per_dim=self.params_per_dim, hidden_units=self.hidden_units,
                      activation=self.activation, residual=self.residual,
                      output_initializer=self.output_initializer)
        return config
