"""Keras training for flows: compile, fit and evaluate on the negative log-likelihood."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import tensorflow as tf

from tfp_survae import _utils

__all__ = ["FitMixin", "StopOnInvalidLoss", "DEFAULT_STEPS_PER_EXECUTION"]

# Batches per compiled call of the training loop. For the paper's 2-D flow on a 2-core CPU this
# halves the time per step against 1 (dispatch overhead); large models are unaffected.
DEFAULT_STEPS_PER_EXECUTION = 32

# Errors raised by the data checks inside compiled functions carry this tag; `fit` turns them
# into ValueErrors.
ERROR_TAG = "[tfp_survae]"


class StopOnInvalidLoss(keras.callbacks.Callback):
    """Stops training when the loss becomes NaN or infinite, with a warning naming the batch.

    `Flow.fit` adds it unless `stop_on_invalid_loss=False`. With steps_per_execution = N the
    loss is seen every N batches, so the warning names the range of batches.
    """

    def __init__(self):
        super().__init__()
        self._epoch = 0
        self.message = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or np.isfinite(loss):
            return
        steps = getattr(self.model, "steps_per_execution", 1) or 1
        first = max(0, batch - steps + 1)
        where = f"batch {batch}" if first == batch else f"batches {first}-{batch}"
        self.message = (
            f"Flow '{self.model.name}': the loss became {loss} at epoch {self._epoch + 1}, "
            f"{where}; training stopped. NaN or Inf in the data, or too large a learning rate, "
            "are the usual causes."
        )
        warnings.warn(self.message, RuntimeWarning, stacklevel=2)
        self.model.stop_training = True


class FitMixin:
    """The Keras `Model` training methods of `Flow`: the loss is -log p(x) (or its ELBO),
    reported as "loss" in nats and "bits_per_dim"."""

    def compile(self, optimizer="adam", *, steps_per_execution=DEFAULT_STEPS_PER_EXECUTION,
                **kwargs):
        """Keras `compile`; the loss is always the negative log-likelihood (bound) in nats.

        `jit_compile` keeps Keras' default "auto": XLA on GPUs and TPUs, off on CPUs, where it
        measured no faster. `steps_per_execution` defaults to 32 batches per compiled call.
        """
        if kwargs.get("loss") is not None:
            raise ValueError(
                "A Flow trains on its own negative log-likelihood; compile() takes no loss= "
                f"(received {kwargs['loss']!r})."
            )
        kwargs.pop("loss", None)
        super().compile(optimizer=optimizer, steps_per_execution=steps_per_execution, **kwargs)

    def compile_from_config(self, config):
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**{k: v for k, v in config.items() if k != "loss"})
        if getattr(self, "optimizer", None) is not None:
            self.optimizer.build(self.trainable_variables)

    def fit(self, x=None, y=None, *, stop_on_invalid_loss: bool = True, **kwargs):
        """Keras `fit` on batches of data x (no labels; y must be None).

        Invalid data found inside the compiled step (NaN or Inf, integers out of range) raises
        a ValueError naming it; under XLA, where those checks are compiled away, the loss turns
        NaN and `StopOnInvalidLoss` stops training with a warning naming the batch.
        """
        if y is not None:
            raise ValueError("A Flow models x alone; fit() takes no targets y.")
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # a dataset shuffles itself
        if stop_on_invalid_loss:
            callbacks = list(kwargs.get("callbacks") or [])
            if not any(isinstance(c, StopOnInvalidLoss) for c in callbacks):
                callbacks.append(StopOnInvalidLoss())
            kwargs["callbacks"] = callbacks
        self._initialize_on_first_batch(x, kwargs.get("batch_size"))
        try:
            return super().fit(x, **kwargs)
        except tf.errors.InvalidArgumentError as error:
            message = error.message
            if ERROR_TAG not in message:
                raise
            first = message[message.index(ERROR_TAG) + len(ERROR_TAG):].split("\n")[0]
            raise ValueError(first.strip(" []")) from None

    def _initialize_on_first_batch(self, x, batch_size=None):
        """Runs the first batch through `initialize` if a layer needs data-dependent setup."""
        if not any(getattr(t, "needs_initialization", False) for t in self.chain):
            return
        if isinstance(x, tf.data.Dataset):
            batch = next(iter(x.take(1)))
        elif isinstance(x, keras.utils.PyDataset):
            batch = x[0]
        else:
            batch = x[: batch_size or 32]
        self.initialize(self._unpack(batch)[0])

    @property
    def metrics(self):
        return [self._nll_tracker, self._bpd_tracker]

    def _unpack(self, data):
        if isinstance(data, (tuple, list)):
            data = data[0]
        if isinstance(data, dict):
            x = data["x"] if "x" in data else next(iter(data.values()))
            return x, data.get("condition")
        return data, None

    def _update_metrics(self, nll):
        self._nll_tracker.update_state(nll)
        self._bpd_tracker.update_state(_utils.nats_to_bits_per_dim(nll, self.num_dims))
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x, condition = self._unpack(data)
        with tf.GradientTape() as tape:
            nll = -tf.reduce_mean(self.log_prob(x, condition=condition, training=True))
            loss = nll + tf.add_n(self.losses) if self.losses else nll
            scaled = self.optimizer.scale_loss(loss)
        variables = self.trainable_variables
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply(gradients, variables)
        return self._update_metrics(nll)

    def test_step(self, data):
        x, condition = self._unpack(data)
        nll = -tf.reduce_mean(self.log_prob(x, condition=condition, training=False))
        return self._update_metrics(nll)

    def predict_step(self, data):
        x, condition = self._unpack(data)
        return self.log_prob(x, condition=condition, training=False)
