"""ELBO, IWBO, bits/dim and dataset evaluation."""

import gc
import math
import weakref

import numpy as np
import pytest
import tensorflow as tf

import tfp_survae as ts


def augmented_flow():
    tf.keras.utils.set_random_seed(0)
    return ts.Flow(ts.StandardNormal([3]), [ts.Augment(1), ts.AffineCoupling(
        ts.MLP([8], 4, output_initializer="glorot_uniform"))])


def test_iwbo_of_an_exact_flow_is_its_log_prob():
    flow = ts.Flow(ts.StandardNormal([2]), [ts.Reverse()])
    x = np.random.randn(4, 2).astype("float32")
    np.testing.assert_allclose(ts.evaluation.iwbo(flow, x, 10), flow.log_prob(x))


def test_iwbo_tightens_with_k_and_chunks_agree():
    flow = augmented_flow()
    x = np.random.RandomState(1).randn(64, 2).astype("float32")
    k1 = np.mean([ts.evaluation.iwbo(flow, x, 1, seed=(i, 1)).numpy() for i in range(20)], 0)
    k50 = ts.evaluation.iwbo(flow, x, 50, seed=(0, 2)).numpy()
    k500 = ts.evaluation.iwbo(flow, x, 500, seed=(0, 3), batch_k=64).numpy()
    k500_whole = ts.evaluation.iwbo(flow, x, 500, seed=(0, 4), batch_k=500).numpy()
    assert k50.mean() > k1.mean() + 0.02
    assert k500.mean() > k50.mean() - 0.02
    assert abs(k500.mean() - k500_whole.mean()) < 0.02
    assert ts.evaluation.iwbo(flow, x, 7, seed=(1, 1), batch_k=3).shape == (64,)
    np.testing.assert_array_equal(ts.evaluation.iwbo(flow, x, 7, seed=(1, 1), batch_k=3),
                                  ts.evaluation.iwbo(flow, x, 7, seed=(1, 1), batch_k=3))


def test_iwbo_arguments():
    flow = augmented_flow()
    with pytest.raises(ValueError, match=r"k .*must lie in \[1, "):
        ts.evaluation.iwbo(flow, np.zeros((2, 2), "float32"), 0)


def test_bits_per_dim():
    np.testing.assert_allclose(ts.evaluation.bits_per_dim(-math.log(2.0) * 6, [2, 3]), 1.0)
    np.testing.assert_allclose(ts.evaluation.bits_per_dim([-math.log(256.0) * 4], 4), [8.0])


def test_evaluate_a_dataset():
    flow = ts.Flow(ts.StandardNormal([2]), [ts.Reverse()])
    data = ts.data.sample_toy("four_circles", 300)
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(64)
    result = ts.evaluation.evaluate(flow, dataset, verbose=0)
    expected = -flow.log_prob(data).numpy().mean()
    assert result["num_examples"] == 300
    assert result["nll"] == pytest.approx(expected, rel=1e-5)
    assert result["bits_per_dim"] == pytest.approx(expected / (2 * math.log(2)), rel=1e-5)
    lower = ts.evaluation.evaluate(augmented_flow(), dataset, k=20, verbose=0)
    assert np.isfinite(lower["nll"])


def test_evaluate_a_conditional_dataset():
    tf.keras.utils.set_random_seed(0)
    coupling = ts.AffineCoupling(ts.MLP([8], 2, output_initializer="glorot_uniform"),
                                 condition_shape=[3])
    flow = ts.Flow(ts.StandardNormal([2]), [coupling], condition_shape=[3])
    rng = np.random.RandomState(0)
    x, c = rng.randn(40, 2).astype("float32"), rng.randn(40, 3).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices({"x": x, "condition": c}).batch(16)
    expected = -flow.log_prob(x, condition=c).numpy().mean()
    for k in (1, 4):  # an exact flow's IWBO is its log_prob
        result = ts.evaluation.evaluate(flow, dataset, k=k, verbose=0)
        assert result["num_examples"] == 40
        assert result["nll"] == pytest.approx(expected, rel=1e-5)
    other = -flow.log_prob(x, condition=c[::-1]).numpy().mean()
    assert abs(other - expected) > 1e-3  # the condition matters
    with pytest.raises(ValueError, match="a batch is x alone or a dict"):
        ts.evaluation.evaluate(flow, tf.data.Dataset.from_tensor_slices((x, c)).batch(16),
                               verbose=0)


def test_iwbo_keeps_nothing_of_a_deleted_flow():
    """The compiled IWBO loop goes with its flow: once the flow is deleted, no trace of it keeps
    its variables alive."""
    flow = augmented_flow()
    ts.evaluation.iwbo(flow, np.zeros([4, 2], "float32"), 3, seed=(1, 2))
    variable = weakref.ref(flow.trainable_variables[0].value.handle)
    del flow
    gc.collect()  # frees the flow, and with it its compiled function ...
    gc.collect()  # ... whose graphs (reference cycles) this pass frees
    assert variable() is None, "iwbo kept a deleted flow's variable alive"
