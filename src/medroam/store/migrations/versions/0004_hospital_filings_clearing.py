"""Hospital filings and clearing applications: ``referrals`` (2501/2502),
``designations`` (2505/2506), ``clearing_applications`` (3203/3204).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "clearing_applications",
        sa.Column("clr_appy_evt_id", sa.String(30), nullable=False),
        sa.Column("fixmedins_code", sa.String(30), nullable=False),
        sa.Column("clr_type", sa.String(30), nullable=False),
        sa.Column("clr_way", sa.String(30), nullable=False),
        sa.Column("setlym", sa.String(6), nullable=False),
        sa.Column("clr_optins", sa.String(6), nullable=False),
        sa.Column("begndate", sa.Date(), nullable=False),
        sa.Column("enddate", sa.Date(), nullable=False),
        sa.Column("psntime", sa.Integer(), nullable=False),
        sa.Column("medfee_sumamt", sa.BigInteger(), nullable=False),
        sa.Column("med_sumfee", sa.BigInteger(), nullable=False),
        sa.Column("fund_appy_sum", sa.BigInteger(), nullable=False),
        sa.Column("cash_payamt", sa.BigInteger(), nullable=False),
        sa.Column("acct_pay", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("open_key", sa.String(30), nullable=False),
        sa.Column("msgid", sa.String(40), nullable=False),
        sa.Column("applied_at", sa.DateTime(), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("clr_appy_evt_id", name="pk_clearing_applications"),
        sa.ForeignKeyConstraint(
            ["fixmedins_code"],
            ["institutions.fixmedins_code"],
            name="fk_clearing_applications_fixmedins_code_institutions",
        ),
        sa.UniqueConstraint(
            "fixmedins_code",
            "clr_type",
            "setlym",
            "open_key",
            name="uq_clearing_applications_open_per_month",
        ),
        sa.CheckConstraint(
            "status IN ('applied', 'cancelled', 'cleared')",
            name="ck_clearing_applications_status",
        ),
    )
    op.create_table(
        "designations",
        sa.Column("trt_dcla_detl_sn", sa.String(30), nullable=False),
        sa.Column("psn_no", sa.String(30), nullable=False),
        sa.Column("fixmedins_code", sa.String(30), nullable=False),
        sa.Column("fixmedins_name", sa.String(200), nullable=False),
        sa.Column("filed_by", sa.String(30), nullable=False),
        sa.Column("biz_appy_type", sa.String(6), nullable=False),
        sa.Column("fix_srt_no", sa.String(6), nullable=False),
        sa.Column("begndate", sa.Date(), nullable=False),
        sa.Column("enddate", sa.Date(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("cancel_reason", sa.String(500), nullable=True),
        sa.Column("msgid", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("trt_dcla_detl_sn", name="pk_designations"),
        sa.ForeignKeyConstraint(
            ["psn_no"], ["persons.psn_no"], name="fk_designations_psn_no_persons"
        ),
        sa.ForeignKeyConstraint(
            ["filed_by"],
            ["institutions.fixmedins_code"],
            name="fk_designations_filed_by_institutions",
        ),
        sa.CheckConstraint("status IN ('active', 'cancelled')", name="ck_designations_status"),
    )
    op.create_index("ix_designations_psn_no", "designations", ["psn_no"])
    op.create_table(
        "referrals",
        sa.Column("trt_dcla_detl_sn", sa.String(30), nullable=False),
        sa.Column("psn_no", sa.String(30), nullable=False),
        sa.Column("filing_id", sa.String(40), nullable=True),
        sa.Column("filed_by", sa.String(30), nullable=False),
        sa.Column("insutype", sa.String(6), nullable=False),
        sa.Column("refl_type", sa.String(3), nullable=False),
        sa.Column("reflin_medins_no", sa.String(30), nullable=False),
        sa.Column("reflin_medins_name", sa.String(200), nullable=False),
        sa.Column("destination", sa.String(6), nullable=False),
        sa.Column("diag_code", sa.String(20), nullable=False),
        sa.Column("diag_name", sa.String(100), nullable=False),
        sa.Column("refl_date", sa.Date(), nullable=False),
        sa.Column("begndate", sa.Date(), nullable=False),
        sa.Column("enddate", sa.Date(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("cancel_reason", sa.String(500), nullable=True),
        sa.Column("msgid", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("trt_dcla_detl_sn", name="pk_referrals"),
        sa.ForeignKeyConstraint(["psn_no"], ["persons.psn_no"], name="fk_referrals_psn_no_persons"),
        sa.ForeignKeyConstraint(
            ["filing_id"], ["filings.filing_id"], name="fk_referrals_filing_id_filings"
        ),
        sa.ForeignKeyConstraint(
            ["filed_by"],
            ["institutions.fixmedins_code"],
            name="fk_referrals_filed_by_institutions",
        ),
        sa.CheckConstraint("status IN ('active', 'cancelled')", name="ck_referrals_status"),
    )
    op.create_index("ix_referrals_psn_no", "referrals", ["psn_no"])


def downgrade() -> None:
    op.drop_index("ix_referrals_psn_no", table_name="referrals")
    op.drop_table("referrals")
    op.drop_index("ix_designations_psn_no", table_name="designations")
    op.drop_table("designations")
    op.drop_table("clearing_applications")
