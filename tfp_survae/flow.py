"""Flow: a base distribution and a chain of transforms, as a Keras model and as a tfd.Distribution.

`log_prob` is Algorithm 1 of the paper: run the inverses from data to latent, sum the
contributions V, add log p(z). It is the exact log-likelihood when every inverse is deterministic
(or enumerated with `exact=True`), and otherwise a one-sample estimate of the ELBO.
"""

from __future__ import annotations

import math
from typing import Sequence

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_survae import _utils
from tfp_survae.distributions import ConditionalDistribution, TFPDistribution
from tfp_survae.transforms.base import Sequential, Transform

tfd = tfp.distributions

__all__ = ["Flow", "TransformedDistribution"]


# --------------------------------------------------------------------------------------------
# The chain, shared by Flow and TransformedDistribution.


def _flatten(transforms) -> list:
    chain = []
    for t in transforms:
        if isinstance(t, Sequential):
            chain.extend(_flatten(t.transforms))
        elif isinstance(t, Transform):
            chain.append(t)
        else:
            raise TypeError(
                f"A flow's transforms are tfp_survae Transform layers; received "
                f"{type(t).__name__}: {t!r}. Wrap a tfb.Bijector in BijectorTransform."
            )
    return chain


def _as_base(base):
    if isinstance(base, (ConditionalDistribution, Flow)):
        return base
    if isinstance(base, tfd.Distribution):
        return TFPDistribution(base)
    raise TypeError(
        "A flow's base is a tfd.Distribution, a tfp_survae distribution layer (StandardNormal, "
        f"DiagonalNormal, ...) or another Flow; received {type(base).__name__}."
    )


def _base_log_prob(base, z, condition, seed):
    if isinstance(base, Flow):
        return base.log_prob(z, seed=seed, condition=condition)
    return base.log_prob(z, context=condition)


def _base_sample_and_log_prob(base, n, condition, seed):
    if isinstance(base, Flow):
        return base.sample_and_log_prob(n, seed=seed, condition=condition)
    return base.sample_and_log_prob(condition, num=n, seed=seed)


def _build_chain(chain, base_event_shape, event_shape=None):
    """Builds every transform; returns the data event shape."""
    base_event_shape = tf.TensorShape(base_event_shape)
    if event_shape is None:
        shape = base_event_shape
        for t in reversed(chain):
            try:
                shape = t.forward_event_shape(shape)
            except ValueError as error:
                raise ValueError(
                    f"The flow cannot infer its data shape from the base: {error} Pass "
                    "event_shape= (the shape of one data example)."
                ) from None
        event_shape = shape
    event_shape = tf.TensorShape(event_shape)
    shape = event_shape
    for t in chain:
        if not t.built:
            t.build((None,) + tuple(shape.as_list()))
        elif not t.event_shape.is_compatible_with(shape):
            raise ValueError(
                f"{t._owner} was built for events of shape {t.event_shape.as_list()}; in this "
                f"flow it receives {shape.as_list()}."
            )
        shape = t.inverse_event_shape(shape)
    if not shape.is_compatible_with(base_event_shape):
        raise ValueError(
            f"The transforms map data of event shape {event_shape.as_list()} to latents of shape "
            f"{shape.as_list()}, but the base has event shape {base_event_shape.as_list()}."
        )
    return event_shape


def _tile(t, copies):
    if t is None:
        return None
    multiples = tf.concat([[copies], tf.ones([tf.rank(t) - 1], tf.int32)], axis=0)
    return tf.tile(t, multiples)


def chain_log_prob(chain, base_log_prob, x, *, seed=None, condition=None, training=None):
    """log p(x) ~= log p(z) + sum_t V_t along `chain` (paper Algorithm 1), shape [batch].

    A transform built with `exact=True` is replaced by the sum over its finite preimage: the rest
    of the chain runs on every preimage and the results are combined by logsumexp. Transforms
    that sample a discrete choice from a learned distribution report its log-probability; it
    enters a score-function surrogate that leaves the value unchanged but gives the ELBO gradient
    of that distribution (with a leave-one-out baseline).
    """
    seeds = _utils.split_seed(seed, len(chain) + 1)
    batch = tf.shape(x)[0]
    total = None
    score = None
    copies = 1
    for t, s in zip(chain, seeds[:-1]):
        if t.exact:
            z, log_w = t.preimages(x, condition=condition)
            total = log_w if total is None else total + log_w
            num = z.shape[0]
            x = tf.reshape(z, tf.concat([[-1], tf.shape(z)[2:]], axis=0))
            total, score, condition = (_tile(v, num) for v in (total, score, condition))
            copies *= num
            continue
        x, log_det, part_score = t.inverse_with_score(
            x, seed=s, condition=condition, training=training
        )
        total = log_det if total is None else total + log_det
        if part_score is not None:
            score = part_score if score is None else score + part_score
    log_p = base_log_prob(x, condition, seeds[-1])
    log_p = tf.cast(log_p, x.dtype) if total is None else total + tf.cast(log_p, total.dtype)
    if score is not None:
        log_p = _score_surrogate(log_p, tf.cast(score, log_p.dtype))
    if copies > 1:
        log_p = tf.reduce_logsumexp(tf.reshape(log_p, [copies, batch]), axis=0)
    return log_p


def _score_surrogate(log_p, score):
    """Equals log_p; its gradient adds (log_p - baseline) * grad(score) (REINFORCE)."""
    n = tf.cast(tf.size(log_p), log_p.dtype)
    held = tf.stop_gradient(log_p)
    baseline = tf.math.divide_no_nan(tf.reduce_sum(held) - held, n - 1.0)
    return log_p + (held - baseline) * (score - tf.stop_gradient(score))


def chain_sample(chain, base_sample_and_log_prob, n, *, seed=None, condition=None,
                 with_log_prob=False):
    """Runs the forwards from base samples; with `with_log_prob`, also accumulates V."""
    seeds = _utils.split_seed(seed, len(chain) + 1)
    z, log_p = base_sample_and_log_prob(n, condition, seeds[-1])
    for t, s in zip(reversed(chain), reversed(seeds[:-1])):
        if with_log_prob:
            z, log_det = t.forward_and_log_det(z, seed=s, condition=condition)
            log_p = log_p + log_det
        else:
            z = t.forward(z, seed=s, condition=condition)
    return z, log_p


# --------------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="tfp_survae")
class Flow(keras.Model):
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
      >>> flow = Flow(StandardNormal([2]), [AffineCoupling(MLP([64], 2)), Reverse(),
      ...                                   AffineCoupling(MLP([64], 2))])
      >>> flow.log_prob(x)          # [batch]
      >>> flow.sample(16, seed=(1, 2))
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
        self._chain = _flatten(self.transforms)
        self.condition_shape = None if condition_shape is None else list(condition_shape)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="sample_seed_generator")
        self.event_shape = _build_chain(self._chain, self.base.event_shape, event_shape)
        self._nll_tracker = keras.metrics.Mean(name="loss")
        self._bpd_tracker = keras.metrics.Mean(name="bits_per_dim")
        self.built = True

    # ----------------------------------------------------------------------------------------
    # Properties.

    @property
    def chain(self) -> list:
        """The transforms from data to latent, with `Sequential`s flattened."""
        return list(self._chain)

    @property
    def is_exact(self) -> bool:
        """True when `log_prob` is the exact log-likelihood (no lower-bound transform)."""
        base_exact = self.base.is_exact if isinstance(self.base, Flow) else True
        return base_exact and all(not t.lower_bound or t.exact for t in self._chain)

    @property
    def integer_data(self) -> bool:
        return bool(self._chain) and self._chain[0].integer_data

    @property
    def num_dims(self) -> int:
        """Elements per example (the D of bits/dim)."""
        return _utils.num_elements(self.event_shape)

    # ----------------------------------------------------------------------------------------
    # Density and sampling.

    def check_data(self, x) -> tf.Tensor:
        """Converts x to the flow's data dtype and checks its event shape (ValueError if not)."""
        if self.integer_data:
            x = _utils.as_integer("Flow", "data x", x)
        else:
            x = _utils.as_float("Flow", "data x", x, self.dtype)
        _utils.check_event_shape(f"Flow '{self.name}'", "data x", x, self.event_shape)
        return x

    def log_prob(self, x, seed=None, *, condition=None, training=None):
        """log p(x) (exact) or a one-sample ELBO estimate of it, shape [batch], in nats."""
        x = self.check_data(x)
        return chain_log_prob(
            self._chain,
            lambda z, c, s: _base_log_prob(self.base, z, c, s),
            x,
            seed=seed,
            condition=condition,
            training=training,
        )

    def sample(self, n, seed=None, *, condition=None):
        """Draws `n` examples x, shape [n] + event_shape, by running the forwards."""
        seed = self.seed_generator.next() if seed is None else seed
        x, _ = chain_sample(
            self._chain,
            lambda m, c, s: _base_sample_and_log_prob(self.base, m, c, s),
            n,
            seed=_utils.to_stateless_seed(seed),
            condition=condition,
        )
        return x

    def sample_and_log_prob(self, n, seed=None, *, condition=None):
        """Draws x and returns (x, log p(x)).

        For a flow with deterministic inverses the log-density is accumulated during sampling
        (one pass); otherwise it is `log_prob` of the sample (an ELBO estimate).
        """
        seed = _utils.to_stateless_seed(self.seed_generator.next() if seed is None else seed)
        one_pass = all(not t.stochastic_inverse for t in self._chain)
        sample_seed, density_seed = _utils.split_seed(seed, 2)
        x, log_p = chain_sample(
            self._chain,
            lambda m, c, s: _base_sample_and_log_prob(self.base, m, c, s),
            n,
            seed=sample_seed,
            condition=condition,
            with_log_prob=one_pass,
        )
        if not one_pass:
            log_p = self.log_prob(x, seed=density_seed, condition=condition)
        return x, log_p

    def as_distribution(self) -> "TransformedDistribution":
        """This flow as a `tfd.Distribution` sharing the same layers and variables."""
        return TransformedDistribution(self.base, self._chain)

    # ----------------------------------------------------------------------------------------
    # Keras.

    def call(self, inputs, training=None):
        return self.log_prob(inputs, training=training)

    def compile(self, optimizer="adam", **kwargs):
        """Keras `compile`; the loss is always the negative log-likelihood (bound) in nats."""
        if kwargs.get("loss") is not None:
            raise ValueError(
                "A Flow trains on its own negative log-likelihood; compile() takes no loss= "
                f"(received {kwargs['loss']!r})."
            )
        kwargs.pop("loss", None)
        super().compile(optimizer=optimizer, **kwargs)

    def fit(self, x=None, y=None, **kwargs):
        """Keras `fit` on batches of data x (no labels; y must be None)."""
        if y is not None:
            raise ValueError("A Flow models x alone; fit() takes no targets y.")
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # a dataset shuffles itself
        return super().fit(x, **kwargs)

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
        self._bpd_tracker.update_state(nll / (self.num_dims * math.log(2.0)))
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
        return cls(**_utils.deserialize_sublayers(config))


# --------------------------------------------------------------------------------------------


class TransformedDistribution(tfd.Distribution):
    """A `tfd.Distribution` of x built from a base distribution and SurVAE transforms.

    The SurVAE counterpart of `tfd.TransformedDistribution`: `transforms` (data to latent) may be
    surjective or stochastic. `log_prob` is exact or a one-sample ELBO estimate exactly as
    `Flow.log_prob`; `sample` runs the forwards. Leading sample and batch dimensions are
    flattened through the transforms, so the distribution composes with `tfd.Independent`,
    `tfd.Sample` and `tfd.JointDistribution*`. A base with a batch shape gives the distribution
    that batch shape (the transforms are shared across it).

    Args:
      distribution: the base: a `tfd.Distribution`, a tfp_survae distribution layer or a `Flow`
        (layers stay live: trained variables are read on every call).
      transforms: Transform layers, from data to latent.
    """

    def __init__(self, distribution, transforms, *, event_shape=None, validate_args=False,
                 name=None):
        parameters = dict(locals())
        self._base = distribution
        self._chain = _flatten(transforms)
        if isinstance(distribution, tfd.Distribution):
            base_event = distribution.event_shape
            self._base_batch_shape = distribution.batch_shape
            dtype = distribution.dtype
        elif isinstance(distribution, (ConditionalDistribution, Flow)):
            base_event = distribution.event_shape
            self._base_batch_shape = tf.TensorShape([])
            dtype = tf.as_dtype(distribution.dtype)
        else:
            raise TypeError(
                "TransformedDistribution takes a tfd.Distribution, a tfp_survae distribution "
                f"layer or a Flow as its base; received {type(distribution).__name__}."
            )
        self._data_event_shape = _build_chain(self._chain, base_event, event_shape)
        self._integer_data = bool(self._chain) and self._chain[0].integer_data
        all_bijective = all(t.bijective for t in self._chain)
        reparameterized = (
            isinstance(distribution, tfd.Distribution)
            and distribution.reparameterization_type == tfd.FULLY_REPARAMETERIZED
            and all_bijective
        )
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

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None):
        return {}

    @property
    def transforms(self) -> list:
        return list(self._chain)

    @property
    def is_exact(self) -> bool:
        base_exact = self._base.is_exact if isinstance(self._base, Flow) else True
        return base_exact and all(not t.lower_bound or t.exact for t in self._chain)

    def _batch_shape(self):
        return self._base_batch_shape

    def _batch_shape_tensor(self):
        return tf.constant(self._base_batch_shape.as_list(), tf.int32)

    def _event_shape(self):
        return self._data_event_shape

    def _event_shape_tensor(self):
        return tf.constant(self._data_event_shape.as_list(), tf.int32)

    def _base_log_prob(self, z, condition, seed):
        if isinstance(self._base, tfd.Distribution):
            return self._base.log_prob(z)
        return _base_log_prob(self._base, z, condition, seed)

    def _log_prob(self, x, seed=None, condition=None, training=None):
        x = tf.convert_to_tensor(x)
        event_rank = self._data_event_shape.rank
        leading = tf.shape(x)[: tf.rank(x) - event_rank]
        flat = tf.reshape(x, tf.concat([[-1], self._data_event_shape.as_list()], axis=0))
        batch_rank = self._base_batch_shape.rank

        def base_log_prob(z, c, s):
            if batch_rank == 0:
                return self._base_log_prob(z, c, s)
            z_unflat = tf.reshape(z, tf.concat([leading, tf.shape(z)[1:]], axis=0))
            return tf.reshape(self._base_log_prob(z_unflat, c, s), [-1])

        log_p = chain_log_prob(
            self._chain, base_log_prob, flat, seed=seed, condition=condition, training=training
        )
        return tf.reshape(log_p, leading)

    def _sample_n(self, n, seed=None, condition=None):
        seed = tfp.random.sanitize_seed(seed)
        base_seed, chain_seed = tfp.random.split_seed(seed, 2)
        if isinstance(self._base, tfd.Distribution):
            z = self._base.sample(n, seed=base_seed)
        else:
            z, _ = _base_sample_and_log_prob(self._base, n, condition, base_seed)
        z_event_rank = z.shape.rank - 1 - self._base_batch_shape.rank
        leading = tf.shape(z)[: tf.rank(z) - z_event_rank]
        z = tf.reshape(z, tf.concat([[-1], tf.shape(z)[tf.rank(z) - z_event_rank:]], axis=0))
        x, _ = chain_sample(
            self._chain, lambda m, c, s: (z, None), tf.shape(z)[0], seed=chain_seed,
            condition=condition,
        )
        return tf.reshape(x, tf.concat([leading, tf.shape(x)[1:]], axis=0))
