"""Max surjections (paper App. E): Max and MaxPool2D (inference), GenerativeMax (generative).

"The paper": Nielsen, Jaini, Hoogeboom, Winther, Welling, "SurVAE Flows: Surjections to Bridge
the Gap between VAEs and Flows", NeurIPS 2020. https://arxiv.org/abs/2007.02731
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from tfp_survae import _discrete, _seeds
from tfp_survae.distributions import ConditionalDistribution, StandardHalfNormal
from tfp_survae.transforms.base import InverseResult, Surjection
from tfp_survae.transforms._types import Config, Shape

__all__ = ["Max", "MaxPool2D", "GenerativeMax"]


# --------------------------------------------------------------------------------------------
# The bijection between a vector t [..., K] and (max z, argmax k, gaps g [..., K-1]).


def _others(k: tf.Tensor, size: int) -> tf.Tensor:
    """Indices of the K-1 positions other than k, in order: [..., K-1]."""
    j = tf.range(size - 1)
    return j + tf.cast(j >= k[..., None], tf.int32)


def split_max(t: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """t [..., K] -> (z = max t, k = argmax t, g = z - t at the other positions, all > 0)."""
    size = t.shape[-1]
    k = tf.argmax(t, axis=-1, output_type=tf.int32)
    z = tf.reduce_max(t, axis=-1)
    gaps = tf.gather(z[..., None] - t, _others(k, size), batch_dims=k.shape.rank)
    return z, k, gaps


def join_max(z: tf.Tensor, k: tf.Tensor, gaps: tf.Tensor) -> tf.Tensor:
    """The inverse of split_max: t with t_k = z and t_j = z - g at the other positions."""
    size = gaps.shape[-1] + 1
    j = tf.range(size)
    source = tf.clip_by_value(j - tf.cast(j > k[..., None], tf.int32), 0, size - 2)
    full = tf.gather(gaps, source, batch_dims=k.shape.rank)
    full = tf.where(tf.equal(j, k[..., None]), tf.zeros_like(full), full)
    return z[..., None] - full


class _AxisMax(Surjection):
    """Shared logic of Max and GenerativeMax over one event axis of size K.

    Networks act on a trailing feature axis: the classifier maps z[..., None] (one value per
    position) to K logits; a conditional gap distribution sees [z, one_hot(k)] (1 + K values per
    position) and describes the K-1 gaps of each position.
    """

    def __init__(self, classifier: keras.layers.Layer | None = None, axis: int = -1,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = self._check_axis(axis, "reduce")
        self.classifier = classifier

    def _normalised_axis(self, rank):
        return self._resolve_axis(self.axis, rank)

    def _setup(self, reduced_event, size, gap_distribution):
        """Builds the networks for a reduced event (the max) and K = size; returns the gap
        distribution, built."""
        if size < 2:
            raise ValueError(f"{self._owner}: the max runs over at least 2 entries; received "
                             f"{size}.")
        self._size = size
        reduced = list(reduced_event)
        self._choice = _discrete.DiscreteChoice(self._owner, "index", self.classifier, size,
                                                "index classifier")
        self._choice.build([None] + reduced + [1])
        return self._prepare_distribution(gap_distribution, "distribution of the gaps",
                                          reduced + [size - 1], reduced + [1 + size],
                                          StandardHalfNormal, support="nonnegative")

    def _to_last(self, t, event_rank):
        axis = self._normalised_axis(event_rank)
        return t if axis == -1 else tf.experimental.numpy.moveaxis(t, axis, -1)

    def _from_last(self, t, event_rank):
        axis = self._normalised_axis(event_rank)
        return t if axis == -1 else tf.experimental.numpy.moveaxis(t, -1, axis)

    def _index_logits(self, value, training=None):
        return self._choice.logits(value[..., None], value.shape[1:], value.dtype, training)

    def _gap_context(self, value, k):
        return tf.concat([value[..., None], tf.one_hot(k, self._size, dtype=value.dtype)], -1)

    def get_config(self) -> Config:
        config = super().get_config()
        config["axis"] = self.axis
        return config


@keras.saving.register_keras_serializable(package="tfp_survae")
class Max(_AxisMax, kind="inference"):
    """Inference max over an event axis of K entries (paper App. E, Table 6).

    Inverse: k = argmax x, z = max x (the axis is removed).
    V = log p(k | z) + log p(x_-k | z, k), exact, where x_-k = z - g with gaps g > 0.
    Defaults: p(k | z) = 1/K, g iid standard half-normal.
    Forward: k ~ p(k | z), g ~ p(g | z, k), x_k = z, x_-k = z - g.

    Args:
      classifier: Keras network mapping z[..., None] to K logits of p(k | z); None: uniform.
      decoder: ConditionalDistribution over the K-1 gaps (event shape z_event + [K-1], support
        (0, inf)) given [z, one_hot(k)] on a trailing axis; None: standard half-normal.
      axis: the event axis reduced.
      **kwargs: `Transform` arguments (`seed`, `name`, `dtype`, ...).

    Raises:
      ValueError: `axis` is 0; at build, the axis has fewer than 2 entries, or a network or
        distribution does not fit the shapes above.
      TypeError: `decoder` is not a ConditionalDistribution.

    Examples:
      >>> layer = Max()
      >>> z, v = layer.inverse_and_log_det(tf.constant([[1.0, 3.0, 2.0]]))
      >>> z.numpy(), np.round(v.numpy(), 4)   # V = log 1/3 + log p(gaps 2 and 1)
      (array([3.], dtype=float32), array([-4.0502], dtype=float32))
      >>> x = layer.forward(z, seed=(1, 2))
      >>> x.shape.as_list(), float(tf.reduce_max(x))
      ([1, 3], 3.0)
    """

    config_sublayers = ("classifier", "decoder")
    forward_samplers = ("classifier", "decoder")

    def __init__(self, classifier: keras.layers.Layer | None = None,
                 decoder: ConditionalDistribution | None = None, axis: int = -1,
                 **kwargs: Any) -> None:
        super().__init__(classifier, axis=axis, **kwargs)
        self.decoder = decoder

    min_event_rank = 1

    def inverse_event_shape(self, x_event_shape: Shape) -> tf.TensorShape:
        shape = tf.TensorShape(x_event_shape).as_list()
        del shape[self._normalised_axis(len(shape))]
        return tf.TensorShape(shape)

    def forward_event_shape(self, z_event_shape: Shape) -> tf.TensorShape:
        if self._event_shape is None:
            raise ValueError(f"{self._owner}: the size of the reduced axis is unknown until the "
                             "layer is built; build the layer on data.")
        return self._event_shape

    def build(self, input_shape: Shape) -> None:
        super().build(input_shape)
        size = self.event_shape[self._normalised_axis(self.event_shape.rank)]
        self.decoder = self._setup(self.inverse_event_shape(self.event_shape), size, self.decoder)

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        rank = self.event_shape.rank
        z, k, gaps = split_max(self._to_last(x, rank))
        logits = self._index_logits(z, training)
        log_det = self._choice.log_prob(k, logits, x.dtype) + self.decoder.log_prob(
            gaps, condition=self._gap_context(z, k))
        return z, log_det

    def _forward_and_log_det(self, z, *, seed, condition):
        index_seed, gap_seed = _seeds.split_seed(seed, 2)
        logits = self._index_logits(z)
        k = self._choice.sample(logits, z, index_seed)
        gaps, log_p = self.decoder.sample_and_log_prob(
            tf.shape(z)[0], gap_seed, condition=self._gap_context(z, k))
        x = self._from_last(join_max(z, k, tf.cast(gaps, z.dtype)), self.event_shape.rank)
        return x, self._choice.log_prob(k, logits, z.dtype) + log_p


@keras.saving.register_keras_serializable(package="tfp_survae")
class GenerativeMax(_AxisMax, kind="generative"):
    """Generative max (paper App. E, Table 7): the data is the max of K latent entries.

    Forward: x = max z over the axis (the axis is removed).
    Inverse: k ~ q(k | x), g ~ q(g | x, k) with g > 0, z_k = x, z_-k = x - g.
    V = -log q(k | x) - log q(g | x, k) (one-sample ELBO term). The preimage of x is a
    continuum, so there is no exact enumeration.

    Args:
      size: K, the entries of the new latent axis.
      classifier: Keras network mapping x[..., None] to K logits of q(k | x); None: uniform.
        A learned classifier is trained by the score-function gradient (`Flow` applies it).
      encoder: ConditionalDistribution over the K-1 gaps given [x, one_hot(k)]; None:
        standard half-normal.
      axis: where the new latent axis goes.
      **kwargs: `Transform` arguments (`seed`, `name`, `dtype`, ...).

    Raises:
      ValueError: `axis` is 0; at build, `size` is below 2, or a network or distribution does
        not fit the shapes above.
      TypeError: `encoder` is not a ConditionalDistribution.

    Examples:
      >>> layer = GenerativeMax(3)
      >>> z, v = layer.inverse_and_log_det(tf.constant([[2.0]]), seed=(1, 2))
      >>> z.shape.as_list(), float(tf.reduce_max(z)), v.shape.as_list()
      ([1, 1, 3], 2.0, [1])
      >>> layer.forward(z).numpy()
      array([[2.]], dtype=float32)
    """

    config_sublayers = ("classifier", "encoder")

    def __init__(self, size: int, classifier: keras.layers.Layer | None = None,
                 encoder: ConditionalDistribution | None = None, axis: int = -1,
                 **kwargs: Any) -> None:
        super().__init__(classifier, axis=axis, **kwargs)
        self.encoder = encoder
        self.size = int(size)

    def inverse_event_shape(self, x_event_shape: Shape) -> tf.TensorShape:
        shape = tf.TensorShape(x_event_shape).as_list()
        axis = self._normalised_axis(len(shape) + 1)
        position = len(shape) + 1 + axis
        return tf.TensorShape(shape[:position] + [self.size] + shape[position:])

    def forward_event_shape(self, z_event_shape: Shape) -> tf.TensorShape:
        shape = tf.TensorShape(z_event_shape).as_list()
        del shape[self._normalised_axis(len(shape))]
        return tf.TensorShape(shape)

    def build(self, input_shape: Shape) -> None:
        super().build(input_shape)
        self.encoder = self._setup(self.event_shape, self.size, self.encoder)

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        index_seed, gap_seed = _seeds.split_seed(seed, 2)
        logits = self._index_logits(x, training)
        k = self._choice.sample(logits, x, index_seed)
        gaps, log_q_gaps = self.encoder.sample_and_log_prob(
            tf.shape(x)[0], gap_seed, condition=self._gap_context(x, k))
        z = self._from_last(join_max(x, k, tf.cast(gaps, x.dtype)), self.event_shape.rank + 1)
        log_q_index = self._choice.log_prob(k, logits, x.dtype)
        log_det = -log_q_index - tf.cast(log_q_gaps, x.dtype)
        if logits is None:
            return z, log_det
        return InverseResult(z, log_det, score=log_q_index)

    def _forward(self, z, *, seed, condition):
        return tf.reduce_max(self._to_last(z, self.event_shape.rank + 1), axis=-1)

    def get_config(self) -> Config:
        config = super().get_config()
        config["size"] = self.size
        return config


@keras.saving.register_keras_serializable(package="tfp_survae")
class MaxPool2D(Surjection, kind="inference"):
    """2x2 max pooling of channels-last images as an inference surjection (paper App. E).

    Inverse: for every 2x2 block of every channel of x [b, h, w, c], k = the argmax position,
    z = the block max, so z = tf.nn.max_pool2d(x, 2, 2, "VALID") with shape [b, h/2, w/2, c].
    V = sum over blocks of log p(k | z) + log p(gaps | z), exact. Defaults (the paper's
    MaxPoolFlow): k uniform over the 4 positions, the 3 gaps below the max standard half-normal.
    Forward: sample k and the gaps, put z at position k and z - gap elsewhere.

    Args:
      classifier: Keras network mapping z [b, h/2, w/2, c] to [b, h/2, w/2, 4c] logits (4 per
        channel, positions in row-major order); None: uniform.
      decoder: ConditionalDistribution over the gaps, event shape [h/2, w/2, 3c], given z;
        None: standard half-normal.
      **kwargs: `Transform` arguments (`seed`, `name`, `dtype`, ...).

    Raises:
      ValueError: at build, the event is not an image [h, w, c] with even h and w, or a
        network or distribution does not fit the shapes above.
      TypeError: `decoder` is not a ConditionalDistribution.

    Examples:
      >>> x = tf.reshape(tf.constant([1.0, 4.0, 2.0, 3.0]), [1, 2, 2, 1])
      >>> z, v = MaxPool2D().inverse_and_log_det(x)
      >>> z.numpy().ravel(), v.shape.as_list()
      (array([4.], dtype=float32), [1])
    """

    min_event_rank = 3
    config_sublayers = ("classifier", "decoder")
    forward_samplers = ("classifier", "decoder")

    def __init__(self, classifier: keras.layers.Layer | None = None,
                 decoder: ConditionalDistribution | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.classifier = classifier
        self.decoder = decoder

    def inverse_event_shape(self, x_event_shape: Shape) -> tf.TensorShape:
        h, w, c = tf.TensorShape(x_event_shape).as_list()
        if h % 2 or w % 2:
            raise ValueError(
                f"{self._owner}: 2x2 max pooling needs even height and width; received an image "
                f"of shape [{h}, {w}, {c}]."
            )
        return tf.TensorShape([h // 2, w // 2, c])

    def forward_event_shape(self, z_event_shape: Shape) -> tf.TensorShape:
        h, w, c = tf.TensorShape(z_event_shape).as_list()
        return tf.TensorShape([2 * h, 2 * w, c])

    def build(self, input_shape: Shape) -> None:
        super().build(input_shape)
        if self.event_shape.rank != 3:
            raise ValueError(f"{self._owner}: expects images [height, width, channels]; received "
                             f"event shape {self.event_shape.as_list()}.")
        h, w, c = self.inverse_event_shape(self.event_shape).as_list()
        self._pooled = [h, w, c]
        self._choice = _discrete.DiscreteChoice(self._owner, "index", self.classifier, 4,
                                                "position classifier")
        self._choice.build((None, h, w, c))
        self.decoder = self._prepare_distribution(self.decoder, "distribution of the gaps",
                                                  [h, w, 3 * c], [h, w, c], StandardHalfNormal,
                                                  support="nonnegative")

    def _blocks(self, x):
        h, w, c = self._pooled
        t = tf.reshape(x, [-1, h, 2, w, 2, c])
        t = tf.transpose(t, [0, 1, 3, 5, 2, 4])
        return tf.reshape(t, [-1, h, w, c, 4])

    def _unblocks(self, t):
        h, w, c = self._pooled
        t = tf.reshape(t, [-1, h, w, c, 2, 2])
        t = tf.transpose(t, [0, 1, 4, 2, 5, 3])
        return tf.reshape(t, [-1, 2 * h, 2 * w, c])

    def _logits(self, z, training=None):
        return self._choice.logits(z, self._pooled, z.dtype, training)

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        z, k, gaps = split_max(self._blocks(x))
        h, w, c = self._pooled
        gaps = tf.reshape(gaps, [-1, h, w, 3 * c])
        log_det = self._choice.log_prob(k, self._logits(z, training), x.dtype)
        return z, log_det + self.decoder.log_prob(gaps, condition=z)

    def _forward_and_log_det(self, z, *, seed, condition):
        index_seed, gap_seed = _seeds.split_seed(seed, 2)
        h, w, c = self._pooled
        logits = self._logits(z)
        k = self._choice.sample(logits, z, index_seed)
        gaps, log_p = self.decoder.sample_and_log_prob(tf.shape(z)[0], gap_seed, condition=z)
        t = join_max(z, k, tf.reshape(tf.cast(gaps, z.dtype), [-1, h, w, c, 3]))
        return self._unblocks(t), self._choice.log_prob(k, logits, z.dtype) + log_p

