"""Institution scores: ``audit_institution_scores``.

Revision ID: 0019_institution_scores
Revises: 0018_mutual_aid
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0019_institution_scores"
down_revision: str | None = "0018_mutual_aid"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "audit_institution_scores",
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("fixmedins_code", sa.String(30), nullable=False),
        sa.Column("peer_group", sa.String(40), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("z", sa.JSON(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("period", "fixmedins_code", name="pk_audit_institution_scores"),
    )
    op.create_index("ix_audit_institution_scores_period", "audit_institution_scores", ["period"])


def downgrade() -> None:
    op.drop_index("ix_audit_institution_scores_period", table_name="audit_institution_scores")
    op.drop_table("audit_institution_scores")
