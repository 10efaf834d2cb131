"""Strong one-line defaults for density estimation: neural spline flows and MAFs."""

from __future__ import annotations

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


def _check(event_size, num_layers):
    if int(event_size) < 1:
        raise ValueError(f"event_size must be positive; received {event_size}.")
    if int(num_layers) < 1:
        raise ValueError(f"num_layers must be positive; received {num_layers}.")


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
    """
    _check(event_size, num_layers)
    if int(event_size) == 1:
        return masked_autoregressive_flow(1, num_layers=num_layers, hidden_units=hidden_units,
                                          transformer="spline", num_bins=num_bins, bound=bound,
                                          condition_size=condition_size, dtype=dtype, name=name)
    condition_shape = None if condition_size is None else [int(condition_size)]
    transforms = []
    for i in range(num_layers):
        transforms.append(RationalQuadraticCoupling(
            hidden_units=hidden_units, num_bins=num_bins, bound=bound,
            condition_shape=condition_shape, dtype=dtype))
        if i < num_layers - 1:
            transforms.append(LinearLU(dtype=dtype) if linear else Reverse(dtype=dtype))
    return Flow(StandardNormal([int(event_size)], dtype=dtype), transforms,
                condition_shape=condition_shape, dtype=dtype, name=name)


def masked_autoregressive_flow(event_size: int, *, num_layers: int = 5, hidden_units=(64, 64),
                               transformer: str = "affine", num_bins: int = 8,
                               bound: float = 3.0, inverse_autoregressive: bool = False,
                               residual: bool = False, condition_size: int | None = None,
                               dtype=None, name: str | None = None) -> Flow:
    """A masked autoregressive flow (Papamakarios et al., 2017) on vectors of `event_size`.

    `num_layers` MADE-conditioned autoregressive maps ("affine" or "spline" transformer), the
    order reversed between them, onto a standard normal. `inverse_autoregressive=True` builds
    an IAF (fast sampling, D passes for the density). `condition_size` as in
    `neural_spline_flow`.
    """
    _check(event_size, num_layers)
    if transformer not in ("affine", "spline"):
        raise ValueError(f"transformer is 'affine' or 'spline'; received {transformer!r}.")
    spline = RationalQuadraticMap(num_bins=num_bins, bound=bound)
    condition_shape = None if condition_size is None else [int(condition_size)]
    transforms = []
    for i in range(num_layers):
        transforms.append(MaskedAutoregressive(
            map=spline if transformer == "spline" else AffineMap(),
            inverse_autoregressive=inverse_autoregressive, hidden_units=hidden_units,
            residual=residual, condition_shape=condition_shape, dtype=dtype))
        if i < num_layers - 1 and int(event_size) > 1:
            transforms.append(Reverse(dtype=dtype))
    return Flow(StandardNormal([int(event_size)], dtype=dtype), transforms,
                condition_shape=condition_shape, dtype=dtype, name=name)
