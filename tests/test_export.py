"""SavedModel export: plain-TensorFlow serving with explicit seeds, checked in a fresh process."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfp_survae as ts

SCRIPTS = os.path.join(os.path.dirname(__file__), "scripts")
STATEFUL_RANDOM_OPS = {"RandomUniform", "RandomStandardNormal", "RandomUniformInt",
                       "TruncatedNormal", "Multinomial", "RandomShuffle", "RandomGamma",
                       "RandomPoisson", "RandomPoissonV2", "StatefulUniform",
                       "StatefulStandardNormalV2", "StatefulUniformInt", "StatefulUniformFullInt",
                       "StatefulTruncatedNormal", "RngReadAndSkip", "RngSkip"}


def lower_bound_flow():
    keras.utils.set_random_seed(0)
    return ts.Flow(ts.StandardNormal([3]), [
        ts.UniformDequantization(16),
        ts.Augment(1, encoder=ts.ConditionalNormal([1], ts.MLP([8], 2))),
        ts.AffineCoupling(hidden_units=[8]), ts.ActNorm(),
    ])


def exact_flow():
    keras.utils.set_random_seed(0)
    return ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(hidden_units=[8]), ts.Reverse()])


def graph_ops(path):
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    graph = proto.meta_graphs[0].graph_def
    ops = {node.op for node in graph.node}
    for function in graph.library.function:
        ops |= {node.op for node in function.node_def}
    return ops


@pytest.mark.parametrize("kind", ["lower_bound", "exact"])
def test_export_serves_in_a_fresh_process(kind, tmp_path):
    flow = lower_bound_flow() if kind == "lower_bound" else exact_flow()
    if kind == "lower_bound":
        x = np.random.RandomState(0).randint(0, 16, (6, 2)).astype(np.int32)
    else:
        x = np.random.RandomState(0).randn(6, 2).astype(np.float32)
    flow.initialize(x)
    path = flow.export(str(tmp_path / "model"))
    assert not (graph_ops(path) & STATEFUL_RANDOM_OPS), "stateful random ops in the export"

    inputs, outputs = str(tmp_path / "in.npz"), str(tmp_path / "out.npz")
    np.savez(inputs, x=x)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    subprocess.run([sys.executable, os.path.join(SCRIPTS, "serve_exported.py"), path, inputs,
                    outputs], check=True, env=env, timeout=240)
    served = np.load(outputs)
    assert list(served["leaked"]) == [], f"the server imported {list(served['leaked'])}"
    assert len(served["errors"]) == 2  # wrong event shape, wrong dtype: both rejected in-graph
    seed0 = ts.serving.DEFAULT_SEED
    np.testing.assert_allclose(served["log_prob"], flow.log_prob(x, seed=seed0), rtol=1e-5)
    np.testing.assert_allclose(served["sample"], flow.sample(5, seed=(3, 4)), rtol=1e-6,
                               atol=1e-6)
    np.testing.assert_array_equal(served["signature_sample"], served["sample"])
    if kind == "lower_bound":
        np.testing.assert_allclose(served["log_prob_with_seed"], flow.log_prob(x, seed=(7, 8)),
                                   rtol=1e-5)
        np.testing.assert_allclose(served["iwbo"],
                                   ts.evaluation.iwbo(flow, x, 30, seed=(1, 2), batch_k=100),
                                   rtol=1e-5)
    else:
        assert "iwbo" not in served

    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    shown = subprocess.run([cli if os.path.exists(cli) else "saved_model_cli", "show", "--all",
                            "--dir", path],
                           capture_output=True, text=True, env=env, timeout=240)
    expected = {"log_prob", "sample"} | ({"log_prob_with_seed", "iwbo"}
                                         if kind == "lower_bound" else set())
    for name in expected:
        assert f"signature_def['{name}']" in shown.stdout, shown.stdout[-2000:]


def test_export_rejects_bad_calls_in_process(tmp_path):
    flow = exact_flow()
    loaded = tf.saved_model.load(flow.export(str(tmp_path / "m")))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"x must have shape \[batch, 2\]"):
        loaded.log_prob(tf.zeros([3, 5]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="float tensor but is a int32"):
        loaded.log_prob(tf.zeros([3, 2], tf.int32))
