"""Persons (minimal), filings (current state) and filing_events (append-only history).

Revision ID: 0001
Revises:
Create Date: 2026-11-24

Portable across SQLite and PostgreSQL. Timestamps are naive UTC. The append-only rule of
``filing_events`` is enforced by triggers on both databases.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_FILING_TYPES = (
    "'LT_RETIRED', 'LT_RESIDENT', 'LT_WORKER', 'TMP_REFERRAL', 'TMP_EMERGENCY', 'TMP_OTHER'"
)

_PG_APPEND_ONLY = """
CREATE FUNCTION filing_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'filing_events is append-only (% refused)', TG_OP;
END;
$$
"""


def upgrade() -> None:
    op.create_table(
        "persons",
        sa.Column("psn_no", sa.String(30), nullable=False),
        sa.Column("cert_type", sa.String(6), nullable=True),
        sa.Column("certno", sa.String(50), nullable=True),
        sa.Column("name", sa.String(50), nullable=True),
        sa.Column("gender", sa.String(6), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("insured_region", sa.String(6), nullable=False),
        sa.PrimaryKeyConstraint("psn_no", name="pk_persons"),
    )
    op.create_table(
        "filings",
        sa.Column("filing_id", sa.String(40), nullable=False),
        sa.Column("psn_no", sa.String(30), nullable=False),
        sa.Column("insured_region", sa.String(6), nullable=False),
        sa.Column("filing_type", sa.String(20), nullable=False),
        sa.Column("destination", sa.String(6), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("filed_at", sa.DateTime(), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("commitment_only", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("filing_id", name="pk_filings"),
        sa.ForeignKeyConstraint(["psn_no"], ["persons.psn_no"], name="fk_filings_psn_no_persons"),
        sa.CheckConstraint(f"filing_type IN ({_FILING_TYPES})", name="ck_filings_filing_type"),
        sa.CheckConstraint("status IN ('active', 'cancelled')", name="ck_filings_status"),
        sa.CheckConstraint("version >= 1", name="ck_filings_version"),
        sa.CheckConstraint(
            "status = 'cancelled' OR valid_to IS NULL OR valid_to >= valid_from",
            name="ck_filings_valid_period",
        ),
    )
    op.create_index("ix_filings_psn_no", "filings", ["psn_no"])
    op.create_table(
        "filing_events",
        sa.Column("event_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("filing_id", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(10), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_filing_events"),
        sa.ForeignKeyConstraint(
            ["filing_id"], ["filings.filing_id"], name="fk_filing_events_filing_id_filings"
        ),
        sa.UniqueConstraint("filing_id", "version", name="uq_filing_events_filing_id_version"),
        sa.CheckConstraint(
            "event IN ('created', 'changed', 'cancelled')", name="ck_filing_events_event"
        ),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(_PG_APPEND_ONLY)
        op.execute(
            "CREATE TRIGGER filing_events_append_only BEFORE UPDATE OR DELETE ON filing_events "
            "FOR EACH ROW EXECUTE FUNCTION filing_events_append_only()"
        )
    elif dialect == "sqlite":
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER filing_events_no_{operation.lower()} BEFORE {operation} "
                f"ON filing_events BEGIN "
                f"SELECT RAISE(ABORT, 'filing_events is append-only ({operation} refused)'); "
                f"END"
            )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS filing_events_append_only ON filing_events")
        op.execute("DROP FUNCTION IF EXISTS filing_events_append_only()")
    elif dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS filing_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS filing_events_no_delete")
    op.drop_table("filing_events")
    op.drop_index("ix_filings_psn_no", table_name="filings")
    op.drop_table("filings")
    op.drop_table("persons")
