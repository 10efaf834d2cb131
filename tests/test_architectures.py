"""The paper's image and point-cloud architectures: shapes, gradients, sampling, saving, training;
the density builders' argument checks."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfp_survae as ts
from tfp_survae import architectures

# The paper's structure (scales, steps, dequantizer, DenseNet couplings) at a width a CPU test
# can afford; the full presets differ only in these sizes.
SMALL_IMAGE = dict(num_steps=2, depth=2, channels=16, growth=16, dequantization_steps=1,
                   context_channels=8)
SMALL_POINTS = dict(num_steps=2, d_model=16, num_heads=2, d_ff=32)


def image_flows():
    keras.utils.set_random_seed(0)
    return [architectures.multiscale_flow("cifar10", **SMALL_IMAGE),
            architectures.maxpool_flow("cifar10", **SMALL_IMAGE)]


def point_flows():
    keras.utils.set_random_seed(0)
    return [architectures.permute_flow(**SMALL_POINTS), architectures.sort_flow(**SMALL_POINTS)]


def check_log_prob_and_gradients(flow, x):
    with tf.GradientTape() as tape:
        log_p = flow.log_prob(x, seed=(1, 2), training=True)
        loss = -tf.reduce_mean(log_p)
    assert log_p.shape == (x.shape[0],)
    assert np.all(np.isfinite(log_p.numpy()))
    gradients = tape.gradient(loss, flow.trainable_weights)
    missing = [w.path for w, g in zip(flow.trainable_weights, gradients) if g is None]
    assert not missing, f"no gradient reaches {missing}"


def check_save_and_load(flow, x, tmp_path):
    before = flow.log_prob(x, seed=(5, 6))
    path = str(tmp_path / f"{flow.name}.keras")
    flow.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.log_prob(x, seed=(5, 6)), before, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("index", [0, 1], ids=["multiscale", "maxpool"])
def test_image_flows(index, tmp_path):
    flow = image_flows()[index]
    x = np.random.RandomState(0).randint(0, 256, (3, 32, 32, 3))
    assert flow.event_shape == (32, 32, 3) and not flow.is_exact
    check_log_prob_and_gradients(flow, x)
    sample = flow.sample(2, seed=(3, 4)).numpy()
    assert sample.shape == (2, 32, 32, 3) and sample.dtype == np.int32
    assert sample.min() >= 0 and sample.max() <= 255
    check_save_and_load(flow, x, tmp_path)
    assert any(isinstance(t, ts.MaxPool2D) for t in flow.chain) == (index == 1)
    assert any(isinstance(t, ts.Slice) for t in flow.chain) == (index == 0)


@pytest.mark.parametrize("index", [0, 1], ids=["permute", "sort"])
def test_point_cloud_flows(index, tmp_path):
    flow = point_flows()[index]
    x = (np.random.RandomState(1).rand(4, 50, 2) * 28).astype("float32")
    assert flow.event_shape == (50, 2)
    assert flow.is_exact == (index == 1)
    check_log_prob_and_gradients(flow, x)
    sample = flow.sample(3, seed=(3, 4))
    assert sample.shape == (3, 50, 2) and sample.dtype == tf.float32
    check_save_and_load(flow, x, tmp_path)


def test_permute_flow_is_exchangeable_and_sort_flow_is_exact():
    permute, sort = point_flows()
    x = (np.random.RandomState(2).rand(1, 50, 2) * 28).astype("float32")
    shuffled = x[:, np.random.RandomState(3).permutation(50)]
    np.testing.assert_allclose(sort.log_prob(x), sort.log_prob(shuffled), rtol=1e-5)
    # PermuteFlow's ELBO starts with a uniform shuffle, so a cloud and its shuffle have the same
    # ELBO in distribution: equal means over many draws (one per row of a tiled batch).
    draws = [permute.log_prob(np.repeat(cloud, 256, axis=0), seed=(1, 1)).numpy()
             for cloud in (x, shuffled)]
    error = np.sqrt(draws[0].var() / 256 + draws[1].var() / 256)
    assert abs(draws[0].mean() - draws[1].mean()) < 4 * error + 1e-3


@pytest.mark.isolated  # XLA programs stay in memory until the process exits
def test_short_training_lowers_bits_per_dim():
    keras.utils.set_random_seed(1)
    # Synthetic 8x8 "images": smooth gradients plus noise, 8-bit.
    rng = np.random.RandomState(0)
    ramp = np.linspace(0, 1, 8)
    base = 60 + 120 * (ramp[None, :, None, None] * ramp[None, None, :, None])
    images = np.clip(base + rng.randn(512, 8, 8, 1) * 12, 0, 255).astype(np.uint8)
    flow = architectures.maxpool_flow("small", image_shape=(8, 8, 1), num_steps=2)
    data = tf.data.Dataset.from_tensor_slices(images).batch(64)
    flow.compile(keras.optimizers.Adam(2e-3))
    history = flow.fit(data, epochs=6, verbose=0)
    bpd = history.history["bits_per_dim"]
    assert bpd[-1] < bpd[0] - 0.3, bpd


def test_preset_errors():
    with pytest.raises(ValueError, match="multiples of 4"):
        architectures.multiscale_flow("small", image_shape=(6, 6, 1))
    with pytest.raises(TypeError, match="unknown settings"):
        architectures.multiscale_flow("small", widht=3)
    with pytest.raises(ValueError, match="pooling"):
        architectures.multiscale_flow("small", pooling="mean")
    with pytest.raises(ValueError, match=r"preset is one of \['cifar10', .*received 'cifar100'"):
        architectures.multiscale_flow("cifar100")


@pytest.mark.slow
def test_paper_presets_match_the_reference_parameter_counts():
    counts = architectures.parameter_report(print_fn=lambda *a: None)
    assert counts == architectures.REFERENCE_PARAMETERS


@pytest.mark.parametrize("build,message", [
    (lambda: architectures.neural_spline_flow(2.7), r"event_size must be an integer >= 1; "
                                                    r"received float: 2\.7"),
    (lambda: architectures.masked_autoregressive_flow("3"), r"event_size .*received str: '3'"),
    (lambda: architectures.masked_autoregressive_flow(2, hidden_units=(0,)),
     r"hidden_units .*integers >= 1; received \[0\]"),
    (lambda: architectures.neural_spline_flow(2, hidden_units=()), r"hidden_units .*at least "
                                                                   r"one"),
    (lambda: architectures.neural_spline_flow(2, num_layers=0), r"num_layers .*received 0"),
    (lambda: architectures.neural_spline_flow(2, num_bins=1), r"num_bins .*received 1"),
    (lambda: architectures.neural_spline_flow(2, bound=0.0), r"bound .*received 0\.0"),
    (lambda: architectures.neural_spline_flow(2, condition_size=0), r"condition_size .*"
                                                                    r"received 0"),
    (lambda: architectures.neural_spline_flow(2, linear="no"), r"linear must be True or False"),
    (lambda: architectures.masked_autoregressive_flow(2, transformer="mixture"),
     r"transformer must be one of \['affine', 'spline'\]; received 'mixture'"),
    (lambda: architectures.masked_autoregressive_flow(2, residual=True, hidden_units=(8, 4)),
     r"residual=True needs equal hidden_units; received \[8, 4\]"),
    (lambda: architectures.masked_autoregressive_flow(2, inverse_autoregressive=1),
     r"inverse_autoregressive must be True or False; received int: 1"),
    (lambda: architectures.masked_autoregressive_flow(2, name=3), r"name must be a string"),
])
def test_density_builders_refuse_arguments_naming_them(build, message):
    with pytest.raises((ValueError, TypeError), match=message):
        build()
