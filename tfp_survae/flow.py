"""Flow: a base distribution and a chain of transforms, as a Keras model.

`log_prob` is Algorithm 1 of the paper: run the inverses from data to latent, sum the
contributions V, add log p(z). It is the exact log-likelihood when every inverse is deterministic
(or enumerated with `exact=True`), and otherwise a one-sample estimate of the ELBO.
"""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_survae import _checks, _seeds, _serialization, _state, _tensors, _variables
from tfp_survae.distributions import ConditionalDistribution, TFPDistribution, _temperature
from tfp_survae.serving import endpoints as _endpoints
from tfp_survae.serving.export import export_flow
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

    log p(x) ~= log p(z) + sum_t V_t(x_{t-1}, x_t) with x_0 = x, x_T = z (paper Algorithm 1).

    Args:
      base: a `tfd.Distribution` (scalar batch shape), a tfp_survae distribution layer
        (`StandardNormal`, `DiagonalNormal`, a conditional distribution fed by `condition`), or
        another `Flow` (flows as priors).
      transforms: Transform layers from data to latent (nested `Sequential`s are flattened).
      event_shape: shape of one data example; inferred from the base when every transform can
        map shapes in the forward direction.
      condition_shape: event shape of an optional `condition` tensor (conditional flows).
      seed: seed of the flow's own generator, used by `sample` when no seed is passed.

    Example:
      >>> flow = ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(ts.MLP([64], 2)),
      ...                                         ts.Reverse(), ts.AffineCoupling(ts.MLP([64], 2))])
      >>> x = ts.data.sample_toy("corners", 8)
      >>> flow.log_prob(x).shape          # [batch], in nats
      TensorShape([8])
      >>> flow.sample(16, seed=(1, 2)).shape
      TensorShape([16, 2])
    """

    def __init__(
        self,
        base,
        transforms: Sequence[Transform],
        *,
        event_shape=None,
        condition_shape=None,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.base = _as_base(base)
        self.transforms = list(transforms)
        self._chain = flatten_transforms(self.transforms)
        self.condition_shape = None if condition_shape is None else list(condition_shape)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="sample_seed_generator")
        self.event_shape = _chain.build_chain(self._chain, self.base.event_shape, event_shape)
        self._build_layers()
        self._nll_tracker = keras.metrics.Mean(name="loss")
        self._bpd_tracker = keras.metrics.Mean(name="bits_per_dim")
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
        """True when `log_prob` is the exact log-likelihood (no lower-bound transform)."""
        return _chain.is_exact(self.base, self._chain)

    @property
    def reparameterized(self) -> bool:
        """True when `sample` is a differentiable map of reparameterized noise: the base is
        reparameterized and so is every transform's forward (`reparameterized_forward`)."""
        return self.base.reparameterized and all(t.reparameterized_forward for t in self._chain)

    @property
    def integer_data(self) -> bool:
        return takes_integer_data(self._chain)

    @property
    def num_dims(self) -> int:
        """Elements per example (the D of bits/dim)."""
        return _tensors.num_elements(self.event_shape)

    # ----------------------------------------------------------------------------------------
    # Density and sampling.

    def check_data(self, x) -> tf.Tensor:
        """Converts x to the flow's data dtype and checks its event shape and values.

        A wrong dtype or event shape raises a ValueError; so do NaN or Inf values (eagerly; in a
        graph a check op raises, which `fit` reports as a ValueError; inside an XLA program
        there is none, and `log_prob` gives NaN for such examples). The same check
        (`_checks.check_values`) guards every transform's public methods.
        """
        owner = f"Flow '{self.name}'"
        if self.integer_data:
            x = _checks.as_integer(owner, "data x", x)
        else:
            x = _checks.as_float(owner, "data x", x, self.dtype)
        return _checks.check_values(owner, "data x", x, self.event_shape,
                                   finite=not self.integer_data)

    def log_prob(self, x, seed=None, *, condition=None, training=None):
        """log p(x) (exact) or a one-sample ELBO estimate of it, shape [batch], in nats.

        x is checked once here (dtype, event shape, NaN or Inf: a ValueError naming them), and
        so is `condition` for a conditional flow. Called eagerly, a NaN result from finite data
        (the values overflow the dtype) raises a ValueError too; inside `fit` a NaN loss stops
        training, and no step with a non-finite loss or gradient is applied
        (`training.training_step`, `training.StopOnInvalidLoss`).
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

    def check_condition(self, condition, x=None, *, n=None):
        """Checks `condition` against `condition_shape`: required, a float tensor of shape
        [batch] + condition_shape without NaN or Inf (checked as x is, see `check_data`), and
        as many rows as x has (or as `n`, the number of samples); None passes through for an
        unconditional flow. Returns it in the flow's dtype."""
        owner = f"Flow '{self.name}'"
        if self.condition_shape is None:
            return condition
        if condition is None:
            raise ValueError(
                f"{owner} is conditional (condition_shape={self.condition_shape}); pass "
                "condition= with shape [batch] + condition_shape."
            )
        condition = _checks.as_float(owner, "condition", condition, self.dtype)
        condition = _checks.check_values(owner, "condition", condition, self.condition_shape,
                                         nonempty=False)
        rows = x.shape[0] if x is not None else n if _checks.is_int(n) else None
        if rows is not None and condition.shape[0] is not None and rows != condition.shape[0]:
            raise ValueError(
                f"{owner}: condition has {condition.shape[0]} rows but the "
                f"{'data has' if x is not None else 'sample size n is'} {rows}; pass one "
                "condition per example."
            )
        return condition

    def log_prob_function(self, *, jit_compile: bool = True, with_seed: bool = False):
        """A compiled `log_prob` for repeated calls: evaluation loops, serving, small batches.

        Returns a concrete TensorFlow function of x ([batch] + event, the data dtype), and of
        a seed ([2] int32) with `with_seed`; without, a lower-bound flow uses the seed (0, 0).
        Calling it skips `tf.function`'s Python argument handling, and XLA (on by default)
        shortens the launch: on a 2-core CPU a batch of 128 through the paper's 2-D flow took
        0.18 ms against 0.39 ms for a plain `tf.function` (benchmarks/RESULTS.md). x and seed
        are checked in the graph before the XLA program: a wrong shape, an empty batch, NaN or
        Inf (integers out of range for a dequantizing flow) raise an InvalidArgumentError
        naming the argument. The draws of a lower-bound flow equal `log_prob(x, seed=seed)`'s,
        under XLA too (values to float rounding). A flow with a TFP distribution inside a
        transform (a `TFPDistribution` decoder) runs without XLA: TFP's samplers draw other
        numbers there.
        """
        return _endpoints.log_prob_fn(self, where="log_prob_function", jit_compile=jit_compile,
                                      with_seed=with_seed)

    def sample_function(self, *, jit_compile: bool = True, max_sample_size: int | None = None):
        """A compiled `sample`: a concrete function of (n, seed) with n an int32 scalar in
        [0, max_sample_size] (default 100,000; a larger n raises before allocating) and seed
        [2] int32, drawing what `sample(n, seed)` draws (under XLA to float rounding; a TFP
        distribution as the base is drawn before the XLA program); see `log_prob_function`."""
        limit = _endpoints.DEFAULT_MAX_SAMPLE_SIZE if max_sample_size is None else \
            _endpoints.check_limit("max_sample_size", max_sample_size)
        return _endpoints.sample_fn(self, max_sample_size=limit, where="sample_function",
                                    jit_compile=jit_compile)

    def initialize(self, x, *, condition=None):
        """Data-dependent initialisation (ActNorm, as Glow): one eager pass over a batch of x.

        `fit` calls it on its first batch; call it yourself before a custom training loop.
        Layers already initialised (or restored from a file) are left as they are. Only the
        initialisation is assigned (no running statistics or seed counters move), and only
        when the pass gives a finite log p(x) for every example, as a training step must.

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

    def sample(self, n, seed=None, *, condition=None, temperature=1.0):
        """Draws `n` examples x, shape [n] + event_shape, by running the forwards.

        `n` is a non-negative integer (or an integer scalar tensor; 0 gives an empty batch).
        A conditional flow takes one condition row per sample, checked as in `log_prob`.
        `seed` is a pair of int32 values (a, b), an int a (meaning (a, 0)) or a shape-[2]
        integer tensor; the same seed gives the same draws here, in
        `as_distribution().sample`, in `sample_function()`, in an exported SavedModel and, for
        a flow of bijections, in `tfd.TransformedDistribution(base, flow.as_bijector())` (the
        seed policy of `tfp_survae.transforms._chain`: the base draws with the seed itself
        when no transform samples in the forward direction).

        `temperature` t > 0 samples the base at a reduced (t < 1) or raised spread, as Glow
        (Kingma & Dhariwal, 2018): each base draw z becomes mu + t (z - mu), so a Gaussian base
        N(mu, Sigma) is sampled as N(mu, t^2 Sigma); the transforms run as usual. t = 1 (the
        default) draws exactly what a call without the argument draws. A base that is not
        Gaussian, or a transform that draws noise in the forward direction (which t would not
        scale), is a ValueError for t != 1. `log_prob` is the model's, whatever the temperature.

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
        if isinstance(temperature, tf.Tensor) or temperature != 1.0:
            _temperature.check_flow(owner, self.base, self._chain)
            draw = _temperature.tempered(draw, self.base, temperature)
        seed = self.seed_generator.next() if seed is None else seed
        x, _ = _chain.chain_sample(self._chain, draw, n, seed=_seeds.to_stateless_seed(seed),
                                   condition=condition)
        return x

    def sample_and_log_prob(self, n, seed=None, *, condition=None):
        """Draws x and returns (x, log p(x)); x equals `sample(n, seed)`.

        For a flow with deterministic inverses the log-density is accumulated during sampling
        (one pass); otherwise it is `log_prob` of the sample (an ELBO estimate) with a seed
        derived from `seed` (`fold_in(seed, 1)`).
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

    def export(self, path: str, **kwargs) -> str:
        """Writes a SavedModel with serving endpoints (see `tfp_survae.serving.export_flow`)."""
        return export_flow(self, path, **kwargs)

    def as_distribution(self):
        """This flow as a `tfp_survae.TransformedDistribution` (a `tfd.Distribution`) sharing the
        same layers and variables."""
        return TransformedDistribution(self.base, self._chain)

    def as_bijector(self):
        """This flow's transforms as a `tfb.Bijector` (forward: latent z -> data x) sharing the
        same layers and variables; see `tfp_survae.FlowBijector`.

        Raises a ValueError naming the first transform that is not a bijection.
        """
        latent = self.event_shape
        for t in self._chain:
            latent = t.inverse_event_shape(latent)
        return FlowBijector(self._chain, self.event_shape, latent, dtype=self.dtype,
                            name=f"{self.name}_bijector")

    # ----------------------------------------------------------------------------------------
    # Keras.

    def call(self, inputs, training=None):
        return self.log_prob(inputs, training=training)

    def save_own_variables(self, store):
        _variables.save_variables_and_seed(self, store, self.seed_generator)

    def load_own_variables(self, store):
        _variables.load_variables_and_seed(self, store, self.seed_generator)

    def get_config(self):
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
    def from_config(cls, config):
        return cls(**_serialization.deserialize_sublayers(config))
