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
    LargeBinary,
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


# --- gateway: institutions, credentials, message log, nonces, sign-ins, files (0002) ---

INSTITUTION_KINDS = ("hospital", "pharmacy", "clinic")
INSTITUTION_LEVELS = ("1", "2", "3", "9")
AUTH_SCHEMES = ("tif", "csb", "apikey", "none")


class InstitutionRow(Base):
    """定点医药机构: a designated institution at its place of treatment."""

    __tablename__ = "institutions"
    __table_args__ = (
        CheckConstraint(in_list("kind", INSTITUTION_KINDS), name="kind"),
        CheckConstraint(in_list("level", INSTITUTION_LEVELS), name="level"),
        Index("ix_institutions_region", "region"),
    )

    fixmedins_code: Mapped[str] = mapped_column(String(30), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(6))  # admdvs of the place of treatment
    level: Mapped[str] = mapped_column(String(2))  # InstitutionLevel
    kind: Mapped[str] = mapped_column(String(10))
    networked: Mapped[bool] = mapped_column(Boolean)  # 跨省联网: may settle cross-province
    active: Mapped[bool] = mapped_column(Boolean)


class CredentialRow(Base):
    """Gateway credentials of an institution (one row per scheme it may use).

    ``secret`` is the shared secret the signature schemes need in clear (TIF token, CSB
    SK); protect the database accordingly. ``key_id`` is the paasid / access key / API key.
    """

    __tablename__ = "institution_credentials"
    __table_args__ = (
        CheckConstraint(in_list("scheme", AUTH_SCHEMES), name="scheme"),
        UniqueConstraint("scheme", "key_id", name="uq_institution_credentials_scheme_key_id"),
    )

    credential_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fixmedins_code: Mapped[str] = mapped_column(
        String(30), ForeignKey("institutions.fixmedins_code")
    )
    scheme: Mapped[str] = mapped_column(String(10))
    key_id: Mapped[str] = mapped_column(String(100))
    secret: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean)


class MessageLogRow(Base):
    """Every answered message: (institution, msgid) → the response sent.

    A repeated msgid with the same request returns ``response`` unchanged; with a
    different request it is refused.
    """

    __tablename__ = "message_log"
    __table_args__ = (
        UniqueConstraint("fixmedins_code", "msgid", name="uq_message_log_fixmedins_code_msgid"),
    )

    log_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fixmedins_code: Mapped[str] = mapped_column(String(30))
    msgid: Mapped[str] = mapped_column(String(40))
    infno: Mapped[str] = mapped_column(String(10))
    request_hash: Mapped[str] = mapped_column(String(64))
    infcode: Mapped[int] = mapped_column(Integer)
    inf_refmsgid: Mapped[str] = mapped_column(String(40))
    response: Mapped[str] = mapped_column(Text)  # the JSON envelope as sent (masked nothing)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reversed: Mapped[bool] = mapped_column(Boolean, default=False)  # undone by 2601


class NonceRow(Base):
    """Nonces seen inside the signature time window (replay refusal)."""

    __tablename__ = "gateway_nonces"
    __table_args__ = (UniqueConstraint("key_id", "nonce", name="uq_gateway_nonces_key_id_nonce"),)

    nonce_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_id: Mapped[str] = mapped_column(String(100))
    nonce: Mapped[str] = mapped_column(String(100))
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SignInRow(Base):
    """9001 / 9002 签到 / 签退."""

    __tablename__ = "sign_ins"

    sign_no: Mapped[str] = mapped_column(String(30), primary_key=True)
    fixmedins_code: Mapped[str] = mapped_column(
        String(30), ForeignKey("institutions.fixmedins_code")
    )
    opter_no: Mapped[str] = mapped_column(String(30))
    mac: Mapped[str] = mapped_column(String(40))
    ip: Mapped[str] = mapped_column(String(40))
    signed_in_at: Mapped[datetime] = mapped_column(UtcDateTime)
    signed_out_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class FileRow(Base):
    """9101 uploads and 9102 downloads (ZIP content)."""

    __tablename__ = "gateway_files"

    file_qury_no: Mapped[str] = mapped_column(String(40), primary_key=True)
    fixmedins_code: Mapped[str] = mapped_column(String(30))
    filename: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
