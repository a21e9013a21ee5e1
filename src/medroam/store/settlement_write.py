"""Recording a settlement: every row it writes, in one statement on PostgreSQL.

A settlement (2207 / 2304) writes eight things: the settlement row, its fund rows, the
settled fee lines, the person's accumulators, the account, a ledger posting with its
legs, and the visit's ``updated_at`` (and, for a final inpatient settlement, its status).
On PostgreSQL they go as **one statement** of data-modifying CTEs: one round trip
instead of eight. Its parameters are a few JSON documents, so the statement text is the
same for every settlement (psycopg caches its conversion and prepares it on the server)
and the rows are typed by the tables themselves (``jsonb_populate_record``). The foreign
keys of the fund rows, lines and posting are checked at the end of the statement, when
the settlement row is there.

Elsewhere (SQLite, where a statement costs no round trip and data-modifying CTEs do not
exist) the same writes go one statement each, through the repositories.

The visit and lines come in as plain records (``VisitRepository.with_unsettled_lines``);
an ORM object of them already loaded in the session is left as if read after the
write, so nothing stale is left for a flush.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from medroam.domain.settlement import AccountState, FundDetail
from medroam.services.ports import InsuredPlace
from medroam.store.fastsql import FastQuery
from medroam.store.insured_place import SqlInsuredPlace, is_local
from medroam.store.jsonparams import dumps
from medroam.store.repositories import (
    FeeLineRepository,
    LedgerRepository,
    SettlementRepository,
    VisitRepository,
    check_balanced,
)
from medroam.store.tables import FeeLineRow, VisitRow, naive_utc


@dataclass(frozen=True, slots=True)
class BenefitChange:
    """What the settlement adds to the person's year (accumulators) and takes from the
    account (negative balances: paid out)."""

    psn_no: str
    insutype: str
    year: int
    delta: Mapping[str, int]
    account: AccountState


@dataclass(frozen=True, slots=True)
class SettlementWrite:
    row: Mapping[str, Any]  # the settlements columns
    details: Sequence[FundDetail]
    lines: Sequence[Any]  # read, unsettled (``row_id``): settled under row's setl_id
    benefit: BenefitChange
    legs: Sequence[tuple[str, int]]  # ledger legs of the "settle" posting (balanced)
    visit: Any  # read and locked (``mdtrt_id``, ``updated_at``)
    visit_status: str | None  # a new status for the visit, or None to keep it
    now: datetime


class LinesSettledMeanwhileError(Exception):
    """Fewer of the visit's lines were still unsettled than the settlement read: another
    request settled them while this one waited for the visit's lock (on PostgreSQL the
    lock returns the visit's newest row, but the lines joined to it as first read). The
    caller refuses and rolls back: nothing of this settlement stays."""

    def __init__(self, mdtrt_id: str, settled: int, read: int) -> None:
        super().__init__(f"{mdtrt_id}: {settled} of {read} fee lines still unsettled")
        self.mdtrt_id, self.settled, self.read = mdtrt_id, settled, read


def record_settlement(session: Session, place: InsuredPlace, w: SettlementWrite) -> None:
    """Write everything ``w`` names, in the caller's transaction (module docstring).

    ``place`` is the insured-place adapter: the accumulators and account are written in
    the same statement only when it is the in-process one on this very session."""
    setl_id = str(w.row["setl_id"])
    if (
        is_local(place, session)
        and session.get_bind().dialect.name == "postgresql"
        and all(v >= 0 for v in w.benefit.delta.values())
    ):
        assert isinstance(place, SqlInsuredPlace)  # for the type checker: is_local said so
        _one_statement(session, place, w, setl_id)
    else:
        _statement_each(session, place, w, setl_id)


def _statement_each(
    session: Session, place: InsuredPlace, w: SettlementWrite, setl_id: str
) -> None:
    SettlementRepository(session).add_values(w.row, w.details)
    settled = FeeLineRepository(session).settle_lines([line.row_id for line in w.lines], setl_id)
    if settled != len(w.lines):
        raise LinesSettledMeanwhileError(w.visit.mdtrt_id, settled, len(w.lines))
    b = w.benefit
    place.apply_benefit_change(b.psn_no, b.insutype, b.year, b.delta, b.account, w.now)
    LedgerRepository(session).post(setl_id, "settle", w.legs, w.now)
    VisitRepository(session).settled(w.visit.mdtrt_id, _updated_at(w), w.visit_status)
    _sync_loaded(session, w, setl_id)


def _updated_at(w: SettlementWrite) -> datetime:
    """The visit's new ``updated_at``: never moved back (the row is locked, its value
    read), as the one statement's ``GREATEST``."""
    before: datetime | None = w.visit.updated_at
    return w.now if before is None or w.now > before else before


def _sync_loaded(session: Session, w: SettlementWrite, setl_id: str) -> None:
    """ORM objects of this visit or its lines that the session already holds: as if
    read after the write (a later flush must not write their old values back)."""
    identity = session.identity_map
    if not identity:  # the hot path reads no ORM objects (identity_key costs 2 µs a call)
        return
    visit = identity.get(identity_key(VisitRow, w.visit.mdtrt_id))
    if visit is not None:
        set_committed_value(visit, "updated_at", _updated_at(w))
        if w.visit_status is not None:
            set_committed_value(visit, "status", w.visit_status)
    for line in w.lines:
        loaded = identity.get(identity_key(FeeLineRow, line.row_id))
        if loaded is not None:
            set_committed_value(loaded, "status", "settled")
            set_committed_value(loaded, "setl_id", setl_id)


# --- PostgreSQL: one statement ------------------------------------------------------------

_built: dict[tuple[tuple[str, ...], bool], FastQuery] = {}


def _statement(columns: tuple[str, ...], account: bool) -> FastQuery:
    """The statement for settlement rows with ``columns``, with or without the account
    update (built once per shape)."""
    key = (columns, account)
    stmt = _built.get(key)
    if stmt is not None:
        return stmt
    cols = ", ".join(columns)
    account_cte = (
        """, acct AS (
  UPDATE accounts
  SET balance = balance + CAST(:balance AS BIGINT),
      mutual_aid_balance = mutual_aid_balance + CAST(:mutual AS BIGINT),
      updated_at = CAST(:now AS TIMESTAMP)
  WHERE psn_no = :psn_no
    AND balance + CAST(:balance AS BIGINT) >= 0
    AND mutual_aid_balance + CAST(:mutual AS BIGINT) >= 0
  RETURNING psn_no
)"""
        if account
        else ""
    )
    account_select = "(SELECT count(*) FROM acct)" if account else "1"
    sql = f"""WITH s AS (
  INSERT INTO settlements ({cols})
  SELECT {cols} FROM jsonb_populate_record(NULL::settlements, CAST(:settlement AS JSONB))
  RETURNING setl_id
), d AS (
  INSERT INTO settlement_details (setl_id, seq, fund_pay_type, inscp, limit_amount, paid, note)
  SELECT setl_id, seq, fund_pay_type, inscp, limit_amount, paid, note
  FROM jsonb_populate_recordset(NULL::settlement_details, CAST(:details AS JSONB))
), f AS (
  UPDATE fee_lines SET status = 'settled', setl_id = :setl_id
  WHERE row_id IN (
    SELECT CAST(value AS INTEGER) FROM jsonb_array_elements_text(CAST(:lines AS JSONB))
  ) AND status = 'uploaded'
  RETURNING row_id
), a AS (
  INSERT INTO accumulators (psn_no, insutype, year, key, value, updated_at)
  SELECT psn_no, insutype, year, key, value, updated_at
  FROM jsonb_populate_recordset(NULL::accumulators, CAST(:accumulators AS JSONB))
  ON CONFLICT (psn_no, insutype, year, key)
  DO UPDATE SET value = accumulators.value + excluded.value, updated_at = excluded.updated_at
), p AS (
  INSERT INTO ledger_postings (setl_id, kind, posted_at)
  VALUES (:setl_id, 'settle', CAST(:now AS TIMESTAMP))
  RETURNING posting_id
), l AS (
  INSERT INTO ledger_legs (posting_id, account, amount)
  SELECT p.posting_id, x.account, x.amount
  FROM p CROSS JOIN jsonb_populate_recordset(NULL::ledger_legs, CAST(:legs AS JSONB)) AS x
), v AS (
  UPDATE visits
  SET updated_at = GREATEST(updated_at, CAST(:now AS TIMESTAMP)),
      status = COALESCE(CAST(:visit_status AS VARCHAR), status)
  WHERE mdtrt_id = :mdtrt_id
){account_cte}
SELECT (SELECT count(*) FROM f) AS lines, {account_select} AS account"""
    stmt = _built[key] = FastQuery(text(sql))
    return stmt


def _one_statement(
    session: Session, place: SqlInsuredPlace, w: SettlementWrite, setl_id: str
) -> None:
    check_balanced(setl_id, "settle", w.legs)  # (LedgerRepository.post checks the other path)
    b = w.benefit
    now = naive_utc(w.now)
    account = bool(b.account.balance or b.account.mutual_aid_balance)
    columns = tuple(w.row)
    params: dict[str, Any] = {
        "settlement": dumps(dict(w.row)),
        "details": dumps(
            [
                {
                    "setl_id": setl_id,
                    "seq": seq,
                    "fund_pay_type": d.fund_pay_type,
                    "inscp": d.inscp,
                    "limit_amount": d.limit,
                    "paid": d.paid,
                    "note": d.note,
                }
                for seq, d in enumerate(w.details, start=1)
            ]
        ),
        "lines": dumps([line.row_id for line in w.lines]),
        "accumulators": dumps(
            [
                {
                    "psn_no": b.psn_no,
                    "insutype": b.insutype,
                    "year": b.year,
                    "key": key,
                    "value": amount,
                    "updated_at": now.isoformat(),
                }
                for key, amount in sorted(b.delta.items())
                if amount
            ]
        ),
        "legs": dumps([{"account": acc, "amount": amt} for acc, amt in w.legs if amt]),
        "setl_id": setl_id,
        "now": now,
        "mdtrt_id": w.visit.mdtrt_id,
        "visit_status": w.visit_status,
    }
    if account:
        params.update(
            balance=b.account.balance, mutual=b.account.mutual_aid_balance, psn_no=b.psn_no
        )
    ((lines, account_done),) = _statement(columns, account).tuples(session, params)
    if lines != len(w.lines):  # the whole statement is rolled back with the caller's
        raise LinesSettledMeanwhileError(w.visit.mdtrt_id, lines, len(w.lines))
    if account and not account_done:
        # no account row, or it would go negative: the adapter's own path decides
        # (creates the row, or refuses; the caller's transaction is then rolled back)
        place.change_account(b.psn_no, b.account, w.now)
    _sync_loaded(session, w, setl_id)
