"""A SurVAE flow as a real `tfd.Distribution`, composable with the rest of TFP."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_survae import _chain
from tfp_survae.distributions import ConditionalDistribution
from tfp_survae.flow import Flow

tfd = tfp.distributions

__all__ = ["TransformedDistribution"]


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
        self._chain = _chain.flatten(transforms)
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
        self._data_event_shape = _chain.build_chain(self._chain, base_event, event_shape)
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
        return _chain.is_exact(self._base, self._chain)

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
        return _chain.base_log_prob(self._base, z, condition, seed)

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

        log_p = _chain.chain_log_prob(
            self._chain, base_log_prob, flat, seed=seed, condition=condition, training=training
        )
        return tf.reshape(log_p, leading)

    def _sample_n(self, n, seed=None, condition=None):
        seed = tfp.random.sanitize_seed(seed)
        base_seed, chain_seed = tfp.random.split_seed(seed, 2)
        if isinstance(self._base, tfd.Distribution):
            z = self._base.sample(n, seed=base_seed)
        else:
            z, _ = _chain.base_sample_and_log_prob(self._base, n, condition, base_seed)
        z_event_rank = z.shape.rank - 1 - self._base_batch_shape.rank
        leading = tf.shape(z)[: tf.rank(z) - z_event_rank]
        z = tf.reshape(z, tf.concat([[-1], tf.shape(z)[tf.rank(z) - z_event_rank:]], axis=0))
        x, _ = _chain.chain_sample(
            self._chain, lambda m, c, s: (z, None), tf.shape(z)[0], seed=chain_seed,
            condition=condition,
        )
        return tf.reshape(x, tf.concat([leading, tf.shape(x)[1:]], axis=0))
