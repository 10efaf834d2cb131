"""Glow (Kingma & Dhariwal, 2018): ActNorm, invertible 1x1 convolutions and affine couplings in
a multi-scale architecture."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow_probability as tfp

from tfp_survae import _checks, _tensors
from tfp_survae.architectures import _arguments
from tfp_survae.distributions import ConditionalNormal, DiagonalNormal
from tfp_survae.flow import Flow
from tfp_survae.transforms import (
    ActNorm,
    AffineMap,
    BijectorTransform,
    Conv1x1,
    Coupling,
    Slice,
    Squeeze2D,
    UniformDequantization,
)

tfb = tfp.bijectors

__all__ = ["glow"]


def _coupling_network(hidden_channels: int, outputs: int, dtype) -> keras.layers.Layer:
    """Glow's NN(): 3x3 conv, ReLU, 1x1 conv, ReLU, then a zero-initialised 3x3 conv."""
    return keras.Sequential([
        keras.layers.Conv2D(hidden_channels, 3, padding="same", activation="relu", dtype=dtype),
        keras.layers.Conv2D(hidden_channels, 1, activation="relu", dtype=dtype),
        keras.layers.Conv2D(outputs, 3, padding="same", kernel_initializer="zeros",
                            dtype=dtype),
    ])


def _split_prior(shape, dtype) -> ConditionalNormal:
    """Glow's learned prior of the factored-out half: N(mu(z), sigma(z)^2) by a zero-initialised
    3x3 convolution of the kept half z."""
    network = keras.layers.Conv2D(2 * shape[-1], 3, padding="same", kernel_initializer="zeros",
                                  dtype=dtype)
    return ConditionalNormal(shape, network, dtype=dtype)


def glow(image_shape: Sequence[int], *, num_scales: int = 3, num_steps: int = 32,
         hidden_channels: int = 512,
         num_bits: int | None = None, standardize: Any = False, dtype: Any = None,
         name: str | None = None) -> Flow:
    """Glow (Kingma & Dhariwal, 2018) on images [height, width, channels].

    From data to latent: with `num_bits`, integer images are dequantized (uniform noise) and
    shifted onto [-0.5, 0.5] as the paper does; then `num_scales` levels, each a squeeze
    (space to channels) and `num_steps` steps of flow, each step an `ActNorm` (data-dependent
    initialisation), an invertible 1x1 convolution (`Conv1x1`, LU-parameterised) and an affine
    coupling on half of the channels (`Coupling(map=AffineMap(scale_fn="glow_sigmoid"))`: scale
    sigmoid(h + 2), the network 3x3 conv, ReLU, 1x1 conv, ReLU, zero-initialised 3x3 conv of
    `hidden_channels`). After every level but the last, half of the channels are factored out
    (`Slice`) with the paper's learned prior, a normal whose mean and scale are a
    zero-initialised 3x3 convolution of the kept half. The top prior is a normal with a learned
    mean and scale per entry. The defaults are the paper's (L = 3 levels, K = 32 steps, 512
    hidden channels); shrink them for small images.

    Per step, Inverse: x -> ActNorm -> x W -> z_b = x_b sigmoid(h(x_a) + 2) + t(x_a).
    Forward: the inverse maps in reverse order.
    V = sum of the steps' log-determinants plus, per factored-out half, log p(x2 | z).

    `flow.sample(n, temperature=t)` samples every latent at t, as Glow: the top prior's and
    the factored-out halves' (drawn by the `Slice` layers around their learned means).

    Examples:
      >>> flow = ts.architectures.glow([8, 8, 1], num_scales=2, num_steps=1,
      ...                              hidden_channels=8)
      >>> flow.log_prob(np.zeros([2, 8, 8, 1], np.float32)).shape
      TensorShape([2])

    Args:
      image_shape: [height, width, channels], integers >= 1; height and width multiples of
        2^num_scales.
      num_scales: L, levels, an integer >= 1.
      num_steps: K, steps of flow per level, an integer >= 1.
      hidden_channels: of the coupling networks, an integer >= 1.
      num_bits: None for real-valued images, or the bits per value (an integer in [1, 16]) of
        integer images in [0, 2^num_bits).
      standardize: put a `Standardize` (per channel) first: False, True (adapt it before
        training: `flow.transforms[0].adapt(x)`), or the training images to adapt it on now;
        real-valued images only (`num_bits` None).
      dtype: the layers' dtype policy (None: Keras' default).
      name: the flow's name.

    Returns:
      The `Flow`.

    Raises:
      ValueError, TypeError: an argument outside the ranges above (naming it).

    References:
      Kingma, Dhariwal, "Glow: Generative Flow with Invertible 1x1 Convolutions", NeurIPS 2018.
      https://arxiv.org/abs/1807.03039
    """
    owner = "glow"
    shape = _checks.check_shape(owner, "image_shape", image_shape)
    if len(shape) != 3:
        raise ValueError(f"{owner}: image_shape must be [height, width, channels]; received "
                         f"{shape}.")
    num_scales = _checks.check_integer(owner, "num_scales", num_scales, minimum=1)
    num_steps = _checks.check_integer(owner, "num_steps", num_steps, minimum=1)
    hidden_channels = _checks.check_integer(owner, "hidden_channels", hidden_channels,
                                            minimum=1)
    _arguments.check_name(owner, name)
    h, w, c = shape
    factor = 2 ** num_scales
    if h % factor or w % factor:
        raise ValueError(f"{owner}: image_shape {shape} cannot be squeezed num_scales="
                         f"{num_scales} times; height and width must be multiples of {factor}.")
    transforms = []
    if num_bits is not None:
        num_bits = _checks.check_integer(owner, "num_bits", num_bits, minimum=1)
        if num_bits > 16:
            raise ValueError(f"{owner}: num_bits must be an integer in [1, 16] or None; "
                             f"received {num_bits}.")
        if standardize is not False:
            raise ValueError(f"{owner}: standardize is for real-valued images (num_bits=None); "
                             f"received standardize={standardize!r} with num_bits={num_bits}.")
        shift = np.asarray(0.5, _tensors.likelihood_dtype(dtype))
        transforms += [UniformDequantization(2 ** num_bits, dtype=dtype),
                       BijectorTransform(tfb.Shift(shift), dtype=dtype)]
    else:
        transforms += _arguments.standardization(owner, standardize, shape, dtype)
    for level in range(num_scales):
        transforms.append(Squeeze2D(dtype=dtype))
        h, w, c = h // 2, w // 2, 4 * c
        for _ in range(num_steps):
            transforms += [
                ActNorm(dtype=dtype),
                Conv1x1(dtype=dtype),
                Coupling(_coupling_network(hidden_channels, 2 * (c - c // 2), dtype),
                         AffineMap(scale_fn="glow_sigmoid"), dtype=dtype),
            ]
        if level < num_scales - 1:
            transforms.append(Slice(c // 2, decoder=_split_prior([h, w, c - c // 2], dtype),
                                    dtype=dtype))
            c = c // 2
    return Flow(DiagonalNormal([h, w, c], dtype=dtype), transforms, event_shape=shape,
                dtype=dtype, name=name)
