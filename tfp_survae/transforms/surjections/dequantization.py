"""Generative rounding (paper Example 2): uniform and variational dequantization.

"The paper": Nielsen, Jaini, Hoogeboom, Winther, Welling, "SurVAE Flows: Surjections to Bridge
the Gap between VAEs and Flows", NeurIPS 2020. https://arxiv.org/abs/2007.02731
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from tfp_survae import _checks, _seeds, _tensors
from tfp_survae.distributions import ConditionalDistribution
from tfp_survae.transforms.base import Surjection

__all__ = ["UniformDequantization", "VariationalDequantization"]


class _Dequantization(Surjection, kind="generative"):
    integer_data = True
    differentiable_forward = False  # forward rounds to integers

    def __init__(self, num_values: int = 256, output_dtype: str = "int32", **kwargs):
        super().__init__(**kwargs)
        self.num_values = int(num_values)
        if self.num_values < 2:
            raise ValueError(f"num_values must be at least 2; received {num_values}.")
        self.output_dtype = tf.as_dtype(output_dtype).name
        if not tf.as_dtype(self.output_dtype).is_integer:
            raise ValueError(f"output_dtype must be an integer dtype; received {output_dtype!r}.")

    def build(self, input_shape):
        super().build(input_shape)
        self._log_k_total = _tensors.num_elements(self.event_shape) * math.log(self.num_values)

    def _checked_float(self, x):
        """x as floats after checking 0 <= x < num_values (an error naming the bad value)."""
        k = self.num_values
        if tf.executing_eagerly():
            _checks.check_in_range(self._owner, x, k)
            return tf.cast(x, self.dtype)
        # In graphs a check op raises; inside an XLA program there is none, so out-of-range
        # values also become NaN, and so does V of their examples (`_log_det`): log_prob is
        # NaN there, never a density.
        x = _checks.assert_in_range(self._owner, x, k)
        wide = tf.cast(x, tf.int64)
        valid = tf.logical_and(wide >= 0, wide < k)
        return tf.where(valid, tf.cast(x, self.dtype), tf.constant(float("nan"), self.dtype))

    def _forward(self, z, *, seed, condition):
        # A NaN latent has no integer value (a cast would give -2**31): refuse it here, where
        # it is about to be rounded, even when the caller skipped the value scan.
        z = _checks.check_values(self._owner, "latent z", z, z.shape[1:], finite=True,
                                 nonempty=False)
        x = tf.floor(z * self.num_values)
        x = tf.clip_by_value(x, 0.0, self.num_values - 1.0)
        return tf.cast(x, self.output_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(num_values=self.num_values, output_dtype=self.output_dtype)
        return config


@keras.saving.register_keras_serializable(package="tfp_survae")
class UniformDequantization(_Dequantization):
    """Uniform dequantization: generative rounding with q(u | x) = U[0, 1)^D (paper Example 2).

    Inverse: u ~ U[0, 1)^D, z = (x + u) / K for integer x in {0, ..., K-1}^D.
    V = -D log K (the density of u is 1; -D log K is the change of scale by 1/K), so the flow's
    `log_prob` lower-bounds the log probability mass of x and bits/dim = -log_prob / (D ln 2).
    Forward: x = floor(K z), clipped into {0, ..., K-1}.

    In floating point, u is drawn from [e, 1 - e] with e = 4 K machine-epsilons (1.2e-4 for 8
    bits in float32), so that z stays strictly inside (0, 1) and a logit or inverse-sigmoid next
    to it never sees 0 or 1; V includes -log q(u) = D log(1 - 2e), which keeps the bound.

    Args:
      num_values: K, the number of discrete values per element (256 for 8-bit images).
      output_dtype: integer dtype of samples.
    """

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        x = self._checked_float(x)
        margin = 4.0 * self.num_values * float(np.finfo(x.dtype.as_numpy_dtype).eps)
        u = _seeds.random_uniform(tf.shape(x), seed, dtype=x.dtype, minval=margin,
                                  maxval=1.0 - margin)
        z = (x + u) / self.num_values
        dims = _tensors.num_elements(self.event_shape)
        log_det = -self._log_k_total + dims * math.log1p(-2.0 * margin)  # -log q(u) <= 0
        log_det = tf.fill([tf.shape(x)[0]], tf.constant(log_det, x.dtype))
        return z, _checks.nan_where_invalid(log_det, x)


@keras.saving.register_keras_serializable(package="tfp_survae")
class VariationalDequantization(_Dequantization):
    """Variational dequantization (Flow++): generative rounding with a learned q(u | x).

    Inverse: u ~ q(u | x) on (0, 1)^D, z = (x + u) / K.
    V = -log q(u | x) - D log K (one-sample ELBO term; uniform q recovers UniformDequantization).
    Forward: x = floor(K z), clipped into {0, ..., K-1}.

    Args:
      encoder: a ConditionalDistribution over u in (0, 1)^D given the context x (as floats in
        [-0.5, 0.5], the integer data rescaled), e.g. `tfp_survae.dequantization_flow(...)`: a
        conditional flow ending in a sigmoid.
      num_values: K.

    References:
      Ho, Chen, Srinivas, Duan, Abbeel, "Flow++", ICML 2019. https://arxiv.org/abs/1902.00275
    """

    config_sublayers = ("encoder",)

    def __init__(self, encoder: ConditionalDistribution, num_values: int = 256, **kwargs):
        super().__init__(num_values=num_values, **kwargs)
        if not isinstance(encoder, ConditionalDistribution):
            raise TypeError(
                "VariationalDequantization needs a ConditionalDistribution encoder over u given "
                f"x; received {type(encoder).__name__}."
            )
        self.encoder = encoder

    def build(self, input_shape):
        super().build(input_shape)
        if self.encoder.event_shape.as_list() != self.event_shape.as_list():
            raise ValueError(
                f"{self._owner}: the encoder's event shape {self.encoder.event_shape.as_list()} "
                f"must equal the data's {self.event_shape.as_list()}."
            )
        self.encoder.build(tuple(input_shape))

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        x = self._checked_float(x)
        context = x / (self.num_values - 1) - 0.5
        u, log_q = self.encoder.sample_and_log_prob(tf.shape(x)[0], seed, condition=context)
        z = (x + tf.cast(u, x.dtype)) / self.num_values
        return z, _checks.nan_where_invalid(-tf.cast(log_q, x.dtype) - self._log_k_total, x)

