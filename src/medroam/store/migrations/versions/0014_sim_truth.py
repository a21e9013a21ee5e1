"""The truth of planted anomalies: ``sim_anomaly_truth`` (``medroam sim --anomalies``).

Revision ID: 0014_sim_truth
Revises: 0013_cases
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0014_sim_truth"
down_revision: str | None = "0013_cases"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "sim_anomaly_truth",
        sa.Column("truth_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("level", sa.String(12), nullable=False),
        sa.Column("family", sa.String(40), nullable=False),
        sa.Column("rule_code", sa.String(40), nullable=False),
        sa.Column("encounter_key", sa.String(80), nullable=False),
        sa.Column("setl_id", sa.String(30), nullable=True),
        sa.Column("fixmedins_code", sa.String(20), nullable=False),
        sa.Column("psn_no", sa.String(30), nullable=False),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("refusal", sa.String(400), nullable=False),
        sa.CheckConstraint("level IN ('visit', 'institution')", name="ck_sim_anomaly_truth_level"),
        sa.PrimaryKeyConstraint("truth_id", name="pk_sim_anomaly_truth"),
    )
    op.create_index("ix_sim_anomaly_truth_period", "sim_anomaly_truth", ["period"])


def downgrade() -> None:
    op.drop_index("ix_sim_anomaly_truth_period", table_name="sim_anomaly_truth")
    op.drop_table("sim_anomaly_truth")
