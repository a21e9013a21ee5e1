"""After-settlement audit: ``audit_runs`` and ``audit_findings``.

Revision ID: 0015_audit_findings
Revises: 0014_sim_truth
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015_audit_findings"
down_revision: str | None = "0014_sim_truth"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "audit_runs",
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=False),
        sa.Column("rules", sa.Integer(), nullable=False),
        sa.Column("settlements", sa.BigInteger(), nullable=False),
        sa.Column("candidates", sa.BigInteger(), nullable=False),
        sa.Column("findings", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_audit_runs"),
        sa.UniqueConstraint("period", name="uq_audit_runs_period"),
    )
    op.create_table(
        "audit_findings",
        sa.Column("finding_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("rule_code", sa.String(40), nullable=False),
        sa.Column("rule_name", sa.String(200), nullable=False),
        sa.Column("mechanism", sa.String(40), nullable=False),
        sa.Column("result_type", sa.String(12), nullable=False),
        sa.Column("severity", sa.String(12), nullable=False),
        sa.Column("setl_id", sa.String(30), nullable=False),
        sa.Column("mdtrt_id", sa.String(30), nullable=False),
        sa.Column("psn_no", sa.String(30), nullable=False),
        sa.Column("fixmedins_code", sa.String(30), nullable=False),
        sa.Column("treatment_region", sa.String(6), nullable=False),
        sa.Column("insured_region", sa.String(6), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("line_ids", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["audit_runs.run_id"], name="fk_audit_findings_run_id_audit_runs"
        ),
        sa.PrimaryKeyConstraint("finding_id", name="pk_audit_findings"),
    )
    op.create_index("ix_audit_findings_period", "audit_findings", ["period"])
    op.create_index("ix_audit_findings_setl_id", "audit_findings", ["setl_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_findings_setl_id", table_name="audit_findings")
    op.drop_index("ix_audit_findings_period", table_name="audit_findings")
    op.drop_table("audit_findings")
    op.drop_table("audit_runs")
