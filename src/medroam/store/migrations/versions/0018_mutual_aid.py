"""Personal-account mutual aid (个人账户共济): ``mutual_aid_grants`` and
``mutual_aid_draws`` (store/mutual_aid_tables.py).

Revision ID: 0018_mutual_aid
Revises: 0017_console_more
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0018_mutual_aid"
down_revision: str | None = "0017_console_more"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "mutual_aid_grants",
        sa.Column("grant_id", sa.String(40), nullable=False),
        sa.Column("holder_psn_no", sa.String(30), nullable=False),
        sa.Column("holder_region", sa.String(6), nullable=False),
        sa.Column("beneficiary_psn_no", sa.String(30), nullable=False),
        sa.Column("beneficiary_region", sa.String(6), nullable=False),
        sa.Column("relation", sa.String(12), nullable=False),
        sa.Column("quota", sa.BigInteger(), nullable=False),
        sa.Column("used", sa.BigInteger(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("end_reason", sa.String(20), nullable=True),
        sa.Column("returned", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("status IN ('active', 'ended')", name="ck_mutual_aid_grants_status"),
        sa.CheckConstraint(
            "relation IN ('spouse', 'parent', 'child', 'sibling', 'grandparent', 'grandchild')",
            name="ck_mutual_aid_grants_relation",
        ),
        sa.CheckConstraint(
            "end_reason IS NULL OR end_reason IN ('request', 'insurance_changed')",
            name="ck_mutual_aid_grants_end_reason",
        ),
        sa.CheckConstraint("quota > 0", name="ck_mutual_aid_grants_quota_positive"),
        sa.CheckConstraint(
            "used >= 0 AND used <= quota", name="ck_mutual_aid_grants_used_within_quota"
        ),
        sa.CheckConstraint(
            "holder_psn_no <> beneficiary_psn_no", name="ck_mutual_aid_grants_not_self"
        ),
        sa.ForeignKeyConstraint(
            ["holder_psn_no"],
            ["persons.psn_no"],
            name="fk_mutual_aid_grants_holder_psn_no_persons",
        ),
        sa.ForeignKeyConstraint(
            ["beneficiary_psn_no"],
            ["persons.psn_no"],
            name="fk_mutual_aid_grants_beneficiary_psn_no_persons",
        ),
        sa.PrimaryKeyConstraint("grant_id", name="pk_mutual_aid_grants"),
    )
    op.create_index(
        "ix_mutual_aid_grants_beneficiary",
        "mutual_aid_grants",
        ["beneficiary_psn_no", "status"],
    )
    op.create_index("ix_mutual_aid_grants_holder", "mutual_aid_grants", ["holder_psn_no", "status"])
    op.create_table(
        "mutual_aid_draws",
        sa.Column("setl_id", sa.String(30), nullable=False),
        sa.Column("grant_id", sa.String(40), nullable=False),
        sa.Column("holder_psn_no", sa.String(30), nullable=False),
        sa.Column("holder_region", sa.String(6), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["setl_id"], ["settlements.setl_id"], name="fk_mutual_aid_draws_setl_id_settlements"
        ),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["mutual_aid_grants.grant_id"],
            name="fk_mutual_aid_draws_grant_id_mutual_aid_grants",
        ),
        sa.PrimaryKeyConstraint("setl_id", "grant_id", name="pk_mutual_aid_draws"),
    )
    op.create_index("ix_mutual_aid_draws_grant", "mutual_aid_draws", ["grant_id"])


def downgrade() -> None:
    op.drop_index("ix_mutual_aid_draws_grant", table_name="mutual_aid_draws")
    op.drop_table("mutual_aid_draws")
    op.drop_index("ix_mutual_aid_grants_holder", table_name="mutual_aid_grants")
    op.drop_index("ix_mutual_aid_grants_beneficiary", table_name="mutual_aid_grants")
    op.drop_table("mutual_aid_grants")
