"""Every transform through the conformance suite (tests/conformance.py)."""

import pytest
from conformance import (DTYPES, MODES, check_builds_in_function, check_config_round_trip,
                         run_case)
from conformance_cases import CASES, public_transforms


# XLA programs stay in memory until the process exits: the XLA mode runs isolated.
@pytest.mark.parametrize("mode", [pytest.param(m, marks=pytest.mark.isolated) if m == "xla"
                                  else m for m in MODES])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_conformance(case, dtype, mode):
    run_case(case, dtype, mode)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_builds_inside_a_compiled_function(case):
    check_builds_in_function(case)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_config_round_trip(case, dtype):
    check_config_round_trip(case, dtype)


def test_every_public_transform_has_a_case():
    public = set(public_transforms())
    covered = {type(case.make("float32")) for case in CASES}
    assert public - covered == set(), f"transforms without a conformance case: {public - covered}"
