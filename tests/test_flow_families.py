"""The named builders (real_nvp, nice, glow, inverse_autoregressive_flow, circular_spline_flow)
and every builder's `standardize=`: structure, gradients, sampling, saving, bad data."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_architectures import check_log_prob_and_gradients, check_save_and_load

import tfp_survae as ts
from tfp_survae import architectures

RNG = np.random.RandomState(0)
VECTORS = (RNG.randn(32, 3) * [5.0, 0.1, 1.0] + [2.0, -1.0, 0.0]).astype("float32")
ANGLES = RNG.uniform(-np.pi, np.pi, (16, 3)).astype("float32")
SMALL = dict(num_layers=2, hidden_units=[8])


def vector_builders():
    return {
        "real_nvp": lambda **k: architectures.real_nvp(3, **SMALL, **k),
        "nice": lambda **k: architectures.nice(3, **SMALL, **k),
        "iaf": lambda **k: architectures.inverse_autoregressive_flow(3, **SMALL, **k),
        "nsf": lambda **k: architectures.neural_spline_flow(3, **SMALL, **k),
        "maf": lambda **k: architectures.masked_autoregressive_flow(3, **SMALL, **k),
    }


@pytest.mark.parametrize("kind", list(vector_builders()))
def test_vector_builders_train_sample_and_save(kind, tmp_path):
    keras.utils.set_random_seed(0)
    flow = vector_builders()[kind](standardize=VECTORS, condition_size=2)
    condition = RNG.randn(len(VECTORS), 2).astype("float32")
    with tf.GradientTape() as tape:
        log_p = flow.log_prob(VECTORS, condition=condition)
        loss = -tf.reduce_mean(log_p)
    assert log_p.shape == (32,) and np.all(np.isfinite(log_p))
    gradients = tape.gradient(loss, flow.trainable_weights)
    assert all(g is not None for g in gradients)
    assert flow.sample(4, seed=(1, 2), condition=condition[:4]).shape == (4, 3)
    standardize = flow.transforms[0]
    assert isinstance(standardize, ts.Standardize) and standardize.adapted
    np.testing.assert_allclose(standardize.mean.numpy(), VECTORS.mean(0), rtol=1e-5)
    path = str(tmp_path / "flow.keras")
    flow.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.log_prob(VECTORS, condition=condition), log_p,
                               rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("kind", list(vector_builders()))
def test_standardize_true_puts_a_layer_to_adapt_first(kind):
    flow = vector_builders()[kind](standardize=True)
    assert isinstance(flow.transforms[0], ts.Standardize)
    assert not isinstance(vector_builders()[kind]().transforms[0], ts.Standardize)
    with pytest.raises(ValueError, match="adapt"):
        flow.log_prob(VECTORS)
    flow.transforms[0].adapt(VECTORS)
    assert np.all(np.isfinite(flow.log_prob(VECTORS)))


@pytest.mark.parametrize("data,message", [
    (np.ones((8, 3)), r"real_nvp: standardize: .*zero variance"),
    (np.zeros((8, 4)), r"real_nvp: standardize: .*event shape \[3\].*\[8, 4\]"),
    (np.full((8, 3), np.nan), r"real_nvp: standardize: .*NaN"),
    ("data", r"real_nvp: standardize must be True .*received str: 'data'"),
])
def test_standardize_refuses_bad_data_naming_it(data, message):
    with pytest.raises((ValueError, TypeError), match=message):
        architectures.real_nvp(3, standardize=data)


def test_standardize_adapts_on_a_dataset():
    data = tf.data.Dataset.from_tensor_slices(VECTORS).batch(5)
    flow = architectures.real_nvp(3, **SMALL, standardize=data)
    np.testing.assert_allclose(flow.transforms[0].scale.numpy(), VECTORS.std(0), rtol=1e-5)


def test_builders_have_the_papers_structure():
    nvp = architectures.real_nvp(4)
    couplings = [t for t in nvp.transforms if isinstance(t, ts.Coupling)]
    assert len(couplings) == 5 and all(isinstance(c.map, ts.AffineMap) for c in couplings)
    assert couplings[0].hidden_units == [100, 100]
    nice = architectures.nice(4, hidden_units=[8])
    assert [type(t).__name__ for t in nice.transforms] == \
        ["Coupling", "Reverse"] * 3 + ["Coupling", "DiagonalScale"]
    assert isinstance(nice.transforms[0].map, ts.AdditiveMap)
    assert isinstance(nice.base, ts.StandardLogistic)
    assert architectures.nice(4).transforms[0].hidden_units == [1000] * 5
    iaf = architectures.inverse_autoregressive_flow(3)
    layers = [t for t in iaf.transforms if isinstance(t, ts.MaskedAutoregressive)]
    assert len(layers) == 5 and all(t.inverse_autoregressive for t in layers)
    assert layers[0].map.scale_fn == "iaf_gate"


def test_iaf_gate_is_a_contraction_in_the_sampling_direction():
    """exp(-s) = sigmoid(r + 2): the forward multiplies by a gate in (0, 1)."""
    gate = ts.AffineMap(scale_fn="iaf_gate")
    raw = tf.constant([-30.0, 0.0, 30.0])
    x, log_scale = gate.forward(tf.ones(3), [tf.zeros(3), raw])
    np.testing.assert_allclose(x, tf.sigmoid(raw + 2.0), rtol=1e-6)
    np.testing.assert_allclose(log_scale, -tf.math.log_sigmoid(raw + 2.0), rtol=1e-6)


@pytest.mark.parametrize("event_size", [1, 2, 3])
def test_circular_spline_flow_lives_on_the_torus(event_size, tmp_path):
    keras.utils.set_random_seed(0)
    flow = architectures.circular_spline_flow(event_size, **SMALL)
    x = ANGLES[:, :event_size]
    check_log_prob_and_gradients(flow, x)
    # A flow at its initialisation is the uniform density (2 pi)^-D.
    np.testing.assert_allclose(flow.log_prob(x), -event_size * np.log(2 * np.pi), rtol=1e-5)
    sample = flow.sample(200, seed=(1, 2)).numpy()
    assert sample.shape == (200, event_size) and np.all(np.abs(sample) <= np.pi)
    with pytest.raises(ValueError, match="data x"):
        flow.log_prob(x + 2 * np.pi)
    check_save_and_load(flow, x, tmp_path)


def test_circular_spline_flow_conditioners_are_periodic():
    """The conditioners read (cos, sin): shifting a conditioning angle by 2 pi (an equal point
    of the circle, here -pi against pi) leaves the density of the other angles unchanged."""
    keras.utils.set_random_seed(1)
    flow = architectures.circular_spline_flow(2, num_layers=1, hidden_units=[8])
    coupling = flow.transforms[0]
    for w in coupling.network.trainable_weights:
        w.assign(tf.random.stateless_normal(w.shape, (1, 2)))
    x = np.array([[-np.pi, 0.3], [np.pi, 0.3]], np.float32)
    log_p = flow.log_prob(x).numpy()
    np.testing.assert_allclose(log_p[0], log_p[1], rtol=1e-5)
    assert log_p[0] != pytest.approx(-2 * np.log(2 * np.pi))  # the weights moved it


def test_circular_spline_flow_refuses_standardize():
    with pytest.raises(ValueError, match=r"standardize must be False.*received True"):
        architectures.circular_spline_flow(2, standardize=True)


def test_glow_structure_sampling_and_saving(tmp_path):
    keras.utils.set_random_seed(0)
    flow = architectures.glow([8, 8, 2], num_scales=2, num_steps=2, hidden_channels=8)
    names = [type(t).__name__ for t in flow.transforms]
    assert names == (["Squeeze2D"] + ["ActNorm", "Conv1x1", "Coupling"] * 2 + ["Slice"]
                     + ["Squeeze2D"] + ["ActNorm", "Conv1x1", "Coupling"] * 2)
    assert flow.base.event_shape == (2, 2, 16)
    x = RNG.rand(4, 8, 8, 2).astype("float32")
    flow.initialize(x)
    check_log_prob_and_gradients(flow, x)
    assert flow.sample(3, seed=(1, 2)).shape == (3, 8, 8, 2)
    check_save_and_load(flow, x, tmp_path)
    paper = architectures.glow([32, 32, 3])
    assert sum(isinstance(t, ts.Coupling) for t in paper.transforms) == 3 * 32
    assert paper.transforms[3].network.layers[0].filters == 512


def test_glow_on_integer_images():
    flow = architectures.glow([4, 4, 1], num_scales=1, num_steps=1, hidden_channels=4,
                              num_bits=3)
    x = RNG.randint(0, 8, (3, 4, 4, 1)).astype("int32")
    assert np.all(np.isfinite(flow.log_prob(x, seed=(1, 2))))
    sample = flow.sample(2, seed=(1, 2)).numpy()
    assert sample.dtype == np.int32 and sample.min() >= 0 and sample.max() < 8
    with pytest.raises(ValueError, match=r"standardize is for real-valued images"):
        architectures.glow([4, 4, 1], num_scales=1, num_bits=3, standardize=True)


def test_glow_standardizes_channels():
    images = (RNG.rand(6, 4, 4, 2) * [10.0, 0.5] + [3.0, -1.0]).astype("float32")
    flow = architectures.glow([4, 4, 2], num_scales=1, num_steps=1, hidden_channels=4,
                              standardize=images)
    np.testing.assert_allclose(flow.transforms[0].mean.numpy(),
                               images.reshape(-1, 2).mean(0), rtol=1e-5)
