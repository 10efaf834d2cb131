"""float64 end to end, with no float32 constant on the way; mixed_float16 refuses inputs
beyond float16's range instead of giving NaN."""


import keras
import numpy as np
import pytest
import tensorflow as tf

import tfp_survae as ts


# float64 everywhere, with no float32 constants on the way.


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



def test_dequantization_and_zero_inflated_constants_are_exact_in_float64():
    # A Python float made a tensor before a cast to float64 passes through float32: V of
    # UniformDequantization was off by 1.7e-4 nats at D = 784, the zero logit by 3e-8.
    layer = ts.UniformDequantization(256, dtype="float64")
    _, v = layer.inverse_and_log_det(np.zeros([2, 784], "int32"), seed=(1, 2))
    margin = 4 * 256 * np.finfo(np.float64).eps
    expected = 784 * (np.log1p(-2 * margin) - np.log(256.0))
    np.testing.assert_allclose(v.numpy(), np.full(2, expected), rtol=1e-15)
    zero = ts.ZeroInflated(ts.StandardHalfNormal([3], dtype="float64"),
                           initial_zero_probability=0.3)
    np.testing.assert_allclose(zero.zero_probability.numpy(), np.full(3, 0.3), rtol=1e-15)

# mixed_float16: out-of-range inputs raise instead of giving NaN.


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


@pytest.mark.isolated  # compiled executions are XLA programs
@pytest.mark.parametrize("compiled_execution", [False, True])
def test_fit_evaluate_and_predict_of_a_float64_flow_see_float64_data(compiled_execution):
    # Keras casts float arrays to its float type (float32): a float64 flow was evaluated on
    # 1e10 for 1e10 + 0.25 (predict - log_prob: 2.5e9), and its loss averaged in float32.
    x = np.array([[1e10 + 0.25, 0.0], [1e10 + 0.5, 1.0], [3.0 + 1e-9, 2.0]])
    flow = ts.Flow(ts.StandardNormal([2], dtype="float64"), [ts.Reverse(dtype="float64")],
                   dtype="float64")
    flow.compile(keras.optimizers.Adam(1e-3), compiled_execution=compiled_execution)
    log_p = flow.log_prob(x).numpy()
    predicted = flow.predict(x, verbose=0)
    assert predicted.dtype == np.float64
    np.testing.assert_array_equal(predicted, log_p)
    loss = flow.evaluate(x, verbose=0, return_dict=True)["loss"]
    np.testing.assert_allclose(loss, -log_p.mean(), rtol=1e-14)
    assert keras.config.floatx() == "float32"  # as it was
