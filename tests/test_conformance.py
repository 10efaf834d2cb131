"""Every transform through the conformance suite (tests/conformance.py)."""

import pytest
from conformance import (DTYPES, MODES, check_builds_in_function, check_config_round_trip,
                         run_case)
from conformance_cases import CASES, public_transforms


def _representatives() -> set:
    """The first case of each transform class: the default run compiles these under XLA."""
    seen, names = set(), set()
    for case in CASES:
        cls = type(case.make("float32"))
        if cls not in seen:
            seen.add(cls)
            names.add(str(case))
    return names


REPRESENTATIVES = _representatives()


def _params():
    """Every (case, dtype, mode). The default run checks every case eagerly in both dtypes and
    compiles it once in float32: under XLA for one case of each class, as a plain tf.function
    for the others (the XLA mode traces the same function and checks the same things, so a
    case compiled under XLA needs no plain tf.function run by default). The other compiled runs
    (float64, the remaining XLA cases and plain-function runs, and every compiled run of a case
    that is slow to trace, `Case.slow_to_trace`) are marked slow, for the full run (CI's
    `-m slow`). XLA programs stay in memory until the process exits: the XLA mode runs
    isolated."""
    params = []
    for case in CASES:
        xla_by_default = str(case) in REPRESENTATIVES and case.xla is None
        for dtype in DTYPES:
            for mode in MODES:
                marks = [pytest.mark.isolated] if mode == "xla" else []
                by_default = mode == "eager" or (
                    dtype == "float32" and not case.slow_to_trace
                    and (mode == "xla") == xla_by_default)
                if not by_default:
                    marks.append(pytest.mark.slow)
                params.append(pytest.param(case, dtype, mode, marks=marks,
                                           id=f"{case}-{dtype}-{mode}"))
    return params


@pytest.mark.parametrize("case, dtype, mode", _params())
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
