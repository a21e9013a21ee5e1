"""Console: tracking of prepayment emergency top-ups, ``prepay_topups``.

Revision ID: 0017_console_more
Revises: 0016_audit_feedback
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0017_console_more"
down_revision: str | None = "0016_audit_feedback"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "prepay_topups",
        sa.Column("topup_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column("payer", sa.String(6), nullable=False),
        sa.Column("payee", sa.String(6), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("requested_by", sa.String(40), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("paid_by", sa.String(40), nullable=True),
        sa.Column("paid_at", sa.DateTime(), nullable=True),
        sa.Column("voucher", sa.String(60), nullable=True),
        sa.CheckConstraint("state IN ('requested', 'paid')", name=op.f("ck_prepay_topups_state")),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_prepay_topups_amount")),
        sa.PrimaryKeyConstraint("topup_id", name=op.f("pk_prepay_topups")),
    )
    op.create_index("ix_prepay_topups_pair", "prepay_topups", ["level", "payer", "payee"])


def downgrade() -> None:
    op.drop_index("ix_prepay_topups_pair", table_name="prepay_topups")
    op.drop_table("prepay_topups")
