"""Free-form flows in one line: continuous normalizing flows (FFJORD) and residual flows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tfp_survae import _checks
from tfp_survae.architectures import _arguments
from tfp_survae.distributions import StandardNormal
from tfp_survae.flow import Flow
from tfp_survae.transforms import ActNorm, ContinuousFlow, ResidualBlock

__all__ = ["continuous_flow", "residual_flow"]


def _check(owner: str, event_size: int, num_blocks: int,
           condition_size: int | None) -> list[int] | None:
    """Checks the sizes; returns the condition_shape [C] (None: unconditional)."""
    _checks.check_integer(owner, "event_size", event_size, minimum=1)
    _checks.check_integer(owner, "num_blocks", num_blocks, minimum=1)
    return _arguments.check_condition_size(owner, condition_size)


def continuous_flow(event_size: int, *, num_blocks: int = 1,
                    hidden_units: Sequence[int] = (64, 64, 64),
                    activation: str = "tanh", time_length: float = 1.0, trace: str = "exact",
                    rtol: float = 1e-5, atol: float = 1e-5, condition_size: int | None = None,
                    dtype: Any = None, name: str | None = None) -> Flow:
    """A continuous normalizing flow (FFJORD) on vectors of `event_size`.

    `num_blocks` `ContinuousFlow` layers onto a standard normal base. The defaults are those of
    FFJORD's 2-D experiments (Grathwohl et al., 2019, https://arxiv.org/abs/1810.01367): one
    block, an MLP of 64-64-64 tanh units on [x, t], Dormand-Prince with rtol = atol = 1e-5.
    FFJORD learns the integration time (from 0.5) and estimates the trace with Hutchinson's
    estimator; here T is fixed and the trace is exact by default (as zuko's `CNF`), so the flow
    is exact: pass `trace="hutchinson"` for large `event_size` (`log_prob` is then an
    unbiased estimate). With `condition_size`, the dynamics also see a condition of that many
    features (`flow.log_prob(x, condition=c)`).

    Args:
      event_size: D, the length of the data vectors.
      num_blocks: the number of ODE blocks, each with its own network.
      hidden_units: as in `ContinuousFlow`, for every block.
      activation: as in `ContinuousFlow`.
      time_length: as in `ContinuousFlow`.
      trace: as in `ContinuousFlow`.
      rtol: as in `ContinuousFlow`.
      atol: as in `ContinuousFlow`.
      condition_size: features of an optional condition.
      dtype: the flow's dtype (policy name or dtype); None for Keras' default.
      name: the flow's name.

    Returns:
      A `Flow`.

    Raises:
      ValueError / TypeError: for a size that is not a positive integer, or (from
        `ContinuousFlow`) an invalid option.

    Example:
      >>> flow = continuous_flow(2, hidden_units=[16])
      >>> flow.log_prob(tf.zeros([3, 2])).shape
      TensorShape([3])
    """
    condition_shape = _check("continuous_flow", event_size, num_blocks, condition_size)
    blocks = [ContinuousFlow(hidden_units=hidden_units, activation=activation,
                             time_length=time_length, trace=trace, rtol=rtol, atol=atol,
                             condition_shape=condition_shape, dtype=dtype)
              for _ in range(int(num_blocks))]
    return Flow(StandardNormal([int(event_size)], dtype=dtype), blocks,
                condition_shape=condition_shape, dtype=dtype, name=name)


def residual_flow(event_size: int, *, num_blocks: int = 10,
                  hidden_units: Sequence[int] = (128, 128, 128, 128),
                  activation: str = "lipswish", lipschitz: float = 0.9,
                  power_iterations: int = 5, log_det: str = "roulette", actnorm: bool = True,
                  condition_size: int | None = None, dtype: Any = None,
                  name: str | None = None) -> Flow:
    """A residual flow (i-ResNet / Residual Flows) on vectors of `event_size`.

    `num_blocks` `ResidualBlock`s, each preceded by an `ActNorm` (`actnorm=True`), onto a
    standard normal base. Each block follows the 2-D experiments of Residual Flows (Chen et al.,
    2019, https://arxiv.org/abs/1906.02735; code rtqichen/residual-flows, train_toy.py): an
    MLP of 128-128-128-128 LipSwish units, every linear layer spectrally normalised to 0.9
    with 5 power iterations per training step, the log-determinant by the Russian-roulette
    power series (geometric p = 0.5, 2 exact terms) with the Neumann gradient. Those
    experiments stack 100 blocks (as i-ResNet, Behrmann et al., 2019,
    https://arxiv.org/abs/1811.00995); the default here is 10, for CPU time.
    `log_det="exact"` gives an exact flow for small `event_size`. With `condition_size`, every
    block's g also sees a condition of that many features.

    Args:
      event_size: D, the length of the data vectors.
      num_blocks: the number of residual blocks.
      hidden_units: as in `ResidualBlock`, for every block.
      activation: as in `ResidualBlock`.
      lipschitz: as in `ResidualBlock`.
      power_iterations: as in `ResidualBlock`.
      log_det: as in `ResidualBlock`.
      actnorm: an `ActNorm` before every block (data-dependent initialisation).
      condition_size: features of an optional condition.
      dtype: the flow's dtype (policy name or dtype); None for Keras' default.
      name: the flow's name.

    Returns:
      A `Flow`.

    Raises:
      ValueError / TypeError: for a size that is not a positive integer, or (from
        `ResidualBlock`) an invalid option.

    Example:
      >>> flow = residual_flow(2, num_blocks=2, hidden_units=[16], log_det="exact")
      >>> flow.log_prob(tf.zeros([3, 2])).shape
      TensorShape([3])
    """
    condition_shape = _check("residual_flow", event_size, num_blocks, condition_size)
    _checks.check_flag("residual_flow", "actnorm", actnorm)
    transforms = []
    for _ in range(int(num_blocks)):
        if actnorm:
            transforms.append(ActNorm(dtype=dtype))
        transforms.append(ResidualBlock(hidden_units=hidden_units, activation=activation,
                                        lipschitz=lipschitz, power_iterations=power_iterations,
                                        log_det=log_det, condition_shape=condition_shape,
                                        dtype=dtype))
    return Flow(StandardNormal([int(event_size)], dtype=dtype), transforms,
                condition_shape=condition_shape, dtype=dtype, name=name)
