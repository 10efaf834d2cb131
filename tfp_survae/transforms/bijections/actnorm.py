"""Activation normalisation (Glow) with data-dependent initialisation."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfp_survae import _checks
from tfp_survae.transforms.base import Bijection

__all__ = ["ActNorm"]


@keras.saving.register_keras_serializable(package="tfp_survae")
class ActNorm(Bijection):
    """Per-feature affine normalisation over the last axis (channels of an image).

    Forward: x = z * exp(s) + b. Inverse: z = (x - b) * exp(-s).
    V = -N * sum_c s_c, with N the number of positions per feature (h * w for an image).

    Data-dependent initialisation (Kingma and Dhariwal, 2018): on the first *training* batch it
    sees in the inverse direction (`fit`'s first batch, `flow.initialize(x)`, or a call with
    `training=True`), b and s are set so that z has zero mean and unit variance per feature.
    That batch must hold at least 2 examples (a ValueError otherwise: one example has no
    variance). Evaluation, sampling and serving (`training` None or False) never change the
    layer: an ActNorm that was never initialised computes the identity (b = 0, s = 0, V = 0),
    the same for every call and every request order. The flag saves with the model. `Flow.fit`
    runs the first batch eagerly before compiling its training step (as Glow's initialisation
    pass), which also keeps the step free of the initialisation branch under tf.distribute
    strategies.

    References:
      Kingma, Dhariwal, "Glow: Generative Flow with Invertible 1x1 Convolutions", NeurIPS 2018.
      https://arxiv.org/abs/1807.03039
    """

    min_event_rank = 1

    def __init__(self, epsilon: float = 1e-6, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)
        self._known_initialized = False  # set once initialisation is known to have happened

    @property
    def needs_initialization(self) -> bool:
        return not (self._known_initialized or (self.built and bool(self.initialized.numpy())))

    def build(self, input_shape):
        super().build(input_shape)
        features = self.event_shape[-1]
        self.shift = self.add_weight(
            shape=(features,), initializer="zeros", name="shift", aggregation="mean"
        )
        self.log_scale = self.add_weight(
            shape=(features,), initializer="zeros", name="log_scale", aggregation="mean"
        )
        self.initialized = self.add_weight(
            shape=(), initializer="zeros", name="initialized", trainable=False,
            aggregation="only_first_replica",
        )
        self._positions = 1
        for d in self.event_shape[:-1]:
            self._positions *= int(d)

    def _initialize_from(self, x):
        if tf.executing_eagerly() and int(tf.shape(x)[0]) < 2:
            raise ValueError(
                f"{self._owner}: data-dependent initialisation needs a batch of at least 2 "
                f"examples; received {int(tf.shape(x)[0])}. Initialise on a training batch "
                "(flow.initialize(x) or fit)."
            )
        elif not tf.executing_eagerly():
            x = _checks.guarded(x, tf.shape(x)[0] >= 2, f"{self._owner}: data-dependent "
                                "initialisation needs a batch of at least 2 examples")
        axes = list(range(x.shape.rank - 1))
        mean, variance = tf.nn.moments(x, axes=axes)
        count = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), variance.dtype)
        std = tf.sqrt(variance * count / (count - 1.0))  # unbiased, as the reference code
        log_scale = tf.math.log(std + self.epsilon)
        self.shift.assign(tf.cast(mean, self.shift.dtype))
        self.log_scale.assign(tf.cast(log_scale, self.log_scale.dtype))
        self.initialized.assign(tf.ones_like(self.initialized))

    def _params(self, dtype):
        return tf.cast(self.shift, dtype), tf.cast(self.log_scale, dtype)

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        if training is not True:
            pass  # evaluation and serving never initialise
        elif tf.executing_eagerly():
            if not bool(self.initialized.numpy()):
                self._initialize_from(x)
            self._known_initialized = True
        elif not self._known_initialized:
            tf.cond(
                self.initialized > 0,
                lambda: tf.constant(True),
                lambda: _run_and_true(self._initialize_from, x),
            )
        shift, log_scale = self._params(x.dtype)
        z = (x - shift) * tf.exp(-log_scale)
        log_det = -self._positions * tf.reduce_sum(log_scale)
        return z, tf.fill([tf.shape(x)[0]], log_det)

    def _forward_and_log_det(self, z, *, seed, condition):
        shift, log_scale = self._params(z.dtype)
        log_det = -self._positions * tf.reduce_sum(log_scale)
        return z * tf.exp(log_scale) + shift, tf.fill([tf.shape(z)[0]], log_det)

    def load_own_variables(self, store):
        super().load_own_variables(store)
        self._known_initialized = bool(self.initialized.numpy())

    def get_config(self):
        config = super().get_config()
        config["epsilon"] = self.epsilon
        return config


def _run_and_true(fn, x):
    fn(x)
    return tf.constant(True)
