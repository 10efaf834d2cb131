"""Likelihood ground truth for VAE and StochasticPermutation: closed forms, quadrature, IWBO limits
and sample/density agreement. Each test fails if the layer's V loses a term or a sign."""

import itertools

import numpy as np
import scipy.special
import scipy.stats
from helpers import (
    ground_truth,
    bin_probabilities_2d,
    histogram_2d,
    total_variation,
    normal_base,
    dense,
)

import tfp_survae as ts


def ppca(latent=2, data=3, sigma=0.5, seed=12):
    rng = np.random.RandomState(seed)
    q, _ = np.linalg.qr(rng.randn(data, latent))
    w = q * np.array([1.5, 0.8])[:latent]  # orthogonal columns: M = W^T W + s^2 I is diagonal
    b = rng.randn(data)
    m = np.diag(w.T @ w) + sigma**2
    return w, b, sigma, m


def ppca_flow(w, b, sigma, encoder_mean, encoder_log_scale):
    latent, data = w.shape[1], w.shape[0]
    decoder = ts.ConditionalNormal(
        [data], dense(latent, 2 * data, np.concatenate([w.T, np.zeros_like(w.T)], 1),
                      np.concatenate([b, np.full(data, np.log(sigma))])))
    a, c = encoder_mean
    encoder = ts.ConditionalNormal(
        [latent], dense(data, 2 * latent, np.concatenate([a.T, np.zeros_like(a.T)], 1),
                        np.concatenate([c, encoder_log_scale])))
    return ts.Flow(ts.StandardNormal([latent]), [ts.VAE(encoder, decoder)])


@ground_truth(ts.VAE)
def test_vae_is_probabilistic_pca():
    w, b, sigma, m = ppca()
    a = (w / m).T  # M^-1 W^T
    posterior_log_scale = 0.5 * np.log(sigma**2 / m)
    exact_flow = ppca_flow(w, b, sigma, (a, -a @ b), posterior_log_scale)
    marginal = scipy.stats.multivariate_normal(b, w @ w.T + sigma**2 * np.eye(3))
    x = marginal.rvs(40, random_state=1).astype("float32")
    for seed in range(3):  # the true posterior: zero gap for every sample
        np.testing.assert_allclose(exact_flow.log_prob(x, seed=(seed, 0)), marginal.logpdf(x),
                                   rtol=1e-4, atol=1e-4)
    loose = ppca_flow(w, b, sigma, (0.85 * a, -0.85 * a @ b), posterior_log_scale + 0.2)
    elbos = np.stack([loose.log_prob(x, seed=(i, 1)).numpy() for i in range(100)])
    # E[ELBO] = log p(x) - KL(q || p(z | x)), the KL between two diagonal normals: the
    # encoder's scale is e^0.2 times the posterior's and its mean 0.85 times the posterior's.
    posterior_mean = (x - b) @ a.T
    posterior_scale = np.exp(posterior_log_scale)
    gap = np.sum(-0.2 + np.exp(0.4) / 2 - 0.5 + (0.15 * posterior_mean)**2
                 / (2 * posterior_scale**2), axis=1)
    assert np.all(gap > 0.09)  # a loose encoder: the bound is strictly below
    standard_error = elbos.std(0) / np.sqrt(len(elbos))
    assert np.all(np.abs(elbos.mean(0) - (marginal.logpdf(x) - gap)) < 4 * standard_error), (
        elbos.mean(0) - (marginal.logpdf(x) - gap), standard_error)
    iwbo = ts.evaluation.iwbo(loose, x, 5000, seed=(2, 2)).numpy()
    assert np.abs(iwbo - marginal.logpdf(x)).mean() < 0.01
    samples = exact_flow.sample(100_000, seed=(1, 2)).numpy()
    np.testing.assert_allclose(np.cov(samples.T), marginal.cov, atol=0.03)
    np.testing.assert_allclose(samples.mean(0), b, atol=0.02)


@ground_truth(ts.StochasticPermutation)
def test_stochastic_permutation_is_invariant_in_distribution():
    base = normal_base([1.5, -0.5, 0.0], [0.6, 1.0, 1.4])
    flow = ts.Flow(base, [ts.StochasticPermutation()])
    layer = flow.chain[0]
    x = np.array([[0.3, -1.2, 2.0]], "float32")
    z, v = layer.inverse_and_log_det(np.tile(x, [1000, 1]), seed=(1, 1))
    np.testing.assert_array_equal(v, np.zeros(1000))
    np.testing.assert_allclose(np.sort(z.numpy(), -1), np.sort(np.tile(x, [1000, 1]), -1))
    draws = lambda t, s: flow.log_prob(np.tile(t, [4000, 1]), seed=s).numpy()  # noqa: E731
    a, b = draws(x, (2, 2)), draws(x[:, [2, 0, 1]], (3, 3))
    assert scipy.stats.ks_2samp(a, b).pvalue > 1e-3
    # The IWBO converges to the symmetrised density (1 / K!) sum_P p(x[P]).
    perms = list(itertools.permutations(range(3)))
    log_p = np.array([base.log_prob(x[:, list(p)]).numpy()[0] for p in perms], np.float64)
    symmetric = scipy.special.logsumexp(log_p) - np.log(6.0)
    # The weights are p(x[P]) for P uniform: Var(w) / E[w]^2 = 6 sum p^2 / (sum p)^2 - 1 =: r;
    # the log of a mean of k of them has standard error sqrt(r / k).
    k = 20000
    relative_variance = 6 * np.exp(scipy.special.logsumexp(2 * log_p)
                                   - 2 * scipy.special.logsumexp(log_p)) - 1
    iwbo = ts.evaluation.iwbo(flow, x, k, seed=(4, 4)).numpy()[0]
    assert abs(iwbo - symmetric) < 4 * np.sqrt(relative_variance / k), (
        iwbo - symmetric, np.sqrt(relative_variance / k))
    two = ts.Flow(normal_base([1.5, -0.5], [0.6, 1.0]), [ts.StochasticPermutation()])
    symmetric_2d = lambda t: np.logaddexp(  # noqa: E731
        two.base.log_prob(t).numpy(), two.base.log_prob(t.numpy()[:, ::-1]).numpy()) - np.log(2)
    samples = two.sample(100_000, seed=(5, 5)).numpy()
    predicted = bin_probabilities_2d(symmetric_2d, -4.0, 4.0, 20)
    assert total_variation(histogram_2d(samples, -4.0, 4.0, 20), predicted) < 0.02
