"""Distribution layers agree with TFP and with their own samplers."""

import itertools

import keras
import numpy as np
import pytest
import scipy.stats
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_survae as ts
from tfp_survae._discrete import plackett_luce_log_prob

tfd = tfp.distributions


def linear(out, bias=None):
    net = keras.layers.Dense(out)
    net.build((None, 3))
    if bias is not None:
        net.set_weights([np.random.RandomState(0).randn(3, out).astype("float32") * 0.5,
                         np.asarray(bias, "float32")])
    return net


@pytest.mark.parametrize("layer, reference", [
    (ts.StandardNormal([3]), lambda x: scipy.stats.norm.logpdf(x).sum(-1)),
    (ts.StandardHalfNormal([3]), lambda x: scipy.stats.halfnorm.logpdf(x).sum(-1)),
    (ts.StandardUniform([3]), lambda x: scipy.stats.uniform.logpdf(x).sum(-1)),
])
def test_standard_bases(layer, reference):
    x = np.abs(np.random.RandomState(1).rand(10, 3)).astype("float32")
    np.testing.assert_allclose(layer.log_prob(x), reference(x), rtol=1e-5)
    np.testing.assert_allclose(layer.distribution(num=10).log_prob(x), reference(x), rtol=1e-5)
    sample, log_p = layer.sample_and_log_prob(4, seed=(1, 2))
    assert sample.shape == (4, 3)
    np.testing.assert_allclose(log_p, reference(sample.numpy()), rtol=1e-5)


def test_outside_support_is_minus_infinity():
    assert ts.StandardHalfNormal([1]).log_prob([[-0.1]]).numpy()[0] == -np.inf
    assert ts.StandardUniform([1]).log_prob([[1.5]]).numpy()[0] == -np.inf


def test_conditional_normal_and_half_normal():
    context = np.random.RandomState(2).randn(5, 3).astype("float32")
    x = np.abs(np.random.RandomState(3).randn(5, 2)).astype("float32")
    net = linear(4, bias=[0.1, -0.2, 0.3, -0.1])
    normal = ts.ConditionalNormal([2], net)
    params = net(context).numpy()
    expected = scipy.stats.norm(params[:, :2], np.exp(params[:, 2:])).logpdf(x).sum(-1)
    np.testing.assert_allclose(normal.log_prob(x, condition=context), expected, rtol=1e-5)
    np.testing.assert_allclose(normal.distribution(context).log_prob(x), expected, rtol=1e-5)
    s, lp = normal.sample_and_log_prob(seed=(1, 1), condition=context)
    np.testing.assert_allclose(lp, normal.log_prob(s, condition=context), rtol=1e-5)

    half = ts.ConditionalHalfNormal([4], linear(4, bias=[0.0, 0.1, 0.2, 0.3]))
    x4 = np.abs(np.random.RandomState(4).randn(5, 4)).astype("float32")
    scale = np.exp(half.network(context).numpy())
    np.testing.assert_allclose(half.log_prob(x4, condition=context),
                               scipy.stats.halfnorm(scale=scale).logpdf(x4).sum(-1), rtol=1e-5)
    s, lp = half.sample_and_log_prob(seed=(1, 1), condition=context)
    assert np.all(s.numpy() >= 0)
    np.testing.assert_allclose(lp, half.log_prob(s, condition=context), rtol=1e-5)


def test_conditional_bernoulli_and_categorical():
    context = np.random.RandomState(2).randn(5, 3).astype("float32")
    bern = ts.ConditionalBernoulli([2], linear(2, bias=[0.5, -0.5]))
    x = np.array([[0, 1], [1, 1], [0, 0], [1, 0], [1, 1]], "float32")
    p = 1 / (1 + np.exp(-bern.network(context).numpy()))
    np.testing.assert_allclose(bern.log_prob(x, condition=context),
                               scipy.stats.bernoulli(p).logpmf(x).sum(-1), rtol=1e-5)
    cat = ts.ConditionalCategorical([], 3, linear(3, bias=[0.0, 1.0, -1.0]))
    logits = cat.network(context).numpy()
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    labels = np.array([0, 2, 1, 1, 0])
    np.testing.assert_allclose(cat.log_prob(labels, condition=context),
                               np.log(probs[np.arange(5), labels]), rtol=1e-5)


def test_plackett_luce_is_normalised_and_matches_tfp():
    scores = np.random.RandomState(5).randn(2, 4).astype("float32") * 3.0
    perms = np.array(list(itertools.permutations(range(4))), np.int32)
    total = []
    for row in scores:
        log_p = plackett_luce_log_prob(np.tile(row, [len(perms), 1]), perms).numpy()
        total.append(np.exp(log_p).sum())
        reference = tfd.PlackettLuce(np.exp(row)).log_prob(perms).numpy()
        np.testing.assert_allclose(log_p, reference, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(total, 1.0, rtol=1e-5)


def test_plackett_luce_sampling_frequencies():
    layer = ts.ConditionalPlackettLuce(3, linear(3, bias=[1.0, 0.0, -1.0]))
    context = np.zeros((20000, 3), "float32")
    perms, log_p = layer.sample_and_log_prob(seed=(3, 4), condition=context)
    perms = perms.numpy()
    codes = perms[:, 0] * 9 + perms[:, 1] * 3 + perms[:, 2]
    for code in np.unique(codes):
        mask = codes == code
        expected = np.exp(log_p.numpy()[mask][0])
        assert abs(mask.mean() - expected) < 0.015


def test_tfp_distribution_layer_round_trips():
    layer = ts.TFPDistribution(tfd.Independent(tfd.Logistic([0.0, 1.0], [1.0, 2.0]), 1))
    clone = ts.TFPDistribution.from_config(layer.get_config())
    x = np.random.randn(4, 2).astype("float32")
    assert clone.tfp_distribution.dtype == layer.tfp_distribution.dtype == tf.float32
    np.testing.assert_allclose(clone.log_prob(x), layer.log_prob(x))
    with pytest.raises(ValueError, match="batch shape"):
        ts.TFPDistribution(tfd.Normal(tf.zeros(3), 1.0))


def test_network_output_is_checked():
    layer = ts.ConditionalNormal([2], linear(3))
    with pytest.raises(ValueError, match=r"must map the condition to \[batch\] \+ \[4\] "
                                         r"\(2 x 2 = 4 values on the last axis"):
        layer.log_prob(np.zeros((2, 2), "float32"), condition=np.zeros((2, 3), "float32"))
    # The whole output shape, not only its last axis: an event of [2, 2] whose network gives
    # [batch, 4] folded two rows' parameters into one example (a density of the wrong rows,
    # silently); a condition of [batch, 2, 3] through a dense network gave twice the rows.
    keras.utils.set_random_seed(0)
    folded = ts.ConditionalNormal([2, 2], ts.MLP([8], 4))
    with pytest.raises(ValueError, match=r"\[batch\] \+ \[2, 4\] .*received output shape "
                                         r"\[2, 4\] for a condition of shape \[2, 3\]"):
        folded.log_prob(np.zeros((2, 2, 2), "float32"), condition=np.zeros((2, 3), "float32"))
    doubled = ts.ConditionalNormal([2], ts.MLP([8], 4))
    with pytest.raises(ValueError, match=r"received output shape \[4, 2, 4\]"):
        doubled.sample(4, seed=(1, 2), condition=np.zeros((4, 2, 3), "float32"))
    with pytest.raises(ValueError, match="condition"):
        layer.log_prob(np.zeros((2, 2), "float32"))
    with pytest.raises(TypeError, match="network"):
        ts.ConditionalNormal([2], None)


def test_a_conditional_flow_draws_its_log_prob_with_the_seed_given():
    base = tfd.Independent(tfd.Normal([1.5, -0.5], [0.6, 1.0]), 1)
    flow = ts.Flow(base, [ts.StochasticPermutation()])  # a random inverse: log p depends on it
    density = ts.ConditionalFlow(flow)
    x = np.random.RandomState(0).randn(64, 2).astype("float32")
    first = density.log_prob(x, seed=(1, 2)).numpy()
    np.testing.assert_array_equal(density.log_prob(x, seed=(1, 2)), first)
    np.testing.assert_array_equal(flow.log_prob(x, seed=(1, 2)), first)
    assert not np.array_equal(density.log_prob(x, seed=(3, 4)), first)


def test_a_flow_builds_the_conditional_part_of_a_zero_inflated_base(tmp_path):
    # Before the first call: every weight exists, so summary, views and saving see them all.
    flow = ts.Flow(ts.ZeroInflated(ts.ConditionalHalfNormal([2], ts.MLP([8], 2))), [ts.ReLU()],
                   condition_shape=[3])
    assert len(flow.trainable_variables) == 5  # pi, and the MLP's two kernels and biases
    flow.save(tmp_path / "zero_inflated.keras")
    loaded = keras.saving.load_model(tmp_path / "zero_inflated.keras")
    rng = np.random.RandomState(0)
    x = np.abs(rng.randn(4, 2)).astype("float32")
    c = rng.randn(4, 3).astype("float32")
    np.testing.assert_array_equal(loaded.log_prob(x, condition=c), flow.log_prob(x, condition=c))


# Each of the following gave a number (or a shape) where it now names what is wrong.


def test_discrete_distributions_refuse_values_outside_their_support():
    keras.utils.set_random_seed(0)
    c = np.ones([2, 3], "float32")
    luce = ts.ConditionalPlackettLuce(3, ts.MLP([8], 3))
    assert luce.log_prob(np.array([[0, 2, 1], [2, 1, 0]]), condition=c).shape == (2,)
    with pytest.raises(ValueError, match=r"each row of x must be an ordering \(a permutation\) "
                                         r"of 0, \.\.\., 2"):
        luce.log_prob(np.array([[0, 0, 1], [2, 1, 0]]), condition=c)  # was -1.40
    with pytest.raises(TypeError, match="orderings of the items as integers; received dtype "
                                        "float32"):
        luce.log_prob(np.array([[0, 1, 2.7], [2, 1, 0]], "float32"), condition=c)
    with pytest.raises(ValueError, match=r"log-scores of shape \[batch\] \+ \[3\]; received "
                                         r"\[2, 4\]"):
        ts.ConditionalPlackettLuce(3, ts.MLP([8], 4)).sample(condition=c)  # drew 4 items
    categorical = ts.ConditionalCategorical([2], 4, ts.MLP([8], 8))
    with pytest.raises(ValueError, match=r"classes in \[0, 4\); received values from 0 to 4"):
        categorical.log_prob(np.array([[0, 4], [1, 2]]), condition=c)
    with pytest.raises(TypeError, match="classes as integers"):
        categorical.log_prob(np.array([[0, 1.5], [1, 2]], "float32"), condition=c)  # was x=1
    for value, error in ((0, ValueError), (2.7, TypeError)):
        with pytest.raises(error, match="num_classes must be an integer >= 2"):
            ts.ConditionalCategorical([2], value, ts.MLP([8], 8))
    with pytest.raises(ValueError, match="num_items must be an integer >= 2"):
        ts.ConditionalPlackettLuce(0, ts.MLP([8], 3))
    bernoulli = ts.ConditionalBernoulli([2], ts.MLP([8], 2))
    with pytest.raises(ValueError, match="x must hold binary values, 0 or 1"):
        bernoulli.log_prob(np.array([[0.0, 2.0], [1.0, 0.0]], "float32"), condition=c)


def test_rows_of_the_condition_the_network_and_n_must_agree():
    keras.utils.set_random_seed(0)
    normal = ts.ConditionalNormal([3], ts.MLP([8], 6))
    c, x = np.ones([5, 2], "float32"), np.zeros([5, 3], "float32")
    with pytest.raises(ValueError, match="condition needs one row per row of x; received 1 "
                                         "rows for 5"):
        normal.log_prob(x, condition=c[:1])  # broadcast silently
    with pytest.raises(ValueError, match=r"n must be the condition's rows \(or None\); "
                                         r"received n=3 for 5 rows"):
        normal.sample_and_log_prob(3, seed=(1, 2), condition=c)  # drew 5
    assert normal.sample(5, seed=(1, 2), condition=c).shape == (5, 3)
    one_row = keras.layers.Lambda(lambda t: tf.zeros([1, 6]))
    with pytest.raises(ValueError, match="network output needs one row per condition row; "
                                         "received 1 rows for 5"):
        ts.ConditionalNormal([3], one_row).sample(seed=(1, 2), condition=c)  # drew 1
    for n, error in ((2.5, TypeError), (-1, ValueError)):
        with pytest.raises(error, match=r"StandardNormal .*\.sample: n must"):
            ts.StandardNormal([2]).sample(n, seed=(1, 2))  # 2.5 drew 2
    # In a graph, where the rows are known only when it runs.
    sample = tf.function(lambda n, c: normal.sample(n, seed=(1, 2), condition=c),
                         input_signature=[tf.TensorSpec([], tf.int32), tf.TensorSpec([None, 2])])
    assert sample(5, c).shape == (5, 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"received n, rows:\] \[3\] \[5\]"):
        sample(3, c)
    log_prob = tf.function(lambda x: ts.StandardNormal([3]).log_prob(x),
                           input_signature=[tf.TensorSpec([None, None])])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"expected x of shape \[batch\] \+ "
                                                             r"\[3\]"):
        log_prob(np.zeros([5, 4], "float32"))  # gave numbers


def test_a_tfp_base_checks_shapes_and_takes_the_flows_dtype():
    base = ts.TFPDistribution(tfd.MultivariateNormalDiag(tf.zeros(2, tf.float64)))
    with pytest.raises(ValueError, match=r"expected x of rank 2 .*received shape \[2, 4, 2\]"):
        base.log_prob(np.zeros([2, 4, 2]))  # gave a [2, 4] result
    flow = ts.Flow(base, [ts.Reverse()], dtype="float32")
    x, log_p = flow.sample_and_log_prob(3, seed=(1, 2))
    assert log_p.dtype == tf.float32  # was float64
    np.testing.assert_allclose(flow.log_prob(x), log_p, rtol=1e-6)  # failed converting


def test_an_unconditional_flow_as_a_decoder_is_not_handed_the_condition():
    # Slice hands its decoder z as the condition; the flow refused it (Flow 'flow' takes no
    # condition) at every call.
    decoder = ts.ConditionalFlow(ts.Flow(ts.StandardNormal([1]), [ts.Reverse()]))
    flow = ts.Flow(ts.StandardNormal([2]), [ts.Slice(2, decoder=decoder)], event_shape=[3])
    x = flow.sample(4, seed=(1, 2))
    np.testing.assert_allclose(flow.log_prob(x), scipy.stats.norm.logpdf(x).sum(-1), rtol=1e-5)


def test_a_tfp_base_with_trainable_variables_warns_that_fit_leaves_them_out():
    loc = tf.Variable([0.0, 0.0])
    with pytest.warns(UserWarning, match=r"trainable variables .* are not a Keras layer's, so "
                                         r"`fit` and `flow.trainable_variables` leave them out"):
        flow = ts.Flow(tfd.MultivariateNormalDiag(loc), [ts.Reverse()])
    assert not flow.trainable_variables  # fit would not move loc


def test_a_vae_with_a_discrete_latent_samples():
    # Its forward refused the integer z its discrete base draws ("expected latent z as a
    # floating-point tensor"), while log_prob worked.
    keras.utils.set_random_seed(0)
    encoder = ts.ConditionalCategorical([2], 3, keras.Sequential(
        [keras.layers.Dense(6), keras.layers.Reshape([2, 3])]))
    vae = ts.VAE(encoder, ts.ConditionalNormal([3], ts.MLP([8], 6)))
    flow = ts.Flow(tfd.Independent(tfd.Categorical(logits=tf.zeros([2, 3])), 1), [vae])
    x, log_p = flow.sample_and_log_prob(4, seed=(1, 2))
    assert x.shape == (4, 3) and np.all(np.isfinite(log_p))
    with pytest.raises(ValueError, match=r"latent z with event shape \[2\]"):
        vae.forward(np.zeros([4, 3], "int32"))


def test_layers_modelling_a_half_line_refuse_a_distribution_of_real_values():
    # A ReLU whose decoder of -x was a standard normal integrated to 0.75 (its mass on the
    # wrong side was lost); Max's gaps and ZeroInflated's positive part likewise.
    with pytest.raises(ValueError, match=r"ReLU .*the decoder of -x on \[0, inf\) must be a "
                                         r"distribution of nonnegative values; received "
                                         r"StandardNormal, of real values"):
        ts.Flow(ts.ZeroInflated(ts.StandardHalfNormal([1])),
                [ts.ReLU(decoder=ts.StandardNormal([1]))])
    with pytest.raises(ValueError, match="distribution of the gaps must be a distribution of "
                                         "nonnegative values"):
        ts.Max(decoder=ts.StandardNormal([1])).build((None, 2))
    with pytest.raises(TypeError, match="ZeroInflated needs .* received StandardNormal, of real "
                                        "values"):
        ts.ZeroInflated(ts.StandardNormal([2]))
    with pytest.raises(ValueError, match=r"\[0, 1\) must be a distribution of unit interval"):
        ts.Floor(decoder=ts.StandardNormal([2])).build((None, 2))
    # One that does not say where its values lie (a flow) is taken.
    assert ts.ConditionalFlow(ts.Flow(ts.StandardHalfNormal([1]), [])).support is None


def test_a_distribution_inside_the_support_asked_for_is_taken():
    # A density on [0, 1) is one on [0, inf): a uniform decoder of -x was refused by ReLU and
    # ZeroInflated. The flow's density over the line still integrates to 1.
    flow = ts.Flow(ts.ZeroInflated(ts.StandardHalfNormal([1])),
                   [ts.ReLU(decoder=ts.StandardUniform([1]))])
    xs = np.concatenate([np.linspace(-0.999999, 0.0, 20001)[:-1], np.linspace(0.0, 9.0, 90001)])
    density = np.exp(flow.log_prob(xs[:, None].astype("float32")).numpy())
    assert abs(np.trapezoid(density, xs) - 1.0) < 2e-3
    assert ts.ZeroInflated(ts.StandardUniform([2])).support == "nonnegative"
    with pytest.raises(ValueError, match="nonnegative values; received StandardNormal"):
        ts.Max(decoder=ts.StandardNormal([1])).build((None, 2))


def test_a_network_built_for_another_condition_is_refused_when_the_flow_is_built():
    # It was taken, and every call failed in Keras' words inside the base's MLP.
    net = ts.MLP([8], 4)
    net.build((None, 4))
    with pytest.raises(ValueError, match=r"ConditionalNormal .*network was built for inputs of "
                                         r"another shape than the condition's, \[None, 3\] "
                                         r"\(Keras: .*expected axis -1 of input shape to have "
                                         r"value 4"):
        ts.Flow(ts.ConditionalNormal([2], net), [ts.Reverse()], condition_shape=[3])
    flow = ts.Flow(ts.ConditionalNormal([2], net), [ts.Reverse()], condition_shape=[4])
    assert flow.log_prob(np.zeros([2, 2], "float32"),
                         condition=np.zeros([2, 4], "float32")).shape == (2,)


def test_discrete_values_of_any_integer_or_boolean_dtype():
    # uint8 classes failed in TensorFlow's words ("Value for attr 'Tlabels' of uint8"), boolean
    # bits with "Cannot convert 0 to EagerTensor of dtype bool".
    keras.utils.set_random_seed(0)
    c = np.random.RandomState(0).randn(3, 3).astype("float32")
    categorical = ts.ConditionalCategorical([], 5, linear(5))
    classes = np.array([0, 4, 3])
    np.testing.assert_array_equal(categorical.log_prob(classes.astype("uint8"), condition=c),
                                  categorical.log_prob(classes, condition=c))
    bernoulli = ts.ConditionalBernoulli([2], linear(2))
    bits = np.array([[True, False], [False, False], [True, True]])
    np.testing.assert_array_equal(bernoulli.log_prob(bits, condition=c),
                                  bernoulli.log_prob(bits.astype("float32"), condition=c))
    orders = ts.ConditionalPlackettLuce(3, linear(3))
    orderings = np.array([[0, 2, 1], [2, 1, 0], [1, 0, 2]])
    np.testing.assert_array_equal(orders.log_prob(orderings.astype("uint8"), condition=c),
                                  orders.log_prob(orderings, condition=c))


def test_a_network_built_before_that_refuses_zeros_is_still_taken():
    # The width check runs a built network on a row of zeros; a network that refuses zeros
    # for its own reasons (a log of its condition) is not refused for them.
    class LogFirst(keras.layers.Layer):
        def build(self, shape):
            self.dense = keras.layers.Dense(4)
            self.dense.build(shape)

        def call(self, c):
            tf.debugging.assert_positive(c, message="needs a positive condition")
            return self.dense(tf.math.log(c))

    net = LogFirst()
    net.build((None, 3))
    flow = ts.Flow(ts.ConditionalNormal([2], net), [], condition_shape=[3])
    assert flow.log_prob(np.zeros((2, 2), "float32"),
                         condition=np.ones((2, 3), "float32")).shape == (2,)


def test_a_network_that_is_not_a_keras_layer_is_refused_when_made():
    # A plain function was taken and every use failed with "'function' object has no attribute
    # 'built'"; wrapped in a Lambda layer it works.
    with pytest.raises(TypeError, match=r"ConditionalNormal .*network must be a Keras layer; "
                                        r"received function\. Wrap a function in "
                                        r"keras.layers.Lambda"):
        ts.ConditionalNormal([2], lambda c: tf.concat([c, c], -1))
    wrapped = ts.ConditionalNormal([2], keras.layers.Lambda(lambda c: tf.concat([c, c], -1)))
    c = np.ones([3, 2], "float32")
    np.testing.assert_allclose(wrapped.log_prob(np.zeros([3, 2], "float32"), condition=c),
                               tfd.Normal(1.0, np.e).log_prob(0.0).numpy() * 2, rtol=1e-6)
