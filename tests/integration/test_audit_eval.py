"""``medroam audit evaluate``: precision and recall per family, worked by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, insert

from medroam.services.audit_eval import evaluate
from medroam.services.uow import unit_of_work
from medroam.store.audit_tables import AuditFindingRow, AuditRunRow
from medroam.store.sim_truth_tables import SimTruthRow

pytestmark = pytest.mark.db
NOW = datetime(2026, 11, 2, tzinfo=UTC)


def _finding(setl_id: str, mechanism: str) -> dict[str, object]:
    return {
        "run_id": "AUD-1", "period": "2026-10", "rule_code": "R1", "rule_name": "规则",
        "mechanism": mechanism, "result_type": "suspicious", "severity": "high",
        "setl_id": setl_id, "mdtrt_id": "M" + setl_id, "psn_no": "P", "fixmedins_code": "H1",
        "treatment_region": "110100", "insured_region": "310100", "amount": 100,
        "content": "x", "line_ids": "", "evidence": {},
    }  # fmt: skip


def _truth(family: str, setl_id: str | None, refusal: str = "") -> dict[str, object]:
    return {
        "period": "2026-10", "level": "visit", "family": family, "rule_code": "R1",
        "encounter_key": "K" + (setl_id or "x"), "setl_id": setl_id, "fixmedins_code": "H1",
        "psn_no": "P", "day": None, "refusal": refusal,
    }  # fmt: skip


def test_precision_and_recall_by_hand(engine: Engine) -> None:
    """price_cap: planted on S1 and S2 (settled) and on one visit the real-time audit
    refused at settlement (naming another rule the same bill broke: still stopped); the
    audit found S1 (right) and S3 (wrong). True positives 1, found 2 → precision 1/2 =
    0.50; recall (1 + 1 refused) / 3 = 0.666… → 0.67. sex_limit: planted on S4, and on a
    visit refused for another cause (not the audit) → not counted as found; nothing found
    → precision "—", recall 0/2 = 0.00."""
    with unit_of_work(engine) as session:
        session.execute(
            insert(AuditRunRow).values(
                run_id="AUD-1", period="2026-10", started_at=NOW, finished_at=NOW, rules=2,
                settlements=10, candidates=3, findings=2,
            )
        )  # fmt: skip
        session.execute(
            insert(AuditFindingRow), [_finding("S1", "price_cap"), _finding("S3", "price_cap")]
        )
        session.execute(
            insert(SimTruthRow),
            [
                _truth("price_cap", "S1"),
                _truth("price_cap", "S2"),
                _truth("price_cap", None, "2207: 智能审核拒绝结算：R9 限就医方式（另一规则）"),
                _truth("sex_limit", "S4"),
                _truth("sex_limit", None, "2207: 余额不足"),
            ],
        )
    result = evaluate(engine, "2026-10")
    price = result["families"]["price_cap"]
    assert (price["planted"], price["found"], price["true_positive"], price["refused"]) == (
        3, 2, 1, 1,
    )  # fmt: skip
    assert (price["precision"], price["recall"]) == ("0.50", "0.67")
    sex = result["families"]["sex_limit"]
    assert (sex["planted"], sex["found"], sex["precision"], sex["recall"]) == (2, 0, "—", "0.00")
