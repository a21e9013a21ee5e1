"""Database tables (SQLAlchemy 2 declarative, typed).

The schema itself is created by the Alembic migrations in ``store/migrations``; these
models must describe the same tables. Timestamps are stored as UTC without a zone (the
portable form for SQLite and PostgreSQL) and come back timezone-aware (UTC).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

FILING_TYPES = (
    "LT_RETIRED",
    "LT_RESIDENT",
    "LT_WORKER",
    "TMP_REFERRAL",
    "TMP_EMERGENCY",
    "TMP_OTHER",
)
FILING_STATUSES = ("active", "cancelled")
FILING_EVENTS = ("created", "changed", "cancelled")


def in_list(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as naive UTC; naive values are refused."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"timestamp {value.isoformat()} must be timezone-aware")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):  # pragma: no cover - drivers return datetime
            value = datetime.fromisoformat(str(value))
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class PersonRow(Base):
    """参保人 (minimal for now: identity and place of insurance)."""

    __tablename__ = "persons"

    psn_no: Mapped[str] = mapped_column(String(30), primary_key=True)
    cert_type: Mapped[str | None] = mapped_column(String(6))
    certno: Mapped[str | None] = mapped_column(String(50))
    name: Mapped[str | None] = mapped_column(String(50))
    gender: Mapped[str | None] = mapped_column(String(6))
    birth_date: Mapped[date | None] = mapped_column(Date)
    insured_region: Mapped[str] = mapped_column(String(6))


class FilingRow(Base):
    """A filing in its current version (one row per filing)."""

    __tablename__ = "filings"
    __table_args__ = (
        CheckConstraint(in_list("filing_type", FILING_TYPES), name="filing_type"),
        CheckConstraint(in_list("status", FILING_STATUSES), name="status"),
        CheckConstraint("version >= 1", name="version"),
        CheckConstraint(
            "status = 'cancelled' OR valid_to IS NULL OR valid_to >= valid_from",
            name="valid_period",
        ),
        Index("ix_filings_psn_no", "psn_no"),
    )

    filing_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    psn_no: Mapped[str] = mapped_column(String(30), ForeignKey("persons.psn_no"))
    insured_region: Mapped[str] = mapped_column(String(6))
    filing_type: Mapped[str] = mapped_column(String(20))
    destination: Mapped[str] = mapped_column(String(6))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    filed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    channel: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10))
    version: Mapped[int] = mapped_column(Integer)
    commitment_only: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class FilingEventRow(Base):
    """Append-only history: the filing as it stood after each event."""

    __tablename__ = "filing_events"
    __table_args__ = (
        UniqueConstraint("filing_id", "version", name="uq_filing_events_filing_id_version"),
        CheckConstraint(in_list("event", FILING_EVENTS), name="event"),
    )

    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    filing_id: Mapped[str] = mapped_column(String(40), ForeignKey("filings.filing_id"))
    version: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(10))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    channel: Mapped[str] = mapped_column(String(20))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
