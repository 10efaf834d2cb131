"""Likelihood ground truth for Max, MaxPool2D and GenerativeMax: closed forms, quadrature, IWBO limits
and sample/density agreement. Each test fails if the layer's V loses a term or a sign."""

import keras
import numpy as np
import pytest
import scipy.stats
import tensorflow as tf
from helpers import (
    ground_truth,
    integral_2d,
    assert_samples_match_2d,
    assert_samples_match_1d,
)

import tfp_survae as ts


def max_log_prob_numpy(x, base_log_prob):
    """The paper's formula with uniform k and standard half-normal gaps, over the last axis."""
    z = x.max(-1)
    gaps = z[..., None] - x
    k = x.argmax(-1)
    hn = scipy.stats.halfnorm.logpdf(gaps)
    hn = np.where(np.arange(x.shape[-1]) == k[..., None], 0.0, hn).sum(-1)
    return base_log_prob(z), -np.log(x.shape[-1]) + hn


@ground_truth(ts.Max)
def test_max_matches_the_formula_and_integrates():
    flow = ts.Flow(ts.StandardNormal([]), [ts.Max()], event_shape=[4])
    x = np.random.RandomState(1).randn(30, 4).astype("float32")
    base, v = max_log_prob_numpy(x, scipy.stats.norm.logpdf)
    np.testing.assert_allclose(flow.log_prob(x), base + v, rtol=1e-5)
    two = ts.Flow(ts.StandardNormal([]), [ts.Max()], event_shape=[2])
    assert integral_2d(two, -8.0, 8.0) == pytest.approx(1.0, abs=3e-3)
    assert_samples_match_2d(two, -4.0, 4.0)


@ground_truth(ts.Max)
def test_max_with_learned_parts_integrates():
    keras.utils.set_random_seed(2)
    flow = ts.Flow(
        ts.StandardNormal([]),
        [ts.Max(classifier=ts.MLP([8], 2, activation="tanh"),
                decoder=ts.ConditionalHalfNormal([1], ts.MLP([8], 1, activation="tanh")))],
        event_shape=[2],
    )
    assert integral_2d(flow, -8.0, 8.0) == pytest.approx(1.0, abs=3e-3)
    assert_samples_match_2d(flow, -4.0, 4.0)


@ground_truth(ts.MaxPool2D)
def test_maxpool_matches_max_pool2d_and_the_formula():
    x = np.random.RandomState(3).randn(5, 4, 6, 3).astype("float32")
    layer = ts.MaxPool2D()
    z, v = layer.inverse_and_log_det(x)
    np.testing.assert_array_equal(z, tf.nn.max_pool2d(x, 2, 2, "VALID"))
    blocks = x.reshape(5, 2, 2, 3, 2, 3).transpose(0, 1, 3, 5, 2, 4).reshape(5, 2, 3, 3, 4)
    _, expected = max_log_prob_numpy(blocks, lambda t: t)
    np.testing.assert_allclose(v, expected.reshape(5, -1).sum(-1), rtol=1e-5)
    x_back = layer.forward(z, seed=(1, 2))
    np.testing.assert_array_equal(tf.nn.max_pool2d(x_back, 2, 2, "VALID"), z)
    with pytest.raises(ValueError, match="even height and width"):
        ts.MaxPool2D().inverse_and_log_det(np.zeros((1, 3, 4, 1), "float32"))


@ground_truth(ts.GenerativeMax)
def test_generative_max_of_two_normals():
    flow = ts.Flow(ts.StandardNormal([2]), [ts.GenerativeMax(2)])
    density = lambda t: 2 * scipy.stats.norm.pdf(t) * scipy.stats.norm.cdf(t)  # noqa: E731
    x = np.linspace(-2.0, 2.0, 12, dtype="float32")
    exact = np.log(density(x))
    # With q(k) = 1/2 and g ~ HN(1): E[ELBO] = log phi(x) - x^2 / 2 + x sqrt(2 / pi).
    expected_elbo = scipy.stats.norm.logpdf(x) - x**2 / 2 + x * np.sqrt(2 / np.pi)
    tiled = np.tile(x, 4000)  # (std of the mean: std / 63)
    elbo = flow.log_prob(tiled, seed=(1, 3)).numpy().reshape(4000, 12)
    np.testing.assert_allclose(elbo.mean(0), expected_elbo, atol=4 * elbo.std(0).max() / 63)
    assert np.all(expected_elbo <= exact + 1e-6)
    # The IWBO is log of the mean of k weights w = phi(x) phi(x - g) / phi(g) = phi(x)
    # e^(x g - x^2 / 2): Var(w) / E[w]^2 = e^(x^2) Phi(2x) / (2 Phi(x)^2) - 1 =: r, and
    # log-mean has standard error sqrt(r / k) (29 at x = 2: heavy weights; 0.67 at x = -2).
    k = 20000
    relative_variance = np.exp(x.astype(np.float64)**2) * scipy.stats.norm.cdf(2 * x) / (
        2 * scipy.stats.norm.cdf(x)**2) - 1
    iwbo = ts.evaluation.iwbo(flow, x, k, seed=(1, 2)).numpy()
    assert np.all(np.abs(iwbo - exact) < 4 * np.sqrt(relative_variance / k) + 1e-3), (
        iwbo - exact, np.sqrt(relative_variance / k))
    samples = flow.sample(100_000, seed=(2, 2)).numpy()
    assert_samples_match_1d(samples, density, -4.0, 4.5)


# ------------------------------------------------------------------------------------------
# Sort
