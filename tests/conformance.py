"""The conformance suite (tfp_survae/_conformance.py, public as `extend.check_transform`) for
the tests: the same checks, with an XLA run of a case that does not compile under XLA skipped
by pytest."""

import pytest

from tfp_survae._conformance import (  # noqa: F401 (the tests import these from here)
    BATCH,
    DTYPES,
    MODES,
    SEED_A,
    SEED_B,
    TOLERANCE,
    Case,
    build_transform,
    check_builds_in_function,
    check_config_round_trip,
    check_outputs,
    make_inputs,
    normal,
    probe,
    tolerance_of,
)
from tfp_survae._conformance import run_case as _run_case


def run_case(case: Case, dtype: str, mode: str):
    if mode == "xla" and case.xla is not None:
        pytest.skip(case.xla)
    return _run_case(case, dtype, mode)
