"""Compiled executions (`compile(compiled_execution=True)`): an execution's batches are pulled,
stacked and checked, and one XLA program trains on them; the same training as Keras' loop."""

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfp_survae as ts
from test_training import FAMILIES, FAMILY_DATA

# XLA programs stay in memory until the process exits.
pytestmark = pytest.mark.isolated


def _train(family, compiled_execution, data, steps_per_execution, epochs=2):
    keras.utils.set_random_seed(0)
    flow = FAMILIES[family]()
    flow.compile(keras.optimizers.Adam(1e-3), steps_per_execution=steps_per_execution,
                 compiled_execution=compiled_execution, jit_compile=True)
    history = flow.fit(data, epochs=epochs, verbose=0)
    return flow, history.history["loss"]


class RecordingNetwork(keras.layers.Layer):
    """A coupling network that records each time its Python runs (each trace of a step) and
    whether AutoGraph had converted the code calling it."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(2, kernel_initializer="zeros")
        self.converted = []

    def build(self, input_shape):
        self.dense.build(input_shape)

    def call(self, x):
        self.converted.append(any("__autograph_generated" in frame.filename
                                  for frame in inspect.stack()))
        return self.dense(x)


@pytest.mark.parametrize("compiled_execution", [True, False])
def test_the_step_is_traced_once_and_without_autograph_as_in_keras_loop(compiled_execution):
    keras.utils.set_random_seed(0)
    network = RecordingNetwork()
    flow = ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(network=network)])
    flow.compile(keras.optimizers.Adam(1e-3), steps_per_execution=2,
                 compiled_execution=compiled_execution)
    traced_before = len(network.converted)
    flow.fit(np.random.RandomState(0).randn(64, 2).astype("float32"), batch_size=32,
             epochs=2, verbose=0)
    during_fit = network.converted[traced_before:]
    assert during_fit == [False], during_fit  # one trace, AutoGraph off


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_the_loss_curve_matches_keras_loop_with_a_short_last_batch(family):
    rng = np.random.RandomState(0)
    data = np.concatenate([FAMILY_DATA[family](rng), FAMILY_DATA[family](rng)[:24]])
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(16)  # 5 batches of 16, one of 8
    ours, compiled_losses = _train(family, True, dataset, steps_per_execution=4)
    keras_loop, loop_losses = _train(family, False, dataset, steps_per_execution=4)
    assert int(ours.optimizer.iterations) == int(keras_loop.optimizer.iterations)
    if ours.trainable_variables:
        assert int(ours.optimizer.iterations) == 12  # 6 batches, 2 epochs
    # Deterministic families agree to rounding; stochastic layers draw from the same seeds,
    # but XLA and TensorFlow's kernels need not compute the same random values.
    tolerance = 0.05 if family in ("stochastic", "generative_surjections") else 1e-4
    np.testing.assert_allclose(compiled_losses, loop_losses, rtol=tolerance)


def test_every_batch_trains_once_whatever_the_execution_boundaries():
    data = ts.data.sample_toy("eight_gaussians", 5 * 32 + 8).astype("float32")

    def make_flow():
        keras.utils.set_random_seed(0)
        return ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(hidden_units=[8])])

    # The reference: plain eager SGD steps over the six batches (the last one short), no Keras
    # loop and no compiled execution.
    flow = make_flow()
    initial = [w.numpy() for w in flow.weights]
    optimizer = keras.optimizers.SGD(1e-2)
    for start in range(0, len(data), 32):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(flow.log_prob(data[start:start + 32]))
        optimizer.apply(tape.gradient(loss, flow.trainable_variables), flow.trainable_variables)
    reference = [w.numpy() for w in flow.weights]
    assert any(not np.allclose(w, r) for w, r in zip(initial, reference))

    for steps_per_execution in (1, 2, 3, 6, 32):
        flow = make_flow()
        flow.compile(keras.optimizers.SGD(1e-2), steps_per_execution=steps_per_execution,
                     compiled_execution=True)
        flow.fit(tf.data.Dataset.from_tensor_slices(data).batch(32), epochs=1, verbose=0)
        assert int(flow.optimizer.iterations) == 6, steps_per_execution
        for w, r in zip(flow.weights, reference):
            np.testing.assert_allclose(w.numpy(), r, rtol=1e-5, atol=1e-6,
                                       err_msg=f"steps_per_execution={steps_per_execution}")


def test_conditional_data_and_evaluate():
    rng = np.random.RandomState(0)
    data = {"x": rng.randn(80, 2).astype("float32"), "condition": rng.randn(80, 3)
            .astype("float32")}
    results = []
    for compiled_execution in (True, False):
        keras.utils.set_random_seed(1)
        flow = ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(
            hidden_units=[8], condition_shape=[3]), ts.Reverse()], condition_shape=[3])
        flow.compile(keras.optimizers.Adam(1e-2), steps_per_execution=3,
                     compiled_execution=compiled_execution)
        dataset = tf.data.Dataset.from_tensor_slices(data).batch(32)
        flow.fit(dataset, epochs=2, verbose=0)
        results.append(flow.evaluate(dataset, verbose=0, return_dict=True)["loss"])
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5)


@pytest.mark.parametrize("policy", ["float32", "mixed_float16"])
def test_distributed_fit_with_one_replica_runs_compiled_executions_as_its_loop(policy):
    data = ts.data.sample_toy("eight_gaussians", 320).astype("float32")

    def dataset(_=None):
        return tf.data.Dataset.from_tensor_slices(data).batch(32).repeat()

    def make_flow():
        keras.utils.set_random_seed(3)
        return ts.Flow(ts.StandardNormal([2]), [ts.ActNorm(), ts.AffineCoupling(
            hidden_units=[16]), ts.Reverse(), ts.AffineCoupling(hidden_units=[16])])

    keras.mixed_precision.set_global_policy(policy)
    try:
        runs = {}
        for setting in (True, False):
            runs[setting] = ts.training.distributed_fit(
                make_flow, dataset, steps_per_epoch=7, epochs=2, steps_per_execution=3,
                compiled_execution=setting, verbose=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    (ours, ours_history), (loop, loop_history) = runs[True], runs[False]
    tolerance = 1e-2 if policy == "mixed_float16" else 1e-4  # XLA rounds differently
    np.testing.assert_allclose(ours_history["loss"], loop_history["loss"], rtol=tolerance)
    untrained = make_flow()
    untrained.initialize(data[:32])
    for a, b in zip(ours.weights, loop.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=tolerance, atol=tolerance / 10)
    assert not np.allclose(ours.weights[-1].numpy(), untrained.weights[-1].numpy())


def test_compiled_execution_needs_one_replica():
    from tfp_survae.training import compiled

    class TwoReplicas:
        num_replicas_in_sync = 2

    flow = ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(hidden_units=[8])])
    assert not compiled.resolve_for_strategy(True, TwoReplicas(), flow)
    assert compiled.resolve_for_strategy(True, tf.distribute.get_strategy(), flow)
    with pytest.raises(ValueError, match="compiled_execution is True, False or 'auto'"):
        compiled.resolve_for_strategy("yes", tf.distribute.get_strategy(), flow)


def test_auto_chooses_the_execution_by_model(monkeypatch):
    from tfp_survae.training import compiled

    data = ts.data.sample_toy("eight_gaussians", 64).astype("float32")
    chosen = {}
    for limit in (10_000_000, 10):  # the small flow is under the first, over the second
        monkeypatch.setattr(compiled, "AUTO_MAX_PARAMETERS", limit)
        flow = ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(hidden_units=[8])])
        flow.compile(keras.optimizers.Adam(1e-3))  # compiled_execution="auto"
        flow.fit(data, batch_size=32, epochs=1, verbose=0)
        chosen[limit] = getattr(flow.train_function, "kind", "Keras' loop")
    assert chosen == {10_000_000: compiled.PROGRAM, 10: "Keras' loop"}
    monkeypatch.setattr(compiled, "AUTO_MAX_PARAMETERS", 10_000_000)
    images = ts.architectures.maxpool_flow("small", image_shape=(8, 8, 1), num_steps=1)
    images.compile(keras.optimizers.Adam(1e-3))  # convolutions: one XLA program per step
    images.fit(np.zeros([32, 8, 8, 1], "int32"), batch_size=16, epochs=1, verbose=0)
    assert images.train_function.kind == compiled.STEPS


def test_a_convolutional_flow_checks_its_data_before_xla():
    images = ts.architectures.maxpool_flow("small", image_shape=(8, 8, 1), num_steps=1)
    images.compile(keras.optimizers.Adam(1e-3), compiled_execution=True)
    data = np.random.RandomState(0).randint(0, 256, [32, 8, 8, 1]).astype("int32")
    data[5, 3, 3, 0] = 256  # batch 0
    images.initialize(data[16:])  # ActNorm, which fit would otherwise do on the first batch
    before = [w.numpy() for w in images.weights]
    with pytest.raises(ValueError, match=r"integers in \[0, 256\)"):
        images.fit(tf.data.Dataset.from_tensor_slices(data).batch(16), epochs=1, verbose=0)
    for w, b in zip(images.weights, before):
        np.testing.assert_array_equal(w.numpy(), b)
    assert images.train_function is None  # dropped with the failed call
