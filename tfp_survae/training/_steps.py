"""Step counts: `steps_per_execution` and the epoch lengths `fit` and `evaluate` are given,
checked, and executions sized so that the steps asked for are the steps run."""

from __future__ import annotations

import math

from tfp_survae import _checks


def check_steps(owner: str, name: str, value, *, optional: bool = False):
    """A positive integer (or, with `optional`, None); a TypeError or ValueError naming `name`
    otherwise. Returns it."""
    if value is None and optional:
        return None
    return _checks.check_count(owner, name, value, minimum=1)


def execution_size(steps_per_execution: int, *counts) -> int:
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
