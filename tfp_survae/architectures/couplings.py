"""Coupling flows on vectors by name: RealNVP, NICE, and circular spline flows on tori."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow_probability as tfp

from tfp_survae import _tensors
from tfp_survae.architectures import _arguments
from tfp_survae.distributions import StandardLogistic, StandardNormal
from tfp_survae.flow import Flow
from tfp_survae.nn import MLP, CircularEmbedding
from tfp_survae.transforms import (
    AdditiveMap,
    AffineMap,
    CircularSplineMap,
    Coupling,
    DiagonalScale,
    MaskedAutoregressive,
    Reverse,
)

tfd = tfp.distributions

__all__ = ["real_nvp", "nice", "circular_spline_flow"]

NICE_BASES = ("logistic", "normal")


def _coupling_flow(owner, event_size, num_layers, hidden_units, condition_size, standardize,
                   dtype, name, map_):
    event_size, num_layers, hidden_units, condition_shape = _arguments.check_vector_flow(
        owner, event_size, num_layers, hidden_units, condition_size, name, minimum_size=2)
    transforms = _arguments.standardization(owner, standardize, event_size, dtype)
    for i in range(num_layers):
        transforms.append(Coupling(map=map_, hidden_units=hidden_units,
                                   condition_shape=condition_shape, dtype=dtype))
        if i < num_layers - 1:
            transforms.append(Reverse(dtype=dtype))
    return transforms, event_size, condition_shape


def real_nvp(event_size: int, *, num_layers: int = 5,
             hidden_units: Sequence[int] = (100, 100),
             condition_size: int | None = None, standardize: Any = False, dtype: Any = None,
             name: str | None = None) -> Flow:
    """A RealNVP (Dinh et al., 2017) on vectors of `event_size` >= 2.

    From data to latent: `num_layers` affine couplings (`Coupling(map=AffineMap())`, the
    log-scale soft-clamped by tanh, as RealNVP's tanh scale), the halves' roles swapped by a
    reversal between them, onto a standard normal. The defaults are the RealNVP of the
    density-estimation benchmarks of Papamakarios et al. (2017): 5 couplings, conditioners of
    2 hidden layers of 100 units.

    Per coupling, Inverse: z_b = x_b exp(s(x_a)) + t(x_a), z_a = x_a.
    Forward: x_b = (z_b - t(z_a)) exp(-s(z_a)).  V = sum s(x_a).

    Examples:
      >>> flow = ts.architectures.real_nvp(2, num_layers=2, hidden_units=[16])
      >>> flow.log_prob(np.zeros([3, 2], np.float32)).shape
      TensorShape([3])

    Args:
      event_size: D, an integer >= 2 (a coupling needs two parts).
      num_layers: couplings, an integer >= 1.
      hidden_units: widths of each coupling's MLP, integers >= 1 (at least one layer).
      condition_size: features of a condition every coupling reads, an integer >= 1, or None.
      standardize: put a `Standardize` first (data to latent): False (none), True (one to
        adapt before training: `flow.transforms[0].adapt(x)`), or the training data (an array
        [N, event_size] or a tf.data.Dataset of batches) to adapt it on now.
      dtype: the layers' dtype policy (None: Keras' default).
      name: the flow's name.

    Returns:
      The `Flow`.

    Raises:
      ValueError, TypeError: an argument outside the ranges above (naming it).

    References:
      Dinh, Sohl-Dickstein, Bengio, "Density estimation using Real NVP", ICLR 2017.
      https://arxiv.org/abs/1605.08803
      Papamakarios, Pavlakou, Murray, "Masked Autoregressive Flow for Density Estimation",
      NeurIPS 2017. https://arxiv.org/abs/1705.07057
    """
    transforms, event_size, condition_shape = _coupling_flow(
        "real_nvp", event_size, num_layers, hidden_units, condition_size, standardize, dtype,
        name, AffineMap())
    return Flow(StandardNormal([event_size], dtype=dtype), transforms,
                condition_shape=condition_shape, dtype=dtype, name=name)


def nice(event_size: int, *, num_layers: int = 4,
         hidden_units: Sequence[int] = (1000,) * 5,
         base: str = "logistic", condition_size: int | None = None, standardize: Any = False,
         dtype: Any = None, name: str | None = None) -> Flow:
    """NICE (Dinh et al., 2015) on vectors of `event_size` >= 2.

    From data to latent: `num_layers` additive couplings (`Coupling(map=AdditiveMap())`), the
    halves' roles swapped by a reversal between them, then a trained diagonal scaling
    (`DiagonalScale`), onto a standard logistic base (or a standard normal). The defaults are
    the paper's MNIST model: 4 couplings, each conditioner 5 hidden layers of 1000 ReLU units,
    a logistic prior; shrink `hidden_units` for small data.

    Per coupling, Inverse: z_b = x_b + m(x_a), z_a = x_a.  Forward: x_b = z_b - m(z_a).  V = 0.
    The scaling, Inverse: z = x exp(s).  Forward: x = z exp(-s).  V = sum s.

    Examples:
      >>> flow = ts.architectures.nice(4, hidden_units=[16])
      >>> flow.sample(2, seed=(0, 1)).shape
      TensorShape([2, 4])

    Args:
      event_size: D, an integer >= 2.
      num_layers: couplings, an integer >= 1.
      hidden_units: widths of each coupling's MLP, integers >= 1 (at least one layer).
      base: "logistic" (the paper's) or "normal".
      condition_size: as in `real_nvp`.
      standardize: as in `real_nvp`.
      dtype: as in `real_nvp`.
      name: as in `real_nvp`.

    Returns:
      The `Flow`.

    Raises:
      ValueError, TypeError: an argument outside the ranges above (naming it).

    References:
      Dinh, Krueger, Bengio, "NICE: Non-linear Independent Components Estimation", ICLR 2015
      workshop. https://arxiv.org/abs/1410.8516
    """
    owner = "nice"
    if not isinstance(base, str) or base not in NICE_BASES:
        raise (ValueError if isinstance(base, str) else TypeError)(
            f"{owner}: base must be one of {list(NICE_BASES)}; received {base!r}.")
    transforms, event_size, condition_shape = _coupling_flow(
        owner, event_size, num_layers, hidden_units, condition_size, standardize, dtype, name,
        AdditiveMap())
    transforms.append(DiagonalScale(dtype=dtype))
    prior = StandardLogistic if base == "logistic" else StandardNormal
    return Flow(prior([event_size], dtype=dtype), transforms, condition_shape=condition_shape,
                dtype=dtype, name=name)


def circular_spline_flow(event_size: int, *, num_layers: int = 4,
                         hidden_units: Sequence[int] = (64, 64),
                         num_bins: int = 8, rotation: bool = True,
                         condition_size: int | None = None, standardize: Any = False,
                         dtype: Any = None,
                         name: str | None = None) -> Flow:
    """A circular spline flow (Rezende et al., 2020) on the torus [-pi, pi)^D of `event_size`
    angles.

    From data to latent: `num_layers` couplings of circular rational-quadratic splines
    (`CircularSplineMap`: K = `num_bins` bins, tied learned end derivatives, a learned rotation),
    whose conditioners read the conditioning angles as (cos, sin) (`nn.CircularEmbedding`), so
    the density is continuous across the seam at +-pi; the halves' roles swapped by a reversal
    between them; a uniform base on the torus (density (2 pi)^-D). One angle (D = 1) uses one
    circular spline of learned, unconditioned parameters per layer (`MaskedAutoregressive` with
    a single input), or conditioned on the condition alone. The network sizes are those of
    `neural_spline_flow` and of zuko's `NCSF` (8 bins, 2 hidden layers of 64).

    Per coupling, Inverse: z_b = g(x_b; theta(cos x_a, sin x_a)), z_a = x_a.
    Forward: x_b = g^-1(z_b; theta(cos z_a, sin z_a)).  V = sum log g'(x_b).

    Data are angles in [-pi, pi] (wrap them with
    `ts.transforms.bijections.circular.wrap_angle`); values outside are a ValueError naming
    "data x". `standardize` is refused: a standardization would move angles off the circle.

    Examples:
      >>> flow = ts.architectures.circular_spline_flow(2, num_layers=2, hidden_units=[16])
      >>> x = flow.sample(3, seed=(0, 1))
      >>> bool(tf.reduce_all(tf.abs(x) <= np.pi))
      True

    Args:
      event_size: D, an integer >= 1.
      num_layers: couplings, an integer >= 1.
      hidden_units: widths of each conditioner's MLP, integers >= 1 (at least one layer).
      num_bins: K of the splines, an integer >= 2.
      rotation: learn a rotation in each spline (the paper's) or not.
      condition_size: features of a condition every conditioner reads, an integer >= 1, or None.
      standardize: must be False (the argument is there to say so, as the other builders have
        it).
      dtype: as in `real_nvp`.
      name: as in `real_nvp`.

    Returns:
      The `Flow`.

    Raises:
      ValueError, TypeError: an argument outside the ranges above (naming it).

    References:
      Rezende, Papamakarios, Racaniere, Albergo, Kanwar, Shanahan, Cranmer, "Normalizing
      Flows on Tori and Spheres", ICML 2020. https://arxiv.org/abs/2002.02428
    """
    owner = "circular_spline_flow"
    event_size, num_layers, hidden_units, condition_shape = _arguments.check_vector_flow(
        owner, event_size, num_layers, hidden_units, condition_size, name)
    try:
        spline = CircularSplineMap(num_bins=num_bins, rotation=rotation)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{owner}: {error}") from None
    if standardize is not False:
        raise ValueError(f"{owner}: standardize must be False: a standardization would move "
                         f"angles off the circle [-pi, pi); received {standardize!r}.")
    transforms = []
    keep = event_size // 2
    for i in range(num_layers):
        if event_size == 1:
            transforms.append(MaskedAutoregressive(map=spline, hidden_units=hidden_units,
                                                   condition_shape=condition_shape,
                                                   dtype=dtype))
            continue
        outputs = spline.params_per_element * (event_size - keep)
        network = keras.Sequential(
            [CircularEmbedding(keep, dtype=dtype),
             MLP(hidden_units, outputs, output_initializer="zeros", dtype=dtype)],
            name=f"conditioner_{i}")
        transforms.append(Coupling(network, spline, num_identity=keep,
                                   condition_shape=condition_shape, dtype=dtype))
        if i < num_layers - 1:
            transforms.append(Reverse(dtype=dtype))
    return Flow(_torus_base(event_size, dtype), transforms, condition_shape=condition_shape,
                dtype=dtype, name=name)


def _torus_base(event_size: int, dtype: Any) -> tfp.distributions.Distribution:
    """The uniform distribution on [-pi, pi)^D."""
    half = np.full([event_size], np.pi, _tensors.likelihood_dtype(dtype))
    return tfd.Independent(tfd.Uniform(-half, half), reinterpreted_batch_ndims=1)
