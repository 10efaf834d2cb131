"""Likelihood ground truth for the foundation: quadrature, closed forms, sample/log_prob agreement."""

import numpy as np
import pytest
import scipy.stats
import tensorflow as tf
import tensorflow_probability as tfp
from helpers import (
    ground_truth,
    batched,
    bin_probabilities_2d,
    grid_1d,
    grid_2d,
    histogram_2d,
    total_variation,
)

import tfp_survae as ts

tfb = tfp.bijectors


def random_coupling_flow(seed=3):
    """An exact 2-D flow with non-trivial random couplings and an initialised ActNorm."""
    tf.keras.utils.set_random_seed(seed)
    transforms = []
    for _ in range(3):
        transforms += [
            ts.AffineCoupling(ts.MLP([32], 2, activation="tanh",
                                     output_initializer="glorot_uniform"), scale_fn="tanh",
                              scale_bound=1.0),
            ts.Reverse(),
        ]
    transforms.append(ts.ActNorm())
    flow = ts.Flow(ts.StandardNormal([2]), transforms)
    # Initialise ActNorm on data with a non-unit spread, so its V is not zero.
    flow.log_prob(0.7 * np.random.RandomState(0).randn(256, 2).astype("float32") + 0.5)
    return flow


def test_exact_1d_flow_integrates_to_one():
    flow = ts.Flow(
        ts.StandardNormal([1]),
        [
            ts.BijectorTransform(tfb.SinhArcsinh(skewness=0.7, tailweight=0.6)),
            ts.ActNorm(),
            ts.BijectorTransform(tfb.Shift(1.5)),
        ],
    )
    flow.log_prob(2.0 * np.random.RandomState(1).randn(128, 1).astype("float32"))
    mids, step = grid_1d(-60.0, 60.0, 60000)
    density = np.exp(batched(flow.log_prob, mids[:, None]))
    assert density.sum() * step == pytest.approx(1.0, abs=2e-3)


def test_exact_2d_flow_integrates_to_one():
    flow = random_coupling_flow()
    points, area = grid_2d(-10.0, 10.0, 600)
    density = np.exp(batched(flow.log_prob, points))
    assert density.sum() * area == pytest.approx(1.0, abs=5e-3)


def test_exact_flow_samples_match_density():
    flow = random_coupling_flow()
    samples = flow.sample(200_000, seed=(5, 6)).numpy()
    empirical = histogram_2d(samples, -6.0, 6.0, 24)
    predicted = bin_probabilities_2d(flow.log_prob, -6.0, 6.0, 24)
    assert predicted.sum() > 0.95  # the window holds most of the mass
    assert total_variation(empirical, predicted) < 0.015


@ground_truth(ts.Slice)
def test_slice_with_normal_decoder_is_the_joint_gaussian():
    # x1 ~ N(0, 1) (the base), x2 | x1 ~ N(a x1 + b, s^2) (the decoder).
    a, b, s = 1.7, -0.4, 0.6
    net = tf.keras.layers.Dense(2)
    net.build((None, 1))
    net.set_weights([np.array([[a, 0.0]], "float32"), np.array([b, np.log(s)], "float32")])
    flow = ts.Flow(
        ts.StandardNormal([1]),
        [ts.Slice(1, decoder=ts.ConditionalNormal([1], net))],
        event_shape=[2],
    )
    x = np.random.RandomState(2).randn(64, 2).astype("float32") * 2.0
    expected = scipy.stats.multivariate_normal(
        mean=[0.0, b], cov=[[1.0, a], [a, a * a + s * s]]
    ).logpdf(x)
    np.testing.assert_allclose(flow.log_prob(x).numpy(), expected, rtol=1e-5, atol=1e-5)
    assert flow.is_exact


def augmented_gaussian_flow():
    """Augment x (1-D) with e ~ N(0, 1), then [x, e] = L z with z ~ N(0, I): x ~ N(0, (L L^T)_00)."""
    scale_tril = np.array([[1.3, 0.0], [0.3, 1.0]])
    flow = ts.Flow(
        ts.StandardNormal([2]),
        [ts.Augment(1),
         ts.BijectorTransform(tfb.ScaleMatvecTriL(scale_tril=scale_tril.astype("float32")))],
    )
    return flow, scale_tril @ scale_tril.T


@ground_truth(ts.Augment)
def test_augment_elbo_is_a_lower_bound_and_iwbo_converges():
    flow, cov = augmented_gaussian_flow()
    assert not flow.is_exact
    x = np.linspace(-2.5, 2.5, 64)
    exact = scipy.stats.norm(0.0, np.sqrt(cov[0, 0])).logpdf(x)
    # E_q[ELBO] = log p(x) - KL(q(e) || p(e | x)), with q = N(0, 1) and a Gaussian posterior.
    post_mean = cov[0, 1] / cov[0, 0] * x
    post_var = cov[1, 1] - cov[0, 1] ** 2 / cov[0, 0]
    kl = 0.5 * (1.0 / post_var + post_mean**2 / post_var - 1.0 + np.log(post_var))
    repeats = 20000
    tiled = np.tile(x.astype("float32")[:, None], [repeats, 1])
    elbo = ts.evaluation.elbo(flow, tiled, seed=(1, 2)).numpy().reshape(repeats, len(x))
    np.testing.assert_allclose(elbo.mean(axis=0), exact - kl, atol=4 * elbo.std(axis=0).max()
                               / np.sqrt(repeats) + 1e-3)
    assert np.all(elbo.mean(axis=0)[kl > 0.02] < exact[kl > 0.02])
    # IWBO with k = 1000: within 0.01 nats of log p(x) on average over the points (each point
    # carries Monte Carlo noise of about 0.02 nats here), and above the ELBO where the gap shows.
    iwbo = ts.evaluation.iwbo(flow, x[:, None].astype("float32"), 1000, seed=(9, 9),
                              batch_k=250).numpy()
    assert abs(np.mean(iwbo - exact)) < 0.01
    np.testing.assert_allclose(iwbo, exact, atol=0.08)
    assert np.all(iwbo[kl > 0.05] > elbo.mean(axis=0)[kl > 0.05])
