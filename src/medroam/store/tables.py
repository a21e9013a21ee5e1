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
    BigInteger,
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
    text,
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


def naive_utc(value: datetime) -> datetime:
    """An aware datetime as the tables store it: naive UTC (naive values are refused)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"timestamp {value.isoformat()} must be timezone-aware")
    return value.astimezone(UTC).replace(tzinfo=None)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as naive UTC; naive values are refused."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else naive_utc(value)

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
    # added by 0003 (the insured-person registry)
    naty: Mapped[str | None] = mapped_column(String(3))  # 民族
    phone: Mapped[str | None] = mapped_column(String(50))
    address: Mapped[str | None] = mapped_column(String(200))


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


# The gateway migration (0002) indexes nonces by time for pruning; declared here (not in
# the class above) so that the model matches the schema.
Index("ix_gateway_nonces_seen_at", NonceRow.seen_at)


# --- settlement (0003): reference data, insured persons, visits, fees, settlements, ledger
#
# Amounts are integer fen (BigInteger), ratios integer ten-thousandths, unit prices integer
# micro-yuan, quantities integer ten-thousandths (docs/architecture.md, "Money"). Clinical
# times sent by the HIS (begntime, endtime, fee_ocur_time, diag_time) are stored as sent:
# naive local time of the place of treatment. Times the platform stamps are UTC
# (``UtcDateTime``).

REGION_LEVELS = ("province", "prefecture")
INSU_STATUSES = ("0", "1", "2", "3", "4")  # psn_insu_stas
ASSISTANCE_CATEGORIES = ("tekun", "dibao", "dibao_edge", "fanpin")
CERT_TYPES = ("01", "02", "03")  # mdtrt_cert_type
QUALIFICATION_STATUSES = ("active", "cancelled")
VISIT_KINDS = ("outpatient", "inpatient")
VISIT_STATUSES = ("registered", "admitted", "discharged", "settled", "cancelled")
CROSS_REGION_CLASSES = ("local", "intra_province", "inter_province")
DIAGNOSIS_STAGES = ("outpatient", "admission", "discharge")
LINE_STATUSES = ("uploaded", "cancelled", "settled")
SERVICE_KINDS = ("inpatient", "outpatient", "chronic")
SETTLEMENT_STATUSES = ("valid", "cancelled", "voided")
POSTING_KINDS = ("settle", "cancel", "restore", "case")  # case: a supervision decision


class RefdataVersionRow(Base):
    """The version of each reference data set in the database (cache key of readers)."""

    __tablename__ = "refdata_versions"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)  # regions/catalogue/...
    version: Mapped[str] = mapped_column(String(64))  # content hash, or a random token
    loaded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RegionRow(Base):
    """A province-level unit or pooling region (``data/regions.csv``)."""

    __tablename__ = "regions"
    __table_args__ = (CheckConstraint(in_list("level", REGION_LEVELS), name="level"),)

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(12))
    province_code: Mapped[str] = mapped_column(String(6))
    kind: Mapped[str] = mapped_column(String(30))


class CatalogueItemRow(Base):
    """One item of a place-of-treatment catalogue.

    ``scope`` is ``national`` for the national list, else the province (``XX0000``) or
    region code whose override file changes the item; such a row holds the item as it
    stands at that scope (national item + the province's override + the region's own).
    """

    __tablename__ = "catalogue_items"

    scope: Mapped[str] = mapped_column(String(8), primary_key=True)
    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    list_type: Mapped[str] = mapped_column(String(3))
    charge_type: Mapped[str] = mapped_column(String(2))
    level: Mapped[str] = mapped_column(String(2))
    selfpay_ratio: Mapped[int] = mapped_column(Integer)  # ten-thousandths
    price_cap: Mapped[int | None] = mapped_column(BigInteger)  # micro-yuan
    typical_price: Mapped[int | None] = mapped_column(BigInteger)  # micro-yuan
    restricted: Mapped[bool] = mapped_column(Boolean)
    essential: Mapped[bool] = mapped_column(Boolean)
    negotiated: Mapped[bool] = mapped_column(Boolean)
    special: Mapped[bool] = mapped_column(Boolean)
    synthetic: Mapped[bool] = mapped_column(Boolean)


class PolicyRow(Base):
    """A benefit policy of a place of insurance, as its JSON document (file format)."""

    __tablename__ = "policies"

    region: Mapped[str] = mapped_column(String(6), primary_key=True)
    insutype: Mapped[str] = mapped_column(String(6), primary_key=True)
    effective_from: Mapped[date] = mapped_column(Date, primary_key=True)
    effective_to: Mapped[date | None] = mapped_column(Date)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)  # refdata.policies.policy_to_dict
    synthetic: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(200))


class InsuranceRow(Base):
    """One insurance of a person (1101 ``insuinfo``)."""

    __tablename__ = "insurances"
    __table_args__ = (
        CheckConstraint(in_list("psn_insu_stas", INSU_STATUSES), name="psn_insu_stas"),
        CheckConstraint(
            f"assistance IS NULL OR {in_list('assistance', ASSISTANCE_CATEGORIES)}",
            name="assistance",
        ),
    )

    psn_no: Mapped[str] = mapped_column(String(30), ForeignKey("persons.psn_no"), primary_key=True)
    insutype: Mapped[str] = mapped_column(String(6), primary_key=True)
    psn_type: Mapped[str] = mapped_column(String(6))
    psn_insu_stas: Mapped[str] = mapped_column(String(3))
    insured_region: Mapped[str] = mapped_column(String(6))  # insuplc_admdvs
    cvlserv_flag: Mapped[bool] = mapped_column(Boolean)
    emp_name: Mapped[str | None] = mapped_column(String(200))
    begin_date: Mapped[date | None] = mapped_column(Date)  # psn_insu_date
    pause_date: Mapped[date | None] = mapped_column(Date)  # paus_insu_date
    assistance: Mapped[str | None] = mapped_column(String(20))  # AssistanceCategory


class PersonVoucherRow(Base):
    """A voucher (就诊凭证) that identifies a person: 01 e-voucher token, 02 ID number,
    03 social-security card number (with its ``card_sn``)."""

    __tablename__ = "person_vouchers"
    __table_args__ = (
        CheckConstraint(in_list("mdtrt_cert_type", CERT_TYPES), name="mdtrt_cert_type"),
        Index("ix_person_vouchers_psn_no", "psn_no"),
    )

    mdtrt_cert_type: Mapped[str] = mapped_column(String(3), primary_key=True)
    mdtrt_cert_no: Mapped[str] = mapped_column(String(50), primary_key=True)
    card_sn: Mapped[str | None] = mapped_column(String(32))
    psn_no: Mapped[str] = mapped_column(String(30), ForeignKey("persons.psn_no"))


class ChronicQualificationRow(Base):
    """门慢门特 qualification (认定 / 2503 filing) of a person for one disease."""

    __tablename__ = "chronic_qualifications"
    __table_args__ = (
        CheckConstraint(in_list("status", QUALIFICATION_STATUSES), name="status"),
        Index("ix_chronic_qualifications_psn_no", "psn_no"),
    )

    trt_dcla_detl_sn: Mapped[str] = mapped_column(String(30), primary_key=True)
    psn_no: Mapped[str] = mapped_column(String(30), ForeignKey("persons.psn_no"))
    insutype: Mapped[str | None] = mapped_column(String(6))
    opsp_dise_code: Mapped[str] = mapped_column(String(30))
    opsp_dise_name: Mapped[str | None] = mapped_column(String(500))
    begin_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10))
    reviewed: Mapped[bool] = mapped_column(Boolean)  # reviewed by the agency (2504 refused)
    ide_fixmedins_no: Mapped[str | None] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AccountRow(Base):
    """Personal account (个人账户) balance and family mutual-aid quota (共济额度), fen."""

    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint("balance >= 0", name="balance"),
        CheckConstraint("mutual_aid_balance >= 0", name="mutual_aid_balance"),
    )

    psn_no: Mapped[str] = mapped_column(String(30), ForeignKey("persons.psn_no"), primary_key=True)
    balance: Mapped[int] = mapped_column(BigInteger)
    mutual_aid_balance: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AccumulatorRow(Base):
    """Year-to-date accumulator (累计信息) of a person, insurance type and year."""

    __tablename__ = "accumulators"

    psn_no: Mapped[str] = mapped_column(String(30), ForeignKey("persons.psn_no"), primary_key=True)
    insutype: Mapped[str] = mapped_column(String(6), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class VisitRow(Base):
    """A visit (门诊 2201) or an admission (住院 2401) at the place of treatment."""

    __tablename__ = "visits"
    __table_args__ = (
        CheckConstraint(in_list("kind", VISIT_KINDS), name="kind"),
        CheckConstraint(in_list("status", VISIT_STATUSES), name="status"),
        CheckConstraint(in_list("cross_region", CROSS_REGION_CLASSES), name="cross_region"),
        Index("ix_visits_psn_no", "psn_no"),
        Index("ix_visits_fixmedins_code_ipt_otp_no", "fixmedins_code", "ipt_otp_no"),
        Index("ix_visits_msgid", "msgid"),
        # One open visit per serial (0008): the key that makes opening a visit atomic.
        Index(
            "uq_visits_open_serial",
            "fixmedins_code",
            "kind",
            "ipt_otp_no",
            unique=True,
            postgresql_where=text("status <> 'cancelled'"),
            sqlite_where=text("status <> 'cancelled'"),
        ),
    )

    mdtrt_id: Mapped[str] = mapped_column(String(30), primary_key=True)
    psn_no: Mapped[str] = mapped_column(String(30), ForeignKey("persons.psn_no"))
    insutype: Mapped[str] = mapped_column(String(6))
    fixmedins_code: Mapped[str] = mapped_column(
        String(30), ForeignKey("institutions.fixmedins_code")
    )
    med_type: Mapped[str] = mapped_column(String(6))
    kind: Mapped[str] = mapped_column(String(10))
    ipt_otp_no: Mapped[str] = mapped_column(String(30))
    mdtrt_cert_type: Mapped[str] = mapped_column(String(3))
    mdtrt_cert_no: Mapped[str] = mapped_column(String(50))
    begin_time: Mapped[datetime] = mapped_column(DateTime)  # naive local (begntime)
    end_time: Mapped[datetime | None] = mapped_column(DateTime)  # naive local (endtime)
    status: Mapped[str] = mapped_column(String(12))
    treatment_region: Mapped[str] = mapped_column(String(6))
    insured_region: Mapped[str] = mapped_column(String(6))
    cross_region: Mapped[str] = mapped_column(String(16))
    institution_level: Mapped[str] = mapped_column(String(2))
    dept_code: Mapped[str | None] = mapped_column(String(30))
    dept_name: Mapped[str | None] = mapped_column(String(100))
    caty: Mapped[str | None] = mapped_column(String(10))
    bed: Mapped[str | None] = mapped_column(String(30))
    atddr_no: Mapped[str | None] = mapped_column(String(30))
    dr_name: Mapped[str | None] = mapped_column(String(50))
    main_diag_code: Mapped[str | None] = mapped_column(String(20))
    main_diag_name: Mapped[str | None] = mapped_column(String(300))
    adm_diag_dscr: Mapped[str | None] = mapped_column(String(200))
    main_cond_dscr: Mapped[str | None] = mapped_column(Text)
    dise_codg: Mapped[str | None] = mapped_column(String(30))
    dise_name: Mapped[str | None] = mapped_column(String(500))
    emergency: Mapped[bool] = mapped_column(Boolean)
    exp_content: Mapped[dict[str, Any]] = mapped_column(JSON)
    dscg_way: Mapped[str | None] = mapped_column(String(3))
    dscg_dept_code: Mapped[str | None] = mapped_column(String(30))
    dscg_dept_name: Mapped[str | None] = mapped_column(String(100))
    dscg_bed: Mapped[str | None] = mapped_column(String(30))
    die_date: Mapped[date | None] = mapped_column(Date)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON)  # the other fields as sent
    msgid: Mapped[str] = mapped_column(String(40))  # of the 2201 / 2401 that created it
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DiagnosisRow(Base):
    """A diagnosis of a visit (2203 / 2401 / 2402 ``diseinfo``)."""

    __tablename__ = "diagnoses"
    __table_args__ = (
        CheckConstraint(in_list("stage", DIAGNOSIS_STAGES), name="stage"),
        Index("ix_diagnoses_mdtrt_id", "mdtrt_id"),
    )

    diag_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mdtrt_id: Mapped[str] = mapped_column(String(30), ForeignKey("visits.mdtrt_id"))
    stage: Mapped[str] = mapped_column(String(12))
    diag_type: Mapped[str] = mapped_column(String(3))
    diag_srt_no: Mapped[int] = mapped_column(Integer)
    diag_code: Mapped[str] = mapped_column(String(20))
    diag_name: Mapped[str] = mapped_column(String(100))
    maindiag_flag: Mapped[bool] = mapped_column(Boolean)
    diag_dept: Mapped[str | None] = mapped_column(String(50))
    dise_dor_no: Mapped[str | None] = mapped_column(String(30))
    dise_dor_name: Mapped[str | None] = mapped_column(String(50))
    diag_time: Mapped[datetime | None] = mapped_column(DateTime)  # naive local
    adm_cond: Mapped[str | None] = mapped_column(String(500))
    valid: Mapped[bool] = mapped_column(Boolean)  # vali_flag


class SettlementRow(Base):
    """A settlement (2207 / 2304) or the reverse record of a cancellation (2208 / 2305 /
    2601): a separate row with negated amounts, ``refd_setl_flag`` set and
    ``reverses_setl_id`` naming the original (national-interface §5.4).

    ``status``: ``valid`` (in force, or a reverse record), ``cancelled`` (an original that a
    reverse record cancels; both rows stay for reconciliation), ``voided`` (a reverse
    record undone by a 2601 reversal of its cancellation: as if it never happened).
    """

    __tablename__ = "settlements"
    __table_args__ = (
        CheckConstraint(in_list("kind", SERVICE_KINDS), name="kind"),
        CheckConstraint(in_list("status", SETTLEMENT_STATUSES), name="status"),
        CheckConstraint(
            "(refd_setl_flag AND reverses_setl_id IS NOT NULL) OR "
            "(NOT refd_setl_flag AND reverses_setl_id IS NULL)",
            name="reverse_link",
        ),
        CheckConstraint("medfee = fund_total + personal + hospital", name="i1"),
        CheckConstraint("personal = account + cash", name="i2"),
        Index("ix_settlements_mdtrt_id", "mdtrt_id"),
        Index("ix_settlements_psn_no", "psn_no"),
        Index("ix_settlements_fixmedins_code_setl_time", "fixmedins_code", "setl_time"),
        Index("ix_settlements_medins_setl_id", "medins_setl_id"),
        Index("ix_settlements_reverses_setl_id", "reverses_setl_id"),
    )

    setl_id: Mapped[str] = mapped_column(String(30), primary_key=True)
    mdtrt_id: Mapped[str] = mapped_column(String(30), ForeignKey("visits.mdtrt_id"))
    psn_no: Mapped[str] = mapped_column(String(30), ForeignKey("persons.psn_no"))
    insutype: Mapped[str] = mapped_column(String(6))
    fixmedins_code: Mapped[str] = mapped_column(
        String(30), ForeignKey("institutions.fixmedins_code")
    )
    kind: Mapped[str] = mapped_column(String(12))  # ServiceKind
    med_type: Mapped[str] = mapped_column(String(6))
    setl_time: Mapped[datetime] = mapped_column(UtcDateTime)
    # setlinfo amounts (fen), named as domain.settlement.Settlement
    medfee: Mapped[int] = mapped_column(BigInteger)
    fulamt_ownpay: Mapped[int] = mapped_column(BigInteger)
    overlmt_selfpay: Mapped[int] = mapped_column(BigInteger)
    preselfpay: Mapped[int] = mapped_column(BigInteger)
    inscp: Mapped[int] = mapped_column(BigInteger)
    deductible: Mapped[int] = mapped_column(BigInteger)
    pool: Mapped[int] = mapped_column(BigInteger)
    pool_ratio: Mapped[int] = mapped_column(Integer)  # ten-thousandths
    civil_servant: Mapped[int] = mapped_column(BigInteger)
    enterprise: Mapped[int] = mapped_column(BigInteger)
    critical_illness: Mapped[int] = mapped_column(BigInteger)
    large_expense: Mapped[int] = mapped_column(BigInteger)
    assistance: Mapped[int] = mapped_column(BigInteger)
    other: Mapped[int] = mapped_column(BigInteger)
    fund_total: Mapped[int] = mapped_column(BigInteger)
    personal: Mapped[int] = mapped_column(BigInteger)
    account: Mapped[int] = mapped_column(BigInteger)
    mutual_aid: Mapped[int] = mapped_column(BigInteger)
    cash: Mapped[int] = mapped_column(BigInteger)
    hospital: Mapped[int] = mapped_column(BigInteger)
    balance_before: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)  # balc
    mutual_aid_balance_after: Mapped[int] = mapped_column(BigInteger)
    benefit_status: Mapped[str] = mapped_column(String(20))  # BenefitStatus
    mid_setl_flag: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(10))
    refd_setl_flag: Mapped[bool] = mapped_column(Boolean)
    reverses_setl_id: Mapped[str | None] = mapped_column(
        String(30), ForeignKey("settlements.setl_id")
    )
    medins_setl_id: Mapped[str] = mapped_column(String(40))  # msgid of the request
    clr_optins: Mapped[str] = mapped_column(String(6))  # the place of treatment
    clr_type: Mapped[str] = mapped_column(String(6))
    clr_way: Mapped[str] = mapped_column(String(6))
    insured_region: Mapped[str] = mapped_column(String(6))
    treatment_region: Mapped[str] = mapped_column(String(6))
    cross_region: Mapped[str] = mapped_column(String(16))
    pay_loc: Mapped[str] = mapped_column(String(2))
    institution_level: Mapped[str] = mapped_column(String(2))
    psn_type: Mapped[str] = mapped_column(String(6))
    civil_servant_flag: Mapped[bool] = mapped_column(Boolean)
    mdtrt_cert_type: Mapped[str] = mapped_column(String(3))
    policy_region: Mapped[str] = mapped_column(String(6))
    policy_from: Mapped[date] = mapped_column(Date)
    acc_year: Mapped[int] = mapped_column(Integer)  # the accumulator year of the delta
    accumulator_delta: Mapped[dict[str, Any]] = mapped_column(JSON)
    invono: Mapped[str | None] = mapped_column(String(20))
    dise_codg: Mapped[str | None] = mapped_column(String(30))
    dise_name: Mapped[str | None] = mapped_column(String(500))
    opter: Mapped[str | None] = mapped_column(String(30))
    opter_name: Mapped[str | None] = mapped_column(String(50))


class SettlementDetailRow(Base):
    """A ``setldetail`` row (结算基金分项) of a settlement."""

    __tablename__ = "settlement_details"

    setl_id: Mapped[str] = mapped_column(
        String(30), ForeignKey("settlements.setl_id"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    fund_pay_type: Mapped[str] = mapped_column(String(6))
    inscp: Mapped[int] = mapped_column(BigInteger)
    limit_amount: Mapped[int] = mapped_column(BigInteger)  # crt_payb_lmt_amt
    paid: Mapped[int] = mapped_column(BigInteger)  # fund_payamt
    note: Mapped[str] = mapped_column(Text)  # setl_proc_info


class FeeLineRow(Base):
    """An uploaded fee line (2204 / 2301 ``feedetail``) and its catalogue classification."""

    __tablename__ = "fee_lines"
    __table_args__ = (
        UniqueConstraint("mdtrt_id", "feedetl_sn", name="uq_fee_lines_mdtrt_id_feedetl_sn"),
        CheckConstraint(in_list("status", LINE_STATUSES), name="status"),
        CheckConstraint(
            "status <> 'settled' OR setl_id IS NOT NULL", name="settled_has_settlement"
        ),
        Index("ix_fee_lines_setl_id", "setl_id"),
    )

    row_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mdtrt_id: Mapped[str] = mapped_column(String(30), ForeignKey("visits.mdtrt_id"))
    feedetl_sn: Mapped[str] = mapped_column(String(30))
    psn_no: Mapped[str] = mapped_column(String(30))
    chrg_bchno: Mapped[str | None] = mapped_column(String(30))
    init_feedetl_sn: Mapped[str | None] = mapped_column(String(30))
    med_type: Mapped[str | None] = mapped_column(String(6))
    fee_ocur_time: Mapped[datetime] = mapped_column(DateTime)  # naive local
    med_list_codg: Mapped[str] = mapped_column(String(50))
    medins_list_codg: Mapped[str] = mapped_column(String(150))
    amount: Mapped[int] = mapped_column(BigInteger)  # fen
    quantity: Mapped[int] = mapped_column(BigInteger)  # ten-thousandths
    unit_price: Mapped[int] = mapped_column(BigInteger)  # micro-yuan
    hosp_appr_flag: Mapped[str] = mapped_column(String(3))
    dise_codg: Mapped[str | None] = mapped_column(String(30))
    rxno: Mapped[str | None] = mapped_column(String(30))
    drord_no: Mapped[str | None] = mapped_column(String(30))
    bilg_dept_codg: Mapped[str | None] = mapped_column(String(30))
    bilg_dept_name: Mapped[str | None] = mapped_column(String(100))
    bilg_dr_codg: Mapped[str | None] = mapped_column(String(30))
    bilg_dr_name: Mapped[str | None] = mapped_column(String(50))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON)
    # classification by the place of treatment's catalogue (2204/2301 result)
    fulamt_ownpay: Mapped[int] = mapped_column(BigInteger)
    overlmt: Mapped[int] = mapped_column(BigInteger)
    preselfpay: Mapped[int] = mapped_column(BigInteger)
    inscp: Mapped[int] = mapped_column(BigInteger)
    chrgitm_lv: Mapped[str] = mapped_column(String(3))
    med_chrgitm_type: Mapped[str] = mapped_column(String(6))
    selfpay_ratio: Mapped[int] = mapped_column(Integer)
    price_cap: Mapped[int | None] = mapped_column(BigInteger)
    restricted: Mapped[bool] = mapped_column(Boolean)
    essential: Mapped[bool] = mapped_column(Boolean)
    negotiated: Mapped[bool] = mapped_column(Boolean)
    special: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(10))
    setl_id: Mapped[str | None] = mapped_column(String(30), ForeignKey("settlements.setl_id"))
    msgid: Mapped[str] = mapped_column(String(40))
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class LedgerPostingRow(Base):
    """One balanced posting: a settlement, its cancellation, or the restoring of a
    cancelled settlement by a 2601 reversal of the cancellation."""

    __tablename__ = "ledger_postings"
    __table_args__ = (
        CheckConstraint(in_list("kind", POSTING_KINDS), name="kind"),
        Index("ix_ledger_postings_setl_id", "setl_id"),
    )

    posting_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    setl_id: Mapped[str] = mapped_column(String(30), ForeignKey("settlements.setl_id"))
    kind: Mapped[str] = mapped_column(String(10))
    posted_at: Mapped[datetime] = mapped_column(UtcDateTime)


class LedgerLegRow(Base):
    """One leg of a posting; the legs of a posting sum to zero.

    Accounts: ``fund:<insured_region>:<fund_pay_type>`` and ``account:<psn_no>`` (what
    paid) against ``payable:hospital:<fixmedins_code>`` for local care, or for
    cross-region care ``payable:region:<insured>><treatment>`` (place of insurance) and
    ``receivable:region:<insured>><treatment>`` / ``payable:hospital:<code>`` (place of
    treatment).
    """

    __tablename__ = "ledger_legs"
    __table_args__ = (
        Index("ix_ledger_legs_posting_id", "posting_id"),
        Index("ix_ledger_legs_account", "account"),
    )

    leg_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    posting_id: Mapped[int] = mapped_column(Integer, ForeignKey("ledger_postings.posting_id"))
    account: Mapped[str] = mapped_column(String(100))
    amount: Mapped[int] = mapped_column(BigInteger)


# --- hospital filings and clearing applications (0004) ----------------------------------

CLEARING_APPLICATION_STATUSES = ("applied", "cancelled", "cleared")
DESIGNATION_STATUSES = ("active", "cancelled")
CLEARING_OPEN = "open"  # open_key of an application in force


class ClearingApplicationRow(Base):
    """3203 清算申请: an institution's clearing application for a month and clr_type.

    Amounts are fen. ``open_key`` is ``"open"`` while the application is in force and its
    own id once cancelled, so the unique constraint allows one application in force per
    (institution, clr_type, setlym) on both databases.
    """

    __tablename__ = "clearing_applications"
    __table_args__ = (
        CheckConstraint(in_list("status", CLEARING_APPLICATION_STATUSES), name="status"),
        UniqueConstraint(
            "fixmedins_code",
            "clr_type",
            "setlym",
            "open_key",
            name="uq_clearing_applications_open_per_month",
        ),
    )

    clr_appy_evt_id: Mapped[str] = mapped_column(String(30), primary_key=True)
    fixmedins_code: Mapped[str] = mapped_column(
        String(30), ForeignKey("institutions.fixmedins_code")
    )
    clr_type: Mapped[str] = mapped_column(String(30))
    clr_way: Mapped[str] = mapped_column(String(30))
    setlym: Mapped[str] = mapped_column(String(6))
    clr_optins: Mapped[str] = mapped_column(String(6))
    begndate: Mapped[date] = mapped_column(Date)
    enddate: Mapped[date] = mapped_column(Date)
    psntime: Mapped[int] = mapped_column(Integer)
    medfee_sumamt: Mapped[int] = mapped_column(BigInteger)
    med_sumfee: Mapped[int] = mapped_column(BigInteger)
    fund_appy_sum: Mapped[int] = mapped_column(BigInteger)
    cash_payamt: Mapped[int] = mapped_column(BigInteger)
    acct_pay: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10))
    open_key: Mapped[str] = mapped_column(String(30))
    msgid: Mapped[str] = mapped_column(String(40))
    applied_at: Mapped[datetime] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class DesignationRow(Base):
    """2505 人员定点备案: a person's designated institution (定点), filed by a hospital."""

    __tablename__ = "designations"
    __table_args__ = (
        CheckConstraint(in_list("status", DESIGNATION_STATUSES), name="status"),
        Index("ix_designations_psn_no", "psn_no"),
    )

    trt_dcla_detl_sn: Mapped[str] = mapped_column(String(30), primary_key=True)
    psn_no: Mapped[str] = mapped_column(String(30), ForeignKey("persons.psn_no"))
    fixmedins_code: Mapped[str] = mapped_column(String(30))  # the designated institution
    fixmedins_name: Mapped[str] = mapped_column(String(200))
    filed_by: Mapped[str] = mapped_column(String(30), ForeignKey("institutions.fixmedins_code"))
    biz_appy_type: Mapped[str] = mapped_column(String(6))
    fix_srt_no: Mapped[str] = mapped_column(String(6))
    begndate: Mapped[date] = mapped_column(Date)
    enddate: Mapped[date | None] = mapped_column(Date)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)  # tel, addr, agnter_*, memo as sent
    status: Mapped[str] = mapped_column(String(10))
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    msgid: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ReferralRow(Base):
    """2501 转院备案: a referral filed by a hospital. A referral to a place outside the
    person's place of insurance also makes a TMP_REFERRAL filing (``filing_id``)."""

    __tablename__ = "referrals"
    __table_args__ = (
        CheckConstraint(in_list("status", DESIGNATION_STATUSES), name="status"),
        Index("ix_referrals_psn_no", "psn_no"),
    )

    trt_dcla_detl_sn: Mapped[str] = mapped_column(String(30), primary_key=True)
    psn_no: Mapped[str] = mapped_column(String(30), ForeignKey("persons.psn_no"))
    filing_id: Mapped[str | None] = mapped_column(String(40), ForeignKey("filings.filing_id"))
    filed_by: Mapped[str] = mapped_column(String(30), ForeignKey("institutions.fixmedins_code"))
    insutype: Mapped[str] = mapped_column(String(6))
    refl_type: Mapped[str] = mapped_column(String(3))
    reflin_medins_no: Mapped[str] = mapped_column(String(30))
    reflin_medins_name: Mapped[str] = mapped_column(String(200))
    destination: Mapped[str] = mapped_column(String(6))  # mdtrtarea_admdvs
    diag_code: Mapped[str] = mapped_column(String(20))
    diag_name: Mapped[str] = mapped_column(String(100))
    refl_date: Mapped[date] = mapped_column(Date)
    begndate: Mapped[date] = mapped_column(Date)
    enddate: Mapped[date | None] = mapped_column(Date)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)  # the other fields as sent
    status: Mapped[str] = mapped_column(String(10))
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    msgid: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


# --- clearing (0005): reconciliation between regions, clearing runs and their results,
# prepayment (预付金) quotas / events / warnings, and the clearing journal. The zero-sum
# guards of both journals (ledger_legs, clearing_legs) are triggers created by 0005.

RECON_STATES = ("proposed", "confirmed", "disputed", "withdrawn")
RUN_SCOPES = ("all", "funds", "mutual_aid")
CLEARING_CYCLES = ("daily", "monthly", "quarterly", "annual")
PREPAY_LEVELS = ("national", "provincial")
PREPAY_EVENTS = ("issue", "adjust", "topup")
JOURNAL_KINDS = ("clear", "prepay", "settle", "pay")
WARNING_LEVELS = ("none", "yellow", "red")


class ReconBatchRow(Base):
    """One proposal (3260-like) of a place of treatment's cross-region settlements."""

    __tablename__ = "recon_batches"

    batch_id: Mapped[str] = mapped_column(String(60), primary_key=True)
    treatment_scope: Mapped[str] = mapped_column(String(6))  # region, province or 000000
    period_label: Mapped[str] = mapped_column(String(12))
    start_day: Mapped[int] = mapped_column(Integer)
    end_day: Mapped[int] = mapped_column(Integer)
    proposed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    item_count: Mapped[int] = mapped_column(Integer)
    carried_count: Mapped[int] = mapped_column(Integer)


class ClearingItemRow(Base):
    """The reconciliation state of one cross-region settlement (3261-like ``cnfm_flag``).

    ``cleared_run_id`` / ``mulaid_run_id``: the run that cleared its fund lines / its
    mutual-aid line (共济 is cleared monthly even when the other funds are not).
    """

    __tablename__ = "clearing_items"
    __table_args__ = (
        CheckConstraint(in_list("state", RECON_STATES), name="state"),
        Index("ix_clearing_items_state", "state", "cleared_run_id"),
        Index("ix_clearing_items_batch_id", "batch_id"),
        Index("ix_clearing_items_insured_region", "insured_region"),
    )

    setl_id: Mapped[str] = mapped_column(String(30), primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(60), ForeignKey("recon_batches.batch_id"))
    treatment_region: Mapped[str] = mapped_column(String(6))
    insured_region: Mapped[str] = mapped_column(String(6))
    fixmedins_code: Mapped[str] = mapped_column(String(30))
    setl_day: Mapped[int] = mapped_column(Integer)
    refd_setl_flag: Mapped[bool] = mapped_column(Boolean)
    medfee: Mapped[int] = mapped_column(BigInteger)  # as proposed
    fund: Mapped[int] = mapped_column(BigInteger)
    acct: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(10))
    state_day: Mapped[int] = mapped_column(Integer)
    dispute_reason: Mapped[str | None] = mapped_column(Text)
    cleared_run_id: Mapped[str | None] = mapped_column(String(60))
    mulaid_run_id: Mapped[str | None] = mapped_column(String(60))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ClearingRunRow(Base):
    """A clearing run: (cycle, period, scope) is unique, so a rerun changes nothing."""

    __tablename__ = "clearing_runs"
    __table_args__ = (
        UniqueConstraint("cycle", "period_label", "scope", name="uq_clearing_runs_cycle"),
        CheckConstraint(in_list("cycle", CLEARING_CYCLES), name="cycle"),
        CheckConstraint(in_list("scope", RUN_SCOPES), name="scope"),
    )

    run_id: Mapped[str] = mapped_column(String(60), primary_key=True)
    cycle: Mapped[str] = mapped_column(String(10))
    period_label: Mapped[str] = mapped_column(String(12))
    scope: Mapped[str] = mapped_column(String(12))
    start_day: Mapped[int] = mapped_column(Integer)
    end_day: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[date] = mapped_column(Date)
    applied_on: Mapped[date] = mapped_column(Date)  # hospitals' clearing application
    due_on: Mapped[date] = mapped_column(Date)  # hospitals paid by
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    line_count: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    abs_fen: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RunMatrixRow(Base):
    """The gross matrix of a run (清分明细)."""

    __tablename__ = "clearing_run_matrix"

    run_id: Mapped[str] = mapped_column(
        String(60), ForeignKey("clearing_runs.run_id"), primary_key=True
    )
    insured_region: Mapped[str] = mapped_column(String(6), primary_key=True)
    treatment_region: Mapped[str] = mapped_column(String(6), primary_key=True)
    insutype: Mapped[str] = mapped_column(String(6), primary_key=True)
    fund_line: Mapped[str] = mapped_column(String(20), primary_key=True)
    insured_province: Mapped[str] = mapped_column(String(6))
    treatment_province: Mapped[str] = mapped_column(String(6))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    line_count: Mapped[int] = mapped_column(BigInteger)


class RunProvinceRow(Base):
    """The national clear-split: one net position per province."""

    __tablename__ = "clearing_run_provinces"

    run_id: Mapped[str] = mapped_column(
        String(60), ForeignKey("clearing_runs.run_id"), primary_key=True
    )
    province: Mapped[str] = mapped_column(String(6), primary_key=True)
    payable: Mapped[int] = mapped_column(BigInteger)
    receivable: Mapped[int] = mapped_column(BigInteger)
    net: Mapped[int] = mapped_column(BigInteger)


class RunRegionRow(Base):
    """The provincial tier: each pooling region's position."""

    __tablename__ = "clearing_run_regions"

    run_id: Mapped[str] = mapped_column(
        String(60), ForeignKey("clearing_runs.run_id"), primary_key=True
    )
    region: Mapped[str] = mapped_column(String(6), primary_key=True)
    province: Mapped[str] = mapped_column(String(6))
    inter_payable: Mapped[int] = mapped_column(BigInteger)
    inter_receivable: Mapped[int] = mapped_column(BigInteger)
    intra_payable: Mapped[int] = mapped_column(BigInteger)
    intra_receivable: Mapped[int] = mapped_column(BigInteger)
    inter_net: Mapped[int] = mapped_column(BigInteger)
    intra_net: Mapped[int] = mapped_column(BigInteger)
    net: Mapped[int] = mapped_column(BigInteger)


class RunHospitalRow(Base):
    """What the place of treatment pays each hospital, by category and fund line."""

    __tablename__ = "clearing_run_hospitals"

    run_id: Mapped[str] = mapped_column(
        String(60), ForeignKey("clearing_runs.run_id"), primary_key=True
    )
    fixmedins_code: Mapped[str] = mapped_column(String(30), primary_key=True)
    insutype: Mapped[str] = mapped_column(String(6), primary_key=True)
    clr_type: Mapped[str] = mapped_column(String(6), primary_key=True)
    fund_line: Mapped[str] = mapped_column(String(20), primary_key=True)
    treatment_region: Mapped[str] = mapped_column(String(6))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    line_count: Mapped[int] = mapped_column(BigInteger)


class RunPaymentRow(Base):
    """One hospital's payment of a run: amount, due date and advance days (×100)."""

    __tablename__ = "clearing_run_payments"

    run_id: Mapped[str] = mapped_column(
        String(60), ForeignKey("clearing_runs.run_id"), primary_key=True
    )
    fixmedins_code: Mapped[str] = mapped_column(String(30), primary_key=True)
    treatment_region: Mapped[str] = mapped_column(String(6))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    settlements: Mapped[int] = mapped_column(BigInteger)
    applied_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    advance_days_x100: Mapped[int | None] = mapped_column(BigInteger)


class PrepayQuotaRow(Base):
    """The prepayment (预付金) a payer has placed with a payee for a year."""

    __tablename__ = "prepay_quotas"
    __table_args__ = (
        UniqueConstraint("year", "level", "payer", "payee", name="uq_prepay_quotas_year"),
        CheckConstraint(in_list("level", PREPAY_LEVELS), name="level"),
        CheckConstraint("amount_fen >= 0", name="amount"),
    )

    quota_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    year: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(10))
    payer: Mapped[str] = mapped_column(String(6))
    payee: Mapped[str] = mapped_column(String(6))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    basis: Mapped[str] = mapped_column(String(20))
    months: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PrepayEventRow(Base):
    """Append-only history of a quota: issue, adjust, emergency top-up."""

    __tablename__ = "prepay_events"
    __table_args__ = (CheckConstraint(in_list("kind", PREPAY_EVENTS), name="kind"),)

    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    quota_id: Mapped[int] = mapped_column(Integer, ForeignKey("prepay_quotas.quota_id"))
    kind: Mapped[str] = mapped_column(String(10))
    delta_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    posting_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class PrepayWarningRow(Base):
    """A usage assessment of a pair for a month (kept for none, yellow and red)."""

    __tablename__ = "prepay_warnings"
    __table_args__ = (
        UniqueConstraint("level", "payer", "payee", "month", name="uq_prepay_warnings_level"),
        CheckConstraint(in_list("warning", WARNING_LEVELS), name="warning"),
    )

    warning_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    level: Mapped[str] = mapped_column(String(10))
    payer: Mapped[str] = mapped_column(String(6))
    payee: Mapped[str] = mapped_column(String(6))
    month: Mapped[str] = mapped_column(String(7))
    cleared_fen: Mapped[int] = mapped_column(BigInteger)
    quota_fen: Mapped[int] = mapped_column(BigInteger)
    rate: Mapped[int | None] = mapped_column(Integer)  # ten-thousandths
    warning: Mapped[str] = mapped_column(String(6))
    topup_fen: Mapped[int] = mapped_column(BigInteger)
    topup_due: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ClearingPostingRow(Base):
    """The clearing journal: postings of clearing runs and prepayments (same accounts as
    the settlement journal ``ledger_postings``; both are guarded to sum to zero)."""

    __tablename__ = "clearing_postings"
    __table_args__ = (CheckConstraint(in_list("kind", JOURNAL_KINDS), name="kind"),)

    posting_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(10))
    ref: Mapped[str] = mapped_column(String(80))
    memo: Mapped[str] = mapped_column(Text)
    closed: Mapped[bool] = mapped_column(Boolean)
    posted_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ClearingLegRow(Base):
    __tablename__ = "clearing_legs"
    __table_args__ = (
        Index("ix_clearing_legs_posting_id", "posting_id"),
        Index("ix_clearing_legs_account", "account"),
    )

    leg_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    posting_id: Mapped[int] = mapped_column(Integer, ForeignKey("clearing_postings.posting_id"))
    account: Mapped[str] = mapped_column(String(100))
    amount: Mapped[int] = mapped_column(BigInteger)


# --- agency API tokens and the demo seed (0006) ------------------------------------------

AGENCY_ROLES = ("insured_place", "treatment_place", "province", "nation")


class AgencyTokenRow(Base):
    """A bearer token of the agency API: who holds it, its role and its region scope.
    Only the SHA-256 of the token is stored."""

    __tablename__ = "agency_tokens"
    __table_args__ = (
        CheckConstraint(in_list("role", AGENCY_ROLES), name="role"),
        CheckConstraint("role = 'nation' OR region IS NOT NULL", name="region_scope"),
        Index("ix_agency_tokens_region", "region"),
    )

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 hex
    role: Mapped[str] = mapped_column(String(20))
    region: Mapped[str | None] = mapped_column(String(6))  # pooling region or XX0000
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DemoSeedRegionRow(Base):
    """A pooling region written by ``medroam seed --demo``, with its seed."""

    __tablename__ = "demo_seed_regions"

    region: Mapped[str] = mapped_column(String(6), primary_key=True)
    seed: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[date] = mapped_column(Date)
    persons: Mapped[int] = mapped_column(Integer)  # persons per region
    generator_version: Mapped[int] = mapped_column(Integer)
    seeded_at: Mapped[datetime] = mapped_column(UtcDateTime)


# --- settlement lists (0007): 4101 uploads, their QC findings (4104) and DRG group --------

QC_STATUSES = ("passed", "warning", "failed")
LIST_GROUP_STATUSES = ("grouped", "ambiguous", "ungroupable", "check_failed")


class SettlementListRow(Base):
    """One 医保基金结算清单 per settlement (re-uploads replace it, keeping the id).

    ``document``: ``{"list": …, "nodes": …}`` — the list as QC and the grouper read it
    (``store.settlement_lists.list_to_dict``) and the other 4101 nodes as sent (amounts in
    fen). ``findings``: the QC findings. Grouped exactly when ``qc_status`` is not
    ``failed``; ``group_detail`` keeps the severity, trace and problems.
    """

    __tablename__ = "settlement_lists"
    __table_args__ = (
        UniqueConstraint("setl_id", name="uq_settlement_lists_setl_id"),
        CheckConstraint(in_list("qc_status", QC_STATUSES), name="qc_status"),
        CheckConstraint(
            f"group_status IS NULL OR {in_list('group_status', LIST_GROUP_STATUSES)}",
            name="group_status",
        ),
        CheckConstraint(
            "(qc_status = 'failed' AND group_status IS NULL) OR "
            "(qc_status <> 'failed' AND group_status IS NOT NULL)",
            name="grouped_unless_failed",
        ),
        CheckConstraint("qc_errors >= 0 AND qc_warnings >= 0 AND uploads >= 1", name="counts"),
        Index("ix_settlement_lists_mdtrt_id", "mdtrt_id"),
        Index("ix_settlement_lists_fixmedins_code_uploaded_at", "fixmedins_code", "uploaded_at"),
    )

    setl_list_id: Mapped[str] = mapped_column(String(30), primary_key=True)
    mdtrt_id: Mapped[str] = mapped_column(String(30), ForeignKey("visits.mdtrt_id"))
    setl_id: Mapped[str] = mapped_column(String(30), ForeignKey("settlements.setl_id"))
    fixmedins_code: Mapped[str] = mapped_column(
        String(30), ForeignKey("institutions.fixmedins_code")
    )
    insuplc: Mapped[str] = mapped_column(String(6))
    treatment_region: Mapped[str] = mapped_column(String(6))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    qc_status: Mapped[str] = mapped_column(String(10))
    qc_errors: Mapped[int] = mapped_column(Integer)
    qc_warnings: Mapped[int] = mapped_column(Integer)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    scheme: Mapped[str] = mapped_column(String(60))  # the grouping scheme's label
    group_status: Mapped[str | None] = mapped_column(String(12))
    mdc: Mapped[str | None] = mapped_column(String(8))
    adrg: Mapped[str | None] = mapped_column(String(8))
    drg: Mapped[str | None] = mapped_column(String(8))
    group_detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    uploads: Mapped[int] = mapped_column(Integer)
    msgid: Mapped[str] = mapped_column(String(40))  # of the last 4101
    first_uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime)


# Tables kept in their own modules, on the same metadata (imported last: they import Base).
from medroam.store import audit_feedback_tables as _audit_feedback_tables  # noqa: E402,F401
from medroam.store import audit_score_tables as _audit_score_tables  # noqa: E402,F401
from medroam.store import audit_tables as _audit_tables  # noqa: E402,F401
from medroam.store import case_tables as _case_tables  # noqa: E402,F401
from medroam.store import console_more_tables as _console_more_tables  # noqa: E402,F401
from medroam.store import console_tables as _console_tables  # noqa: E402,F401  (registers them)
from medroam.store import filing_document_tables as _filing_document_tables  # noqa: E402,F401
from medroam.store import mutual_aid_tables as _mutual_aid_tables  # noqa: E402,F401
from medroam.store import sim_truth_tables as _sim_truth_tables  # noqa: E402,F401
