"""Sampling at a temperature: the same draws at t = 1, the same numbers in every sampler, and a
clear refusal where it is undefined. (Its statistics: test_ground_truth_flow_families.py.)"""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_survae as ts

tfd = tfp.distributions


def flow_with(base, transforms=None):
    keras.utils.set_random_seed(0)
    return ts.Flow(base, transforms if transforms is not None else
                   [ts.AffineCoupling(ts.MLP([8], 2), scale_fn="exp"), ts.Reverse(),
                    ts.RationalQuadraticCoupling(hidden_units=[8])])


GAUSSIAN_BASES = {
    "standard_normal": lambda: ts.StandardNormal([2]),
    "diagonal_normal": lambda: ts.DiagonalNormal([2]),
    "tfd_mvn": lambda: tfd.MultivariateNormalDiag([1.0, -1.0], [2.0, 0.5]),
    "tfd_independent_normal": lambda: tfd.Independent(tfd.Normal([0.5, 0.0], [1.0, 3.0]), 1),
}


@pytest.mark.parametrize("base", list(GAUSSIAN_BASES))
def test_temperature_one_draws_bit_for_bit_what_sample_draws(base):
    flow = flow_with(GAUSSIAN_BASES[base]())
    for layer in flow.chain:  # move the couplings off the identity
        for w in layer.trainable_weights:
            w.assign(tf.random.stateless_normal(w.shape, (1, 2)))
    x = flow.sample(64, seed=(3, 4)).numpy()
    np.testing.assert_array_equal(flow.sample(64, seed=(3, 4), temperature=1.0), x)
    np.testing.assert_array_equal(flow.sample(64, seed=(3, 4), temperature=1), x)
    np.testing.assert_array_equal(flow.sample(64, seed=(3, 4), temperature=tf.constant(1.0)),
                                  x)
    view = flow.as_distribution()
    np.testing.assert_array_equal(view.sample(64, seed=(3, 4), temperature=1.0), x)
    hot = flow.sample(64, seed=(3, 4), temperature=0.5).numpy()
    assert not np.allclose(hot, x)
    np.testing.assert_allclose(view.sample(64, seed=(3, 4), temperature=0.5), hot, rtol=1e-6)
    np.testing.assert_allclose(
        tf.function(lambda: flow.sample(64, seed=(3, 4), temperature=0.5))(), hot,
        rtol=1e-5, atol=1e-6)


def test_the_served_endpoint_samples_at_a_temperature(tmp_path):
    flow = flow_with(ts.DiagonalNormal([2]))
    flow.chain[0].trainable_weights[0].assign(
        tf.random.stateless_normal(flow.chain[0].trainable_weights[0].shape, (1, 2)))
    loaded = tf.saved_model.load(flow.export(str(tmp_path / "m")))
    seed = tf.constant([3, 4], tf.int32)
    np.testing.assert_array_equal(
        loaded.sample_with_temperature(tf.constant(50), seed, tf.constant(1.0)),
        loaded.sample(tf.constant(50), seed))
    np.testing.assert_allclose(
        loaded.sample_with_temperature(tf.constant(50), seed, tf.constant(0.3)),
        flow.sample(50, seed=(3, 4), temperature=0.3), rtol=1e-5, atol=1e-6)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match="sample_with_temperature: temperature must be finite and > 0"):
            loaded.sample_with_temperature(tf.constant(5), seed, tf.constant(bad))
    with pytest.raises(tf.errors.InvalidArgumentError, match="temperature must be a scalar"):
        loaded.sample_with_temperature(tf.constant(5), seed, tf.constant([1.0, 2.0]))


def test_no_temperature_endpoint_where_it_is_undefined(tmp_path):
    flow = flow_with(ts.StandardUniform([2]), [ts.Reverse()])
    loaded = tf.saved_model.load(flow.export(str(tmp_path / "m")))
    assert hasattr(loaded, "sample") and not hasattr(loaded, "sample_with_temperature")


@pytest.mark.parametrize("base", [lambda: ts.StandardUniform([2]),
                                  lambda: ts.StandardLogistic([2]),
                                  lambda: tfd.Sample(tfd.Laplace(0.0, 1.0), 2)])
def test_temperature_is_refused_for_a_base_that_is_not_gaussian(base):
    flow = flow_with(base(), [ts.Reverse()])
    flow.sample(3, seed=(1, 2), temperature=1.0)  # t = 1 is always fine
    with pytest.raises(ValueError, match=r"temperature scales the spread of a Gaussian base.*"
                                         r"undefined for a base"):
        flow.sample(3, seed=(1, 2), temperature=0.5)
    with pytest.raises(ValueError, match="undefined for a base"):
        flow.as_distribution().sample(3, seed=(1, 2), temperature=0.5)


def test_a_slice_draws_its_dropped_part_at_the_temperature():
    """The default decoder is a standard normal: every coordinate is the t = 1 draw times t."""
    flow = ts.Flow(ts.StandardNormal([1]), [ts.Slice(1)], event_shape=[2])
    warm = flow.sample(100, seed=(1, 2)).numpy()
    np.testing.assert_allclose(flow.sample(100, seed=(1, 2), temperature=0.3), 0.3 * warm,
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(flow.as_distribution().sample(100, seed=(1, 2),
                                                             temperature=0.3), 0.3 * warm,
                               rtol=1e-6, atol=1e-7)


def test_a_slice_with_a_learned_normal_decoder_is_tempered_around_its_mean():
    keras.utils.set_random_seed(0)
    decoder = ts.ConditionalNormal([2], ts.MLP([4], 4))
    flow = ts.Flow(ts.StandardNormal([1]), [ts.Slice(1, decoder=decoder)], event_shape=[3])
    warm = flow.sample(200, seed=(1, 2)).numpy()
    cold = flow.sample(200, seed=(1, 2), temperature=0.2).numpy()
    np.testing.assert_allclose(cold[:, :1], 0.2 * warm[:, :1], rtol=1e-6, atol=1e-7)
    def standardized(x):  # the decoder's noise: (x2 - mu(z)) / sigma(z), z = x[:, :1]
        normal = decoder.distribution(x[:, :1])
        return (x[:, 1:] - normal.mean().numpy()) / normal.stddev().numpy()

    np.testing.assert_allclose(standardized(cold), 0.2 * standardized(warm), rtol=1e-4,
                               atol=1e-5)


def test_glow_samples_every_latent_at_the_temperature():
    keras.utils.set_random_seed(0)
    flow = ts.architectures.glow([4, 4, 1], num_scales=2, num_steps=1, hidden_channels=4)
    for w in flow.trainable_weights:  # off the zero initialisation of the priors
        w.assign(w + tf.random.stateless_normal(w.shape, (1, 2), stddev=0.1, dtype=w.dtype))
    assert not np.allclose(flow.sample(4, seed=(1, 2)), flow.sample(4, seed=(3, 4)), atol=1e-2)
    # near t = 0 every draw sits at its mean: two seeds give almost the same images
    np.testing.assert_allclose(flow.sample(4, seed=(1, 2), temperature=1e-5),
                               flow.sample(4, seed=(3, 4), temperature=1e-5), atol=1e-3)


def test_temperature_is_refused_where_transforms_draw_noise_that_is_not_normal():
    flow = ts.Flow(ts.StandardNormal([2]), [ts.Abs()])  # a random sign in the forward
    flow.sample(3, seed=(1, 2), temperature=1.0)
    with pytest.raises(ValueError, match=r"Abs 'abs.*' draws noise in the forward direction "
                                         r"that it cannot scale \(its tempered_forward is False"):
        flow.sample(3, seed=(1, 2), temperature=0.5)


@pytest.mark.parametrize("value,error,message", [
    (0.0, ValueError, r"temperature must be a finite number > 0.*received 0\.0"),
    (-2, ValueError, r"received -2"),
    (float("nan"), ValueError, r"received nan"),
    (float("inf"), ValueError, r"received inf"),
    ("hot", TypeError, r"temperature must be a number > 0; received str: 'hot'"),
    (True, TypeError, r"received bool: True"),
    (None, TypeError, r"received NoneType: None"),
    (tf.constant(1), TypeError, r"temperature must be a float scalar; received a int32"),
    (tf.constant([1.0, 2.0]), TypeError, r"float scalar; received a float32 tensor of shape"),
])
def test_bad_temperatures_are_refused_naming_them(value, error, message):
    flow = flow_with(ts.StandardNormal([2]))
    with pytest.raises(error, match=message):
        flow.sample(2, seed=(1, 2), temperature=value)
    with pytest.raises(error, match=message):
        flow.as_distribution().sample(2, seed=(1, 2), temperature=value)


def test_a_conditional_gaussian_base_is_tempered_around_its_mean():
    keras.utils.set_random_seed(0)
    base = ts.ConditionalNormal([2], ts.MLP([4], 4))
    flow = ts.Flow(base, [ts.Reverse()], condition_shape=[3])
    condition = np.tile(np.array([[0.3, -1.0, 2.0]], np.float32), [4000, 1])
    mean = base.distribution(condition[:1]).mean().numpy()[0]
    cold = flow.sample(4000, seed=(1, 2), condition=condition, temperature=0.1).numpy()
    warm = flow.sample(4000, seed=(1, 2), condition=condition).numpy()
    np.testing.assert_allclose(cold - mean[::-1], 0.1 * (warm - mean[::-1]), rtol=1e-4,
                               atol=1e-5)
