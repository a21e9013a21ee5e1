"""Repositories of the place of treatment: visits, diagnoses, fee lines, settlements,
the ledger, the message log and the clearing state of a settlement. Rows ↔ domain
values; never a commit.

Every lookup of a visit or settlement takes the institution code: an institution sees
only its own records, and another institution's id is indistinguishable from an unknown
one.
"""

from __future__ import annotations

import secrets
from collections import namedtuple
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeAlias

from sqlalchemy import Table, and_, bindparam, func, insert, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from medroam.domain.catalogue import FeeLine, LineResult
from medroam.domain.codes import BenefitStatus, ServiceKind
from medroam.domain.settlement import FundDetail, Settlement
from medroam.store.fastsql import FastQuery
from medroam.store.jsonparams import dumps
from medroam.store.tables import (
    ClearingItemRow,
    ClearingRunRow,
    DiagnosisRow,
    FeeLineRow,
    InsuranceRow,
    LedgerLegRow,
    LedgerPostingRow,
    MessageLogRow,
    ReconBatchRow,
    SettlementDetailRow,
    SettlementRow,
    VisitRow,
)
from medroam.store.upsert import insert_new, table_of

_VISITS = table_of(VisitRow)
# The predicate of uq_visits_open_serial, as a literal: PostgreSQL infers the partial
# index of an ON CONFLICT only from the same predicate, not from a bound parameter.
_OPEN_VISIT = text("status <> 'cancelled'")
_FEE_LINES = table_of(FeeLineRow)
_SETTLEMENTS = table_of(SettlementRow)
_SETTLEMENT_DETAILS = table_of(SettlementDetailRow)
# Statements built once: parameters go to execute(), so a call builds no SQL objects.
_INSERTS: dict[tuple[str, tuple[str, ...]], FastQuery] = {}


def _insert_values(table: Table, columns: tuple[str, ...]) -> FastQuery:
    """``INSERT INTO table (columns) VALUES (…)``, typed by the table, built once."""
    query = _INSERTS.get((table.name, columns))
    if query is None:
        values = {c: bindparam(c, type_=table.c[c].type) for c in columns}
        query = _INSERTS[(table.name, columns)] = FastQuery(insert(table).values(values))
    return query


_INSERT_DETAILS = _insert_values(
    _SETTLEMENT_DETAILS,
    ("setl_id", "seq", "fund_pay_type", "inscp", "limit_amount", "paid", "note"),
)
_POSTINGS = table_of(LedgerPostingRow)
_INSERT_POSTING = FastQuery(
    insert(_POSTINGS)
    .values(setl_id=bindparam("setl_id"), kind=bindparam("kind"), posted_at=bindparam("posted_at"))
    .returning(_POSTINGS.c.posting_id)
)
_INSERT_LEGS = _insert_values(table_of(LedgerLegRow), ("posting_id", "account", "amount"))


def values_of(row: Any, table: Table) -> dict[str, Any]:
    """The column values of a transient mapped object, for a Core insert (an attribute
    never set is NULL, as the ORM would write it: no column here has a default)."""
    state = row.__dict__
    return {c.key: state.get(c.key) for c in table.columns if c.key in state or not c.primary_key}


class UnbalancedPostingError(AssertionError):
    """A ledger posting whose legs do not sum to zero (a bug, never a user error)."""


def new_id(prefix: str, region: str, now: datetime) -> str:
    """A 30-character id: prefix (2) + region (6) + UTC yyyyMMddHHmmss (14) + 8 hex."""
    stamp = now.astimezone(UTC).strftime("%Y%m%d%H%M%S")
    return f"{prefix[:2]}{region[:6]}{stamp}{secrets.token_hex(4).upper()}"


# --- visits ---------------------------------------------------------------------------------


# Hot-path queries built once, parameters given to execute() (building a statement per
# call cost more CPU than the database spends answering it).
_VISIT = (
    select(VisitRow)
    .where(VisitRow.mdtrt_id == bindparam("mdtrt_id"), VisitRow.fixmedins_code == bindparam("code"))
    .execution_options(populate_existing=True)
)
_VISIT_LOCKED = _VISIT.with_for_update()
_VISIT_SETTLED = FastQuery(
    update(_VISITS)
    .where(_VISITS.c.mdtrt_id == bindparam("mdtrt_id"))
    .values(
        updated_at=bindparam("updated_at", type_=_VISITS.c.updated_at.type),
        status=func.coalesce(bindparam("status", type_=_VISITS.c.status.type), _VISITS.c.status),
    )
)
# What a fee upload needs of its visit (locked) and whether it has lines yet: most
# uploads are a visit's first, and then nothing else need be read.
_UPLOAD_HEAD = FastQuery(
    select(
        _VISITS.c.mdtrt_id,
        _VISITS.c.psn_no,
        _VISITS.c.kind,
        _VISITS.c.status,
        select(func.count())
        .where(_FEE_LINES.c.mdtrt_id == _VISITS.c.mdtrt_id)
        .scalar_subquery()
        .label("lines"),
    )
    .where(
        _VISITS.c.mdtrt_id == bindparam("mdtrt_id"), _VISITS.c.fixmedins_code == bindparam("code")
    )
    .with_for_update(of=_VISITS)
)
# only a line still unsettled: one that another request settled while this one waited for
# the visit's lock is not settled again (the caller compares the count)
_SETTLE_LINE = FastQuery(
    update(_FEE_LINES)
    .where(_FEE_LINES.c.row_id == bindparam("row_id"), _FEE_LINES.c.status == "uploaded")
    .values(status="settled", setl_id=bindparam("setl_id"))
)
_FEE_LINE_COLUMNS = ", ".join(c.name for c in _FEE_LINES.columns if not c.primary_key)
# PostgreSQL: a visit's new lines in one prepared statement, whatever their number (a
# multi-row VALUES is a new statement text per row count; an executemany, one per row).
# A serial already stored is skipped and the count says so: a concurrent upload of the
# same visit may have written it while this one waited for the visit's lock (the lock
# returns the visit's newest row, but its count of lines as first read).
_INSERT_FEE_LINES_JSON = FastQuery(
    text(
        f"WITH i AS (INSERT INTO fee_lines ({_FEE_LINE_COLUMNS}) SELECT {_FEE_LINE_COLUMNS} "
        "FROM jsonb_populate_recordset(NULL::fee_lines, CAST(:rows AS JSONB)) "
        "ON CONFLICT (mdtrt_id, feedetl_sn) DO NOTHING RETURNING 1) SELECT count(*) FROM i"
    )
)
_FEE_LINE_INSERTS: dict[tuple[str, ...], FastQuery] = {}


def _insert_fee_lines_sqlite(columns: tuple[str, ...]) -> FastQuery:
    """SQLite: the same skip of a serial already stored, for one set of columns."""
    query = _FEE_LINE_INSERTS.get(columns)
    if query is None:
        values = {c: bindparam(c, type_=_FEE_LINES.c[c].type) for c in columns}
        stmt = sqlite_insert(_FEE_LINES).values(values)
        stmt = stmt.on_conflict_do_nothing(index_elements=["mdtrt_id", "feedetl_sn"])
        query = _FEE_LINE_INSERTS[columns] = FastQuery(stmt)
    return query


_LINES_OF_VISIT = select(FeeLineRow).where(FeeLineRow.mdtrt_id == bindparam("mdtrt_id"))

# (one batch?, lock the visit?, lock the insurance?) → the query, built on first use.
_VISIT_AND_LINES: dict[tuple[bool, bool, bool], FastQuery] = {}
# A visit and a fee line read as plain named tuples (attribute names = the ORM's).
VisitRecord = namedtuple("VisitRecord", [c.key for c in _VISITS.columns])  # type: ignore[misc]
LineRecord = namedtuple("LineRecord", [c.key for c in _FEE_LINES.columns])  # type: ignore[misc]
_VISIT_WIDTH = len(_VISITS.columns)
# A visit or fee line as read by the settlement: an ORM row or a record above, with the
# same attribute names (read by attribute only; the namedtuples are untyped to mypy).
VisitLike: TypeAlias = Any
LineLike: TypeAlias = Any


def _visit_and_lines_query(batch: bool, lock: bool, lock_insurance: bool) -> FastQuery:
    key = (batch, lock, lock_insurance)
    query = _VISIT_AND_LINES.get(key)
    if query is not None:
        return query
    v, f = _VISITS, _FEE_LINES
    on_line = and_(f.c.mdtrt_id == v.c.mdtrt_id, f.c.status == "uploaded")
    if batch:
        on_line = and_(on_line, f.c.chrg_bchno == bindparam("batch"))
    stmt = select(*v.columns, *f.columns).select_from(v.outerjoin(f, on_line))
    if lock_insurance:
        ins = table_of(InsuranceRow)
        stmt = stmt.join(
            ins, and_(ins.c.psn_no == v.c.psn_no, ins.c.insutype == v.c.insutype)
        ).with_for_update(of=[v, ins])
    elif lock:
        stmt = stmt.with_for_update(of=v)
    stmt = stmt.where(
        v.c.mdtrt_id == bindparam("mdtrt_id"), v.c.fixmedins_code == bindparam("code")
    ).order_by(f.c.row_id)
    query = _VISIT_AND_LINES[key] = FastQuery(stmt)
    return query


class VisitRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: VisitRow) -> None:
        self.session.add(row)
        self.session.flush()

    def open(self, row: VisitRow) -> bool:
        """Insert a new visit (a transient object, kept out of the session) unless its
        serial (``ipt_otp_no``) is already open at the institution for the same kind;
        False when it is. One statement whose unique key (``uq_visits_open_serial``)
        decides between concurrent openings: the second waits for the first and finds
        the serial taken."""
        opened = insert_new(
            self.session,
            _VISITS,
            values_of(row, _VISITS),
            ("fixmedins_code", "kind", "ipt_otp_no"),
            _VISITS.c.mdtrt_id,
            where=_OPEN_VISIT,
        )
        return opened is not None

    def get(self, fixmedins_code: str, mdtrt_id: str, *, lock: bool = False) -> VisitRow | None:
        stmt = _VISIT_LOCKED if lock else _VISIT
        params = {"code": fixmedins_code, "mdtrt_id": mdtrt_id}
        return self.session.execute(stmt, params).scalar_one_or_none()

    def head_for_upload(self, fixmedins_code: str, mdtrt_id: str) -> Any | None:
        """The visit's ``mdtrt_id, psn_no, kind, status`` and its number of stored fee
        ``lines`` (a named tuple), the visit row locked; None when unknown here."""
        return _UPLOAD_HEAD.first(self.session, {"code": fixmedins_code, "mdtrt_id": mdtrt_id})

    def with_unsettled_lines(
        self,
        fixmedins_code: str,
        mdtrt_id: str,
        chrg_bchno: str | None = None,
        *,
        lock: bool = False,
    ) -> tuple[Any | None, list[Any], bool]:
        """The visit (a :data:`VisitRecord`) with its unsettled lines (
        :data:`LineRecord`, of one batch or all) in one query, and whether its person's
        insurance row was locked with it. Plain tuples, not ORM entities: a settlement
        only reads them, and writes with Core statements (``store.settlement_write``).

        With ``lock`` the visit row is locked and, on PostgreSQL, the person's
        ``insurances`` row of the visit's insutype too (``FOR UPDATE OF`` both): the
        lock a settlement takes before reading the accumulators
        (``SqlInsuredPlace.lock_benefit_state``), taken here one round trip earlier.
        A visit whose insurance row is gone is read again alone (locked), and the
        third value says the insurance was not locked."""
        both = lock and self.session.get_bind().dialect.name == "postgresql"
        rows = self._visit_and_lines(fixmedins_code, mdtrt_id, chrg_bchno, lock, both)
        if not rows and both:  # no visit, or no insurance row of the visit's insutype
            rows = self._visit_and_lines(fixmedins_code, mdtrt_id, chrg_bchno, lock, False)
            both = False
        if not rows:
            return None, [], False
        w = _VISIT_WIDTH
        visit = VisitRecord._make(rows[0][:w])
        lines = [LineRecord._make(r[w:]) for r in rows if r[w] is not None]
        return visit, lines, both

    def _visit_and_lines(
        self,
        fixmedins_code: str,
        mdtrt_id: str,
        chrg_bchno: str | None,
        lock: bool,
        lock_insurance: bool,
    ) -> list[tuple[Any, ...]]:
        query = _visit_and_lines_query(chrg_bchno is not None, lock, lock_insurance)
        params = {"code": fixmedins_code, "mdtrt_id": mdtrt_id, "batch": chrg_bchno}
        return query.tuples(self.session, params)

    def settled(self, mdtrt_id: str, updated_at: datetime, status: str | None) -> None:
        """A settlement's change to its visit: ``updated_at``, and ``status`` unless
        None; one UPDATE."""
        _VISIT_SETTLED.execute(
            self.session, {"mdtrt_id": mdtrt_id, "updated_at": updated_at, "status": status}
        )

    def by_msgid(self, fixmedins_code: str, msgid: str) -> VisitRow | None:
        return self.session.execute(
            select(VisitRow)
            .where(VisitRow.fixmedins_code == fixmedins_code, VisitRow.msgid == msgid)
            .limit(1)
        ).scalar_one_or_none()

    def upsert_diagnoses(self, mdtrt_id: str, stage: str, rows: Iterable[DiagnosisRow]) -> None:
        """Add diagnoses; one already stored with the same type, code and stage is
        updated instead (a diagnosis is voided by sending it again with vali_flag 0)."""
        existing = {
            (d.diag_type, d.diag_code): d
            for d in self.session.execute(
                select(DiagnosisRow).where(
                    DiagnosisRow.mdtrt_id == mdtrt_id, DiagnosisRow.stage == stage
                )
            ).scalars()
        }
        for row in rows:
            old = existing.get((row.diag_type, row.diag_code))
            if old is None:
                row.mdtrt_id = mdtrt_id
                row.stage = stage
                self.session.add(row)
                existing[(row.diag_type, row.diag_code)] = row
            else:
                for column in (
                    "diag_srt_no",
                    "diag_name",
                    "maindiag_flag",
                    "diag_dept",
                    "dise_dor_no",
                    "dise_dor_name",
                    "diag_time",
                    "adm_cond",
                    "valid",
                ):
                    setattr(old, column, getattr(row, column))
        self.session.flush()

    def diagnoses(self, mdtrt_id: str) -> list[DiagnosisRow]:
        return list(
            self.session.execute(
                select(DiagnosisRow)
                .where(DiagnosisRow.mdtrt_id == mdtrt_id)
                .order_by(DiagnosisRow.stage, DiagnosisRow.diag_srt_no)
            ).scalars()
        )


# --- fee lines ------------------------------------------------------------------------------


def fee_line(row: LineLike) -> FeeLine:
    return FeeLine(
        line_id=row.feedetl_sn,
        list_code=row.med_list_codg,
        amount=row.amount,
        quantity=row.quantity,
        unit_price=row.unit_price,
        hosp_approval=row.hosp_appr_flag,
        hospital_code=row.medins_list_codg,
        refund_of=row.init_feedetl_sn,
    )


def line_result(row: FeeLineRow) -> LineResult:
    return LineResult(
        row.feedetl_sn,
        row.amount,
        row.quantity,
        row.unit_price,
        row.price_cap,
        row.selfpay_ratio,
        row.fulamt_ownpay,
        row.overlmt,
        row.preselfpay,
        row.inscp,
        row.chrgitm_lv,
        row.med_chrgitm_type,
        row.restricted,
        row.essential,
        row.negotiated,
        row.special,
        row.reason,
    )


def classified_values(r: LineResult) -> dict[str, Any]:
    """A line's catalogue classification as its row's column values."""
    return {
        "fulamt_ownpay": r.fulamt_ownpay,
        "overlmt": r.overlmt,
        "preselfpay": r.preselfpay,
        "inscp": r.inscp,
        "chrgitm_lv": r.level,
        "med_chrgitm_type": r.charge_type,
        "selfpay_ratio": r.selfpay_ratio,
        "price_cap": r.price_cap,
        "restricted": r.restricted,
        "essential": r.essential,
        "negotiated": r.negotiated,
        "special": r.special,
        "reason": r.reason,
    }


class FeeLineRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def by_serial(self, mdtrt_id: str) -> dict[str, FeeLineRow]:
        rows = self.session.execute(_LINES_OF_VISIT, {"mdtrt_id": mdtrt_id}).scalars()
        return {row.feedetl_sn: row for row in rows}

    def add(self, row: FeeLineRow) -> None:
        self.session.add(row)

    def insert_new(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert new lines, given as column values (every non-key column: nothing here
        has a default), in one statement: no ORM objects, no keys read back. How many
        were inserted: fewer than given when a serial was stored meanwhile (PostgreSQL;
        SQLite's writers queue, so there it cannot happen)."""
        if not rows:
            return 0
        if self.session.get_bind().dialect.name == "postgresql":
            # fee_ocur_time is naive local time (its column is plain DateTime)
            doc = [{**r, "fee_ocur_time": r["fee_ocur_time"].isoformat()} for r in rows]
            ((inserted,),) = _INSERT_FEE_LINES_JSON.tuples(self.session, {"rows": dumps(doc)})
            return int(inserted)
        return _insert_fee_lines_sqlite(tuple(rows[0])).execute_many(self.session, rows)

    def settle_lines(self, row_ids: Sequence[int], setl_id: str) -> int:
        """Settle the lines still unsettled among ``row_ids`` (one executemany); how many
        were."""
        return _SETTLE_LINE.execute_many(
            self.session, [{"row_id": r, "setl_id": setl_id} for r in row_ids]
        )

    def unsettled(self, mdtrt_id: str, chrg_bchno: str | None = None) -> list[FeeLineRow]:
        stmt = select(FeeLineRow).where(
            FeeLineRow.mdtrt_id == mdtrt_id, FeeLineRow.status == "uploaded"
        )
        if chrg_bchno is not None:
            stmt = stmt.where(FeeLineRow.chrg_bchno == chrg_bchno)
        return list(self.session.execute(stmt.order_by(FeeLineRow.row_id)).scalars())

    def of_settlement(self, setl_id: str, status: str | None = None) -> list[FeeLineRow]:
        stmt = select(FeeLineRow).where(FeeLineRow.setl_id == setl_id)
        if status is not None:
            stmt = stmt.where(FeeLineRow.status == status)
        return list(self.session.execute(stmt.order_by(FeeLineRow.row_id)).scalars())

    def count(self, mdtrt_id: str, status: str) -> int:
        return self.session.execute(
            select(func.count())
            .select_from(FeeLineRow)
            .where(FeeLineRow.mdtrt_id == mdtrt_id, FeeLineRow.status == status)
        ).scalar_one()


# --- settlements ----------------------------------------------------------------------------

_AMOUNTS = (
    "medfee",
    "fulamt_ownpay",
    "overlmt_selfpay",
    "preselfpay",
    "inscp",
    "deductible",
    "pool",
    "civil_servant",
    "enterprise",
    "critical_illness",
    "large_expense",
    "assistance",
    "other",
    "fund_total",
    "personal",
    "account",
    "mutual_aid",
    "cash",
    "hospital",
    "balance_before",
    "balance_after",
    "mutual_aid_balance_after",
)


def amounts_of(s: Settlement) -> dict[str, int]:
    """The amount columns of a settlement row."""
    values = {name: getattr(s, name) for name in _AMOUNTS}
    values["pool_ratio"] = s.pool_ratio
    return values


def settlement_of(row: SettlementRow, details: Sequence[SettlementDetailRow]) -> Settlement:
    """The domain settlement a row records (without the lines and the trace)."""
    return Settlement(
        kind=ServiceKind(row.kind),
        status=BenefitStatus(row.benefit_status),
        medfee=row.medfee,
        fulamt_ownpay=row.fulamt_ownpay,
        overlmt_selfpay=row.overlmt_selfpay,
        preselfpay=row.preselfpay,
        inscp=row.inscp,
        deductible=row.deductible,
        pool=row.pool,
        pool_ratio=row.pool_ratio,
        civil_servant=row.civil_servant,
        enterprise=row.enterprise,
        critical_illness=row.critical_illness,
        large_expense=row.large_expense,
        assistance=row.assistance,
        other=row.other,
        fund_total=row.fund_total,
        personal=row.personal,
        account=row.account,
        mutual_aid=row.mutual_aid,
        cash=row.cash,
        hospital=row.hospital,
        balance_before=row.balance_before,
        balance_after=row.balance_after,
        mutual_aid_balance_after=row.mutual_aid_balance_after,
        details=tuple(
            FundDetail(d.fund_pay_type, d.inscp, d.limit_amount, d.paid, d.note)
            for d in sorted(details, key=lambda d: d.seq)
        ),
        lines=(),
        accumulator_delta=dict(row.accumulator_delta),
        trace=(),
        reversed_=row.refd_setl_flag,
    )


class SettlementRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: SettlementRow, details: Sequence[FundDetail]) -> None:
        """Insert a settlement row (a transient object, which stays out of the session)
        and its fund rows: two Core statements, no ORM flush."""
        self.add_values(values_of(row, _SETTLEMENTS), details)

    def add_values(self, row: Mapping[str, Any], details: Sequence[FundDetail]) -> None:
        """:meth:`add` from the row's column values (two fast statements)."""
        _insert_values(_SETTLEMENTS, tuple(row)).execute(self.session, row)
        _INSERT_DETAILS.execute_many(
            self.session,
            [
                {"setl_id": row["setl_id"], "seq": seq, "fund_pay_type": d.fund_pay_type,
                 "inscp": d.inscp, "limit_amount": d.limit, "paid": d.paid, "note": d.note}
                for seq, d in enumerate(details, start=1)
            ],
        )  # fmt: skip

    def get(self, fixmedins_code: str, setl_id: str, *, lock: bool = False) -> SettlementRow | None:
        stmt = select(SettlementRow).where(
            SettlementRow.setl_id == setl_id, SettlementRow.fixmedins_code == fixmedins_code
        )
        if lock:
            stmt = stmt.with_for_update()
        return self.session.execute(
            stmt.execution_options(populate_existing=True)
        ).scalar_one_or_none()

    def details(self, setl_id: str) -> list[SettlementDetailRow]:
        return list(
            self.session.execute(
                select(SettlementDetailRow)
                .where(SettlementDetailRow.setl_id == setl_id)
                .order_by(SettlementDetailRow.seq)
            ).scalars()
        )

    def of_visit(self, mdtrt_id: str) -> list[SettlementRow]:
        """Every settlement row of a visit (reverse records included), oldest first."""
        return list(
            self.session.execute(
                select(SettlementRow)
                .where(SettlementRow.mdtrt_id == mdtrt_id)
                .order_by(SettlementRow.setl_time, SettlementRow.setl_id)
                .execution_options(populate_existing=True)
            ).scalars()
        )

    def in_force(self, mdtrt_id: str) -> list[SettlementRow]:
        """The visit's settlements that stand (not cancelled, not reverse records)."""
        return [r for r in self.of_visit(mdtrt_id) if r.status == "valid" and not r.refd_setl_flag]

    def by_request(self, fixmedins_code: str, msgid: str, *, reverse: bool) -> SettlementRow | None:
        """The settlement (or reverse record) written by the request ``msgid``."""
        return self.session.execute(
            select(SettlementRow)
            .where(
                SettlementRow.fixmedins_code == fixmedins_code,
                SettlementRow.medins_setl_id == msgid,
                SettlementRow.refd_setl_flag == reverse,
            )
            .limit(1)
        ).scalar_one_or_none()

    def reverse_of(self, setl_id: str) -> SettlementRow | None:
        """The reverse record that stands against a settlement (voided ones excluded)."""
        return self.session.execute(
            select(SettlementRow)
            .where(SettlementRow.reverses_setl_id == setl_id, SettlementRow.status == "valid")
            .limit(1)
        ).scalar_one_or_none()


# --- ledger ---------------------------------------------------------------------------------


def check_balanced(setl_id: str, kind: str, legs: Sequence[tuple[str, int]]) -> None:
    """Refuse (as a bug) the legs of a posting that do not sum to zero."""
    total = sum(amount for _, amount in legs)
    if total != 0:
        raise UnbalancedPostingError(
            f"ledger posting of {setl_id} ({kind}) does not balance: legs sum to {total} "
            f"fen ({list(legs)})"
        )


class LedgerRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def post(self, setl_id: str, kind: str, legs: Sequence[tuple[str, int]], at: datetime) -> int:
        """Write one posting; refuses (as a bug) legs that do not sum to zero."""
        check_balanced(setl_id, kind, legs)
        (posting_id,) = _INSERT_POSTING.tuples(
            self.session, {"setl_id": setl_id, "kind": kind, "posted_at": at}
        )[0]
        rows = [
            {"posting_id": posting_id, "account": account, "amount": amount}
            for account, amount in legs
            if amount
        ]
        _INSERT_LEGS.execute_many(self.session, rows)
        return int(posting_id)

    def legs(self, setl_id: str) -> list[tuple[str, str, int]]:
        """(kind, account, amount) of every leg posted for a settlement row."""
        rows = self.session.execute(
            select(LedgerPostingRow.kind, LedgerLegRow.account, LedgerLegRow.amount)
            .join(LedgerLegRow, LedgerLegRow.posting_id == LedgerPostingRow.posting_id)
            .where(LedgerPostingRow.setl_id == setl_id)
            .order_by(LedgerLegRow.leg_id)
        ).all()
        return [(k, a, v) for k, a, v in rows]

    def balances(self, prefix: str = "") -> Mapping[str, int]:
        rows = self.session.execute(
            select(LedgerLegRow.account, func.sum(LedgerLegRow.amount))
            .where(LedgerLegRow.account.startswith(prefix))
            .group_by(LedgerLegRow.account)
        ).all()
        return {a: int(v) for a, v in rows}


# --- message log (read; the dispatcher writes it) ----------------------------------------------


class MessageLogRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def find(self, fixmedins_code: str, msgid: str) -> MessageLogRow | None:
        return self.session.execute(
            select(MessageLogRow)
            .where(MessageLogRow.fixmedins_code == fixmedins_code, MessageLogRow.msgid == msgid)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()

    def mark_reversed(self, row: MessageLogRow) -> None:
        row.reversed = True
        self.session.flush()


# --- clearing state of a settlement (read; services.clearing writes it) -------------------


@dataclass(frozen=True, slots=True)
class ConfirmedClearing:
    """A settlement the place of insurance has confirmed for clearing (3261-like)."""

    setl_id: str
    period: str  # the reconciliation period, e.g. 2026-11
    batch_id: str  # the reconciliation batch that proposed it
    run_id: str | None  # the clearing run that cleared it, if it has run
    run_period: str | None  # that run's cycle and period, e.g. "monthly 2026-11"


class ClearingItemRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def confirmed(self, setl_id: str) -> ConfirmedClearing | None:
        """The confirmed clearing ``setl_id`` is part of, or None (not proposed, only
        proposed, disputed or withdrawn). The item row is locked (PostgreSQL), so a
        confirmation cannot slip in before the caller's transaction ends."""
        item = self.session.execute(
            select(ClearingItemRow)
            .where(ClearingItemRow.setl_id == setl_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if item is None or item.state != "confirmed":
            return None
        batch = self.session.get(ReconBatchRow, item.batch_id)
        run_id = item.cleared_run_id or item.mulaid_run_id
        run = None if run_id is None else self.session.get(ClearingRunRow, run_id)
        return ConfirmedClearing(
            setl_id=setl_id,
            period=batch.period_label if batch is not None else "",
            batch_id=item.batch_id,
            run_id=run_id,
            run_period=None if run is None else f"{run.cycle} {run.period_label}",
        )
