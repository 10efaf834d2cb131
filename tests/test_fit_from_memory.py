"""`fit` on data in memory (arrays, tensors, `from_tensor_slices(...).batch(...)`): the compiled
program slices its batches itself, with the batches, order and results of the streaming path;
and the batches per execution chosen so that an epoch shows progress."""

import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfp_survae as ts

# Each fit compiles XLA programs, which stay in memory until the process exits.
pytestmark = pytest.mark.isolated

ROWS = 5 * 32 + 8  # five batches of 32 and a short one of 8


def _flow(condition_shape=None):
    keras.utils.set_random_seed(0)
    extra = {} if condition_shape is None else {"condition_shape": condition_shape}
    return ts.Flow(ts.StandardNormal([2]), [ts.ActNorm(), ts.AffineCoupling(
        hidden_units=[8], **extra), ts.Reverse(), ts.AffineCoupling(hidden_units=[8], **extra)],
        **extra)


def _data(conditional=False):
    rng = np.random.RandomState(0)
    x = rng.randn(ROWS, 2).astype("float32") * [1.0, 3.0] + 2.0
    if not conditional:
        return x
    return {"x": x, "condition": rng.randn(ROWS, 3).astype("float32")}


class _Seen(keras.callbacks.Callback):
    """The train function's kind and the batch-end calls of each epoch."""

    def __init__(self):
        super().__init__()
        self.kinds, self.calls = set(), []

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(0)

    def on_train_batch_end(self, batch, logs=None):
        self.kinds.add(getattr(self.model.train_function, "kind", None))
        self.calls[-1] += 1


def _fit(data, flow=None, steps_per_execution=4, epochs=2, **kwargs):
    flow = flow or _flow()
    flow.compile(keras.optimizers.Adam(1e-2), steps_per_execution=steps_per_execution,
                 compiled_execution=True)
    seen = _Seen()
    history = flow.fit(data, epochs=epochs, verbose=0, callbacks=[seen], **kwargs)
    return flow, history.history, seen


def _batches(data, orders, batch_size=32):
    """A generator (streaming data) of the batches of `data` in each epoch's order of rows."""
    for order in orders:
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            yield tf.nest.map_structure(lambda a: a[rows], data)


def _assert_same_weights(a, b):
    for u, v in zip(a.weights, b.weights):
        np.testing.assert_allclose(u.numpy(), v.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("conditional", [False, True])
def test_in_memory_data_trains_staged_as_its_streamed_batches(conditional):
    data = _data(conditional)
    flow = _flow([3] if conditional else None)
    in_order = np.arange(ROWS)
    streamed, stream_history, stream_seen = _fit(
        _batches(data, [in_order] * 2), flow, steps_per_epoch=6)
    for staged_data in (data, tf.data.Dataset.from_tensor_slices(data).batch(32),
                        tf.data.Dataset.from_tensor_slices(data).cache().batch(32).prefetch(2)):
        kwargs = {} if isinstance(staged_data, tf.data.Dataset) else {"batch_size": 32,
                                                                       "shuffle": False}
        staged, history, seen = _fit(staged_data, _flow([3] if conditional else None),
                                     **kwargs)
        assert seen.kinds == {"staged"} and stream_seen.kinds == {"program"}
        assert int(staged.optimizer.iterations) == 12  # the short last batch trained
        np.testing.assert_allclose(history["loss"], stream_history["loss"], rtol=1e-5)
        _assert_same_weights(staged, streamed)


def test_arrays_are_shuffled_with_a_new_permutation_each_epoch():
    data = _data()

    def initialised():  # on the same rows, whatever the order
        flow = _flow()
        flow.initialize(data[:32])
        return flow

    staged, streamed = initialised(), initialised()
    np.random.seed(7)  # the permutations come from NumPy's global generator
    staged, history, seen = _fit(data, staged, batch_size=32, epochs=3)
    assert seen.kinds == {"staged"}
    np.random.seed(7)
    orders = [np.random.permutation(ROWS) for _ in range(3)]
    assert not np.array_equal(orders[0], orders[1])
    streamed, stream_history, _ = _fit(_batches(data, orders), streamed, epochs=3,
                                       steps_per_epoch=6)
    np.testing.assert_allclose(history["loss"], stream_history["loss"], rtol=1e-5)
    _assert_same_weights(staged, streamed)
    in_order, _, _ = _fit(data, initialised(), batch_size=32, epochs=3, shuffle=False)
    assert not np.allclose(in_order.weights[-1].numpy(), staged.weights[-1].numpy())


def test_a_dataset_that_maps_streams_and_a_taken_dataset_stages_what_it_takes():
    data = _data()
    _, _, seen = _fit(tf.data.Dataset.from_tensor_slices(data).batch(32).map(lambda x: x))
    assert seen.kinds == {"program"}
    taken = tf.data.Dataset.from_tensor_slices(data).batch(32, drop_remainder=True).take(3)
    staged, history, seen = _fit(taken)
    streamed, stream_history, _ = _fit(_batches(data[:96], [np.arange(96)] * 2),
                                       steps_per_epoch=3)
    assert seen.kinds == {"staged"} and int(staged.optimizer.iterations) == 6
    _assert_same_weights(staged, streamed)


def test_validation_split_and_validation_data_of_staged_arrays():
    data = _data()
    staged, history, seen = _fit(data, batch_size=16, validation_split=0.25, shuffle=False)
    assert seen.kinds == {"staged"}
    at = int(ROWS * 0.75)  # Keras validates on the last rows
    streamed, stream_history, _ = _fit(data[:at], batch_size=16, shuffle=False,
                                       validation_data=data[at:],
                                       steps_per_epoch=-(-at // 16))
    np.testing.assert_allclose(history["val_loss"], stream_history["val_loss"], rtol=1e-5)
    _assert_same_weights(staged, streamed)


def test_an_invalid_row_of_a_staged_dataset_fails_its_batch_after_the_batches_before():
    data = _data()
    data[70, 1] = np.nan  # batch 2, row 6
    flow = _flow()
    flow.compile(keras.optimizers.Adam(1e-2), steps_per_execution=4, compiled_execution=True)
    with pytest.raises(ValueError, match=r"NaN or Inf.*epoch 1, batch 2 \(counting from 0\), "
                                         r"row 6 of that batch.*were trained on"):
        flow.fit(tf.data.Dataset.from_tensor_slices(data).batch(32), verbose=0)
    assert int(flow.optimizer.iterations) == 2


def test_an_epoch_shows_progress_unless_steps_per_execution_is_given():
    data = np.tile(_data(), [4, 1])[: 32 * 32]  # an epoch of 32 batches
    _, _, seen = _fit(data, steps_per_execution=None, batch_size=32)
    assert seen.calls == [11, 11]  # executions of 32 // 10 = 3 batches
    _, _, seen = _fit(data, steps_per_execution=32, batch_size=32)
    assert seen.calls == [1, 1]
    _, _, seen = _fit(tf.data.Dataset.from_tensor_slices(data).batch(32).repeat(),
                      steps_per_execution=None, steps_per_epoch=20)
    assert seen.calls == [10, 10]  # 2 batches per execution, dividing the epoch
    flow = _flow()
    flow.compile(keras.optimizers.Adam(1e-2))
    assert flow.get_compile_config()["steps_per_execution"] is None
    flow.compile(keras.optimizers.Adam(1e-2), steps_per_execution=8)
    assert flow.get_compile_config()["steps_per_execution"] == 8


class _SizeAtEpochEnd(keras.callbacks.Callback):
    """The batches per execution of each epoch; no batch hook, so it watches no batch."""

    def __init__(self):
        super().__init__()
        self.sizes = []

    def on_epoch_end(self, epoch, logs=None):
        self.sizes.append(self.model.steps_per_execution)


def test_a_short_epoch_runs_smaller_executions_only_when_something_watches_its_batches():
    data = np.tile(_data(), [4, 1])  # an epoch of 21 batches of 32
    flow = _flow()
    flow.compile(keras.optimizers.Adam(1e-2), compiled_execution=True)
    for verbose, extra, size in ((0, [], 32), (2, [], 32), (1, [], 2), (0, [_Seen()], 2)):
        sizes = _SizeAtEpochEnd()
        flow.fit(data, batch_size=32, epochs=1, verbose=verbose, callbacks=[sizes, *extra])
        assert sizes.sizes == [size], (verbose, extra)


COUNT_COMPILATIONS = """
import keras, numpy as np, tensorflow as tf
import tfp_survae as ts
keras.utils.set_random_seed(0)
flow = ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(hidden_units=[8])])
flow.compile(keras.optimizers.Adam(1e-2), steps_per_execution=1, compiled_execution=True)
x = np.random.RandomState(0).randn(5 * 32 + 8, 2).astype("float32")
flow.fit(x, batch_size=32, epochs=2, verbose=0)
"""


def test_an_epoch_of_in_memory_data_compiles_one_program_per_batch_size(tmp_path):
    """Every execution of a staged epoch runs the same XLA program: its position in the data
    is an argument of the program, not a constant compiled into it (a program compiled anew
    for each execution made the first epoch of 6 executions compile 6 programs)."""
    dump = tmp_path / "xla"
    env = dict(os.environ, XLA_FLAGS=f"--xla_dump_to={dump}", TF_CPP_MIN_LOG_LEVEL="3")
    subprocess.run([sys.executable, "-c", COUNT_COMPILATIONS], env=env, check=True,
                   timeout=600)
    compiled = {m.group(1) for name in os.listdir(dump)
                if (m := re.match(r"module_(\d+)\.", name))}
    assert len(compiled) == 2  # batches of 32, and the short last one of 8


YNNPACK_DOTS = "--xla_cpu_experimental_ynn_fusion_type=dot"  # docs/faq.md#faster-cpu-dots

TRAIN_AND_SHOW_DOTS = """
import json
import keras, numpy as np, tensorflow as tf
import tfp_survae as ts
keras.utils.set_random_seed(0)
flow = ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(hidden_units=[32, 32]), ts.Reverse(),
                                        ts.AffineCoupling(hidden_units=[32, 32])])
flow.compile(keras.optimizers.Adam(1e-2), compiled_execution=True)
x = ts.data.sample_toy("checkerboard", 64 * 64, seed=0)
loss = flow.fit(x, batch_size=64, epochs=1, verbose=0, shuffle=False).history["loss"][-1]
log_prob = tf.function(lambda x: flow.log_prob(x), jit_compile=True)
hlo = log_prob.experimental_get_compiler_ir(tf.constant(x[:64]))(stage="optimized_hlo")
print(json.dumps({"loss": loss, "ynnpack_products": hlo.count("__ynn_fusion")}))
"""


@pytest.mark.slow
def test_the_faster_cpu_products_the_faq_names_are_used_and_train_the_same_flow():
    """With the XLA flag docs/faq.md recommends for CPUs, TensorFlow's XLA computes matrix
    products as YNNPACK fusions (without it, as plain XLA operations), and fit trains the same
    flow to the same loss up to the order of float32 sums."""
    results = {}
    for flags in ("", YNNPACK_DOTS):
        env = dict(os.environ, XLA_FLAGS=flags, TF_CPP_MIN_LOG_LEVEL="3")
        done = subprocess.run([sys.executable, "-c", TRAIN_AND_SHOW_DOTS], env=env, check=True,
                              timeout=600, capture_output=True, text=True)
        results[flags] = json.loads(done.stdout.strip().splitlines()[-1])
    assert results[""]["ynnpack_products"] == 0
    assert np.isfinite(results[""]["loss"])
    np.testing.assert_allclose(results[YNNPACK_DOTS]["loss"], results[""]["loss"], rtol=1e-3)
    if results[YNNPACK_DOTS]["ynnpack_products"] == 0 and not _has_avx512():
        pytest.skip("XLA made no YNNPACK fusion on this CPU without AVX-512 (the FAQ's figures "
                    "come from one with it)")
    assert results[YNNPACK_DOTS]["ynnpack_products"] > 0


def _has_avx512() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return " avx512f" in f.read()
    except OSError:
        return False
