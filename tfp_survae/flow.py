"""Flow: a base distribution and a chain of transforms, as a Keras model.

`log_prob` is Algorithm 1 of the paper: run the inverses from data to latent, sum the
contributions V, add log p(z). It is the exact log-likelihood when every inverse is deterministic
(or enumerated with `exact=True`) and every V exact, an unbiased estimate of it when bijections
estimate their V at random (`stochastic_log_det`), and otherwise a one-sample estimate of the
ELBO.
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_survae import _checks, _seeds, _serialization, _state, _tensors, _variables
from tfp_survae._types import Count, Seed, TensorLike
from tfp_survae.distributions import ConditionalDistribution, TFPDistribution, _temperature
from tfp_survae.serving import endpoints as _endpoints
from tfp_survae.serving.export import export_flow
from tfp_survae.training import _batches
from tfp_survae.training.fit import FitMixin
from tfp_survae.flow_bijector import FlowBijector
from tfp_survae.transformed_distribution import TransformedDistribution
from tfp_survae.transforms import _chain
from tfp_survae.transforms.base import Transform, flatten_transforms, takes_integer_data

tfd = tfp.distributions

__all__ = ["Flow"]


def _as_base(base):
    if _chain.is_density_layer(base):
        return base
    if isinstance(base, tfd.Distribution):
        return TFPDistribution(base)
    raise TypeError(
        "A flow's base is a tfd.Distribution, a tfp_survae distribution layer (StandardNormal, "
        f"DiagonalNormal, ...) or another Flow; received {type(base).__name__}."
    )


@keras.saving.register_keras_serializable(package="tfp_survae")
class Flow(FitMixin, keras.Model):
    """A SurVAE flow: `base` p(z) and `transforms` listed from data to latent.

    log p(x) ~= log p(z) + sum_t V_t(x_{t-1}, x_t) with x_0 = x, x_T = z (paper Algorithm 1):
    exact when every V is (`is_exact`), an ELBO estimate when a transform is a lower bound, and
    an unbiased estimate of log p(x) when a bijection estimates its V at random
    (`stochastic_log_det`).

    `Flow(base, transforms, *, event_shape=None, condition_shape=None, seed=None, **kwargs)`
    builds every layer at once (the flow is ready to use, save or summarise); it is a
    `keras.Model`, so `compile` / `fit` / `evaluate` train it on the negative log-likelihood.

    Args:
      base: the latent distribution p(z): a `tfd.Distribution` (scalar batch shape), a
        tfp_survae distribution layer (`StandardNormal`, `DiagonalNormal`, a conditional
        distribution fed by `condition`), or another `Flow` (flows as priors).
      transforms: Transform layers from data to latent (nested `Sequential`s are flattened).
      event_shape: shape of one data example; inferred from the base when every transform can
        map shapes in the forward direction.
      condition_shape: event shape of an optional `condition` tensor (conditional flows).
      seed: seed of the flow's own generator, used by `sample` when no seed is passed.
      **kwargs: `keras.Model` arguments (`name`, `dtype`).

    Raises:
      TypeError: `base` is none of the above.
      ValueError: the shapes do not chain (a transform cannot take the shape the previous one
        gives, or `event_shape` is missing where it cannot be inferred); `condition_shape` is
        given but neither the base nor any transform reads a condition, or a transform or the
        base reads one (`Transform.condition_shape`, a conditional distribution) but
        `condition_shape` is not given.

    Examples:
      >>> base = ts.StandardNormal([2])
      >>> flow = ts.Flow(base, [ts.AffineCoupling(ts.MLP([64], 2)), ts.Reverse(),
      ...                       ts.AffineCoupling(ts.MLP([64], 2))])
      >>> x = ts.data.sample_toy("corners", 8)
      >>> flow.log_prob(x).shape          # [batch], in nats
      TensorShape([8])
      >>> flow.sample(16, seed=(1, 2)).shape
      TensorShape([16, 2])
    """

    def __init__(
        self,
        base: Any,
        transforms: Sequence[Transform],
        *,
        event_shape: Sequence[int] | None = None,
        condition_shape: Sequence[int] | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Builds the flow and every layer in it from `base` and `transforms` (Args above)."""
        super().__init__(**kwargs)
        self.base = _as_base(base)
        if isinstance(transforms, (Transform, str)) or not hasattr(transforms, "__iter__"):
            raise TypeError(
                f"Flow '{self.name}' takes its transforms as a list, from data to latent; "
                f"received {type(transforms).__name__}. Pass [transform], or [] for none.")
        self.transforms = list(transforms)
        self._chain = flatten_transforms(self.transforms)
        self.condition_shape = None if condition_shape is None else _checks.check_shape(
            f"Flow '{self.name}'", "condition_shape", condition_shape)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="sample_seed_generator")
        self.event_shape = _chain.build_chain(self._chain, self.base.event_shape, event_shape)
        _chain.check_condition_readers(f"Flow '{self.name}'", self.base, self._chain,
                                       self.condition_shape)
        self._build_layers()
        # In the flow's float type: a float64 flow's loss was averaged in float32.
        self._nll_tracker = keras.metrics.Mean(name="loss", dtype=self.dtype)
        self._bpd_tracker = keras.metrics.Mean(name="bits_per_dim", dtype=self.dtype)
        self.built = True

    def _build_layers(self):
        """Builds what `build_chain` leaves: the Sequentials grouping transforms (their parts are
        built) and a distribution base (for the flow's condition, if any), so every layer
        reports its shapes and weights (`summary`, `count_params`)."""
        shape = self.event_shape
        for t in self.transforms:
            if not t.built:
                t.build((None,) + tuple(shape.as_list()))
            shape = t.inverse_event_shape(shape)
        if isinstance(self.base, ConditionalDistribution):  # its build is idempotent
            self.base.build(None if self.condition_shape is None
                            else (None,) + tuple(self.condition_shape))

    # ----------------------------------------------------------------------------------------
    # Properties.

    @property
    def chain(self) -> list:
        """The transforms from data to latent, with `Sequential`s flattened."""
        return list(self._chain)

    @property
    def is_exact(self) -> bool:
        """True when `log_prob` is the exact log-likelihood, a deterministic function of x.

        False when a transform is a lower bound (`log_prob` is then a one-sample ELBO
        estimate), unless it was built with `exact=True` (the flow then sums over its finite
        preimage), or when one estimates its V at random (`stochastic_log_det`: a residual block's
        Russian-roulette series, a continuous flow's Hutchinson trace). With only the latter,
        `log_prob` is an unbiased estimate of log p(x) (its mean over seeds is log p(x)), not a
        bound: exp(log_prob) is not an unbiased estimate of p(x), so importance weighting
        (`evaluation.iwbo`) does not apply; average `log_prob` over seeds instead.
        """
        return _chain.is_exact(self.base, self._chain)

    @property
    def is_conditional(self) -> bool:
        """True when the flow takes a condition (`condition_shape` is set)."""
        return self.condition_shape is not None

    @property
    def reparameterized(self) -> bool:
        """True when `sample` is a differentiable map of reparameterized noise: the base is
        reparameterized and so is every transform's forward (`reparameterized_forward`)."""
        return self.base.reparameterized and all(t.reparameterized_forward for t in self._chain)

    @property
    def integer_data(self) -> bool:
        """True when the data are integers (the first transform dequantizes)."""
        return takes_integer_data(self._chain)

    @property
    def num_dims(self) -> int:
        """Elements per example (the D of bits/dim)."""
        return _tensors.num_elements(self.event_shape)

    # ----------------------------------------------------------------------------------------
    # Density and sampling.

    def check_data(self, x: TensorLike) -> tf.Tensor:
        """Converts x to the flow's data dtype and checks its event shape and values.

        In a graph a check op raises instead, which `fit` reports as a ValueError; inside an
        XLA program there is none, and `log_prob` gives NaN for examples holding NaN or Inf,
        while an event shape known only there is checked by XLA when it compiles the call. The
        same check guards every transform's public methods.

        Args:
          x: data, [batch] + event_shape.

        Returns:
          x as a tensor of the flow's data dtype (integers for a dequantizing flow).

        Raises:
          ValueError: x has a wrong dtype or event shape, or (eagerly) NaN or Inf values.
        """
        owner = f"Flow '{self.name}'"
        if self.integer_data:
            x = _checks.as_integer(owner, "data x", x)
        else:
            x = _checks.as_float(owner, "data x", x, self.dtype)
        return _checks.check_values(owner, "data x", x, self.event_shape,
                                   finite=not self.integer_data)

    def log_prob(self, x: TensorLike, seed: Seed | None = None, *,
                 condition: TensorLike | None = None, training: bool | None = None) -> tf.Tensor:
        """log p(x) (exact), a one-sample ELBO estimate of it, or an unbiased estimate of it
        (a bijection with a random V), shape [batch], in nats (see `is_exact`).

        Inside `fit` a NaN loss stops training, and no step with a non-finite loss or gradient
        is applied (`training.training_step`, `training.StopOnInvalidLoss`).

        Args:
          x: data, [batch] + event_shape; checked as in `check_data`.
          seed: seed of the stochastic inverses (a lower-bound flow); None draws a fresh one.
          condition: [batch] + condition_shape, required by a conditional flow.
          training: the Keras training flag (batch statistics, initialisation).

        Returns:
          A float tensor of shape [batch].

        Raises:
          ValueError: x or condition fail their checks, or (eagerly) finite data give NaN
            (the values overflow the dtype, or the weights have diverged).
        """
        x = self.check_data(x)
        condition = self.check_condition(condition, x)
        log_p = self._chain_log_prob(x, seed, condition, training)
        if tf.executing_eagerly() and bool(tf.reduce_any(tf.math.is_nan(log_p))):
            raise ValueError(
                f"Flow '{self.name}': log_prob turned finite data into NaN (the values overflow "
                f"{log_p.dtype.name}, or the weights have diverged); rescale the data or "
                "compute in float64."
            )
        return log_p

    def check_condition(self, condition: TensorLike | None, x: tf.Tensor | None = None, *,
                        n: Count | None = None) -> tf.Tensor | None:
        """Checks `condition` against `condition_shape` (checked as x is, see `check_data`).

        Args:
          condition: [batch] + condition_shape floats; None for an unconditional flow.
          x: the data it conditions, if any: the condition needs as many rows.
          n: the number of samples it conditions, if any: the condition needs n rows, or one
            row for all (repeated n times).

        Returns:
          The condition in the flow's dtype ([n] + condition_shape given n), or None for an
          unconditional flow.

        Raises:
          ValueError: a conditional flow gets no condition, or one of a wrong dtype, event
            shape or number of rows, or with NaN or Inf; an unconditional flow gets one.
        """
        owner = f"Flow '{self.name}'"
        if self.condition_shape is None:
            if condition is not None:
                raise ValueError(
                    f"{owner} takes no condition (it has no condition_shape: no layer reads "
                    f"one); received one of shape {list(np.shape(condition))}. Build the "
                    "flow with condition_shape= and a layer that reads it, or drop condition=.")
            return None
        if condition is None:
            raise ValueError(
                f"{owner} is conditional (condition_shape={self.condition_shape}); pass "
                "condition= with shape [batch] + condition_shape."
            )
        checked = _checks.check_values(
            owner, "condition", _checks.as_float(owner, "condition", condition, self.dtype),
            self.condition_shape, nonempty=False)
        if x is None and n is None:
            return checked
        sampling = x is None
        rows = x.shape[0] if x is not None else tf.get_static_value(n)
        given = checked.shape[0]
        if rows is not None and given is not None:
            if rows != given and not (sampling and given == 1):
                raise ValueError(
                    f"{owner}: condition has {given} rows but the "
                    f"{'sample size n is' if sampling else 'data has'} {int(rows)}; pass one "
                    f"condition per example{' (or one row for all)' if sampling else ''}.")
        else:  # known when the graph runs: checked there
            have = tf.shape(checked)[0]
            if sampling:  # one row is broadcast below, which XLA also checks when it compiles
                need = tf.cast(n, tf.int32)
                checked = _checks.guarded(
                    checked, tf.logical_or(tf.equal(have, need), tf.equal(have, 1)),
                    f"{owner}: the condition needs one row per sample (or one row for all); "
                    "condition rows, n:", have, need)
            else:
                need = tf.shape(x)[0]
                checked = _checks.same_rows(
                    checked, need, f"{owner}: the condition needs one row per example; "
                    "condition rows, data rows:", have, need)
        if sampling and (given is None or given != rows):  # one row for all samples
            checked = tf.broadcast_to(checked, tf.concat(
                [tf.reshape(tf.cast(n, tf.int32), [1]), tf.shape(checked)[1:]], axis=0))
        return checked

    def log_prob_function(self, *, jit_compile: bool = True,
                          with_seed: bool = False) -> Any:
        """A compiled `log_prob` for repeated calls: evaluation loops, serving, small batches.

        Calling it skips `tf.function`'s Python argument handling, and XLA (on by default)
        shortens each call (benchmarks/RESULTS.md, sections 2 and 10). x and seed are
        checked in the graph before the XLA program. The draws of a lower-bound flow equal
        `log_prob(x, seed=seed)`'s, under XLA too (values to float rounding). A flow with a TFP
        distribution inside a transform (a `TFPDistribution` decoder) runs without XLA: TFP's
        samplers draw other numbers there.

        Args:
          jit_compile: compile the model's work with XLA.
          with_seed: take a seed ([2] int32) as a second argument; without, a lower-bound flow
            uses the seed (0, 0).

        Returns:
          A concrete TensorFlow function of x ([batch] + event_shape, the data dtype) (and of
          the seed) returning log p(x), shape [batch]. A wrong shape, an empty batch, NaN or
          Inf (integers out of range for a dequantizing flow) make it raise a
          `tf.errors.InvalidArgumentError` naming the argument. A conditional flow's takes its
          condition ([batch] + condition_shape) as its last argument, checked as x is.
        """
        return _endpoints.log_prob_fn(self, where="log_prob_function", jit_compile=jit_compile,
                                      with_seed=with_seed)

    def sample_function(self, *, jit_compile: bool = True,
                        max_sample_size: int | None = None) -> Any:
        """A compiled `sample` (see `log_prob_function`).

        It draws what `sample(n, seed)` draws (under XLA to float rounding; a TFP distribution
        as the base is drawn before the XLA program).

        Args:
          jit_compile: compile the model's work with XLA.
          max_sample_size: the largest n it accepts (default 100,000); a larger n raises
            before allocating.

        Returns:
          A concrete TensorFlow function of (n, seed), n an int32 scalar and seed [2] int32,
          returning x of shape [n] + event_shape; a conditional flow's takes its condition
          ([n] + condition_shape) as a third argument.

        Raises:
          ValueError: max_sample_size is not a positive integer.
        """
        limit = _endpoints.DEFAULT_MAX_SAMPLE_SIZE if max_sample_size is None else \
            _endpoints.check_limit("max_sample_size", max_sample_size)
        return _endpoints.sample_fn(self, max_sample_size=limit, where="sample_function",
                                    jit_compile=jit_compile)

    def initialize(self, x: TensorLike, *, condition: TensorLike | None = None) -> None:
        """Data-dependent initialisation (ActNorm, as Glow): one eager pass over a batch of x.

        `fit` calls it on its first batch; call it yourself before a custom training loop.
        Layers already initialised (or restored from a file) are left as they are. Only the
        initialisation is assigned (no running statistics or seed counters move), and only
        when the pass gives a finite log p(x) for every example, as a training step must.

        Args:
          x: a batch of typical training data, [batch] + event_shape.
          condition: its condition, for a conditional flow.

        Raises:
          ValueError: x fails the data checks (`check_data`), or log p(x) or the initial
            values are not finite; the flow is then left as it was.
        """
        with _state.deferred() as updates:
            log_p = self.log_prob(x, seed=(0, 0), condition=condition, training=True)
        values = updates.values(initialization_only=True)
        bad = np.flatnonzero(~np.isfinite(log_p.numpy()))
        if len(bad) or not all(np.all(np.isfinite(v.numpy())) for v in values
                               if v.dtype.is_floating):
            raise ValueError(
                f"Flow '{self.name}': the data-dependent initialisation was not applied: "
                + (f"log p(x) is not finite for {len(bad)} of the {len(log_p)} examples (the "
                   f"first at row {bad[0]}: {log_p[bad[0]]:.4g})" if len(bad) else
                   "its statistics are not finite")
                + f" (values that overflow {log_p.dtype.name}?); initialise on a batch of "
                "typical training data."
            )
        updates.assign(initialization_only=True)

    def sample(self, n: Count, seed: Seed | None = None, *,
               condition: TensorLike | None = None,
               temperature: float | tf.Tensor = 1.0) -> tf.Tensor:
        """Draws `n` examples x by running the forwards.

        The same seed gives the same draws here, in `as_distribution().sample`, in
        `sample_function()`, in an exported SavedModel and, for a flow of bijections, in
        `tfd.TransformedDistribution(base, flow.as_bijector())` (the base draws with the seed
        itself when no transform samples in the forward direction).

        `temperature` t > 0 samples the base at a reduced (t < 1) or raised spread, as Glow
        (Kingma & Dhariwal, 2018): each base draw z becomes mu + t (z - mu), so a Gaussian base
        N(mu, Sigma) is sampled as N(mu, t^2 Sigma); the transforms run as usual, and those that
        draw from a normal in the forward direction (`Slice` with a normal decoder, as Glow's
        factored-out latents) draw at t too. t = 1 (the default) draws exactly what a call
        without the argument draws. `log_prob` is the model's, whatever the temperature.

        Args:
          n: a non-negative integer (or an integer scalar tensor; 0 gives an empty batch).
          seed: a pair of int32 values (a, b), an int a (meaning (a, 0)) or a shape-[2]
            integer tensor; None draws from the flow's own generator.
          condition: one condition row per sample, or one row for all, for a conditional
            flow (checked as in `log_prob`).
          temperature: the base's spread factor t > 0 (a float or a scalar tensor).

        Returns:
          x, shape [n] + event_shape.

        Raises:
          ValueError: n is not a non-negative integer, the condition fails its checks, or
            t != 1 for a base that is not Gaussian or a transform that draws noise in the
            forward direction that is not a normal's (which t would not scale).

        Examples:
          >>> flow = ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(hidden_units=[8])])
          >>> x = flow.sample(1000, seed=(1, 2), temperature=0.5)
          >>> bool(tf.math.reduce_std(x) < 0.7)
          True
        """
        owner = f"Flow '{self.name}'.sample"
        n = _checks.check_count(owner, "n", n, minimum=0)
        condition = self.check_condition(condition, n=n)
        draw = self._base_sample
        temperature = _temperature.check(owner, temperature)
        tempered = isinstance(temperature, tf.Tensor) or temperature != 1.0
        if tempered:
            _temperature.check_flow(owner, self.base, self._chain)
            draw = _temperature.tempered(draw, self.base, temperature)
        seed = self.seed_generator.next() if seed is None else seed
        x, _ = _chain.chain_sample(self._chain, draw, n, seed=_seeds.to_stateless_seed(seed),
                                   condition=condition,
                                   temperature=temperature if tempered else None)
        return x

    def sample_and_log_prob(self, n: Count, seed: Seed | None = None, *,
                            condition: TensorLike | None = None) -> tuple[tf.Tensor, tf.Tensor]:
        """Draws x and returns (x, log p(x)); x equals `sample(n, seed)`.

        For a flow with deterministic inverses the log-density is accumulated during sampling
        (one pass); otherwise it is `log_prob` of the sample (an ELBO estimate) with a seed
        derived from `seed` (`fold_in(seed, 1)`).

        Args:
          n: the number of examples, as in `sample`.
          seed: as in `sample`.
          condition: as in `sample`.

        Returns:
          (x, log_p): x of shape [n] + event_shape and log_p of shape [n], in nats.

        Raises:
          ValueError: as `sample`.
        """
        n = _checks.check_count(f"Flow '{self.name}'.sample_and_log_prob", "n", n, minimum=0)
        condition = self.check_condition(condition, n=n)
        seed = _seeds.to_stateless_seed(self.seed_generator.next() if seed is None else seed)
        one_pass = all(not t.stochastic_inverse for t in self._chain)
        x, log_p = _chain.chain_sample(self._chain, self._base_sample, n, seed=seed,
                                       condition=condition, with_log_prob=one_pass)
        if not one_pass:  # x is the flow's own sample (possibly empty): no checks again
            log_p = self._chain_log_prob(x, _seeds.fold_in(seed, 1), condition, None)
        return x, log_p

    def _base_sample(self, n, condition, seed):
        return _chain.base_sample_and_log_prob(self.base, n, condition, seed)

    def _chain_log_prob(self, x, seed, condition, training):
        return _chain.chain_log_prob(
            self._chain, lambda z, c, s: _chain.base_log_prob(self.base, z, c, s), x,
            seed=seed, condition=condition, training=training)

    def export(self, path: str, **kwargs: Any) -> str:
        """Writes a SavedModel with serving endpoints.

        Args:
          path: the SavedModel's directory.
          **kwargs: the options of `tfp_survae.serving.export_flow`.

        Returns:
          path.
        """
        return export_flow(self, path, **kwargs)

    def as_distribution(self) -> TransformedDistribution:
        """This flow as a `tfd.Distribution`; a conditional flow's takes `condition=` in
        `log_prob` and `sample`, as the flow does.

        Returns:
          A `tfp_survae.TransformedDistribution` sharing the flow's layers and variables.
        """
        return TransformedDistribution(self.base, self._chain,
                                       condition_shape=self.condition_shape)

    def as_bijector(self) -> FlowBijector:
        """This flow's transforms as a `tfb.Bijector` (forward: latent z -> data x); where
        they read the flow's condition, it takes `condition=` in each method.

        Returns:
          A `tfp_survae.FlowBijector` sharing the flow's layers and variables.

        Raises:
          ValueError: a transform is not a bijection (the first is named).
        """
        latent = self.event_shape
        for t in self._chain:
            latent = t.inverse_event_shape(latent)
        reads = any(t.condition_shape is not None for t in self._chain)
        return FlowBijector(self._chain, self.event_shape, latent, dtype=self.dtype,
                            condition_shape=self.condition_shape if reads else None,
                            name=f"{self.name}_bijector")

    # ----------------------------------------------------------------------------------------
    # Keras.

    def call(self, inputs: TensorLike | dict, training: bool | None = None) -> tf.Tensor:
        """log p(x) per example, as `log_prob`: `inputs` is x, or the dict
        {"x": x, "condition": c} that `fit` and `predict` take."""
        if isinstance(inputs, dict):
            x, condition = _batches.unpack_batch(inputs)
            return self.log_prob(x, condition=condition, training=training)
        return self.log_prob(inputs, training=training)

    def save_own_variables(self, store: Any) -> None:
        _variables.save_variables_and_seed(self, store, self.seed_generator)

    def load_own_variables(self, store: Any) -> None:
        _variables.load_variables_and_seed(self, store, self.seed_generator)

    def get_config(self) -> dict:
        config = {
            "name": self.name,
            "dtype": keras.saving.serialize_keras_object(self.dtype_policy),
            "base": keras.saving.serialize_keras_object(self.base),
            "transforms": [keras.saving.serialize_keras_object(t) for t in self.transforms],
            "event_shape": self.event_shape.as_list(),
            "condition_shape": self.condition_shape,
            "seed": self.seed,
        }
        return config

    @classmethod
    def from_config(cls, config: dict) -> Flow:
        return cls(**_serialization.deserialize_sublayers(config))
