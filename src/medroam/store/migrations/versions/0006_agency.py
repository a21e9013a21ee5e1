"""Agency API tokens and the demo seed's record of the regions it wrote.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24

``agency_tokens``: bearer tokens of the agency REST API (SHA-256 only), each with a role
(insured_place, treatment_place, province, nation) and a region scope.
``demo_seed_regions``: the pooling regions ``medroam seed --demo`` has written, with the
seed, so that a re-run with the same seed is a no-op and another seed is refused.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "agency_tokens",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("region", sa.String(6), nullable=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_agency_tokens"),
        sa.CheckConstraint(
            "role IN ('insured_place', 'treatment_place', 'province', 'nation')",
            name="ck_agency_tokens_role",
        ),
        sa.CheckConstraint(
            "role = 'nation' OR region IS NOT NULL", name="ck_agency_tokens_region_scope"
        ),
    )
    op.create_index("ix_agency_tokens_region", "agency_tokens", ["region"])
    op.create_table(
        "demo_seed_regions",
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("persons", sa.Integer(), nullable=False),
        sa.Column("generator_version", sa.Integer(), nullable=False),
        sa.Column("seeded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("region", name="pk_demo_seed_regions"),
    )


def downgrade() -> None:
    op.drop_table("demo_seed_regions")
    op.drop_index("ix_agency_tokens_region", table_name="agency_tokens")
    op.drop_table("agency_tokens")
