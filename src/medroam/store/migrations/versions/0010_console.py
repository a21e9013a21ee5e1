"""Agency console: officers, their sessions, the operations log, self-service codes.

Revision ID: 0010_console
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010_console"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "officers",
        sa.Column("username", sa.String(40), nullable=False),
        sa.Column("display_name", sa.String(60), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("region", sa.String(6), nullable=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "role IN ('insured_place', 'treatment_place', 'province', 'nation', 'auditor')",
            name=op.f("ck_officers_role"),
        ),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_officers")),
    )
    op.create_table(
        "officer_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("subject", sa.String(40), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_officer_sessions")),
    )
    op.create_index("ix_officer_sessions_subject", "officer_sessions", ["subject"])
    op.create_table(
        "operation_log",
        sa.Column("log_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(40), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("region", sa.String(6), nullable=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("object_type", sa.String(30), nullable=False),
        sa.Column("object_id", sa.String(60), nullable=False),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("log_id", name=op.f("pk_operation_log")),
    )
    op.create_index("ix_operation_log_at", "operation_log", ["at"])
    op.create_index("ix_operation_log_actor", "operation_log", ["actor"])
    op.create_table(
        "self_codes",
        sa.Column("psn_no", sa.String(30), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("psn_no", name=op.f("pk_self_codes")),
    )


def downgrade() -> None:
    op.drop_table("self_codes")
    op.drop_index("ix_operation_log_actor", table_name="operation_log")
    op.drop_index("ix_operation_log_at", table_name="operation_log")
    op.drop_table("operation_log")
    op.drop_index("ix_officer_sessions_subject", table_name="officer_sessions")
    op.drop_table("officer_sessions")
    op.drop_table("officers")
