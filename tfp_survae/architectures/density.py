"""Strong one-line defaults for density estimation: neural spline flows and MAFs."""

from __future__ import annotations

from tfp_survae import _checks
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

__all__ = ["neural_spline_flow", "masked_autoregressive_flow"]

TRANSFORMERS = ("affine", "spline")


def _checked(owner: str, event_size, num_layers, hidden_units, num_bins, bound,
             condition_size, name):
    """The builders' shared arguments, checked: (event_size, num_layers, hidden_units,
    spline map, condition_shape)."""
    event_size = _checks.check_integer(owner, "event_size", event_size, minimum=1)
    num_layers = _checks.check_integer(owner, "num_layers", num_layers, minimum=1)
    hidden_units = _checks.check_units(owner, "hidden_units", hidden_units, allow_empty=False)
    try:
        spline = RationalQuadraticMap(num_bins=num_bins, bound=bound)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{owner}: {error}") from None
    condition_shape = None if condition_size is None else [
        _checks.check_integer(owner, "condition_size", condition_size, minimum=1)]
    if name is not None and not isinstance(name, str):
        raise TypeError(f"{owner}: name must be a string or None; received "
                        f"{type(name).__name__}: {name!r}.")
    return event_size, num_layers, hidden_units, spline, condition_shape


def neural_spline_flow(event_size: int, *, num_layers: int = 4, hidden_units=(64, 64),
                       num_bins: int = 8, bound: float = 3.0, condition_size: int | None = None,
                       linear: bool = True, dtype=None, name: str | None = None) -> Flow:
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
      num_bins, bound: of the splines (`RationalQuadraticMap`).
      condition_size: features of a condition, an integer >= 1, or None.
      linear: LU linear maps (True) or reversals (False) between the couplings.
      dtype: the layers' dtype policy (None: Keras' default).
      name: the flow's name.

    Returns:
      The `Flow`.

    Raises:
      ValueError, TypeError: an argument outside the ranges above (naming it).
    """
    owner = "neural_spline_flow"
    event_size, num_layers, hidden_units, spline, condition_shape = _checked(
        owner, event_size, num_layers, hidden_units, num_bins, bound, condition_size, name)
    linear = _checks.check_flag(owner, "linear", linear)
    if event_size == 1:
        return masked_autoregressive_flow(1, num_layers=num_layers, hidden_units=hidden_units,
                                          transformer="spline", num_bins=num_bins, bound=bound,
                                          condition_size=condition_size, dtype=dtype, name=name)
    transforms = []
    for i in range(num_layers):
        transforms.append(RationalQuadraticCoupling(
            hidden_units=hidden_units, num_bins=spline.num_bins, bound=spline.bound,
            condition_shape=condition_shape, dtype=dtype))
        if i < num_layers - 1:
            transforms.append(LinearLU(dtype=dtype) if linear else Reverse(dtype=dtype))
    return Flow(StandardNormal([event_size], dtype=dtype), transforms,
                condition_shape=condition_shape, dtype=dtype, name=name)


def masked_autoregressive_flow(event_size: int, *, num_layers: int = 5, hidden_units=(64, 64),
                               transformer: str = "affine", num_bins: int = 8,
                               bound: float = 3.0, inverse_autoregressive: bool = False,
                               residual: bool = False, condition_size: int | None = None,
                               dtype=None, name: str | None = None) -> Flow:
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
      num_bins, bound: of the spline (checked for either transformer).
      inverse_autoregressive: IAF instead of MAF.
      residual: residual MADE blocks.
      condition_size: as in `neural_spline_flow`.
      dtype, name: as in `neural_spline_flow`.

    Returns:
      The `Flow`.

    Raises:
      ValueError, TypeError: an argument outside the ranges above (naming it).
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
    transforms = []
    for i in range(num_layers):
        transforms.append(MaskedAutoregressive(
            map=spline if transformer == "spline" else AffineMap(),
            inverse_autoregressive=inverse_autoregressive, hidden_units=hidden_units,
            residual=residual, condition_shape=condition_shape, dtype=dtype))
        if i < num_layers - 1 and event_size > 1:
            transforms.append(Reverse(dtype=dtype))
    return Flow(StandardNormal([event_size], dtype=dtype), transforms,
                condition_shape=condition_shape, dtype=dtype, name=name)
