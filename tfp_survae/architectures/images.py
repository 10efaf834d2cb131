"""The paper's image flows (App. I.3): the multi-scale baseline and MaxPoolFlow."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow_probability as tfp

from tfp_survae import _tensors
from tfp_survae.architectures.dequantization import image_dequantization_flow
from tfp_survae.distributions import DiagonalNormal
from tfp_survae.flow import Flow
from tfp_survae.nn import DenseNet
from tfp_survae.transforms import (
    ActNorm,
    AffineCoupling,
    BijectorTransform,
    Conv1x1,
    MaxPool2D,
    Slice,
    Squeeze2D,
    UniformDequantization,
    VariationalDequantization,
)

tfb = tfp.bijectors

__all__ = ["IMAGE_PRESETS", "multiscale_flow", "maxpool_flow"]

# The paper's settings (App. I.3; the DenseNet and dequantizer settings of the reference code).
_PAPER: dict[str, Any] = dict(num_bits=8, dequantization="flow", dequantization_steps=4,
                              context_channels=32, num_blocks=1, channels=64, depth=10,
                              growth=64, dropout=0.0, gated=True, actnorm=False)
IMAGE_PRESETS: dict[str, dict[str, Any]] = {
    "cifar10": dict(_PAPER, image_shape=(32, 32, 3), num_scales=2, num_steps=12),
    "imagenet32": dict(_PAPER, image_shape=(32, 32, 3), num_scales=2, num_steps=12),
    "imagenet64": dict(_PAPER, image_shape=(64, 64, 3), num_scales=3, num_steps=8),
    # A CPU-sized flow for quick experiments and tests (MNIST-shaped by default).
    "small": dict(image_shape=(28, 28, 1), num_bits=8, dequantization="uniform", num_scales=2,
                  num_steps=2, num_blocks=1, channels=16, depth=2, growth=16, dropout=0.0,
                  gated=False, actnorm=True),
}


def multiscale_flow(preset: str | None = None, *, pooling: str = "slice",
                    **settings: Any) -> Flow:
    """The multi-scale image flow of the paper's image experiments.

    From data to latent: dequantization (uniform, or the Flow++ variational dequantizer), a shift
    onto [-0.5, 0.5], a squeeze, then `num_scales` scales of `num_steps` steps, each step a 1x1
    convolution and an affine coupling with a DenseNet; between scales the flow keeps a quarter of
    the channels: `pooling="slice"` squeezes and slices (the multi-scale baseline, a `Slice` with
    a standard normal decoder), `pooling="max"` max-pools (`MaxPool2D`: MaxPoolFlow). The base is
    a normal with trainable mean and scale per channel.

    Args:
      preset: a name from IMAGE_PRESETS ("cifar10", "imagenet32", "imagenet64", "small"), whose
        settings the keyword arguments override; None uses the "cifar10" settings.
      pooling: "slice" (baseline) or "max" (MaxPoolFlow).
      **settings: image_shape, num_bits, num_scales, num_steps, dequantization ("uniform" or
        "flow"), dequantization_steps, context_channels, num_blocks, channels, depth, growth,
        dropout, gated, actnorm, dtype.

    Returns:
      The `Flow` of images of `image_shape` (integers in [0, 2^num_bits)). The "cifar10"
      preset has 105,023,968 parameters for both poolings, as the reference code.

    Raises:
      TypeError: an unknown setting.
      ValueError: an unknown preset, pooling or dequantization, or an image that cannot be
        halved `num_scales` times.

    Examples:
      >>> flow = ts.architectures.multiscale_flow("small", image_shape=(8, 8, 1), num_steps=1,
      ...                                         channels=4, depth=1, growth=4)
      >>> x = np.random.RandomState(0).randint(0, 256, [2, 8, 8, 1])
      >>> flow.log_prob(x, seed=(1, 2)).shape
      TensorShape([2])
    """
    if preset is not None and preset not in IMAGE_PRESETS:
        raise ValueError(f"multiscale_flow: preset is one of {sorted(IMAGE_PRESETS)} or None "
                         f"(cifar10); received {preset!r}.")
    config: dict[str, Any] = dict(IMAGE_PRESETS[preset or "cifar10"])
    unknown = set(settings) - set(IMAGE_PRESETS["cifar10"]) - {"dtype"}
    if unknown:
        raise TypeError(f"multiscale_flow got unknown settings {sorted(unknown)}.")
    config.update(settings)
    if pooling not in ("slice", "max"):
        raise ValueError(f"pooling is 'slice' or 'max'; received {pooling!r}.")
    dtype = config.get("dtype")
    h, w, c = config["image_shape"]
    factor = 2 ** config["num_scales"]
    if h % factor or w % factor:
        raise ValueError(
            f"An image of shape {list(config['image_shape'])} cannot be halved "
            f"{config['num_scales']} times (squeeze, then one pooling per extra scale); height "
            f"and width must be multiples of {factor}."
        )
    num_values = 2 ** config["num_bits"]
    net = dict(num_blocks=config["num_blocks"], channels=config["channels"],
               depth=config["depth"], growth=config["growth"], dropout=config["dropout"],
               gated=config["gated"])
    if config["dequantization"] == "flow":
        encoder = image_dequantization_flow(
            (h, w, c), num_steps=config["dequantization_steps"],
            context_channels=config["context_channels"], dtype=dtype, **net)
        transforms = [VariationalDequantization(encoder, num_values=num_values, dtype=dtype)]
    elif config["dequantization"] == "uniform":
        transforms = [UniformDequantization(num_values, dtype=dtype)]
    else:
        raise ValueError(f"dequantization is 'uniform' or 'flow'; received "
                         f"{config['dequantization']!r}.")
    transforms += [BijectorTransform(tfb.Shift(np.asarray(0.5, _tensors.likelihood_dtype(dtype))),
                                    dtype=dtype), Squeeze2D(order="channel", dtype=dtype)]
    channels = 4 * c
    for scale in range(config["num_scales"]):
        for _ in range(config["num_steps"]):
            if config["actnorm"]:
                transforms.append(ActNorm(dtype=dtype))
            transforms += [
                Conv1x1(dtype=dtype),
                AffineCoupling(DenseNet(channels, dtype=dtype, **net), scale_fn="tanh",
                               scale_bound=2.0, dtype=dtype),
            ]
        if scale < config["num_scales"] - 1:
            if pooling == "max":
                transforms.append(MaxPool2D(dtype=dtype))
            else:
                transforms += [Squeeze2D(order="channel", dtype=dtype),
                               Slice(channels, dtype=dtype)]
            h, w = h // 2, w // 2
        elif config["actnorm"]:
            transforms.append(ActNorm(dtype=dtype))
    base = DiagonalNormal([h // 2, w // 2, channels], per_channel=True, dtype=dtype)
    name = "maxpool_flow" if pooling == "max" else "multiscale_flow"
    return Flow(base, transforms, event_shape=config["image_shape"], dtype=dtype, name=name)


def maxpool_flow(preset: str | None = None, **settings: Any) -> Flow:
    """MaxPoolFlow: `multiscale_flow` with max pooling between scales (paper App. I.3).

    Args:
      preset: as in `multiscale_flow`.
      **settings: as in `multiscale_flow`.

    Returns:
      The `Flow`.

    Raises:
      TypeError: an unknown setting.
      ValueError: as in `multiscale_flow`.

    Examples:
      >>> flow = ts.architectures.maxpool_flow("small", image_shape=(8, 8, 1), num_steps=1,
      ...                                      channels=4, depth=1, growth=4)
      >>> flow.sample(2, seed=(1, 2)).shape
      TensorShape([2, 8, 8, 1])
    """
    return multiscale_flow(preset, pooling="max", **settings)
