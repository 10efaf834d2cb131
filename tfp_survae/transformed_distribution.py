"""A SurVAE flow as a real `tfd.Distribution`, composable with the rest of TFP."""

from __future__ import annotations

import sys
import types
from typing import Any, Sequence

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_survae import _checks, _seeds, _variables
from tfp_survae.distributions import _temperature
from tfp_survae.transforms import _chain
from tfp_survae.transforms.base import Transform, flatten_transforms, takes_integer_data

tfd = tfp.distributions

__all__ = ["TransformedDistribution"]

_NO_CLOSED_FORM = (
    "A SurVAE flow has no closed-form {what}. Estimate it by Monte Carlo from `sample` (and "
    "`log_prob`), e.g. {example}."
)


def _no_closed_form(what: str, example: str):
    raise NotImplementedError(_NO_CLOSED_FORM.format(what=what, example=example))


class TransformedDistribution(tfp.distributions.Distribution):
    """A `tfd.Distribution` of x built from a base distribution and SurVAE transforms.

    The SurVAE counterpart of `tfd.TransformedDistribution`: `transforms` (data to latent) may be
    surjective or stochastic. `log_prob` is exact or a one-sample ELBO estimate exactly as
    `Flow.log_prob`; `sample` runs the forwards.

    It behaves as a TFP distribution in every respect a flow can honour:

    * **Shapes.** A base with a batch shape gives the distribution that batch shape (the
      transforms are shared across it). `log_prob` takes any leading sample dimensions and
      broadcasts them against the batch shape, as TFP does: with batch shape [3] and event [4], x
      of shape [7, 1, 4] gives [7, 3] and x of shape [4] gives [3]. So the view composes with
      `tfd.Independent`, `tfd.Sample`, `tfd.MixtureSameFamily`, `tfd.Mixture` and the
      `tfd.JointDistribution*` family.
    * **Variables.** `variables` and `trainable_variables` are exactly the variables of the base
      and the transforms (the `tf.Variable`s behind their Keras variables), so `tf.Module`
      collection, `tfp.math.minimize` and `tfp.vi.fit_surrogate_posterior` find them without a
      variable list. They are live: training the view trains the flow and the reverse.
    * **Reparameterization.** `FULLY_REPARAMETERIZED` when the base is and every transform's
      forward is a differentiable map of reparameterized noise (`reparameterized_forward`);
      otherwise `NOT_REPARAMETERIZED` (a learned discrete choice, a non-reparameterized decoder,
      rounding).
    * **Temperature.** `sample(n, seed=..., temperature=t)` samples a Gaussian base at t times
      its spread, as `Flow.sample` (the same draws for the same seed and t).
    * Statistics with no closed form (`mean`, `variance`, `entropy`, `cdf`, `quantile`, KL
      divergences, ...) raise a NotImplementedError that says how to estimate them.

    Args:
      distribution: the base: a `tfd.Distribution`, a tfp_survae distribution layer or a `Flow`
        (layers stay live: trained variables are read on every call).
      transforms: Transform layers, from data to latent.
      event_shape: the data event shape, when it cannot be inferred from the base.
      condition_shape: the event shape of the condition of a conditional flow (as
        `Flow.condition_shape`). `log_prob(x, condition=c)` then broadcasts c's leading
        dimensions against x's, as TFP broadcasts a batch, and `sample(sample_shape,
        condition=c)` broadcasts them to `sample_shape` (one row per draw, or one for all);
        both refuse a missing condition. None: nothing reads a condition.
      validate_args: TFP's flag (tfp_survae checks its arguments either way).
      name: the distribution's name.

    Raises:
      TypeError: `distribution` is none of the above.
      ValueError: the base's batch shape is not static, or the shapes do not chain; a
        `condition_shape` with a base that has a batch shape, or that neither the base nor a
        transform reads, or none where one of them reads a condition.

    Examples:
      >>> flow = ts.Flow(ts.StandardNormal([2]), [ts.Abs()])
      >>> dist = flow.as_distribution()       # TransformedDistribution(base, chain)
      >>> x = dist.sample(3, seed=(1, 2))
      >>> x.shape, dist.log_prob(x).shape
      (TensorShape([3, 2]), TensorShape([3]))
      >>> base = tfd.Independent(tfd.Normal(tf.zeros([4, 2]), 1.0), 1)   # batch [4], event [2]
      >>> ts.TransformedDistribution(base, [ts.Abs()]).batch_shape
      TensorShape([4])

      A conditional flow's view takes the condition as `Flow.log_prob` does:

      >>> coupling = ts.AffineCoupling(ts.MLP([8], 2), condition_shape=[3])
      >>> conditional = ts.Flow(ts.StandardNormal([2]), [coupling], condition_shape=[3])
      >>> dist = conditional.as_distribution()
      >>> dist.log_prob(tf.zeros([5, 2]), condition=tf.ones([5, 3])).shape
      TensorShape([5])
      >>> dist.sample(100, seed=(1, 2), condition=tf.ones([3])).shape   # 100 draws given c
      TensorShape([100, 2])
    """

    def __init__(self, distribution: Any, transforms: Sequence[Transform], *,
                 event_shape: Sequence[int] | None = None,
                 condition_shape: Sequence[int] | None = None, validate_args: bool = False,
                 name: str | None = None) -> None:
        parameters = dict(locals())
        self._base = distribution
        self._chain = flatten_transforms(transforms)
        if isinstance(distribution, tfd.Distribution):
            base_event = distribution.event_shape
            self._base_batch_shape = distribution.batch_shape
            dtype = distribution.dtype
            base_reparameterized = (
                distribution.reparameterization_type == tfd.FULLY_REPARAMETERIZED
            )
        elif _chain.is_density_layer(distribution):
            base_event = distribution.event_shape
            self._base_batch_shape = tf.TensorShape([])
            dtype = tf.as_dtype(distribution.dtype)
            base_reparameterized = distribution.reparameterized
        else:
            raise TypeError(
                "TransformedDistribution takes a tfd.Distribution, a tfp_survae distribution "
                f"layer or a Flow as its base; received {type(distribution).__name__}."
            )
        if not self._base_batch_shape.is_fully_defined():
            raise ValueError(
                "TransformedDistribution needs a base with a static batch shape; received "
                f"{self._base_batch_shape}."
            )
        # A tuple: tf.Module would wrap a list (and print it as ListWrapper([...])).
        self._condition_shape = None if condition_shape is None else tuple(_checks.check_shape(
            "TransformedDistribution", "condition_shape", condition_shape))
        if self._condition_shape is not None and self._base_batch_shape.rank:
            raise ValueError(
                "TransformedDistribution: a conditional view (condition_shape="
                f"{list(self._condition_shape)}) needs a base without a batch shape; received "
                f"batch shape {self._base_batch_shape.as_list()}."
            )
        self._condition_dtype = dtype
        _chain.check_condition_readers("TransformedDistribution", distribution, self._chain,
                                       self._condition_shape)
        self._data_event_shape = _chain.build_chain(self._chain, base_event, event_shape)
        self._integer_data = takes_integer_data(self._chain)
        reparameterized = base_reparameterized and all(
            t.reparameterized_forward for t in self._chain
        )
        self._layers = [t for t in self._chain]
        if not isinstance(distribution, tfd.Distribution):
            self._layers.insert(0, distribution)
        super().__init__(
            dtype=tf.int32 if self._integer_data else dtype,
            reparameterization_type=(
                tfd.FULLY_REPARAMETERIZED if reparameterized else tfd.NOT_REPARAMETERIZED
            ),
            validate_args=validate_args,
            allow_nan_stats=True,
            parameters=parameters,
            name=name or "SurVAETransformedDistribution",
        )
        # tf.Module collects variables by walking attributes: hold the flow's here too.
        self._flow_variables = tuple(self.variables)

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None):
        return {}

    @property
    def transforms(self) -> list:
        """The transforms from data to latent, with `Sequential`s flattened."""
        return list(self._chain)

    @property
    def is_exact(self) -> bool:
        """True when `log_prob` is the exact log-likelihood (no lower-bound transform)."""
        return _chain.is_exact(self._base, self._chain)

    # ----------------------------------------------------------------------------------------
    # Variables.

    def _collect(self, trainable_only: bool) -> tuple:
        found = _variables.backing_variables(self._layers, trainable_only=trainable_only)
        if isinstance(self._base, tfd.Distribution):
            base = self._base.trainable_variables if trainable_only else self._base.variables
            known = {id(v) for v in found}
            found += [v for v in base if id(v) not in known]
        return tuple(found)

    @property
    def variables(self) -> tuple[tf.Variable, ...]:
        """Every variable of the base and the transforms (live)."""
        return self._collect(trainable_only=False)

    @property
    def trainable_variables(self) -> tuple[tf.Variable, ...]:
        """The trainable variables of the base and the transforms (live)."""
        return self._collect(trainable_only=True)

    # ----------------------------------------------------------------------------------------
    # Shapes.

    def _batch_shape(self):
        if not self._base_batch_shape.rank:
            _refuse_mixture_same_family(self.name)
        return self._base_batch_shape

    def _batch_shape_tensor(self):
        return tf.constant(self._base_batch_shape.as_list(), tf.int32)

    def _event_shape(self):
        return self._data_event_shape

    def _event_shape_tensor(self):
        return tf.constant(self._data_event_shape.as_list(), tf.int32)

    def _flatten_value(self, x, condition=None, own_sample=False):
        """x broadcast against the batch shape, then flattened to [-1] + event; also returns the
        broadcast leading shape (sample dimensions, then batch) and the condition, one
        flattened row per row of x (`_checks.view_condition`). The view's `own_sample` may be
        empty (a sample shape of 0)."""
        event = self._data_event_shape
        if self._integer_data:
            x = _checks.as_integer(self.name, "value x", x)
        else:
            x = _checks.as_float(self.name, "value x", x, self.dtype)
        x = _checks.check_trailing(self.name, "a value", x, event, "the event shape")
        leading = tf.shape(x)[: tf.rank(x) - event.rank]
        if self._base_batch_shape.rank:
            leading = tf.broadcast_dynamic_shape(leading, self._batch_shape_tensor())
            x = tf.broadcast_to(x, tf.concat([leading, event.as_list()], axis=0))
        x, leading, condition = _checks.value_and_condition(
            self.name, x, event, leading, condition, self._condition_shape, self._condition_dtype)
        flat = tf.reshape(x, [-1] + event.as_list())
        flat = _checks.check_values(self.name, "value x", flat, event,
                                   finite=not self._integer_data, nonempty=not own_sample)
        return flat, leading, condition

    # ----------------------------------------------------------------------------------------
    # Density and sampling.

    def _base_log_prob(self, z, condition, seed):
        if isinstance(self._base, tfd.Distribution):
            return self._base.log_prob(z)
        return _chain.base_log_prob(self._base, z, condition, seed)

    def _log_prob(self, x, seed=None, condition=None, training=None, own_sample=False):
        flat, leading, condition = self._flatten_value(x, condition, own_sample)

        def base_log_prob(z, c, s):
            if not self._base_batch_shape.rank:
                return self._base_log_prob(z, c, s)
            # Restore the batch dimensions the base broadcasts over ([-1] absorbs the copies of
            # an exact preimage enumeration).
            z = tf.reshape(z, tf.concat([[-1], leading, tf.shape(z)[1:]], axis=0))
            return tf.reshape(self._base_log_prob(z, c, s), [-1])

        log_p = _chain.chain_log_prob(
            self._chain, base_log_prob, flat, seed=seed, condition=condition, training=training
        )
        return tf.reshape(log_p, leading)

    def _sample_chain(self, n, seed, condition, with_log_prob, temperature=1.0):
        """n draws of the base (each of batch shape) through the forwards, with Flow's seed
        policy (so a flow and its view draw alike); returns (x, log p or None, leading shape)
        with x flattened to [-1] + event."""
        seed = _seeds.seed_or_random(seed)
        leading = None
        temperature = _temperature.check(f"{self.name}.sample", temperature)
        tempered = isinstance(temperature, tf.Tensor) or temperature != 1.0
        if tempered:
            _temperature.check_flow(f"{self.name}.sample", self._base, self._chain)

        def base_draw(m, c, s):
            nonlocal leading
            log_p = None
            if isinstance(self._base, tfd.Distribution):
                z = self._base.sample(m, seed=s)
            else:
                z, log_p = _chain.base_sample_and_log_prob(self._base, m, c, s)
            if tempered:
                z, log_p = _temperature.scale(self._base, z, m, c, temperature), None
            z_event_rank = z.shape.rank - 1 - self._base_batch_shape.rank
            leading = tf.shape(z)[: tf.rank(z) - z_event_rank]
            z = tf.reshape(z, tf.concat([[-1], tf.shape(z)[tf.rank(z) - z_event_rank:]], 0))
            if with_log_prob and log_p is None:
                log_p = self._base_log_prob(z, c, None)
            return z, log_p

        x, log_p = _chain.chain_sample(self._chain, base_draw, n, seed=seed,
                                       condition=condition, with_log_prob=with_log_prob,
                                       temperature=temperature if tempered else None)
        return x, log_p, leading

    def _draws_condition(self, sample_shape, condition):
        """The condition of `sample(sample_shape)`, one flattened row per draw: the
        condition's leading dimensions broadcast to `sample_shape` (None without one)."""
        if condition is None and self._condition_shape is None:
            return None
        shape = tf.reshape(tf.cast(sample_shape, tf.int32), [-1])
        static = tf.get_static_value(shape)
        static = tf.TensorShape([int(v) for v in static] if static is not None else
                                None if shape.shape[0] is None else [None] * shape.shape[0])
        return _checks.view_condition(self.name, condition, self._condition_shape, shape,
                                      static, self._condition_dtype, draws=True)[0]

    def _call_sample_n(self, sample_shape, seed, **kwargs):
        # TFP flattens sample_shape to n before `_sample_n`; the condition broadcasts to it
        # here, once, for every path to `_sample_chain`.
        kwargs["condition"] = self._draws_condition(sample_shape, kwargs.get("condition"))
        return super()._call_sample_n(sample_shape, seed, **kwargs)

    def _sample_n(self, n, seed=None, condition=None, temperature=1.0):
        x, _, leading = self._sample_chain(n, seed, condition, with_log_prob=False,
                                           temperature=temperature)
        return tf.reshape(x, tf.concat([leading, tf.shape(x)[1:]], axis=0))

    def _sample_and_log_prob(self, sample_shape, seed, **kwargs):
        """x equals `sample(sample_shape, seed)`'s, as `Flow.sample_and_log_prob`: V gathered
        along the forwards where every inverse is deterministic, else `log_prob` of x with the
        seed `fold_in(seed, 1)`."""
        seed = _seeds.seed_or_random(seed)
        shape = tf.cast(sample_shape, tf.int32)
        n = tf.reduce_prod(shape)
        kwargs["condition"] = self._draws_condition(sample_shape, kwargs.get("condition"))
        if any(t.stochastic_inverse for t in self._chain) or self._base_batch_shape.rank:
            if self._condition_shape is None:
                x = self.sample(sample_shape, seed=seed, **kwargs)
                return x, self._log_prob(x, seed=_seeds.fold_in(seed, 1), own_sample=True)
            # One flattened row per draw, as the condition (a conditional view has no batch).
            x = self._sample_n(n, seed=seed, **kwargs)
            log_p = self._log_prob(x, seed=_seeds.fold_in(seed, 1),
                                   condition=kwargs["condition"], own_sample=True)
        else:
            x, log_p, _ = self._sample_chain(n, seed, kwargs["condition"],
                                             with_log_prob=True)
        return tf.reshape(x, tf.concat([shape, tf.shape(x)[1:]], axis=0)), tf.reshape(log_p, shape)

    # ----------------------------------------------------------------------------------------
    # What a flow cannot compute in closed form.

    def _mean(self, **kwargs):
        _no_closed_form("mean", "tf.reduce_mean(dist.sample(10_000), axis=0)")

    def _variance(self, **kwargs):
        _no_closed_form("variance", "tf.math.reduce_variance(dist.sample(10_000), axis=0)")

    def _stddev(self, **kwargs):
        _no_closed_form("standard deviation", "tf.math.reduce_std(dist.sample(10_000), axis=0)")

    def _covariance(self, **kwargs):
        _no_closed_form("covariance", "tfp.stats.covariance(dist.sample(10_000))")

    def _mode(self, **kwargs):
        _no_closed_form("mode", "the sample with the largest log_prob among many")

    def _entropy(self, **kwargs):
        _no_closed_form("entropy", "-tf.reduce_mean(dist.log_prob(dist.sample(10_000)))")

    def _cdf(self, value, **kwargs):
        _no_closed_form("cdf", "the fraction of samples below the value")

    def _log_cdf(self, value, **kwargs):
        _no_closed_form("log cdf", "the log of the fraction of samples below the value")

    def _survival_function(self, value, **kwargs):
        _no_closed_form("survival function", "the fraction of samples above the value")

    def _log_survival_function(self, value, **kwargs):
        _no_closed_form("log survival function", "the log fraction of samples above the value")

    def _quantile(self, value, **kwargs):
        _no_closed_form("quantile", "tfp.stats.percentile(dist.sample(10_000), q)")

    def _cross_entropy(self, other, **kwargs):
        _no_closed_form("cross entropy", "-tf.reduce_mean(other.log_prob(dist.sample(10_000)))")


def _refuse_mixture_same_family(name: str) -> None:
    """`tfd.MixtureSameFamily` reads its components' batch shape while it is built and fails
    on a scalar one with "Shape () must have rank at least 1". TFP offers no hook there, so the
    view recognises that caller (a few frames up, the mixture's own parameter check) and says
    what to do instead."""
    frame: types.FrameType | None = sys._getframe(2)
    for _ in range(3):
        if frame is None:
            return
        caller = frame.f_locals.get("self")
        # The class or its non-CompositeTensor twin `_MixtureSameFamily`.
        if type(caller).__name__ in ("MixtureSameFamily", "_MixtureSameFamily"):
            raise ValueError(
                f"{name}: tfd.MixtureSameFamily mixes a batch of distributions, its components "
                "having batch shape [K]; this view is one flow (batch shape []). Mix separate "
                "flows with tfd.Mixture(tfd.Categorical(probs=...), [flow_1.as_distribution(), "
                "flow_2.as_distribution(), ...]), or give the view a base with batch shape [K] "
                "(TransformedDistribution(base, transforms) shares the transforms across it)."
            )
        frame = frame.f_back


def _kl_by_monte_carlo(a, b, name=None):
    _no_closed_form(
        "KL divergence",
        "x = p.sample(10_000); tf.reduce_mean(p.log_prob(x) - q.log_prob(x)) for KL(p || q)",
    )


tfd.RegisterKL(TransformedDistribution, TransformedDistribution)(_kl_by_monte_carlo)
tfd.RegisterKL(TransformedDistribution, tfd.Distribution)(_kl_by_monte_carlo)
tfd.RegisterKL(tfd.Distribution, TransformedDistribution)(_kl_by_monte_carlo)
