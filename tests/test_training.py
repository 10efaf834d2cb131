"""Training the Keras way: fit, XLA, callbacks, schedules, checkpoints, mixed precision, faults."""

import glob
import math
import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_survae as ts

# Most tests train under XLA (compiled executions), whose programs stay in memory until the
# process exits.
pytestmark = pytest.mark.isolated


def small_toy_flow():
    keras.utils.set_random_seed(0)
    return ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(hidden_units=[16]), ts.Reverse(),
                                            ts.AffineCoupling(hidden_units=[16])])


def toy_data(n=512):
    return tf.data.Dataset.from_tensor_slices(ts.data.sample_toy("eight_gaussians", n)).batch(64)


def test_fit_metrics_and_steps_per_execution():
    losses = {}
    for steps in (1, 4):
        flow = small_toy_flow()
        flow.compile(keras.optimizers.Adam(1e-2), steps_per_execution=steps)
        history = flow.fit(toy_data(), epochs=2, verbose=0)
        assert set(history.history) == {"loss", "bits_per_dim"}
        losses[steps] = history.history["loss"]
    np.testing.assert_allclose(losses[1], losses[4], rtol=1e-4)
    flow = small_toy_flow()
    flow.compile()
    assert flow.steps_per_execution == ts.training.DEFAULT_STEPS_PER_EXECUTION
    assert isinstance(flow.optimizer, keras.optimizers.Adam)
    result = flow.evaluate(toy_data(), verbose=0, return_dict=True)
    assert result["bits_per_dim"] == pytest.approx(result["loss"] / (2 * math.log(2)), rel=1e-5)
    assert flow.predict(toy_data(128), verbose=0).shape == (128,)


@pytest.mark.parametrize("compiled_execution", [True, False])
def test_reported_losses_are_means_over_examples_with_a_short_last_batch(compiled_execution):
    x = ts.data.sample_toy("eight_gaussians", 250).astype("float32")  # 15 batches of 16, one of 10
    flow = small_toy_flow()
    flow.compile(keras.optimizers.SGD(0.0), compiled_execution=compiled_execution)
    true_nll = -float(tf.reduce_mean(tf.cast(flow.log_prob(x), tf.float64)))
    result = flow.evaluate(x, batch_size=16, verbose=0, return_dict=True)
    assert result["loss"] == pytest.approx(true_nll, rel=1e-5)
    assert result["bits_per_dim"] == pytest.approx(true_nll / (2 * math.log(2)), rel=1e-5)
    history = flow.fit(x, batch_size=16, epochs=1, verbose=0, shuffle=False,
                       validation_data=x, validation_batch_size=16).history
    assert history["loss"][0] == pytest.approx(true_nll, rel=1e-5)  # a learning rate of 0
    assert history["val_loss"][0] == pytest.approx(true_nll, rel=1e-5)


@pytest.mark.parametrize("compiled_execution", [True, False])
def test_an_epoch_runs_the_steps_asked_for(compiled_execution):
    x = ts.data.sample_toy("eight_gaussians", 256).astype("float32")

    def train(steps_per_execution):
        flow = small_toy_flow()
        flow.compile(keras.optimizers.Adam(1e-2), steps_per_execution=steps_per_execution,
                     compiled_execution=compiled_execution)
        repeating = tf.data.Dataset.from_tensor_slices(x).batch(16).repeat()
        flow.fit(repeating, steps_per_epoch=10, epochs=2, verbose=0)
        return flow

    flow = train(32)
    assert int(flow.optimizer.iterations) == 20
    assert flow.steps_per_execution == 32  # as compiled
    one_by_one = train(1)  # the same 20 batches, in the same order
    for w, r in zip(flow.weights, one_by_one.weights):
        np.testing.assert_allclose(w.numpy(), r.numpy(), rtol=1e-5, atol=1e-6)
    result = flow.evaluate(tf.data.Dataset.from_tensor_slices(x).batch(16).repeat(), steps=3,
                           verbose=0, return_dict=True)
    assert result["loss"] == pytest.approx(-float(np.mean(flow.log_prob(x[:48]))), rel=1e-5)


@pytest.mark.parametrize("value,error", [(0, ValueError), (-1, ValueError), (1.5, TypeError),
                                         (True, TypeError), ("2", TypeError)])
def test_bad_step_counts_are_refused(value, error):
    flow = small_toy_flow()
    with pytest.raises(error, match=f"steps_per_execution must .*received .*{value}"):
        flow.compile(steps_per_execution=value)
    flow.compile()
    x = ts.data.sample_toy("eight_gaussians", 64).astype("float32")
    with pytest.raises(error, match=f"steps_per_epoch must .*received .*{value}"):
        flow.fit(x, batch_size=16, steps_per_epoch=value, verbose=0)
    with pytest.raises(error, match=f"steps must .*received .*{value}"):
        flow.evaluate(x, batch_size=16, steps=value, verbose=0)


@pytest.mark.parametrize("compiled_execution", [True, False])
def test_distributed_fit_runs_the_steps_asked_for_and_reports_the_mean_over_examples(
        compiled_execution):
    x = ts.data.sample_toy("eight_gaussians", 250).astype("float32")  # 15 batches of 16, one of 10
    true_nll = -float(tf.reduce_mean(tf.cast(small_toy_flow().log_prob(x), tf.float64)))
    optimizers = []

    def make_optimizer():
        optimizers.append(keras.optimizers.SGD(0.0))
        return optimizers[-1]

    _, history = ts.training.distributed_fit(
        small_toy_flow, lambda _: tf.data.Dataset.from_tensor_slices(x).batch(16),
        steps_per_epoch=16, steps_per_execution=3, make_optimizer=make_optimizer,
        compiled_execution=compiled_execution, verbose=0)
    assert int(optimizers[0].iterations) == 16
    assert history["loss"][0] == pytest.approx(true_nll, rel=1e-5)
    for name, value in (("steps_per_execution", 0), ("steps_per_epoch", -1), ("epochs", 0)):
        with pytest.raises(ValueError, match=f"distributed_fit\\(\\): {name} must lie in "
                                             f"\\[1, .*received {value}"):
            ts.training.distributed_fit(small_toy_flow, None, **{
                "steps_per_epoch": 1, "steps_per_execution": 1, name: value})


def stateful_flow():
    """A flow whose training moves non-trainable state: ActNorm's initialisation, running
    statistics and a seed counter (Augment draws its new dimension while training)."""
    keras.utils.set_random_seed(0)
    return ts.Flow(ts.StandardNormal([3]), [
        ts.Augment(1), ts.ActNorm(), ts.AffineCoupling(hidden_units=[8]),
        ts.BatchNormalization(), ts.Reverse(), ts.AffineCoupling(hidden_units=[8])])


def test_distributed_fit_resumed_from_its_checkpoint_ends_where_an_uninterrupted_run_does(
        tmp_path):
    x = ts.data.sample_toy("eight_gaussians", 128).astype("float32") + 3.0  # 4 steps of 32

    def run(epochs, checkpoint_dir):
        return ts.training.distributed_fit(
            stateful_flow, lambda _: tf.data.Dataset.from_tensor_slices(x).batch(32).repeat(),
            steps_per_epoch=4, epochs=epochs, steps_per_execution=2,
            make_optimizer=lambda: keras.optimizers.Adam(1e-2),
            checkpoint_dir=str(checkpoint_dir), verbose=0)

    whole, whole_history = run(3, tmp_path / "whole")
    run(2, tmp_path / "resumed")  # stopped after epoch 2
    resumed, resumed_history = run(3, tmp_path / "resumed")
    assert len(resumed_history["loss"]) == 1
    np.testing.assert_allclose(resumed_history["loss"], whole_history["loss"][2:], rtol=1e-6)
    assert len(resumed.variables) == len(whole.variables)
    for mine, theirs in zip(resumed.variables, whole.variables):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-6, err_msg=mine.path)
    non_trainable = " ".join(v.path for v in resumed.variables if not v.trainable)
    for name in ("/initialized", "/moving_mean", "/moving_variance"):
        assert name in non_trainable, non_trainable
    assert non_trainable.count("seed_generator_state") == 2, non_trainable  # Augment's, sample's


def test_sample_weights_are_refused():
    flow = small_toy_flow()
    flow.compile(keras.optimizers.Adam(1e-2))
    x = ts.data.sample_toy("eight_gaussians", 64).astype("float32")
    before = [w.numpy() for w in flow.weights]
    for method in ("fit", "evaluate"):
        with pytest.raises(ValueError, match=rf"{method}\(\) takes no sample_weight; received an "
                                             r"array of shape \(64,\).*resample"):
            getattr(flow, method)(x, sample_weight=np.zeros(64), batch_size=16, verbose=0)
    with pytest.raises(ValueError, match="takes no class_weight; received dict"):
        flow.fit(x, class_weight={0: 1.0}, verbose=0)
    for w, b in zip(flow.weights, before):
        np.testing.assert_array_equal(w.numpy(), b)


def conditional_flow():
    keras.utils.set_random_seed(1)
    return ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(
        hidden_units=[8], condition_shape=[3]), ts.Reverse()], condition_shape=[3])


def test_batches_as_tuples_are_refused_with_the_dict_form_shown():
    rng = np.random.RandomState(0)
    x, c = rng.randn(64, 2).astype("float32"), rng.randn(64, 3).astype("float32")
    flow = conditional_flow()
    flow.compile(keras.optimizers.Adam(1e-2))
    shown = (r"received a tuple of 2 elements.*\{'x': x, 'condition': c\} or "
             r"dataset.map\(lambda x, c: \{'x': x, 'condition': c\}\)")
    with pytest.raises(ValueError, match=r"fit\(\): a batch is x alone or a dict .*" + shown):
        flow.fit(tf.data.Dataset.from_tensor_slices((x, c)).batch(16), verbose=0)
    with pytest.raises(ValueError, match=shown):
        flow.fit((x, c), batch_size=16, verbose=0)
    with pytest.raises(ValueError, match=shown):
        flow.evaluate(tf.data.Dataset.from_tensor_slices((x, c)).batch(16), verbose=0)
    with pytest.raises(ValueError, match=r"keys 'x' and .*'condition'; received the keys "
                                         r"\['cond', 'x'\]"):
        flow.fit({"x": x, "cond": c}, batch_size=16, verbose=0)
    history = flow.fit({"x": x, "condition": c}, batch_size=16, verbose=0).history
    assert np.isfinite(history["loss"][0])


@pytest.mark.parametrize("compiled_execution", [False, True])
def test_data_of_another_shape_is_named_as_passed(compiled_execution):
    # The shape checked was the first row's ("received shape [1, 3]" for [256, 3]); an
    # unbatched dataset was said to be of shape [64] (staged) or, in Keras' loop, in TensorFlow's
    # escaped words ("Flow \\'flow\\': ...; received shape:] [2").
    rng = np.random.RandomState(0)
    x, c = rng.randn(256, 2).astype("float32"), rng.randn(256, 3).astype("float32")
    flow = conditional_flow()
    flow.compile(keras.optimizers.Adam(1e-2), compiled_execution=compiled_execution)
    with pytest.raises(ValueError, match=r"fit\(\): expected data x with event shape \[2\] .*"
                                         r"received shape \[256, 3\]"):
        flow.fit({"x": rng.randn(256, 3).astype("float32"), "condition": c}, verbose=0)
    with pytest.raises(ValueError, match=r"expected the condition of data x with event shape "
                                         r"\[3\] .*received shape \[256, 2\]"):
        flow.fit({"x": x, "condition": c[:, :2]}, verbose=0)
    with pytest.raises(ValueError, match=r"fit\(\): the dataset's elements are single examples "
                                         r"\(shape \[2\]\).*dataset.batch\(batch_size\)"):
        flow.fit(tf.data.Dataset.from_tensor_slices({"x": x, "condition": c}), verbose=0)
    with pytest.raises(ValueError, match=r"the elements of validation_data are single examples"):
        flow.fit({"x": x, "condition": c}, verbose=0, validation_data=tf.data.Dataset
                 .from_tensor_slices({"x": x, "condition": c}))
    with pytest.raises(ValueError, match=r"evaluate\(\): the dataset's elements are single"):
        flow.evaluate(tf.data.Dataset.from_tensor_slices({"x": x, "condition": c}), verbose=0)
    plain = ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(hidden_units=[8])])
    plain.compile(keras.optimizers.Adam(1e-2), compiled_execution=compiled_execution)
    with pytest.raises(ValueError, match=r"expected the dataset's elements of rank 2 .*received "
                                         r"shape \[None\]"):  # batched, one feature short
        plain.fit(tf.data.Dataset.from_tensor_slices(x[:, 0]).batch(16), verbose=0)
    with pytest.raises(ValueError, match=r"received a list of 256 elements, which Keras reads "
                                         r"as that many inputs: pass .*np.asarray"):
        plain.fit(x.tolist(), verbose=0)

    def batches():  # shapes a dataset's spec does not show: checked as the batches come
        yield x[:32]
        yield x[:32, :1]
    data = tf.data.Dataset.from_generator(batches, output_signature=tf.TensorSpec([None, None]))
    with pytest.raises(ValueError) as raised:
        plain.fit(data, verbose=0)
    said = str(raised.value)  # compiled executions check eagerly, Keras' loop in the graph
    assert "\\" not in said and re.search(r"\[2\].*received shape:? \[32,? 1\]", said), said


@pytest.mark.parametrize("compiled_execution", [False, True])
def test_a_condition_of_other_rows_or_for_an_unconditional_flow_is_refused(compiled_execution):
    # Compiled executions staged the rows of the first leaf, the condition: 64 rows of x with
    # 60 conditions trained on 60, and 60 with 64 repeated row 59 (Keras' loop failed with
    # "'str' object has no attribute 'shape'"); an unconditional flow trained on, ignoring it.
    rng = np.random.RandomState(0)
    x, c = rng.randn(64, 2).astype("float32"), rng.randn(64, 3).astype("float32")
    flow = conditional_flow()
    flow.compile(keras.optimizers.Adam(1e-2), compiled_execution=compiled_execution)
    for rows_x, rows_c in ((64, 60), (60, 64)):
        with pytest.raises(ValueError, match=f"fit\\(\\): data x has {rows_x} rows but its "
                                             f"condition has {rows_c}"):
            flow.fit({"x": x[:rows_x], "condition": c[:rows_c]}, batch_size=16, verbose=0)
    plain = ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(hidden_units=[8])])
    plain.compile(keras.optimizers.Adam(1e-2), compiled_execution=compiled_execution)
    for data in ({"x": x, "condition": c},
                 tf.data.Dataset.from_tensor_slices({"x": x, "condition": c}).batch(16)
                 .map(lambda b: b)):
        with pytest.raises(ValueError, match=r"takes no condition \(it has no condition_shape"):
            plain.fit(data, batch_size=None if isinstance(data, tf.data.Dataset) else 16,
                      verbose=0)
    with pytest.raises(ValueError, match="takes no condition"):
        plain.log_prob(x, condition=c)
    with pytest.raises(ValueError, match="takes no condition"):
        plain.sample(4, condition=c[:4])
    # An unconditional flow as the base of a conditional one is not handed the condition.
    outer = ts.Flow(plain, [ts.AffineCoupling(hidden_units=[8], condition_shape=[3])],
                    condition_shape=[3])
    assert outer.log_prob(x, condition=c).shape == (64,)
    assert outer.sample(4, seed=(1, 2), condition=c[:4]).shape == (4, 2)


def actnorm_flow():
    keras.utils.set_random_seed(0)
    return ts.Flow(ts.StandardNormal([2]), [ts.ActNorm(), ts.AffineCoupling(hidden_units=[8])])


class Batches(keras.utils.PyDataset):
    def __init__(self, x, batch_size):
        super().__init__()
        self.x, self.batch_size = x, batch_size

    def __len__(self):
        return len(self.x) // self.batch_size

    def __getitem__(self, i):
        return self.x[i * self.batch_size:(i + 1) * self.batch_size]


def test_generators_and_py_datasets_feed_a_flow_that_initialises_on_its_first_batch():
    x = (np.random.RandomState(0).randn(128, 2) * 3.0 + 1.0).astype("float32")

    def generator():
        for start in range(0, 128, 16):
            yield x[start:start + 16]

    reference = actnorm_flow()
    reference.compile(keras.optimizers.Adam(1e-2), steps_per_execution=1)
    reference.fit(x, batch_size=16, epochs=1, verbose=0, shuffle=False)
    for data in (generator(), Batches(x, 16)):
        flow = actnorm_flow()
        flow.compile(keras.optimizers.Adam(1e-2), steps_per_execution=1)
        flow.fit(data, epochs=1, verbose=0, shuffle=False)
        assert int(flow.optimizer.iterations) == 8  # the first batch trained on too
        for w, r in zip(flow.weights, reference.weights):
            np.testing.assert_allclose(w.numpy(), r.numpy(), rtol=1e-5, atol=1e-6)
    flow = actnorm_flow()
    flow.compile()
    with pytest.raises(ValueError, match=r"fit\(\) received a generator that yields no batch"):
        flow.fit((b for b in []), verbose=0)
    with pytest.raises(ValueError, match="received a tuple of 2 elements"):
        flow.fit(((b, b) for b in generator()), verbose=0)
    with pytest.raises(TypeError, match=r"fit\(\) takes an array .*received int"):
        flow.fit(5, verbose=0)


# One flow per transform family, trained under XLA.
FAMILIES = {
    "bijections": lambda: ts.Flow(ts.StandardNormal([4, 4, 4]), [
        ts.ActNorm(), ts.Conv1x1(), ts.AffineCoupling(ts.nn.DenseNet(4, channels=8, depth=1,
                                                                     growth=4)),
        ts.AffineCoupling(ts.nn.DenseNet(8, channels=8, depth=1, growth=4), mask="checkerboard"),
        ts.BijectorTransform(tfp.bijectors.Shift(0.1)),
    ], event_shape=[4, 4, 4]),
    "inference_surjections": lambda: ts.Flow(ts.StandardHalfNormal([2, 4]), [
        ts.Squeeze2D(), ts.Slice(4), ts.Max(axis=-3), ts.Sort(axis=-2, key=0), ts.Abs(),
    ], event_shape=[4, 4, 2]),
    # Each layer sees data in its image: strictly increasing integers stay sorted when
    # dequantized, and dequantized values are non-negative.
    "generative_surjections": lambda: ts.Flow(ts.StandardNormal([3, 4]), [
        ts.UniformDequantization(8), ts.GenerativeSort(), ts.GenerativeAbs(ts.MLP([8], 3)),
        ts.GenerativeMax(3), ts.Augment(1),
    ], event_shape=[3]),
    "stochastic": lambda: ts.Flow(ts.StandardNormal([2]), [
        ts.StochasticPermutation(),
        ts.VAE(ts.ConditionalNormal([2], ts.MLP([8], 4)), ts.ConditionalNormal([4], ts.MLP([8], 8))),
    ], event_shape=[4]),
}
FAMILY_DATA = {
    "bijections": lambda rng: rng.randn(64, 4, 4, 4).astype("float32"),
    "inference_surjections": lambda rng: rng.randn(64, 4, 4, 2).astype("float32"),
    "generative_surjections": lambda rng: np.sort(
        [rng.choice(8, 3, replace=False) for _ in range(64)], axis=-1).astype("int32"),
    "stochastic": lambda rng: rng.randn(64, 4).astype("float32"),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_jit_compiled_training_per_family(family):
    keras.utils.set_random_seed(0)
    flow = FAMILIES[family]()
    data = FAMILY_DATA[family](np.random.RandomState(0))
    flow.compile(keras.optimizers.Adam(1e-3), jit_compile=True, steps_per_execution=2)
    history = flow.fit(tf.data.Dataset.from_tensor_slices(data).batch(16), epochs=2, verbose=0)
    assert flow.jit_compile is True
    assert np.all(np.isfinite(history.history["loss"]))


def test_picture_callbacks(tmp_path):
    flow = small_toy_flow()
    flow.compile(keras.optimizers.Adam(1e-2))
    density = ts.training.DensityPlot2D(str(tmp_path / "density_{epoch}.png"), every=2,
                                        grid_size=40)
    flow.fit(toy_data(), epochs=4, verbose=0, callbacks=[density])
    assert sorted(os.path.basename(p) for p in density.written) == ["density_2.png",
                                                                    "density_4.png"]
    assert all(open(p, "rb").read(4) == b"\x89PNG" for p in density.written)

    images = ts.architectures.maxpool_flow("small", image_shape=(8, 8, 1), num_steps=1)
    images.compile(keras.optimizers.Adam(1e-3))
    grid = ts.training.SampleGrid(str(tmp_path / "samples_{epoch:02d}.png"), num_samples=4)
    board = ts.training.TensorBoardSamples(str(tmp_path / "logs"), num_samples=4)
    data = np.random.RandomState(0).randint(0, 256, (32, 8, 8, 1)).astype("uint8")
    images.fit(tf.data.Dataset.from_tensor_slices(data).batch(16), epochs=2, verbose=0,
               callbacks=[grid, board])
    assert [os.path.basename(p) for p in grid.written] == ["samples_01.png", "samples_02.png"]
    events = glob.glob(str(tmp_path / "logs" / "samples" / "events.*"))
    tags = set()
    for record in tf.data.TFRecordDataset(events):
        event = tf.compat.v1.Event.FromString(record.numpy())
        tags |= {value.tag for value in event.summary.value}
    assert {"samples", "bits_per_dim"} <= tags


def test_warmup_exponential_decay():
    schedule = ts.training.WarmupExponentialDecay(1e-3, warmup_steps=100, decay_rate=0.5,
                                                  decay_steps=1000)
    np.testing.assert_allclose(schedule(0), 1e-5, rtol=1e-6)
    np.testing.assert_allclose(schedule(49), 0.5e-3 * 0.5 ** 0.049, rtol=1e-5)
    np.testing.assert_allclose(schedule(2000), 1e-3 * 0.25, rtol=1e-5)
    clone = ts.training.WarmupExponentialDecay.from_config(schedule.get_config())
    np.testing.assert_allclose(clone(500), schedule(500))
    flow = small_toy_flow()
    flow.compile(keras.optimizers.Adam(schedule))
    flow.fit(toy_data(), epochs=1, verbose=0)
    np.testing.assert_allclose(flow.optimizer.learning_rate, schedule(8), rtol=1e-5)


def test_epoch_shuffle_order_depends_only_on_the_epoch():
    data = np.arange(20)
    first = ts.training.EpochShuffle(data, batch_size=5, seed=1)
    second = ts.training.EpochShuffle(data, batch_size=5, seed=1)
    orders = []
    for shuffle, epoch in ((first, 0), (first, 1), (second, 1)):
        shuffle.on_epoch_begin(epoch)
        orders.append(np.concatenate(list(shuffle.dataset.as_numpy_iterator())))
    assert sorted(orders[0]) == list(range(20))
    assert not np.array_equal(orders[0], orders[1])
    np.testing.assert_array_equal(orders[1], orders[2])


def test_keras_file_keeps_the_optimizer_and_the_random_state(tmp_path):
    flow = ts.Flow(ts.StandardNormal([3]), [ts.Augment(1), ts.AffineCoupling(hidden_units=[8])])
    flow.compile(keras.optimizers.Adam(1e-2))
    flow.fit(toy_data(128), epochs=1, verbose=0)
    path = str(tmp_path / "flow.keras")
    flow.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.optimizer.iterations.numpy() == flow.optimizer.iterations.numpy()
    x = ts.data.sample_toy("corners", 8)
    np.testing.assert_allclose(loaded.log_prob(x), flow.log_prob(x), rtol=1e-6)  # no seed given


def test_mixed_precision_keeps_likelihoods_in_float32():
    for policy in ("mixed_float16", "mixed_bfloat16"):
        keras.mixed_precision.set_global_policy(policy)
        try:
            flow = small_toy_flow()
            network = flow.chain[0].network
            assert network.compute_dtype != "float32"
            log_p = flow.log_prob(ts.data.sample_toy("corners", 16))
            assert log_p.dtype == tf.float32
            flow.compile(keras.optimizers.Adam(1e-3))
            history = flow.fit(toy_data(256), epochs=2, verbose=0)
            assert np.all(np.isfinite(history.history["loss"]))
        finally:
            keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("jit", [False, True])
def test_nan_in_training_data(jit):
    data = ts.data.sample_toy("corners", 256)
    data[77, 1] = np.nan
    flow = small_toy_flow()
    flow.compile(keras.optimizers.Adam(1e-2), jit_compile=jit, steps_per_execution=1,
                 compiled_execution=False)  # Keras' loop: per-step XLA drops the checks
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(32)
    if not jit:
        with pytest.raises(ValueError, match="NaN or Inf"):
            flow.fit(dataset, epochs=1, verbose=0)
    else:  # XLA compiles the check away: the loss turns NaN and training stops, naming batch 2
        with pytest.warns(RuntimeWarning, match="epoch 1, batch 2"):
            history = flow.fit(dataset, epochs=3, verbose=0)
        assert len(history.history["loss"]) == 1
    with pytest.raises(ValueError, match=r"NaN or Inf \(1 values; the first at index \(77, 1\)"):
        flow.log_prob(data)


def test_out_of_range_integers_in_training_data():
    flow = ts.Flow(ts.StandardUniform([2]), [ts.UniformDequantization(16)])
    flow.compile(keras.optimizers.Adam(1e-2))
    data = np.random.RandomState(0).randint(0, 16, (64, 2))
    data[5, 0] = 16
    with pytest.raises(ValueError, match=r"expected data x as integers in \[0, 16\)"):
        flow.fit(tf.data.Dataset.from_tensor_slices(data).batch(32), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="from 0 to 16"):
        flow.log_prob(data)
    with pytest.raises(ValueError, match="integer"):
        flow.log_prob(data.astype("float32"))


def test_odd_image_sizes():
    with pytest.raises(ValueError, match="multiples of 2.*\\[5, 4, 1\\]"):
        ts.Squeeze2D().inverse_and_log_det(np.zeros((1, 5, 4, 1), "float32"))
    with pytest.raises(ValueError, match="even height and width.*\\[4, 3, 2\\]"):
        ts.MaxPool2D().inverse_and_log_det(np.zeros((1, 4, 3, 2), "float32"))


def _conditional_regularised_flow():
    keras.utils.set_random_seed(4)
    net = keras.Sequential([
        keras.layers.Dense(16, activation="tanh", kernel_regularizer=keras.regularizers.L2(0.1)),
        keras.layers.Dense(2)])
    return ts.Flow(ts.StandardNormal([2]), [ts.ActNorm(), ts.AffineCoupling(
        net, condition_shape=[3]), ts.Reverse()], condition_shape=[3])


@pytest.mark.parametrize("policy", ["float32", "mixed_float16"])
def test_distributed_fit_trains_as_fit_does(policy):
    """Conditions, regularisation losses and loss scaling count in distributed_fit as in fit."""
    rng = np.random.RandomState(0)
    data = {"x": rng.randn(64, 2).astype("float32"),
            "condition": rng.randn(64, 3).astype("float32")}

    def dataset(_=None):
        return tf.data.Dataset.from_tensor_slices(data).batch(16).repeat()

    keras.mixed_precision.set_global_policy(policy)
    try:
        flow = _conditional_regularised_flow()
        assert flow.losses  # the L2 penalty is part of the loss
        flow.compile(keras.optimizers.SGD(0.05), steps_per_execution=1)
        flow.fit(dataset(), steps_per_epoch=4, epochs=1, verbose=0)
        trained, _ = ts.training.distributed_fit(
            _conditional_regularised_flow, dataset, steps_per_epoch=4, epochs=1,
            make_optimizer=lambda: keras.optimizers.SGD(0.05), verbose=0)
        if policy == "mixed_float16":
            assert isinstance(flow.optimizer, keras.optimizers.LossScaleOptimizer)
        for a, b in zip(trained.weights, flow.weights):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)
        untrained = _conditional_regularised_flow()
        assert not np.allclose(untrained.weights[-1].numpy(), flow.weights[-1].numpy())
    finally:
        keras.mixed_precision.set_global_policy("float32")
