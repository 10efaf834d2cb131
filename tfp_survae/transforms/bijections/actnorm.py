"""Activation normalisation (Glow) with data-dependent initialisation."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfp_survae import _checks, _state
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
    strategies; in a training step (`training.training_step`) the initialisation applies only
    together with the optimizer's update, and a data pass that fails initialises nothing.

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
        return not (self.built and self._is_known_initialized())

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

    def _is_known_initialized(self) -> bool:
        """True once the flag variable (not a pending assignment) is seen set; cached."""
        if not self._known_initialized:
            with tf.init_scope():  # a plain read, also while a compiled function traces
                self._known_initialized = bool(self.initialized.numpy())
        return self._known_initialized

    def _initialize_from(self, x):
        """Sets b and s from the batch x unless the layer is initialised (in a compiled
        function: unless its flag is set when the function runs), through `_state.assign`, so
        that in `fit` the initialisation applies only with the step."""
        if tf.executing_eagerly() and int(tf.shape(x)[0]) < 2:
            raise ValueError(
                f"{self._owner}: data-dependent initialisation needs a batch of at least 2 "
                f"examples; received {int(tf.shape(x)[0])}. Initialise on a training batch "
                "(flow.initialize(x) or fit)."
            )
        done = _state.read(self.initialized) > 0
        if not tf.executing_eagerly():
            x = _checks.guarded(x, tf.logical_or(done, tf.shape(x)[0] >= 2),
                                f"{self._owner}: data-dependent initialisation needs a batch of "
                                "at least 2 examples")
        x = tf.stop_gradient(x)  # the statistics are assigned, not differentiated
        axes = list(range(x.shape.rank - 1))
        mean, variance = tf.nn.moments(x, axes=axes)
        count = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), variance.dtype)
        std = tf.sqrt(variance * count / (count - 1.0))  # unbiased, as the reference code
        log_scale = tf.math.log(std + self.epsilon)
        for variable, value in ((self.shift, mean), (self.log_scale, log_scale)):
            _state.assign(variable, tf.where(done, _state.read(variable),
                                             tf.cast(value, variable.dtype)),
                          initialization=True)
        _state.assign(self.initialized, tf.ones_like(self.initialized), initialization=True)

    def _params(self, dtype):
        return (tf.cast(_state.read(self.shift), dtype),
                tf.cast(_state.read(self.log_scale), dtype))

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        if training is True and not self._is_known_initialized():
            self._initialize_from(x)  # evaluation and serving never initialise
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

