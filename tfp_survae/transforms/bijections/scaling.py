"""Per-feature scalings: `Standardize`, fitted once from data, and `DiagonalScale`, trained."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfp_survae.transforms._types import Shape
from tfp_survae.transforms.base import Bijection

__all__ = ["Standardize", "DiagonalScale"]


def _batches(data, steps):
    """The arrays of `data`: one array or tensor, or the batches of a tf.data.Dataset (each a
    tensor, a tuple whose first entry is x, or a dict with an "x" entry, as `fit` takes)."""
    if isinstance(data, tf.data.Dataset):
        for i, batch in enumerate(data):
            if steps is not None and i >= steps:
                return
            if isinstance(batch, dict):
                if "x" not in batch:
                    raise ValueError("Standardize.adapt: a dataset of dicts needs an 'x' entry; "
                                     f"received keys {sorted(batch)}.")
                batch = batch["x"]
            elif isinstance(batch, (tuple, list)):
                batch = batch[0]
            yield np.asarray(batch)
        return
    if data is None or isinstance(data, (str, bytes, dict, bool, int, float)):
        raise TypeError("Standardize.adapt: data must be an array or tensor of shape [batch] + "
                        "event, or a tf.data.Dataset of such batches; received "
                        f"{type(data).__name__}: {data!r}.")
    yield np.asarray(data)


@keras.saving.register_keras_serializable(package="tfp_survae")
class Standardize(Bijection):
    """Standardization fitted from data: an affine map with frozen (non-trainable) per-feature
    mean mu and scale sigma, set by `adapt` as Keras' `Normalization` layer.

    Inverse: z = (x - mu) / sigma.  Forward: x = sigma z + mu.
    V = -N sum_c log sigma_c, N the positions per feature (1 for vectors, h w for images).

    `adapt(data)` sets mu and sigma to the mean and the (population) standard deviation of
    each feature (the last axis) over every example and position of `data`, so the adapted
    data has mean 0 and standard deviation 1 per feature. The statistics are weights of the
    layer: they save with the flow in `.keras` files and stay fixed during training. Using the
    layer before `adapt` (or before loading adapted weights) is a ValueError. A feature of zero
    variance is refused by `adapt` (a ValueError naming it): a constant feature has no density,
    and dividing by its zero scale would give an infinite likelihood; drop it from the data.

    Examples:
      >>> standardize = ts.Standardize()
      >>> standardize.adapt(np.array([[1.0, 10.0], [3.0, 30.0]]))
      >>> standardize.inverse([[2.0, 20.0]]).numpy()
      array([[0., 0.]], dtype=float32)

    Raises:
      ValueError: when used before `adapt`.
    """

    min_event_rank = 1

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._known_adapted = False

    def build(self, input_shape: Shape) -> None:
        super().build(input_shape)
        features = self.event_shape[-1]
        self.mean = self.add_weight(shape=(features,), initializer="zeros", name="mean",
                                    trainable=False)
        self.scale = self.add_weight(shape=(features,), initializer="ones", name="scale",
                                     trainable=False)
        self.adapted_flag = self.add_weight(shape=(), initializer="zeros", name="adapted",
                                            trainable=False)
        self._positions = int(np.prod(self.event_shape[:-1].as_list(), dtype=np.int64))

    @property
    def adapted(self) -> bool:
        """Whether the statistics are set (by `adapt`, or loaded with adapted weights)."""
        if not self._known_adapted and self.built:
            with tf.init_scope():  # the variable's value, also while a function is traced
                self._known_adapted = bool(self.adapted_flag.numpy())
        return self._known_adapted

    def adapt(self, data: Any, *, steps: int | None = None) -> None:
        """Sets mu and sigma from `data` (per feature, over every other axis).

        Args:
          data: an array or tensor [batch] + event, or a finite `tf.data.Dataset` of such
            batches (or of (x, ...) tuples or {"x": ...} dicts, as `fit` takes).
          steps: at most this many batches of a dataset (all of them by default).

        Raises:
          ValueError: data of the wrong shape, with NaN or Inf, fewer than 2 values per
            feature, or a feature of zero variance (naming it).
          TypeError: data that is neither an array nor a dataset.
        """
        owner = self._owner
        if steps is not None and (not isinstance(steps, int) or isinstance(steps, bool)
                                  or steps < 1):
            raise ValueError(f"{owner}.adapt: steps must be an integer >= 1 or None; received "
                             f"{steps!r}.")
        count, mean, m2 = 0, 0.0, 0.0
        for batch in _batches(data, steps):
            if not np.issubdtype(batch.dtype, np.number) or batch.ndim < 2:
                raise ValueError(f"{owner}.adapt: expected data x as numbers of shape [batch] + "
                                 f"event (rank >= 2); received dtype {batch.dtype}, shape "
                                 f"{list(batch.shape)}.")
            if not self.built:
                self.build((None,) + batch.shape[1:])
            elif list(batch.shape[1:]) != self.event_shape.as_list():
                raise ValueError(f"{owner}.adapt: expected data x with event shape "
                                 f"{self.event_shape.as_list()}; received shape "
                                 f"{list(batch.shape)}.")
            values = batch.reshape(-1, batch.shape[-1]).astype(np.float64)
            if not np.all(np.isfinite(values)):
                raise ValueError(f"{owner}.adapt: data x contains NaN or Inf.")
            if len(values) == 0:
                continue
            n, batch_mean = len(values), values.mean(axis=0)
            batch_m2 = ((values - batch_mean) ** 2).sum(axis=0)
            delta, total = batch_mean - mean, count + n
            mean = mean + delta * n / total  # Chan et al.'s pairwise update
            m2 = m2 + batch_m2 + delta**2 * count * n / total
            count = total
        if count < 2:
            raise ValueError(f"{owner}.adapt: needs at least 2 values per feature to estimate "
                             f"a scale; received {count}.")
        std = np.sqrt(m2 / count)
        degenerate = np.flatnonzero(std <= 1e-12 * np.abs(mean))
        if len(degenerate):
            raise ValueError(
                f"{owner}.adapt: features {degenerate.tolist()} (of the last axis) have zero "
                "variance in the data; a constant feature has no density, so Standardize "
                "cannot scale it: drop it from the data.")
        self.mean.assign(np.asarray(mean, self.mean.dtype))
        self.scale.assign(np.asarray(std, self.scale.dtype))
        self.adapted_flag.assign(1.0)
        self._known_adapted = True

    def _statistics(self, dtype):
        if not self.adapted:
            raise ValueError(
                f"{self._owner} has no statistics yet: call its adapt(data) with training data "
                "(or build the flow with standardize=data) before using it.")
        return tf.cast(self.mean, dtype), tf.cast(self.scale, dtype)

    def _log_det(self, scale, batch):
        log_det = -self._positions * tf.reduce_sum(tf.math.log(scale))
        return tf.fill([batch], log_det)

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        mean, scale = self._statistics(x.dtype)
        return (x - mean) / scale, self._log_det(scale, tf.shape(x)[0])

    def _forward_and_log_det(self, z, *, seed, condition):
        mean, scale = self._statistics(z.dtype)
        return z * scale + mean, self._log_det(scale, tf.shape(z)[0])

    def load_own_variables(self, store: Any) -> None:
        super().load_own_variables(store)
        self._known_adapted = bool(self.adapted_flag.numpy())


@keras.saving.register_keras_serializable(package="tfp_survae")
class DiagonalScale(Bijection):
    """A trainable diagonal scaling of every element of the event: NICE's final scaling layer
    (Dinh et al., 2015), which lets a volume-preserving flow change volume.

    Inverse: z = x exp(s).  Forward: x = z exp(-s).  V = sum s, one log-scale s per element
    of the event, starting at 0 (the identity).

    Examples:
      >>> layer = ts.DiagonalScale()
      >>> z, v = layer.inverse_and_log_det([[1.0, 2.0]])
      >>> float(v[0])
      0.0

    References:
      Dinh, Krueger, Bengio, "NICE: Non-linear Independent Components Estimation", ICLR 2015
      workshop. https://arxiv.org/abs/1410.8516
    """

    min_event_rank = 1

    def build(self, input_shape: Shape) -> None:
        super().build(input_shape)
        self.log_scale = self.add_weight(shape=tuple(self.event_shape.as_list()),
                                         initializer="zeros", name="log_scale")

    def _log_det(self, log_scale, batch):
        return tf.fill([batch], tf.reduce_sum(log_scale))

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        log_scale = tf.cast(self.log_scale, x.dtype)
        return x * tf.exp(log_scale), self._log_det(log_scale, tf.shape(x)[0])

    def _forward_and_log_det(self, z, *, seed, condition):
        log_scale = tf.cast(self.log_scale, z.dtype)
        return z * tf.exp(-log_scale), self._log_det(log_scale, tf.shape(z)[0])

