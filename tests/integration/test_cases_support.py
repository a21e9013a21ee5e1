"""Helpers of the supervision case tests (no tests here): stored audit findings, as
``medroam audit run`` leaves them, to open cases from."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert

from medroam.services.uow import unit_of_work
from medroam.store.audit_tables import AuditFindingRow, AuditRunRow


def store_finding(engine: Engine, period: str, **finding: Any) -> int:
    """One finding (``AuditFindingRow`` columns) in the audit run of ``period`` (made on
    first use); the finding's id."""
    now = datetime(2026, 12, 1, tzinfo=UTC)
    run_id = f"AUD-test-{period}"
    with unit_of_work(engine) as session:
        if session.get(AuditRunRow, run_id) is None:
            session.execute(
                insert(AuditRunRow).values(
                    run_id=run_id, period=period, started_at=now, finished_at=now,
                    rules=1, settlements=1, candidates=1, findings=1,
                )
            )  # fmt: skip
        finding_id: int = session.execute(
            insert(AuditFindingRow)
            .values(run_id=run_id, period=period, **finding)
            .returning(AuditFindingRow.finding_id)
        ).scalar_one()
    return finding_id


def settlement_finding(setl_id: str, amount: int, **over: Any) -> dict[str, Any]:
    """The columns of a price-cap finding on ``setl_id`` of the clearing tests' world (a
    北京 110100 insured treated at H310100 in 上海 310100), ``amount`` fen."""
    columns: dict[str, Any] = {
        "rule_code": "SH10000201001000", "rule_name": "超限定单价", "mechanism": "price_cap",
        "result_type": "violation", "severity": "medium", "setl_id": setl_id,
        "mdtrt_id": f"M{setl_id}", "psn_no": "P", "fixmedins_code": "H310100",
        "treatment_region": "310100", "insured_region": "110100", "amount": amount,
        "content": "单价超过限定单价", "line_ids": "1", "evidence": {"cap": "25000000"},
    }  # fmt: skip
    return columns | over


def institution_finding(**over: Any) -> dict[str, Any]:
    """An institution rule's finding on H310100: no settlement, visit, person or amount."""
    return settlement_finding(
        "", 0, rule_code="ZB30000201001000", rule_name="DRG 高套病组信号（MCC/CC 占比）",
        mechanism="drg_upcoding", severity="2", mdtrt_id="", insured_region="",
        content="机构 H310100 MCC/CC 病例占比 40.00% ，同组机构 10.00%", line_ids="",
    ) | over  # fmt: skip
