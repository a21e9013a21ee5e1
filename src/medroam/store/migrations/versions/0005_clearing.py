"""Clearing: reconciliation between regions, clearing runs, prepayment, clearing journal,
and the zero-sum guards of both journals.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25

Tables: ``recon_batches`` and ``clearing_items`` (3260/3261/3262-like reconciliation
between the place of treatment and the place of insurance), ``clearing_runs`` with
``clearing_run_matrix`` / ``_provinces`` / ``_regions`` / ``_hospitals`` / ``_payments``
(results of a run), ``prepay_quotas`` / ``prepay_events`` / ``prepay_warnings``
(预付金) and the clearing journal ``clearing_postings`` / ``clearing_legs``.

Guards: on PostgreSQL a deferred constraint trigger on ``ledger_legs`` and on
``clearing_legs`` refuses, at commit, any posting whose legs do not sum to zero. SQLite
has no deferred triggers: a clearing posting is inserted open and a trigger refuses to
close it unless its legs sum to zero (legs of a closed posting are frozen); legs of both
journals are append-only, and ``services.clearing.unbalanced_postings`` checks the rest.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

_TABLES = (
    "clearing_legs",
    "clearing_postings",
    "prepay_warnings",
    "prepay_events",
    "prepay_quotas",
    "clearing_run_payments",
    "clearing_run_hospitals",
    "clearing_run_regions",
    "clearing_run_provinces",
    "clearing_run_matrix",
    "clearing_runs",
    "clearing_items",
    "recon_batches",
)


def pg_guard_function(table: str) -> str:
    """A trigger function checking that the legs of the touched posting sum to zero
    (no ``%`` in the text: it passes through any driver's parameter style)."""
    return f"""
CREATE OR REPLACE FUNCTION {table}_check_balance() RETURNS trigger AS $$
DECLARE
    total numeric;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT COALESCE(SUM(amount), 0) INTO total FROM {table}
        WHERE posting_id = OLD.posting_id;
        IF total <> 0 THEN
            RAISE EXCEPTION USING ERRCODE = '23514', MESSAGE = 'posting ' ||
                OLD.posting_id || ' in {table} does not balance: legs sum to ' || total;
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT COALESCE(SUM(amount), 0) INTO total FROM {table}
        WHERE posting_id = NEW.posting_id;
        IF total <> 0 THEN
            RAISE EXCEPTION USING ERRCODE = '23514', MESSAGE = 'posting ' ||
                NEW.posting_id || ' in {table} does not balance: legs sum to ' || total;
        END IF;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""


def pg_guard_trigger(table: str) -> str:
    return (
        f"CREATE CONSTRAINT TRIGGER {table}_balance AFTER INSERT OR UPDATE OR DELETE "
        f"ON {table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
        f"EXECUTE FUNCTION {table}_check_balance()"
    )


GUARDED_TABLES = ("ledger_legs", "clearing_legs")


SQLITE_GUARDS = (
    # the clearing journal: close only when balanced; closed postings are frozen
    """
    CREATE TRIGGER clearing_postings_close_balanced
    BEFORE UPDATE OF closed ON clearing_postings
    WHEN NEW.closed AND (SELECT COALESCE(SUM(amount), 0) FROM clearing_legs
                         WHERE posting_id = NEW.posting_id) <> 0
    BEGIN
        SELECT RAISE(ABORT, 'posting does not balance: its legs do not sum to zero');
    END
    """,
    """
    CREATE TRIGGER clearing_postings_insert_open
    BEFORE INSERT ON clearing_postings
    WHEN NEW.closed
    BEGIN
        SELECT RAISE(ABORT, 'a posting is inserted open and closed once its legs balance');
    END
    """,
    """
    CREATE TRIGGER clearing_legs_insert_frozen
    BEFORE INSERT ON clearing_legs
    WHEN (SELECT closed FROM clearing_postings WHERE posting_id = NEW.posting_id)
    BEGIN
        SELECT RAISE(ABORT, 'legs cannot be added to a closed posting');
    END
    """,
    """
    CREATE TRIGGER clearing_legs_update_frozen
    BEFORE UPDATE ON clearing_legs
    BEGIN
        SELECT RAISE(ABORT, 'ledger legs are append-only');
    END
    """,
    """
    CREATE TRIGGER clearing_legs_delete_frozen
    BEFORE DELETE ON clearing_legs
    WHEN (SELECT closed FROM clearing_postings WHERE posting_id = OLD.posting_id)
    BEGIN
        SELECT RAISE(ABORT, 'legs of a closed posting cannot be removed');
    END
    """,
    # the settlement journal: legs are append-only
    """
    CREATE TRIGGER ledger_legs_update_frozen
    BEFORE UPDATE ON ledger_legs
    BEGIN
        SELECT RAISE(ABORT, 'ledger legs are append-only');
    END
    """,
    """
    CREATE TRIGGER ledger_legs_delete_frozen
    BEFORE DELETE ON ledger_legs
    BEGIN
        SELECT RAISE(ABORT, 'ledger legs are append-only');
    END
    """,
)


_SQLITE_TRIGGERS = (
    "clearing_postings_close_balanced",
    "clearing_postings_insert_open",
    "clearing_legs_insert_frozen",
    "clearing_legs_update_frozen",
    "clearing_legs_delete_frozen",
    "ledger_legs_update_frozen",
    "ledger_legs_delete_frozen",
)


def upgrade() -> None:
    op.create_table(
        "clearing_postings",
        sa.Column("posting_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("ref", sa.String(length=80), nullable=False),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("posted_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('clear', 'prepay', 'settle', 'pay')", name=op.f("ck_clearing_postings_kind")
        ),
        sa.PrimaryKeyConstraint("posting_id", name=op.f("pk_clearing_postings")),
    )
    op.create_table(
        "clearing_runs",
        sa.Column("run_id", sa.String(length=60), nullable=False),
        sa.Column("cycle", sa.String(length=10), nullable=False),
        sa.Column("period_label", sa.String(length=12), nullable=False),
        sa.Column("scope", sa.String(length=12), nullable=False),
        sa.Column("start_day", sa.Integer(), nullable=False),
        sa.Column("end_day", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("applied_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("line_count", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("abs_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "cycle IN ('daily', 'monthly', 'quarterly', 'annual')",
            name=op.f("ck_clearing_runs_cycle"),
        ),
        sa.CheckConstraint(
            "scope IN ('all', 'funds', 'mutual_aid')", name=op.f("ck_clearing_runs_scope")
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_clearing_runs")),
        sa.UniqueConstraint("cycle", "period_label", "scope", name="uq_clearing_runs_cycle"),
    )
    op.create_table(
        "prepay_quotas",
        sa.Column("quota_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("payer", sa.String(length=6), nullable=False),
        sa.Column("payee", sa.String(length=6), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("basis", sa.String(length=20), nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "level IN ('national', 'provincial')", name=op.f("ck_prepay_quotas_level")
        ),
        sa.CheckConstraint("amount_fen >= 0", name=op.f("ck_prepay_quotas_amount")),
        sa.PrimaryKeyConstraint("quota_id", name=op.f("pk_prepay_quotas")),
        sa.UniqueConstraint("year", "level", "payer", "payee", name="uq_prepay_quotas_year"),
    )
    op.create_table(
        "prepay_warnings",
        sa.Column("warning_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("payer", sa.String(length=6), nullable=False),
        sa.Column("payee", sa.String(length=6), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("cleared_fen", sa.BigInteger(), nullable=False),
        sa.Column("quota_fen", sa.BigInteger(), nullable=False),
        sa.Column("rate", sa.Integer(), nullable=True),
        sa.Column("warning", sa.String(length=6), nullable=False),
        sa.Column("topup_fen", sa.BigInteger(), nullable=False),
        sa.Column("topup_due", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "warning IN ('none', 'yellow', 'red')", name=op.f("ck_prepay_warnings_warning")
        ),
        sa.PrimaryKeyConstraint("warning_id", name=op.f("pk_prepay_warnings")),
        sa.UniqueConstraint("level", "payer", "payee", "month", name="uq_prepay_warnings_level"),
    )
    op.create_table(
        "recon_batches",
        sa.Column("batch_id", sa.String(length=60), nullable=False),
        sa.Column("treatment_scope", sa.String(length=6), nullable=False),
        sa.Column("period_label", sa.String(length=12), nullable=False),
        sa.Column("start_day", sa.Integer(), nullable=False),
        sa.Column("end_day", sa.Integer(), nullable=False),
        sa.Column("proposed_at", sa.DateTime(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("carried_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_recon_batches")),
    )
    op.create_table(
        "clearing_items",
        sa.Column("setl_id", sa.String(length=30), nullable=False),
        sa.Column("batch_id", sa.String(length=60), nullable=False),
        sa.Column("treatment_region", sa.String(length=6), nullable=False),
        sa.Column("insured_region", sa.String(length=6), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("setl_day", sa.Integer(), nullable=False),
        sa.Column("refd_setl_flag", sa.Boolean(), nullable=False),
        sa.Column("medfee", sa.BigInteger(), nullable=False),
        sa.Column("fund", sa.BigInteger(), nullable=False),
        sa.Column("acct", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("state_day", sa.Integer(), nullable=False),
        sa.Column("dispute_reason", sa.Text(), nullable=True),
        sa.Column("cleared_run_id", sa.String(length=60), nullable=True),
        sa.Column("mulaid_run_id", sa.String(length=60), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "state IN ('proposed', 'confirmed', 'disputed', 'withdrawn')",
            name=op.f("ck_clearing_items_state"),
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["recon_batches.batch_id"],
            name=op.f("fk_clearing_items_batch_id_recon_batches"),
        ),
        sa.PrimaryKeyConstraint("setl_id", name=op.f("pk_clearing_items")),
    )
    op.create_index("ix_clearing_items_batch_id", "clearing_items", ["batch_id"], unique=False)
    op.create_index(
        "ix_clearing_items_insured_region", "clearing_items", ["insured_region"], unique=False
    )
    op.create_index(
        "ix_clearing_items_state", "clearing_items", ["state", "cleared_run_id"], unique=False
    )
    op.create_table(
        "clearing_legs",
        sa.Column("leg_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("posting_id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=100), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["posting_id"],
            ["clearing_postings.posting_id"],
            name=op.f("fk_clearing_legs_posting_id_clearing_postings"),
        ),
        sa.PrimaryKeyConstraint("leg_id", name=op.f("pk_clearing_legs")),
    )
    op.create_index("ix_clearing_legs_account", "clearing_legs", ["account"], unique=False)
    op.create_index("ix_clearing_legs_posting_id", "clearing_legs", ["posting_id"], unique=False)
    op.create_table(
        "clearing_run_hospitals",
        sa.Column("run_id", sa.String(length=60), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("insutype", sa.String(length=6), nullable=False),
        sa.Column("clr_type", sa.String(length=6), nullable=False),
        sa.Column("fund_line", sa.String(length=20), nullable=False),
        sa.Column("treatment_region", sa.String(length=6), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("line_count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["clearing_runs.run_id"],
            name=op.f("fk_clearing_run_hospitals_run_id_clearing_runs"),
        ),
        sa.PrimaryKeyConstraint(
            "run_id",
            "fixmedins_code",
            "insutype",
            "clr_type",
            "fund_line",
            name=op.f("pk_clearing_run_hospitals"),
        ),
    )
    op.create_table(
        "clearing_run_matrix",
        sa.Column("run_id", sa.String(length=60), nullable=False),
        sa.Column("insured_region", sa.String(length=6), nullable=False),
        sa.Column("treatment_region", sa.String(length=6), nullable=False),
        sa.Column("insutype", sa.String(length=6), nullable=False),
        sa.Column("fund_line", sa.String(length=20), nullable=False),
        sa.Column("insured_province", sa.String(length=6), nullable=False),
        sa.Column("treatment_province", sa.String(length=6), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("line_count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["clearing_runs.run_id"],
            name=op.f("fk_clearing_run_matrix_run_id_clearing_runs"),
        ),
        sa.PrimaryKeyConstraint(
            "run_id",
            "insured_region",
            "treatment_region",
            "insutype",
            "fund_line",
            name=op.f("pk_clearing_run_matrix"),
        ),
    )
    op.create_table(
        "clearing_run_payments",
        sa.Column("run_id", sa.String(length=60), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("treatment_region", sa.String(length=6), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("settlements", sa.BigInteger(), nullable=False),
        sa.Column("applied_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("advance_days_x100", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["clearing_runs.run_id"],
            name=op.f("fk_clearing_run_payments_run_id_clearing_runs"),
        ),
        sa.PrimaryKeyConstraint("run_id", "fixmedins_code", name=op.f("pk_clearing_run_payments")),
    )
    op.create_table(
        "clearing_run_provinces",
        sa.Column("run_id", sa.String(length=60), nullable=False),
        sa.Column("province", sa.String(length=6), nullable=False),
        sa.Column("payable", sa.BigInteger(), nullable=False),
        sa.Column("receivable", sa.BigInteger(), nullable=False),
        sa.Column("net", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["clearing_runs.run_id"],
            name=op.f("fk_clearing_run_provinces_run_id_clearing_runs"),
        ),
        sa.PrimaryKeyConstraint("run_id", "province", name=op.f("pk_clearing_run_provinces")),
    )
    op.create_table(
        "clearing_run_regions",
        sa.Column("run_id", sa.String(length=60), nullable=False),
        sa.Column("region", sa.String(length=6), nullable=False),
        sa.Column("province", sa.String(length=6), nullable=False),
        sa.Column("inter_payable", sa.BigInteger(), nullable=False),
        sa.Column("inter_receivable", sa.BigInteger(), nullable=False),
        sa.Column("intra_payable", sa.BigInteger(), nullable=False),
        sa.Column("intra_receivable", sa.BigInteger(), nullable=False),
        sa.Column("inter_net", sa.BigInteger(), nullable=False),
        sa.Column("intra_net", sa.BigInteger(), nullable=False),
        sa.Column("net", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["clearing_runs.run_id"],
            name=op.f("fk_clearing_run_regions_run_id_clearing_runs"),
        ),
        sa.PrimaryKeyConstraint("run_id", "region", name=op.f("pk_clearing_run_regions")),
    )
    op.create_table(
        "prepay_events",
        sa.Column("event_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("quota_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("delta_fen", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("posting_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('issue', 'adjust', 'topup')", name=op.f("ck_prepay_events_kind")
        ),
        sa.ForeignKeyConstraint(
            ["quota_id"],
            ["prepay_quotas.quota_id"],
            name=op.f("fk_prepay_events_quota_id_prepay_quotas"),
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_prepay_events")),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table in GUARDED_TABLES:
            op.execute(pg_guard_function(table))
            op.execute(pg_guard_trigger(table))
    elif bind.dialect.name == "sqlite":
        for ddl in SQLITE_GUARDS:
            op.execute(ddl)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table in GUARDED_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_balance ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_check_balance()")
    elif bind.dialect.name == "sqlite":
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for table in _TABLES:
        op.drop_table(table)
