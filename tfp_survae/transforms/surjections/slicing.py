"""Slicing (paper Example 1): Slice (inference) and Augment (generative).

"The paper": Nielsen, Jaini, Hoogeboom, Winther, Welling, "SurVAE Flows: Surjections to Bridge
the Gap between VAEs and Flows", NeurIPS 2020. https://arxiv.org/abs/2007.02731
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from tfp_survae.distributions import ConditionalDistribution, StandardNormal, _temperature
from tfp_survae.transforms.base import Surjection
from tfp_survae.transforms._types import Config, Shape

__all__ = ["Slice", "Augment"]


class _AxisSplit(Surjection):
    """Shared axis bookkeeping: the data has `size` entries on `axis`, the latent `size +/- n`."""

    min_event_rank = 1

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = self._check_axis(axis, "slice")

    def _event_axis(self, rank: int) -> int:
        return self._resolve_axis(self.axis, rank)

    def _resize(self, shape: Shape, delta: int) -> tf.TensorShape:
        shape = tf.TensorShape(shape)
        axis = self._event_axis(shape.rank)
        dims = shape.as_list()
        dims[axis] = dims[axis] + delta
        if dims[axis] <= 0:
            raise ValueError(
                f"{self._owner}: an event of shape {shape.as_list()} leaves no entries on axis "
                f"{self.axis} after this layer."
            )
        return tf.TensorShape(dims)

    def get_config(self) -> Config:
        config = super().get_config()
        config["axis"] = self.axis
        return config


@keras.saving.register_keras_serializable(package="tfp_survae")
class Slice(_AxisSplit, kind="inference"):
    """Inference slicing, the multi-scale "factor out" (paper Example 1).

    Inverse: x = (x1, x2) split on `axis`, z = x1 (the first `num_keep` entries).
    V = log p(x2 | z), exact.
    Forward: x2 ~ p(x2 | z), x = concat(z, x2).

    Args:
      num_keep: entries of `axis` kept in the latent.
      decoder: a ConditionalDistribution over x2 given z; None is a standard normal that ignores z.
      axis: the event axis to slice (channels for images).
      **kwargs: `Transform` arguments (`seed`, `name`, `dtype`, ...).

    Raises:
      ValueError: `num_keep` is not positive or `axis` is 0; at build, the axis has no more
        than `num_keep` entries, or the decoder's event shape is not the dropped part's.
      TypeError: `decoder` is not a ConditionalDistribution.

    Examples:
      >>> layer = Slice(1)
      >>> z, v = layer.inverse_and_log_det(tf.constant([[1.0, 0.0]]))
      >>> z.numpy(), np.round(v.numpy(), 4)   # V = log N(0; 0, 1)
      (array([[1.]], dtype=float32), array([-0.9189], dtype=float32))
      >>> layer.forward(z, seed=(1, 2)).shape.as_list()
      [1, 2]
    """

    config_sublayers = ("decoder",)
    forward_samplers = ("decoder",)

    def __init__(self, num_keep: int, decoder: ConditionalDistribution | None = None,
                 axis: int = -1, **kwargs: Any) -> None:
        super().__init__(axis=axis, **kwargs)
        self.num_keep = int(num_keep)
        if self.num_keep <= 0:
            raise ValueError(f"num_keep must be positive; received {num_keep}.")
        self.decoder = decoder

    def inverse_event_shape(self, x_event_shape: Shape) -> tf.TensorShape:
        shape = tf.TensorShape(x_event_shape)
        size = shape[self._event_axis(shape.rank)]
        if size is not None and size <= self.num_keep:
            raise ValueError(
                f"{self._owner}: keeps {self.num_keep} entries of axis {self.axis}, so the data "
                f"needs more than {self.num_keep} there; received event shape {shape.as_list()}."
            )
        return self._resize(shape, self.num_keep - size)

    def forward_event_shape(self, z_event_shape: Shape) -> tf.TensorShape:
        if self._event_shape is not None:
            return self._event_shape
        if self.decoder is None:
            raise ValueError(
                f"{self._owner}: the data shape cannot be inferred from the latent alone (the "
                "default decoder has no fixed size); build the layer on data."
            )
        shape = tf.TensorShape(z_event_shape)
        axis = self._event_axis(shape.rank)
        return self._resize(shape, self.decoder.event_shape[axis])

    def build(self, input_shape: Shape) -> None:
        super().build(input_shape)
        z_shape = self.inverse_event_shape(self.event_shape)
        dropped = self._resize(self.event_shape, -z_shape[self._event_axis(z_shape.rank)])
        self._drop_shape = dropped
        self.decoder = self._prepare_distribution(self.decoder, "decoder of the dropped part",
                                                  dropped, z_shape, StandardNormal)

    def _split(self, x):
        axis = self._event_axis(self.event_shape.rank)
        size = self.event_shape[axis]
        return tf.split(x, [self.num_keep, size - self.num_keep], axis=axis)

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        z, x2 = self._split(x)
        return z, self.decoder.log_prob(x2, condition=z)

    def _draw_dropped(self, z, seed):
        """(x2, log p(x2 | z)): the dropped part drawn from the decoder, in z's dtype."""
        x2, log_p = self.decoder.sample_and_log_prob(tf.shape(z)[0], seed, condition=z)
        return tf.cast(x2, z.dtype), log_p

    def _join(self, z, x2):
        return tf.concat([z, x2], axis=self._event_axis(z.shape.rank - 1))

    def _forward_and_log_det(self, z, *, seed, condition):
        x2, log_p = self._draw_dropped(z, seed)
        return self._join(z, x2), log_p

    @property
    def tempered_forward(self) -> bool:
        """True for a normal decoder (the default, `StandardNormal`, `DiagonalNormal`,
        `ConditionalNormal`): a temperature scales the dropped part's draw around its mean, as
        Glow samples its factored-out latents."""
        return self.decoder is None or _temperature.is_normal(self.decoder)

    def _forward_at_temperature(self, z, temperature, *, seed, condition):
        x2, _ = self._draw_dropped(z, seed)
        return self._join(z, _temperature.scale(self.decoder, x2, tf.shape(z)[0], z,
                                                temperature))

    def get_config(self) -> Config:
        config = super().get_config()
        config["num_keep"] = self.num_keep
        return config


@keras.saving.register_keras_serializable(package="tfp_survae")
class Augment(_AxisSplit, kind="generative"):
    """Generative slicing: augmentation with new dimensions (ANF / VFlow; paper Example 1).

    Inverse: e ~ q(e | x), z = concat(x, e) on `axis`. V = -log q(e | x) (one-sample ELBO term).
    Forward: x = the first entries of z on `axis` (e is dropped).

    Args:
      num_new: entries of `axis` added.
      encoder: a ConditionalDistribution over e given x; None is a standard normal.
      axis: the event axis to grow.
      **kwargs: `Transform` arguments (`seed`, `name`, `dtype`, ...).

    Raises:
      ValueError: `num_new` is not positive or `axis` is 0; at build, the encoder's event
        shape is not the new part's.
      TypeError: `encoder` is not a ConditionalDistribution.

    Examples:
      >>> layer = Augment(2)
      >>> z, v = layer.inverse_and_log_det(tf.constant([[1.0]]), seed=(1, 2))
      >>> z.shape.as_list(), float(z[0, 0]), layer.forward(z).numpy()
      ([1, 3], 1.0, array([[1.]], dtype=float32))
    """

    config_sublayers = ("encoder",)

    def __init__(self, num_new: int, encoder: ConditionalDistribution | None = None,
                 axis: int = -1, **kwargs: Any) -> None:
        super().__init__(axis=axis, **kwargs)
        self.num_new = int(num_new)
        if self.num_new <= 0:
            raise ValueError(f"num_new must be positive; received {num_new}.")
        self.encoder = encoder

    def inverse_event_shape(self, x_event_shape: Shape) -> tf.TensorShape:
        return self._resize(x_event_shape, self.num_new)

    def forward_event_shape(self, z_event_shape: Shape) -> tf.TensorShape:
        return self._resize(z_event_shape, -self.num_new)

    def build(self, input_shape: Shape) -> None:
        super().build(input_shape)
        axis = self._event_axis(self.event_shape.rank)
        new_shape = self._resize(self.event_shape, self.num_new - self.event_shape[axis])
        self.encoder = self._prepare_distribution(self.encoder, "encoder of the new part",
                                                  new_shape, self.event_shape, StandardNormal)

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        e, log_q = self.encoder.sample_and_log_prob(tf.shape(x)[0], seed, condition=x)
        z = tf.concat([x, tf.cast(e, x.dtype)], axis=self._event_axis(self.event_shape.rank))
        return z, -log_q

    def _forward(self, z, *, seed, condition):
        axis = self._event_axis(self.event_shape.rank)
        size = self.event_shape[axis]
        x, _ = tf.split(z, [size, self.num_new], axis=axis)
        return x

    def get_config(self) -> Config:
        config = super().get_config()
        config["num_new"] = self.num_new
        return config
