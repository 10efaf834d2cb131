"""A flow as a first-class TFP citizen: variables, reparameterization, batch shapes, bijector."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_survae as ts

tfb = tfp.bijectors
tfd = tfp.distributions


def coupling_flow(dtype="float32", seed=3):
    keras.utils.set_random_seed(seed)
    net = lambda: ts.MLP([8], 2, activation="tanh", output_initializer="glorot_uniform",  # noqa
                         dtype=dtype)
    return ts.Flow(ts.StandardNormal([2], dtype=dtype),
                   [ts.AffineCoupling(net()), ts.Reverse(), ts.AffineCoupling(net())],
                   dtype=dtype)


def ids(variables):
    return sorted(id(v) for v in variables)


def backing(flow_variables):
    return [v.value for v in flow_variables]


# ------------------------------------------------------------------------------------------------
# 1. Variables.


def test_view_exposes_exactly_the_flow_variables_and_stays_live():
    flow = coupling_flow()
    dist = flow.as_distribution()
    assert len(dist.trainable_variables) == len(flow.trainable_variables) == 8
    assert ids(dist.trainable_variables) == ids(backing(flow.trainable_variables))
    transform_vars = [v for t in flow.chain for v in t.variables]
    assert ids(dist.variables) == ids(backing(transform_vars))

    class Holder(tf.Module):
        def __init__(self, d):
            super().__init__()
            self.d = d

    assert len(Holder(dist).trainable_variables) == 8
    # Live both ways.
    x = np.random.RandomState(0).randn(5, 2).astype("float32")
    dist.trainable_variables[0].assign_add(tf.ones_like(dist.trainable_variables[0]))
    np.testing.assert_allclose(dist.log_prob(x), flow.log_prob(x), rtol=1e-6)
    flow.trainable_variables[1].assign(flow.trainable_variables[1] + 0.5)
    np.testing.assert_allclose(dist.log_prob(x), flow.log_prob(x), rtol=1e-6)


def test_tfp_math_minimize_trains_the_view_with_and_without_a_variable_list():
    x = np.random.RandomState(1).randn(64, 2).astype("float32") * [1.0, 0.3] + [1.0, -2.0]
    for explicit in (True, False):
        flow = coupling_flow()
        dist = flow.as_distribution()
        before = float(-tf.reduce_mean(flow.log_prob(x)))
        kwargs = {"trainable_variables": dist.trainable_variables} if explicit else {}
        tfp.math.minimize(lambda: -tf.reduce_mean(dist.log_prob(x)), num_steps=30,
                          optimizer=keras.optimizers.Adam(0.05), **kwargs)
        assert float(-tf.reduce_mean(flow.log_prob(x))) < before - 0.5


def test_fit_surrogate_posterior_trains_the_view_without_a_variable_list():
    target = tfd.MultivariateNormalDiag([1.0, -1.0], [0.5, 2.0])
    flow = coupling_flow()
    dist = flow.as_distribution()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "gradients may be biased" warning
        losses = tfp.vi.fit_surrogate_posterior(
            target.log_prob, surrogate_posterior=dist, optimizer=keras.optimizers.Adam(0.05),
            num_steps=150, sample_size=64, seed=(1, 2),
        )
    assert float(tf.reduce_mean(losses[-20:])) < 0.5 * float(losses[0])


# ------------------------------------------------------------------------------------------------
# 2. Reparameterization.


def test_reparameterization_type_is_computed_from_the_parts():
    full, none = tfd.FULLY_REPARAMETERIZED, tfd.NOT_REPARAMETERIZED
    assert coupling_flow().as_distribution().reparameterization_type == full
    # Fixed, uniform discrete choices hold no parameters.
    assert ts.Flow(ts.StandardHalfNormal([2]), [ts.Abs()]).as_distribution() \
        .reparameterization_type == full
    assert ts.Flow(ts.StandardNormal([2]), [ts.StochasticPermutation()]).reparameterized
    # A learned sign classifier in the forward direction is a discrete choice with parameters.
    learned = ts.Flow(ts.StandardHalfNormal([2]), [ts.Abs(classifier=ts.MLP([4], 2))])
    assert learned.as_distribution().reparameterization_type == none
    # Sampling a Bernoulli decoder, or rounding, is not differentiable.
    decoder = ts.ConditionalBernoulli([2], ts.MLP([4], 2))
    assert not ts.Flow(ts.StandardNormal([2]), [ts.Slice(2, decoder=decoder)],
                       event_shape=[4]).reparameterized
    assert ts.TransformedDistribution(ts.StandardUniform([2]), [ts.UniformDequantization(4)]) \
        .reparameterization_type == none
    # A Gaussian decoder samples by reparameterization; a non-reparameterized base is not.
    gauss = ts.ConditionalNormal([2], ts.MLP([4], 4))
    assert ts.Flow(ts.StandardNormal([2]), [ts.Slice(2, decoder=gauss)],
                   event_shape=[4]).reparameterized
    gamma = tfd.Independent(tfd.Gamma([2.0, 2.0], 1.0), 1)
    assert gamma.reparameterization_type == full  # implicit reparameterization
    assert ts.TransformedDistribution(
        tfd.Independent(tfd.Poisson([2.0, 3.0]), 1), []).reparameterization_type == none


@pytest.mark.parametrize("surjective", [False, True])
def test_sample_gradient_matches_finite_differences(surjective):
    """d/dtheta E[f(x)] through `sample` equals a central finite difference (float64)."""
    keras.utils.set_random_seed(5)
    transforms = [ts.AffineCoupling(ts.MLP([6], 2, activation="tanh",
                                           output_initializer="glorot_uniform",
                                           dtype="float64"), dtype="float64")]
    event = None
    if surjective:
        decoder = ts.ConditionalNormal([2], ts.MLP([6], 4, activation="tanh",
                                                   output_initializer="glorot_uniform",
                                                   dtype="float64"), dtype="float64")
        transforms = [ts.Abs(dtype="float64"), ts.Slice(2, decoder=decoder, dtype="float64"),
                      *transforms]
        event = [4]
    flow = ts.Flow(ts.StandardNormal([2], dtype="float64"), transforms, event_shape=event,
                   dtype="float64")
    dist = flow.as_distribution()
    assert dist.reparameterization_type == tfd.FULLY_REPARAMETERIZED

    def statistic():
        x = dist.sample(256, seed=(4, 2))
        return tf.reduce_mean(tf.sin(x) + x**2)

    for variable in dist.trainable_variables[:4]:
        with tf.GradientTape() as tape:
            value = statistic()
        grad = tape.gradient(value, variable)
        assert grad is not None
        index = (0,) * variable.shape.rank
        h = 1e-5
        original = variable.numpy()
        bumped = original.copy()
        bumped[index] += h
        variable.assign(bumped)
        up = float(statistic())
        bumped[index] -= 2 * h
        variable.assign(bumped)
        down = float(statistic())
        variable.assign(original)
        np.testing.assert_allclose(grad.numpy()[index], (up - down) / (2 * h), rtol=1e-5,
                                   atol=1e-8)


# ------------------------------------------------------------------------------------------------
# 3. Batch shapes like TFP.


def batched_view():
    loc = np.array([[0.0, 1.0, -1.0, 0.5], [2.0, -1.0, 0.0, 0.0], [-3.0, 0.5, 1.0, 2.0]],
                   "float32")
    base = tfd.Independent(tfd.Normal(loc, [1.0, 2.0, 0.5, 1.5]), 1)  # batch [3], event [4]
    transforms = [ts.BijectorTransform(tfb.Scale(2.0)), ts.Reverse()]
    return base, ts.TransformedDistribution(base, transforms), tfd.TransformedDistribution(
        base, tfb.Chain([tfb.Scale(2.0), tfb.Permute([3, 2, 1, 0])]))


def test_log_prob_broadcasts_against_the_batch_shape_like_tfp():
    _, dist, reference = batched_view()
    rng = np.random.RandomState(2)
    for shape, expected_shape in [((7, 1, 4), (7, 3)), ((4,), (3,)), ((5, 3, 4), (5, 3)),
                                  ((2, 6, 3, 4), (2, 6, 3)), ((1, 4), (3,))]:
        x = rng.randn(*shape).astype("float32")
        got = dist.log_prob(x)
        assert got.shape == expected_shape
        np.testing.assert_allclose(got, reference.log_prob(x), rtol=1e-5)
        np.testing.assert_allclose(dist.prob(x), reference.prob(x), rtol=1e-5)
    assert dist.sample([2, 5], seed=(1, 1)).shape == (2, 5, 3, 4)
    with pytest.raises(ValueError, match="event shape"):
        dist.log_prob(np.zeros([3, 5], "float32"))


def test_broadcasting_through_a_surjection_and_an_exact_preimage_sum():
    base = tfd.Independent(tfd.Normal(tf.constant([[0.0], [1.0], [-2.0]]), 1.0), 1)
    folded = ts.TransformedDistribution(base, [ts.GenerativeAbs(exact=True)])
    x = np.abs(np.random.RandomState(3).randn(6, 1, 1)).astype("float32")
    mus = np.array([0.0, 1.0, -2.0])
    from scipy import stats

    expected = np.log(stats.norm.pdf(x[..., 0], mus) + stats.norm.pdf(-x[..., 0], mus))
    np.testing.assert_allclose(folded.log_prob(x), expected, rtol=1e-5)


def test_inside_mixture_same_family_and_mixture():
    base, dist, reference = batched_view()
    weights = tf.constant([0.2, 0.5, 0.3])
    mixture = tfd.MixtureSameFamily(tfd.Categorical(probs=weights), dist)
    expected = tfd.MixtureSameFamily(tfd.Categorical(probs=weights), reference)
    x = np.random.RandomState(4).randn(8, 4).astype("float32")
    np.testing.assert_allclose(mixture.log_prob(x), expected.log_prob(x), rtol=1e-5)
    assert mixture.sample(5, seed=(2, 2)).shape == (5, 4)

    flow = coupling_flow()
    parts = [flow.as_distribution(), tfd.MultivariateNormalDiag([3.0, 3.0], [0.5, 0.5])]
    mix = tfd.Mixture(tfd.Categorical(probs=[0.4, 0.6]), parts)
    y = np.random.RandomState(5).randn(6, 2).astype("float32")
    by_hand = np.logaddexp(np.log(0.4) + flow.log_prob(y), np.log(0.6) + parts[1].log_prob(y))
    np.testing.assert_allclose(mix.log_prob(y), by_hand, rtol=1e-5)
    assert mix.sample(3, seed=(1, 2)).shape == (3, 2)



def test_mixture_same_family_of_one_flow_points_to_mixture():
    with pytest.raises(ValueError, match=r"batch shape \[K\].*one flow.*tfd\.Mixture\("):
        tfd.MixtureSameFamily(tfd.Categorical(probs=[0.5, 0.5]), coupling_flow().as_distribution())

def test_inside_independent_sample_and_joint_distributions():
    _, dist, reference = batched_view()
    x = np.random.RandomState(6).randn(2, 3, 4).astype("float32")
    np.testing.assert_allclose(tfd.Independent(dist, 1).log_prob(x),
                               tfd.Independent(reference, 1).log_prob(x), rtol=1e-5)
    np.testing.assert_allclose(tfd.Sample(dist, 2).log_prob(np.stack([x[0], x[1]], 1)),
                               tfd.Sample(reference, 2).log_prob(np.stack([x[0], x[1]], 1)),
                               rtol=1e-5)
    flow = coupling_flow().as_distribution()
    y_given = lambda z: tfd.Normal(tf.reduce_sum(z, -1), 0.5)  # noqa: E731
    named = tfd.JointDistributionNamed({"z": flow, "y": lambda z: y_given(z)})
    sample = named.sample(4, seed=(3, 4))
    expected = flow.log_prob(sample["z"]) + y_given(sample["z"]).log_prob(sample["y"])
    np.testing.assert_allclose(named.log_prob(sample), expected, rtol=1e-5)

    def model():
        z = yield tfd.JointDistributionCoroutine.Root(flow)
        yield y_given(z)

    coroutine = tfd.JointDistributionCoroutine(model)
    z, y = coroutine.sample(4, seed=(5, 6))
    np.testing.assert_allclose(coroutine.log_prob((z, y)),
                               flow.log_prob(z) + y_given(z).log_prob(y), rtol=1e-5)


# ------------------------------------------------------------------------------------------------
# 4. as_bijector.


def test_as_bijector_matches_the_flow_and_tfp():
    flow = coupling_flow()
    bijector = flow.as_bijector()
    assert isinstance(bijector, tfb.Bijector)
    assert bijector.forward_min_event_ndims == 1 and bijector.inverse_min_event_ndims == 1
    assert ids(bijector.trainable_variables) == ids(backing(flow.trainable_variables))
    x = np.random.RandomState(7).randn(3, 5, 2).astype("float32")
    base = tfd.MultivariateNormalDiag(tf.zeros(2))
    pushed = tfd.TransformedDistribution(base, bijector)
    np.testing.assert_allclose(pushed.log_prob(x), flow.as_distribution().log_prob(x), rtol=1e-5)
    z = bijector.inverse(x)
    np.testing.assert_allclose(bijector.forward(z), x, atol=1e-5)
    np.testing.assert_allclose(bijector.forward_log_det_jacobian(z, 1),
                               -bijector.inverse_log_det_jacobian(x, 1), rtol=1e-5)
    # Against the autodiff Jacobian of forward.
    z0 = tf.constant(z[0, :1])
    with tf.GradientTape() as tape:
        tape.watch(z0)
        out = bijector.forward(z0)
    jac = tape.batch_jacobian(out, z0)
    np.testing.assert_allclose(bijector.forward_log_det_jacobian(z0, 1),
                               np.log(np.abs(np.linalg.det(jac.numpy()))), rtol=1e-4, atol=1e-5)
    assert bijector.forward_event_shape([7, 2]) == (7, 2)
    assert list(bijector.inverse_event_shape_tensor([7, 2]).numpy()) == [7, 2]




def test_tfp_transformed_distribution_of_the_bijector_draws_as_the_flow():
    # With no transform sampling forward, the base draws with the seed itself, as TFP's
    # TransformedDistribution(base, bijector) does; the flow's own base or a TFP one.
    for base, tfp_base in [
        (ts.StandardNormal([2]), ts.TransformedDistribution(ts.StandardNormal([2]), [])),
        (tfd.MultivariateNormalDiag([1.0, -1.0], [0.5, 2.0]),
         tfd.MultivariateNormalDiag([1.0, -1.0], [0.5, 2.0])),
    ]:
        keras.utils.set_random_seed(3)
        flow = ts.Flow(base, [ts.AffineCoupling(hidden_units=[8]), ts.Reverse(),
                              ts.AffineCoupling(hidden_units=[8])])
        pushed = tfd.TransformedDistribution(tfp_base, flow.as_bijector())
        for seed in [(1, 2), (-3, 7)]:
            np.testing.assert_allclose(pushed.sample(4, seed=seed), flow.sample(4, seed=seed),
                                       rtol=1e-6, atol=1e-6)

def conditional_coupling_flow():
    keras.utils.set_random_seed(5)
    net = lambda: ts.MLP([8], 2, activation="tanh", output_initializer="glorot_uniform")  # noqa
    return ts.Flow(ts.StandardNormal([2]),
                   [ts.AffineCoupling(net(), condition_shape=[3]), ts.Reverse(),
                    ts.AffineCoupling(net(), condition_shape=[3])], condition_shape=[3])


def test_a_conditional_flows_distribution_takes_its_condition_as_the_flow_does():
    flow = conditional_coupling_flow()
    dist = flow.as_distribution()
    rng = np.random.RandomState(0)
    x, c = rng.randn(4, 2).astype("float32"), rng.randn(4, 3).astype("float32")
    log_p = flow.log_prob(x, condition=c).numpy()
    np.testing.assert_allclose(dist.log_prob(x, condition=c), log_p, rtol=1e-6)
    assert np.abs(flow.log_prob(x, condition=c[::-1]).numpy() - log_p).max() > 1e-3
    # Leading dimensions broadcast against the condition's rows, as TFP broadcasts a batch.
    np.testing.assert_allclose(dist.log_prob(np.stack([x, x]), condition=c), [log_p, log_p],
                               rtol=1e-6)
    np.testing.assert_allclose(dist.sample(4, seed=(1, 2), condition=c),
                               flow.sample(4, seed=(1, 2), condition=c), rtol=1e-6)
    # One condition row for all draws: n draws from p(x | c).
    np.testing.assert_allclose(dist.sample(50, seed=(1, 2), condition=c[0]),
                               flow.sample(50, seed=(1, 2), condition=np.tile(c[:1], [50, 1])),
                               rtol=1e-6)
    x_drawn, log_p_drawn = dist.experimental_sample_and_log_prob(4, seed=(3, 4), condition=c)
    np.testing.assert_allclose(log_p_drawn, flow.log_prob(x_drawn, condition=c), rtol=1e-5,
                               atol=1e-5)
    with pytest.raises(ValueError, match=r"views a conditional flow \(condition_shape=\[3\]"):
        dist.log_prob(x)
    # ... both ways: one value under several conditions.
    np.testing.assert_allclose(dist.log_prob(x[0], condition=c),
                               flow.log_prob(np.tile(x[:1], [4, 1]), condition=c), rtol=1e-6)
    # A sample shape of draws takes the condition's rows as its last axes (as tfd.Sample does).
    draws = dist.sample([2, 4], seed=(1, 2), condition=c)
    np.testing.assert_allclose(np.reshape(draws, [8, 2]),
                               flow.sample(8, seed=(1, 2), condition=np.tile(c, [2, 1])),
                               rtol=1e-6)
    assert tfd.Sample(dist, 4).sample(2, seed=(1, 2), condition=c).shape == (2, 4, 2)
    with pytest.raises(ValueError, match=r"does not broadcast to the sample shape.*leading "
                                         r"shape \[4\] for a sample shape of \[2\]"):
        dist.sample(2, seed=(1, 2), condition=c)
    with pytest.raises(ValueError, match="takes no condition"):
        coupling_flow().as_distribution().log_prob(x, condition=c)
    # A condition of no row empties the batch: named as the condition's, not the value's.
    for view in (dist.log_prob, flow.as_bijector().inverse):
        with pytest.raises(ValueError, match=r"leading shape \[0\] holds no row, so it "
                                             r"broadcasts the value's leading shape \[1\]"):
            view(x[:1], condition=c[:0])


def test_a_conditional_views_sample_and_log_prob_through_a_stochastic_inverse():
    keras.utils.set_random_seed(6)
    flow = ts.Flow(ts.StandardNormal([3]),
                   [ts.Augment(1),
                    ts.AffineCoupling(hidden_units=[8], condition_shape=[3])],
                   condition_shape=[3])
    dist = flow.as_distribution()
    c = np.random.RandomState(2).randn(6, 3).astype("float32")
    x, log_p = dist.experimental_sample_and_log_prob([2, 3], seed=(1, 2),
                                                     condition=c.reshape(2, 3, 3))
    assert x.shape == (2, 3, 2) and log_p.shape == (2, 3)
    np.testing.assert_allclose(x, dist.sample([2, 3], seed=(1, 2), condition=c.reshape(2, 3, 3)))
    assert np.all(np.isfinite(log_p))
    # A sample shape of no draw gives empty results (it was refused as "value x is an empty
    # batch"), as sample does and as the flow's sample_and_log_prob does.
    for shape in (0, [2, 0]):
        x, log_p = dist.experimental_sample_and_log_prob(shape, seed=(1, 2), condition=c[0])
        assert log_p.shape == np.zeros(shape).shape and x.shape == log_p.shape + (2,)
    plain = ts.Flow(ts.StandardNormal([3]), [ts.Augment(1)]).as_distribution()
    assert plain.experimental_sample_and_log_prob(0, seed=(1, 2))[1].shape == (0,)


def test_a_conditional_view_in_a_graph_names_a_condition_of_the_wrong_rows():
    dist = conditional_coupling_flow().as_distribution()

    @tf.function(input_signature=[tf.TensorSpec([None, 2]), tf.TensorSpec([None, 3])])
    def log_prob(x, c):
        return dist.log_prob(x, condition=c)

    assert log_prob(tf.zeros([4, 2]), tf.zeros([4, 3])).shape == (4,)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="does not broadcast against the leading shape of the value"):
        log_prob(tf.zeros([4, 2]), tf.zeros([3, 3]))

    # Shapes known only in the graph: a trailing axis is never stretched to condition_shape.
    @tf.function(input_signature=[tf.TensorSpec(None), tf.TensorSpec(None)])
    def any_shape(x, c):
        return dist.log_prob(x, condition=c)

    for c in (tf.zeros([4, 1]), tf.zeros([])):
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"trailing dimensions are condition_shape \[3\]"):
            any_shape(tf.zeros([4, 2]), c)
    # ... nor is the value's (x of [4, 1] or [] was broadcast to [4, 2], and gave numbers).
    for x in (tf.zeros([4, 1]), tf.zeros([])):
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"trailing dimensions are the event shape \[2\]"):
            any_shape(x, tf.zeros([4, 3]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="does not broadcast against"):
        any_shape(tf.zeros([4, 2]), tf.zeros([3, 3]))

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32), tf.TensorSpec([None, 3])])
    def sample(n, c):
        return dist.sample(n, seed=(1, 2), condition=c)

    assert sample(4, tf.zeros([1, 3])).shape == (4, 2)
    with pytest.raises(tf.errors.InvalidArgumentError, match="does not broadcast to the sample"):
        sample(2, tf.zeros([4, 3]))


def test_views_refuse_a_condition_nothing_reads_and_a_base_alone_reading_it_needs_none():
    with pytest.raises(ValueError, match=r"condition_shape=\[3\], but no layer reads"):
        ts.TransformedDistribution(ts.StandardNormal([2]), [ts.Reverse()], condition_shape=[3])
    with pytest.raises(ValueError, match="no condition_shape, but AffineCoupling"):
        ts.TransformedDistribution(ts.StandardNormal([2]),
                                   [ts.AffineCoupling(hidden_units=[8], condition_shape=[3])])
    by_base = ts.Flow(ts.ConditionalNormal([2], ts.MLP([8], 4)), [ts.Reverse()],
                      condition_shape=[3])
    z = np.ones([4, 2], "float32")
    np.testing.assert_allclose(by_base.as_bijector().forward(z), z[:, ::-1])


def test_a_bijector_built_directly_checks_its_condition_shape_as_the_views_do():
    # FlowBijector took condition_shape=3 to a TypeError of Python's, 'abc' and [0] silently,
    # and without it a conditional coupling gave an unusable bijector.
    coupling = ts.AffineCoupling(hidden_units=[8], condition_shape=[3])
    for shape, error in ((3, TypeError), ("abc", TypeError), ([0], ValueError)):
        with pytest.raises(error, match=r"FlowBijector: condition_shape must be"):
            ts.FlowBijector([coupling], [2], [2], condition_shape=shape)
    with pytest.raises(ValueError, match="FlowBijector has no condition_shape, but "
                                         "AffineCoupling"):
        ts.FlowBijector([coupling], [2], [2])
    with pytest.raises(ValueError, match=r"FlowBijector has condition_shape=\[3\], but no "
                                         "layer reads"):
        ts.FlowBijector([ts.Reverse()], [2], [2], condition_shape=[3])
    bijector = ts.FlowBijector([coupling], [2], [2], condition_shape=[3])
    assert bijector.forward(np.zeros([4, 2], "float32"),
                            condition=np.ones([4, 3], "float32")).shape == (4, 2)


def test_the_bijector_refuses_a_value_of_another_event_shape():
    # The conditional bijector broadcast z of [4, 1] to [4, 2] and gave numbers; both raised
    # TensorFlow's BroadcastTo or Reshape errors for [4, 3].
    c = np.zeros([4, 3], "float32")
    for bijector, kwargs in ((conditional_coupling_flow().as_bijector(), {"condition": c}),
                             (coupling_flow().as_bijector(), {})):
        for value in (np.zeros([4, 1], "float32"), np.zeros([4, 3], "float32")):
            for method in (bijector.forward, bijector.inverse):
                with pytest.raises(ValueError, match=r"expected a value whose trailing "
                                                     r"dimensions are the event shape \[2\]"):
                    method(value, **kwargs)


def test_a_conditional_flows_bijector_takes_its_condition_as_tfp_bijectors_do():
    flow = conditional_coupling_flow()
    bijector = flow.as_bijector()
    rng = np.random.RandomState(1)
    x, c = rng.randn(4, 2).astype("float32"), rng.randn(4, 3).astype("float32")
    z = bijector.inverse(x, condition=c)
    np.testing.assert_allclose(bijector.forward(z, condition=c), x, atol=1e-5)
    base = tfd.MultivariateNormalDiag(tf.zeros(2))
    log_p = flow.log_prob(x, condition=c).numpy()
    np.testing.assert_allclose(
        base.log_prob(z) + bijector.inverse_log_det_jacobian(x, condition=c), log_p, rtol=1e-5)
    np.testing.assert_allclose(bijector.forward_log_det_jacobian(z, condition=c),
                               -bijector.inverse_log_det_jacobian(x, condition=c), rtol=1e-5)
    pushed = tfd.TransformedDistribution(base, bijector)
    np.testing.assert_allclose(pushed.log_prob(x, bijector_kwargs={"condition": c}), log_p,
                               rtol=1e-5)
    with pytest.raises(ValueError, match="views a conditional flow"):
        bijector.forward(z)
    # Through tfb.Chain, whose log-det-Jacobians need the bijector's dtype as a tf.DType.
    chained = tfb.Chain([tfb.Shift(1.0), bijector])
    np.testing.assert_allclose(
        chained.inverse_log_det_jacobian(x + 1.0, event_ndims=1,
                                         **{bijector.name: {"condition": c}}),
        bijector.inverse_log_det_jacobian(x, condition=c), rtol=1e-6)


def test_as_bijector_follows_weight_updates():
    # TFP caches a bijector's results per input tensor: the view must not keep them.
    flow = coupling_flow()
    bijector = flow.as_bijector()
    x = tf.constant(np.random.RandomState(9).randn(4, 2).astype("float32"))
    z = bijector.inverse(x)
    ildj = bijector.inverse_log_det_jacobian(x, 1)
    for variable in flow.trainable_variables:
        variable.assign(variable + 0.3)
    expected = flow.as_distribution().log_prob(x) - flow.base.log_prob(bijector.inverse(x))
    np.testing.assert_allclose(bijector.inverse_log_det_jacobian(x, 1), expected, rtol=1e-5,
                               atol=1e-5)
    assert not np.allclose(bijector.inverse_log_det_jacobian(x, 1), ildj)
    assert not np.allclose(bijector.forward(z), x)  # z was the old weights' latent

def test_as_bijector_with_a_shape_change():
    flow = ts.Flow(ts.StandardNormal([1, 1, 4]), [ts.Squeeze2D(), ts.ActNorm()],
                   event_shape=[2, 2, 1])
    bijector = flow.as_bijector()
    assert bijector.forward_event_shape([5, 1, 1, 4]) == (5, 2, 2, 1)
    x = np.random.RandomState(8).randn(5, 2, 2, 1).astype("float32")
    np.testing.assert_allclose(bijector.forward(bijector.inverse(x)), x, atol=1e-6)


def test_as_bijector_names_the_first_non_bijective_transform():
    flow = ts.Flow(ts.StandardNormal([2]), [ts.Reverse(), ts.Slice(2, name="drop_two")],
                   event_shape=[4])
    with pytest.raises(ValueError, match="drop_two.*not bijective"):
        flow.as_bijector()


def test_neutra_hmc_with_the_flow_bijector():
    """HMC on a correlated Gaussian preconditioned by the flow, through TFP's kernels."""
    flow = coupling_flow()
    target = tfd.MultivariateNormalTriL([0.0, 1.0], [[1.0, 0.0], [0.9, 0.3]])
    kernel = tfp.mcmc.TransformedTransitionKernel(
        tfp.mcmc.HamiltonianMonteCarlo(target.log_prob, step_size=0.3, num_leapfrog_steps=3),
        bijector=flow.as_bijector(),
    )
    # In a tf.function, as TFP's MCMC is meant to run (eagerly, the 250 steps took 86 s of CPU
    # against 3 s).
    samples, accepted = tf.function(lambda: tfp.mcmc.sample_chain(
        200, current_state=tf.zeros([4, 2]), kernel=kernel, num_burnin_steps=50,
        trace_fn=lambda _, results: results.inner_results.is_accepted, seed=(1, 2),
    ))()
    assert samples.shape == (200, 4, 2)
    assert 0.2 < float(tf.reduce_mean(tf.cast(accepted, tf.float32))) <= 1.0
    np.testing.assert_allclose(tf.reduce_mean(samples, [0, 1]), [0.0, 1.0], atol=0.35)


@pytest.mark.parametrize("in_function", [False, True])
def test_neutra_hmc_rejects_a_proposal_beyond_the_networks_range(in_function):
    """A leapfrog step that carries the latent state past what a network can take (1.8e19 in
    float32) is a rejected proposal (its log-density NaN), not an error that ends the chain."""
    flow = coupling_flow()
    bijector = flow.as_bijector()
    z = tf.constant([[0.3, -0.2], [1e25, 0.5]])
    x = bijector.forward(z)
    assert np.all(np.isnan(x[1])) and np.isnan(bijector.forward_log_det_jacobian(z)[1])
    np.testing.assert_allclose(x[:1], flow.as_bijector().forward(z[:1]), rtol=1e-6)
    np.testing.assert_allclose(bijector.inverse(x[:1]), z[:1], rtol=1e-5)
    kernel = tfp.mcmc.TransformedTransitionKernel(
        tfp.mcmc.HamiltonianMonteCarlo(tfd.MultivariateNormalDiag([0.0, 0.0]).log_prob,
                                       step_size=1e22, num_leapfrog_steps=2),
        bijector=bijector)

    def chain():
        return tfp.mcmc.sample_chain(
            3, current_state=tf.fill([4, 2], 0.5), kernel=kernel,
            trace_fn=lambda _, results: results.inner_results.is_accepted, seed=(1, 2))

    samples, accepted = (tf.function(chain) if in_function else chain)()
    assert not np.any(accepted.numpy())
    np.testing.assert_allclose(samples, np.full([3, 4, 2], 0.5), rtol=1e-6)  # z = f^-1(f(z))


# ------------------------------------------------------------------------------------------------
# 6. No closed form: a message that says what to do.


@pytest.mark.parametrize("method", ["mean", "variance", "stddev", "mode", "entropy", "covariance"])
def test_statistics_without_closed_form_say_what_to_use(method):
    dist = coupling_flow().as_distribution()
    with pytest.raises(NotImplementedError, match="Monte Carlo from `sample`"):
        getattr(dist, method)()


@pytest.mark.parametrize("method", ["cdf", "log_cdf", "survival_function", "quantile"])
def test_value_functions_without_closed_form_say_what_to_use(method):
    dist = coupling_flow().as_distribution()
    with pytest.raises(NotImplementedError, match="Monte Carlo"):
        getattr(dist, method)(tf.zeros([2]))


def test_kl_divergence_says_what_to_use():
    dist = coupling_flow().as_distribution()
    other = tfd.MultivariateNormalDiag(tf.zeros(2))
    for a, b in [(dist, other), (other, dist), (dist, dist)]:
        with pytest.raises(NotImplementedError, match="KL divergence.*Monte Carlo"):
            tfd.kl_divergence(a, b)
    with pytest.raises(NotImplementedError, match="Monte Carlo"):
        dist.cross_entropy(other)
