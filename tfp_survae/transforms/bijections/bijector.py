"""Any stateless TensorFlow Probability bijector as a flow layer."""

from __future__ import annotations

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_survae._serialization import deserialize_tfp, serialize_tfp
from tfp_survae.transforms.base import Bijection

tfb = tfp.bijectors

__all__ = ["BijectorTransform"]


@keras.saving.register_keras_serializable(package="tfp_survae")
class BijectorTransform(Bijection):
    """Lifts a stateless `tfb.Bijector` b into a flow.

    Forward: x = b.forward(z). Inverse: z = b.inverse(x).
    V = log |det dz/dx| = b.inverse_log_det_jacobian(x) summed over the whole event; -inf for
    an x outside the bijector's domain (e.g. past 1 for a logit), whose density is 0.

    The bijector must hold no `tf.Variable`s (Keras 3 cannot see them); its parameters are
    constants. Trainable bijections are layers of their own (AffineCoupling, ActNorm, ...).

    Example:
      >>> onto_reals = BijectorTransform(tfb.Softplus())   # inverse softplus, as in AbsFlow
      >>> logit = BijectorTransform(tfb.Sigmoid())          # logit from (0, 1) onto R
      >>> z, log_det = logit.inverse_and_log_det(tf.constant([[0.5, 0.9]]))
      >>> np.round(z.numpy(), 4), log_det.shape
      (array([[0.    , 2.1972]], dtype=float32), TensorShape([1]))
    """

    def __init__(self, bijector: tfb.Bijector | dict, **kwargs):
        if isinstance(bijector, dict):
            bijector = deserialize_tfp(bijector)
        if not isinstance(bijector, tfb.Bijector):
            raise TypeError(
                f"BijectorTransform wraps a tfb.Bijector; received {type(bijector).__name__}."
            )
        if bijector.trainable_variables:
            raise ValueError(
                f"BijectorTransform takes a stateless bijector; {bijector.name} holds "
                f"{len(bijector.trainable_variables)} tf.Variable(s), which Keras 3 does not "
                "track. Use a tfp_survae layer (AffineCoupling, ActNorm, ...) for trainable parts."
            )
        super().__init__(**kwargs)
        self.bijector = bijector

    def build(self, input_shape):
        super().build(input_shape)
        min_rank = max(
            int(tf.get_static_value(self.bijector.inverse_min_event_ndims)),
            int(tf.get_static_value(self.bijector.forward_min_event_ndims)),
        )
        if self.event_shape.rank < min_rank:
            raise ValueError(
                f"{self._owner}: {self.bijector.name} acts on events of rank >= {min_rank}; "
                f"received event shape {self.event_shape.as_list()}."
            )

    def inverse_event_shape(self, x_event_shape):
        return self.bijector.inverse_event_shape(tf.TensorShape(x_event_shape))

    def forward_event_shape(self, z_event_shape):
        return self.bijector.forward_event_shape(tf.TensorShape(z_event_shape))

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        z = self.bijector.inverse(x)
        log_det = self.bijector.inverse_log_det_jacobian(x, event_ndims=self.event_shape.rank)
        log_det = tf.broadcast_to(log_det, tf.shape(x)[:1])
        # x outside the bijector's domain (a logit past 1) has density 0: V = -inf, and a
        # placeholder z = 0 so the base density stays finite.
        inside = tf.logical_and(
            tf.reduce_all(tf.reshape(tf.math.is_finite(z), [tf.shape(z)[0], -1]), axis=-1),
            tf.math.is_finite(log_det))
        z = tf.where(tf.reshape(inside, [-1] + [1] * (z.shape.rank - 1)), z, tf.zeros_like(z))
        log_det = tf.where(inside, log_det, tf.constant(-float("inf"), log_det.dtype))
        return z, log_det

    def _forward(self, z, *, seed, condition):
        return self.bijector.forward(z)

    def _forward_and_log_det(self, z, *, seed, condition):
        x = self.bijector.forward(z)
        log_det = -self.bijector.forward_log_det_jacobian(z, event_ndims=z.shape.rank - 1)
        return x, tf.broadcast_to(log_det, tf.shape(z)[:1])

    def get_config(self):
        config = super().get_config()
        config["bijector"] = serialize_tfp(self.bijector)
        return config
