"""Ground truth for the bijections with a random, unbiased V: `ContinuousFlow` (FFJORD) and
`ResidualBlock` (i-ResNet, Residual Flows), and the `stochastic_log_det` contract.

* The exact V equals log |det dz/dx| of the autodiff Jacobian of the map (1-3 dimensions), to
  the solver's (fixed-point iteration's) tolerance; a linear ODE has the closed form
  z = expm(-A T) x, V = -T tr(A).
* The mean of the random V over many seeds equals the exact V within Monte Carlo error: each
  comparison uses the sample's standard error SE = std / sqrt(n) and a 5 SE bound (a false
  failure has probability below 6e-7 per comparison under normality).
* Round trips at stated tolerances; a forward that does not converge raises.
* A 2-D flow of each integrates to 1 (midpoint quadrature on a grid).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf
from helpers import ground_truth, integral_2d

import tfp_survae as ts

SIGMAS = 5.0


def linear_dynamics(matrix):
    """f(x, t) = A x as a network on [x, t] (the t row of the kernel is 0)."""
    d = len(matrix)
    layer = keras.layers.Dense(d, use_bias=False, dtype="float64")
    layer.build((None, d + 1))
    layer.set_weights([np.concatenate([np.asarray(matrix).T, np.zeros((1, d))], axis=0)])
    return layer


def autodiff_log_det(layer, x, **kwargs):
    x = tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        z, v = layer.inverse_and_log_det(x, **kwargs)
    jacobian = tape.batch_jacobian(z, x, experimental_use_pfor=False)
    return v.numpy(), np.linalg.slogdet(jacobian.numpy())[1]


def with_weights(layer, dims, seed, scale):
    """Builds `layer` on [dims] with network weights that depend on `seed` alone (a layer with
    a random V draws its generator's seed first) and every kernel times `scale` (a map that
    changes volume by more than the initialisation's few hundredths of a nat)."""
    if not layer.built:
        layer.build((None, dims))
    rng = np.random.RandomState(seed)
    weights = []
    for w in layer.network.get_weights():
        if w.ndim == 2:  # a kernel
            limit = np.sqrt(6.0 / sum(w.shape))
            w = scale * rng.uniform(-limit, limit, w.shape)
        weights.append(w)
    layer.network.set_weights(weights)
    if isinstance(layer, ts.ResidualBlock):  # power iteration to convergence for new kernels
        for _ in range(50):
            layer.network.normalized_weights("float64", training=True)
    return layer


def cnf(dims, seed, scale=1.5, **kwargs):
    kwargs.setdefault("hidden_units", [16])
    kwargs.setdefault("rtol", 1e-10)
    kwargs.setdefault("atol", 1e-10)
    return with_weights(ts.ContinuousFlow(dtype="float64", **kwargs), dims, seed, scale)


def residual(dims, seed, scale=10.0, **kwargs):
    # Kernels scaled beyond the bound: spectral normalisation brings each to `lipschitz`.
    kwargs.setdefault("hidden_units", [16])
    kwargs.setdefault("activation", "elu")  # J = W1 diag(elu') W2: less cancellation than 3 layers
    kwargs.setdefault("tolerance", 1e-12)
    return with_weights(ts.ResidualBlock(dtype="float64", **kwargs), dims, seed, scale)


# ---------------------------------------------------------------------------------------------
# The contract: a random V makes a flow inexact, not a bound; seeds as for stochastic layers.


@pytest.mark.parametrize("make", [
    lambda: ts.ContinuousFlow(hidden_units=[4], trace="hutchinson"),
    lambda: ts.ResidualBlock(hidden_units=[4]),
], ids=["continuous", "residual"])
def test_a_random_v_makes_the_flow_an_unbiased_estimate_not_a_bound(make):
    layer = make()
    assert layer.stochastic_log_det and layer.bijective and not layer.lower_bound
    flow = ts.Flow(ts.StandardNormal([2]), [ts.Reverse(), layer])
    assert not flow.is_exact
    assert ts.Sequential([ts.Reverse(), layer]).stochastic_log_det
    assert not ts.Sequential([ts.Reverse()]).stochastic_log_det
    with pytest.raises(ValueError, match="estimate their V at random"):
        ts.evaluation.iwbo(flow, tf.zeros([3, 2]), 4)
    x = tf.constant([[0.3, -0.2], [1.0, 0.5]])
    same = [flow.log_prob(x, seed=(1, 2)).numpy() for _ in range(2)]
    np.testing.assert_array_equal(same[0], same[1])
    assert not np.array_equal(same[0], flow.log_prob(x, seed=(3, 4)).numpy())
    # seed=None draws from the layer's own generator: two calls differ, and a layer seeded
    # alike repeats them.
    unseeded = [layer.inverse_and_log_det(x)[1].numpy() for _ in range(2)]
    assert layer.seed_generator is not None
    assert not np.array_equal(unseeded[0], unseeded[1])
    _, v_forward = layer.forward_and_log_det(x)  # seeds the forward's V as well
    assert v_forward.shape == (2,)


@pytest.mark.parametrize("make", [
    lambda: ts.ContinuousFlow(hidden_units=[4]),
    lambda: ts.ResidualBlock(hidden_units=[4], log_det="exact"),
], ids=["continuous", "residual"])
def test_an_exact_v_keeps_the_flow_exact(make):
    layer = make()
    assert not layer.stochastic_log_det and layer.seed_generator is None
    assert ts.Flow(ts.StandardNormal([2]), [layer]).is_exact


def test_the_seeded_generator_repeats_unseeded_draws():
    draws = []
    for _ in range(2):
        keras.utils.set_random_seed(0)
        layer = ts.ResidualBlock(hidden_units=[4], seed=7)
        draws.append(layer.inverse_and_log_det(tf.ones([2, 2]))[1].numpy())
    np.testing.assert_array_equal(draws[0], draws[1])


# ---------------------------------------------------------------------------------------------
# Exact V against autodiff, and a closed form.


@ground_truth(ts.ContinuousFlow)
# Three dimensions take as long as one and two together (an eager solve at rtol 1e-10, then a
# backward pass through it per dimension); two already have a Jacobian with cross terms.
@pytest.mark.parametrize("dims", [1, 2, pytest.param(3, marks=pytest.mark.slow)])
def test_continuous_exact_v_is_the_log_det_of_the_autodiff_jacobian(dims):
    layer = cnf(dims, seed=dims)
    x = np.random.RandomState(dims).randn(4, dims)
    v, log_det = autodiff_log_det(layer, x)
    assert np.max(np.abs(v)) > 0.05  # a map that changes volume
    np.testing.assert_allclose(v, log_det, atol=1e-7)


@ground_truth(ts.ResidualBlock)
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_residual_exact_v_is_the_log_det_of_the_autodiff_jacobian(dims):
    layer = residual(dims, seed=dims, log_det="exact")
    x = np.random.RandomState(dims).randn(4, dims)
    v, log_det = autodiff_log_det(layer, x)
    assert np.max(np.abs(v)) > 0.05
    np.testing.assert_allclose(v, log_det, atol=1e-12)


@ground_truth(ts.ContinuousFlow)
@pytest.mark.parametrize("trace", ["exact", "hutchinson"])
def test_a_linear_ode_has_its_closed_form(trace):
    a = np.array([[0.3, -0.8], [0.5, -0.1]])
    time_length = 0.7
    layer = ts.ContinuousFlow(linear_dynamics(a), trace=trace, time_length=time_length,
                              rtol=1e-10, atol=1e-10, dtype="float64")
    x = np.random.RandomState(0).randn(5, 2)
    z, v = layer.inverse_and_log_det(tf.constant(x), seed=(1, 2))
    np.testing.assert_allclose(z, x @ scipy.linalg.expm(-a * time_length).T, atol=1e-8)
    if trace == "exact":
        np.testing.assert_allclose(v, -time_length * np.trace(a), atol=1e-8)
    # Hutchinson: V = -T e^T A e per example, mean -T tr(A): checked with the others below.


# ---------------------------------------------------------------------------------------------
# The random V is unbiased.


def assert_unbiased(samples, exact):
    """samples: [n, batch] independent estimates; exact: [batch]."""
    mean = samples.mean(axis=0)
    se = samples.std(axis=0, ddof=1) / np.sqrt(len(samples))
    assert np.all(se > 0)
    z_scores = np.abs(mean - exact) / se
    assert np.all(z_scores < SIGMAS), (mean, exact, se, z_scores)
    return se


@ground_truth(ts.ContinuousFlow)
@pytest.mark.parametrize("probe", ["gaussian", "rademacher"])
def test_hutchinson_v_averages_to_the_exact_v(probe):
    # One call on the batch tiled 4000 times: each row draws its own probe, so the rows are
    # independent estimates (the trajectory does not depend on the probe).
    layer = cnf(3, seed=5, trace="hutchinson", probe=probe, rtol=1e-7, atol=1e-7)
    exact = cnf(3, seed=5, rtol=1e-7, atol=1e-7)
    x = np.random.RandomState(1).randn(3, 3)
    copies = 4000
    _, v = layer.inverse_and_log_det(tf.constant(np.tile(x, (copies, 1))), seed=(5, 6))
    _, v_exact = exact.inverse_and_log_det(tf.constant(x))
    se = assert_unbiased(v.numpy().reshape(copies, 3), v_exact.numpy())
    assert np.all(se < 0.06)  # measured 0.03-0.05: the test sees a bias of 0.3 nats


@ground_truth(ts.ContinuousFlow)
def test_hutchinson_v_of_a_linear_ode_averages_to_minus_t_trace():
    a = np.array([[0.3, -0.8], [0.5, -0.1]])
    layer = ts.ContinuousFlow(linear_dynamics(a), trace="hutchinson", time_length=0.7,
                              dtype="float64")
    _, v = layer.inverse_and_log_det(tf.zeros([20000, 2], "float64") + 0.5, seed=(3, 4))
    assert_unbiased(v.numpy()[:, None], np.array([-0.7 * np.trace(a)]))


@ground_truth(ts.ResidualBlock)
@pytest.mark.parametrize("probe", ["gaussian", "rademacher"])
def test_roulette_v_averages_to_the_exact_v(probe):
    # The number of terms is shared by a call's batch: the estimates are the means over
    # 20 copies of the batch within a call, independent across 500 calls. Lipschitz 0.8 per
    # layer (Lip(g) <= 0.64) keeps the estimator's variance finite (spectral radius r of J:
    # r^2 <= 0.41 < 1 - geometric_p = 0.5).
    layer = residual(3, seed=5, probe=probe, lipschitz=0.8)
    exact = residual(3, seed=5, lipschitz=0.8, log_det="exact")
    x = np.random.RandomState(2).randn(4, 3)
    tiled = tf.constant(np.tile(x, (20, 1)))
    estimate = tf.function(lambda seed: tf.reshape(
        layer.inverse_and_log_det(tiled, seed=seed)[1], [20, 4]))
    calls = np.stack([estimate(tf.constant([s, 1])).numpy().mean(axis=0)
                      for s in range(500)])
    v_exact = exact.inverse_and_log_det(tf.constant(x))[1].numpy()
    assert np.max(np.abs(v_exact)) > 0.05
    se = assert_unbiased(calls, v_exact)
    assert np.all(se < 0.01)


# ---------------------------------------------------------------------------------------------
# Round trips and the fixed point's failure.


@ground_truth(ts.ContinuousFlow)
def test_continuous_round_trip_at_the_solver_tolerance():
    layer = cnf(3, seed=4, rtol=1e-10, atol=1e-10)
    x = np.random.RandomState(3).randn(8, 3)
    z = layer.inverse(tf.constant(x))
    np.testing.assert_allclose(layer.forward(z), x, atol=1e-7)
    loose = cnf(3, seed=4, rtol=1e-4, atol=1e-4)  # a looser solve still inverts to ~1e-3
    np.testing.assert_allclose(loose.forward(loose.inverse(tf.constant(x))), x, atol=2e-3)


@ground_truth(ts.ResidualBlock)
def test_residual_round_trip_at_the_fixed_point_tolerance():
    layer = residual(3, seed=4, tolerance=1e-12)
    x = 2.0 * np.random.RandomState(3).randn(8, 3)
    np.testing.assert_allclose(layer.forward(layer.inverse(tf.constant(x))), x, atol=1e-10)


def test_a_forward_that_does_not_converge_raises_or_gives_nan():
    layer = residual(3, seed=4, lipschitz=1.0, max_iterations=2)
    z = tf.constant(np.random.RandomState(3).randn(4, 3))
    with pytest.raises(ValueError, match="did not converge within max_iterations=2"):
        layer.forward(z)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[tfp_survae\].*did not converge"):
        tf.function(lambda z: layer.forward(z, validate=False))(z)
    compiled = tf.function(lambda z: layer.forward(z, validate=False), jit_compile=True)
    assert np.all(np.isnan(compiled(z).numpy()))  # XLA compiles the check away: NaN


def test_gradients_through_the_fixed_point_are_implicit():
    layer = residual(2, seed=6)
    z = tf.constant(np.random.RandomState(4).randn(3, 2))
    weights = tf.constant(np.random.RandomState(5).randn(3, 2))
    with tf.GradientTape() as tape:
        tape.watch(z)
        loss = tf.reduce_sum(layer.forward(z) * weights)
    grad = tape.gradient(loss, z).numpy()
    # dx/dz = (I + J_g(x))^-1, from the inverse's autodiff Jacobian at x.
    x = tf.constant(layer.forward(z).numpy())
    with tf.GradientTape() as tape:
        tape.watch(x)
        z_again = layer.inverse(x)
    jac = tape.batch_jacobian(z_again, x).numpy()
    expected = np.einsum("bi,bij->bj", weights.numpy(), np.linalg.inv(jac))
    np.testing.assert_allclose(grad, expected, atol=1e-9)


# ---------------------------------------------------------------------------------------------
# Quadrature: a 2-D flow of each integrates to 1.


@ground_truth(ts.ContinuousFlow)
def test_a_2d_continuous_flow_integrates_to_one():
    keras.utils.set_random_seed(11)
    flow = ts.architectures.continuous_flow(2, hidden_units=[32, 32], time_length=1.5)
    x = tf.random.normal([64, 2])
    _, v = flow.chain[0].inverse_and_log_det(x)
    assert np.std(v.numpy()) > 0.05  # the map changes volume unevenly (measured 0.095)
    total = integral_2d(flow, -7.0, 7.0, num=300)
    assert abs(total - 1.0) < 2e-3, total


@ground_truth(ts.ResidualBlock)
def test_a_2d_residual_flow_integrates_to_one():
    keras.utils.set_random_seed(12)
    flow = ts.architectures.residual_flow(2, num_blocks=3, hidden_units=[32], log_det="exact",
                                          activation="elu", actnorm=False)
    for i, block in enumerate(flow.chain):
        with_weights(block, 2, seed=i, scale=10.0)
    v = flow.chain[0].inverse_and_log_det(tf.random.normal([64, 2]))[1]
    assert np.std(v.numpy()) > 0.02  # the map changes volume unevenly (measured 0.027)
    total = integral_2d(flow, -7.0, 7.0, num=300)
    assert abs(total - 1.0) < 2e-3, total


# ---------------------------------------------------------------------------------------------
# The number of function evaluations reaches `fit`.


@pytest.mark.isolated  # fit: an XLA program
def test_fit_reports_the_number_of_function_evaluations():
    keras.utils.set_random_seed(13)
    flow = ts.architectures.continuous_flow(2, hidden_units=[8], rtol=1e-4, atol=1e-4)
    flow.compile(keras.optimizers.Adam(1e-3), steps_per_execution=1)
    x = np.random.RandomState(0).randn(32, 2).astype("float32")
    history = flow.fit(x, batch_size=16, epochs=1, verbose=0)
    name = f"{flow.chain[0].name}_nfe"
    assert name in history.history, history.history.keys()
    assert history.history[name][0] >= 6  # a Dormand-Prince step takes 6 evaluations
