"""Netting, reconciliation comparison, fund lines, ledger legs, advance days."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as s

from medroam.domain.clearing.advance import weighted_days
from medroam.domain.clearing.funds import FundLine, fund_line_of
from medroam.domain.clearing.ledger import (
    UnbalancedPostingError,
    check_balanced,
    clearing_legs,
    prepay_legs,
)
from medroam.domain.clearing.netting import gross_transfers, net_positions, net_transfers
from medroam.domain.clearing.reconcile import MismatchKind, Record, compare

PROVINCES = ["110000", "310000", "440000", "420000", "650000"]
pairs = s.dictionaries(
    s.tuples(s.sampled_from(PROVINCES), s.sampled_from(PROVINCES)),
    s.integers(-(10**9), 10**12),
    max_size=20,
)


@given(pairs)
def test_net_positions_sum_to_zero_and_transfers_settle_them(
    gross: dict[tuple[str, str], int],
) -> None:
    net = net_positions(gross)
    assert sum(net.values()) == 0
    moved: dict[str, int] = {}
    for t in net_transfers(net):
        assert t.amount > 0
        moved[t.payer] = moved.get(t.payer, 0) - t.amount
        moved[t.payee] = moved.get(t.payee, 0) + t.amount
    assert {k: v for k, v in moved.items() if k != "national"} == {
        k: v for k, v in net.items() if v
    }
    settled: dict[str, int] = {}
    for t in gross_transfers(gross):
        settled[t.payer] = settled.get(t.payer, 0) - t.amount
        settled[t.payee] = settled.get(t.payee, 0) + t.amount
    assert {k: v for k, v in settled.items() if v} == {k: v for k, v in net.items() if v}


def test_net_positions_example() -> None:
    net = net_positions(
        {("110000", "310000"): 100, ("310000", "110000"): 30, ("440000", "110000"): 5}
    )
    assert net == {"110000": -65, "310000": 70, "440000": -5}


def test_reconcile_lists_every_mismatch() -> None:
    ours = [
        Record("A", 100, 80, 10, False),
        Record("B", 50, 40, 0, False),
        Record("B", -50, -40, 0, True),
        Record("C", 10, 5, 0, False),
        Record("C", 10, 5, 0, False),
    ]
    theirs = [
        Record("A", 100, 80, 10, False),
        Record("B", 50, 41, 1, False),
        Record("D", 7, 7, 0, False),
        Record("C", 10, 5, 0, False),
    ]
    found = compare(ours, theirs)
    assert [(m.setl_id, m.refd, m.kind) for m in found] == [
        ("B", False, MismatchKind.AMOUNTS),
        ("B", True, MismatchKind.MISSING_THEIRS),
        ("C", False, MismatchKind.DUPLICATE_OURS),
        ("D", False, MismatchKind.MISSING_OURS),
    ]
    assert found[0].fields == ("fund", "acct")
    assert compare(theirs[:1], theirs[:1]) == []
    assert found[0].as_dict()["refd_setl_flag"] == "0"


@pytest.mark.parametrize(
    ("code", "line"),
    [
        ("310100", FundLine.BASIC),
        ("390102", FundLine.BASIC),
        ("390200", FundLine.CRITICAL),
        ("310300", FundLine.CRITICAL),
        ("610100", FundLine.ASSISTANCE),
        ("610102", FundLine.ASSISTANCE),
        ("320100", FundLine.CIVIL_SERVANT),
        ("330100", FundLine.LARGE_EXPENSE),
        ("310200", FundLine.ACCOUNT),
        ("310200MA", FundLine.MUTUAL_AID),
        ("370100", FundLine.OTHER),
        ("999997", FundLine.OTHER),
        ("999996", FundLine.OTHER),
    ],
)
def test_fund_lines(code: str, line: FundLine) -> None:
    assert fund_line_of(code) == line


def test_ledger_legs_balance() -> None:
    legs = clearing_legs(
        [("110100", "310100", 500), ("440300", "440100", 7), ("310100", "110100", -2)]
    )
    check_balanced(legs)
    by = {leg.account: leg.amount for leg in legs}
    assert by["clearing:national:110000"] == -500 - 2
    assert by["clearing:national:310000"] == 502
    assert by["clearing:provincial:440300"] == -7 and by["clearing:provincial:440100"] == 7
    check_balanced(prepay_legs("national", "110000", "310000", 123))
    with pytest.raises(UnbalancedPostingError):
        from medroam.domain.clearing.ledger import Leg

        check_balanced([Leg("a", 1)])


def test_weighted_advance_days() -> None:
    items = [
        (300, date(2026, 10, 1), date(2026, 11, 30)),  # 60 days
        (100, date(2026, 10, 31), date(2026, 11, 30)),  # 30 days
    ]
    assert weighted_days(items) == Decimal("52.50")
    assert weighted_days([(1, date(2026, 1, 1), date(2026, 1, 1))]) == Decimal("0")
    assert (
        weighted_days(
            [(5, date(2026, 1, 1), date(2026, 1, 2)), (-5, date(2026, 1, 1), date(2026, 1, 9))]
        )
        is None
    )
    assert weighted_days(
        [(2, date(2026, 1, 1), date(2026, 1, 4)), (1, date(2026, 1, 1), date(2026, 1, 2))]
    ) == Decimal("2.33")
