"""Bijections refuse networks of the wrong width (and, for autoregressive layers, networks
that are not autoregressive), refuse arguments and conditions they cannot use, initialise from
training data only, and size their default networks to the data."""


import keras
import numpy as np
import pytest
import tensorflow as tf

import tfp_survae as ts


def jacobian_log_det(transform, x):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        z = transform.inverse(x)
    jac = tape.batch_jacobian(z, x).numpy()
    return np.log(np.abs(np.linalg.det(jac)))


# A coupling network of the wrong width is refused when the layer is built.


@pytest.mark.parametrize("width", [2, 3, 8])
def test_coupling_network_of_the_wrong_width_is_refused(width):
    with pytest.raises(ValueError, match=r"coupling network .*outputs of shape \[None, 4\].*"
                                         r"output width to 4"):
        ts.Flow(ts.StandardNormal([4]), [ts.AffineCoupling(ts.MLP([8], width), num_identity=2)])


def test_coupling_network_of_the_right_width_gives_the_true_log_det():
    keras.utils.set_random_seed(0)
    coupling = ts.AffineCoupling(ts.MLP([8], 4, output_initializer="glorot_uniform"),
                                 num_identity=2, dtype="float64")
    x = np.random.RandomState(0).randn(3, 4)
    _, v = coupling.inverse_and_log_det(x)
    np.testing.assert_allclose(v, jacobian_log_det(coupling, x), rtol=1e-10)


def test_image_coupling_network_width_is_checked():
    net = keras.Sequential([keras.layers.Conv2D(3, 3, padding="same")])
    with pytest.raises(ValueError, match="output width to 4"):
        ts.AffineCoupling(net, mask="checkerboard").build((None, 4, 4, 2))


# ActNorm initialises only from training data, with at least 2 examples.


def actnorm_flow():
    return ts.Flow(ts.StandardNormal([2]), [ts.ActNorm()])


@pytest.mark.parametrize("batch,message", [(0, "empty batch"), (1, "at least 2 examples")])
def test_actnorm_refuses_to_initialise_from_fewer_than_two_examples(batch, message):
    flow = actnorm_flow()
    with pytest.raises(ValueError, match=message):
        flow.initialize(np.ones([batch, 2], "float32"))
    assert flow.chain[0].needs_initialization


def test_actnorm_never_initialises_in_evaluation_or_serving(tmp_path):
    flow = actnorm_flow()
    x = np.random.RandomState(0).randn(8, 2).astype("float32") * 5 + 3
    # An uninitialised ActNorm is the identity, whatever it is shown and in any order.
    reference = ts.StandardNormal([2]).log_prob(x)
    np.testing.assert_allclose(flow.log_prob(x), reference, rtol=1e-6)
    np.testing.assert_allclose(flow.log_prob(x[:1] * 100), ts.StandardNormal([2]).log_prob(
        x[:1] * 100), rtol=1e-6)
    assert flow.chain[0].needs_initialization
    served = tf.saved_model.load(flow.export(str(tmp_path / "m")))
    first = served.log_prob(tf.constant(x[:2] * 1000)).numpy()
    np.testing.assert_allclose(served.log_prob(tf.constant(x)), reference, rtol=1e-6)
    np.testing.assert_allclose(served.log_prob(tf.constant(x[:2] * 1000)), first)
    flow.compile(keras.optimizers.Adam(1e-3))
    flow.evaluate(x, verbose=0)
    assert flow.chain[0].needs_initialization
    # Training data does initialise it.
    flow.initialize(x)
    z = flow.chain[0].inverse(x).numpy()
    np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(z.std(0, ddof=1), 1.0, atol=1e-4)


# Default networks scale with the image.


def test_default_checkerboard_coupling_scales_with_the_image():
    small = ts.Flow(ts.StandardNormal([4, 4, 1]), [ts.AffineCoupling(mask="checkerboard")])
    large = ts.AffineCoupling(mask="checkerboard")
    large.build((None, 32, 32, 3))
    assert small.count_params() < 50_000
    assert large.count_params() > 3_000_000  # the paper's network at 32 x 32


# Couplings and autoregressive layers check their arguments, their networks and their data.


@pytest.mark.parametrize("make,message", [
    (lambda: ts.RationalQuadraticMap(bound=0), r"bound must be a real number in \(0, inf\); "
                                               r"received 0"),
    (lambda: ts.RationalQuadraticMap(bound=-3), r"bound .*received -3"),
    (lambda: ts.RationalQuadraticMap(min_bin_width=2), r"min_bin_width .*\(0, 0\.75\); "
                                                       r"received 2"),
    (lambda: ts.RationalQuadraticMap(min_slope=0), r"min_slope .*\(0, 1\); received 0"),
    (lambda: ts.RationalQuadraticMap(min_slope=2), r"min_slope .*\(0, 1\); received 2"),
    (lambda: ts.RationalQuadraticMap(num_bins=1), r"num_bins must be an integer >= 2; "
                                                  r"received 1"),
    (lambda: ts.RationalQuadraticMap(num_bins=2.5), r"num_bins .*received float: 2\.5"),
    (lambda: ts.AffineMap(scale_bound=0), r"scale_bound must be a real number in \(0, inf\); "
                                          r"received 0"),
    (lambda: ts.AffineMap(scale_fn="softmax"), r"scale_fn must be one of .*'tanh_exp'.*"
                                               r"received 'softmax'"),
    (lambda: ts.LogisticMixtureMap(num_components=0), r"num_components .*>= 1; received 0"),
    (lambda: ts.LogisticMixtureMap(num_components=2.0), r"num_components .*received float"),
    (lambda: ts.LogisticMixtureMap(bisection_steps=0), r"bisection_steps .*>= 1; received 0"),
    (lambda: ts.LogisticMixtureMap(bisection_steps=1.5), r"bisection_steps .*received float"),
    # the same checks for couplings and autoregressive layers, made by the maps
    (lambda: ts.RationalQuadraticCoupling(min_slope=2), r"min_slope .*received 2"),
    (lambda: ts.RationalQuadraticCoupling(bound=0), r"bound .*received 0"),
    (lambda: ts.AffineCoupling(scale_bound=0), r"scale_bound .*received 0"),
    (lambda: ts.LogisticMixtureCoupling(num_components=1.5), r"num_components .*received"),
    (lambda: ts.MaskedAutoregressive(map=ts.RationalQuadraticMap(min_bin_width=2)),
     r"min_bin_width .*received 2"),
])
def test_spline_and_scale_settings_are_refused_with_what_was_expected(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


@pytest.mark.parametrize("make,message", [
    (lambda: ts.Coupling(map="affine"), r"map must be an ElementwiseMap .*received str: "
                                        r"'affine'"),
    (lambda: ts.Coupling(map=ts.AffineMap), r"the class AffineMap\. Pass map=AffineMap\(\.\.\.\)"),
    (lambda: ts.MaskedAutoregressive(map=ts.RationalQuadraticMap), r"map=RationalQuadraticMap"),
    (lambda: ts.Coupling(hidden_units=(0,)), r"hidden_units .*integers >= 1; received \[0\]"),
    (lambda: ts.Coupling(network="mlp"), r"network must be a Keras layer .*'mlp'"),
    (lambda: ts.Coupling(num_identity=0), r"num_identity .*>= 1; received 0"),
    (lambda: ts.Coupling(condition_shape=[0]), r"condition_shape .*received \[0\]"),
    (lambda: ts.MaskedAutoregressive(hidden_units=(0,)), r"hidden_units .*received \[0\]"),
    (lambda: ts.MaskedAutoregressive(hidden_units=()), r"hidden_units .*at least one"),
    (lambda: ts.MaskedAutoregressive(inverse_autoregressive="yes"),
     r"inverse_autoregressive must be True or False; received str: 'yes'"),
    (lambda: ts.MADE(2, (0,)), r"hidden_units .*integers >= 1; received \[0\]"),
    (lambda: ts.MADE(0, (8,)), r"params_per_dim .*>= 1; received 0"),
])
def test_coupling_and_autoregressive_arguments_are_refused_with_what_was_expected(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


@pytest.mark.parametrize("layer", [ts.AffineCoupling(), ts.Coupling(
    map=ts.RationalQuadraticMap()), ts.LogisticMixtureCoupling(num_identity=1)])
def test_a_coupling_on_one_dimension_says_it_needs_two(layer):
    with pytest.raises(ValueError, match=r"a coupling needs at least 2 entries on the split axis "
                                         r"-1 .*received event shape \[1\]"):
        layer.inverse_and_log_det(np.zeros([2, 1], "float32"))


def test_a_conditional_autoregressive_layer_checks_its_network_width():
    # MADE(4, ...) gives 4 outputs per dimension; the affine map takes 2 (z was [3, 2] before).
    layer = ts.MaskedAutoregressive(ts.MADE(4, [8]), condition_shape=[2])
    with pytest.raises(ValueError, match=r"outputs of shape \[None, 2\]; it gives \[None, 4\]"):
        layer.inverse_and_log_det(np.zeros([3, 1], "float32"), condition=np.ones([3, 2],
                                                                                 "float32"))


def test_an_autoregressive_layer_checks_the_condition_of_its_made():
    made = ts.MADE(2, [8])
    made.build((None, 3))  # built without a condition
    with pytest.raises(ValueError, match=r"the MADE was built for condition_shape=None, the "
                                         r"layer for condition_shape=\[2\]"):
        ts.MaskedAutoregressive(made, condition_shape=[2]).build((None, 3))


@pytest.mark.parametrize("output_initializer", ["glorot_uniform", "zeros"])
def test_an_autoregressive_layer_refuses_a_network_that_is_not_autoregressive(
        output_initializer):
    # A zero output layer hides the structure at build; the check probes a random copy.
    network = ts.MLP([8], 6, output_initializer=output_initializer)
    with pytest.raises(ValueError, match=r"'mlp\w*' is not masked autoregressive: the "
                                         r"parameters of dimension 1 depend on x_1 \(they may "
                                         r"depend on no entry of x\)"):
        ts.MaskedAutoregressive(network).build((None, 3))


class WrappedMADE(keras.layers.Layer):
    """An autoregressive network that is not a MADE (it holds one)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.made = ts.MADE(2, [8], output_initializer="glorot_uniform", dtype=self.dtype_policy)

    def build(self, input_shape):
        self.made.build(input_shape)

    def call(self, x):
        return self.made(x)


def test_an_autoregressive_network_that_is_not_a_made_is_accepted():
    keras.utils.set_random_seed(3)
    layer = ts.MaskedAutoregressive(WrappedMADE(dtype="float64"), dtype="float64")
    x = np.random.RandomState(0).randn(4, 3)
    _, v = layer.inverse_and_log_det(x)
    np.testing.assert_allclose(v, jacobian_log_det(layer, x), rtol=1e-10)


@pytest.mark.parametrize("condition,message", [
    (np.ones([4, 3], "float32"), r"expected a condition of shape \[4, 2\] .*received shape "
                                 r"\[4, 3\]"),
    (np.ones([5, 2], "float32"), r"expected a condition of shape \[4, 2\] .*received shape "
                                 r"\[5, 2\]"),
    (None, r"built for a condition of shape \[2\]; received condition=None"),
])
def test_made_says_what_condition_it_expected(condition, message):
    made = ts.MADE(2, [8])
    made.build((None, 3), [2])
    with pytest.raises(ValueError, match=message):
        made(np.zeros([4, 3], "float32"), condition=condition)


def test_a_conditional_autoregressive_layer_says_what_condition_it_expected():
    layer = ts.MaskedAutoregressive(hidden_units=[8], condition_shape=[2])
    with pytest.raises(ValueError, match=r"expected condition of shape \[4, 2\] .*received "
                                         r"shape \[4, 3\]"):
        layer.inverse_and_log_det(np.zeros([4, 3], "float32"), condition=np.ones([4, 3],
                                                                                 "float32"))
