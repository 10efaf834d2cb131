"""Batch normalisation as a bijection (Dinh et al., 2017), with running statistics."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfp_survae import _state, _tensors
from tfp_survae.transforms.base import Bijection

__all__ = ["BatchNormalization"]


@keras.saving.register_keras_serializable(package="tfp_survae")
class BatchNormalization(Bijection):
    """Per-feature normalisation over the last axis by batch or running statistics.

    Inverse: z = (x - m) / sqrt(v + eps) * exp(g) + b, with (m, v) the batch's mean and variance
    over the batch and positions when `training=True` (and the running averages then move
    towards them by 1 - momentum; in `fit` only when the step is applied), the running averages
    otherwise. Forward: its inverse, with
    the running averages. V = N * sum_c (g_c - log(v_c + eps) / 2), N the positions per
    feature. In training the map depends on the whole batch; evaluation, sampling and serving
    use the running statistics, so there it is an exact bijection of each example.

    Args:
      momentum: of the running averages.
      epsilon: added to the variance.

    References:
      Dinh, Sohl-Dickstein, Bengio, "Density estimation using Real NVP", ICLR 2017.
      https://arxiv.org/abs/1605.08803
    """

    min_event_rank = 1

    def __init__(self, momentum: float = 0.9, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must lie in [0, 1); received {momentum}.")
        if not epsilon > 0:
            raise ValueError(f"epsilon must be positive; received {epsilon}.")
        self.momentum, self.epsilon = float(momentum), float(epsilon)

    def build(self, input_shape):
        super().build(input_shape)
        c = (self.event_shape[-1],)
        self.log_gamma = self.add_weight(shape=c, initializer="zeros", name="log_gamma")
        self.beta = self.add_weight(shape=c, initializer="zeros", name="beta")
        self.moving_mean = self.add_weight(shape=c, initializer="zeros", name="moving_mean",
                                           trainable=False, aggregation="mean")
        self.moving_variance = self.add_weight(shape=c, initializer="ones",
                                               name="moving_variance", trainable=False,
                                               aggregation="mean")
        self._positions = _tensors.num_elements(self.event_shape[:-1])

    def _log_det(self, variance, batch):
        log_det = self._positions * tf.reduce_sum(
            tf.cast(self.log_gamma, variance.dtype) - 0.5 * tf.math.log(variance + self.epsilon))
        return tf.fill([batch], log_det)

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        if training is True:
            mean, variance = tf.nn.moments(x, axes=list(range(x.shape.rank - 1)))
            for average, batch_value in ((self.moving_mean, mean),
                                         (self.moving_variance, variance)):
                _state.assign(average, self.momentum * _state.read(average) + (
                    1 - self.momentum) * tf.cast(tf.stop_gradient(batch_value), average.dtype))
        else:
            mean = tf.cast(self.moving_mean, x.dtype)
            variance = tf.cast(self.moving_variance, x.dtype)
        z = (x - mean) * tf.math.rsqrt(variance + self.epsilon) * tf.exp(
            tf.cast(self.log_gamma, x.dtype)) + tf.cast(self.beta, x.dtype)
        return z, self._log_det(variance, tf.shape(x)[0])

    def _forward_and_log_det(self, z, *, seed, condition):
        mean = tf.cast(self.moving_mean, z.dtype)
        variance = tf.cast(self.moving_variance, z.dtype)
        x = (z - tf.cast(self.beta, z.dtype)) * tf.exp(-tf.cast(self.log_gamma, z.dtype)) * tf.sqrt(
            variance + self.epsilon) + mean
        return x, self._log_det(variance, tf.shape(z)[0])

    def get_config(self):
        config = super().get_config()
        config.update(momentum=self.momentum, epsilon=self.epsilon)
        return config
