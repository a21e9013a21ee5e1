"""Tables of the after-settlement audit (事后审核), on the shared metadata of
``store/tables.py``:

* ``audit_runs``: one row per run of a period (``medroam audit run``): when, the rule
  book's rules, how many visits were candidates and checked, findings;
* ``audit_findings``: every finding with its evidence, on the settlement it was found on.

Re-running a period replaces its run and findings in one transaction. Created by
migration ``0015_audit_findings``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from medroam.store.tables import Base, UtcDateTime


class AuditRunRow(Base):
    __tablename__ = "audit_runs"

    run_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    period: Mapped[str] = mapped_column(String(7), unique=True)  # YYYY-MM
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime] = mapped_column(UtcDateTime)
    rules: Mapped[int] = mapped_column(Integer)
    settlements: Mapped[int] = mapped_column(BigInteger)  # in force in the period
    candidates: Mapped[int] = mapped_column(BigInteger)  # checked by the domain
    findings: Mapped[int] = mapped_column(BigInteger)


class AuditFindingRow(Base):
    __tablename__ = "audit_findings"
    __table_args__ = (
        Index("ix_audit_findings_period", "period"),
        Index("ix_audit_findings_setl_id", "setl_id"),
    )

    finding_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(40), ForeignKey("audit_runs.run_id"))
    period: Mapped[str] = mapped_column(String(7))
    rule_code: Mapped[str] = mapped_column(String(40))
    rule_name: Mapped[str] = mapped_column(String(200))
    mechanism: Mapped[str] = mapped_column(String(40))
    result_type: Mapped[str] = mapped_column(String(12))
    severity: Mapped[str] = mapped_column(String(12))
    setl_id: Mapped[str] = mapped_column(String(30))
    mdtrt_id: Mapped[str] = mapped_column(String(30))
    psn_no: Mapped[str] = mapped_column(String(30))
    fixmedins_code: Mapped[str] = mapped_column(String(30))
    treatment_region: Mapped[str] = mapped_column(String(6))
    insured_region: Mapped[str] = mapped_column(String(6))
    amount: Mapped[int] = mapped_column(BigInteger)  # fen (vola_amt)
    content: Mapped[str] = mapped_column(Text)  # vola_cont, zh-CN
    line_ids: Mapped[str] = mapped_column(Text)  # feedetl_sn, comma-separated
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
