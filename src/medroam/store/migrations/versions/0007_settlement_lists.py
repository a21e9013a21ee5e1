"""Settlement lists (医保基金结算清单, 4101) with their QC findings and DRG group (4104).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26

``settlement_lists``: one row per settlement (``setl_id`` unique: a re-upload replaces
the list under the same ``setl_list_id``). ``document`` holds the list as the grouper and
QC read it plus the other 4101 nodes as sent; ``findings`` the QC findings; ``qc_status``
is ``passed`` / ``warning`` / ``failed``, and a list is grouped (``group_status`` set)
exactly when QC did not fail.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "settlement_lists",
        sa.Column("setl_list_id", sa.String(30), nullable=False),
        sa.Column("mdtrt_id", sa.String(30), nullable=False),
        sa.Column("setl_id", sa.String(30), nullable=False),
        sa.Column("fixmedins_code", sa.String(30), nullable=False),
        sa.Column("insuplc", sa.String(6), nullable=False),
        sa.Column("treatment_region", sa.String(6), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("qc_status", sa.String(10), nullable=False),
        sa.Column("qc_errors", sa.Integer(), nullable=False),
        sa.Column("qc_warnings", sa.Integer(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("scheme", sa.String(60), nullable=False),
        sa.Column("group_status", sa.String(12), nullable=True),
        sa.Column("mdc", sa.String(8), nullable=True),
        sa.Column("adrg", sa.String(8), nullable=True),
        sa.Column("drg", sa.String(8), nullable=True),
        sa.Column("group_detail", sa.JSON(), nullable=True),
        sa.Column("uploads", sa.Integer(), nullable=False),
        sa.Column("msgid", sa.String(40), nullable=False),
        sa.Column("first_uploaded_at", sa.DateTime(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("setl_list_id", name="pk_settlement_lists"),
        sa.ForeignKeyConstraint(
            ["mdtrt_id"], ["visits.mdtrt_id"], name="fk_settlement_lists_mdtrt_id_visits"
        ),
        sa.ForeignKeyConstraint(
            ["setl_id"], ["settlements.setl_id"], name="fk_settlement_lists_setl_id_settlements"
        ),
        sa.ForeignKeyConstraint(
            ["fixmedins_code"],
            ["institutions.fixmedins_code"],
            name="fk_settlement_lists_fixmedins_code_institutions",
        ),
        sa.UniqueConstraint("setl_id", name="uq_settlement_lists_setl_id"),
        sa.CheckConstraint(
            "qc_status IN ('passed', 'warning', 'failed')", name="ck_settlement_lists_qc_status"
        ),
        sa.CheckConstraint(
            "group_status IS NULL OR group_status IN "
            "('grouped', 'ambiguous', 'ungroupable', 'check_failed')",
            name="ck_settlement_lists_group_status",
        ),
        sa.CheckConstraint(
            "(qc_status = 'failed' AND group_status IS NULL) OR "
            "(qc_status <> 'failed' AND group_status IS NOT NULL)",
            name="ck_settlement_lists_grouped_unless_failed",
        ),
        sa.CheckConstraint(
            "qc_errors >= 0 AND qc_warnings >= 0 AND uploads >= 1",
            name="ck_settlement_lists_counts",
        ),
    )
    op.create_index("ix_settlement_lists_mdtrt_id", "settlement_lists", ["mdtrt_id"])
    op.create_index(
        "ix_settlement_lists_fixmedins_code_uploaded_at",
        "settlement_lists",
        ["fixmedins_code", "uploaded_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_settlement_lists_fixmedins_code_uploaded_at", table_name="settlement_lists")
    op.drop_index("ix_settlement_lists_mdtrt_id", table_name="settlement_lists")
    op.drop_table("settlement_lists")
