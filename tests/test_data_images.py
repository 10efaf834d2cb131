"""Image and SpatialMNIST pipelines on data tensorflow-datasets mocks (never the network)."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import tfp_survae as ts


def fixed_size_images(builder, split, *args, **kwargs):
    """Mock examples with the real image shape (the default mock draws random sizes for
    downsampled_imagenet)."""
    shape = ts.data.IMAGE_DATASETS[builder.name + "/" + builder.builder_config.name
                                   if builder.builder_config else builder.name]
    rng = np.random.RandomState(0)
    images = rng.randint(0, 256, (24, *shape), dtype=np.uint8)
    return tf.data.Dataset.from_tensor_slices({"image": images})


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_image_dataset(name):
    with tfds.testing.mock_data(num_examples=40):
        batches = list(ts.data.image_dataset(name, "train", batch_size=16))
    shape = ts.data.IMAGE_DATASETS[name]
    assert [b.shape[0] for b in batches] == [16, 16, 8]
    assert all(b.dtype == tf.uint8 and b.shape[1:] == shape for b in batches)


@pytest.mark.parametrize("name", ["downsampled_imagenet/32x32", "downsampled_imagenet/64x64"])
def test_downsampled_imagenet(name):
    with tfds.testing.mock_data(num_examples=24, as_dataset_fn=fixed_size_images):
        batch = next(iter(ts.data.image_dataset(name, "validation", batch_size=8)))
    assert batch.shape == (8, *ts.data.IMAGE_DATASETS[name]) and batch.dtype == tf.uint8


def test_cifar10_flips_are_seeded_and_happen():
    with tfds.testing.mock_data(num_examples=64):
        plain = np.concatenate(list(ts.data.image_dataset("cifar10", "train", 64, flip=False,
                                                          shuffle=False)))
        a = np.concatenate(list(ts.data.image_dataset("cifar10", "train", 64, shuffle=False)))
        b = np.concatenate(list(ts.data.image_dataset("cifar10", "train", 64, shuffle=False)))
    np.testing.assert_array_equal(a, b)
    flipped = [np.array_equal(x, p[:, ::-1]) and not np.array_equal(x, p)
               for x, p in zip(a, plain)]
    unchanged = [np.array_equal(x, p) for x, p in zip(a, plain)]
    assert all(f or u for f, u in zip(flipped, unchanged))
    assert 10 < sum(flipped) < 54


def test_points_from_images_follow_the_ink():
    image = np.zeros((1, 28, 28, 1), np.uint8)
    image[0, 5, 10] = 255  # row 5, column 10: the only ink
    points = ts.data.points_from_images(image, 50, seed=1)
    assert points.shape == (1, 50, 2)
    assert np.all((points[0, :, 0] >= 10) & (points[0, :, 0] < 11))
    assert np.all((points[0, :, 1] >= 22) & (points[0, :, 1] < 23))  # 27 - 5: upright
    two = np.zeros((1, 28, 28, 1), np.uint8)
    two[0, 0, 0], two[0, 0, 1] = 200, 50
    many = ts.data.points_from_images(two, 20000, seed=2)
    assert abs(np.mean(many[0, :, 0] < 1) - 0.8) < 0.02
    with pytest.raises(ValueError, match="no ink"):
        ts.data.points_from_images(np.zeros((1, 28, 28, 1)), 5)


def test_spatial_mnist_is_deterministic_and_cached(tmp_path):
    with tfds.testing.mock_data(num_examples=30):
        first = ts.data.spatial_mnist("test", cache_dir=str(tmp_path))
        again = ts.data.spatial_mnist("test", seed=0)
        other = ts.data.spatial_mnist("test", seed=1)
        batches = list(ts.data.spatial_mnist_dataset("valid", batch_size=8))
    assert first.shape == (30, 50, 2) and first.dtype == np.float32
    assert first.min() >= 0 and first.max() < 28
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert list(tmp_path.iterdir())
    np.testing.assert_array_equal(ts.data.spatial_mnist("test", cache_dir=str(tmp_path)), first)
    assert batches[0].shape == (8, 50, 2)
    with pytest.raises(ValueError, match="split"):
        ts.data.spatial_mnist("validation")
