"""Settlement: reference data, insured persons, visits, fee lines, settlements, ledger.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

Reference data in the database (``regions``, ``catalogue_items``, ``policies`` and
``refdata_versions``, filled by ``medroam.store.refdata_loader``); the insured-person
registry (``persons`` extended, ``insurances``, ``person_vouchers``,
``chronic_qualifications``, ``accounts``, ``accumulators``); the place of treatment's
records (``visits``, ``diagnoses``, ``fee_lines``, ``settlements``,
``settlement_details``); and the double-entry ledger (``ledger_postings``,
``ledger_legs``). Portable across SQLite and PostgreSQL; amounts are integer fen;
timestamps stamped by the platform are naive UTC, clinical times are naive local time as
the HIS sent them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_TABLES = (
    "catalogue_items",
    "policies",
    "refdata_versions",
    "regions",
    "accounts",
    "accumulators",
    "chronic_qualifications",
    "insurances",
    "person_vouchers",
    "visits",
    "diagnoses",
    "settlements",
    "fee_lines",
    "ledger_postings",
    "settlement_details",
    "ledger_legs",
)


def upgrade() -> None:
    op.create_table(
        "catalogue_items",
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("list_type", sa.String(length=3), nullable=False),
        sa.Column("charge_type", sa.String(length=2), nullable=False),
        sa.Column("level", sa.String(length=2), nullable=False),
        sa.Column("selfpay_ratio", sa.Integer(), nullable=False),
        sa.Column("price_cap", sa.BigInteger(), nullable=True),
        sa.Column("typical_price", sa.BigInteger(), nullable=True),
        sa.Column("restricted", sa.Boolean(), nullable=False),
        sa.Column("essential", sa.Boolean(), nullable=False),
        sa.Column("negotiated", sa.Boolean(), nullable=False),
        sa.Column("special", sa.Boolean(), nullable=False),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "code", name="pk_catalogue_items"),
    )
    op.create_table(
        "policies",
        sa.Column("region", sa.String(length=6), nullable=False),
        sa.Column("insutype", sa.String(length=6), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("region", "insutype", "effective_from", name="pk_policies"),
    )
    op.create_table(
        "refdata_versions",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("loaded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_refdata_versions"),
    )
    op.create_table(
        "regions",
        sa.Column("code", sa.String(length=6), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("level", sa.String(length=12), nullable=False),
        sa.Column("province_code", sa.String(length=6), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.CheckConstraint("level IN ('province', 'prefecture')", name="ck_regions_level"),
        sa.PrimaryKeyConstraint("code", name="pk_regions"),
    )
    op.create_table(
        "accounts",
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("mutual_aid_balance", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("balance >= 0", name="ck_accounts_balance"),
        sa.CheckConstraint("mutual_aid_balance >= 0", name="ck_accounts_mutual_aid_balance"),
        sa.ForeignKeyConstraint(["psn_no"], ["persons.psn_no"], name="fk_accounts_psn_no_persons"),
        sa.PrimaryKeyConstraint("psn_no", name="pk_accounts"),
    )
    op.create_table(
        "accumulators",
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("insutype", sa.String(length=6), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["psn_no"], ["persons.psn_no"], name="fk_accumulators_psn_no_persons"
        ),
        sa.PrimaryKeyConstraint("psn_no", "insutype", "year", "key", name="pk_accumulators"),
    )
    op.create_table(
        "chronic_qualifications",
        sa.Column("trt_dcla_detl_sn", sa.String(length=30), nullable=False),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("insutype", sa.String(length=6), nullable=True),
        sa.Column("opsp_dise_code", sa.String(length=30), nullable=False),
        sa.Column("opsp_dise_name", sa.String(length=500), nullable=True),
        sa.Column("begin_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reviewed", sa.Boolean(), nullable=False),
        sa.Column("ide_fixmedins_no", sa.String(length=30), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'cancelled')", name="ck_chronic_qualifications_status"
        ),
        sa.ForeignKeyConstraint(
            ["psn_no"], ["persons.psn_no"], name="fk_chronic_qualifications_psn_no_persons"
        ),
        sa.PrimaryKeyConstraint("trt_dcla_detl_sn", name="pk_chronic_qualifications"),
    )
    op.create_index("ix_chronic_qualifications_psn_no", "chronic_qualifications", ["psn_no"])
    op.create_table(
        "insurances",
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("insutype", sa.String(length=6), nullable=False),
        sa.Column("psn_type", sa.String(length=6), nullable=False),
        sa.Column("psn_insu_stas", sa.String(length=3), nullable=False),
        sa.Column("insured_region", sa.String(length=6), nullable=False),
        sa.Column("cvlserv_flag", sa.Boolean(), nullable=False),
        sa.Column("emp_name", sa.String(length=200), nullable=True),
        sa.Column("begin_date", sa.Date(), nullable=True),
        sa.Column("pause_date", sa.Date(), nullable=True),
        sa.Column("assistance", sa.String(length=20), nullable=True),
        sa.CheckConstraint(
            "assistance IS NULL OR assistance IN ('tekun', 'dibao', 'dibao_edge', 'fanpin')",
            name="ck_insurances_assistance",
        ),
        sa.CheckConstraint(
            "psn_insu_stas IN ('0', '1', '2', '3', '4')", name="ck_insurances_psn_insu_stas"
        ),
        sa.ForeignKeyConstraint(
            ["psn_no"], ["persons.psn_no"], name="fk_insurances_psn_no_persons"
        ),
        sa.PrimaryKeyConstraint("psn_no", "insutype", name="pk_insurances"),
    )
    op.create_table(
        "person_vouchers",
        sa.Column("mdtrt_cert_type", sa.String(length=3), nullable=False),
        sa.Column("mdtrt_cert_no", sa.String(length=50), nullable=False),
        sa.Column("card_sn", sa.String(length=32), nullable=True),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.CheckConstraint(
            "mdtrt_cert_type IN ('01', '02', '03')", name="ck_person_vouchers_mdtrt_cert_type"
        ),
        sa.ForeignKeyConstraint(
            ["psn_no"], ["persons.psn_no"], name="fk_person_vouchers_psn_no_persons"
        ),
        sa.PrimaryKeyConstraint("mdtrt_cert_type", "mdtrt_cert_no", name="pk_person_vouchers"),
    )
    op.create_index("ix_person_vouchers_psn_no", "person_vouchers", ["psn_no"])
    op.create_table(
        "visits",
        sa.Column("mdtrt_id", sa.String(length=30), nullable=False),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("insutype", sa.String(length=6), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("med_type", sa.String(length=6), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("ipt_otp_no", sa.String(length=30), nullable=False),
        sa.Column("mdtrt_cert_type", sa.String(length=3), nullable=False),
        sa.Column("mdtrt_cert_no", sa.String(length=50), nullable=False),
        sa.Column("begin_time", sa.DateTime(), nullable=False),
        sa.Column("end_time", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("treatment_region", sa.String(length=6), nullable=False),
        sa.Column("insured_region", sa.String(length=6), nullable=False),
        sa.Column("cross_region", sa.String(length=16), nullable=False),
        sa.Column("institution_level", sa.String(length=2), nullable=False),
        sa.Column("dept_code", sa.String(length=30), nullable=True),
        sa.Column("dept_name", sa.String(length=100), nullable=True),
        sa.Column("caty", sa.String(length=10), nullable=True),
        sa.Column("bed", sa.String(length=30), nullable=True),
        sa.Column("atddr_no", sa.String(length=30), nullable=True),
        sa.Column("dr_name", sa.String(length=50), nullable=True),
        sa.Column("main_diag_code", sa.String(length=20), nullable=True),
        sa.Column("main_diag_name", sa.String(length=300), nullable=True),
        sa.Column("adm_diag_dscr", sa.String(length=200), nullable=True),
        sa.Column("main_cond_dscr", sa.Text(), nullable=True),
        sa.Column("dise_codg", sa.String(length=30), nullable=True),
        sa.Column("dise_name", sa.String(length=500), nullable=True),
        sa.Column("emergency", sa.Boolean(), nullable=False),
        sa.Column("exp_content", sa.JSON(), nullable=False),
        sa.Column("dscg_way", sa.String(length=3), nullable=True),
        sa.Column("dscg_dept_code", sa.String(length=30), nullable=True),
        sa.Column("dscg_dept_name", sa.String(length=100), nullable=True),
        sa.Column("dscg_bed", sa.String(length=30), nullable=True),
        sa.Column("die_date", sa.Date(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("msgid", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "cross_region IN ('local', 'intra_province', 'inter_province')",
            name="ck_visits_cross_region",
        ),
        sa.CheckConstraint("kind IN ('outpatient', 'inpatient')", name="ck_visits_kind"),
        sa.CheckConstraint(
            "status IN ('registered', 'admitted', 'discharged', 'settled', 'cancelled')",
            name="ck_visits_status",
        ),
        sa.ForeignKeyConstraint(
            ["fixmedins_code"],
            ["institutions.fixmedins_code"],
            name="fk_visits_fixmedins_code_institutions",
        ),
        sa.ForeignKeyConstraint(["psn_no"], ["persons.psn_no"], name="fk_visits_psn_no_persons"),
        sa.PrimaryKeyConstraint("mdtrt_id", name="pk_visits"),
    )
    op.create_index(
        "ix_visits_fixmedins_code_ipt_otp_no", "visits", ["fixmedins_code", "ipt_otp_no"]
    )
    op.create_index("ix_visits_msgid", "visits", ["msgid"])
    op.create_index("ix_visits_psn_no", "visits", ["psn_no"])
    op.create_table(
        "diagnoses",
        sa.Column("diag_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mdtrt_id", sa.String(length=30), nullable=False),
        sa.Column("stage", sa.String(length=12), nullable=False),
        sa.Column("diag_type", sa.String(length=3), nullable=False),
        sa.Column("diag_srt_no", sa.Integer(), nullable=False),
        sa.Column("diag_code", sa.String(length=20), nullable=False),
        sa.Column("diag_name", sa.String(length=100), nullable=False),
        sa.Column("maindiag_flag", sa.Boolean(), nullable=False),
        sa.Column("diag_dept", sa.String(length=50), nullable=True),
        sa.Column("dise_dor_no", sa.String(length=30), nullable=True),
        sa.Column("dise_dor_name", sa.String(length=50), nullable=True),
        sa.Column("diag_time", sa.DateTime(), nullable=True),
        sa.Column("adm_cond", sa.String(length=500), nullable=True),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "stage IN ('outpatient', 'admission', 'discharge')", name="ck_diagnoses_stage"
        ),
        sa.ForeignKeyConstraint(
            ["mdtrt_id"], ["visits.mdtrt_id"], name="fk_diagnoses_mdtrt_id_visits"
        ),
        sa.PrimaryKeyConstraint("diag_id", name="pk_diagnoses"),
    )
    op.create_index("ix_diagnoses_mdtrt_id", "diagnoses", ["mdtrt_id"])
    op.create_table(
        "settlements",
        sa.Column("setl_id", sa.String(length=30), nullable=False),
        sa.Column("mdtrt_id", sa.String(length=30), nullable=False),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("insutype", sa.String(length=6), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("med_type", sa.String(length=6), nullable=False),
        sa.Column("setl_time", sa.DateTime(), nullable=False),
        sa.Column("medfee", sa.BigInteger(), nullable=False),
        sa.Column("fulamt_ownpay", sa.BigInteger(), nullable=False),
        sa.Column("overlmt_selfpay", sa.BigInteger(), nullable=False),
        sa.Column("preselfpay", sa.BigInteger(), nullable=False),
        sa.Column("inscp", sa.BigInteger(), nullable=False),
        sa.Column("deductible", sa.BigInteger(), nullable=False),
        sa.Column("pool", sa.BigInteger(), nullable=False),
        sa.Column("pool_ratio", sa.Integer(), nullable=False),
        sa.Column("civil_servant", sa.BigInteger(), nullable=False),
        sa.Column("enterprise", sa.BigInteger(), nullable=False),
        sa.Column("critical_illness", sa.BigInteger(), nullable=False),
        sa.Column("large_expense", sa.BigInteger(), nullable=False),
        sa.Column("assistance", sa.BigInteger(), nullable=False),
        sa.Column("other", sa.BigInteger(), nullable=False),
        sa.Column("fund_total", sa.BigInteger(), nullable=False),
        sa.Column("personal", sa.BigInteger(), nullable=False),
        sa.Column("account", sa.BigInteger(), nullable=False),
        sa.Column("mutual_aid", sa.BigInteger(), nullable=False),
        sa.Column("cash", sa.BigInteger(), nullable=False),
        sa.Column("hospital", sa.BigInteger(), nullable=False),
        sa.Column("balance_before", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("mutual_aid_balance_after", sa.BigInteger(), nullable=False),
        sa.Column("benefit_status", sa.String(length=20), nullable=False),
        sa.Column("mid_setl_flag", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("refd_setl_flag", sa.Boolean(), nullable=False),
        sa.Column("reverses_setl_id", sa.String(length=30), nullable=True),
        sa.Column("medins_setl_id", sa.String(length=40), nullable=False),
        sa.Column("clr_optins", sa.String(length=6), nullable=False),
        sa.Column("clr_type", sa.String(length=6), nullable=False),
        sa.Column("clr_way", sa.String(length=6), nullable=False),
        sa.Column("insured_region", sa.String(length=6), nullable=False),
        sa.Column("treatment_region", sa.String(length=6), nullable=False),
        sa.Column("cross_region", sa.String(length=16), nullable=False),
        sa.Column("pay_loc", sa.String(length=2), nullable=False),
        sa.Column("institution_level", sa.String(length=2), nullable=False),
        sa.Column("psn_type", sa.String(length=6), nullable=False),
        sa.Column("civil_servant_flag", sa.Boolean(), nullable=False),
        sa.Column("mdtrt_cert_type", sa.String(length=3), nullable=False),
        sa.Column("policy_region", sa.String(length=6), nullable=False),
        sa.Column("policy_from", sa.Date(), nullable=False),
        sa.Column("acc_year", sa.Integer(), nullable=False),
        sa.Column("accumulator_delta", sa.JSON(), nullable=False),
        sa.Column("invono", sa.String(length=20), nullable=True),
        sa.Column("dise_codg", sa.String(length=30), nullable=True),
        sa.Column("dise_name", sa.String(length=500), nullable=True),
        sa.Column("opter", sa.String(length=30), nullable=True),
        sa.Column("opter_name", sa.String(length=50), nullable=True),
        sa.CheckConstraint(
            "kind IN ('inpatient', 'outpatient', 'chronic')", name="ck_settlements_kind"
        ),
        sa.CheckConstraint(
            "status IN ('valid', 'cancelled', 'voided')", name="ck_settlements_status"
        ),
        sa.CheckConstraint(
            "(refd_setl_flag AND reverses_setl_id IS NOT NULL) OR "
            "(NOT refd_setl_flag AND reverses_setl_id IS NULL)",
            name="ck_settlements_reverse_link",
        ),
        sa.CheckConstraint("medfee = fund_total + personal + hospital", name="ck_settlements_i1"),
        sa.CheckConstraint("personal = account + cash", name="ck_settlements_i2"),
        sa.ForeignKeyConstraint(
            ["fixmedins_code"],
            ["institutions.fixmedins_code"],
            name="fk_settlements_fixmedins_code_institutions",
        ),
        sa.ForeignKeyConstraint(
            ["mdtrt_id"], ["visits.mdtrt_id"], name="fk_settlements_mdtrt_id_visits"
        ),
        sa.ForeignKeyConstraint(
            ["psn_no"], ["persons.psn_no"], name="fk_settlements_psn_no_persons"
        ),
        sa.ForeignKeyConstraint(
            ["reverses_setl_id"],
            ["settlements.setl_id"],
            name="fk_settlements_reverses_setl_id_settlements",
        ),
        sa.PrimaryKeyConstraint("setl_id", name="pk_settlements"),
    )
    op.create_index(
        "ix_settlements_fixmedins_code_setl_time", "settlements", ["fixmedins_code", "setl_time"]
    )
    op.create_index("ix_settlements_mdtrt_id", "settlements", ["mdtrt_id"])
    op.create_index("ix_settlements_medins_setl_id", "settlements", ["medins_setl_id"])
    op.create_index("ix_settlements_psn_no", "settlements", ["psn_no"])
    op.create_index("ix_settlements_reverses_setl_id", "settlements", ["reverses_setl_id"])
    op.create_table(
        "fee_lines",
        sa.Column("row_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mdtrt_id", sa.String(length=30), nullable=False),
        sa.Column("feedetl_sn", sa.String(length=30), nullable=False),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("chrg_bchno", sa.String(length=30), nullable=True),
        sa.Column("init_feedetl_sn", sa.String(length=30), nullable=True),
        sa.Column("med_type", sa.String(length=6), nullable=True),
        sa.Column("fee_ocur_time", sa.DateTime(), nullable=False),
        sa.Column("med_list_codg", sa.String(length=50), nullable=False),
        sa.Column("medins_list_codg", sa.String(length=150), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=False),
        sa.Column("hosp_appr_flag", sa.String(length=3), nullable=False),
        sa.Column("dise_codg", sa.String(length=30), nullable=True),
        sa.Column("rxno", sa.String(length=30), nullable=True),
        sa.Column("drord_no", sa.String(length=30), nullable=True),
        sa.Column("bilg_dept_codg", sa.String(length=30), nullable=True),
        sa.Column("bilg_dept_name", sa.String(length=100), nullable=True),
        sa.Column("bilg_dr_codg", sa.String(length=30), nullable=True),
        sa.Column("bilg_dr_name", sa.String(length=50), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("fulamt_ownpay", sa.BigInteger(), nullable=False),
        sa.Column("overlmt", sa.BigInteger(), nullable=False),
        sa.Column("preselfpay", sa.BigInteger(), nullable=False),
        sa.Column("inscp", sa.BigInteger(), nullable=False),
        sa.Column("chrgitm_lv", sa.String(length=3), nullable=False),
        sa.Column("med_chrgitm_type", sa.String(length=6), nullable=False),
        sa.Column("selfpay_ratio", sa.Integer(), nullable=False),
        sa.Column("price_cap", sa.BigInteger(), nullable=True),
        sa.Column("restricted", sa.Boolean(), nullable=False),
        sa.Column("essential", sa.Boolean(), nullable=False),
        sa.Column("negotiated", sa.Boolean(), nullable=False),
        sa.Column("special", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("setl_id", sa.String(length=30), nullable=True),
        sa.Column("msgid", sa.String(length=40), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "status <> 'settled' OR setl_id IS NOT NULL", name="ck_fee_lines_settled_has_settlement"
        ),
        sa.CheckConstraint(
            "status IN ('uploaded', 'cancelled', 'settled')", name="ck_fee_lines_status"
        ),
        sa.ForeignKeyConstraint(
            ["mdtrt_id"], ["visits.mdtrt_id"], name="fk_fee_lines_mdtrt_id_visits"
        ),
        sa.ForeignKeyConstraint(
            ["setl_id"], ["settlements.setl_id"], name="fk_fee_lines_setl_id_settlements"
        ),
        sa.PrimaryKeyConstraint("row_id", name="pk_fee_lines"),
        sa.UniqueConstraint("mdtrt_id", "feedetl_sn", name="uq_fee_lines_mdtrt_id_feedetl_sn"),
    )
    op.create_index("ix_fee_lines_setl_id", "fee_lines", ["setl_id"])
    op.create_table(
        "ledger_postings",
        sa.Column("posting_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("setl_id", sa.String(length=30), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("posted_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('settle', 'cancel', 'restore')", name="ck_ledger_postings_kind"
        ),
        sa.ForeignKeyConstraint(
            ["setl_id"], ["settlements.setl_id"], name="fk_ledger_postings_setl_id_settlements"
        ),
        sa.PrimaryKeyConstraint("posting_id", name="pk_ledger_postings"),
    )
    op.create_index("ix_ledger_postings_setl_id", "ledger_postings", ["setl_id"])
    op.create_table(
        "settlement_details",
        sa.Column("setl_id", sa.String(length=30), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("fund_pay_type", sa.String(length=6), nullable=False),
        sa.Column("inscp", sa.BigInteger(), nullable=False),
        sa.Column("limit_amount", sa.BigInteger(), nullable=False),
        sa.Column("paid", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["setl_id"], ["settlements.setl_id"], name="fk_settlement_details_setl_id_settlements"
        ),
        sa.PrimaryKeyConstraint("setl_id", "seq", name="pk_settlement_details"),
    )
    op.create_table(
        "ledger_legs",
        sa.Column("leg_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("posting_id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=100), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["posting_id"],
            ["ledger_postings.posting_id"],
            name="fk_ledger_legs_posting_id_ledger_postings",
        ),
        sa.PrimaryKeyConstraint("leg_id", name="pk_ledger_legs"),
    )
    op.create_index("ix_ledger_legs_account", "ledger_legs", ["account"])
    op.create_index("ix_ledger_legs_posting_id", "ledger_legs", ["posting_id"])
    op.add_column("persons", sa.Column("naty", sa.String(length=3), nullable=True))
    op.add_column("persons", sa.Column("phone", sa.String(length=50), nullable=True))
    op.add_column("persons", sa.Column("address", sa.String(length=200), nullable=True))


def downgrade() -> None:
    for table in reversed(_TABLES):
        op.drop_table(table)  # their indexes go with them
    with op.batch_alter_table("persons") as batch:
        for column in ("address", "phone", "naty"):
            batch.drop_column(column)
