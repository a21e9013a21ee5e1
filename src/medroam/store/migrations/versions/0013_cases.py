"""Supervision cases: ``cases``, ``case_events``, ``case_adjustments``; ledger postings of
kind ``case`` (a decision's 拒付 / 追回).

Revision ID: 0013_cases
Revises: 0010_console
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0013_cases"
down_revision: str | None = "0010_console"
branch_labels: str | None = None
depends_on: str | None = None

_OLD_KINDS = "kind IN ('settle', 'cancel', 'restore')"
_NEW_KINDS = "kind IN ('settle', 'cancel', 'restore', 'case')"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


_STATES = (
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
_ACTIONS = (
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


def _posting_kinds(check: str) -> None:
    with op.batch_alter_table("ledger_postings", recreate="auto") as batch:
        batch.drop_constraint("ck_ledger_postings_kind", type_="check")
        batch.create_check_constraint("ck_ledger_postings_kind", check)


def upgrade() -> None:
    _posting_kinds(_NEW_KINDS)
    op.create_table(
        "cases",
        sa.Column("case_id", sa.String(length=30), nullable=False),
        sa.Column("origin", sa.String(length=10), nullable=False),
        sa.Column("rule_code", sa.String(length=40), nullable=False),
        sa.Column("rule_name", sa.String(length=200), nullable=False),
        sa.Column("result_type", sa.String(length=12), nullable=False),
        sa.Column("setl_id", sa.String(length=30), nullable=False),
        sa.Column("flagged_amount", sa.BigInteger(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("insured_region", sa.String(length=6), nullable=False),
        sa.Column("treatment_region", sa.String(length=6), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("appeal_working_days", sa.Integer(), nullable=True),
        sa.Column("appeal_deadline", sa.Date(), nullable=True),
        sa.Column("decision", sa.String(length=10), nullable=True),
        sa.Column("decided_amount", sa.BigInteger(), nullable=True),
        sa.Column("posting_id", sa.Integer(), nullable=True),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(_in("state", _STATES), name="ck_cases_state"),
        sa.CheckConstraint(_in("origin", ("finding", "assist")), name="ck_cases_origin"),
        sa.CheckConstraint(
            _in("result_type", ("violation", "suspicious")), name="ck_cases_result_type"
        ),
        sa.CheckConstraint(
            "decision IS NULL OR " + _in("decision", ("upheld", "partial", "withdrawn")),
            name="ck_cases_decision",
        ),
        sa.CheckConstraint("flagged_amount > 0", name="ck_cases_flagged_positive"),
        sa.CheckConstraint(
            "decided_amount IS NULL OR (decided_amount >= 0 AND decided_amount <= flagged_amount)",
            name="ck_cases_decided_within_flagged",
        ),
        sa.ForeignKeyConstraint(
            ["setl_id"], ["settlements.setl_id"], name="fk_cases_setl_id_settlements"
        ),
        sa.ForeignKeyConstraint(
            ["fixmedins_code"],
            ["institutions.fixmedins_code"],
            name="fk_cases_fixmedins_code_institutions",
        ),
        sa.ForeignKeyConstraint(
            ["posting_id"],
            ["ledger_postings.posting_id"],
            name="fk_cases_posting_id_ledger_postings",
        ),
        sa.PrimaryKeyConstraint("case_id", name="pk_cases"),
    )
    op.create_index("ix_cases_setl_id", "cases", ["setl_id"])
    op.create_index("ix_cases_fixmedins_code", "cases", ["fixmedins_code"])
    op.create_index("ix_cases_state", "cases", ["state"])
    op.create_table(
        "case_events",
        sa.Column("event_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=30), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("actor", sa.String(length=50), nullable=False),
        sa.Column("role", sa.String(length=12), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.CheckConstraint(_in("action", _ACTIONS), name="ck_case_events_action"),
        sa.CheckConstraint(
            _in("role", ("treatment", "insurance", "institution")), name="ck_case_events_role"
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.case_id"], name="fk_case_events_case_id_cases"
        ),
        sa.PrimaryKeyConstraint("event_id", name="pk_case_events"),
        sa.UniqueConstraint("case_id", "seq", name="uq_case_events_case_id_seq"),
    )
    op.create_table(
        "case_adjustments",
        sa.Column("adjustment_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=30), nullable=False),
        sa.Column("setl_id", sa.String(length=30), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("insured_region", sa.String(length=6), nullable=False),
        sa.Column("treatment_region", sa.String(length=6), nullable=False),
        sa.Column("fund_pay_type", sa.String(length=10), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("run_id", sa.String(length=60), nullable=True),
        sa.CheckConstraint("amount < 0", name="ck_case_adjustments_negative"),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.case_id"], name="fk_case_adjustments_case_id_cases"
        ),
        sa.ForeignKeyConstraint(
            ["setl_id"], ["settlements.setl_id"], name="fk_case_adjustments_setl_id_settlements"
        ),
        sa.PrimaryKeyConstraint("adjustment_id", name="pk_case_adjustments"),
        sa.UniqueConstraint("case_id", "fund_pay_type", name="uq_case_adjustments_case_id_fpt"),
    )
    op.create_index("ix_case_adjustments_run_id", "case_adjustments", ["run_id"])


def downgrade() -> None:
    op.drop_table("case_adjustments")
    op.drop_table("case_events")
    op.drop_table("cases")
    op.execute(
        "DELETE FROM ledger_legs WHERE posting_id IN "
        "(SELECT posting_id FROM ledger_postings WHERE kind = 'case')"
    )
    op.execute("DELETE FROM ledger_postings WHERE kind = 'case'")
    _posting_kinds(_OLD_KINDS)
