"""Gateway tables: institutions, credentials, message log, nonces, sign-ins, files.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "institutions",
        sa.Column("fixmedins_code", sa.String(30), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("level", sa.String(2), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("networked", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("fixmedins_code", name="pk_institutions"),
        sa.CheckConstraint(
            "kind IN ('hospital', 'pharmacy', 'clinic')", name="ck_institutions_kind"
        ),
        sa.CheckConstraint("level IN ('1', '2', '3', '9')", name="ck_institutions_level"),
    )
    op.create_index("ix_institutions_region", "institutions", ["region"])
    op.create_table(
        "institution_credentials",
        sa.Column("credential_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fixmedins_code", sa.String(30), nullable=False),
        sa.Column("scheme", sa.String(10), nullable=False),
        sa.Column("key_id", sa.String(100), nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("credential_id", name="pk_institution_credentials"),
        sa.ForeignKeyConstraint(
            ["fixmedins_code"],
            ["institutions.fixmedins_code"],
            name="fk_institution_credentials_fixmedins_code_institutions",
        ),
        sa.UniqueConstraint("scheme", "key_id", name="uq_institution_credentials_scheme_key_id"),
        sa.CheckConstraint(
            "scheme IN ('tif', 'csb', 'apikey', 'none')", name="ck_institution_credentials_scheme"
        ),
    )
    op.create_table(
        "message_log",
        sa.Column("log_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fixmedins_code", sa.String(30), nullable=False),
        sa.Column("msgid", sa.String(40), nullable=False),
        sa.Column("infno", sa.String(10), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("infcode", sa.Integer(), nullable=False),
        sa.Column("inf_refmsgid", sa.String(40), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("reversed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("log_id", name="pk_message_log"),
        sa.UniqueConstraint("fixmedins_code", "msgid", name="uq_message_log_fixmedins_code_msgid"),
    )
    op.create_table(
        "gateway_nonces",
        sa.Column("nonce_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key_id", sa.String(100), nullable=False),
        sa.Column("nonce", sa.String(100), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("nonce_id", name="pk_gateway_nonces"),
        sa.UniqueConstraint("key_id", "nonce", name="uq_gateway_nonces_key_id_nonce"),
    )
    op.create_index("ix_gateway_nonces_seen_at", "gateway_nonces", ["seen_at"])
    op.create_table(
        "sign_ins",
        sa.Column("sign_no", sa.String(30), nullable=False),
        sa.Column("fixmedins_code", sa.String(30), nullable=False),
        sa.Column("opter_no", sa.String(30), nullable=False),
        sa.Column("mac", sa.String(40), nullable=False),
        sa.Column("ip", sa.String(40), nullable=False),
        sa.Column("signed_in_at", sa.DateTime(), nullable=False),
        sa.Column("signed_out_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("sign_no", name="pk_sign_ins"),
        sa.ForeignKeyConstraint(
            ["fixmedins_code"],
            ["institutions.fixmedins_code"],
            name="fk_sign_ins_fixmedins_code_institutions",
        ),
    )
    op.create_table(
        "gateway_files",
        sa.Column("file_qury_no", sa.String(40), nullable=False),
        sa.Column("fixmedins_code", sa.String(30), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("file_qury_no", name="pk_gateway_files"),
    )


def downgrade() -> None:
    for table in (
        "gateway_files",
        "sign_ins",
        "gateway_nonces",
        "message_log",
        "institution_credentials",
        "institutions",
    ):
        op.drop_table(table)
