"""Layers and flows check their inputs: NaN and Inf, overflow, latents out of range, conditions,
shapes a compiled function cannot know."""


import keras
import numpy as np
import pytest
import tensorflow as tf

import tfp_survae as ts


# Single layers check their inputs.


@pytest.mark.parametrize("layer", [ts.Sort(), ts.Abs(), ts.Reverse(), ts.AffineCoupling()])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_single_layers_refuse_nan_and_inf(layer, bad):
    x = np.random.RandomState(0).randn(3, 4).astype("float32")
    x[1, 2] = bad
    with pytest.raises(ValueError, match=r"data x contains NaN or Inf .*index \(1, 2\)"):
        layer.inverse_and_log_det(x)
    z = np.random.RandomState(0).randn(3, 4).astype("float32")
    z[0, 0] = bad
    if not layer.stochastic_forward or layer.built:
        with pytest.raises(ValueError, match="latent z contains NaN or Inf"):
            layer.forward(z, seed=(1, 2))


def test_a_layer_that_overflows_says_so():
    coupling = ts.AffineCoupling(ts.MLP([4], 2, output_initializer="ones"), scale_fn="exp")
    # x_a = +-1e3: whatever the hidden kernel's signs, some ReLU unit is active for one row,
    # so the log-scale overflows exp for it.
    x = np.array([[1e3, 1e3], [-1e3, 1e3]], "float32")
    with pytest.raises(ValueError, match="turned finite inputs into NaN or Inf"):
        coupling.inverse_and_log_det(x)


# Dequantization refuses NaN latents instead of casting them to -2**31.


def test_dequantization_refuses_nan_latents():
    layer = ts.UniformDequantization(8)
    with pytest.raises(ValueError, match="latent z contains NaN"):
        layer.forward(np.array([[0.5, np.nan]], "float32"))
    broken = ts.Flow(ts.TFPDistribution(ts.distributions.base.tfd.Independent(
        ts.distributions.base.tfd.Normal([0.0, float("nan")], 1.0), 1)),
        [ts.UniformDequantization(8)])
    with pytest.raises(ValueError, match="latent z contains NaN"):
        broken.sample(3, seed=(1, 2))


# Errors that tell the user what to change.


def conditional_flow():
    return ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(hidden_units=[8],
                                                             condition_shape=[3])],
                   condition_shape=[3])


def test_missing_or_misshaped_condition_is_named():
    flow = conditional_flow()
    x = np.zeros([4, 2], "float32")
    with pytest.raises(ValueError, match="is conditional.*pass condition="):
        flow.log_prob(x)
    with pytest.raises(ValueError, match="condition with event shape \\[3\\]"):
        flow.log_prob(x, condition=np.zeros([4, 5], "float32"))
    with pytest.raises(ValueError, match="condition has 2 rows but the data has 4"):
        flow.log_prob(x, condition=np.zeros([2, 3], "float32"))
    coupling = ts.AffineCoupling(hidden_units=[8], condition_shape=[3])
    with pytest.raises(ValueError, match="is conditional"):
        coupling.inverse_and_log_det(x)
    with pytest.raises(ValueError, match=r"expected condition of shape \[4, 3\]"):
        coupling.inverse_and_log_det(x, condition=np.zeros([4, 2], "float32"))
    plain = ts.AffineCoupling(hidden_units=[8])
    with pytest.raises(ValueError, match="takes no condition"):
        plain.inverse_and_log_det(x, condition=np.zeros([4, 3], "float32"))


def test_a_flow_refuses_a_condition_no_layer_reads_and_a_layer_reading_one_it_lacks():
    # Without the check the first flow's log_prob ignored its condition: the same density for
    # every condition, silently; the others failed only when first called.
    with pytest.raises(ValueError, match=r"condition_shape=\[3\], but no layer reads"):
        ts.Flow(ts.StandardNormal([2]), [ts.ActNorm(), ts.Reverse()], condition_shape=[3])
    with pytest.raises(ValueError, match="no condition_shape, but AffineCoupling .* reads a "):
        ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(hidden_units=[8],
                                                           condition_shape=[3])])
    with pytest.raises(ValueError, match="no condition_shape, but its base ConditionalNormal"):
        ts.Flow(ts.ConditionalNormal([2], ts.MLP([8], 4)), [ts.Reverse()])
    # A conditional base alone is a conditional flow; so is a conditional flow as the base.
    by_base = ts.Flow(ts.ConditionalNormal([2], ts.MLP([8], 4)), [ts.Reverse()],
                      condition_shape=[3])
    x, c = np.zeros([4, 2], "float32"), np.random.RandomState(0).randn(4, 3).astype("float32")
    log_p = by_base.log_prob(x, condition=c).numpy()
    assert np.ptp(log_p) > 0  # the condition moves the density
    assert ts.Flow(by_base, [ts.Reverse()], condition_shape=[3]).log_prob(
        x, condition=c).shape == (4,)
    # A base whose part reads the condition (the positive part of a zero-inflated base).
    zero_inflated = ts.ZeroInflated(ts.ConditionalHalfNormal([2], ts.MLP([8], 2)))
    assert ts.Flow(zero_inflated, [ts.ReLU()], condition_shape=[3]).log_prob(
        np.abs(x) + 1.0, condition=c).shape == (4,)
    with pytest.raises(ValueError, match="no condition_shape, but its base ZeroInflated"):
        ts.Flow(zero_inflated, [ts.ReLU()])
    with pytest.raises(ValueError, match=r"condition_shape .*received \[\]"):
        ts.Flow(ts.StandardNormal([2]), [ts.Reverse()], condition_shape=[])


@pytest.mark.parametrize("make", [
    lambda shape: ts.AffineCoupling(hidden_units=[8], condition_shape=shape),
    lambda shape: ts.MaskedAutoregressive(hidden_units=[8], condition_shape=shape),
    lambda shape: ts.ResidualBlock(hidden_units=[8], condition_shape=shape),
    lambda shape: ts.ContinuousFlow(hidden_units=[8], condition_shape=shape),
], ids=["coupling", "made", "residual", "continuous"])
def test_a_flow_refuses_a_layer_built_for_another_condition_shape(make):
    # Without the check the continuous flow and the residual block failed at their first call
    # in Keras' words ("expected axis -1 of input shape to have value 6, but received input
    # with shape (5, 7)"), the couplings there too.
    with pytest.raises(ValueError, match=r"Flow 'odd' has condition_shape=\[4\], but \w+ '\w+' "
                                         r"was built for condition_shape=\[3\]"):
        ts.Flow(ts.StandardNormal([2]), [make([3])], condition_shape=[4], name="odd")
    # Alone, each names the shape it expects.
    x, c = np.zeros([5, 2], "float32"), np.zeros([5, 4], "float32")
    with pytest.raises(ValueError, match=r"expected condition of shape \[(5|None), 3\] .*"
                                         r"received shape \[5, 4\]"):
        make([3]).inverse_and_log_det(x, condition=c)
    assert ts.Flow(ts.StandardNormal([2]), [make([4])], condition_shape=[4]).log_prob(
        x, condition=c).shape == (5,)


def test_a_coupling_refuses_a_condition_shape_no_input_can_have():
    # Built with [2, 3] on a vector event, every call asked for a condition of another shape.
    with pytest.raises(ValueError, match=r"shape \[batch, C\]: condition_shape must be \[C\]; "
                                         r"received \[2, 3\]"):
        ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(hidden_units=[8],
                                                           condition_shape=[2, 3])],
                condition_shape=[2, 3])
    with pytest.raises(ValueError, match=r"must be \[C\] or \[4, 4, C\]; received \[3, 1\]"):
        ts.AffineCoupling(hidden_units=[8], mask="checkerboard",
                          condition_shape=[3, 1]).build((None, 4, 4, 2))


def test_a_flow_refuses_a_coupling_whose_condition_its_own_cannot_be():
    # Accepted, then refused on every call: a vector coupling reading [4] in a flow of [3, 4]
    # (the rule took any last axes), and a coupling over 4 x 4 positions reading [3] in a flow
    # of [3] (it takes one condition per position, [4, 4, 3]).
    with pytest.raises(ValueError, match=r"condition_shape=\[3, 4\], but AffineCoupling .*built "
                                         r"for condition_shape=\[4\];"):
        ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(hidden_units=[8],
                                                           condition_shape=[4])],
                condition_shape=[3, 4])
    image = ts.StandardNormal([4, 4, 2])
    with pytest.raises(ValueError, match=r"condition_shape=\[3\], so it takes one condition of "
                                         r"3 features per position, of shape \[4, 4, 3\]; give "
                                         r"the flow condition_shape=\[4, 4, 3\]"):
        ts.Flow(image, [ts.AffineCoupling(hidden_units=[8], condition_shape=[3])],
                condition_shape=[3])
    for built in ([3], [4, 4, 3]):  # per position: the flow's condition is [4, 4, 3]
        flow = ts.Flow(image, [ts.AffineCoupling(hidden_units=[8], condition_shape=built)],
                       condition_shape=[4, 4, 3])
        assert flow.log_prob(np.zeros([2, 4, 4, 2], "float32"),
                             condition=np.zeros([2, 4, 4, 3], "float32")).shape == (2,)


def test_a_flow_refuses_a_conditional_base_flow_of_another_condition_shape():
    inner = ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(hidden_units=[8],
                                                               condition_shape=[3])],
                    condition_shape=[3])
    with pytest.raises(ValueError, match=r"its base Flow '\w+' takes condition_shape=\[3\]"):
        ts.Flow(inner, [ts.AffineCoupling(hidden_units=[8], condition_shape=[4])],
                condition_shape=[4])
    # A coupling over positions may name only the condition's last axis.
    image = ts.Flow(ts.StandardNormal([4, 4, 2]),
                    [ts.AffineCoupling(hidden_units=[8], mask="checkerboard",
                                       condition_shape=[1])], condition_shape=[4, 4, 1])
    assert image.log_prob(np.zeros([2, 4, 4, 2], "float32"),
                          condition=np.ones([2, 4, 4, 1], "float32")).shape == (2,)


def test_a_bad_condition_is_named_in_log_prob_and_sample():
    flow = conditional_flow()
    x = np.zeros([4, 2], "float32")
    nan = np.zeros([4, 3], "float32")
    nan[2, 1] = np.nan
    for call in (lambda: flow.log_prob(x, condition=nan),
                 lambda: flow.sample(4, seed=(1, 2), condition=nan),
                 lambda: flow.sample_and_log_prob(4, seed=(1, 2), condition=nan)):
        with pytest.raises(ValueError, match=r"condition contains NaN or Inf .*index \(2, 1\)"):
            call()
    integers = np.zeros([4, 3], "int32")
    for call in (lambda: flow.log_prob(x, condition=integers),
                 lambda: flow.sample(4, seed=(1, 2), condition=integers)):
        with pytest.raises(ValueError, match="expected condition as floating-point.*int32"):
            call()
    with pytest.raises(ValueError, match=r"condition has 4 rows but the sample size n is 3; pass one "
                                         r"condition per example \(or one row for all\)"):
        flow.sample(3, seed=(1, 2), condition=np.zeros([4, 3], "float32"))
    with pytest.raises(ValueError, match="is conditional"):
        flow.sample(3, seed=(1, 2))
    assert flow.sample(4, seed=(1, 2), condition=np.ones([4, 3], "float32")).shape == (4, 2)


def test_in_a_graph_the_condition_rows_are_checked_against_n_and_the_data():
    # With the rows known only when the graph ran, a flow over a conditional base returned one
    # draw per condition row whatever n was, and log_prob failed inside a layer.
    keras.utils.set_random_seed(0)
    by_base = ts.Flow(ts.ConditionalNormal([2], ts.MLP([8], 4)), [ts.Reverse()],
                      condition_shape=[3])
    c = np.random.RandomState(0).randn(4, 3).astype("float32")
    sample = tf.function(lambda n, c: by_base.sample(n, seed=(1, 2), condition=c),
                         input_signature=[tf.TensorSpec([], tf.int32), tf.TensorSpec([None, 3])])
    assert sample(4, c[:1]).shape == (4, 2)
    for n, rows in ((4, 3), (2, 4)):
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"needs one row per sample \(or one row for all\); condition "
                                 r"rows, n:\] \[" + str(rows) + r"\] \[" + str(n)):
            sample(n, c[:rows])
    with pytest.raises(ValueError, match="condition has 3 rows but the sample size n is 4"):
        by_base.sample(tf.constant(4), condition=c[:3])
    flow = conditional_flow()
    log_prob = tf.function(lambda x, c: flow.log_prob(x, condition=c),
                           input_signature=[tf.TensorSpec([None, 2]), tf.TensorSpec([None, 3])])
    assert log_prob(np.zeros([4, 2], "float32"), c).shape == (4,)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"needs one row per example; condition rows, data rows:\] \[3\] "
                             r"\[4\]"):
        log_prob(np.zeros([4, 2], "float32"), c[:3])


def test_a_graph_of_unknown_event_dimensions_checks_them_and_runs():
    # A signature of [None, None] made a coupling fail while tracing ("unsupported operand
    # type(s) for -: 'NoneType' and 'int"), and a condition of [4, 1] was never checked.
    flow = conditional_flow()
    x, c = np.random.RandomState(0).randn(4, 2).astype("float32"), np.ones([4, 3], "float32")
    log_prob = tf.function(lambda x, c: flow.log_prob(x, condition=c),
                           input_signature=[tf.TensorSpec([None, None])] * 2)
    np.testing.assert_allclose(log_prob(x, c), flow.log_prob(x, condition=c), rtol=1e-6)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"expected condition of shape \[batch\] \+ \[3\]; received "
                             r"shape:\] \[4 1\]"):
        log_prob(x, c[:, :1])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"expected data x of shape \[batch\] \+ \[2\]; received "
                             r"shape:\] \[4 3\]"):
        log_prob(np.zeros([4, 3], "float32"), c)


def test_one_condition_row_serves_every_sample():
    flow = conditional_flow()
    c = np.random.RandomState(1).randn(1, 3).astype("float32")
    many = np.repeat(c, 5, axis=0)
    for n in (5, tf.constant(5)):
        np.testing.assert_array_equal(flow.sample(n, seed=(1, 2), condition=c),
                                      flow.sample(5, seed=(1, 2), condition=many))
    x, log_p = flow.sample_and_log_prob(5, seed=(1, 2), condition=c)
    np.testing.assert_allclose(log_p, flow.log_prob(x, condition=many), rtol=1e-5, atol=1e-5)
    assert flow.sample(0, seed=(1, 2), condition=c).shape == (0, 2)
    # log_prob keeps one row per example: its data fix the rows.
    with pytest.raises(ValueError, match="condition has 1 rows but the data has 5"):
        flow.log_prob(x, condition=c)

@pytest.mark.parametrize("layer", [lambda: ts.MaxPool2D(), lambda: ts.Squeeze2D()])
def test_unbuilt_spatial_layers_under_unknown_shapes_say_what_to_do(layer):
    t = layer()
    fn = tf.function(lambda x: t.inverse_and_log_det(x)).get_concrete_function
    with pytest.raises(ValueError, match=r"not fully known.*Build the layer first"):
        fn(tf.TensorSpec([None, None, 4, 1], tf.float32))


# Inside an XLA program no check op is emitted (XLA would drop it, warning "Ignoring Assert
# operator" once per op at every compile); plain graphs keep theirs.


def check_ops(concrete):
    graph = concrete.graph.as_graph_def()
    nodes = list(graph.node) + [n for f in graph.library.function for n in f.node_def]
    return sorted(n.op for n in nodes if n.op in ("Assert", "CheckNumerics"))


def test_xla_programs_hold_no_check_ops():
    flow = ts.Flow(ts.StandardNormal([4]), [
        ts.UniformDequantization(8), ts.Augment(1, encoder=ts.ConditionalNormal(
            [1], ts.MLP([8], 2))), ts.ActNorm(), ts.AffineCoupling(hidden_units=[8])])
    spec = tf.TensorSpec([None, 3], tf.int32)
    log_prob = lambda x: flow.log_prob(x, seed=(1, 2), training=True)  # noqa: E731
    assert check_ops(tf.function(log_prob).get_concrete_function(spec))
    assert check_ops(tf.function(log_prob, jit_compile=True).get_concrete_function(spec)) == []
    sample = lambda n: flow.sample(n, seed=(1, 2))  # noqa: E731
    n_spec = tf.TensorSpec([], tf.int32)
    assert check_ops(tf.function(sample).get_concrete_function(n_spec))
    assert check_ops(tf.function(sample, jit_compile=True).get_concrete_function(n_spec)) == []


# Shapes are fixed when XLA compiles: what a graph checks at run time (event shape, rows of a
# condition against the data's, draws against the condition's rows), an XLA program has XLA
# refuse to compile, instead of broadcasting a feature or a row.


def xla(fn, *specs):
    return tf.function(fn, jit_compile=True, input_signature=list(specs))


def test_xla_programs_refuse_another_event_shape():
    flow = ts.Flow(ts.StandardNormal([2]), [ts.Reverse(), ts.ActNorm()])
    flow.log_prob(np.ones([4, 2], "float32"))
    log_prob = xla(flow.log_prob, tf.TensorSpec([None, None]))
    assert log_prob(np.ones([4, 2], "float32")).shape == (4,)
    for width in (1, 3):  # one feature was copied to both dimensions and given a density
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"expected shape \[\?,2\]"):
            log_prob(np.ones([4, width], "float32"))
    view = flow.as_distribution()
    view_log_prob = xla(view.log_prob, tf.TensorSpec([None, None]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"expected shape \[\?,2\]"):
        view_log_prob(np.ones([4, 1], "float32"))


def test_xla_programs_refuse_condition_rows_other_than_the_data():
    keras.utils.set_random_seed(0)
    base = ts.ConditionalNormal([2], ts.MLP([8], 4))
    flow = ts.Flow(base, [ts.Reverse()], condition_shape=[3])
    c = np.random.default_rng(0).normal(size=(3, 3)).astype("float32")
    log_prob = xla(lambda x, c: flow.log_prob(x, condition=c),
                   tf.TensorSpec([None, 2]), tf.TensorSpec([None, 3]))
    np.testing.assert_allclose(log_prob(np.ones([3, 2], "float32"), c),
                               flow.log_prob(np.ones([3, 2], "float32"), condition=c), rtol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="tfp_survae_rows_must_match"):
        log_prob(np.ones([1, 2], "float32"), c)  # gave 3 densities for 1 example
    base_log_prob = xla(lambda x, c: base.log_prob(x, condition=c),
                        tf.TensorSpec([None, 2]), tf.TensorSpec([None, 3]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="tfp_survae_rows_must_match"):
        base_log_prob(np.ones([1, 2], "float32"), c)
    base_sample = xla(lambda n, c: base.sample(n, seed=(1, 2), condition=c),
                      tf.TensorSpec([], tf.int32), tf.TensorSpec([None, 3]))
    assert base_sample(3, c).shape == (3, 2)
    with pytest.raises(tf.errors.InvalidArgumentError, match="tfp_survae_rows_must_match"):
        base_sample(2, c)  # drew one per condition row whatever n was


def test_finite_data_beyond_the_flows_float_range_is_named_as_such():
    # 1e39 in float64 data became Inf in float32 and was reported as "contains NaN or Inf".
    flow = ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(hidden_units=[8])])
    with pytest.raises(ValueError, match=r"data x holds 1e\+39 \(at index \(0, 0\)\), beyond "
                                         r"the range of float32"):
        flow.log_prob(np.array([[1e39, 0.0]]))
    with pytest.raises(ValueError, match=r"data x holds 1e\+39 .*beyond the range of float32"):
        flow.log_prob(tf.constant([[1e39, 0.0]], tf.float64))
    x = np.zeros([300, 2])
    x[250, 1] = -1e39
    flow.compile(keras.optimizers.Adam(1e-3))
    with pytest.raises(ValueError, match=r"fit\(\): data x holds -1e\+39 \(at index \(250, 1\)\)"):
        flow.fit(x, verbose=0)
    flow.check_data(np.array([[3e38, 0.0]]))  # within float32's range: taken


def test_boolean_data_is_told_to_be_cast_not_dequantized():
    flow = ts.Flow(ts.StandardNormal([2]), [ts.Reverse()])
    with pytest.raises(ValueError, match=r"received dtype bool\. Cast the data x to float32\.$"):
        flow.log_prob(np.array([[True, False]]))
