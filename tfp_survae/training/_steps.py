"""Step counts: `steps_per_execution` and the epoch lengths `fit` and `evaluate` are given,
checked, and executions sized so that the steps asked for are the steps run."""

from __future__ import annotations

import math
from typing import Any

from tfp_survae import _checks


def check_steps(owner: str, name: str, value: Any, *, optional: bool = False) -> int | None:
    """A positive integer (or, with `optional`, None); a TypeError or ValueError naming `name`
    otherwise. Returns it."""
    if value is None and optional:
        return None
    return _checks.check_count(owner, name, value, minimum=1)


def check_replicated_steps(owner: str, steps_per_execution: int, replicas: int) -> None:
    """A ValueError for several steps per execution under a strategy with several replicas:
    Keras 3's multi-step loop (a `tf.cond` on the iterator inside a `tf.while_loop`, around
    the replicas' merge_call) fails there with "You must feed a value for placeholder tensor"
    (keras-team/keras#19246), for any model."""
    if replicas > 1 and steps_per_execution > 1:
        raise ValueError(
            f"{owner}: steps_per_execution must be 1 under a tf.distribute strategy with "
            f"{replicas} replicas (received {steps_per_execution}): Keras 3 cannot run several "
            "steps per execution there (its loop fails with 'You must feed a value for "
            "placeholder tensor', keras-team/keras#19246). Compile inside the strategy's "
            "scope without steps_per_execution (1 is the default there), or train with "
            "ts.training.distributed_fit, which takes steps_per_execution under a strategy.")


def execution_size(steps_per_execution: int, *counts: int | None) -> int:
    """The batches per execution for epochs of `counts` steps (None: until the data end).

    Keras runs whole executions, so an epoch of 10 steps with 32 per execution would run 32.
    The largest size up to `steps_per_execution` that divides every count runs each epoch
    exactly (10 -> 10, 100 -> 25; a prime count above it runs one step per execution).
    """
    fixed = [int(c) for c in counts if c is not None]
    if not fixed:
        return steps_per_execution
    common = math.gcd(*fixed)
    return max(d for d in range(1, min(steps_per_execution, common) + 1) if common % d == 0)
