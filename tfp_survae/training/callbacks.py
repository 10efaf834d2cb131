"""Callbacks for flows: pictures each N epochs, TensorBoard images, resumable shuffling."""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf

from tfp_survae import plotting

__all__ = ["SampleGrid", "DensityPlot2D", "TensorBoardSamples", "EpochShuffle"]


class _EveryN(keras.callbacks.Callback):
    def __init__(self, every: int):
        super().__init__()
        if every < 1:
            raise ValueError(f"every must be a positive number of epochs; received {every}.")
        self.every = int(every)
        self.written = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            self.written.append(self._write(epoch + 1))

    def _write(self, epoch):
        raise NotImplementedError


class SampleGrid(_EveryN):
    """Writes a PNG grid of image samples every `every` epochs.

    Args:
      path: a format string with `{epoch}`, e.g. "outputs/samples_{epoch:03d}.png".
      num_samples: images in the grid.
      seed: the same seed every time, so the grids show how the same latents evolve.
    """

    def __init__(self, path: str, every: int = 1, num_samples: int = 64, seed=(0, 0)):
        super().__init__(every)
        self.path, self.num_samples, self.seed = path, int(num_samples), seed

    def _write(self, epoch):
        samples = self.model.sample(self.num_samples, seed=self.seed)
        num_values = next((t.num_values for t in self.model.chain if t.integer_data), 256)
        return plotting.save_image_grid(samples.numpy(), self.path.format(epoch=epoch),
                                        num_values=num_values)


class DensityPlot2D(_EveryN):
    """Writes a PNG of a 2-D flow's density exp(log_prob) every `every` epochs."""

    def __init__(self, path: str, every: int = 1, bounds=(-4.0, 4.0), grid_size: int = 200):
        super().__init__(every)
        self.path, self.bounds, self.grid_size = path, bounds, int(grid_size)

    def _write(self, epoch):
        return plotting.plot_density_2d(self.model.log_prob, self.path.format(epoch=epoch),
                                        bounds=self.bounds, grid_size=self.grid_size,
                                        title=f"epoch {epoch}")


class TensorBoardSamples(_EveryN):
    """Logs samples (images, or a 2-D density) and bits/dim to TensorBoard every `every` epochs.

    Use beside `keras.callbacks.TensorBoard`, which logs the loss curves.
    """

    def __init__(self, log_dir: str, every: int = 1, num_samples: int = 16, seed=(0, 0),
                 bounds=(-4.0, 4.0)):
        super().__init__(every)
        self.log_dir, self.num_samples, self.seed, self.bounds = log_dir, num_samples, seed, bounds
        self._writer = None

    def _images(self):
        event = self.model.event_shape.as_list()
        if len(event) == 3:
            samples = tf.cast(self.model.sample(self.num_samples, seed=self.seed), tf.float32)
            num_values = next((t.num_values for t in self.model.chain if t.integer_data), 256)
            return samples / (num_values - 1)
        if event == [2]:
            _, _, density = plotting.density_grid_2d(self.model.log_prob, self.bounds, 128)
            density = density[::-1] / max(float(density.max()), 1e-12)
            return tf.constant(density[None, :, :, None], tf.float32)
        return None

    def _write(self, epoch):
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "samples"))
        images = self._images()
        with self._writer.as_default(step=epoch):
            if images is not None:
                tf.summary.image("samples", images, max_outputs=self.num_samples)
            logs = getattr(self, "_last_logs", {}) or {}
            if "bits_per_dim" in logs:
                tf.summary.scalar("bits_per_dim", logs["bits_per_dim"])
        self._writer.flush()
        return self.log_dir

    def on_epoch_end(self, epoch, logs=None):
        self._last_logs = logs
        super().on_epoch_end(epoch, logs)


class EpochShuffle(keras.callbacks.Callback):
    """An in-memory dataset whose order in epoch e depends only on (seed, e).

    Keras' `BackupAndRestore` resumes an interrupted `fit` at the epoch it had reached; with a
    plain `dataset.shuffle(...)` the restarted process would see the orders of the first epochs
    again. Pass this callback and its `dataset` to `fit` and a resumed run sees exactly the
    batches the uninterrupted run would have.

    Example:
      >>> import tempfile
      >>> x_train = ts.data.sample_toy("corners", 256)
      >>> flow = ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(), ts.Reverse(),
      ...                                         ts.AffineCoupling()])
      >>> flow.compile(keras.optimizers.Adam(1e-3), compiled_execution=False)
      >>> shuffle = EpochShuffle(x_train, batch_size=128, seed=0)
      >>> history = flow.fit(shuffle.dataset, epochs=2, verbose=0, callbacks=[
      ...     shuffle, keras.callbacks.BackupAndRestore(tempfile.mkdtemp())])
      >>> len(history.history["loss"])
      2
    """

    def __init__(self, data, batch_size: int, seed: int = 0, drop_remainder: bool = False):
        super().__init__()
        data = np.asarray(data)
        self._epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        seed = int(seed)
        size = len(data)
        epoch = self._epoch

        def order(_):
            key = tf.stack([tf.constant(seed, tf.int64), epoch.read_value()])
            return tf.data.Dataset.from_tensor_slices(
                tf.random.experimental.stateless_shuffle(tf.range(size), key))

        values = tf.constant(data)
        batches = size // batch_size if drop_remainder else -(-size // batch_size)
        self.dataset = (
            tf.data.Dataset.from_tensors(0)
            .flat_map(order)
            .batch(batch_size, drop_remainder=drop_remainder)
            .map(lambda index: tf.gather(values, index))
            .apply(tf.data.experimental.assert_cardinality(batches))  # fit knows the epoch
            .prefetch(1)
        )

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch.assign(epoch)
