"""Likelihood ground truth for Floor, UniformDequantization and VariationalDequantization: closed
forms, quadrature, IWBO limits and sample/density agreement. Each test fails if the layer's V loses
a term or a sign."""

import itertools

import keras
import numpy as np
import pytest
import scipy.special
import scipy.stats
import tensorflow as tf
import tensorflow_probability as tfp
from helpers import (
    ground_truth,
    grid_2d,
)

import tfp_survae as ts

tfb = tfp.bijectors
tfd = tfp.distributions


@ground_truth(ts.Floor)
def test_floor_over_poisson_is_the_poisson_pmf():
    rate = np.array([2.5, 4.0], "float32")
    flow = ts.Flow(tfd.Independent(tfd.Poisson(rate=rate), 1), [ts.Floor()])
    x = (np.random.RandomState(9).rand(20, 2) * 8).astype("float32")
    expected = scipy.stats.poisson(rate).logpmf(np.floor(x)).sum(-1)
    np.testing.assert_allclose(flow.log_prob(x), expected, rtol=1e-5)
    samples = flow.sample(50_000, seed=(4, 4)).numpy()
    assert np.all(samples >= 0)
    np.testing.assert_allclose(samples.mean(0), rate + 0.5, atol=0.05)
    # A non-uniform density within the cells: Beta(a, b) per coordinate.
    a, b = np.array([2.0, 0.7], "float32"), np.array([1.0, 1.5], "float32")
    within = ts.TFPDistribution(tfd.Independent(tfd.Beta(a, b), 1))
    flow = ts.Flow(tfd.Independent(tfd.Poisson(rate=rate), 1), [ts.Floor(within)])
    expected = (scipy.stats.poisson(rate).logpmf(np.floor(x))
                + scipy.stats.beta(a, b).logpdf(x - np.floor(x))).sum(-1)
    np.testing.assert_allclose(flow.log_prob(x), expected, rtol=1e-4)
    samples = flow.sample(50_000, seed=(4, 5)).numpy()
    np.testing.assert_allclose(samples.mean(0), rate + a / (a + b), atol=0.05)


@ground_truth(ts.Floor)
def test_floor_with_a_flow_decoder_integrates():
    keras.utils.set_random_seed(10)
    decoder = ts.architectures.dequantization_flow([2], hidden_units=[8], dtype="float64")
    for w in decoder.trainable_weights:  # away from the identity
        w.assign(tf.random.normal(w.shape, stddev=0.2, dtype=w.dtype))
    rate = np.array([1.0, 1.5])
    flow = ts.Flow(tfd.Independent(tfd.Poisson(rate=rate), 1),
                   [ts.Floor(decoder, dtype="float64")], dtype="float64")
    # integral of p(x) = sum over cells z of integral of p(z + sigmoid(v)) sigmoid'(v) dv: the
    # within-cell density may pile up at the cell edges, so integrate in logit space (float64,
    # so that sigmoid(v) stays inside the cell far into the tails).
    v, area = grid_2d(-30.0, 30.0, 400)
    log_jacobian = (np.log(scipy.special.expit(v)) + np.log(scipy.special.expit(-v))).sum(-1)
    total = 0.0
    for cell in itertools.product(range(8), repeat=2):
        x = np.asarray(cell) + scipy.special.expit(v)
        total += np.exp(flow.log_prob(x).numpy() + log_jacobian).sum() * area
    mass_in_cells = scipy.stats.poisson(rate).cdf(7).prod()
    assert total == pytest.approx(mass_in_cells, abs=2e-3)


def assert_dequantized_pmf_sums_to_one(variational):
    keras.utils.set_random_seed(11)
    inner = ts.Flow(ts.StandardNormal([2]), [
        ts.BijectorTransform(tfb.Sigmoid()),
        ts.AffineCoupling(ts.MLP([8], 2, activation="tanh", output_initializer="glorot_uniform"),
                          scale_bound=1.0),
    ])
    if variational:
        encoder = ts.architectures.dequantization_flow([2], hidden_units=[8])
        for w in encoder.trainable_weights:
            w.assign(tf.random.normal(w.shape, stddev=0.1))
        dequantization = ts.VariationalDequantization(encoder, num_values=4)
    else:
        dequantization = ts.UniformDequantization(4)
    flow = ts.Flow(inner, [dequantization])
    cells = np.array(list(itertools.product(range(4), repeat=2)), np.int32)
    log_mass = ts.evaluation.iwbo(flow, cells, 3000, seed=(5, 5)).numpy()
    assert np.exp(log_mass).sum() == pytest.approx(1.0, abs=0.01)
    elbo = flow.log_prob(np.tile(cells, [200, 1]), seed=(5, 6)).numpy().reshape(200, 16)
    # Jensen: E log w < log E w; clearly so on average, never beyond Monte Carlo noise.
    assert np.mean(log_mass - elbo.mean(0)) > 0.05
    assert np.all(elbo.mean(0) < log_mass + 0.01)


@ground_truth(ts.UniformDequantization)
def test_uniformly_dequantized_pmf_sums_to_one():
    assert_dequantized_pmf_sums_to_one(variational=False)


@ground_truth(ts.VariationalDequantization)
def test_variationally_dequantized_pmf_sums_to_one():
    assert_dequantized_pmf_sums_to_one(variational=True)


@ground_truth(ts.UniformDequantization)
def test_dequantized_values_stay_strictly_inside_the_unit_interval():
    # With u drawn from all of [0, 1), (255 + u) / 256 rounds to 1.0 in float32 for u within
    # 1.5e-5 of 1 (and x = 0, u = 0 gives 0): a logit next would make log_prob NaN.
    x = np.tile(np.array([[0, 255]], np.int32), [200_000, 1])
    z, v = ts.UniformDequantization(256).inverse_and_log_det(x, seed=(3, 4))
    assert 0.0 < z.numpy().min() and z.numpy().max() < 1.0
    assert np.all(v.numpy() <= -2 * np.log(256.0))
