"""Serving never wedges or lies: checked endpoints, canonical seeds, bounded sizes, threads."""

import concurrent.futures
import resource

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_survae as ts

INVALID = tf.errors.InvalidArgumentError


def abs_flow():
    return ts.Flow(ts.StandardHalfNormal([2]), [ts.Abs()])


def lower_bound_flow():
    keras.utils.set_random_seed(0)
    return ts.Flow(ts.StandardNormal([3]), [
        ts.Augment(1, encoder=ts.ConditionalNormal([1], ts.MLP([8], 2))),
        ts.AffineCoupling(hidden_units=[8]),
    ])


@pytest.fixture(scope="module")
def served_abs(tmp_path_factory):
    flow = abs_flow()
    return flow, tf.saved_model.load(flow.export(str(tmp_path_factory.mktemp("abs"))))


@pytest.fixture(scope="module")
def served_bound(tmp_path_factory):
    flow = lower_bound_flow()
    path = flow.export(str(tmp_path_factory.mktemp("bound")), max_sample_size=50,
                       max_iwbo_k=40)
    return flow, tf.saved_model.load(path)


# ------------------------------------------------------------------------------------------------
# Shapes: wrong shapes are rejected, in the export and in the compiled functions.


@pytest.mark.parametrize("shape", [[3, 3], [3, 1], [3], [2, 3, 2], []])
def test_served_log_prob_rejects_wrong_shapes(served_abs, shape):
    flow, served = served_abs
    x = tf.ones(shape)
    for call in (lambda: served.log_prob(x), lambda: served.signatures["log_prob"](x=x),
                 lambda: flow.log_prob_function()(x),
                 lambda: flow.log_prob_function(with_seed=True)(x, tf.constant([1, 2]))):
        with pytest.raises(INVALID, match=r"x must have shape \[batch, 2\]"):
            call()


def test_served_endpoints_reject_bad_seeds_counts_and_dtypes(served_bound):
    flow, served = served_bound
    x = tf.ones([4, 2])
    with pytest.raises(INVALID, match="seed must be a pair"):
        served.sample(tf.constant(3), tf.constant([1, 2, 3]))
    with pytest.raises(INVALID, match="seed must be a pair"):
        served.log_prob_with_seed(x, tf.constant(5))
    with pytest.raises(INVALID, match="n must be a scalar"):
        served.sample(tf.constant([3]), tf.constant([1, 2]))
    with pytest.raises(INVALID, match="float tensor but is a int32"):
        served.log_prob(tf.ones([4, 2], tf.int32))
    with pytest.raises(INVALID, match="seed must be a pair"):
        flow.sample_function()(tf.constant(3), tf.constant([1]))



# ------------------------------------------------------------------------------------------------
# Values: NaN, Inf, integers out of range and empty batches are refused before XLA runs.


def dequantized_flow():
    return ts.Flow(ts.StandardUniform([2]), [ts.UniformDequantization(4)])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_compiled_and_served_log_prob_refuse_nan_and_inf(served_bound, bad):
    flow, served = served_bound
    x = np.ones([3, 2], "float32")
    x[1, 0] = bad
    for call in (lambda: flow.log_prob_function()(x),
                 lambda: flow.log_prob_function(with_seed=True)(x, tf.constant([1, 2])),
                 lambda: served.log_prob(x), lambda: served.log_prob_with_seed(x, [1, 2]),
                 lambda: served.iwbo(x, tf.constant(3), tf.constant([1, 2]))):
        with pytest.raises(INVALID, match="x contains NaN or Inf"):
            call()


def test_compiled_and_served_log_prob_refuse_integers_out_of_range(tmp_path):
    flow = dequantized_flow()
    served = tf.saved_model.load(flow.export(str(tmp_path / "m")))
    x = tf.constant([[0, 3], [1, 7]], tf.int32)
    for call in (lambda: flow.log_prob_function()(x), lambda: served.log_prob(x),
                 lambda: served.iwbo(x, tf.constant(2), tf.constant([1, 2]))):
        with pytest.raises(INVALID, match=r"x must hold integers in \[0, 4\).*0.*to.*7"):
            call()
    np.testing.assert_allclose(flow.log_prob_function()(x[:1]), [-np.log(16.0)], atol=1e-4)


def test_compiled_and_served_log_prob_refuse_an_empty_batch(served_bound):
    flow, served = served_bound
    with pytest.raises(ValueError, match="empty batch"):
        flow.log_prob(np.zeros([0, 2], "float32"))
    empty = tf.zeros([0, 2])
    for call in (lambda: flow.log_prob_function()(empty), lambda: served.log_prob(empty),
                 lambda: served.iwbo(empty, tf.constant(3), tf.constant([1, 2]))):
        with pytest.raises(INVALID, match="x is an empty batch"):
            call()


def test_log_prob_inside_a_users_xla_function_gives_nan_for_invalid_examples():
    # No check op runs inside XLA: invalid examples come out NaN, never a density (the
    # uniform base alone would give -inf).
    flow = ts.Flow(ts.StandardUniform([2]), [ts.BijectorTransform(tfp.bijectors.Invert(
        tfp.bijectors.Sigmoid()))])
    x = np.array([[0.1, -0.3], [np.nan, 0.2], [0.5, np.inf]], "float32")
    log_p = tf.function(flow.log_prob, jit_compile=True)(x).numpy()
    assert np.isfinite(log_p[0]) and np.isnan(log_p[1:]).all()
    discrete = dequantized_flow()
    log_p = tf.function(lambda v: discrete.log_prob(v, seed=(1, 2)), jit_compile=True)(
        tf.constant([[0, 3], [1, 7], [-1, 0]], tf.int32)).numpy()
    assert np.isfinite(log_p[0]) and np.isnan(log_p[1:]).all()

# ------------------------------------------------------------------------------------------------
# Importance samples: a bad k gives an error, never NaN.


@pytest.mark.parametrize("k", [0, -5, 41])
def test_served_iwbo_rejects_k_out_of_range(served_bound, k):
    _, served = served_bound
    with pytest.raises(INVALID, match=r"k must lie in \[1, 40\]"):
        served.iwbo(tf.ones([2, 2]), tf.constant(k), tf.constant([1, 2]))


def test_local_iwbo_rejects_bad_k():
    flow = lower_bound_flow()
    x = np.ones([2, 2], "float32")
    with pytest.raises(ValueError, match="k .*must lie in"):
        ts.evaluation.iwbo(flow, x, 2**31, seed=(1, 2))
    with pytest.raises(ValueError, match="k .*must lie in"):
        ts.evaluation.iwbo(flow, x, 0, seed=(1, 2))
    for k in (1.5, True, "3"):
        with pytest.raises(TypeError, match="k .*must be an integer"):
            ts.evaluation.iwbo(flow, x, k, seed=(1, 2))


# ------------------------------------------------------------------------------------------------
# Sample sizes: bounded before anything is allocated.


def test_sample_size_is_bounded(served_bound, served_abs):
    flow, served = served_bound
    with pytest.raises(INVALID, match=r"n must lie in \[0, 50\]"):
        served.sample(tf.constant(51), tf.constant([1, 2]))
    _, served_default = served_abs
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    with pytest.raises(INVALID, match=r"n must lie in \[0, 100000\].*max_sample_size"):
        served_default.sample(tf.constant(10**9), tf.constant([1, 2]))
    # 10**9 draws of 2 floats would take 8 GB: refused before anything is allocated.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 1024**2
    with pytest.raises(INVALID, match=r"n must lie in \[0, 7\]"):
        flow.sample_function(max_sample_size=7)(tf.constant(8), tf.constant([1, 2]))
    assert served.sample(tf.constant(0), tf.constant([1, 2])).shape == (0, 2)
    with pytest.raises(ValueError, match="max_sample_size must lie in"):
        flow.export("unused", max_sample_size=0)


@pytest.mark.parametrize("n", [1.5, "3", True, 1e9])
def test_local_sample_rejects_non_integer_n(n):
    with pytest.raises(TypeError, match="n must be an integer"):
        abs_flow().sample(n, seed=(1, 2))


def test_local_sample_rejects_negative_n():
    with pytest.raises(ValueError, match=r"n must lie in \[0, "):
        abs_flow().sample(-1, seed=(1, 2))


# ------------------------------------------------------------------------------------------------
# Seeds: one conversion; the same draws locally and served.

EXTREME_SEEDS = [(-1, 2), (2**31 - 1, 5), (123456, -7), (-(2**31), 0), (0, 0)]


@pytest.mark.parametrize("seed", EXTREME_SEEDS)
def test_seeds_give_the_same_draws_locally_and_served(served_bound, seed):
    flow, served = served_bound
    local = flow.sample(16, seed=seed)
    remote = served.sample(tf.constant(16), tf.constant(seed, tf.int32))
    np.testing.assert_allclose(remote, local, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(flow.sample(16, seed=tf.constant(seed, tf.int32)), local,
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(flow.sample(16, seed=np.array(seed, np.int64)), local,
                               rtol=1e-6, atol=1e-6)
    x = np.random.RandomState(1).randn(5, 2).astype("float32")
    np.testing.assert_allclose(served.log_prob_with_seed(x, tf.constant(seed, tf.int32)),
                               flow.log_prob(x, seed=seed), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(served.iwbo(x, tf.constant(7), tf.constant(seed, tf.int32)),
                               ts.evaluation.iwbo(flow, x, 7, seed=seed, batch_k=100),
                               rtol=1e-5, atol=1e-5)
    compiled = flow.sample_function(jit_compile=False)(tf.constant(16), tf.constant(seed))
    np.testing.assert_allclose(compiled, local, rtol=1e-6, atol=1e-6)



def stochastic_flow(base=None):
    """Both directions sample: Slice's forward draws the dropped element from its decoder,
    Augment's inverse draws the new one from its encoder."""
    keras.utils.set_random_seed(1)
    return ts.Flow(base or ts.StandardNormal([3]), [
        ts.Slice(2, decoder=ts.ConditionalNormal([1], ts.MLP([8], 2))),
        ts.Augment(1, encoder=ts.ConditionalNormal([1], ts.MLP([8], 2))),
        ts.AffineCoupling(hidden_units=[8]),
    ], event_shape=[3])


@pytest.mark.parametrize("seed", EXTREME_SEEDS[:3])
def test_xla_compiled_functions_draw_as_eager(seed):
    # XLA and TensorFlow's kernels draw the same philox bits but made other floats of them.
    flow = stochastic_flow()
    x = np.random.RandomState(2).randn(6, 3).astype("float32")
    sample = flow.sample_function()  # jit_compile=True
    np.testing.assert_allclose(sample(tf.constant(9), tf.constant(seed)),
                               flow.sample(9, seed=seed), rtol=1e-5, atol=1e-5)
    log_prob = flow.log_prob_function(with_seed=True)
    np.testing.assert_allclose(log_prob(tf.constant(x), tf.constant(seed)),
                               flow.log_prob(x, seed=seed), rtol=1e-5, atol=1e-5)


def test_xla_sample_function_draws_tfp_samplers_as_eager():
    # TFP's samplers draw other numbers under XLA: its base is drawn before the XLA program.
    flow = stochastic_flow(tfp.distributions.MultivariateNormalDiag(tf.zeros(3)))
    for seed in EXTREME_SEEDS[:3]:
        np.testing.assert_allclose(flow.sample_function()(tf.constant(6), tf.constant(seed)),
                                   flow.sample(6, seed=seed), rtol=1e-5, atol=1e-5)
    # A TFP distribution inside a transform: that flow runs without XLA.
    decoder = ts.TFPDistribution(tfp.distributions.Independent(
        tfp.distributions.Normal([1.0], [2.0]), 1))
    inner = ts.Flow(ts.StandardNormal([2]), [ts.Slice(2, decoder=decoder)], event_shape=[3])
    np.testing.assert_allclose(inner.sample_function()(tf.constant(6), tf.constant([3, 4])),
                               inner.sample(6, seed=(3, 4)), rtol=1e-6, atol=1e-6)

def test_an_int_seed_is_the_pair_with_zero():
    flow = lower_bound_flow()
    np.testing.assert_array_equal(flow.sample(4, seed=5), flow.sample(4, seed=(5, 0)))


@pytest.mark.parametrize("seed,error", [
    ((1.5, 2), TypeError), ((1, 2.0), TypeError), ((True, 2), TypeError), ("12", TypeError),
    ((1, 2, 3), ValueError), ((2**31, 0), ValueError), ((0, -(2**31) - 1), ValueError),
    (2**40, ValueError), (np.array([1.0, 2.0]), TypeError),
    (tf.constant([1.0, 2.0]), TypeError), (tf.constant([1, 2, 3]), ValueError),
    (tf.constant([2**31, 1], tf.int64), ValueError),
])
def test_bad_seeds_raise(seed, error):
    flow = lower_bound_flow()
    x = np.ones([2, 2], "float32")
    with pytest.raises(error, match="seed"):
        flow.sample(2, seed=seed)
    with pytest.raises(error, match="seed"):
        flow.log_prob(x, seed=seed)
    with pytest.raises(error, match="seed"):
        ts.evaluation.iwbo(flow, x, 3, seed=seed)


# ------------------------------------------------------------------------------------------------
# Threads: a rejected request never blocks another thread.


def test_concurrent_clients_with_bad_requests_never_wedge(served_bound):
    flow, served = served_bound
    rng = np.random.RandomState(3)
    xs = [rng.randn(4, 2).astype("float32") for _ in range(8)]
    seeds = [tf.constant([i, -i], tf.int32) for i in range(8)]
    expected_lp = [served.log_prob_with_seed(x, s).numpy() for x, s in zip(xs, seeds)]
    expected_sample = [served.sample(tf.constant(3), s).numpy() for s in seeds]
    bad_requests = [
        lambda: served.log_prob(tf.ones([4, 3])),
        lambda: served.log_prob(tf.ones([4, 2], tf.float64)),
        lambda: served.sample(tf.constant(3), tf.constant([1, 2, 3])),
        lambda: served.sample(tf.constant(10**6), tf.constant([1, 2])),
        lambda: served.iwbo(tf.ones([4, 2]), tf.constant(0), tf.constant([1, 2])),
        lambda: served.log_prob_with_seed(tf.ones([4, 2]), tf.constant(3)),
    ]

    def client(worker):
        wrong, rejected = 0, 0
        for i in range(200):
            if i % 4 == 3:
                try:
                    bad_requests[(worker + i) % len(bad_requests)]()
                except INVALID:
                    rejected += 1
            elif i % 2:
                got = served.log_prob_with_seed(xs[worker], seeds[worker]).numpy()
                wrong += not np.array_equal(got, expected_lp[worker])
            else:
                got = served.sample(tf.constant(3), seeds[worker]).numpy()
                wrong += not np.array_equal(got, expected_sample[worker])
        return wrong, rejected

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(client, w) for w in range(8)]
        # A wedged endpoint blocks its callers forever: the timeout turns that into a failure
        # (no per-call time limit: a loaded machine makes single calls take seconds).
        outcomes = [f.result(timeout=300) for f in futures]
    assert sum(o[0] for o in outcomes) == 0
    assert sum(o[1] for o in outcomes) == 8 * 50


def test_a_conditional_flow_serves_with_its_condition_last(tmp_path):
    keras.utils.set_random_seed(0)
    flow = ts.Flow(ts.StandardNormal([3]), [
        ts.Augment(1), ts.AffineCoupling(ts.MLP([8], 4, output_initializer="glorot_uniform"),
                                         condition_shape=[2])], condition_shape=[2])
    rng = np.random.RandomState(0)
    x, c = rng.randn(5, 2).astype("float32"), rng.randn(5, 2).astype("float32")
    seed = tf.constant([1, 2])
    log_prob = flow.log_prob(x, seed=seed, condition=c)
    assert np.max(np.abs(log_prob - flow.log_prob(x, seed=seed, condition=c[::-1]))) > 1e-3
    sample = flow.sample(5, seed=seed, condition=c)
    np.testing.assert_allclose(flow.log_prob_function(with_seed=True)(x, seed, c), log_prob,
                               rtol=1e-5)
    np.testing.assert_allclose(flow.sample_function()(tf.constant(5), seed, c), sample,
                               rtol=1e-4, atol=1e-5)
    served = tf.saved_model.load(flow.export(str(tmp_path)))
    np.testing.assert_allclose(served.log_prob_with_seed(x, seed, c), log_prob, rtol=1e-5)
    np.testing.assert_allclose(served.log_prob(x, c), flow.log_prob(
        x, seed=ts.serving.DEFAULT_SEED, condition=c), rtol=1e-5)
    np.testing.assert_allclose(served.sample(tf.constant(5), seed, c), sample, rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(served.sample_with_temperature(tf.constant(5), seed, 1.0, c),
                               sample, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(served.iwbo(x, tf.constant(4), seed, c), ts.evaluation.iwbo(
        flow, x, 4, seed=seed, condition=c, batch_k=100), rtol=1e-5)
    nan = c.copy()
    nan[3, 1] = np.nan
    for endpoint, condition, message in (
            (served.log_prob, c[:3], "log_prob: condition must have one row per row of x"),
            (served.log_prob, c[:, :1], r"log_prob: condition must have shape \[batch, 2\]"),
            (served.log_prob, nan, "log_prob: condition contains NaN or Inf")):
        with pytest.raises(INVALID, match=message):
            endpoint(x, condition)
    with pytest.raises(INVALID, match="sample: condition must have n rows, one per sample, "
                                      "or one row for all"):
        served.sample(tf.constant(4), seed, c)
    # One row for all samples, as flow.sample takes it.
    one = flow.sample(5, seed=seed, condition=c[:1])
    np.testing.assert_array_equal(one, flow.sample(5, seed=seed, condition=np.repeat(c[:1], 5, 0)))
    np.testing.assert_allclose(served.sample(tf.constant(5), seed, c[:1]), one, rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(served.sample_with_temperature(tf.constant(5), seed, 1.0, c[:1]),
                               one, rtol=1e-4, atol=1e-5)
