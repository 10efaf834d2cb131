"""Variational dequantizers (Flow++): conditional flows q(u | x) on (0, 1)^D for vectors and
images, for `VariationalDequantization` (and as decoders of `Floor`)."""

from __future__ import annotations

import keras
import tensorflow_probability as tfp

from tfp_survae.conditional_flow import ConditionalFlow
from tfp_survae.distributions import DiagonalNormal, StandardLogistic
from tfp_survae.flow import Flow
from tfp_survae.nn import DenseBlock, DenseNet
from tfp_survae.transforms import AffineCoupling, BijectorTransform, Conv1x1, Reverse, Squeeze2D

tfb = tfp.bijectors

__all__ = ["dequantization_flow", "image_dequantization_flow"]


def dequantization_flow(event_shape, *, num_steps: int = 2, network_fn=None,
                        hidden_units=(64, 64), dtype=None) -> ConditionalFlow:
    """The Flow++ variational dequantizer q(u | x): a conditional flow on (0, 1)^D.

    For vectors (see `image_dequantization_flow` for images). From u to the latent: logit (u in
    (0, 1) onto R), then `num_steps` affine couplings
    conditioned on x, with the order reversed between them, onto a standard logistic base.
    The couplings start as the identity, and the sigmoid of a logistic variable is uniform, so
    the dequantizer starts as uniform dequantization and learns from there.

    Args:
      event_shape: shape of x (and u).
      num_steps: conditional couplings.
      network_fn: (output_channels) -> Keras layer for the couplings, mapping the conditioning
        half of u concatenated with x (on the last axis) to shift and log-scale. None: an MLP
        with `hidden_units` for vectors; images need a convolutional network.
      dtype: dtype policy of the layers.
    """
    event_shape = list(event_shape)
    features = event_shape[-1]
    if features < 2:
        raise ValueError(
            "dequantization_flow couples halves of the last axis, so it needs at least 2 "
            f"entries there; received event shape {event_shape}."
        )
    transformed = features - features // 2
    transforms = [BijectorTransform(tfb.Sigmoid(), dtype=dtype)]
    for step in range(num_steps):
        network = None if network_fn is None else network_fn(2 * transformed)
        transforms.append(
            AffineCoupling(
                network, hidden_units=hidden_units, condition_shape=event_shape, dtype=dtype
            )
        )
        if step < num_steps - 1:
            transforms.append(Reverse(dtype=dtype))
    flow = Flow(StandardLogistic(event_shape, dtype=dtype), transforms,
                condition_shape=event_shape, dtype=dtype)
    return ConditionalFlow(flow)


def image_dequantization_flow(image_shape, *, num_steps: int = 4, context_channels: int = 32,
                              num_blocks: int = 1, channels: int = 64, depth: int = 10,
                              growth: int = 64, dropout: float = 0.0, gated: bool = True,
                              dtype=None) -> ConditionalFlow:
    """The Flow++ variational dequantizer for images [h, w, c], as the paper's image models.

    A condition network (dense block, 2x2 strided convolution, dense block) maps the image to
    `context_channels` features at half resolution. From u to the latent: logit, squeeze to
    [h/2, w/2, 4c], a 1x1 convolution, then `num_steps` x (affine coupling with a DenseNet of
    the untouched half and the condition, 1x1 convolution), onto a normal with a trainable mean and
    scale per channel.
    """
    h, w, c = image_shape
    context_network = keras.Sequential(
        [
            DenseBlock(channels, 4, 16, dropout, gated, dtype=dtype),
            keras.layers.Conv2D(channels, 2, strides=2, dtype=dtype),
            DenseBlock(context_channels, 4, 16, dropout, gated, dtype=dtype),
        ],
        name="context_network",
    )
    squeezed = [h // 2, w // 2, 4 * c]
    condition_shape = [h // 2, w // 2, context_channels]
    transforms = [BijectorTransform(tfb.Sigmoid(), dtype=dtype), Squeeze2D(dtype=dtype),
                  Conv1x1(dtype=dtype)]
    for _ in range(num_steps):
        network = DenseNet(4 * c, num_blocks, channels, depth, growth, dropout, gated, dtype=dtype)
        transforms += [
            AffineCoupling(network, scale_fn="tanh", scale_bound=2.0,
                           condition_shape=condition_shape, dtype=dtype),
            Conv1x1(dtype=dtype),
        ]
    flow = Flow(DiagonalNormal(squeezed, per_channel=True, dtype=dtype), transforms,
                condition_shape=condition_shape, dtype=dtype)
    return ConditionalFlow(flow, context_network=context_network)

