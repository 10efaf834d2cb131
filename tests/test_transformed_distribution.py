"""TransformedDistribution: a SurVAE flow as a real tfd.Distribution, composed with TFP."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_survae as ts

tfb = tfp.bijectors
tfd = tfp.distributions


def make_flow():
    tf.keras.utils.set_random_seed(7)
    return ts.Flow(
        ts.StandardNormal([2]),
        [ts.AffineCoupling(ts.MLP([8], 2, output_initializer="glorot_uniform")), ts.Reverse()],
    )


def test_view_of_a_flow_matches_it():
    flow = make_flow()
    dist = flow.as_distribution()
    assert isinstance(dist, tfd.Distribution)
    assert dist.event_shape == (2,) and dist.batch_shape == ()
    x = np.random.randn(4, 3, 2).astype("float32")
    log_p = dist.log_prob(x)
    assert log_p.shape == (4, 3)
    np.testing.assert_allclose(log_p.numpy().ravel(), flow.log_prob(x.reshape(12, 2)), rtol=1e-6)
    assert dist.sample([2, 5], seed=(1, 2)).shape == (2, 5, 2)
    assert dist.is_exact
    # Training the flow changes the view too: it reads live variables.
    flow.trainable_weights[0].assign(flow.trainable_weights[0] * 2.0)
    np.testing.assert_allclose(dist.log_prob(x[0]), flow.log_prob(x[0]), rtol=1e-6)


def stochastic_flow():
    """Slice's forward samples its decoder; Augment's inverse samples its encoder."""
    keras.utils.set_random_seed(4)
    return ts.Flow(ts.StandardNormal([3]), [
        ts.Slice(2, decoder=ts.ConditionalNormal([1], ts.MLP([8], 2))),
        ts.Augment(1, encoder=ts.ConditionalNormal([1], ts.MLP([8], 2))),
        ts.AffineCoupling(ts.MLP([8], 4, output_initializer="glorot_uniform")),
    ], event_shape=[3])


@pytest.mark.parametrize("seed", [(1, 2), (-7, 2**31 - 1)])
def test_one_seed_gives_the_same_draws_on_every_path(seed, tmp_path):
    flow = stochastic_flow()
    dist = flow.as_distribution()
    served = tf.saved_model.load(flow.export(str(tmp_path / "m")))
    n, pair = tf.constant(5), tf.constant(seed, tf.int32)
    x = flow.sample(5, seed=seed)
    np.testing.assert_array_equal(dist.sample(5, seed=seed), x)
    np.testing.assert_array_equal(flow.sample_and_log_prob(5, seed=seed)[0], x)
    np.testing.assert_array_equal(dist.experimental_sample_and_log_prob(5, seed=seed)[0], x)
    np.testing.assert_allclose(flow.sample_function(jit_compile=False)(n, pair), x, rtol=1e-6,
                               atol=1e-6)
    np.testing.assert_allclose(flow.sample_function()(n, pair), x, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(served.sample(n, pair), x, rtol=1e-5, atol=1e-5)
    # A lower-bound flow's log_prob with a seed.
    assert not flow.is_exact
    data = np.random.RandomState(3).randn(6, 3).astype("float32")
    log_p = flow.log_prob(data, seed=seed)
    assert not np.allclose(log_p, flow.log_prob(data, seed=(5, 5)))  # the seed matters
    np.testing.assert_array_equal(dist.log_prob(data, seed=seed), log_p)
    np.testing.assert_allclose(flow.log_prob_function(with_seed=True)(data, pair), log_p,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(served.log_prob_with_seed(data, pair), log_p, rtol=1e-5,
                               atol=1e-5)


def test_base_with_a_batch_shape():
    loc = np.array([[0.0, 1.0], [2.0, -1.0], [-3.0, 0.5]], "float32")
    base = tfd.Independent(tfd.Normal(loc, 1.0), 1)  # batch [3], event [2]
    dist = ts.TransformedDistribution(base, [ts.BijectorTransform(tfb.Scale(2.0)), ts.Reverse()])
    assert dist.batch_shape == (3,) and dist.event_shape == (2,)
    x = np.random.randn(5, 3, 2).astype("float32")
    expected = base.log_prob(x[..., ::-1] / 2.0) - 2 * np.log(2.0)
    np.testing.assert_allclose(dist.log_prob(x), expected, rtol=1e-5)
    assert dist.sample(4, seed=(3, 3)).shape == (4, 3, 2)


def test_inside_independent():
    base = tfd.Independent(tfd.Normal(tf.zeros([3, 2]), 1.0), 1)
    dist = ts.TransformedDistribution(base, [ts.BijectorTransform(tfb.Shift(1.0))])
    joint = tfd.Independent(dist, reinterpreted_batch_ndims=1)
    assert joint.event_shape == (3, 2) and joint.batch_shape == ()
    x = np.random.randn(4, 3, 2).astype("float32")
    np.testing.assert_allclose(joint.log_prob(x), tf.reduce_sum(dist.log_prob(x), -1), rtol=1e-6)
    assert joint.sample(2, seed=(1, 1)).shape == (2, 3, 2)


def test_inside_sample():
    dist = make_flow().as_distribution()
    iid = tfd.Sample(dist, sample_shape=4)
    x = iid.sample(3, seed=(5, 5))
    assert x.shape == (3, 4, 2)
    np.testing.assert_allclose(iid.log_prob(x), tf.reduce_sum(dist.log_prob(x), -1), rtol=1e-5)


def test_inside_joint_distribution_sequential():
    dist = make_flow().as_distribution()
    model = tfd.JointDistributionSequential(
        [dist, lambda x: tfd.Normal(tf.reduce_sum(x, -1), 0.5)]
    )
    x, y = model.sample(6, seed=(2, 3))
    assert x.shape == (6, 2) and y.shape == (6,)
    expected = dist.log_prob(x) + tfd.Normal(tf.reduce_sum(x, -1), 0.5).log_prob(y)
    np.testing.assert_allclose(model.log_prob([x, y]), expected, rtol=1e-5)


def test_surjective_and_discrete_views():
    dist = ts.TransformedDistribution(ts.StandardUniform([2]), [ts.UniformDequantization(4)])
    assert dist.dtype == tf.int32 and not dist.is_exact
    sample = dist.sample(100, seed=(0, 0))
    assert sample.dtype == tf.int32
    assert np.all((sample.numpy() >= 0) & (sample.numpy() < 4))
    # Uniform base on [0,1)^2 and uniform dequantization: every cell has mass 1/16 (the bound
    # is tight but for the 4 K machine-epsilon margin of u, about 2e-6 nats here).
    log_p = dist.log_prob(sample[:5]).numpy()
    np.testing.assert_allclose(log_p, np.full(5, -np.log(16.0)), atol=1e-5)
    assert np.all(log_p <= -np.log(16.0))
    sliced = ts.TransformedDistribution(tfd.MultivariateNormalDiag(tf.zeros(1)), [ts.Slice(1)],
                                        event_shape=[3])
    assert sliced.event_shape == (3,) and sliced.is_exact


def test_rejects_a_non_distribution_base():
    with pytest.raises(TypeError, match="base"):
        ts.TransformedDistribution(np.zeros(2), [])
