"""3103 feedback on real-time audit findings: ``audit_feedback``.

Revision ID: 0016_audit_feedback
Revises: 0015_audit_findings
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0016_audit_feedback"
down_revision: str | None = "0015_audit_findings"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "audit_feedback",
        sa.Column("feedback_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fixmedins_code", sa.String(30), nullable=False),
        sa.Column("jr_id", sa.String(40), nullable=False),
        sa.Column("rule_id", sa.String(20), nullable=False),
        sa.Column("warn_type", sa.String(3), nullable=False),
        sa.Column("dspo_way", sa.String(3), nullable=False),
        sa.Column("dspo_way_rea", sa.String(500), nullable=False),
        sa.Column("mdtrt_id", sa.String(30), nullable=False),
        sa.Column("psn_no", sa.String(30), nullable=False),
        sa.Column("msgid", sa.String(40), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("dspo_way IN ('1', '2', '3')", name="ck_audit_feedback_dspo_way"),
        sa.PrimaryKeyConstraint("feedback_id", name="pk_audit_feedback"),
    )
    op.create_index(
        "ix_audit_feedback_fixmedins_code_jr_id", "audit_feedback", ["fixmedins_code", "jr_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_audit_feedback_fixmedins_code_jr_id", table_name="audit_feedback")
    op.drop_table("audit_feedback")
