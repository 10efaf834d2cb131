"""Wrong use is loud: no silently wrong likelihood, no corrupted state after a fault.

One test (or a few) per finding: each failed before its fix.
"""

import warnings

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


# 1. A coupling network of the wrong width is refused when the layer is built.


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


# 2. ActNorm initialises only from training data, with at least 2 examples.


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


# 3. fit never leaves non-finite weights, and names the right batches.


def nan_data(bad_value):
    x = np.random.RandomState(0).randn(256, 2).astype("float32")
    x[[17, 200]] = bad_value
    return x


def small_flow():
    keras.utils.set_random_seed(0)
    return ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(hidden_units=[16]), ts.Reverse(),
                                            ts.AffineCoupling(hidden_units=[16])])


@pytest.mark.parametrize("bad_value", [np.nan, np.inf])
def test_fit_under_xla_applies_no_step_after_a_non_finite_loss(bad_value):
    flow = small_flow()
    # Keras' own loop with per-step XLA: the data checks are compiled away.
    flow.compile(keras.optimizers.Adam(1e-2), jit_compile=True, compiled_execution=False)
    before = [w.numpy() for w in flow.weights]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        flow.fit(nan_data(bad_value), batch_size=64, epochs=2, verbose=0, shuffle=False)
    messages = [str(w.message) for w in caught if "training stopped" in str(w.message)]
    assert messages and "batches 0-3" in messages[0] and "No step with a non-finite" in messages[0]
    assert all(np.all(np.isfinite(w.numpy())) for w in flow.weights)
    assert all(np.all(np.isfinite(v.numpy())) for v in flow.optimizer.variables
               if "float" in str(v.dtype))
    for w, b in zip(flow.weights, before):  # the first batch holds a NaN: nothing was applied
        np.testing.assert_array_equal(w.numpy(), b)


@pytest.mark.parametrize("bad_value", [np.nan, np.inf])
def test_compiled_executions_check_the_data_before_xla(bad_value):
    flow = small_flow()
    flow.compile(keras.optimizers.Adam(1e-2), compiled_execution=True)
    before = [w.numpy() for w in flow.weights]
    with pytest.raises(ValueError, match="data x contains NaN or Inf"):
        flow.fit(nan_data(bad_value), batch_size=64, epochs=1, verbose=0, shuffle=False)
    for w, b in zip(flow.weights, before):
        np.testing.assert_array_equal(w.numpy(), b)


def test_fit_on_finite_but_extreme_data_keeps_finite_weights():
    flow = small_flow()
    flow.compile(keras.optimizers.Adam(1e-2))
    x = np.random.RandomState(1).randn(256, 2).astype("float32") * 1e30
    with pytest.warns(RuntimeWarning, match="training stopped"):
        flow.fit(x, batch_size=64, epochs=1, verbose=0)
    assert all(np.all(np.isfinite(w.numpy())) for w in flow.weights)


def test_the_warning_names_the_batches_of_the_bad_execution():
    flow = small_flow()
    flow.compile(keras.optimizers.Adam(1e-2), jit_compile=True, steps_per_execution=2,
                 compiled_execution=False)
    x = np.random.RandomState(0).randn(256, 2).astype("float32")
    x[150] = np.nan  # batch 2 (of 0-3)
    with pytest.warns(RuntimeWarning, match=r"epoch 1, batches 2-3; training stopped"):
        flow.fit(x, batch_size=64, epochs=1, verbose=0, shuffle=False)
    assert all(np.all(np.isfinite(w.numpy())) for w in flow.weights)


@pytest.mark.parametrize("compiled_execution", [True, False])
def test_steps_before_the_first_invalid_batch_are_applied_and_none_after(compiled_execution):
    x = np.random.RandomState(0).randn(256, 2).astype("float32")
    x[128:192] *= 1e30  # batch 2 of 0-3 is finite but overflows the likelihood
    flow = small_flow()  # XLA either way: the overflow checks are compiled away
    flow.compile(keras.optimizers.Adam(1e-2), compiled_execution=compiled_execution,
                 jit_compile=True)
    with pytest.warns(RuntimeWarning, match="epoch 1, batches 0-3; training stopped"):
        flow.fit(x, batch_size=64, epochs=3, verbose=0, shuffle=False)
    reference = small_flow()  # the same start, trained on batches 0 and 1 alone
    reference.compile(keras.optimizers.Adam(1e-2), compiled_execution=compiled_execution,
                      jit_compile=True)
    reference.fit(x[:128], batch_size=64, epochs=1, verbose=0, shuffle=False)
    for w, r in zip(flow.weights, reference.weights):
        np.testing.assert_allclose(w.numpy(), r.numpy(), rtol=1e-6, atol=1e-7)
    for v, r in zip(flow.optimizer.variables, reference.optimizer.variables):
        np.testing.assert_allclose(v.numpy(), r.numpy(), rtol=1e-6, atol=1e-7)


def test_a_learning_rate_that_overflows_the_weights_is_named():
    flow = small_flow()
    flow.compile(keras.optimizers.SGD(1e38))
    x = np.random.RandomState(0).randn(256, 2).astype("float32") * 1e4  # gradients ~1e4
    with pytest.warns(RuntimeWarning, match="weights are not finite.*learning rate"):
        flow.fit(x, batch_size=64, epochs=1, verbose=0)


# 4. A failed fit does not poison the next one.


def test_a_failed_fit_leaves_the_model_usable():
    flow = small_flow()
    flow.compile(keras.optimizers.Adam(1e-3))
    with pytest.raises(ValueError, match="event shape"):
        flow.fit(np.zeros([64, 3], "float32"), batch_size=32, epochs=1, verbose=0)
    history = flow.fit(np.random.RandomState(0).randn(64, 2).astype("float32"), batch_size=32,
                       epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])


# 5. Single layers check their inputs.


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
    x = np.full([2, 2], 1e3, "float32")
    with pytest.raises(ValueError, match="turned finite inputs into NaN or Inf"):
        coupling.inverse_and_log_det(x)


# 6. Dequantization refuses NaN latents instead of casting them to -2**31.


def test_dequantization_refuses_nan_latents():
    layer = ts.UniformDequantization(8)
    with pytest.raises(ValueError, match="latent z contains NaN"):
        layer.forward(np.array([[0.5, np.nan]], "float32"))
    broken = ts.Flow(ts.TFPDistribution(ts.distributions.base.tfd.Independent(
        ts.distributions.base.tfd.Normal([0.0, float("nan")], 1.0), 1)),
        [ts.UniformDequantization(8)])
    with pytest.raises(ValueError, match="latent z contains NaN"):
        broken.sample(3, seed=(1, 2))


# 7. float64 everywhere, with no float32 constants on the way.


def test_image_preset_in_float64():
    flow = ts.architectures.maxpool_flow("small", dtype="float64")
    x = np.random.RandomState(0).randint(0, 256, [2] + flow.event_shape.as_list()).astype("int32")
    flow.initialize(x)
    assert flow.log_prob(x).dtype == tf.float64


@pytest.mark.parametrize("layer,size,expected", [
    (lambda: ts.Abs(dtype="float64"), 3, -3 * np.log(2.0)),
    (lambda: ts.Max(dtype="float64"), 3, None),
    (lambda: ts.Sort(dtype="float64"), 5, -np.log(120.0)),
])
def test_constants_are_exact_in_float64(layer, size, expected):
    t = layer()
    x = np.abs(np.random.RandomState(0).randn(2, size)) + 0.1
    if isinstance(t, ts.Sort):
        _, v = t.inverse_and_log_det(x)
        np.testing.assert_allclose(v.numpy(), np.full(2, expected), rtol=1e-15)  # not 4.5e-8
    elif isinstance(t, ts.Abs):
        x = x * np.array([1.0, -1.0, 1.0])
        _, v = t.inverse_and_log_det(x)
        np.testing.assert_allclose(v.numpy(), np.full(2, expected), rtol=1e-15)
    else:
        import scipy.stats

        _, v = t.inverse_and_log_det(x)
        gaps = x.max(-1, keepdims=True) - x
        others = np.where(gaps > 0, scipy.stats.halfnorm.logpdf(gaps), 0.0).sum(-1)
        np.testing.assert_allclose(v.numpy(), -np.log(3.0) + others, rtol=1e-14)


# 8. mixed_float16: out-of-range inputs raise instead of giving NaN.


def test_mixed_float16_out_of_range_input_is_an_error():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        encoder = ts.ConditionalNormal([1], ts.MLP([8], 2))
        flow = ts.Flow(ts.StandardNormal([3]), [ts.Augment(1, encoder=encoder)])
        assert np.all(np.isfinite(flow.log_prob(np.ones([2, 2], "float32"), seed=(1, 2))))
        for magnitude in (7e4, 1e6):
            with pytest.raises(ValueError, match=r"in float16 received values beyond 6.55e\+04"):
                flow.log_prob(np.full([2, 2], magnitude, "float32"), seed=(1, 2))
    finally:
        keras.mixed_precision.set_global_policy("float32")


# 9. Errors that tell the user what to change.


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


def test_evaluate_and_predict_on_nan_data_raise_value_errors():
    flow = small_flow()
    flow.compile(keras.optimizers.Adam(1e-3))
    x = nan_data(np.nan)
    with pytest.raises(ValueError, match="data x contains NaN or Inf"):
        flow.evaluate(x, batch_size=64, verbose=0)
    with pytest.raises(ValueError, match="data x contains NaN or Inf"):
        flow.predict(x, batch_size=64, verbose=0)


@pytest.mark.parametrize("method", ["fit", "evaluate", "predict"])
def test_empty_data_raises(method):
    flow = small_flow()
    flow.compile(keras.optimizers.Adam(1e-3))
    with pytest.raises(ValueError, match="no data"):
        getattr(flow, method)(np.zeros([0, 2], "float32"), verbose=0)
    with pytest.raises(ValueError, match="no data"):
        getattr(flow, method)(tf.data.Dataset.from_tensor_slices(np.zeros([0, 2], "float32"))
                              .batch(4), verbose=0)


@pytest.mark.parametrize("layer", [lambda: ts.MaxPool2D(), lambda: ts.Squeeze2D()])
def test_unbuilt_spatial_layers_under_unknown_shapes_say_what_to_do(layer):
    t = layer()
    fn = tf.function(lambda x: t.inverse_and_log_det(x)).get_concrete_function
    with pytest.raises(ValueError, match=r"not fully known.*Build the layer first"):
        fn(tf.TensorSpec([None, None, 4, 1], tf.float32))


# 10. Default networks scale with the image.


def test_default_checkerboard_coupling_scales_with_the_image():
    small = ts.Flow(ts.StandardNormal([4, 4, 1]), [ts.AffineCoupling(mask="checkerboard")])
    large = ts.AffineCoupling(mask="checkerboard")
    large.build((None, 32, 32, 3))
    assert small.count_params() < 50_000
    assert large.count_params() > 3_000_000  # the paper's network at 32 x 32
