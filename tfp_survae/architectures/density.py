"""Strong one-line defaults for density estimation: neural spline flows and MAFs."""

from __future__ import annotations

from typing import Any, Sequence

from tfp_survae import _checks
from tfp_survae.architectures import _arguments
from tfp_survae.distributions import StandardNormal
from tfp_survae.flow import Flow
from tfp_survae.transforms import (
    AffineMap,
    LinearLU,
    MaskedAutoregressive,
    RationalQuadraticCoupling,
    RationalQuadraticMap,
    Reverse,
)

__all__ = ["neural_spline_flow", "masked_autoregressive_flow", "inverse_autoregressive_flow"]

TRANSFORMERS = ("affine", "spline")

def _checked(owner: str, event_size, num_layers, hidden_units, num_bins, bound,
             condition_size, name):
    """The builders' shared arguments, checked: (event_size, num_layers, hidden_units,
    spline map, condition_shape)."""
    event_size, num_layers, hidden_units, condition_shape = _arguments.check_vector_flow(
        owner, event_size, num_layers, hidden_units, condition_size, name)
    spline = _arguments.spline_map(owner, num_bins, bound)
    return event_size, num_layers, hidden_units, spline, condition_shape


def neural_spline_flow(event_size: int, *, num_layers: int = 4,
                       hidden_units: Sequence[int] = (64, 64), num_bins: int = 8,
                       bound: float = 3.0, condition_size: int | None = None,
                       linear: bool = True, standardize: Any = False,
                       dtype: Any = None, name: str | None = None) -> Flow:
    """A neural spline flow (Durkan et al., 2019) on vectors of `event_size`.

    From data to latent: `num_layers` rational-quadratic spline couplings (K = `num_bins` bins
    on [-bound, bound], MLP conditioners of `hidden_units`), each followed by an LU-parameterised
    linear map (`linear=True`, as the paper's NSF) or a reversal; a standard normal base. With
    `condition_size`, every coupling also sees a condition of that many features
    (`flow.log_prob(x, condition=c)`). Surjections can be inserted anywhere in
    `flow.transforms` to build a variant, e.g. `Flow(base, [Abs(), *nsf.transforms])`.

    A 1-D event uses an autoregressive spline instead (a coupling needs two parts).

    Args:
      event_size: D, an integer >= 1.
      num_layers: couplings, an integer >= 1.
      hidden_units: widths of each coupling's MLP, integers >= 1 (at least one layer).
      num_bins: the splines' bins K (`RationalQuadraticMap`).
      bound: the splines' interval [-bound, bound] (`RationalQuadraticMap`).
      condition_size: features of a condition, an integer >= 1, or None.
      linear: LU linear maps (True) or reversals (False) between the couplings.
      standardize: put a `Standardize` first (data to latent): False (none), True (one to
        adapt before training: `flow.transforms[0].adapt(x)`), or the training data (an array
        [N, event_size] or a tf.data.Dataset of batches) to adapt it on now.
      dtype: the layers' dtype policy (None: Keras' default).
      name: the flow's name.

    Returns:
      The `Flow`.

    Raises:
      ValueError: an argument outside the ranges above (naming it).
      TypeError: an argument of the wrong type (naming it).

    Examples:
      >>> flow = ts.architectures.neural_spline_flow(2, num_layers=2, hidden_units=[16])
      >>> flow.log_prob(ts.data.sample_toy("corners", 4)).shape
      TensorShape([4])
    """
    owner = "neural_spline_flow"
    event_size, num_layers, hidden_units, spline, condition_shape = _checked(
        owner, event_size, num_layers, hidden_units, num_bins, bound, condition_size, name)
    linear = _checks.check_flag(owner, "linear", linear)
    if event_size == 1:
        return masked_autoregressive_flow(1, num_layers=num_layers, hidden_units=hidden_units,
                                          transformer="spline", num_bins=num_bins, bound=bound,
                                          condition_size=condition_size, standardize=standardize,
                                          dtype=dtype, name=name)
    transforms = _arguments.standardization(owner, standardize, event_size, dtype)
    for i in range(num_layers):
        transforms.append(RationalQuadraticCoupling(
            hidden_units=hidden_units, num_bins=spline.num_bins, bound=spline.bound,
            condition_shape=condition_shape, dtype=dtype))
        if i < num_layers - 1:
            transforms.append(LinearLU(dtype=dtype) if linear else Reverse(dtype=dtype))
    return Flow(StandardNormal([event_size], dtype=dtype), transforms,
                condition_shape=condition_shape, dtype=dtype, name=name)


def masked_autoregressive_flow(event_size: int, *, num_layers: int = 5,
                               hidden_units: Sequence[int] = (64, 64),
                               transformer: str = "affine", num_bins: int = 8,
                               bound: float = 3.0, inverse_autoregressive: bool = False,
                               residual: bool = False, condition_size: int | None = None,
                               standardize: Any = False, dtype: Any = None,
                               name: str | None = None) -> Flow:
    """A masked autoregressive flow (Papamakarios et al., 2017) on vectors of `event_size`.

    `num_layers` MADE-conditioned autoregressive maps, the order reversed between them, onto a
    standard normal. `inverse_autoregressive=True` builds an IAF (fast sampling, D passes for
    the density). For other maps, build the layers yourself:
    `MaskedAutoregressive(map=LogisticMixtureMap())`.

    Args:
      event_size: D, an integer >= 1.
      num_layers: autoregressive layers, an integer >= 1.
      hidden_units: widths of each MADE, integers >= 1 (at least one layer; equal widths for
        `residual`).
      transformer: "affine" (`AffineMap()`) or "spline" (`RationalQuadraticMap(num_bins,
        bound)`).
      num_bins: the spline's bins K (checked for either transformer).
      bound: the spline's interval [-bound, bound] (checked for either transformer).
      inverse_autoregressive: IAF instead of MAF.
      residual: residual MADE blocks.
      condition_size: as in `neural_spline_flow`.
      standardize: as in `neural_spline_flow`.
      dtype: the layers' dtype policy (None: Keras' default).
      name: the flow's name.

    Returns:
      The `Flow`.

    Raises:
      ValueError: an argument outside the ranges above (naming it).
      TypeError: an argument of the wrong type (naming it).

    Examples:
      >>> flow = ts.architectures.masked_autoregressive_flow(3, num_layers=2, hidden_units=[16])
      >>> flow.sample(5, seed=(1, 2)).shape
      TensorShape([5, 3])
    """
    owner = "masked_autoregressive_flow"
    event_size, num_layers, hidden_units, spline, condition_shape = _checked(
        owner, event_size, num_layers, hidden_units, num_bins, bound, condition_size, name)
    if not isinstance(transformer, str) or transformer not in TRANSFORMERS:
        raise ValueError(f"{owner}: transformer must be one of {list(TRANSFORMERS)}; received "
                         f"{transformer!r}.")
    inverse_autoregressive = _checks.check_flag(owner, "inverse_autoregressive",
                                                inverse_autoregressive)
    residual = _checks.check_flag(owner, "residual", residual)
    if residual and len(set(hidden_units)) != 1:
        raise ValueError(f"{owner}: residual=True needs equal hidden_units; received "
                         f"{hidden_units}.")
    return _autoregressive(owner, event_size, num_layers, hidden_units,
                           spline if transformer == "spline" else AffineMap(),
                           inverse_autoregressive, residual, condition_shape, standardize, dtype,
                           name)


def _autoregressive(owner, event_size, num_layers, hidden_units, map_, inverse_autoregressive,
                    residual, condition_shape, standardize, dtype, name) -> Flow:
    transforms = _arguments.standardization(owner, standardize, event_size, dtype)
    for i in range(num_layers):
        transforms.append(MaskedAutoregressive(
            map=map_,
            inverse_autoregressive=inverse_autoregressive, hidden_units=hidden_units,
            residual=residual, condition_shape=condition_shape, dtype=dtype))
        if i < num_layers - 1 and event_size > 1:
            transforms.append(Reverse(dtype=dtype))
    return Flow(StandardNormal([event_size], dtype=dtype), transforms,
                condition_shape=condition_shape, dtype=dtype, name=name)


def inverse_autoregressive_flow(event_size: int, *, num_layers: int = 5,
                                hidden_units: Sequence[int] = (64, 64),
                                condition_size: int | None = None,
                                standardize: Any = False, dtype: Any = None,
                                name: str | None = None) -> Flow:
    """An inverse autoregressive flow (Kingma et al., 2016) on vectors of `event_size`.

    `num_layers` MADE-conditioned IAF steps, the order reversed between them, onto a standard
    normal. Each step is the paper's numerically stable update: an affine map
    (`AffineMap(scale_fn="iaf_gate")`) that, in the sampling direction, multiplies by a gate
    sigma_i = sigmoid(r_i + 2) in (0, 1) (the forget-gate bias of 2 starts each step close to
    the identity) and shifts, with r and the shift functions of z_<i (a MADE). Sampling, and
    `sample_and_log_prob`, take one network pass per step; the density of given data takes D
    passes per step (`masked_autoregressive_flow(..., inverse_autoregressive=True)` with the
    default map is the same structure with a soft-clamped scale).

    Forward (sampling): x_i = sigma_i(z_<i) (z_i - t_i(z_<i)) in each step.
    Inverse: z_i = x_i / sigma_i + t_i, D sequential passes.  V = -sum_i log sigma_i per step.

    Examples:
      >>> flow = ts.architectures.inverse_autoregressive_flow(3, num_layers=2,
      ...                                                     hidden_units=[16])
      >>> flow.sample(4, seed=(0, 1)).shape
      TensorShape([4, 3])

    Args:
      event_size: D, an integer >= 1.
      num_layers: IAF steps, an integer >= 1.
      hidden_units: widths of each MADE, integers >= 1 (at least one layer).
      condition_size: features of a condition (every MADE reads it), an integer >= 1, or None.
      standardize: as in `neural_spline_flow`.
      dtype: as in `neural_spline_flow`.
      name: as in `neural_spline_flow`.

    Returns:
      The `Flow`.

    Raises:
      ValueError, TypeError: an argument outside the ranges above (naming it).

    References:
      Kingma, Salimans, Jozefowicz, Chen, Sutskever, Welling, "Improving Variational Inference
      with Inverse Autoregressive Flow", NeurIPS 2016. https://arxiv.org/abs/1606.04934
    """
    owner = "inverse_autoregressive_flow"
    event_size, num_layers, hidden_units, condition_shape = _arguments.check_vector_flow(
        owner, event_size, num_layers, hidden_units, condition_size, name)
    return _autoregressive(owner, event_size, num_layers, hidden_units,
                           AffineMap(scale_fn="iaf_gate"), True, False, condition_shape,
                           standardize, dtype, name)
