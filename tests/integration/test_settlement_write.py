"""Recording a settlement (``store/settlement_write.py``): on PostgreSQL every row of a
settlement goes in one statement; it must write exactly what the statement-each path
writes (the path SQLite takes), and refuse an overdrawn account as that path does."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from medroam.services import fees, settlement
from medroam.services.ports import BenefitState
from medroam.services.uow import unit_of_work
from medroam.store import settlement_write
from medroam.store.insured_place import SqlInsuredPlace
from medroam.store.tables import (
    AccountRow,
    FeeLineRow,
    LedgerLegRow,
    LedgerPostingRow,
    SettlementDetailRow,
    SettlementRow,
    VisitRow,
)
from tests.integration.test_settlement_service_support import (
    EMPLOYEE_HHHT,
    H_BJ,
    NOW,
    account,
    accumulators,
    admit,
    counts,
    discharge,
    outpatient,
    request,
    typical_lines,
)

pytestmark = pytest.mark.db


class _RollbackError(Exception):
    pass


def _row(obj: Any, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        c.key: getattr(obj, c.key)
        for c in obj.__table__.columns
        if c.key not in drop and c.key not in ("row_id", "posting_id", "leg_id")
    }


def _capture(s: Session, setl_id: str, mdtrt_id: str, psn: str) -> dict[str, Any]:
    """Everything the settlement wrote, with its id replaced by "ST"."""
    setl = s.get(SettlementRow, setl_id, populate_existing=True)
    assert setl is not None
    postings = s.scalars(select(LedgerPostingRow).where(LedgerPostingRow.setl_id == setl_id)).all()
    legs = s.scalars(
        select(LedgerLegRow).where(LedgerLegRow.posting_id.in_([p.posting_id for p in postings]))
    ).all()
    visit = s.get(VisitRow, mdtrt_id, populate_existing=True)
    return {
        "settlement": _row(setl, ("setl_id",)),
        "details": sorted(
            (d.seq, d.fund_pay_type, d.inscp, d.limit_amount, d.paid, d.note)
            for d in s.scalars(
                select(SettlementDetailRow).where(SettlementDetailRow.setl_id == setl_id)
            )
        ),
        "postings": [(p.kind, p.posted_at) for p in postings],
        "legs": sorted((leg.account, leg.amount) for leg in legs),
        "lines": sorted(
            (ln.feedetl_sn, ln.status, ln.setl_id == setl_id)
            for ln in s.scalars(
                select(FeeLineRow)
                .where(FeeLineRow.mdtrt_id == mdtrt_id)
                .execution_options(populate_existing=True)
            )
        ),
        "accumulators": accumulators(s, psn),
        "account": account(s, psn),
        "visit": (visit.status, visit.updated_at) if visit else None,
    }


def _settle_and_roll_back(engine: Engine, mdtrt_id: str, psn: str, medfee: int) -> dict[str, Any]:
    """Settle, read back what was written, and undo it all."""
    captured: dict[str, Any] = {}
    with pytest.raises(_RollbackError), unit_of_work(engine) as s:
        view = settlement.settle(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            request(mdtrt_id, psn, medfee, med_type="11"),
            kind="outpatient",
            msgid="M-SETTLE",
        )
        assert view.setl_id
        s.expire_all()
        captured = _capture(s, view.setl_id, mdtrt_id, psn)
        raise _RollbackError
    return captured


def test_one_statement_writes_what_statement_each_writes(
    world: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    if world.dialect.name != "postgresql":
        pytest.skip("the one-statement path is PostgreSQL's (SQLite has no DML in CTEs)")
    psn = EMPLOYEE_HHHT
    mdtrt_id, medfee = outpatient(world, psn)
    with unit_of_work(world) as s:
        before = (counts(s), accumulators(s, psn), account(s, psn))

    calls: list[str] = []
    real_one = settlement_write._one_statement

    def spy(*args: Any) -> None:
        calls.append("one")
        real_one(*args)

    monkeypatch.setattr(settlement_write, "_one_statement", spy)
    one = _settle_and_roll_back(world, mdtrt_id, psn, medfee)
    assert calls == ["one"]

    monkeypatch.setattr(
        settlement_write,
        "_one_statement",
        lambda s, place, w, setl_id: settlement_write._statement_each(s, place, w, setl_id),
    )
    each = _settle_and_roll_back(world, mdtrt_id, psn, medfee)

    # the account paid something and the accumulators moved: the comparison has content
    assert one["account"] != before[2] and one["accumulators"] != before[1]
    assert one["legs"] and one["details"] and all(st == "settled" for _, st, _ in one["lines"])
    assert one == each
    with unit_of_work(world) as s:
        assert (counts(s), accumulators(s, psn), account(s, psn)) == before


def test_an_account_overdrawn_under_the_statement_is_refused_and_nothing_stays(
    world: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The account holds less than the locked state said (forced here: 1 fen is left in
    the row after it was read): the guarded update of the one statement touches no row,
    the adapter's own path refuses, and the whole settlement is rolled back (on SQLite the
    statement-each path refuses the same way)."""
    psn = EMPLOYEE_HHHT
    mdtrt_id, medfee = outpatient(world, psn)
    with unit_of_work(world) as s:
        before = (counts(s), accumulators(s, psn), account(s, psn))
    real_read = SqlInsuredPlace._read

    def richer(self: SqlInsuredPlace, psn_no: str, insutype: str, year: int) -> BenefitState:
        state = real_read(self, psn_no, insutype, year)
        assert state.account.balance > 1
        self.session.execute(
            update(AccountRow).where(AccountRow.psn_no == psn_no).values(balance=1)
        )
        return state

    monkeypatch.setattr(SqlInsuredPlace, "_read", richer)
    with pytest.raises(ValueError, match="would go negative"), unit_of_work(world) as s:
        settlement.settle(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            request(mdtrt_id, psn, medfee, med_type="11"),
            kind="outpatient",
            msgid="M-OVER",
        )
    with unit_of_work(world) as s:
        assert (counts(s), accumulators(s, psn), account(s, psn)) == before


def test_a_stay_discharged_and_settled_in_one_session_ends_settled(world: Engine) -> None:
    """Admission, lines, discharge (2402 changes the visit through the ORM) and the final
    settlement (2304, which reads the visit as a plain record and writes it with Core) in
    one unit of work: the settlement sees "discharged" (else it would refuse), and the ORM
    objects the session holds of the visit and its lines are updated with it, so the
    closing flush writes no stale status back. The stored visit ends "settled", its fee
    lines "settled" under the settlement, and the session's own objects say the same."""
    psn = EMPLOYEE_HHHT
    with unit_of_work(world) as s:
        mdtrt_id = admit(s, psn)
        uploaded = fees.upload_fees(
            s, H_BJ, NOW, typical_lines(s, mdtrt_id, psn), inpatient=True, msgid="M-F1"
        )
        held = s.get(VisitRow, mdtrt_id)  # an ORM object of the visit in this session
        held_lines = s.execute(select(FeeLineRow).where(FeeLineRow.mdtrt_id == mdtrt_id)).scalars()
        held_lines = list(held_lines)
        discharge(s, mdtrt_id, psn)
        view = settlement.settle(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            request(mdtrt_id, psn, sum(r.amount for r in uploaded)),
            kind="inpatient",
            msgid="M-SETL",
        )
        assert held is not None and held.status == "settled"
        assert {ln.status for ln in held_lines} == {"settled"}
        assert {ln.setl_id for ln in held_lines} == {view.setl_id}
    with unit_of_work(world) as s:
        stored = s.get(VisitRow, mdtrt_id)
        assert stored is not None and stored.status == "settled"
        lines = s.execute(
            select(FeeLineRow.status, FeeLineRow.setl_id).where(FeeLineRow.mdtrt_id == mdtrt_id)
        ).all()
        assert {tuple(r) for r in lines} == {("settled", view.setl_id)}
