"""Absolute value surjections (paper App. D): Abs (inference) and GenerativeAbs (generative).

"The paper": Nielsen, Jaini, Hoogeboom, Winther, Welling, "SurVAE Flows: Surjections to Bridge
the Gap between VAEs and Flows", NeurIPS 2020. https://arxiv.org/abs/2007.02731
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from tfp_survae import _discrete, _tensors
from tfp_survae.transforms.base import InverseResult, Surjection

__all__ = ["Abs", "GenerativeAbs"]


class _AbsBase(Surjection):
    """Shared bookkeeping: which elements fold, and the sign distribution over them."""

    config_sublayers = ("classifier",)
    forward_samplers = ("classifier",)

    def __init__(self, classifier: keras.layers.Layer | None = None, elements=None, **kwargs):
        super().__init__(**kwargs)
        self.classifier = classifier
        self.elements = None if elements is None else [int(i) for i in elements]

    def build(self, input_shape):
        super().build(input_shape)
        event = self.event_shape
        if self.elements is None:
            self._mask = None
            self._num_folded = _tensors.num_elements(event)
        else:
            if event.rank == 0:
                raise ValueError(f"{self._owner}: elements= needs an event of rank >= 1.")
            size = event[-1]
            if not self.elements or any(not -size <= i < size for i in self.elements):
                raise ValueError(
                    f"{self._owner}: elements must be indices into the last axis (size {size});"
                    f" received {self.elements}."
                )
            self._elements = [i % size for i in self.elements]
            self._mask = np.isin(np.arange(size), self._elements)
            self._num_folded = _tensors.num_elements(event[:-1]) * len(self._elements)
        self._choice = _discrete.DiscreteChoice(self._owner, "sign", self.classifier, 2,
                                                "sign classifier")
        self._choice.build((None,) + tuple(event.as_list()))

    def _folded(self, t):
        """The folded elements of t, shape [batch] + folded event."""
        return t if self._mask is None else tf.gather(t, self._elements, axis=-1)

    def _apply_signs(self, t, signs):
        """t with its folded elements multiplied by `signs` (shape of the folded part)."""
        if self._mask is None:
            return t * signs
        size = self.event_shape[-1]
        position = np.full(size, -1)
        position[self._elements] = np.arange(len(self._elements))
        full = tf.gather(
            tf.concat([signs, tf.ones_like(signs[..., :1])], axis=-1),
            np.where(position >= 0, position, len(self._elements)), axis=-1,
        )
        return t * full

    def _logits(self, value, folded, training=None):
        return self._choice.logits(value, folded.shape[1:], folded.dtype, training)

    def get_config(self):
        config = super().get_config()
        config["elements"] = self.elements
        return config


@keras.saving.register_keras_serializable(package="tfp_survae")
class Abs(_AbsBase, kind="inference"):
    """Inference absolute value (paper App. D, Table 6).

    Inverse: s = sign(x) (sign(0) = +1), z = |x| on the folded elements.
    V = sum_i log p(s_i | z), p(s_i = +1 | z) = sigmoid(classifier(z)_i); default 1/2, so
    V = -D log 2. Exact.
    Forward: s ~ Bernoulli(sigmoid(classifier(z))), x = s * z.

    The latent lives on [0, inf) for the folded elements: use a base with that support (e.g.
    StandardHalfNormal) or put a bijection onto R next (`BijectorTransform(tfb.Softplus())` is
    the inverse softplus, `tfb.Sigmoid()` a logit after scaling into (0, 1)), as the paper's
    AbsFlow does.

    Args:
      classifier: Keras network mapping z (the whole event) to one logit per folded element;
        None gives p(s | z) = 1/2.
      elements: indices of the last axis to fold; None folds every element. The paper's
        anti-symmetric checkerboard folds `elements=[0]` with a learned classifier.
    """

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        folded = self._folded(x)
        signs = tf.where(folded < 0, -tf.ones_like(folded), tf.ones_like(folded))
        z = self._apply_signs(x, signs)
        return z, self._choice.log_prob(signs, self._logits(z, folded, training), z.dtype)

    def _forward_and_log_det(self, z, *, seed, condition):
        folded = self._folded(z)
        logits = self._logits(z, folded)
        signs = self._choice.sample(logits, folded, seed)
        return self._apply_signs(z, signs), self._choice.log_prob(signs, logits, signs.dtype)


@keras.saving.register_keras_serializable(package="tfp_survae")
class GenerativeAbs(_AbsBase, kind="generative"):
    """Generative absolute value (paper App. D, Table 7).

    Forward: x = |z| on the folded elements.
    Inverse: s ~ q(s | x) with q(s_i = +1 | x) = sigmoid(classifier(x)_i) (default 1/2),
    z = s * x. V = -sum_i log q(s_i | x) (one-sample ELBO term; default V = D log 2).

    With `exact=True` a `Flow` instead sums the rest of the flow over all 2^D sign patterns
    (the finite preimage of x), so the flow stays exact: log p(x) = logsumexp_s log p(s * x).
    A learned classifier is trained by the score-function gradient (`Flow` applies it).

    Args:
      classifier: Keras network mapping x to one logit per folded element; None: 1/2.
      elements: indices of the last axis to fold; None folds all.
      exact: enumerate the 2^D preimages in `Flow.log_prob` (D up to `max_preimages` patterns).
      max_preimages: the largest enumeration allowed.
    """

    def __init__(self, classifier=None, elements=None, exact: bool = False,
                 max_preimages: int = 4096, **kwargs):
        super().__init__(classifier=classifier, elements=elements, **kwargs)
        self.exact = bool(exact)
        self.max_preimages = int(max_preimages)

    def build(self, input_shape):
        super().build(input_shape)
        if self.exact and 2 ** self._num_folded > self.max_preimages:
            raise ValueError(
                f"{self._owner}: exact=True enumerates 2^{self._num_folded} sign patterns, more "
                f"than max_preimages={self.max_preimages}; fold fewer elements or use the "
                "sampled bound (exact=False) with evaluation.iwbo."
            )

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        folded = self._folded(x)
        logits = self._logits(x, folded, training)
        signs = self._choice.sample(logits, folded, seed)
        log_q = self._choice.log_prob(signs, logits, signs.dtype)
        z = self._apply_signs(x, signs)
        outside = _tensors.any_negative(folded)
        log_det = tf.where(outside, tf.constant(-math.inf, x.dtype), -log_q)
        if logits is None:
            return z, log_det
        return InverseResult(z, log_det, score=log_q)

    def _forward(self, z, *, seed, condition):
        folded = self._folded(z)
        return self._apply_signs(z, tf.where(folded < 0, -tf.ones_like(folded),
                                             tf.ones_like(folded)))

    def preimages(self, x, *, condition=None):
        x = self._check_data(x)
        folded = self._folded(x)
        n = self._num_folded
        patterns = 1.0 - 2.0 * ((np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1)
        patterns = tf.constant(patterns, x.dtype)  # [P, n]: every sign pattern
        shape = tf.concat([[2**n, 1], tf.shape(folded)[1:]], axis=0)
        signs = tf.reshape(patterns, shape) * tf.ones_like(folded)[None]
        outside = _tensors.any_negative(folded)
        log_w = tf.where(outside, tf.constant(-math.inf, x.dtype),
                         tf.zeros([tf.shape(x)[0]], x.dtype))
        return self._apply_signs(x[None], signs), log_w

    def get_config(self):
        config = super().get_config()
        config.update(exact=self.exact, max_preimages=self.max_preimages)
        return config
