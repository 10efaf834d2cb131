"""A contractive MLP: every linear layer spectrally normalised (i-ResNet, Residual Flows)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfp_survae import _checks

__all__ = ["LipschitzMLP", "lipswish"]


def lipswish(x: tf.Tensor) -> tf.Tensor:
    """LipSwish (Chen et al., 2019): x sigmoid(x) / 1.1, smooth and 1-Lipschitz.

    Args:
      x: a tensor.

    Returns:
      x * sigmoid(x) / 1.1, elementwise.

    Example:
      >>> float(lipswish(tf.constant(0.0)))
      0.0
    """
    return x * tf.sigmoid(x) / 1.1


# Elementwise activations whose Lipschitz constant is at most 1 (so the product of the linear
# layers' bounds bounds the network's).
ACTIVATIONS = {"lipswish": lipswish, "elu": tf.nn.elu, "tanh": tf.tanh,
               "softplus": tf.nn.softplus}


@keras.saving.register_keras_serializable(package="tfp_survae")
class LipschitzMLP(keras.layers.Layer):
    """An MLP g with Lip(g) <= `lipschitz` ** L, L the number of linear layers.

    Each linear layer's kernel W is divided by max(1, sigma / c), c = `lipschitz` and sigma its
    spectral norm estimated by power iteration (Miyato et al., 2018; Behrmann et al., 2019,
    Eq. 6); the activations are 1-Lipschitz. The power iteration's vectors are non-trainable
    weights: exact at initialisation (the top singular vectors of the initial kernels), then
    refined by `power_iterations` steps in every call with `training=True` (as Keras'
    `SpectralNormalization`), and used as they are otherwise, so a layer not in training is a
    deterministic function. Power iteration approaches sigma from below: after weight updates
    the bound holds up to its convergence.

    Acts on the last axis; the input of the first layer may hold a condition next to x (its
    rows are normalised with the rest, so g stays contractive in x).

    Args:
      hidden_units: widths of the hidden layers.
      output_units: width of the output.
      lipschitz: the bound c on each linear layer's spectral norm, in (0, 1].
      activation: "lipswish" (default, Residual Flows), "elu" (i-ResNet), "tanh" or
        "softplus".
      power_iterations: power-iteration steps per training call (at least 1).

    Raises:
      ValueError / TypeError: naming the argument, for a bound outside (0, 1], an unknown
        activation, a width or a number of power iterations that is not a positive integer.

    Example:
      >>> net = LipschitzMLP([16], 2, lipschitz=0.9)
      >>> net(tf.zeros([3, 2])).shape
      TensorShape([3, 2])
    """

    def __init__(self, hidden_units: Sequence[int], output_units: int, *,
                 lipschitz: float = 0.9, activation: str = "lipswish",
                 power_iterations: int = 5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        owner = "LipschitzMLP"
        if activation not in ACTIVATIONS:
            raise ValueError(f"{owner}: activation is one of {sorted(ACTIVATIONS)} "
                             f"(1-Lipschitz); received {activation!r}.")
        self.hidden_units = _checks.check_units(owner, "hidden_units", hidden_units)
        self.output_units = _checks.check_integer(owner, "output_units", output_units, minimum=1)
        self.lipschitz = _checks.check_real(owner, "lipschitz", lipschitz, low=0.0, high=1.0,
                                            closed="high")
        self.activation = activation
        self.power_iterations = _checks.check_integer(owner, "power_iterations",
                                                      power_iterations, minimum=1)
        self._activation = ACTIVATIONS[activation]

    @property
    def lipschitz_bound(self) -> float:
        """The bound on Lip(g): `lipschitz` to the power of the number of linear layers."""
        return self.lipschitz ** (len(self.hidden_units) + 1)

    def build(self, input_shape: Sequence[int | None]) -> None:
        width = input_shape[-1]
        if width is None:
            raise ValueError(f"LipschitzMLP: the input width must be known to build; received "
                             f"input shape {tuple(input_shape)}.")
        widths = [int(width)] + list(self.hidden_units) + [self.output_units]
        self.kernels, self.biases, self.singular_vectors = [], [], []
        for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
            # Drawn with NumPy's global generator (seeded by keras.utils.set_random_seed), so
            # the top singular vector can be computed here even while a tf.function traces.
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            kernel = np.random.uniform(-limit, limit, (fan_in, fan_out))
            top = np.linalg.svd(kernel)[2][0]
            self.kernels.append(self.add_weight(
                shape=(fan_in, fan_out), name=f"kernel_{i}",
                initializer=keras.initializers.Constant(kernel)))
            self.biases.append(self.add_weight(shape=(fan_out,), name=f"bias_{i}",
                                               initializer="zeros"))
            self.singular_vectors.append(self.add_weight(
                shape=(fan_out,), name=f"singular_vector_{i}", trainable=False,
                initializer=keras.initializers.Constant(top)))

    def normalized_weights(self, dtype: Any, training: bool | None = None) -> list:
        """[(kernel, bias)] with every kernel spectrally normalised; in training, the power
        iteration advances and its state is stored."""
        weights = []
        for kernel, bias, state in zip(self.kernels, self.biases, self.singular_vectors):
            w = tf.cast(kernel, dtype)
            u = tf.cast(state, dtype)
            if training:
                for _ in range(self.power_iterations):
                    v = tf.math.l2_normalize(tf.linalg.matvec(w, u))
                    u = tf.math.l2_normalize(tf.linalg.matvec(w, v, transpose_a=True))
                state.assign(tf.cast(tf.stop_gradient(u), state.dtype))
            u = tf.stop_gradient(u)
            v = tf.stop_gradient(tf.math.l2_normalize(tf.linalg.matvec(w, u)))
            sigma = tf.reduce_sum(v * tf.linalg.matvec(w, u))
            w = w / tf.maximum(tf.constant(1.0, dtype), sigma / self.lipschitz)
            weights.append((w, tf.cast(bias, dtype)))
        return weights

    def linearize(self, inputs: tf.Tensor, weights: list) -> tuple[tf.Tensor, list]:
        """g(inputs) and the factors of its Jacobian: [(kernel, activation derivative)], the
        last derivative None. The Jacobian in x (the first `x_size` inputs) is
        W_1[:x_size] diag(d_1) W_2 ... diag(d_{L-1}) W_L, in the row-vector convention."""
        h = inputs
        factors = []
        for i, (w, b) in enumerate(weights):
            h = tf.matmul(h, w) + b
            if i == len(weights) - 1:
                factors.append((w, None))
                break
            with tf.GradientTape() as tape:
                tape.watch(h)
                a = self._activation(h)
            factors.append((w, tape.gradient(a, h)))  # elementwise: the derivative
            h = a
        return h, factors

    def apply(self, inputs: tf.Tensor, weights: list) -> tf.Tensor:
        """g(inputs) with the given (normalised) weights."""
        h = inputs
        for i, (w, b) in enumerate(weights):
            h = tf.matmul(h, w) + b
            if i < len(weights) - 1:
                h = self._activation(h)
        return h

    def call(self, inputs: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        return self.apply(inputs, self.normalized_weights(inputs.dtype, training))

    def compute_output_shape(self, input_shape: Sequence[int | None]) -> tuple:
        return tuple(input_shape)[:-1] + (self.output_units,)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(hidden_units=self.hidden_units, output_units=self.output_units,
                      lipschitz=self.lipschitz, activation=self.activation,
                      power_iterations=self.power_iterations)
        return config


def jvp(factors, vector, x_size):
    """J v per row (v: [batch, x_size]): the Jacobian of g in its first `x_size` inputs."""
    out = vector
    for i, (w, d) in enumerate(factors):
        out = tf.matmul(out, w[:x_size] if i == 0 else w)
        if d is not None:
            out = out * d
    return out


def vjp(factors, vector, x_size):
    """v^T J per row (v: [batch, output]), the transpose of `jvp`."""
    out = vector
    for i, (w, d) in reversed(list(enumerate(factors))):
        if d is not None:
            out = out * d
        out = tf.matmul(out, w[:x_size] if i == 0 else w, transpose_b=True)
    return out


def jacobian(factors, x_size):
    """The Jacobians dg/dx, [batch, output, x_size] (J[b, i, j] = d g_i / d x_j)."""
    (w, d), rest = factors[0], factors[1:]
    m = w[:x_size]  # rows: x_j; the row-vector chain x -> x M
    m = m[None] if d is None else m[None] * d[:, None, :]
    for w, d in rest:
        m = tf.einsum("bij,jk->bik", m, w)
        if d is not None:
            m = m * d[:, None, :]
    return tf.linalg.matrix_transpose(m)
