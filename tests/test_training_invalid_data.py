"""Training on invalid data or with invalid steps: no non-finite weight is ever left behind, the
warning names the batches, a failed fit leaves the model usable, evaluation checks its data."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfp_survae as ts

# The tests train under XLA (compiled executions), whose programs stay in memory until the
# process exits.
pytestmark = pytest.mark.isolated


# fit never leaves non-finite weights, and names the right batches.


def nan_data(bad_value):
    x = np.random.RandomState(0).randn(256, 2).astype("float32")
    x[[17, 200]] = bad_value
    return x


def batches(x, size=64):
    """A dataset: unlike an array, which fit checks whole first, its NaN reach the step."""
    return tf.data.Dataset.from_tensor_slices(x).batch(size)


def small_flow():
    keras.utils.set_random_seed(0)
    return ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(hidden_units=[16]), ts.Reverse(),
                                            ts.AffineCoupling(hidden_units=[16])])


@pytest.mark.parametrize("bad_value", [np.nan, np.inf])
def test_fit_under_xla_applies_no_step_after_a_non_finite_loss(bad_value):
    flow = small_flow()
    # Keras' own loop with per-step XLA: the data checks are compiled away.
    flow.compile(keras.optimizers.Adam(1e-2), steps_per_execution=32, jit_compile=True,
                 compiled_execution=False)  # an execution of the whole epoch
    before = [w.numpy() for w in flow.weights]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        flow.fit(batches(nan_data(bad_value)), epochs=2, verbose=0)
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
        flow.fit(batches(nan_data(bad_value)), epochs=1, verbose=0)  # row 17: batch 0
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
        flow.fit(batches(x), epochs=1, verbose=0)
    assert all(np.all(np.isfinite(w.numpy())) for w in flow.weights)


@pytest.mark.parametrize("compiled_execution", [True, False])
def test_steps_before_the_first_invalid_batch_are_applied_and_none_after(compiled_execution):
    x = np.random.RandomState(0).randn(256, 2).astype("float32")
    x[128:192] *= 1e30  # batch 2 of 0-3 is finite but overflows the likelihood
    flow = small_flow()  # XLA either way: the overflow checks are compiled away
    flow.compile(keras.optimizers.Adam(1e-2), compiled_execution=compiled_execution,
                 jit_compile=True, steps_per_execution=32)  # an execution of the whole epoch
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


# A failed fit does not poison the next one.


def test_a_failed_fit_leaves_the_model_usable():
    flow = small_flow()
    flow.compile(keras.optimizers.Adam(1e-3))
    with pytest.raises(ValueError, match="event shape"):
        flow.fit(np.zeros([64, 3], "float32"), batch_size=32, epochs=1, verbose=0)
    history = flow.fit(np.random.RandomState(0).randn(64, 2).astype("float32"), batch_size=32,
                       epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])


# Evaluation and prediction check their data too.


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


# A step that is not applied changes no state of any layer.


def stateful_flow():
    """Running statistics (BatchNormalization), a data-dependent initialisation (ActNorm) and a
    seed counter (Augment's generator)."""
    keras.utils.set_random_seed(0)
    return ts.Flow(ts.StandardNormal([3]), [
        ts.Augment(1, seed=5), ts.BatchNormalization(), ts.ActNorm(),
        ts.AffineCoupling(hidden_units=[8]),
    ])


def assert_same_variables(flow, reference):
    assert [v.name for v in flow.variables] == [v.name for v in reference.variables]
    for v, r in zip(flow.variables, reference.variables):
        np.testing.assert_allclose(v.numpy(), r.numpy(), rtol=1e-6, atol=1e-7, err_msg=v.path)


@pytest.mark.parametrize("compiled_execution", [True, False])
def test_a_rejected_step_moves_no_running_statistics_and_no_seed(compiled_execution):
    x = np.random.RandomState(0).randn(256, 2).astype("float32")
    x[150, 1] = 3e19  # batch 2 of 0-3: finite, but its variance overflows float32
    flow = stateful_flow()
    flow.compile(keras.optimizers.Adam(1e-2), compiled_execution=compiled_execution,
                 jit_compile=True)
    with pytest.warns(RuntimeWarning, match="training stopped"):
        flow.fit(x, batch_size=64, epochs=2, verbose=0, shuffle=False)
    reference = stateful_flow()  # the same start, trained on batches 0 and 1 alone
    reference.compile(keras.optimizers.Adam(1e-2), compiled_execution=compiled_execution,
                      jit_compile=True)
    reference.fit(x[:128], batch_size=64, epochs=1, verbose=0, shuffle=False)
    assert_same_variables(flow, reference)  # weights, running statistics and seed counters
    assert np.all(np.isfinite(flow.log_prob(x[:128], seed=(1, 2)).numpy()))


@pytest.mark.parametrize("compiled_execution", [True, False])
def test_distributed_fit_applies_no_state_of_a_rejected_step(compiled_execution):
    x = np.random.RandomState(0).randn(256, 2).astype("float32")
    x[150, 1] = 3e19

    def dataset_fn(_=None):
        return tf.data.Dataset.from_tensor_slices(x).batch(64)

    def run(steps):
        return ts.training.distributed_fit(
            stateful_flow, dataset_fn, steps_per_epoch=steps, epochs=1,
            compiled_execution=compiled_execution, verbose=0)

    with pytest.warns(RuntimeWarning, match="training stopped"):
        flow, _ = run(4)
    reference, _ = run(2)
    assert_same_variables(flow, reference)


def test_a_rejected_training_step_does_not_initialise_actnorm():
    flow = stateful_flow()
    optimizer = keras.optimizers.Adam(1e-2)
    optimizer.build(flow.trainable_variables)
    step = tf.function(lambda batch: ts.training.training_step(flow, optimizer, batch))
    before = {v.path: v.numpy() for v in flow.variables}
    bad = np.random.RandomState(0).randn(64, 2).astype("float32")
    bad[3, 1] = 3e19
    assert np.isnan(step(tf.constant(bad)).numpy())
    for v in flow.variables:  # ActNorm's flag, shift and scale included
        np.testing.assert_array_equal(v.numpy(), before[v.path], err_msg=v.path)
    good = np.random.RandomState(1).randn(64, 2).astype("float32") * 3.0 + 1.0
    assert np.isfinite(step(tf.constant(good)).numpy())
    actnorm = flow.chain[2]
    assert actnorm.initialized.numpy() == 1.0
    assert np.all(np.abs(actnorm.log_scale.numpy()) < 3.0)


def test_initialize_on_overflowing_data_leaves_the_flow_as_it_was():
    flow = stateful_flow()
    before = {v.path: v.numpy() for v in flow.variables}
    bad = np.random.RandomState(0).randn(64, 2).astype("float32")
    bad[3, 1] = 3e19
    with pytest.raises(ValueError, match="initialisation was not applied: log p.x. is not "
                                         "finite for 64 of the 64 examples"):
        flow.initialize(bad)
    for v in flow.variables:
        np.testing.assert_array_equal(v.numpy(), before[v.path], err_msg=v.path)
    flow.initialize(bad[4:])
    moved = [v.path for v in flow.variables if not np.array_equal(v.numpy(), before[v.path])]
    assert sorted(path.split("/")[-1] for path in moved) == ["initialized", "log_scale", "shift"]


# Invalid data: the row as the caller knows it, and the batches before it trained on.


def fit_refused_before_any_step(flow, data, message):
    """`fit` on in-memory `data` (shuffled, batches of 16) raises a ValueError matching
    `message` and leaves every weight as it was: the arrays are checked before the first step."""
    before = [w.numpy() for w in flow.weights]
    with pytest.raises(ValueError, match=message):
        flow.fit(data, batch_size=16, epochs=1, verbose=0, shuffle=True)
    for w, b in zip(flow.weights, before):
        np.testing.assert_array_equal(w.numpy(), b)


@pytest.mark.parametrize("compiled_execution", [True, False])
def test_an_invalid_array_row_is_named_as_passed_even_when_shuffled(compiled_execution):
    x = np.random.RandomState(0).randn(512, 2).astype("float32")
    x[300, 1] = np.nan
    flow = small_flow()
    flow.compile(keras.optimizers.Adam(1e-2), compiled_execution=compiled_execution)
    fit_refused_before_any_step(flow, x, r"fit\(\): data x contains NaN or Inf; the first "
                                         r"invalid value, nan, is at row 300 of the data passed "
                                         r"\(index \(300, 1\)\)")
    with pytest.raises(ValueError, match=r"validation_data contains NaN or Inf; the first "
                                         r"invalid value, nan, is at row 300"):
        flow.fit(x[:64], batch_size=16, verbose=0, validation_data=x)


@pytest.mark.parametrize("compiled_execution", [True, False])
def test_batches_before_an_invalid_one_are_trained_on_and_the_batch_is_named(
        compiled_execution):
    x = np.random.RandomState(0).randn(256, 2).astype("float32")
    x[100, 1] = np.nan  # batch 6, row 4 of that batch
    flow = small_flow()
    flow.compile(keras.optimizers.Adam(1e-2), compiled_execution=compiled_execution,
                 steps_per_execution=4)
    with pytest.raises(ValueError, match=r"data x contains NaN or Inf; the first invalid value, "
                                         r"nan, is in epoch 1, batch 6 \(counting from 0\), "
                                         r"row 4 of that batch" if
                       compiled_execution else r"NaN or Inf.* \(in epoch 1, one of batches 4-7"):
        flow.fit(tf.data.Dataset.from_tensor_slices(x).batch(16), epochs=1, verbose=0)
    assert int(flow.optimizer.iterations) == 6
    reference = small_flow()  # the same start, trained on batches 0-5 alone
    reference.compile(keras.optimizers.Adam(1e-2), compiled_execution=compiled_execution,
                      steps_per_execution=4)
    reference.fit(tf.data.Dataset.from_tensor_slices(x[:96]).batch(16), epochs=1, verbose=0)
    for w, r in zip(flow.weights, reference.weights):
        np.testing.assert_allclose(w.numpy(), r.numpy(), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match=r"evaluate\(\): data x contains NaN or Inf; the first "
                                         r"invalid value, nan, is in batch 6 \(counting from "
                                         r"0\), row 4 of that batch" if
                       compiled_execution else r"NaN or Inf.* \(in one of batches 4-7"):
        flow.evaluate(tf.data.Dataset.from_tensor_slices(x).batch(16), verbose=0)


def test_distributed_fit_names_the_step_holding_invalid_data():
    x = np.random.RandomState(0).randn(256, 2).astype("float32")
    x[100, 1] = np.nan  # step 6, row 4 of that step's batch
    with pytest.raises(ValueError, match=r"distributed_fit\(\): data x contains NaN or Inf; "
                                         r"the first invalid value, nan, is in epoch 1, step 6 "
                                         r"\(counting from 0\), row 4"):
        ts.training.distributed_fit(
            small_flow, lambda _: tf.data.Dataset.from_tensor_slices(x).batch(16),
            steps_per_epoch=16, steps_per_execution=4, compiled_execution=True, verbose=0)


def test_invalid_validation_data_is_named_by_its_batch_and_epoch():
    x = np.random.RandomState(0).randn(128, 2).astype("float32")
    validation = x.copy()
    validation[37, 0] = np.inf  # batch 2, row 5 of that batch
    flow = small_flow()
    flow.compile(keras.optimizers.Adam(1e-2), compiled_execution=True)
    with pytest.raises(ValueError, match=r"fit\(\): validation_data contains NaN or Inf; the "
                                         r"first invalid value, inf, is in batch 2 \(counting "
                                         r"from 0\) of the validation at the end of epoch 1, "
                                         r"row 5 of that batch"):
        flow.fit(batches(x, 16), validation_data=batches(validation, 16), verbose=0)


def conditional_flow():
    keras.utils.set_random_seed(0)
    return ts.Flow(ts.StandardNormal([2]), [
        ts.AffineCoupling(hidden_units=[16], condition_shape=[3]), ts.Reverse(),
        ts.AffineCoupling(hidden_units=[16], condition_shape=[3])], condition_shape=[3])


def test_a_condition_holding_nan_is_named_as_the_data_would_be():
    rng = np.random.RandomState(0)
    data = {"x": rng.randn(96, 2).astype("float32"),
            "condition": rng.randn(96, 3).astype("float32")}
    data["condition"][70, 1] = np.nan  # batch 4, row 6 of that batch (batches of 16)
    flow = conditional_flow()
    flow.compile(keras.optimizers.Adam(1e-2), compiled_execution=True, steps_per_execution=4)
    fit_refused_before_any_step(flow, data, r"fit\(\): condition contains NaN or Inf; the "
                                            r"first invalid value, nan, is at row 70 of the "
                                            r"data passed \(index \(70, 1\)\)")
    valid = {"x": data["x"], "condition": np.zeros_like(data["condition"])}
    with pytest.raises(ValueError, match=r"the condition of validation_data contains NaN or "
                                         r"Inf; the first invalid value, nan, is at row 70"):
        flow.fit(valid, batch_size=16, verbose=0, validation_data=data)
    staged = tf.data.Dataset.from_tensor_slices(data).batch(16)
    streamed = staged.map(lambda batch: batch)  # a map: batches are pulled, not staged
    for dataset, compiled_execution in ((staged, True), (streamed, True), (streamed, False)):
        flow = conditional_flow()
        flow.compile(keras.optimizers.Adam(1e-2), compiled_execution=compiled_execution,
                     steps_per_execution=4)
        # Keras' loop names the execution's batches: 4-5, the epoch's last two, not 4-7.
        with pytest.raises(ValueError, match=r"condition contains NaN or Inf; the first invalid "
                                             r"value, nan, is in epoch 1, batch 4 \(counting "
                                             r"from 0\), row 6 of that batch" if
                           compiled_execution else r"condition contains NaN or Inf.* \(in "
                                                   r"epoch 1, one of batches 4-5 \("):
            flow.fit(dataset, epochs=1, verbose=0)
        assert int(flow.optimizer.iterations) == 4
