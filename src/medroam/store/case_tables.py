"""Tables of the supervision cases (监管案件), on the shared metadata of ``store/tables.py``.

* ``cases``: one row per case, its finding reference, parties, state and decision;
* ``case_events``: every step (actor, role, time, from/to state, note), in order;
* ``case_adjustments``: the clearing adjustments of a decided amount, one negative row
  per ``fund_pay_type`` of the settlement's fund split, waiting for a clearing run
  (``run_id`` NULL) or taken by one.

Created by migration ``0013_cases``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from medroam.store.tables import Base, UtcDateTime, in_list

CASE_STATES = (
    "open",
    "initial_review",
    "re_review",
    "notified",
    "appealed",
    "window_expired",
    "decided",
    "deducted",
    "recovered",
    "cleared",
    "closed",
    "referred",
)
CASE_ORIGINS = ("finding", "assist")
CASE_RESULT_TYPES = ("violation", "suspicious")
CASE_DECISIONS = ("upheld", "partial", "withdrawn")
CASE_ROLES = ("treatment", "insurance", "institution")
CASE_ACTIONS = (
    "open",
    "start",
    "escalate",
    "notify",
    "appeal",
    "expire",
    "decide",
    "deduct",
    "recover",
    "clear",
    "close",
    "refer",
    "comment",
)


class CaseRow(Base):
    """A supervision case: the finding it is about, the parties, where it stands."""

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(in_list("state", CASE_STATES), name="state"),
        CheckConstraint(in_list("origin", CASE_ORIGINS), name="origin"),
        CheckConstraint(in_list("result_type", CASE_RESULT_TYPES), name="result_type"),
        CheckConstraint(
            f"decision IS NULL OR {in_list('decision', CASE_DECISIONS)}", name="decision"
        ),
        CheckConstraint("flagged_amount > 0", name="flagged_positive"),
        CheckConstraint(
            "decided_amount IS NULL OR (decided_amount >= 0 AND decided_amount <= flagged_amount)",
            name="decided_within_flagged",
        ),
        Index("ix_cases_setl_id", "setl_id"),
        Index("ix_cases_fixmedins_code", "fixmedins_code"),
        Index("ix_cases_state", "state"),
    )

    case_id: Mapped[str] = mapped_column(String(30), primary_key=True)
    origin: Mapped[str] = mapped_column(String(10))
    rule_code: Mapped[str] = mapped_column(String(40))
    rule_name: Mapped[str] = mapped_column(String(200))
    result_type: Mapped[str] = mapped_column(String(12))
    setl_id: Mapped[str] = mapped_column(String(30), ForeignKey("settlements.setl_id"))
    flagged_amount: Mapped[int] = mapped_column(BigInteger)  # fen
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    fixmedins_code: Mapped[str] = mapped_column(
        String(30), ForeignKey("institutions.fixmedins_code")
    )
    insured_region: Mapped[str] = mapped_column(String(6))
    treatment_region: Mapped[str] = mapped_column(String(6))
    state: Mapped[str] = mapped_column(String(16))
    appeal_working_days: Mapped[int | None] = mapped_column(Integer)
    appeal_deadline: Mapped[date | None] = mapped_column(Date)  # China date, inclusive
    decision: Mapped[str | None] = mapped_column(String(10))
    decided_amount: Mapped[int | None] = mapped_column(BigInteger)  # fen
    posting_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("ledger_postings.posting_id")
    )
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CaseEventRow(Base):
    """One step of a case, in order (``seq`` from 1, the opening)."""

    __tablename__ = "case_events"
    __table_args__ = (
        UniqueConstraint("case_id", "seq", name="uq_case_events_case_id_seq"),
        CheckConstraint(in_list("action", CASE_ACTIONS), name="action"),
        CheckConstraint(in_list("role", CASE_ROLES), name="role"),
    )

    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(30), ForeignKey("cases.case_id"))
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(10))
    actor: Mapped[str] = mapped_column(String(50))
    role: Mapped[str] = mapped_column(String(12))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    note: Mapped[str] = mapped_column(Text)


class CaseAdjustmentRow(Base):
    """A clearing adjustment (清算调整) of a decided case: a negative amount of one
    ``fund_pay_type``, deducted from the hospital and returned to the place of insurance.
    """

    __tablename__ = "case_adjustments"
    __table_args__ = (
        UniqueConstraint("case_id", "fund_pay_type", name="uq_case_adjustments_case_id_fpt"),
        CheckConstraint("amount < 0", name="negative"),
        Index("ix_case_adjustments_run_id", "run_id"),
    )

    adjustment_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(30), ForeignKey("cases.case_id"))
    setl_id: Mapped[str] = mapped_column(String(30), ForeignKey("settlements.setl_id"))
    fixmedins_code: Mapped[str] = mapped_column(String(30))
    insured_region: Mapped[str] = mapped_column(String(6))
    treatment_region: Mapped[str] = mapped_column(String(6))
    fund_pay_type: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int] = mapped_column(BigInteger)  # fen, negative
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    run_id: Mapped[str | None] = mapped_column(String(60))  # the clearing run that took it
