"""Institution scores over several months: ``audit_institution_scores.months``.

A score covers the ``months`` months ending with ``period``; the primary key becomes
(period, months, fixmedins_code). Existing rows are monthly scores (months = 1).

Revision ID: 0021_score_months
Revises: 0020_filing_documents
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0021_score_months"
down_revision: str | None = "0020_filing_documents"
branch_labels: str | None = None
depends_on: str | None = None

PK = "pk_audit_institution_scores"


def upgrade() -> None:
    with op.batch_alter_table("audit_institution_scores", recreate="auto") as batch:
        batch.add_column(
            sa.Column("months", sa.Integer(), nullable=False, server_default=sa.text("1"))
        )
        batch.drop_constraint(PK, type_="primary")
        batch.create_primary_key(PK, ["period", "months", "fixmedins_code"])


def downgrade() -> None:
    op.execute("DELETE FROM audit_institution_scores WHERE months <> 1")
    with op.batch_alter_table("audit_institution_scores", recreate="auto") as batch:
        batch.drop_constraint(PK, type_="primary")
        batch.create_primary_key(PK, ["period", "fixmedins_code"])
        batch.drop_column("months")
