"""Likelihood ground truth for every SurVAE layer: closed forms, quadrature, IWBO limits and
sample/density agreement. Each test fails if a layer's V loses a term or a sign."""

import itertools
import math

import keras
import numpy as np
import pytest
import scipy.special
import scipy.stats
import tensorflow as tf
import tensorflow_probability as tfp
from helpers import (
    batched,
    bin_probabilities_2d,
    grid_1d,
    grid_2d,
    histogram_2d,
    total_variation,
)

import tfp_survae as ts

tfb = tfp.bijectors
tfd = tfp.distributions


def normal_base(loc, scale):
    loc = np.asarray(loc, "float32")
    return tfd.Independent(tfd.Normal(loc, np.asarray(scale, "float32")), 1)


def dense(in_dim, out_dim, kernel, bias):
    layer = keras.layers.Dense(out_dim)
    layer.build((None, in_dim))
    layer.set_weights([np.asarray(kernel, "float32"), np.asarray(bias, "float32")])
    return layer


def random_mlp(out, seed, hidden=(16,)):
    keras.utils.set_random_seed(seed)
    return ts.MLP(list(hidden), out, activation="tanh")


def integral_1d(flow, low, high, num=40000):
    mids, step = grid_1d(low, high, num)
    return np.exp(batched(flow.log_prob, mids[:, None])).sum() * step


def integral_2d(flow, low, high, num=500):
    points, area = grid_2d(low, high, num)
    return np.exp(batched(flow.log_prob, points)).sum() * area


def assert_samples_match_2d(flow, low, high, bins=20, num=100_000, tolerance=0.02, seed=(7, 8)):
    samples = flow.sample(num, seed=seed).numpy()
    predicted = bin_probabilities_2d(flow.log_prob, low, high, bins)
    assert predicted.sum() > 0.97, f"the window holds only {predicted.sum():.3f} of the mass"
    assert total_variation(histogram_2d(samples, low, high, bins), predicted) < tolerance


def assert_samples_match_1d(samples, density_fn, low, high, bins=40, tolerance=0.02):
    counts, edges = np.histogram(samples, bins=bins, range=(low, high))
    empirical = counts / len(samples)
    fine, step = grid_1d(low, high, bins * 20)
    predicted = density_fn(fine).reshape(bins, 20).sum(axis=1) * step
    assert predicted.sum() > 0.97
    assert total_variation(empirical, predicted) < tolerance


# ------------------------------------------------------------------------------------------
# Abs


def test_abs_over_half_normal_is_the_standard_normal():
    flow = ts.Flow(ts.StandardHalfNormal([3]), [ts.Abs()])
    x = np.random.RandomState(0).randn(50, 3).astype("float32") * 2
    np.testing.assert_allclose(flow.log_prob(x), scipy.stats.norm.logpdf(x).sum(-1), rtol=1e-5)
    assert flow.is_exact


def test_abs_with_learned_sign_integrates_and_samples():
    flow = ts.Flow(ts.StandardHalfNormal([2]), [ts.Abs(classifier=random_mlp(2, 1, (8,)))])
    flow.chain[0].classifier.out.kernel.assign(flow.chain[0].classifier.out.kernel * 8.0)
    assert integral_2d(flow, -7.0, 7.0) == pytest.approx(1.0, abs=3e-3)
    assert_samples_match_2d(flow, -4.0, 4.0)


def test_partial_abs_uses_the_classifier_of_the_folded_vector():
    clf = dense(2, 1, [[1.5], [-0.7]], [0.3])
    flow = ts.Flow(ts.StandardUniform([2]), [ts.Abs(classifier=clf, elements=[0])])
    x = np.array([[-0.4, 0.2], [0.3, 0.9], [-0.9, 0.5]], "float32")
    z = np.abs(x[:, :1])
    logit = 1.5 * z[:, 0] - 0.7 * x[:, 1] + 0.3
    p_plus = scipy.special.expit(logit)
    expected = np.log(np.where(x[:, 0] >= 0, p_plus, 1 - p_plus))
    np.testing.assert_allclose(flow.log_prob(x), expected, rtol=1e-5)


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


def max_log_prob_numpy(x, base_log_prob):
    """The paper's formula with uniform k and standard half-normal gaps, over the last axis."""
    z = x.max(-1)
    gaps = z[..., None] - x
    k = x.argmax(-1)
    hn = scipy.stats.halfnorm.logpdf(gaps)
    hn = np.where(np.arange(x.shape[-1]) == k[..., None], 0.0, hn).sum(-1)
    return base_log_prob(z), -np.log(x.shape[-1]) + hn


def test_max_matches_the_formula_and_integrates():
    flow = ts.Flow(ts.StandardNormal([]), [ts.Max()], event_shape=[4])
    x = np.random.RandomState(1).randn(30, 4).astype("float32")
    base, v = max_log_prob_numpy(x, scipy.stats.norm.logpdf)
    np.testing.assert_allclose(flow.log_prob(x), base + v, rtol=1e-5)
    two = ts.Flow(ts.StandardNormal([]), [ts.Max()], event_shape=[2])
    assert integral_2d(two, -8.0, 8.0) == pytest.approx(1.0, abs=3e-3)
    assert_samples_match_2d(two, -4.0, 4.0)


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
    iwbo = ts.evaluation.iwbo(flow, x, 20000, seed=(1, 2)).numpy()
    np.testing.assert_allclose(iwbo, exact, atol=0.02)
    samples = flow.sample(100_000, seed=(2, 2)).numpy()
    assert_samples_match_1d(samples, density, -4.0, 4.5)


# ------------------------------------------------------------------------------------------
# Sort


def order_statistics_base(k):
    """The density of k sorted iid normals, k! prod N(z_i) on the sorted region."""
    return ts.Flow(ts.StandardNormal([k]), [ts.GenerativeSort(exact=True)])


def test_sort_of_iid_normals_is_the_iid_density():
    flow = ts.Flow(order_statistics_base(4), [ts.Sort()])
    x = np.random.RandomState(4).randn(20, 4).astype("float32")
    np.testing.assert_allclose(flow.log_prob(x), scipy.stats.norm.logpdf(x).sum(-1), rtol=1e-5)
    assert flow.is_exact


def test_sort_with_plackett_luce_adds_log_p_of_the_order():
    keras.utils.set_random_seed(5)
    scorer = ts.MLP([8], 3, activation="tanh", output_initializer="glorot_uniform")
    base = order_statistics_base(3)
    flow = ts.Flow(base, [ts.Sort(classifier=scorer)])
    x = np.random.RandomState(5).randn(10, 3).astype("float32")
    order = np.argsort(x, axis=-1)
    z = np.take_along_axis(x, order, axis=-1)
    perm = np.argsort(order, axis=-1)  # x = z[perm]
    scores = np.exp(scorer(z).numpy())
    log_pl = tfd.PlackettLuce(scores).log_prob(perm).numpy()
    np.testing.assert_allclose(flow.log_prob(x), base.log_prob(z).numpy() + log_pl, rtol=1e-4)
    two = ts.Flow(order_statistics_base(2), [ts.Sort(classifier=random_mlp(2, 6, (8,)))])
    assert integral_2d(two, -7.0, 7.0) == pytest.approx(1.0, abs=3e-3)
    assert_samples_match_2d(two, -4.0, 4.0)


def test_sort_points_by_a_coordinate():
    layer = ts.Sort(axis=-2, key=1)
    x = np.random.RandomState(6).randn(3, 5, 2).astype("float32")
    z, v = layer.inverse_and_log_det(x)
    assert np.all(np.diff(z.numpy()[..., 1], axis=-1) >= 0)
    np.testing.assert_allclose(v, np.full(3, -math.log(120.0)), rtol=1e-6)
    assert sorted(map(tuple, z.numpy()[0])) == sorted(map(tuple, x[0]))


def test_generative_sort_exact_and_sampled():
    loc = np.array([0.5, -0.3, 1.0], "float32")
    base = normal_base(loc, [1.0, 0.7, 1.3])
    exact = ts.Flow(base, [ts.GenerativeSort(exact=True)])
    x = np.sort(np.random.RandomState(7).randn(16, 3), axis=-1).astype("float32")
    expected = scipy.special.logsumexp(
        [normal_base(loc, [1.0, 0.7, 1.3]).log_prob(x[:, list(p)]).numpy()
         for p in itertools.permutations(range(3))], axis=0)
    np.testing.assert_allclose(exact.log_prob(x), expected, rtol=1e-5)
    assert exact.log_prob(x[:, ::-1]).numpy().max() == -np.inf  # unsorted: outside the image
    sampled = ts.Flow(base, [ts.GenerativeSort()])
    np.testing.assert_allclose(ts.evaluation.iwbo(sampled, x, 20000, seed=(0, 0)), expected,
                               atol=0.02)
    assert np.mean(expected - ts.evaluation.iwbo(sampled, x, 1, seed=(0, 1)).numpy()) > 0.1
    two = ts.Flow(normal_base([0.5, -0.3], [1.0, 0.7]), [ts.GenerativeSort(exact=True)])
    assert_samples_match_2d(two, -4.0, 4.0)


# ------------------------------------------------------------------------------------------
# ReLU


def test_relu_with_zero_inflated_base_integrates_and_samples():
    keras.utils.set_random_seed(8)
    decoder = ts.ConditionalHalfNormal([2], ts.MLP([8], 2, activation="tanh"))
    base = ts.ZeroInflated(ts.StandardHalfNormal([2]), initial_zero_probability=0.3)
    flow = ts.Flow(base, [ts.ReLU(decoder)])
    assert integral_2d(flow, -8.0, 8.0, num=600) == pytest.approx(1.0, abs=4e-3)
    assert_samples_match_2d(flow, -4.0, 4.0)
    x = np.array([[-0.5, 1.0]], "float32")
    expected = (np.log(0.3) + np.log(0.7) + scipy.stats.halfnorm.logpdf(1.0)
                + decoder.log_prob_elements(np.array([[0.5, 0.0]], "float32"),
                                            np.array([[0.0, 1.0]], "float32")).numpy()[0, 0])
    np.testing.assert_allclose(flow.log_prob(x), [expected], rtol=1e-5)


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


def test_floor_with_a_flow_decoder_integrates():
    keras.utils.set_random_seed(10)
    decoder = ts.dequantization_flow([2], hidden_units=[8], dtype="float64")
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


@pytest.mark.parametrize("variational", [False, True])
def test_dequantized_pmf_sums_to_one(variational):
    keras.utils.set_random_seed(11)
    inner = ts.Flow(ts.StandardNormal([2]), [
        ts.BijectorTransform(tfb.Sigmoid()),
        ts.AffineCoupling(ts.MLP([8], 2, activation="tanh", output_initializer="glorot_uniform"),
                          scale_bound=1.0),
    ])
    if variational:
        encoder = ts.dequantization_flow([2], hidden_units=[8])
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


# ------------------------------------------------------------------------------------------
# Stochastic transforms


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
    elbo = np.mean([loose.log_prob(x, seed=(i, 1)).numpy() for i in range(100)], 0)
    assert np.all(elbo < marginal.logpdf(x) - 0.01)
    iwbo = ts.evaluation.iwbo(loose, x, 5000, seed=(2, 2)).numpy()
    assert np.abs(iwbo - marginal.logpdf(x)).mean() < 0.01
    samples = exact_flow.sample(100_000, seed=(1, 2)).numpy()
    np.testing.assert_allclose(np.cov(samples.T), marginal.cov, atol=0.03)
    np.testing.assert_allclose(samples.mean(0), b, atol=0.02)


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
    symmetric = scipy.special.logsumexp([base.log_prob(x[:, list(p)]).numpy() for p in perms],
                                        axis=0) - np.log(6.0)
    np.testing.assert_allclose(ts.evaluation.iwbo(flow, x, 20000, seed=(4, 4)), symmetric,
                               atol=0.01)
    two = ts.Flow(normal_base([1.5, -0.5], [0.6, 1.0]), [ts.StochasticPermutation()])
    symmetric_2d = lambda t: np.logaddexp(  # noqa: E731
        two.base.log_prob(t).numpy(), two.base.log_prob(t.numpy()[:, ::-1]).numpy()) - np.log(2)
    samples = two.sample(100_000, seed=(5, 5)).numpy()
    predicted = bin_probabilities_2d(symmetric_2d, -4.0, 4.0, 20)
    assert total_variation(histogram_2d(samples, -4.0, 4.0, 20), predicted) < 0.02


def test_dequantized_values_stay_strictly_inside_the_unit_interval():
    # With u drawn from all of [0, 1), (255 + u) / 256 rounds to 1.0 in float32 for u within
    # 1.5e-5 of 1 (and x = 0, u = 0 gives 0): a logit next would make log_prob NaN.
    x = np.tile(np.array([[0, 255]], np.int32), [200_000, 1])
    z, v = ts.UniformDequantization(256).inverse_and_log_det(x, seed=(3, 4))
    assert 0.0 < z.numpy().min() and z.numpy().max() < 1.0
    assert np.all(v.numpy() <= -2 * np.log(256.0))
