"""Flow: composition, exactness, shapes, bases, saving, training."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_survae as ts

tfb = tfp.bijectors
tfd = tfp.distributions


def coupling_flow(dim=2, steps=2, **kwargs):
    transforms = []
    for _ in range(steps):
        transforms += [ts.AffineCoupling(ts.MLP([16], 2 * (dim - dim // 2),
                                                output_initializer="glorot_uniform")),
                       ts.Reverse()]
    return ts.Flow(ts.StandardNormal([dim]), transforms[:-1], **kwargs)


def test_log_prob_and_sample_shapes():
    flow = coupling_flow()
    x = np.random.randn(5, 2).astype("float32")
    assert flow.log_prob(x).shape == (5,)
    assert flow(x).shape == (5,)
    sample = flow.sample(7, seed=(1, 2))
    assert sample.shape == (7, 2) and sample.dtype == tf.float32
    np.testing.assert_array_equal(sample, flow.sample(7, seed=(1, 2)))
    assert not np.array_equal(flow.sample(7), flow.sample(7))  # own generator advances
    x_s, log_p = flow.sample_and_log_prob(9, seed=(3, 4))
    np.testing.assert_allclose(log_p, flow.log_prob(x_s), rtol=1e-5, atol=1e-5)



@pytest.mark.parametrize("kind", ["exact", "lower_bound", "discrete"])
def test_zero_samples_are_an_empty_batch(kind):
    flow = {"exact": lambda: coupling_flow(),
            "lower_bound": lambda: ts.Flow(ts.StandardNormal([3]), [ts.Augment(1)]),
            "discrete": lambda: ts.Flow(ts.StandardUniform([2]),
                                        [ts.UniformDequantization(4)])}[kind]()
    dtype = tf.int32 if kind == "discrete" else tf.float32
    for x in (flow.sample(0, seed=(1, 2)), flow.sample_and_log_prob(0, seed=(1, 2))[0],
              flow.as_distribution().sample(0, seed=(1, 2))):
        assert x.shape == (0, 2) and x.dtype == dtype
    assert flow.sample_and_log_prob(0, seed=(1, 2))[1].shape == (0,)
    assert flow.as_distribution().sample([0, 3], seed=(1, 2)).shape == (0, 3, 2)

def test_algorithm_1_sums_the_contributions():
    flow = coupling_flow(steps=2)
    x = np.random.randn(4, 2).astype("float32")
    total, z = 0.0, tf.constant(x)
    for t in flow.chain:
        z, v = t.inverse_and_log_det(z)
        total += v
    expected = total + ts.StandardNormal([2]).log_prob(z)
    np.testing.assert_allclose(flow.log_prob(x), expected, rtol=1e-6)


def test_is_exact_reflects_the_transforms():
    assert coupling_flow().is_exact
    assert ts.Flow(ts.StandardNormal([2]), [ts.Slice(2)], event_shape=[3]).is_exact
    augmented = ts.Flow(ts.StandardNormal([3]), [ts.Augment(1)])
    assert not augmented.is_exact
    assert not ts.Flow(augmented, [ts.Reverse()]).is_exact
    assert not ts.Flow(ts.StandardUniform([3]), [ts.UniformDequantization(4)]).is_exact


def test_flow_as_base_of_another_flow():
    inner = coupling_flow()
    outer = ts.Flow(inner, [ts.BijectorTransform(tfb.Shift(1.0)), ts.ActNorm()])
    x = np.random.randn(6, 2).astype("float32")
    outer.log_prob(x)  # initialise ActNorm
    z, v = tf.constant(x), 0.0
    for t in outer.chain:
        z, part = t.inverse_and_log_det(z)
        v += part
    np.testing.assert_allclose(outer.log_prob(x), v + inner.log_prob(z), rtol=1e-5, atol=1e-5)
    assert outer.sample(3, seed=(0, 1)).shape == (3, 2)
    assert len(outer.trainable_weights) == len(inner.trainable_weights) + 2


def test_tfp_distribution_base():
    base = tfd.MultivariateNormalDiag(loc=[1.0, -1.0], scale_diag=[2.0, 0.5])
    flow = ts.Flow(base, [ts.Reverse()])
    x = np.random.randn(5, 2).astype("float32")
    np.testing.assert_allclose(flow.log_prob(x), base.log_prob(x[:, ::-1]), rtol=1e-6)
    assert flow.sample(4, seed=(1, 1)).shape == (4, 2)


def test_trainable_base_layer():
    base = ts.DiagonalNormal([2])
    flow = ts.Flow(base, [ts.Reverse()])
    assert {w.path.split("/")[-1] for w in flow.trainable_weights} == {"loc", "log_scale"}


def test_sequential_is_flattened():
    inner = ts.Sequential([ts.AffineCoupling(), ts.Reverse()])
    flow = ts.Flow(ts.StandardNormal([2]), [inner, ts.AffineCoupling()])
    assert len(flow.chain) == 3



def test_sequential_runs_the_flows_loop_with_its_seeds():
    keras.utils.set_random_seed(2)
    parts = [ts.Slice(2, decoder=ts.ConditionalNormal([1], ts.MLP([8], 2))),
             ts.Augment(1, encoder=ts.ConditionalNormal([1], ts.MLP([8], 2))),
             ts.AffineCoupling(ts.MLP([8], 4, output_initializer="glorot_uniform"))]
    nested = ts.Sequential([ts.Sequential(parts[:2]), parts[2]])
    flow = ts.Flow(ts.StandardNormal([3]), [nested], event_shape=[3])
    x = np.random.RandomState(0).randn(5, 3).astype("float32")
    z, v = nested.inverse_and_log_det(x, seed=(3, 4))
    np.testing.assert_allclose(flow.log_prob(x, seed=(3, 4)), v + flow.base.log_prob(z),
                               rtol=1e-6)
    z2, v2 = ts.Sequential(parts).inverse_and_log_det(x, seed=(3, 4))
    np.testing.assert_array_equal(z2, z)
    np.testing.assert_array_equal(v2, v)
    latent = np.random.RandomState(1).randn(5, 3).astype("float32")
    np.testing.assert_array_equal(nested.forward(latent, seed=(1, 1)),
                                  ts.Sequential(parts).forward(latent, seed=(1, 1)))


def test_summary_shows_every_layers_shapes_and_weights():
    flow = ts.Flow(ts.DiagonalNormal([2]), [ts.Sequential([ts.AffineCoupling(hidden_units=[8]),
                                                           ts.Reverse()]), ts.Slice(2)],
                   event_shape=[3])
    printed = []
    flow.summary(print_fn=lambda text, **_: printed.append(text))
    lines = "".join(printed).splitlines()
    base, group, cut = (flow.base.name, flow.transforms[0].name, flow.transforms[1].name)
    rows = {line.split()[1]: line for line in lines if line.startswith("│")}
    assert "(None, 2)" in rows[base] and rows[base].split()[-2] == "4"
    assert "((None, 3), (None))" in rows[group] and rows[group].split()[-2] == "52"
    assert "((None, 2), (None))" in rows[cut]
    assert not any("?" in line or "unbuilt" in line for line in lines)

def test_event_shape_inference_and_errors():
    for layer in (ts.Slice(2), ts.Max(axis=-1)):
        with pytest.raises(ValueError, match="event_shape=") as error:
            ts.Flow(ts.StandardNormal([2]), [layer])
        assert str(error.value).count("event_shape=") == 1, str(error.value)
    with pytest.raises(ValueError, match="base has event shape"):
        ts.Flow(ts.StandardNormal([3]), [ts.Slice(2)], event_shape=[4])
    flow = ts.Flow(ts.StandardNormal([2]), [ts.Slice(2)], event_shape=[4])
    assert flow.event_shape == (4,)
    with pytest.raises(ValueError, match=r"event shape \[4\].*received shape \[3, 5\]"):
        flow.log_prob(np.zeros((3, 5), "float32"))
    with pytest.raises(ValueError, match="rank 2"):
        flow.log_prob(np.zeros((4,), "float32"))
    # A base of another size than the data: a layer's complaint says where its shape came from.
    with pytest.raises(ValueError, match=r"output width to 4\. \(It was built in a flow whose "
                                         r"data shape, \[3\], was inferred from the base's "
                                         r"event shape \[3\]\.\)"):
        ts.Flow(ts.StandardNormal([3]), [ts.AffineCoupling(ts.MLP([8], 2))])


def test_transforms_are_a_list_and_a_call_takes_the_batch_dict():
    # One transform in place of a list failed with "'Reverse' object is not iterable"; calling
    # the model with the dict fit and predict take was refused as data of "dtype object".
    with pytest.raises(TypeError, match=r"takes its transforms as a list.*received Reverse\. "
                                        r"Pass \[transform\]"):
        ts.Flow(ts.StandardNormal([2]), ts.Reverse())
    assert ts.Flow(ts.StandardNormal([2]), (t for t in [ts.Reverse()])).transforms
    keras.utils.set_random_seed(0)
    flow = ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(ts.MLP([8], 2),
                                                              condition_shape=[3])],
                   condition_shape=[3])
    rng = np.random.RandomState(0)
    x, c = rng.randn(4, 2).astype("float32"), rng.randn(4, 3).astype("float32")
    np.testing.assert_array_equal(flow({"x": x, "condition": c}), flow.log_prob(x, condition=c))
    np.testing.assert_allclose(flow.predict({"x": x, "condition": c}, verbose=0),
                               flow.log_prob(x, condition=c), rtol=1e-6)


def test_a_conditional_flow_hands_its_condition_only_to_the_layers_that_read_one():
    # An unconditional coupling beside a conditional one refused the condition the flow
    # handed every layer, so every log_prob, sample and fit failed.
    keras.utils.set_random_seed(0)
    reads = ts.AffineCoupling(hidden_units=[8], condition_shape=[3])
    ignores = ts.AffineCoupling(hidden_units=[8])
    flow = ts.Flow(ts.StandardNormal([2]), [reads, ts.Reverse(), ignores], condition_shape=[3])
    rng = np.random.RandomState(0)
    x, c = rng.randn(64, 2).astype("float32"), rng.randn(64, 3).astype("float32")
    z, v_reads = reads.inverse_and_log_det(x, condition=c)
    z, v_reverse = ts.Reverse().inverse_and_log_det(z)
    z, v_ignores = ignores.inverse_and_log_det(z)
    expected = tfd_normal_log_prob(z) + v_reads + v_reverse + v_ignores
    np.testing.assert_allclose(flow.log_prob(x, condition=c), expected, rtol=1e-5, atol=1e-5)
    samples, log_p = flow.sample_and_log_prob(5, seed=(1, 2), condition=c[:1])
    np.testing.assert_allclose(flow.log_prob(samples, condition=np.repeat(c[:1], 5, 0)), log_p,
                               rtol=1e-4, atol=1e-4)
    flow.compile(keras.optimizers.Adam(1e-3), compiled_execution=False)
    assert np.isfinite(flow.fit({"x": x, "condition": c}, batch_size=16, verbose=0)
                       .history["loss"][0])
    # A conditional base behind an unconditional coupling.
    behind = ts.Flow(ts.ConditionalNormal([2], ts.MLP([8], 4)),
                     [ts.AffineCoupling(hidden_units=[8])], condition_shape=[3])
    assert behind.log_prob(x, condition=c).shape == (64,)


def tfd_normal_log_prob(z):
    return tfp.distributions.Normal(0.0, 1.0).log_prob(z).numpy().sum(-1)


def test_dtype_errors():
    flow = coupling_flow()
    with pytest.raises(ValueError, match="floating-point.*int32"):
        flow.log_prob(tf.zeros((2, 2), tf.int32))
    discrete = ts.Flow(ts.StandardUniform([2]), [ts.UniformDequantization(4)])
    with pytest.raises(ValueError, match="integer.*float32"):
        discrete.log_prob(tf.zeros((2, 2), tf.float32))
    with pytest.raises(ValueError, match=r"\[0, 4\).*from 0 to 7"):
        discrete.log_prob(np.array([[0, 7]]))
    with pytest.raises(TypeError, match="Transform layers"):
        ts.Flow(ts.StandardNormal([2]), [keras.layers.Dense(2)])
    with pytest.raises(TypeError, match="base"):
        ts.Flow("normal", [])


@pytest.mark.parametrize("exact", [True, False])
def test_keras_save_and_load(tmp_path, exact):
    if exact:
        flow = ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(), ts.Reverse(), ts.ActNorm()])
    else:
        flow = ts.Flow(
            ts.DiagonalNormal([3]),
            [ts.Augment(1, encoder=ts.ConditionalNormal([1], ts.MLP([8], 2))),
             ts.AffineCoupling()],
        )
    x = np.random.randn(5, 2).astype("float32") * 3.0
    before = flow.log_prob(x, seed=(1, 2))  # (also initialises ActNorm)
    path = str(tmp_path / "flow.keras")
    flow.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, ts.Flow)
    np.testing.assert_allclose(loaded.log_prob(x, seed=(1, 2)), before, rtol=1e-6)
    np.testing.assert_allclose(loaded.sample(3, seed=(4, 4)), flow.sample(3, seed=(4, 4)),
                               rtol=1e-6)


def test_fit_lowers_the_negative_log_likelihood():
    keras.utils.set_random_seed(0)
    flow = coupling_flow(steps=3)
    data = ts.data.toy_dataset("eight_gaussians", 2048, 128)
    flow.compile(keras.optimizers.Adam(3e-3))
    history = flow.fit(data, epochs=4, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0] - 0.3
    assert "bits_per_dim" in history.history
    np.testing.assert_allclose(history.history["bits_per_dim"][-1],
                               losses[-1] / (2 * np.log(2.0)), rtol=1e-4)
    result = flow.evaluate(data, verbose=0, return_dict=True)
    assert result["loss"] == pytest.approx(losses[-1], abs=0.3)


def test_compile_refuses_a_loss():
    with pytest.raises(ValueError, match="no loss"):
        coupling_flow().compile("adam", loss="mse")


def test_compiled_functions_match_the_methods():
    flow = ts.Flow(ts.StandardNormal([3]), [ts.Augment(1), ts.AffineCoupling(
        ts.MLP([8], 4, output_initializer="glorot_uniform"))])
    x = np.random.RandomState(0).randn(7, 2).astype("float32")
    log_prob = flow.log_prob_function(jit_compile=False, with_seed=True)
    np.testing.assert_allclose(log_prob(tf.constant(x), tf.constant([3, 4])),
                               flow.log_prob(x, seed=(3, 4)), rtol=1e-6)
    np.testing.assert_allclose(flow.log_prob_function()(tf.constant(x)).shape, [7])
    sample = flow.sample_function(jit_compile=False)
    np.testing.assert_allclose(sample(tf.constant(5), tf.constant([1, 2])),
                               flow.sample(5, seed=(1, 2)), rtol=1e-6)
    exact = coupling_flow()
    np.testing.assert_allclose(exact.log_prob_function()(tf.constant(x)), exact.log_prob(x),
                               rtol=1e-5, atol=1e-5)  # XLA: same values up to rounding
    assert flow.sample_function()(tf.constant(4), tf.constant([0, 1])).shape == (4, 2)
