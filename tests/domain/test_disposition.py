"""What inspection leads to (lifecycles.md §1.5): every (resolution, grade, serial_matches)."""

from __future__ import annotations

import itertools

import pytest

from domain.rma import Coverage, Grade, Resolution
from domain.rules import Disposition, disposition

R, G, D = Resolution, Grade, Disposition

# §1.5 with a matching serial, written out cell by cell.
MATCHING_SERIAL: dict[tuple[Resolution, Grade], Disposition] = {
    (R.REFUND, G.A): D.REFUND_FULL,
    (R.REFUND, G.B): D.REFUND_LESS_RESTOCKING,
    (R.REFUND, G.C): D.SHIP_BACK,
    (R.REFUND, G.D): D.REFUND_FULL,
    (R.REPLACEMENT, G.A): D.REPLACEMENT,
    (R.REPLACEMENT, G.B): D.REPLACEMENT,
    (R.REPLACEMENT, G.C): D.SHIP_BACK,
    (R.REPLACEMENT, G.D): D.REPLACEMENT,
    (R.REPAIR, G.A): D.REPAIR,
    (R.REPAIR, G.B): D.REPAIR,
    (R.REPAIR, G.C): D.REPAIR,
    (R.REPAIR, G.D): D.REPAIR,
}


def expected_disposition(resolution: Resolution, grade: Grade, serial_matches: bool) -> Disposition:
    if not serial_matches:
        return D.SHIP_BACK  # not the customer's unit: it goes back, whatever was asked
    return MATCHING_SERIAL[(resolution, grade)]


def expected_coverage(
    resolution: Resolution, grade: Grade, serial_matches: bool, coverage: Coverage
) -> Coverage:
    if serial_matches and resolution is R.REPAIR and grade is G.C:
        return Coverage.PAID  # damaged by the customer: the repair is quoted
    return coverage


def test_table_is_complete() -> None:
    assert set(MATCHING_SERIAL) == set(itertools.product(Resolution, Grade))
    assert len(MATCHING_SERIAL) == 12


@pytest.mark.parametrize("serial_matches", [True, False], ids=["serial-ok", "serial-mismatch"])
@pytest.mark.parametrize("grade", list(Grade))
@pytest.mark.parametrize("resolution", list(Resolution))
def test_disposition_table(resolution: Resolution, grade: Grade, serial_matches: bool) -> None:
    result = disposition(resolution, grade, serial_matches, Coverage.WARRANTY)
    assert result.disposition is expected_disposition(resolution, grade, serial_matches)


@pytest.mark.parametrize("coverage", list(Coverage))
@pytest.mark.parametrize("serial_matches", [True, False], ids=["serial-ok", "serial-mismatch"])
@pytest.mark.parametrize("grade", list(Grade))
@pytest.mark.parametrize("resolution", list(Resolution))
def test_coverage_after_inspection(
    resolution: Resolution, grade: Grade, serial_matches: bool, coverage: Coverage
) -> None:
    result = disposition(resolution, grade, serial_matches, coverage)
    # `result.coverage` is set only when inspection changes it; None keeps the case's own.
    effective = result.coverage if result.coverage is not None else coverage
    assert effective is expected_coverage(resolution, grade, serial_matches, coverage)


@pytest.mark.parametrize("coverage", [c for c in Coverage if c is not Coverage.PAID])
def test_grade_c_repair_turns_any_coverage_to_paid(coverage: Coverage) -> None:
    result = disposition(R.REPAIR, G.C, True, coverage)
    assert result.disposition is D.REPAIR
    assert result.coverage is Coverage.PAID


@pytest.mark.parametrize("grade", [G.A, G.B, G.D])
@pytest.mark.parametrize("coverage", list(Coverage))
def test_repair_other_grades_keep_the_coverage(grade: Grade, coverage: Coverage) -> None:
    result = disposition(R.REPAIR, grade, True, coverage)
    assert result.disposition is D.REPAIR
    assert result.coverage in (None, coverage)


@pytest.mark.parametrize("grade", list(Grade))
@pytest.mark.parametrize("resolution", list(Resolution))
def test_serial_mismatch_never_changes_coverage(resolution: Resolution, grade: Grade) -> None:
    result = disposition(resolution, grade, False, Coverage.WARRANTY)
    assert result.disposition is D.SHIP_BACK
    assert result.coverage in (None, Coverage.WARRANTY)
