"""Invertible 1x1 convolution (Glow), LU-parameterised."""

from __future__ import annotations

import keras
import numpy as np
import scipy.linalg
import tensorflow as tf

from tfp_survae import _tensors
from tfp_survae.transforms.base import Bijection

__all__ = ["Conv1x1"]


@keras.saving.register_keras_serializable(package="tfp_survae")
class Conv1x1(Bijection):
    """An invertible linear map of the channels (last axis) at every position.

    W = P L (U + diag(sign * exp(log_s))) with a fixed permutation P, unit lower-triangular L,
    strictly upper-triangular U and fixed signs (Kingma and Dhariwal, 2018, Sec. 3.2).
    Inverse: z = x W (per position). Forward: x = z W^-1 by two triangular solves.
    V = N * sum(log_s), with N the number of positions (h * w): O(C) instead of a determinant,
    and W stays invertible for every parameter value.

    Initialised at a random rotation (QR of a Gaussian matrix, seeded by Keras' global seed).

    References:
      Kingma, Dhariwal, "Glow: Generative Flow with Invertible 1x1 Convolutions", NeurIPS 2018.
      https://arxiv.org/abs/1807.03039
    """

    min_event_rank = 1

    def build(self, input_shape):
        super().build(input_shape)
        c = self.event_shape[-1]
        self._positions = _tensors.num_elements(self.event_shape[:-1])
        # NumPy's global generator (seeded by keras.utils.set_random_seed): build may run while
        # a tf.function traces, where Keras' random ops are symbolic.
        rotation = np.linalg.qr(np.random.randn(c, c))[0]
        perm, lower, upper = scipy.linalg.lu(rotation)
        diag = np.diag(upper)
        # rotation = perm @ lower @ upper. The permutation and the signs are fixed state, saved
        # with the weights (non-trainable) so a restored layer computes the same W.
        self.permutation = self.add_weight(
            shape=(c,), name="permutation", trainable=False, dtype="int32",
            initializer=keras.initializers.Constant(np.argmax(perm, axis=0)))
        self.sign = self.add_weight(shape=(c,), name="sign", trainable=False,
                                    initializer=keras.initializers.Constant(np.sign(diag)))
        # Only the free entries are variables (C^2 in all): strictly lower, strictly upper, diag.
        rows, cols = np.tril_indices(c, -1)
        self._lower_index = _scatter_index(c, rows, cols)
        self._upper_index = _scatter_index(c, cols, rows)
        self.lower = self.add_weight(shape=(len(rows),), name="lower",
                                     initializer=keras.initializers.Constant(lower[rows, cols]))
        self.upper = self.add_weight(shape=(len(rows),), name="upper",
                                     initializer=keras.initializers.Constant(upper[cols, rows]))
        self.log_scale = self.add_weight(shape=(c,), name="log_scale",
                                         initializer=keras.initializers.Constant(np.log(np.abs(diag))))

    def _factors(self, dtype):
        c = self.event_shape[-1]
        lower = _fill(tf.cast(self.lower, dtype), self._lower_index) + tf.eye(c, dtype=dtype)
        log_scale = tf.cast(self.log_scale, dtype)
        upper = _fill(tf.cast(self.upper, dtype), self._upper_index) + tf.linalg.diag(
            tf.cast(self.sign, dtype) * tf.exp(log_scale))
        permutation = tf.transpose(tf.one_hot(self.permutation, c, dtype=dtype))
        return permutation, lower, upper, log_scale

    def weight(self, dtype=tf.float32):
        """The current matrix W (channels in, channels out)."""
        perm, lower, upper, _ = self._factors(dtype)
        return perm @ lower @ upper

    def _log_det(self, log_scale, t):
        return tf.fill([tf.shape(t)[0]], self._positions * tf.reduce_sum(log_scale))

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        perm, lower, upper, log_scale = self._factors(x.dtype)
        z = tf.einsum("...i,ij->...j", x, perm @ lower @ upper)
        return z, self._log_det(log_scale, x)

    def _forward_and_log_det(self, z, *, seed, condition):
        perm, lower, upper, log_scale = self._factors(z.dtype)
        # x W = z  <=>  W^T x^T = z^T, W^T = U^T L^T P^T: solve U^T, then L^T, then apply P.
        flat = tf.reshape(z, [-1, self.event_shape[-1]])
        y = tf.linalg.triangular_solve(tf.transpose(upper), tf.transpose(flat), lower=True)
        y = tf.linalg.triangular_solve(tf.transpose(lower), y, lower=False)
        x = tf.reshape(tf.transpose(perm @ y), tf.shape(z))
        return x, self._log_det(log_scale, z)


def _scatter_index(size, rows, cols):
    """[size, size] indices into [0] + entries: entry k at (rows[k], cols[k]), 0 elsewhere."""
    index = np.zeros((size, size), np.int32)
    index[rows, cols] = np.arange(1, len(rows) + 1)
    return index


def _fill(entries, index):
    return tf.gather(tf.concat([tf.zeros([1], entries.dtype), entries], axis=0), index)



@keras.saving.register_keras_serializable(package="tfp_survae")
class LinearLU(Conv1x1):
    """An invertible linear map of a vector, LU-parameterised: the dense twin of `Conv1x1`.

    W = P L (U + diag(sign * exp(log_s))) with a fixed permutation P, unit lower-triangular L,
    strictly upper-triangular U and fixed signs. Inverse: z = x W. Forward: x = z W^-1 (two
    triangular solves). V = sum(log_s). Initialised at a random rotation.

    References:
      Kingma, Dhariwal, "Glow: Generative Flow with Invertible 1x1 Convolutions", NeurIPS 2018.
      https://arxiv.org/abs/1807.03039
    """

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"{self._owner}: LinearLU acts on vectors [D]; received event shape "
                             f"{list(input_shape)[1:]} (use Conv1x1 for images and sets).")
        super().build(input_shape)
