"""A decided supervision case in the next clearing (SQLite, PostgreSQL, and DuckDB over the
Parquet export): its adjustments are negative fund lines that the next run takes,
deducted from the hospital's payment and from what the place of insurance owes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import ibis.expr.types as ir  # type: ignore[import-untyped]
import pytest
from sqlalchemy import Engine, select

from medroam.batch import clearing as batch
from medroam.batch.engine import duckdb_lines, fetch, operational_lines
from medroam.domain.cases import (
    Action,
    Actor,
    CaseState,
    Decision,
    FindingRef,
    Origin,
    ResultType,
    Role,
)
from medroam.services import cases
from medroam.services import clearing as svc
from medroam.services.errors import RefusedError
from medroam.services.uow import unit_of_work
from medroam.store.case_tables import CaseAdjustmentRow
from medroam.store.tables import RunMatrixRow, RunPaymentRow
from tests.integration.test_clearing import OCT, october, propose_and_confirm
from tests.integration.test_clearing_support import NOW, World

pytestmark = pytest.mark.db

OWNER = Actor("沪审核", Role.TREATMENT, frozenset({"310100"}))
HOSPITAL = Actor("院方", Role.INSTITUTION, frozenset({"H310100"}))
DECIDED_AT = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)  # 2026-11-03 10:00 China time


def _decide_on_s1(engine: Engine) -> str:
    """S1 (北京 110100 insured, 上海 310100 hospital H310100): funds 310100 8,000.00 and
    330100 500.00 元; decided 850.01 元 → 310100 800.01, 330100 50.00 (see
    test_cases_service.test_hand_worked_split_of_a_partial_decision)."""
    finding = FindingRef("R-DUP", "重复收费", ResultType.SUSPICIOUS, "S1", 100_001)
    cid = cases.open_new(
        engine, origin=Origin.FINDING, finding=finding, actor=OWNER, at=DECIDED_AT
    ).case.case_id
    for action, actor in (
        (Action.START, OWNER),
        (Action.ESCALATE, OWNER),
        (Action.NOTIFY, OWNER),
        (Action.APPEAL, HOSPITAL),
    ):
        cases.move(engine, cid, action, actor, DECIDED_AT)
    cases.move(
        engine, cid, Action.DECIDE, OWNER, DECIDED_AT, decision=Decision.PARTIAL, amount=85_001
    )
    cases.move(engine, cid, Action.DEDUCT, OWNER, DECIDED_AT)
    return cid


def _payments(engine: Engine, run_id: str) -> dict[str, int]:
    with unit_of_work(engine) as s:
        rows = s.execute(
            select(RunPaymentRow.fixmedins_code, RunPaymentRow.amount_fen).where(
                RunPaymentRow.run_id == run_id
            )
        ).all()
    return {code: int(amount) for code, amount in rows}


def test_next_run_deducts_the_decision_from_the_hospital_and_the_pair(engine: Engine) -> None:
    october(World(engine))
    propose_and_confirm(engine, OCT)
    oct_run = svc.clear(engine, "monthly", "2026-10", as_of=date(2026, 11, 2), now=NOW)
    before = _payments(engine, oct_run.run_id)["H310100"]
    assert before == 800_000 + 50_000 + 20_000  # S1's funds and personal account

    cid = _decide_on_s1(engine)
    with pytest.raises(RefusedError, match="not yet taken by a clearing run"):
        cases.move(engine, cid, Action.CLEAR, OWNER, DECIDED_AT)
    assert len(cases.pending_adjustments(engine)) == 2

    nov_run = svc.clear(engine, "monthly", "2026-11", as_of=date(2026, 12, 1), now=NOW)
    assert _payments(engine, nov_run.run_id) == {"H310100": -85_001}
    with unit_of_work(engine) as s:
        matrix = s.execute(
            select(RunMatrixRow.fund_line, RunMatrixRow.amount_fen).where(
                RunMatrixRow.run_id == nov_run.run_id,
                RunMatrixRow.insured_region == "110100",
                RunMatrixRow.treatment_region == "310100",
            )
        ).all()
        taken = s.execute(select(CaseAdjustmentRow.run_id)).scalars().all()
    assert sum(int(a) for _, a in matrix) == -85_001
    assert set(taken) == {nov_run.run_id}
    assert cases.pending_adjustments(engine) == []
    assert svc.verify_run(engine, nov_run.run_id) == []
    view = cases.move(engine, cid, Action.CLEAR, OWNER, DECIDED_AT)
    assert view.case.state is CaseState.CLEARED
    # the October run is untouched, and a rerun of November changes nothing
    assert _payments(engine, oct_run.run_id)["H310100"] == before
    again = svc.clear(engine, "monthly", "2026-11", as_of=date(2026, 12, 20), now=NOW)
    assert _payments(engine, again.run_id) == {"H310100": -85_001}


COMPUTATIONS: dict[str, Callable[[ir.Table], ir.Table]] = {
    "pair_matrix": batch.pair_matrix,
    "hospital_lines": batch.hospital_lines,
    "hospital_settlements": batch.hospital_settlements,
    "hospital_days": batch.hospital_days,
    "totals": batch.totals,
}


def _rows(table: Any) -> list[tuple[Any, ...]]:
    return sorted(tuple(r.values()) for r in table.to_pylist())


def test_adjustment_lines_are_identical_on_duckdb(engine: Engine, tmp_path: Path) -> None:
    october(World(engine))
    propose_and_confirm(engine, OCT)
    cid = _decide_on_s1(engine)
    path = tmp_path / "lines.parquet"
    assert svc.export_lines(engine, path) > 0
    on_duck = duckdb_lines(path)
    with unit_of_work(engine) as s:
        lines = fetch(operational_lines(), s.connection()).to_pylist()
        for name, make in COMPUTATIONS.items():
            db = _rows(fetch(make(operational_lines()), s.connection()))
            assert db == _rows(fetch(make(on_duck))), name
        counts = _rows(fetch(batch.hospital_settlements(operational_lines()), s.connection()))
    adjustments = [r for r in lines if r["refd_setl_flag"] == 2]
    assert sorted((r["setl_id"], r["fund_pay_type"], r["amount_fen"]) for r in adjustments) == [
        (cid, "310100", -80_001),
        (cid, "330100", -5_000),
    ]
    assert {r["state"] for r in adjustments} == {"confirmed"}
    assert {r["setl_day"] for r in adjustments} == {(date(2026, 11, 3) - date(1970, 1, 1)).days}
    assert ("310100", "H310100", 1) in counts  # S1 only: the adjustment is not a settlement
