"""The simulator's fraudulent institutions (``sim.anomalies.defraud``): each scheme
changes the bills it fits, and nothing where it fits none or where the change would not
settle inside the simulated window (the truth must be visible in the data)."""

from __future__ import annotations

from datetime import date

from medroam.sim.anomalies import NEUTRAL_DIAGNOSIS, defraud
from medroam.sim.visits import INPATIENT, OUTPATIENT, Encounter, FeeItem, Hospital

HOSPITAL = Hospital("H11010000001", "测试医院（模拟）", "110100", "3")
WINDOW = (date(2026, 10, 1), date(2026, 10, 31))


def _line(sn: int, code: str, day: int = 0) -> FeeItem:
    return FeeItem(f"{sn:04d}", code, code, "09", 2, 1_000_000, 200, day_offset=day)


def _visit(day: date, n_lines: int = 3) -> Encounter:
    lines = tuple(_line(n, f"X{n}") for n in range(1, n_lines + 1))
    return Encounter("P1-O", "P1", "", OUTPATIENT, HOSPITAL, day, day, False,
                     NEUTRAL_DIAGNOSIS, lines)  # fmt: skip


def _stay(admit: date, discharge: date) -> Encounter:
    days = (discharge - admit).days
    lines = tuple(_line(n + 1, f"D{n}", day=n) for n in range(days))
    return Encounter("P2-I", "P2", "", INPATIENT, HOSPITAL, admit, discharge, False,
                     NEUTRAL_DIAGNOSIS, lines)  # fmt: skip


def test_duplicate_charge_repeats_a_third_of_the_lines_but_not_ruled_items() -> None:
    """Six lines X1…X6: the first two (6 // 3) charged again, same item, day, quantity
    and price — X1 is named by a rule, so only X2 is repeated."""
    (doubled,) = defraud("duplicate_charge", [_visit(date(2026, 10, 5), 6)], frozenset({"X1"}))
    assert [line.code for line in doubled.lines] == ["X1", "X2", "X3", "X4", "X5", "X6", "X2"]
    assert doubled.lines[-1].amount == doubled.lines[1].amount
    assert defraud("duplicate_charge", [_visit(date(2026, 10, 5), 1)], frozenset({"X1"})) == []


def test_phantom_admission_bills_a_visit_as_a_three_day_stay_inside_the_window() -> None:
    """A visit on 10-05 becomes a stay 10-05…10-08 with its 3 lines on each of the 3
    days (9 lines); a visit on 10-30 would be discharged after the window: unchanged."""
    (stay,) = defraud("phantom_admission", [_visit(date(2026, 10, 5))], frozenset(), WINDOW)
    assert stay.kind == INPATIENT and (stay.admit, stay.day) == (date(2026, 10, 5),
                                                                 date(2026, 10, 8))  # fmt: skip
    assert sorted({line.day_offset for line in stay.lines}) == [0, 1, 2] and len(stay.lines) == 9
    assert defraud("phantom_admission", [_visit(date(2026, 10, 30))], frozenset(), WINDOW) == []
    assert defraud("phantom_admission", [_stay(date(2026, 10, 1), date(2026, 10, 9))],
                   frozenset(), WINDOW) == []  # fmt: skip


def test_split_admission_splits_long_stays_settled_inside_the_window() -> None:
    """10-02…10-12 (10 days): 10-02…10-07 and, two days later, 10-09…10-12, the lines of
    day 6 dropped with the gap. A 5-day stay is left alone; so is a stay whose first half
    would be discharged before the window."""
    first, second = defraud(
        "split_admission", [_stay(date(2026, 10, 2), date(2026, 10, 12))], frozenset(), WINDOW
    )
    assert (first.admit, first.day) == (date(2026, 10, 2), date(2026, 10, 7))
    assert (second.admit, second.day) == (date(2026, 10, 9), date(2026, 10, 12))
    assert second.key == "P2-I-S" and len(first.lines) + len(second.lines) == 9
    assert defraud("split_admission", [_stay(date(2026, 10, 2), date(2026, 10, 7))],
                   frozenset(), WINDOW) == []  # fmt: skip
    early = _stay(date(2026, 9, 20), date(2026, 10, 2))  # first half ends 09-26
    assert defraud("split_admission", [early], frozenset(), WINDOW) == []
    assert len(defraud("split_admission", [early], frozenset())) == 2  # no window given
