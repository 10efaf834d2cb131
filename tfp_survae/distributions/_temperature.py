"""Sampling at a temperature (Kingma & Dhariwal, 2018): the base's draws z moved toward the
base's mean, z_t = mu + t (z - mu), so a Gaussian base N(mu, Sigma) is sampled as
N(mu, t^2 Sigma); the transforms then run as usual."""

from __future__ import annotations

import math

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_survae.distributions.base import TFPDistribution
from tfp_survae.distributions.conditional import ConditionalNormal
from tfp_survae.distributions.standard import DiagonalNormal, StandardNormal

tfd = tfp.distributions

_GAUSSIANS = (tfd.Normal, tfd.MultivariateNormalLinearOperator)


def check(owner: str, temperature):
    """`temperature` as a Python float > 0 and finite, or a float scalar tensor (checked in the
    graph by the caller)."""
    if isinstance(temperature, (tf.Tensor, tf.Variable)):
        if not temperature.dtype.is_floating or temperature.shape.rank not in (None, 0):
            raise TypeError(f"{owner}: temperature must be a float scalar; received a "
                            f"{temperature.dtype.name} tensor of shape {temperature.shape}.")
        return temperature
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) and \
            not hasattr(temperature, "__float__"):
        raise TypeError(f"{owner}: temperature must be a number > 0; received "
                        f"{type(temperature).__name__}: {temperature!r}.")
    value = float(temperature)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{owner}: temperature must be a finite number > 0 (1 samples the "
                         f"model itself); received {temperature!r}.")
    return value


def _gaussian(distribution: tfp.distributions.Distribution) -> bool:
    while isinstance(distribution, (tfd.Independent, tfd.Sample)):
        distribution = distribution.distribution
    return isinstance(distribution, _GAUSSIANS)


def is_normal(distribution) -> bool:
    """True for a normal distribution layer: `StandardNormal`, `DiagonalNormal`,
    `ConditionalNormal`, or a `TFPDistribution` of a (batched, independent) normal."""
    if isinstance(distribution, TFPDistribution):
        return _gaussian(distribution.tfp_distribution)
    return isinstance(distribution, (StandardNormal, DiagonalNormal, ConditionalNormal))


def check_flow(owner: str, base, chain) -> None:
    """Raises a ValueError where a temperature is undefined: a base that is not Gaussian, or a
    transform that draws noise in the sampling direction that a temperature does not scale
    (`Transform.tempered_forward`: only a normal's, e.g. `Slice`'s normal decoder)."""
    for t in chain:
        if not t.tempered_forward:
            raise ValueError(
                f"{owner}: temperature scales Gaussian noise only; {type(t).__name__} "
                f"'{t.name}' draws noise in the forward direction that it cannot scale "
                "(its tempered_forward is False: it draws something other than a normal's "
                "noise, or does not implement _forward_at_temperature). Sample with "
                "temperature=1.")
    gaussian = _gaussian(base) if isinstance(base, tfd.Distribution) else is_normal(base)
    if not gaussian:
        raise ValueError(
            f"{owner}: temperature scales the spread of a Gaussian base (z = mu + t (z - mu), "
            f"as Glow); it is undefined for a base {type(base).__name__}. Sample with "
            "temperature=1, or use a normal base (StandardNormal, DiagonalNormal, "
            "ConditionalNormal, tfd.Normal, tfd.MultivariateNormal*).")


def _mean(base, n, condition, like):
    if isinstance(base, TFPDistribution):
        base = base.tfp_distribution
    if isinstance(base, tfd.Distribution):
        return tf.cast(base.mean(), like.dtype)
    distribution = base.distribution(condition=condition, num=n)
    return tf.cast(distribution.mean(), like.dtype)


def scale(base, z, n, condition, temperature):
    """The base draws z at `temperature`: z itself (bit for bit) where the temperature is 1,
    mu + t (z - mu) elsewhere."""
    t = tf.cast(temperature, z.dtype)
    mean = _mean(base, n, condition, z)
    return tf.where(tf.equal(t, 1), z, mean + t * (z - mean))


def tempered(draw, base, temperature):
    """The base draw `draw(n, condition, seed) -> (z, log p)` at `temperature` (`scale`); log p
    is not returned (None): the sample's density is the model's, not the tempered base's."""
    def draw_at(n, condition, seed):
        z, _ = draw(n, condition, seed)
        return scale(base, z, n, condition, temperature), None

    return draw_at
