"""One open visit per serial: a unique key for opening visits under concurrency.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05

Two 2201 (or 2401) calls with the same ``ipt_otp_no`` (``ipt_no``) sent at once under
different msgids used to open two visits on PostgreSQL: both checked, neither saw the
other. ``uq_visits_open_serial`` makes the check the database's: one visit per
(institution, kind, serial) that is not cancelled (a cancelled registration frees its
serial, as before). A database that already holds such duplicates (left by the old
race) cannot take the index: the upgrade stops with the database's message naming the
duplicated key, for an officer to cancel one of the pair.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

OPEN = sa.text("status <> 'cancelled'")


def upgrade() -> None:
    op.create_index(
        "uq_visits_open_serial",
        "visits",
        ["fixmedins_code", "kind", "ipt_otp_no"],
        unique=True,
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("uq_visits_open_serial", table_name="visits")
