"""Bijections refuse networks of the wrong width, initialise from training data only, and
size their default networks to the data."""


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
