"""Keras training for flows: compile, fit and evaluate on the negative log-likelihood."""

from __future__ import annotations

import contextlib
import warnings
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import tensorflow as tf

from tfp_survae import _state, _tensors
from tfp_survae.training import _batches, _data, _errors, _staged, _steps, compiled

__all__ = ["FitMixin", "StopOnInvalidLoss", "DEFAULT_STEPS_PER_EXECUTION", "PROGRESS_UPDATES",
           "training_step"]

# Batches per compiled call of the training loop: small models spend most of a step on its
# dispatch (benchmarks/RESULTS.md, sections 1 and 10); large models are unaffected.
DEFAULT_STEPS_PER_EXECUTION = 32
# Unless `compile` is given `steps_per_execution`, an epoch of known length runs at least this
# many executions (up to DEFAULT_STEPS_PER_EXECUTION batches each), so that the progress bar and
# the batch-end callbacks move during it.
PROGRESS_UPDATES = 10

if TYPE_CHECKING:  # FitMixin's methods call keras.Model's (keras is untyped: Any)
    from keras import Model as _ModelBase
else:
    _ModelBase = object

class StopOnInvalidLoss(keras.callbacks.Callback):
    """Stops training when the loss becomes NaN or infinite, and says where.

    `Flow.fit` adds it unless `stop_on_invalid_loss=False`. The training step itself never
    applies a step whose loss or gradients are not finite, nor any later step of the same
    epoch (`training_step`), so the weights, the optimizer state and the layers' state stay
    those from before the first invalid batch (NaN or Inf in the data under XLA, which
    compiles the data checks away; data so large that the likelihood overflows). This callback
    sees the NaN loss at the end of the execution, stops training and warns, naming the epoch
    and the range of batches.
    """

    def __init__(self) -> None:
        super().__init__()
        self._epoch = 0
        self.message: str | None = None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is None or np.isfinite(loss):
            return
        # Keras reports an execution's end as its first batch + steps_per_execution - 1.
        first = max(0, batch - (getattr(self.model, "steps_per_execution", 1) or 1) + 1)
        last = _errors.last_batch_of_execution(self.model, first, self.params)
        where = f"batch {last}" if first == last else f"batches {first}-{last}"
        finite = all(np.all(np.isfinite(v.numpy())) for v in self.model.trainable_variables)
        self.message = (
            f"Flow '{self.model.name}': the loss became {loss} at epoch {self._epoch + 1}, "
            f"{where}; training stopped. "
            + ("No step with a non-finite loss or gradient was applied: the weights, the "
               "optimizer state and the layers' state (running statistics, initialisation, "
               "seed counters) are those from before the first such batch. NaN or Inf in the "
               "data, or data of extreme magnitude, are the usual causes."
               if finite else
               "The weights are not finite: a step with a finite gradient overflowed them, so "
               "the learning rate is far too large.")
        )
        warnings.warn(self.message, RuntimeWarning, stacklevel=2)
        self.model.stop_training = True


def training_step(flow: keras.Model, optimizer: keras.optimizers.Optimizer, data: Any, *,
                  replicas: int = 1, halted: tf.Tensor | None = None) -> tf.Tensor:
    """One optimisation step on a batch of the negative log-likelihood (or ELBO).

    The loss is the batch's mean NLL plus the flow's regularisation losses, scaled for mixed
    precision by the optimizer and divided over `replicas` when a custom loop sums the
    replicas' gradients.

    The step is applied only when the loss and the gradients are finite (under a
    LossScaleOptimizer, which skips non-finite gradients itself and lowers its scale, only the
    loss is checked) and `halted` (an optional scalar bool: an earlier step was invalid) is
    false; under a strategy the replicas agree first. The state the forward pass changes
    (running statistics, ActNorm's initialisation, seed counters) is assigned with the
    optimizer's update and under the same condition, so a step that is not applied changes no
    variable of the flow. The one step `Flow.fit` and `distributed_fit` share.

    Args:
      flow: the `Flow` to train.
      optimizer: a built Keras optimizer of the flow's trainable variables.
      data: a batch: x, or a dict {"x": ..., "condition": ...}.
      replicas: the number of replicas whose gradients a custom loop sums.
      halted: an optional scalar bool, true when an earlier step was invalid.

    Returns:
      The batch's mean NLL in nats (a scalar), or NaN for a step that was not applied.

    Raises:
      ValueError: the batch is a tuple or fails the data checks.

    Examples:
      >>> flow = ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(ts.MLP([8], 2))])
      >>> optimizer = keras.optimizers.Adam(1e-3)
      >>> optimizer.build(flow.trainable_variables)
      >>> nll = ts.training.training_step(flow, optimizer, ts.data.sample_toy("corners", 16))
      >>> nll.shape
      TensorShape([])
    """
    x, condition = _batches.unpack_batch(data)
    with _state.deferred() as updates, tf.GradientTape() as tape:
        nll = -tf.reduce_mean(flow.log_prob(x, condition=condition, training=True))
        loss = nll + tf.add_n(flow.losses) if flow.losses else nll
        scaled = optimizer.scale_loss(loss / replicas if replicas != 1 else loss)
    variables = flow.trainable_variables
    gradients = tape.gradient(scaled, variables)
    checked = [loss] if isinstance(optimizer, keras.optimizers.LossScaleOptimizer) \
        else [loss] + [g for g in gradients if g is not None]
    valid = tf.reduce_all(tf.stack([tf.reduce_all(tf.math.is_finite(t)) for t in checked]))
    if halted is not None:
        valid = tf.logical_and(valid, tf.logical_not(halted))
    valid = _apply_if(valid, optimizer, gradients, variables, updates)
    return tf.where(valid, nll, tf.constant(np.nan, nll.dtype))


def _apply_if(valid, optimizer, gradients, variables, updates):
    """When `valid`: the layers' state `updates` (running statistics, initialisation, seed
    counters recorded in the forward pass), then `optimizer.apply`; returns `valid` (agreed
    across replicas)."""
    def apply(gradients, values):
        updates.assign(values)  # first: an initialisation in this step is what the step trains
        optimizer.apply(gradients, variables)

    context = tf.distribute.get_replica_context()
    if context is None or not tf.distribute.has_strategy():
        tf.cond(valid, lambda: apply(gradients, updates.values()), lambda: None)
        return valid
    # A cond in a replica context may not hold the optimizer's merge_call: decide in the
    # cross-replica context, as Keras' LossScaleOptimizer does, each replica applying its own
    # gradients and state.
    invalid = tf.cast(tf.logical_not(valid), tf.float32)
    valid = context.all_reduce(tf.distribute.ReduceOp.SUM, invalid) < 0.5

    def apply_everywhere(strategy, gradients, values, valid):
        valid = strategy.experimental_local_results(valid)[0]
        tf.cond(valid, lambda: strategy.extended.call_for_each_replica(
            apply, args=(gradients, values)), lambda: None)

    context.merge_call(apply_everywhere, args=(gradients, updates.values(), valid))
    return valid


def _batches_watched(fit_kwargs: dict) -> bool:
    """Whether anything shows or reads an epoch's batches as they train: Keras' progress bar
    (`verbose` 1 or "auto") or a callback of the user's with a training-batch hook."""
    if fit_kwargs.get("verbose", "auto") not in (0, 2):
        return True
    base = keras.callbacks.Callback
    hooks = ("on_batch_begin", "on_batch_end", "on_train_batch_begin", "on_train_batch_end")
    return any(getattr(type(c), hook) is not getattr(base, hook)
               for c in fit_kwargs.get("callbacks") or ()
               if not isinstance(c, StopOnInvalidLoss) for hook in hooks)


class FitMixin(_ModelBase):
    """The Keras `Model` training methods of `Flow`: the loss is -log p(x) (or its ELBO),
    reported as "loss" in nats and "bits_per_dim"."""

    steps_per_execution: int  # set by keras.Model.compile
    compiled_execution: bool | str

    def compile(self, optimizer: str | keras.optimizers.Optimizer = "adam", *,
                steps_per_execution: int | None = None,
                compiled_execution: bool | str = "auto", **kwargs: Any) -> None:
        """Keras `compile`; the loss is always the negative log-likelihood (bound) in nats.

        Args:
          optimizer: a Keras optimizer (or its name).
          steps_per_execution: batches per call of the training loop, a positive integer, or
            None (the default): 32 (`DEFAULT_STEPS_PER_EXECUTION`), and in `fit`, for an epoch
            of known length (arrays, a dataset of known cardinality, `steps_per_epoch`)
            that something watches (Keras' progress bar, `verbose=1` or "auto", or a callback
            with a training-batch hook), a tenth of the epoch's steps (rounded down, at least
            1) where that is less, so that the bar and the batch-end callbacks move at least
            about ten times an epoch (`PROGRESS_UPDATES`): an epoch of 32 batches runs
            executions of 3 batches. Unwatched (`verbose=0` or 2 and no such callback), it
            runs executions of 32, which on short epochs are faster.
            An epoch of `steps_per_epoch` steps (or an evaluation of `steps`) runs exactly
            those steps: its executions are made the largest size up to this that divides them
            (`fit(steps_per_epoch=10)` with `steps_per_execution=32` runs 10 steps, as one
            execution). Under a tf.distribute strategy with several replicas None is 1:
            Keras 3's loop of several steps per call fails there ("You must feed a value for
            placeholder tensor", keras-team/keras#19246) and more than 1 is refused.
          compiled_execution: run each execution of `steps_per_execution` batches, stacked and
            checked, as one XLA program (one per step for a model with convolutions;
            `training.compiled`): True, False, or "auto" (the default: on where it measured
            faster, CPUs and models up to `compiled.AUTO_MAX_PARAMETERS` trainable parameters;
            GPUs and TPUs keep Keras' loop until measured there). Never under a
            tf.distribute strategy or with `run_eagerly`.
          **kwargs: Keras' other `compile` arguments. `jit_compile` (Keras' per-step XLA, used
            when `compiled_execution` is off) keeps Keras' default "auto".

        Raises:
          ValueError: a `loss`, a `steps_per_execution` that is not a positive integer or is
            above 1 under a strategy with several replicas, an unknown `compiled_execution`.
        """
        if kwargs.get("loss") is not None:
            raise ValueError(
                "A Flow trains on its own negative log-likelihood; compile() takes no loss= "
                f"(received {kwargs['loss']!r})."
            )
        kwargs.pop("loss", None)
        method = f"Flow '{self.name}'.compile()"
        replicas = self.distribute_strategy.num_replicas_in_sync
        _steps.check_steps(method, "steps_per_execution", steps_per_execution, optional=True)
        chosen = steps_per_execution is None
        size = (1 if replicas > 1 else DEFAULT_STEPS_PER_EXECUTION) if steps_per_execution is None \
            else steps_per_execution
        _steps.check_replicated_steps(method, size, replicas)
        compiled.check_setting(compiled_execution)
        self.compiled_execution = compiled_execution
        self.steps_per_execution_chosen = chosen
        self._staged_programs = None  # made by the first fit on staged data
        super().compile(optimizer=optimizer, steps_per_execution=size, **kwargs)

    def get_compile_config(self) -> dict | None:
        config = super().get_compile_config()
        if config:  # {} or None for a model that was never compiled
            config["compiled_execution"] = getattr(self, "compiled_execution", "auto")
            if getattr(self, "steps_per_execution_chosen", False):
                config["steps_per_execution"] = None
        return config

    def _compiled_or_keras_function(self, attribute, step, make_keras_function, force):
        """The cached function in `attribute`, else a compiled execution of `step`, else Keras'
        own (`make_keras_function`)."""
        if getattr(self, attribute) is not None and not force:
            return getattr(self, attribute)
        kind = compiled.resolve(getattr(self, "compiled_execution", False), self)
        if kind is None:
            return make_keras_function(force)
        function = compiled.make_function(
            lambda: self.steps_per_execution, step,
            lambda stacked: compiled.check_values(self, stacked), kind)
        setattr(self, attribute, function)
        return function

    def make_train_function(self, force: bool = False) -> Any:
        return self._compiled_or_keras_function("train_function", self.train_step,
                                   super().make_train_function, force)

    def make_test_function(self, force: bool = False) -> Any:
        return self._compiled_or_keras_function("test_function", self.test_step,
                                   super().make_test_function, force)

    def compile_from_config(self, config: dict) -> None:
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**{k: v for k, v in config.items() if k != "loss"})
        if getattr(self, "optimizer", None) is not None:
            self.optimizer.build(self.trainable_variables)

    def fit(self, x: Any = None, y: None = None, *, stop_on_invalid_loss: bool = True,
            **kwargs: Any) -> keras.callbacks.History:
        """Keras `fit` on batches of data x (no labels; y must be None).

        The loss reported per epoch ("loss", and "val_loss" for `validation_data`) is the mean
        negative log-likelihood over the epoch's examples, each batch's mean NLL weighted by
        its size (the value at the weights of the step that trained on it).

        In-memory arrays are checked whole before the first step (NaN or Inf, integers out of
        range): a ValueError names the row of x as passed. Other data are checked batch by
        batch: the batches before an invalid one are trained on, and the error names the
        epoch, the batch and the row within it. Under Keras' per-step XLA, where those checks
        are compiled away, the loss turns NaN and `StopOnInvalidLoss` stops training with a
        warning naming the batches; no step with a non-finite loss is applied.

        With compiled executions, data in memory (arrays, tensors, a dataset that only batches
        tensors it holds: `from_tensor_slices(x).batch(n)`, cached, taken or prefetched) are
        staged once and the compiled program slices its batches itself (`_staged`): arrays
        in a new permutation of the rows each epoch with `shuffle=True` (Keras' default; from
        NumPy's global generator) or in order, the last batch holding the rows left over.
        Streaming data, `shuffle="batch"` and `steps_per_epoch` are pulled batch by batch.
        Unless `compile` was given `steps_per_execution`, an epoch of known length that a
        progress bar or a batch callback watches runs executions of a tenth of its steps where
        that is under 32, so that they move (`compile`).

        Args:
          x: an array, a dict of arrays {"x": ..., "condition": ...} (a conditional flow), a
            tf.data.Dataset, a keras.utils.PyDataset or a generator, of batches in the same
            layouts.
          y: must be None.
          stop_on_invalid_loss: add a `StopOnInvalidLoss` callback.
          **kwargs: Keras' other `fit` arguments (`epochs`, `batch_size`, `steps_per_epoch`,
            `validation_data`, `callbacks`, ...).

        Returns:
          Keras' `History` of "loss" and "bits_per_dim" per epoch.

        Raises:
          ValueError: targets y, `sample_weight` or `class_weight` (a flow fits the unweighted
            mean NLL, and Keras passes no weights to a model without targets: resample the
            examples in proportion to their weights instead), a batch as a tuple (x,
            condition) (pass a dict), empty data, step counts that are not positive integers,
            invalid data.
        """
        method = f"Flow '{self.name}'.fit()"
        if y is not None:
            raise ValueError(f"{method}: a Flow models x alone and takes no targets y.")
        _data.refuse_weights(method, kwargs)
        _data.check_data_argument(method, x)
        _steps.check_replicated_steps(method, self.steps_per_execution,
                                      self.distribute_strategy.num_replicas_in_sync)
        steps_per_epoch = _steps.check_steps(method, "steps_per_epoch",
                                             kwargs.get("steps_per_epoch"), optional=True)
        validation_steps = _steps.check_steps(method, "validation_steps",
                                              kwargs.get("validation_steps"), optional=True)
        _data.check_array_values(self, method, x)
        if kwargs.get("validation_data") is not None:
            _data.check_data_argument(method, kwargs["validation_data"])
            _data.check_array_values(self, method, kwargs["validation_data"],
                                     name="validation_data")
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # a dataset shuffles itself
        if stop_on_invalid_loss:
            callbacks = list(kwargs.get("callbacks") or [])
            if not any(isinstance(c, StopOnInvalidLoss) for c in callbacks):
                callbacks.append(StopOnInvalidLoss())
            kwargs["callbacks"] = callbacks
        with _data.floats_in(self.dtype):
            x = self._initialize_on_first_batch(method, _data.as_keras_data(method, x),
                                                kwargs.get("batch_size"))
            self._build_optimizer()
            staged = self._stage(x, kwargs)
            size = self._fit_execution_size(x, staged, kwargs.get("batch_size"),
                                            steps_per_epoch, validation_steps,
                                            _batches_watched(kwargs))
            kwargs["callbacks"], position = _errors.with_position(method,
                                                                  kwargs.get("callbacks"))
            with self._errors_said_as_value_errors(position), self._executions_of(size), \
                    self._training_on(staged):
                return super().fit(x if staged is None else staged.stand_in(), **kwargs)

    def _stage(self, x, kwargs):
        """`x` staged for compiled executions that slice their batches themselves
        (`_staged`), with `kwargs` rewritten for Keras' loop over its stand-in (the
        validation split made here); None for data that stream, without compiled executions
        or with `steps_per_epoch` (Keras' loop then carries its position across epochs)."""
        kind = compiled.resolve(getattr(self, "compiled_execution", False), self)
        if kind is None or kwargs.get("steps_per_epoch") is not None:
            return None
        train, validation = x, None
        if kwargs.get("validation_split") and kwargs.get("validation_data") is None:
            split = _staged.split(x, kwargs["validation_split"])
            if split is None:
                return None
            train, validation = split
        staged = _staged.stage(train, kwargs.get("batch_size"), kwargs.get("shuffle", True))
        if staged is None:
            return None
        if isinstance(x, tf.data.Dataset):
            _staged.check_dataset_values(self, staged)
        batch_size = kwargs.pop("batch_size", None)
        if batch_size is not None and kwargs.get("validation_batch_size") is None:
            kwargs["validation_batch_size"] = batch_size
        kwargs["shuffle"] = False  # the stand-in's order is no data's
        kwargs.pop("validation_split", None)
        if validation is not None:
            kwargs["validation_data"] = validation
        if self._staged_programs is None or self._staged_programs.kind != kind:
            self._staged_programs = compiled.staged_programs(self.train_step, kind)
        return staged

    def _fit_execution_size(self, x, staged, batch_size, steps_per_epoch, validation_steps,
                            watched):
        """The batches per execution of this `fit` (`_steps.execution_size`), fewer for a
        short epoch that is `watched` when `compile` chose `steps_per_execution`
        (`PROGRESS_UPDATES`)."""
        size = self.steps_per_execution
        if watched and getattr(self, "steps_per_execution_chosen", False):
            length = steps_per_epoch or (staged.num_batches if staged is not None
                                         else _data.epoch_length(x, batch_size))
            if length:
                size = min(size, max(1, length // PROGRESS_UPDATES))
        return _steps.execution_size(size, steps_per_epoch, validation_steps)

    @contextlib.contextmanager
    def _training_on(self, staged):
        """Inside, `fit` trains on `staged` data (None: on what Keras' loop pulls)."""
        if staged is None:
            yield
            return
        previous = self.train_function
        self.train_function = compiled.make_staged_function(
            staged, lambda: self.steps_per_execution, self._staged_programs)
        try:
            yield
        finally:  # the streaming function: the staged one would keep the data alive
            self.train_function = previous
            self.make_train_function()

    def evaluate(self, x: Any = None, y: None = None, **kwargs: Any) -> Any:
        """Keras `evaluate` on batches of data x, checked as `fit` checks them.

        Args:
          x: data in the layouts `fit` takes.
          y: must be None.
          **kwargs: Keras' other `evaluate` arguments (`batch_size`, `steps`,
            `return_dict`, ...).

        Returns:
          The mean negative log-likelihood over the examples in nats ("loss") and bits/dim,
          as Keras returns them (a list, or a dict with `return_dict=True`).

        Raises:
          ValueError: targets y, weights, empty or invalid data, as `fit`.
        """
        method = f"Flow '{self.name}'.evaluate()"
        if y is not None:
            raise ValueError(f"{method}: a Flow models x alone and takes no targets y.")
        _data.refuse_weights(method, kwargs)
        _data.check_data_argument(method, x)
        size = _steps.execution_size(self.steps_per_execution, _steps.check_steps(
            method, "steps", kwargs.get("steps"), optional=True))
        if not kwargs.get("_use_cached_eval_dataset"):  # fit checked its validation_data
            _data.check_array_values(self, method, x)
        kwargs["callbacks"], position = _errors.with_position(method, kwargs.get("callbacks"))
        with self._errors_said_as_value_errors(position), self._executions_of(size), \
                _data.floats_in(self.dtype):
            return super().evaluate(_data.as_keras_data(method, x), **kwargs)

    def predict(self, x: Any, **kwargs: Any) -> np.ndarray:
        """Keras `predict`: log p(x) (or its ELBO) per example.

        Args:
          x: data in the layouts `fit` takes.
          **kwargs: Keras' other `predict` arguments.

        Returns:
          log p(x), shape [examples], in nats.

        Raises:
          ValueError: empty or invalid data, as `fit`.
        """
        method = f"Flow '{self.name}'.predict()"
        _data.check_data_argument(method, x)
        _data.check_array_values(self, method, x)
        kwargs["callbacks"], position = _errors.with_position(method, kwargs.get("callbacks"))
        with self._errors_said_as_value_errors(position), _data.floats_in(self.dtype):
            return super().predict(_data.as_keras_data(method, x), **kwargs)

    def _build_optimizer(self):
        """Creates the optimizer's variables eagerly, before any compiled step: a step that
        failed while tracing then cannot leave a half-initialised function behind."""
        optimizer = getattr(self, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            with self.distribute_strategy.scope():
                optimizer.build(self.trainable_variables)

    @contextlib.contextmanager
    def _executions_of(self, size: int):
        """Runs executions of `size` batches inside (`_steps.execution_size`); Keras' loop
        fixes the size when it traces, so its functions are traced again for another size (the
        compiled executions read it at each call)."""
        compiled_size = self.steps_per_execution
        if size == compiled_size:
            yield
            return
        self._reset_keras_functions()
        self.steps_per_execution = size
        try:
            yield
        finally:
            self.steps_per_execution = compiled_size
            self._reset_keras_functions()

    def _errors_said_as_value_errors(self, position):
        """The data checks' errors from compiled functions as ValueErrors naming the epoch,
        batch and row; the compiled functions of a call that failed are dropped, so the next
        call traces afresh."""
        return _errors.as_value_errors(position, self._reset_compiled_functions)

    def _reset_compiled_functions(self):
        self.train_function = None
        self.test_function = None
        self.predict_function = None
        self._staged_programs = None

    def _reset_keras_functions(self):
        """Drops Keras' own functions, keeping compiled executions (which have a `kind`)."""
        for name in ("train_function", "test_function", "predict_function"):
            if not hasattr(getattr(self, name), "kind"):
                setattr(self, name, None)

    def _initialize_on_first_batch(self, method, x, batch_size=None):
        """Runs the first batch through `initialize` if a layer needs data-dependent setup;
        returns the data to train on (a generator with its first batch put back)."""
        if not any(t.needs_initialization for t in self.chain):
            return x
        batch, x = _data.first_batch(method, x, batch_size)
        data, condition = _batches.unpack_batch(batch)
        self.initialize(data, condition=condition)
        return x

    @property
    def metrics(self) -> list:
        # The loss, bits/dim, and the metrics the transforms own (a continuous flow's number of
        # function evaluations).
        return [self._nll_tracker, self._bpd_tracker] + [m for t in self.chain for m in t.metrics]

    def _update_metrics(self, nll, examples):
        """Adds a batch's mean NLL with weight `examples`, its size: the reported loss is the
        mean over examples, whatever the batch sizes."""
        weight = tf.cast(examples, nll.dtype)
        self._nll_tracker.update_state(nll, sample_weight=weight)
        self._bpd_tracker.update_state(_tensors.nats_to_bits_per_dim(nll, self.num_dims),
                                       sample_weight=weight)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data: Any) -> dict:
        # A NaN in the epoch's mean loss means an earlier step was invalid: apply no more.
        halted = tf.logical_not(tf.math.is_finite(self._nll_tracker.result()))
        nll = training_step(self, self.optimizer, data, halted=halted)
        return self._update_metrics(nll, _batches.batch_size(data))

    def test_step(self, data: Any) -> dict:
        x, condition = _batches.unpack_batch(data)
        nll = -tf.reduce_mean(self.log_prob(x, condition=condition, training=False))
        return self._update_metrics(nll, _batches.batch_size(data))

    def predict_step(self, data: Any) -> tf.Tensor:
        x, condition = _batches.unpack_batch(data)
        return self.log_prob(x, condition=condition, training=False)
