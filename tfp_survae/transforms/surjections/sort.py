"""Sorting surjections (paper App. F): Sort (inference) and GenerativeSort (generative).

"The paper": Nielsen, Jaini, Hoogeboom, Winther, Welling, "SurVAE Flows: Surjections to Bridge
the Gap between VAEs and Flows", NeurIPS 2020. https://arxiv.org/abs/2007.02731
"""

from __future__ import annotations

import itertools
import math

import keras
import numpy as np
import tensorflow as tf

from tfp_survae import _discrete
from tfp_survae.transforms.base import InverseResult, Surjection

__all__ = ["Sort", "GenerativeSort"]


class _SortBase(Surjection):
    """Items along `axis`, ordered ascending by a key; permutations P with x = z[P]."""

    min_event_rank = 1
    config_sublayers = ("classifier",)
    forward_samplers = ("classifier",)

    def __init__(self, classifier=None, axis: int = -1, key=None, **kwargs):
        super().__init__(**kwargs)
        if key is not None and not (isinstance(key, int) or callable(key)):
            raise TypeError(f"key is None, an int or a callable; received {key!r}.")
        self.classifier = classifier
        self.axis = self._check_axis(axis, "sort")
        self.key = key

    def build(self, input_shape):
        super().build(input_shape)
        rank = self.event_shape.rank
        axis = self._resolve_axis(self.axis, rank)
        self._axis_in_batch = rank + 1 + axis  # position in a [batch] + event tensor
        self._size = self.event_shape[axis]
        items_are_scalars = axis == -1 and rank == 1
        if self.key is None and not items_are_scalars:
            raise ValueError(
                f"{self._owner}: items along axis {self.axis} of an event of shape "
                f"{self.event_shape.as_list()} are not scalars; pass key= (an index into the "
                "last axis, e.g. key=0 sorts points by their first coordinate, or a callable "
                "x -> [batch, K])."
            )
        if isinstance(self.key, int) and not (axis != -1 and rank == 2):
            raise ValueError(f"{self._owner}: an int key selects a coordinate of each item, for "
                             "events [K, D] sorted along axis -2.")
        self._choice = _discrete.DiscreteChoice(self._owner, "order", self.classifier, self._size,
                                                "permutation scorer")
        self._choice.build((None,) + tuple(self.event_shape.as_list()))

    def _keys(self, x):
        if self.key is None:
            return x
        if isinstance(self.key, int):
            return x[..., self.key]
        return self.key(x)

    def _permute(self, t, perm):
        """t with its items reordered: result[..., j, ...] = t[..., perm[j], ...]."""
        return tf.gather(t, perm, axis=self._axis_in_batch, batch_dims=1)

    def _log_scores(self, t, training=None):
        return self._choice.logits(t, [], t.dtype, training)

    def _sorted(self, x):
        """(sorted x, the permutation P with x = sorted[P])."""
        order = tf.argsort(self._keys(x), axis=-1, stable=True)
        return self._permute(x, order), tf.argsort(order, axis=-1, stable=True)

    def get_config(self):
        config = super().get_config()
        if callable(self.key) and not isinstance(self.key, int):
            raise ValueError(
                f"{self._owner} has a callable key, which cannot be saved; use an int key (a "
                "coordinate index) to save this layer."
            )
        config.update(axis=self.axis, key=self.key)
        return config


@keras.saving.register_keras_serializable(package="tfp_survae")
class Sort(_SortBase, kind="inference"):
    """Inference sort (paper App. F, Table 6): a canonical order for exchangeable items.

    Inverse: z = x sorted ascending by key along `axis`; P the permutation with x = z[P].
    V = log p(P | z), exact; default uniform: V = -log K!. Learned: Plackett-Luce with
    log-scores classifier(z).
    Forward: P ~ p(P | z), x = z[P].

    Args:
      classifier: Keras network mapping z to K log-scores ([batch, K]); None: uniform.
      axis: the axis of the K items (-1 for a vector, -2 for a point cloud [K, D]).
      key: None (items are scalars), an int (sort points by that coordinate) or a callable
        x -> [batch, K] keys.
    """

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        z, perm = self._sorted(x)
        return z, self._choice.log_prob(perm, self._log_scores(z, training), x.dtype)

    def _forward_and_log_det(self, z, *, seed, condition):
        log_scores = self._log_scores(z)
        perm = self._choice.sample(log_scores, z, seed)
        return self._permute(z, perm), self._choice.log_prob(perm, log_scores, z.dtype)


@keras.saving.register_keras_serializable(package="tfp_survae")
class GenerativeSort(_SortBase, kind="generative"):
    """Generative sort (paper App. F, Table 7): the data is the sorted latent.

    Forward: x = z sorted ascending by key along `axis`.
    Inverse: P ~ q(P | x), z = x[P]. V = -log q(P | x) (one-sample ELBO term; default uniform,
    V = log K!). Data that is not sorted lies outside the image: V = -inf.

    With `exact=True` a `Flow` sums the rest of the flow over all K! orders (the finite preimage),
    giving the exact likelihood for short axes. A learned classifier is trained by the
    score-function gradient (`Flow` applies it).

    Args:
      classifier: Keras network mapping x to K Plackett-Luce log-scores; None: uniform.
      axis, key: as `Sort`.
      exact: enumerate the K! preimages in `Flow.log_prob`.
      max_preimages: the largest enumeration allowed (K! <= max_preimages).
    """

    def __init__(self, classifier=None, axis: int = -1, key=None, exact: bool = False,
                 max_preimages: int = 5040, **kwargs):
        super().__init__(classifier=classifier, axis=axis, key=key, **kwargs)
        self.exact = bool(exact)
        self.max_preimages = int(max_preimages)

    def build(self, input_shape):
        super().build(input_shape)
        if self.exact and math.factorial(self._size) > self.max_preimages:
            raise ValueError(
                f"{self._owner}: exact=True enumerates {self._size}! = "
                f"{math.factorial(self._size)} orders, more than max_preimages="
                f"{self.max_preimages}; use exact=False with evaluation.iwbo for long axes."
            )

    def _outside(self, x):
        keys = self._keys(x)
        return tf.reduce_any(keys[..., 1:] < keys[..., :-1], axis=-1)

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        log_scores = self._log_scores(x, training)
        perm = self._choice.sample(log_scores, x, seed)
        log_q = self._choice.log_prob(perm, log_scores, x.dtype)
        log_det = tf.where(self._outside(x), tf.constant(-math.inf, x.dtype), -log_q)
        if log_scores is None:
            return self._permute(x, perm), log_det
        return InverseResult(self._permute(x, perm), log_det, score=log_q)

    def _forward(self, z, *, seed, condition):
        return self._sorted(z)[0]

    def preimages(self, x, *, condition=None):
        x = self._check_data(x)
        perms = np.array(list(itertools.permutations(range(self._size))), np.int32)
        z = tf.gather(x, perms, axis=self._axis_in_batch)  # the P axis lands at the item axis
        z = tf.experimental.numpy.moveaxis(z, self._axis_in_batch, 0)
        log_w = tf.where(self._outside(x), tf.constant(-math.inf, x.dtype),
                         tf.zeros([tf.shape(x)[0]], x.dtype))
        return z, log_w

    def get_config(self):
        config = super().get_config()
        config.update(exact=self.exact, max_preimages=self.max_preimages)
        return config
