"""Likelihood ground truth for Abs and GenerativeAbs: closed forms, quadrature, IWBO limits and
sample/density agreement. Each test fails if the layer's V loses a term or a sign."""

import keras
import numpy as np
import pytest
import scipy.special
import scipy.stats
import tensorflow as tf
import tensorflow_probability as tfp
from helpers import (
    ground_truth,
    batched,
    grid_2d,
    normal_base,
    dense,
    random_mlp,
    integral_2d,
    assert_samples_match_2d,
    assert_samples_match_1d,
)

import tfp_survae as ts

tfb = tfp.bijectors
tfd = tfp.distributions


@ground_truth(ts.Abs)
def test_abs_over_half_normal_is_the_standard_normal():
    flow = ts.Flow(ts.StandardHalfNormal([3]), [ts.Abs()])
    x = np.random.RandomState(0).randn(50, 3).astype("float32") * 2
    np.testing.assert_allclose(flow.log_prob(x), scipy.stats.norm.logpdf(x).sum(-1), rtol=1e-5)
    assert flow.is_exact


@ground_truth(ts.Abs)
def test_abs_with_learned_sign_integrates_and_samples():
    flow = ts.Flow(ts.StandardHalfNormal([2]), [ts.Abs(classifier=random_mlp(2, 1, (8,)))])
    flow.chain[0].classifier.out.kernel.assign(flow.chain[0].classifier.out.kernel * 8.0)
    assert integral_2d(flow, -7.0, 7.0) == pytest.approx(1.0, abs=3e-3)
    assert_samples_match_2d(flow, -4.0, 4.0)


@ground_truth(ts.Abs)
def test_partial_abs_uses_the_classifier_of_the_folded_vector():
    clf = dense(2, 1, [[1.5], [-0.7]], [0.3])
    flow = ts.Flow(ts.StandardUniform([2]), [ts.Abs(classifier=clf, elements=[0])])
    x = np.array([[-0.4, 0.2], [0.3, 0.9], [-0.9, 0.5]], "float32")
    z = np.abs(x[:, :1])
    logit = 1.5 * z[:, 0] - 0.7 * x[:, 1] + 0.3
    p_plus = scipy.special.expit(logit)
    expected = np.log(np.where(x[:, 0] >= 0, p_plus, 1 - p_plus))
    np.testing.assert_allclose(flow.log_prob(x), expected, rtol=1e-5)


@ground_truth(ts.GenerativeAbs)
def test_generative_abs_exact_is_the_folded_normal_and_iwbo_converges():
    mu, sigma = 0.7, 1.3
    folded = lambda x: np.logaddexp(scipy.stats.norm(mu, sigma).logpdf(x),  # noqa: E731
                                    scipy.stats.norm(mu, sigma).logpdf(-x))
    exact = ts.Flow(normal_base([mu], [sigma]), [ts.GenerativeAbs(exact=True)])
    x = np.linspace(0.05, 4.0, 40, dtype="float32")[:, None]
    np.testing.assert_allclose(exact.log_prob(x), folded(x[:, 0]), rtol=1e-5, atol=1e-6)
    assert exact.is_exact
    sampled = ts.Flow(normal_base([mu], [sigma]), [ts.GenerativeAbs()])
    assert not sampled.is_exact
    repeated = np.tile(x, [50, 1])  # 50 independent estimates per point
    gaps = [np.mean(folded(repeated[:, 0]) - ts.evaluation.iwbo(sampled, repeated, k,
                                                                 seed=(k, 1)).numpy())
            for k in (1, 10, 1000)]
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[0] > 0.05 and abs(gaps[2]) < 2e-3  # k = 1000: unbiased to Monte Carlo noise
    samples = exact.sample(100_000, seed=(1, 1)).numpy()[:, 0]
    assert_samples_match_1d(samples, lambda t: np.exp(folded(t)), 0.0, 6.0)


@ground_truth(ts.GenerativeAbs)
def test_generative_abs_exact_anywhere_in_the_flow():
    # data -> shift -> |.| (enumerated) -> coupling -> normal: exact, so it integrates to 1.
    keras.utils.set_random_seed(4)
    flow = ts.Flow(
        ts.StandardNormal([2]),
        [ts.BijectorTransform(tfb.Shift(1.0)), ts.GenerativeAbs(exact=True),
         ts.AffineCoupling(ts.MLP([8], 2, activation="tanh",
                                  output_initializer="glorot_uniform"), scale_bound=1.0)],
    )
    assert flow.is_exact
    points, area = grid_2d(1.0, 8.0, 400)
    assert np.exp(batched(flow.log_prob, points)).sum() * area == pytest.approx(1.0, abs=5e-3)
    outside = flow.log_prob(np.array([[0.5, 2.0]], "float32")).numpy()
    assert outside[0] == -np.inf


@pytest.mark.isolated  # fit: an XLA program
@ground_truth(ts.GenerativeAbs)
def test_generative_abs_learned_classifier_trains_by_score_function():
    # p(z) puts 90% of its mass at z > 0; the sign posterior is learnable, and training q(s | x)
    # with the ELBO's score-function gradient closes the gap to the exact log-likelihood.
    base = tfd.Independent(tfd.Normal([1.2], [1.0]), 1)
    keras.utils.set_random_seed(0)
    classifier = ts.MLP([16], 1, activation="tanh")
    flow = ts.Flow(base, [ts.GenerativeAbs(classifier=classifier)])
    exact = ts.Flow(base, [ts.GenerativeAbs(exact=True)])
    data = np.abs(np.random.RandomState(0).randn(4096, 1) + 1.2).astype("float32")
    before = float(tf.reduce_mean(flow.log_prob(data, seed=(0, 0))))
    flow.compile(keras.optimizers.Adam(1e-2))
    flow.fit(tf.data.Dataset.from_tensor_slices(data).batch(256), epochs=8, verbose=0)
    after = float(tf.reduce_mean(flow.log_prob(data, seed=(0, 1))))
    target = float(tf.reduce_mean(exact.log_prob(data)))
    assert before < target - 0.1
    assert target - after < 0.25 * (target - before)


# ------------------------------------------------------------------------------------------
# Max and MaxPool2D
