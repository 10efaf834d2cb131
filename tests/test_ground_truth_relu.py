"""Likelihood ground truth for ReLU and GenerativeReLU: closed forms, quadrature, IWBO limits and
sample/density agreement. Each test fails if the layer's V loses a term or a sign."""

import keras
import numpy as np
import pytest
import scipy.stats
from helpers import (
    ground_truth,
    normal_base,
    integral_2d,
    assert_samples_match_2d,
)

import tfp_survae as ts


@ground_truth(ts.ReLU)
def test_relu_with_zero_inflated_base_integrates_and_samples():
    keras.utils.set_random_seed(8)
    decoder = ts.ConditionalHalfNormal([2], ts.MLP([8], 2, activation="tanh"))
    base = ts.ZeroInflated(ts.StandardHalfNormal([2]), initial_zero_probability=0.3)
    flow = ts.Flow(base, [ts.ReLU(decoder)])
    assert integral_2d(flow, -8.0, 8.0, num=600) == pytest.approx(1.0, abs=4e-3)
    assert_samples_match_2d(flow, -4.0, 4.0)
    x = np.array([[-0.5, 1.0]], "float32")
    expected = (np.log(0.3) + np.log(0.7) + scipy.stats.halfnorm.logpdf(1.0)
                + decoder.log_prob_elements(
                    np.array([[0.5, 0.0]], "float32"),
                    condition=np.array([[0.0, 1.0]], "float32")).numpy()[0, 0])
    np.testing.assert_allclose(flow.log_prob(x), [expected], rtol=1e-5)


@ground_truth(ts.GenerativeReLU)
def test_generative_relu_bounds_the_mass_at_zero():
    standard = ts.Flow(ts.StandardNormal([1]), [ts.GenerativeReLU()])
    zero = np.zeros((8, 1), "float32")
    for k in (1, 100):
        np.testing.assert_allclose(ts.evaluation.iwbo(standard, zero, k, seed=(k, 0)),
                                   np.log(0.5), atol=1e-5)
    positive = np.array([[0.3], [1.7]], "float32")
    np.testing.assert_allclose(standard.log_prob(positive),
                               scipy.stats.norm.logpdf(positive[:, 0]), rtol=1e-6)
    shifted = ts.Flow(normal_base([0.5], [1.0]), [ts.GenerativeReLU()])
    mass = np.log(scipy.stats.norm.cdf(-0.5))
    # E[ELBO] = E[log N(-g; 0.5, 1) - log HN(g)] = -sqrt(2 / pi) / 2 - 1/8 - log 2 < log P(0).
    elbo = shifted.log_prob(np.zeros((20000, 1), "float32"), seed=(1, 1)).numpy()
    np.testing.assert_allclose(elbo.mean(), -np.sqrt(2 / np.pi) / 2 - 0.125 - np.log(2.0),
                               atol=4 * elbo.std() / np.sqrt(20000))
    assert elbo.mean() < mass - 0.03
    iwbo = ts.evaluation.iwbo(shifted, zero, 20000, seed=(1, 2)).numpy()
    np.testing.assert_allclose(iwbo, mass, atol=0.01)
    samples = shifted.sample(50_000, seed=(3, 3)).numpy()[:, 0]
    assert abs(np.mean(samples == 0.0) - np.exp(mass)) < 0.01
    assert shifted.log_prob(np.array([[-1.0]], "float32")).numpy()[0] == -np.inf


# ------------------------------------------------------------------------------------------
# Rounding
