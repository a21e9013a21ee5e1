"""Documents sent with a self-service filing: ``filing_documents``.

Revision ID: 0020_filing_documents
Revises: 0019_institution_scores
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0020_filing_documents"
down_revision: str | None = "0019_institution_scores"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "filing_documents",
        sa.Column("document_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("filing_id", sa.String(40), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["filing_id"], ["filings.filing_id"], name="fk_filing_documents_filing_id_filings"
        ),
        sa.PrimaryKeyConstraint("document_id", name="pk_filing_documents"),
    )
    op.create_index("ix_filing_documents_filing_id", "filing_documents", ["filing_id"])


def downgrade() -> None:
    op.drop_index("ix_filing_documents_filing_id", table_name="filing_documents")
    op.drop_table("filing_documents")
