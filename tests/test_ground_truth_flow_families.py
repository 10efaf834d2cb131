"""Ground truth for the flow families: the circular spline on the circle (continuity at the seam,
V against autodiff), Standardize's statistics against NumPy, and sampling at a temperature
(the variance of a Gaussian base scales by t^2; log_prob does not move)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import ground_truth

import tfp_survae as ts

EPS = 1e-9  # the end bins can be narrow (min_bin_width 1e-3): g'' is large there


def circular_coupling(rotation=True, seed=0):
    """A coupling of [x_a, x_b] with a circular spline of x_b whose conditioner has random
    (non-zero) weights, so the spline is far from the identity, in float64."""
    keras.utils.set_random_seed(seed)
    layer = ts.Coupling(map=ts.CircularSplineMap(num_bins=5, rotation=rotation),
                        hidden_units=[16], dtype="float64")
    layer.build((None, 2))
    for i, w in enumerate(layer.network.trainable_weights):
        w.assign(0.5 * tf.random.stateless_normal(w.shape, (seed, i), dtype=w.dtype))
    return layer


def on_circle(angles):
    return np.stack([np.cos(angles), np.sin(angles)], axis=-1)


@ground_truth(ts.Coupling)
@pytest.mark.parametrize("rotation", [True, False])
def test_circular_spline_is_continuous_across_the_seam(rotation):
    """g(-pi) and g(pi) are the same point of the circle, and g' has the same value there
    (the tied end derivatives): the density is continuous on the circle."""
    layer = circular_coupling(rotation)
    x_a = np.linspace(-3.0, 3.0, 7)
    ends = np.concatenate([np.stack([x_a, np.full(7, -np.pi)], 1),
                           np.stack([x_a, np.full(7, np.pi)], 1)])
    z, v = layer.inverse_and_log_det(ends)
    z, v = z.numpy(), v.numpy()
    np.testing.assert_allclose(on_circle(z[:7, 1]), on_circle(z[7:, 1]), atol=1e-9)
    np.testing.assert_allclose(v[:7], v[7:], rtol=1e-9)
    # The one-sided derivatives (autodiff just inside each end) agree with each other and with
    # exp(V) at the ends.
    inside = np.concatenate([np.stack([x_a, np.full(7, -np.pi + EPS)], 1),
                             np.stack([x_a, np.full(7, np.pi - EPS)], 1)])
    x = tf.constant(inside)
    with tf.GradientTape() as tape:
        tape.watch(x)
        z_inside = layer.inverse(x)[:, 1]
    slope = tape.gradient(z_inside, x)[:, 1].numpy()
    np.testing.assert_allclose(slope[:7], slope[7:], rtol=1e-3)
    np.testing.assert_allclose(slope, np.exp(v), rtol=1e-3)
    assert np.ptp(v) > 0.1  # the conditioner moves the end slopes: the test sees the tie


@ground_truth(ts.Coupling)
def test_circular_spline_log_det_matches_autodiff():
    layer = circular_coupling(seed=3)
    x = tf.constant(np.random.RandomState(0).uniform(-np.pi, np.pi, (64, 2)))
    with tf.GradientTape() as tape:
        tape.watch(x)
        z, v = layer.inverse_and_log_det(x)
    jacobian = tape.batch_jacobian(z, x).numpy()
    np.testing.assert_allclose(v, np.log(np.abs(np.linalg.det(jacobian))), rtol=1e-8,
                               atol=1e-10)
    assert np.std(v.numpy()) > 0.1


@ground_truth(ts.Standardize)
@pytest.mark.parametrize("as_dataset", [False, True])
def test_standardize_adapt_matches_numpy(as_dataset):
    data = np.random.RandomState(0).randn(101, 4, 4, 3) * [3.0, 0.01, 50.0] + [-2.0, 7.0, 1e3]
    layer = ts.Standardize(dtype="float64")
    layer.adapt(tf.data.Dataset.from_tensor_slices(data).batch(10) if as_dataset else data)
    flat = data.reshape(-1, 3)
    np.testing.assert_allclose(layer.mean.numpy(), flat.mean(0), rtol=1e-12)
    np.testing.assert_allclose(layer.scale.numpy(), flat.std(0), rtol=1e-10)
    z, v = layer.inverse_and_log_det(data[:5])
    np.testing.assert_allclose(z, (data[:5] - flat.mean(0)) / flat.std(0), rtol=1e-9)
    np.testing.assert_allclose(v, -16 * np.log(flat.std(0)).sum(), rtol=1e-12)


def tempered_flow():
    keras.utils.set_random_seed(0)
    base = ts.DiagonalNormal([3])
    base.loc.assign([1.0, -2.0, 0.5])
    base.log_scale.assign(np.log([0.5, 2.0, 1.0]))
    return ts.Flow(base, [ts.ActNorm()])  # an identity until initialised: x = z


@ground_truth(ts.ActNorm)
@pytest.mark.parametrize("t", [0.3, 0.7, 1.6])
def test_temperature_scales_the_variance_of_a_gaussian_base_by_t_squared(t):
    """x = z for this flow, so var(x) = t^2 sigma^2 and mean(x) = mu. With N draws, the sample
    variance has standard error sigma_t^2 sqrt(2 / (N - 1)) and the mean sigma_t / sqrt(N);
    both must lie within 5 standard errors (a false failure has probability < 1e-5 each)."""
    flow, n = tempered_flow(), 40_000
    sigma = np.array([0.5, 2.0, 1.0]) * t
    x = flow.sample(n, seed=(4, 5), temperature=t).numpy().astype(np.float64)
    np.testing.assert_array_less(np.abs(x.var(0, ddof=1) - sigma**2),
                                 5 * sigma**2 * np.sqrt(2 / (n - 1)))
    np.testing.assert_array_less(np.abs(x.mean(0) - [1.0, -2.0, 0.5]), 5 * sigma / np.sqrt(n))
    # log_prob is the model's whatever the temperature: N(mu, sigma^2) at t = 1.
    import scipy.stats
    expected = scipy.stats.norm.logpdf(x[:50], [1.0, -2.0, 0.5], [0.5, 2.0, 1.0]).sum(-1)
    np.testing.assert_allclose(flow.log_prob(x[:50].astype(np.float32)), expected, rtol=1e-5)


@ground_truth(ts.AffineCoupling)
def test_temperature_runs_the_transforms_on_the_scaled_base_draws():
    """For a nonlinear flow, sample(n, s, temperature=t) = f(mu + t (z - mu)) with z the base
    draws of sample(n, s) (recovered by the inverse)."""
    keras.utils.set_random_seed(2)
    flow = ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(ts.MLP([8], 2), scale_fn="exp"),
                                            ts.Reverse(), ts.AffineCoupling(hidden_units=[8])])
    x1 = flow.sample(500, seed=(1, 2))
    z = flow.as_bijector().inverse(x1)
    expected = flow.as_bijector().forward(0.4 * z)
    np.testing.assert_allclose(flow.sample(500, seed=(1, 2), temperature=0.4), expected,
                               rtol=1e-4, atol=1e-4)
    log_p = flow.log_prob(x1)
    flow.sample(10, seed=(1, 2), temperature=0.4)
    np.testing.assert_array_equal(flow.log_prob(x1), log_p)
