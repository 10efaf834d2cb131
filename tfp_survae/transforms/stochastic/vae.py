"""The VAE layer (paper Sec. 2, App. A): a stochastic transform with an encoder and a decoder.

"The paper": Nielsen, Jaini, Hoogeboom, Winther, Welling, "SurVAE Flows: Surjections to Bridge
the Gap between VAEs and Flows", NeurIPS 2020. https://arxiv.org/abs/2007.02731
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from tfp_survae import _checks
from tfp_survae.distributions import ConditionalDistribution
from tfp_survae.transforms.base import InverseResult, StochasticTransform
from tfp_survae.transforms._types import Shape

__all__ = ["VAE"]


@keras.saving.register_keras_serializable(package="tfp_survae")
class VAE(StochasticTransform):
    """A variational autoencoder as one stochastic transform.

    Inverse: z ~ q(z | x) (the encoder). V = log p(x | z) - log q(z | x) (the decoder p), a
    one-sample ELBO term with gap log q(z | x) / p(z | x).
    Forward: x ~ p(x | z).

    A flow with this single layer over a standard normal base is a VAE and its `log_prob` the
    ELBO; over a flow base it is a VAE with a flow prior. With a linear-Gaussian decoder
    p(x | z) = N(Wz + b, sigma^2 I) it is probabilistic PCA (paper Table 3).

    Args:
      encoder: ConditionalDistribution q(z | x); its event shape is the latent's.
      decoder: ConditionalDistribution p(x | z); its event shape is the data's.
      **kwargs: `Transform` arguments (`seed`, `name`, `dtype`, ...).

    Raises:
      TypeError: `encoder` or `decoder` is not a ConditionalDistribution.
      ValueError: at build, the decoder's event shape is not the data's.

    Examples:
      >>> vae = VAE(ts.ConditionalNormal([1], ts.MLP([8], 2)),   # q(z | x), z in R^1
      ...           ts.ConditionalNormal([3], ts.MLP([8], 6)))   # p(x | z), x in R^3
      >>> z, v = vae.inverse_and_log_det(tf.zeros([2, 3]), seed=(1, 2))
      >>> z.shape.as_list(), v.shape.as_list(), vae.forward(z, seed=(3, 4)).shape.as_list()
      ([2, 1], [2], [2, 3])
    """

    config_sublayers = ("encoder", "decoder")
    forward_samplers = ("decoder",)

    def __init__(self, encoder: ConditionalDistribution, decoder: ConditionalDistribution,
                 **kwargs: Any) -> None:
        for name, dist in (("encoder", encoder), ("decoder", decoder)):
            if not isinstance(dist, ConditionalDistribution):
                raise TypeError(f"VAE {name} must be a ConditionalDistribution; received "
                                f"{type(dist).__name__}.")
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder

    def inverse_event_shape(self, x_event_shape: Shape) -> tf.TensorShape:
        return self.encoder.event_shape

    def forward_event_shape(self, z_event_shape: Shape) -> tf.TensorShape:
        return self.decoder.event_shape

    def build(self, input_shape: Shape) -> None:
        super().build(input_shape)
        if self.decoder.event_shape.as_list() != self.event_shape.as_list():
            raise ValueError(f"{self._owner}: the decoder's event shape "
                             f"{self.decoder.event_shape.as_list()} must equal the data's "
                             f"{self.event_shape.as_list()}.")
        self.encoder.build((None,) + tuple(self.event_shape.as_list()))
        self.decoder.build((None,) + tuple(self.encoder.event_shape.as_list()))

    def _check_latent(self, z, check_values: bool = True) -> tf.Tensor:
        """The latents of an encoder of classes or orderings are integers (its inverse gives
        them, a discrete base draws them): checked for their shape; others as every
        transform's."""
        z = tf.convert_to_tensor(z)
        if not (self.encoder.support in ("classes", "orderings") and z.dtype.is_integer):
            return super()._check_latent(z, check_values)
        if not self.built and z.shape.rank:
            self._ensure_built(self.forward_event_shape(z.shape[1:]), "latent z", z)
        return _checks.check_values(self._owner, "latent z", z, self.encoder.event_shape,
                                    finite=False, nonempty=check_values)

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        z, log_q = self.encoder.sample_and_log_prob(tf.shape(x)[0], seed, condition=x)
        z = tf.cast(z, x.dtype) if z.dtype.is_floating else z
        log_q = tf.cast(log_q, x.dtype)
        log_det = tf.cast(self.decoder.log_prob(x, condition=z), x.dtype) - log_q
        if self.encoder.discrete and self.encoder.trainable_weights:
            return InverseResult(z, log_det, score=log_q)
        return z, log_det

    def _forward(self, z, *, seed, condition):
        x = self.decoder.sample(tf.shape(z)[0], seed, condition=z)
        return tf.cast(x, self.dtype)
