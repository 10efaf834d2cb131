"""Image data through tensorflow-datasets: uint8 channels-last batches on tf.data."""

from __future__ import annotations

import tensorflow as tf

__all__ = ["IMAGE_DATASETS", "image_dataset"]

# tfds names of the paper's image sets and their image shapes.
IMAGE_DATASETS = {
    "mnist": (28, 28, 1),
    "cifar10": (32, 32, 3),
    "downsampled_imagenet/32x32": (32, 32, 3),
    "downsampled_imagenet/64x64": (64, 64, 3),
}


def image_dataset(name: str, split: str = "train", batch_size: int = 32, *,
                  data_dir: str | None = None, shuffle: bool | None = None,
                  flip: bool | None = None, seed: int = 0, drop_remainder: bool = False,
                  shuffle_buffer: int = 10_000, download: bool = True) -> tf.data.Dataset:
    """Batches of uint8 images [batch, h, w, c] from tensorflow-datasets.

    Args:
      name: a tfds name: "mnist", "cifar10", "downsampled_imagenet/32x32" or "/64x64" (any
        tfds image set with an "image" feature also works).
      split: a tfds split ("train", "test", "validation", "train[:90%]", ...).
      batch_size: examples per batch.
      data_dir: where the prepared data lives (passed to `tfds.load`).
      shuffle: shuffle the examples (default: for training splits).
      flip: random horizontal flips (default: CIFAR-10 training, as the paper).
      seed: seed of shuffling and flips.
      drop_remainder: drop a last, smaller batch.
      shuffle_buffer: the shuffle buffer size.
      download: let tfds download and prepare the data if it is missing.

    Returns:
      The `tf.data.Dataset` of uint8 batches (iterating it raises an InvalidArgumentError
      where an image's shape differs from the one `IMAGE_DATASETS` lists for `name`).
    """
    import tensorflow_datasets as tfds

    training = split.startswith("train")
    shuffle = training if shuffle is None else shuffle
    flip = (training and name == "cifar10") if flip is None else flip
    dataset = tfds.load(name, split=split, data_dir=data_dir, download=download,
                        shuffle_files=shuffle, read_config=tfds.ReadConfig(shuffle_seed=seed))
    expected = IMAGE_DATASETS.get(name)

    def image(example):
        x = tf.cast(example["image"], tf.uint8)
        return x if expected is None else tf.ensure_shape(x, expected)

    dataset = dataset.map(image, num_parallel_calls=tf.data.AUTOTUNE)
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if flip:
        flip_seed = tf.random.experimental.stateless_split([seed, 1], 1)[0]
        dataset = dataset.enumerate().map(
            lambda i, x: tf.image.stateless_random_flip_left_right(
                x, tf.random.experimental.stateless_fold_in(flip_seed, i)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
