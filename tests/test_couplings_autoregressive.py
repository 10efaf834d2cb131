"""Couplings and autoregressive layers beyond the conformance suite: the presets are
`Coupling` with a map, configurations saved before the maps load, the spline's continuity at
its knots and tails, the inversions' stated accuracy, the autoregressive structure, and the
builders' densities integrating to one (and the LU and batch-normalization layers)."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import batched, grid_2d

import tfp_survae as ts


def perturbed(layer, x, scale, seed=0):
    layer.inverse_and_log_det(x)
    rng = np.random.RandomState(seed)
    for w in layer.trainable_weights:
        w.assign(w + scale * rng.randn(*w.shape).astype(w.dtype))
    return layer


# The presets are Coupling with a map; MaskedAutoregressive takes any map.

PRESETS = [
    (lambda d: ts.AffineCoupling(hidden_units=[8], scale_fn="exp", num_identity=1, dtype=d),
     ts.AffineMap(scale_fn="exp"), dict(scale_fn="exp", scale_bound=3.0)),
    (lambda d: ts.RationalQuadraticCoupling(hidden_units=[8], num_bins=5, bound=2.0, dtype=d),
     ts.RationalQuadraticMap(num_bins=5, bound=2.0),
     dict(num_bins=5, bound=2.0, min_bin_width=1e-3, min_slope=1e-3)),
    (lambda d: ts.LogisticMixtureCoupling(hidden_units=[8], num_components=3, dtype=d),
     ts.LogisticMixtureMap(num_components=3), dict(num_components=3, bisection_steps=60)),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("make,map_,arguments", PRESETS, ids=["affine", "spline", "mixture"])
def test_a_preset_is_a_coupling_with_its_map(make, map_, arguments, dtype):
    keras.utils.set_random_seed(1)
    preset = make(dtype)
    coupling = ts.Coupling(map=map_, hidden_units=[8], num_identity=preset.num_identity,
                           dtype=dtype)
    x = np.random.RandomState(0).randn(16, 3).astype(dtype)
    perturbed(preset, x, 0.5)
    coupling.build((None, 3))
    coupling.set_weights(preset.get_weights())
    assert isinstance(preset, ts.Coupling) and preset.map == map_
    for name, value in arguments.items():
        assert getattr(preset, name) == value  # today's attributes, read from the map
    for direction in ("inverse_and_log_det", "forward_and_log_det"):
        for a, b in zip(getattr(preset, direction)(x), getattr(coupling, direction)(x)):
            np.testing.assert_array_equal(a, b)
    config = preset.get_config()  # the preset's own arguments, no map
    assert "map" not in config and {k: config[k] for k in arguments} == arguments
    assert coupling.get_config()["map"]["config"] == map_.get_config()
    copy = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(coupling))
    assert type(copy) is ts.Coupling and copy.map == map_


def test_old_autoregressive_keywords_show_the_map_that_replaces_them():
    with pytest.raises(TypeError, match=re.escape(
            "received transformer='spline', num_bins=8. Write "
            "map=ts.RationalQuadraticMap(num_bins=8)")):
        ts.MaskedAutoregressive(transformer="spline", num_bins=8)
    with pytest.raises(TypeError, match=re.escape("Write map=ts.AffineMap(scale_fn='exp')")):
        ts.MaskedAutoregressive(scale_fn="exp")


@pytest.mark.parametrize("old,expected", [
    (dict(transformer="spline", scale_fn="tanh", scale_bound=3.0, num_bins=4, bound=2.5,
          min_bin_width=1e-3, min_slope=1e-2),
     ts.RationalQuadraticMap(num_bins=4, bound=2.5, min_slope=1e-2)),
    (dict(transformer="affine", scale_fn="softplus", scale_bound=3.0, num_bins=8, bound=3.0,
          min_bin_width=1e-3, min_slope=1e-3), ts.AffineMap(scale_fn="softplus")),
])
def test_old_autoregressive_configurations_load_with_their_map(old, expected):
    config = dict(name="maf", trainable=True, dtype="float32", network=None,
                  inverse_autoregressive=False, hidden_units=[8], residual=False,
                  condition_shape=None, **old)
    layer = ts.MaskedAutoregressive.from_config(config)
    assert layer.map == expected
    assert "transformer" not in layer.get_config()


def spline_coupling():
    keras.utils.set_random_seed(2)
    layer = ts.RationalQuadraticCoupling(hidden_units=[8], num_bins=5, bound=2.0,
                                         num_identity=1, dtype="float64")
    return perturbed(layer, np.zeros([1, 2]), 1.0)


def test_spline_is_continuous_with_a_continuous_derivative_at_knots_and_tails():
    layer = spline_coupling()
    x_a = np.full([1, 1], 0.3)
    params = tf.split(layer.network(x_a), layer.params_per_element, axis=-1)
    widths, _, slopes = layer.map.bins(params)
    knots = -layer.bound + np.cumsum(np.concatenate([[0.0], widths.numpy()[0, 0]]))
    np.testing.assert_allclose(knots[[0, -1]], [-2.0, 2.0], atol=1e-12)  # the tails start here
    knot_slopes = np.concatenate([[1.0], slopes.numpy()[0, 0], [1.0]])  # 1 at the tails
    eps = 1e-13  # bins can be sharp: the derivative changes by 1e3 within 1e-6 of a knot
    for knot, slope in zip(knots, knot_slopes):
        x = np.array([[0.3, knot - eps], [0.3, knot + eps]])
        z, v = (t.numpy() for t in layer.inverse_and_log_det(x))
        assert abs(z[1, 1] - z[0, 1]) < 1e-6, f"a jump of z at the knot {knot}"
        # the derivative reaches the knot's slope from both sides
        np.testing.assert_allclose(np.exp(v), [slope, slope], rtol=1e-4)
    # linear tails of slope 1 outside [-B, B]
    x = np.stack([np.full(7, 0.3), [-5.0, -3.0, -2.0 - 1e-6, 2.0 + 1e-6, 3.0, 5.0, 50.0]], 1)
    z, v = (t.numpy() for t in layer.inverse_and_log_det(x))
    np.testing.assert_allclose(z[:, 1], x[:, 1], atol=1e-12)
    np.testing.assert_allclose(v, 0.0, atol=1e-12)
    # and monotonic inside
    grid = np.stack([np.full(2001, 0.3), np.linspace(-2.0, 2.0, 2001)], 1)
    assert np.all(np.diff(layer.inverse(grid).numpy()[:, 1]) > 0)


@pytest.mark.parametrize("make", [
    lambda d: ts.RationalQuadraticCoupling(hidden_units=[8], num_bins=6, bound=2.0, dtype=d),
    lambda d: ts.MaskedAutoregressive(map=ts.RationalQuadraticMap(num_bins=6),
                                      hidden_units=[8], dtype=d),
    lambda d: ts.MaskedAutoregressive(map=ts.LogisticMixtureMap(num_components=3),
                                      hidden_units=[8], dtype=d),
    lambda d: ts.MaskedAutoregressive(map=ts.LogisticMixtureMap(num_components=3),
                                      inverse_autoregressive=True, hidden_units=[8], dtype=d),
    lambda d: ts.MaskedAutoregressive(inverse_autoregressive=True, hidden_units=[8], dtype=d),
])
@pytest.mark.parametrize("dtype,scale,tolerance", [("float32", 0.2, 1e-4),
                                                   ("float64", 0.4, 1e-6)])
def test_round_trips(make, dtype, scale, tolerance):
    """forward(inverse(x)) == x: to 1e-4 in float32 for moderately sharp splines, to 1e-6 in
    float64 for sharp ones (a spline with bins of very unequal widths and heights is
    ill-conditioned, and float32 loses its inverse there)."""
    keras.utils.set_random_seed(3)
    x = (np.random.RandomState(0).randn(256, 4) * 2.0).astype(dtype)  # tails included
    layer = perturbed(make(dtype), x, scale)
    z, v = layer.inverse_and_log_det(x)
    x_again, v_again = layer.forward_and_log_det(z)
    np.testing.assert_allclose(x_again, x, atol=tolerance)
    np.testing.assert_allclose(v_again, v, atol=tolerance * 10)


# The inversions' stated accuracy (RationalQuadraticMap and LogisticMixtureMap docstrings):
# inverse(x_hat) within eps (1 + |z| + g'(x_hat) (1 + |x_hat|)) of z, and |x_hat - x| within
# eps (1 + |x|) + eps (1 + |z|) / m, m the least g' between x and x_hat.

STATED_EPS = {"float32": 5e-6, "float64": 1e-14}


def sharp_coupling(map_, dtype, seed, weight_scale):
    """A coupling on [x_a, x_b] whose network has `weight_scale` times its initial weights."""
    keras.utils.set_random_seed(seed)
    network = ts.MLP([64, 64], map_.params_per_element, output_initializer="glorot_uniform",
                     dtype=dtype)
    layer = ts.Coupling(network, map_, num_identity=1, dtype=dtype)
    layer.build((None, 2))
    for w in layer.trainable_weights:
        w.assign(w * weight_scale)
    return layer


def accuracy_grid(layer, dtype):
    """x_b over [-5, 5], the spline's knots and their float neighbours, and the tails out to
    1e3, for 35 conditioning values x_a out to 1e3 (which saturate the network's outputs)."""
    rows = []
    for x_a in np.concatenate([np.linspace(-3.0, 3.0, 31), [-1e3, -100.0, 100.0, 1e3]]):
        x_b = [np.linspace(-5.0, 5.0, 401),
               [-1e3, -100.0, -10.0, -3.0001, 3.0001, 10.0, 100.0, 1e3]]
        if isinstance(layer.map, ts.RationalQuadraticMap):
            params = tf.split(layer.network(tf.constant([[x_a]], dtype)),
                              layer.params_per_element, axis=-1)
            widths = layer.map.bins(params)[0].numpy()[0, 0]
            knots = (-layer.map.bound + np.concatenate([[0.0], np.cumsum(widths)])).astype(dtype)
            x_b += [knots, np.nextafter(knots, knots + 1), np.nextafter(knots, knots - 1)]
        x_b = np.concatenate(x_b).astype(dtype)
        rows.append(np.stack([np.full_like(x_b, x_a), x_b], axis=1))
    return np.concatenate(rows)


@pytest.mark.parametrize("weight_scale", [1.0, 3.0])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("map_", [ts.RationalQuadraticMap(), ts.LogisticMixtureMap()],
                         ids=["spline", "mixture"])
def test_inversions_are_accurate_to_the_stated_tolerance(map_, dtype, weight_scale):
    eps = STATED_EPS[dtype]
    for seed in range(3):
        layer = sharp_coupling(map_, dtype, seed, weight_scale)
        x = accuracy_grid(layer, dtype)
        z, _ = layer.inverse_and_log_det(x)
        x_hat, v_hat = layer.forward_and_log_det(z)
        z_again = layer.inverse(x_hat)
        # the least g' on 33 points from x to x_hat
        t = np.linspace(0.0, 1.0, 33)
        between = x[:, 1:] + (x_hat.numpy()[:, 1:] - x[:, 1:]) * t
        points = np.stack([np.repeat(x[:, 0], len(t)), between.ravel()], axis=1).astype(dtype)
        # in 16 chunks: one batch of all 500,000 points would hold about 0.6 GB at once
        v_between = np.concatenate([layer.inverse_and_log_det(chunk)[1].numpy()
                                    for chunk in np.array_split(points, 16)])
        least = np.exp(v_between.astype(np.float64).reshape(len(x), len(t))).min(1)
        x_b, z_b, x_hat_b, z_again_b = (np.asarray(a, np.float64)[:, 1]
                                        for a in (x, z, x_hat, z_again))
        slope_hat = np.exp(v_hat.numpy().astype(np.float64))
        np.testing.assert_array_less(
            np.abs(z_again_b - z_b), eps * (1 + np.abs(z_b) + slope_hat * (1 + np.abs(x_hat_b))))
        with np.errstate(divide="ignore"):
            bound = eps * (1 + np.abs(x_b)) + eps * (1 + np.abs(z_b)) / least
        np.testing.assert_array_less(np.abs(x_hat_b - x_b), bound)


@pytest.mark.parametrize("iaf", [False, True])
def test_autoregressive_jacobian_is_triangular(iaf):
    keras.utils.set_random_seed(4)
    layer = perturbed(ts.MaskedAutoregressive(inverse_autoregressive=iaf, hidden_units=[16],
                                              dtype="float64"), np.zeros([1, 5]), 0.5)
    x = tf.constant(np.random.RandomState(1).randn(3, 5))
    with tf.GradientTape() as tape:
        tape.watch(x)
        z = layer.inverse(x)
    jac = tape.batch_jacobian(z, x).numpy()
    np.testing.assert_allclose(np.triu(jac, 1), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.log(np.abs(np.linalg.det(jac))),
                               layer.inverse_and_log_det(x)[1], rtol=1e-10)


def test_made_masks_make_outputs_depend_on_earlier_inputs_only():
    made = ts.MADE(3, [7, 7], output_initializer="glorot_uniform")
    made.build((None, 4))
    x = tf.constant(np.random.RandomState(2).randn(2, 4), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = made(x)
    jac = tape.batch_jacobian(out, x).numpy()[0]  # [12, 4]
    for p in range(3):
        block = jac[p * 4:(p + 1) * 4]
        np.testing.assert_array_equal(np.triu(block) != 0, np.zeros((4, 4), bool))
        assert np.any(np.tril(block, -1) != 0)


@pytest.mark.parametrize("build", [
    lambda: ts.architectures.neural_spline_flow(2, num_layers=2, hidden_units=[16], num_bins=4),
    lambda: ts.architectures.masked_autoregressive_flow(2, num_layers=2, hidden_units=[16],
                                                        transformer="spline", num_bins=4),
    lambda: ts.architectures.masked_autoregressive_flow(2, num_layers=2, hidden_units=[16]),
])
def test_builder_densities_integrate_to_one(build):
    keras.utils.set_random_seed(5)
    flow = build()
    rng = np.random.RandomState(6)
    for w in flow.trainable_weights:
        w.assign(w + 0.3 * rng.randn(*w.shape).astype("float32"))
    points, area = grid_2d(-9.0, 9.0, 600)
    total = np.exp(batched(flow.log_prob, points)).sum() * area
    assert total == pytest.approx(1.0, abs=5e-3)


def test_conditional_builders():
    flow = ts.architectures.neural_spline_flow(3, num_layers=2, hidden_units=[8],
                                               condition_size=2)
    x, c = np.zeros([4, 3], "float32"), np.ones([4, 2], "float32")
    assert flow.log_prob(x, condition=c).shape == (4,)
    assert flow.sample(4, seed=(1, 2), condition=c).shape == (4, 3)
    with pytest.raises(ValueError, match="condition"):
        flow.log_prob(x)
    maf = ts.architectures.masked_autoregressive_flow(1, num_layers=2, hidden_units=[8])
    assert maf.log_prob(np.zeros([2, 1], "float32")).shape == (2,)


def test_linear_lu_takes_vectors_only():
    with pytest.raises(ValueError, match="vectors"):
        ts.LinearLU().build((None, 4, 4, 2))


def test_logistic_mixture_coupling_starts_as_the_identity_and_inverts_by_bisection():
    x = np.random.RandomState(7).randn(64, 4) * 3.0
    identity = ts.LogisticMixtureCoupling(num_components=3, dtype="float64")
    z, v = identity.inverse_and_log_det(x)
    np.testing.assert_allclose(z, x, atol=1e-12)
    np.testing.assert_allclose(v, 0.0, atol=1e-12)
    keras.utils.set_random_seed(8)
    layer = perturbed(ts.LogisticMixtureCoupling(hidden_units=[8], num_components=3,
                                                 dtype="float64"), x, 0.5)
    z, v = layer.inverse_and_log_det(x)
    x_again, v_again = layer.forward_and_log_det(z)
    np.testing.assert_allclose(x_again, x, atol=1e-9)  # 60 halvings of the bracket
    np.testing.assert_allclose(v_again, v, atol=1e-9)


def test_logistic_mixture_sampling_has_the_implicit_gradient():
    keras.utils.set_random_seed(9)
    layer = perturbed(ts.LogisticMixtureCoupling(hidden_units=[8], num_components=2,
                                                 dtype="float64"), np.zeros([1, 2]), 0.7)
    z = tf.constant(np.random.RandomState(1).randn(8, 2))
    variable = layer.network.weights[0]

    def statistic():
        return tf.reduce_sum(tf.sin(layer.forward(z)))

    with tf.GradientTape() as tape:
        value = statistic()
    grad = tape.gradient(value, variable).numpy()
    original, h = variable.numpy(), 1e-6
    bumped = original.copy()
    bumped[0, 0] += h
    variable.assign(bumped)
    up = float(statistic())
    bumped[0, 0] -= 2 * h
    variable.assign(bumped)
    down = float(statistic())
    variable.assign(original)
    np.testing.assert_allclose(grad[0, 0], (up - down) / (2 * h), rtol=1e-5, atol=1e-9)


def test_batch_normalization_uses_batch_statistics_in_training_and_running_ones_after():
    layer = ts.BatchNormalization(momentum=0.5, dtype="float64")
    x = np.random.RandomState(3).randn(100, 3) * [1.0, 2.0, 3.0] + [1.0, -1.0, 0.5]
    z, v = layer.inverse_and_log_det(x, training=True)
    np.testing.assert_allclose(z.numpy().mean(0), 0.0, atol=1e-10)
    np.testing.assert_allclose(z.numpy().std(0), 1.0, atol=1e-4)
    np.testing.assert_allclose(v, np.full(100, -0.5 * np.log(x.var(0) + 1e-5).sum()),
                               rtol=1e-10)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.5 * x.mean(0), rtol=1e-10)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.5 + 0.5 * x.var(0), rtol=1e-10)
    # Evaluation uses the running statistics and leaves them alone.
    z_eval, v_eval = layer.inverse_and_log_det(x[:5])
    expected = (x[:5] - 0.5 * x.mean(0)) / np.sqrt(0.5 + 0.5 * x.var(0) + 1e-5)
    np.testing.assert_allclose(z_eval, expected, rtol=1e-10)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.5 * x.mean(0), rtol=1e-10)
    np.testing.assert_allclose(layer.forward(z_eval), x[:5], rtol=1e-10)
