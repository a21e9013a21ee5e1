"""Clearing use cases: reconcile between regions, run clearing, statements, exports.

Each public function is one unit of work (``services.uow``) and the functions the agency
API calls. Set computations are Ibis expressions (``medroam.batch``) compiled to the
database's dialect and run on the unit of work's own connection, so a run marks its
lines, computes, stores and posts in one transaction: on any error nothing is written.

Reconciliation (3260/3261/3262-like, between regions):

* :func:`propose` — the place of treatment lists a period's cross-region settlements
  (new items ``proposed``; disputed items of earlier periods are reported as carried);
* :func:`confirm` / :func:`dispute` — the place of insurance answers per item or for
  all of its proposed items; a disputed item can be confirmed later (it then clears in
  the next run) or withdrawn (never cleared);
* :func:`rollback` — 3262: confirmed items that no run has cleared go back to proposed.

Clearing: :func:`clear` (cycle, period) → a run; :func:`get_run`, :func:`verify_run`,
:func:`list_runs`, :func:`write_statements`, :func:`export_lines`,
:func:`advance_comparison`, :func:`unbalanced_postings`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis  # type: ignore[import-untyped]
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
from sqlalchemy import Engine, and_, bindparam, func, insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from medroam.batch import clearing as batch
from medroam.batch.engine import (
    adjustments_table,
    fetch,
    operational_lines,
    operational_tables,
    stream,
    to_sql,
)
from medroam.batch.engine import write_parquet as _write_parquet
from medroam.batch.lines import (
    LINE_SCHEMA,
    MATRIX_SCHEMA,
    adjustment_lines,
    day_date,
    eligible,
    epoch_day,
    local_day,
)
from medroam.domain.clearing import statements as st
from medroam.domain.clearing.advance import application_date, payment_date_for, payment_due
from medroam.domain.clearing.funds import FUND_LINE_LABELS, FundLine
from medroam.domain.clearing.ledger import Leg, check_balanced, clearing_legs
from medroam.domain.clearing.netting import gross_transfers, net_transfers
from medroam.domain.clearing.params import ClearingParams, Netting
from medroam.domain.clearing.periods import (
    ClearingError,
    Cycle,
    Period,
    parse_cycle,
    parse_period,
)
from medroam.domain.money import format_yuan
from medroam.refdata.regions import RegionTable, load_regions
from medroam.services.uow import unit_of_work
from medroam.store.tables import (
    ClearingApplicationRow,
    ClearingItemRow,
    ClearingLegRow,
    ClearingPostingRow,
    ClearingRunRow,
    ReconBatchRow,
    RunHospitalRow,
    RunMatrixRow,
    RunPaymentRow,
    RunProvinceRow,
    RunRegionRow,
    UtcDateTime,
)

NATIONAL = "000000"  # the national level as a party / scope code
CHINA = timezone(timedelta(hours=8))
Progress = Callable[[str, int, int], None]  # (step, done, total)


def _no_progress(step: str, done: int, total: int) -> None:
    return None


# --- regions ------------------------------------------------------------------------------


def check_region(code: str, regions: RegionTable | None = None, *, what: str = "region") -> str:
    """``code`` if it is a known province or pooling region (or 000000), else an error."""
    table = regions if regions is not None else load_regions()
    if code != NATIONAL and code not in table:
        raise ClearingError(f"unknown {what} {code!r}: not in the region list")
    return code


# --- reconciliation -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Proposal:
    batch_id: str
    period: str
    treatment_scope: str
    proposed: int  # new items in this proposal
    carried: int  # disputed items of earlier proposals, still open
    medfee_fen: int
    fund_fen: int
    acct_fen: int
    created: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "period": self.period,
            "treatment_scope": self.treatment_scope,
            "proposed": self.proposed,
            "carried": self.carried,
            "medfee_fen": self.medfee_fen,
            "fund_fen": self.fund_fen,
            "acct_fen": self.acct_fen,
            "created": self.created,
        }


def _scope_filter(column: Any, scope: str) -> Any:
    """Rows of a scope: the nation, one province or one region (an Ibis expression or a
    SQLAlchemy column)."""
    if scope == NATIONAL:
        return column.isnot(None) if hasattr(column, "isnot") else column.notnull()
    if scope.endswith("0000"):
        return column.startswith(scope[:2])
    return column == scope


def propose(
    engine: Engine,
    period: Period,
    *,
    now: datetime,
    treatment_scope: str = NATIONAL,
) -> Proposal:
    """The place of treatment proposes ``period``'s cross-region settlements (3260).

    Settlements dated in the period and not proposed before become ``proposed`` items;
    re-proposing a period adds only settlements that arrived since (idempotent).
    """
    check_region(treatment_scope, what="treatment region")
    batch_id = f"REC-{treatment_scope}-{period.cycle.value}-{period.label}"
    start, end = epoch_day(period.start), epoch_day(period.end)
    today = epoch_day(now.date())
    with unit_of_work(engine) as session:
        connection = session.connection()
        settlements, _details, items = operational_tables()
        s = settlements.filter(
            (settlements.cross_region != "local")
            & (settlements.status != "voided")
            & _scope_filter(settlements.treatment_region, treatment_scope)
        )
        s = s.mutate(setl_day=local_day(s.setl_time))
        s = s.filter((s.setl_day >= start) & (s.setl_day <= end))
        new = s.anti_join(items, s.setl_id == items.setl_id).select(
            setl_id=s.setl_id,
            batch_id=ibis.literal(batch_id),
            treatment_region=s.treatment_region,
            insured_region=s.insured_region,
            fixmedins_code=s.fixmedins_code,
            setl_day=s.setl_day,
            refd_setl_flag=s.refd_setl_flag,
            medfee=s.medfee,
            fund=s.fund_total,
            acct=s.account,
            state=ibis.literal("proposed"),
            state_day=ibis.literal(today, "int32"),
        )
        existing = session.get(ReconBatchRow, batch_id)
        if existing is None:
            session.add(
                ReconBatchRow(
                    batch_id=batch_id,
                    treatment_scope=treatment_scope,
                    period_label=period.label,
                    start_day=start,
                    end_day=end,
                    proposed_at=now,
                    item_count=0,
                    carried_count=0,
                )
            )
            session.flush()
        columns = list(new.columns)
        sql = to_sql(new, connection)
        statement = text(
            f"INSERT INTO clearing_items ({', '.join(columns)}, updated_at) "
            f"SELECT q.*, :now FROM ({sql}) AS q"
        ).bindparams(bindparam("now", type_=UtcDateTime()))
        result = connection.execute(statement, {"now": now})
        added = int(getattr(result, "rowcount", 0) or 0)
        carried_q = select(func.count()).where(
            ClearingItemRow.state == "disputed",
            ClearingItemRow.setl_day < start,
        )
        if treatment_scope != NATIONAL:
            carried_q = carried_q.where(
                _scope_filter(ClearingItemRow.treatment_region, treatment_scope)
            )
        carried = int(session.execute(carried_q).scalar_one())
        totals = session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(ClearingItemRow.medfee), 0),
                func.coalesce(func.sum(ClearingItemRow.fund), 0),
                func.coalesce(func.sum(ClearingItemRow.acct), 0),
            ).where(ClearingItemRow.batch_id == batch_id)
        ).one()
        batch_row = session.get(ReconBatchRow, batch_id)
        assert batch_row is not None
        batch_row.item_count = int(totals[0])
        batch_row.carried_count = carried
        return Proposal(
            batch_id,
            period.label,
            treatment_scope,
            added,
            carried,
            int(totals[1]),
            int(totals[2]),
            int(totals[3]),
            existing is None,
        )


def _item_filter(
    setl_ids: Sequence[str] | None, insured_region: str | None, batch_id: str | None
) -> list[Any]:
    conditions: list[Any] = []
    if setl_ids is not None:
        conditions.append(ClearingItemRow.setl_id.in_(list(setl_ids)))
    if insured_region is not None:
        check_region(insured_region, what="insured region")
        conditions.append(_scope_filter(ClearingItemRow.insured_region, insured_region))
    if batch_id is not None:
        conditions.append(ClearingItemRow.batch_id == batch_id)
    if not conditions:
        raise ClearingError("name the items: setl ids, an insured region or a batch")
    return conditions


def _set_state(
    engine: Engine,
    from_states: tuple[str, ...],
    to_state: str,
    *,
    now: datetime,
    setl_ids: Sequence[str] | None = None,
    insured_region: str | None = None,
    batch_id: str | None = None,
    reason: str | None = None,
    uncleared_only: bool = False,
) -> int:
    conditions = _item_filter(setl_ids, insured_region, batch_id)
    with unit_of_work(engine) as session:
        if setl_ids is not None:
            known = set(
                session.execute(
                    select(ClearingItemRow.setl_id).where(
                        ClearingItemRow.setl_id.in_(list(setl_ids))
                    )
                ).scalars()
            )
            missing = sorted(set(setl_ids) - known)
            if missing:
                raise ClearingError(f"not proposed for reconciliation: {', '.join(missing[:5])}")
        where = [*conditions, ClearingItemRow.state.in_(from_states)]
        if uncleared_only:
            where.append(ClearingItemRow.cleared_run_id.is_(None))
            where.append(ClearingItemRow.mulaid_run_id.is_(None))
        values: dict[str, Any] = {
            "state": to_state,
            "state_day": epoch_day(now.date()),
            "updated_at": now,
        }
        if to_state == "disputed":
            values["dispute_reason"] = reason or ""
        result = session.execute(update(ClearingItemRow).where(and_(*where)).values(**values))
        return int(getattr(result, "rowcount", 0) or 0)


def confirm(
    engine: Engine,
    *,
    now: datetime,
    setl_ids: Sequence[str] | None = None,
    insured_region: str | None = None,
    batch_id: str | None = None,
) -> int:
    """The place of insurance confirms items (3261 ``cnfm_flag`` = yes): proposed ones,
    and disputed ones that are now resolved. Returns the number confirmed."""
    return _set_state(
        engine,
        ("proposed", "disputed"),
        "confirmed",
        now=now,
        setl_ids=setl_ids,
        insured_region=insured_region,
        batch_id=batch_id,
    )


def dispute(
    engine: Engine,
    setl_ids: Sequence[str],
    reason: str,
    *,
    now: datetime,
) -> int:
    """The place of insurance disputes items: held out of clearing until resolved."""
    if not reason.strip():
        raise ClearingError("a dispute needs a reason")
    return _set_state(
        engine,
        ("proposed", "confirmed"),
        "disputed",
        now=now,
        setl_ids=setl_ids,
        reason=reason,
        uncleared_only=True,
    )


def withdraw(engine: Engine, setl_ids: Sequence[str], *, now: datetime) -> int:
    """A disputed item found wrong is withdrawn: it never clears (the hospital reverses
    it with 2601/2208, which creates its own reverse record)."""
    return _set_state(engine, ("disputed",), "withdrawn", now=now, setl_ids=setl_ids)


def rollback(engine: Engine, *, now: datetime, batch_id: str) -> int:
    """3262: confirmations of a batch not yet cleared go back to ``proposed``."""
    return _set_state(
        engine,
        ("confirmed",),
        "proposed",
        now=now,
        batch_id=batch_id,
        uncleared_only=True,
    )


def open_items(engine: Engine, *, state: str = "disputed") -> list[dict[str, Any]]:
    """Items in ``state`` (default: disputed, i.e. carried into the next cycle)."""
    with unit_of_work(engine) as session:
        rows = session.execute(
            select(ClearingItemRow)
            .where(ClearingItemRow.state == state)
            .order_by(ClearingItemRow.setl_id)
        ).scalars()
        return [
            {
                "setl_id": r.setl_id,
                "batch_id": r.batch_id,
                "insured_region": r.insured_region,
                "treatment_region": r.treatment_region,
                "fixmedins_code": r.fixmedins_code,
                "setl_date": day_date(r.setl_day).isoformat(),
                "fund_fen": r.fund,
                "acct_fen": r.acct,
                "state": r.state,
                "reason": r.dispute_reason,
            }
            for r in rows
        ]


# --- clearing runs ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunSummary:
    run_id: str
    cycle: str
    period: str
    scope: str
    created: bool  # False: the run existed, nothing was changed
    line_count: int
    amount_fen: int
    applied_on: date
    due_on: date
    provinces: tuple[dict[str, Any], ...]
    warnings: tuple[dict[str, Any], ...] = ()
    fund_lines: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "cycle": self.cycle,
            "period": self.period,
            "scope": self.scope,
            "created": self.created,
            "line_count": self.line_count,
            "amount_fen": self.amount_fen,
            "amount_yuan": format_yuan(self.amount_fen),
            "hospitals_apply_on": self.applied_on.isoformat(),
            "hospitals_paid_by": self.due_on.isoformat(),
            "fund_lines": self.fund_lines,
            "provinces": list(self.provinces),
            "prepayment_warnings": list(self.warnings),
        }


def run_id_of(cycle: Cycle, period: Period, scope: str) -> str:
    return f"CLR-{cycle.value}-{period.label}-{scope}"


def _scope_for(cycle: Cycle, scope: str | None, params: ClearingParams) -> str:
    if scope is None:
        return "all" if cycle is params.mutual_aid_cycle else "funds"
    if scope not in ("all", "funds", "mutual_aid"):
        raise ClearingError(f"unknown scope {scope!r}; use all, funds or mutual_aid")
    if scope in ("all", "mutual_aid") and cycle is not params.mutual_aid_cycle:
        raise ClearingError(
            f"personal-account mutual aid is cleared {params.mutual_aid_cycle.value} in full; "
            f"a {cycle.value} run can only clear the other funds (scope 'funds')"
        )
    return scope


def _params_json(params: ClearingParams) -> dict[str, Any]:
    return {
        "netting": params.netting.value,
        "month_basis": params.month_basis.value,
        "payment_deadline_wd": params.payment_deadline_wd,
        "application_lag_wd": params.application_lag_wd,
        "mutual_aid_cycle": params.mutual_aid_cycle.value,
    }


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def advance_days_x100(
    days_table: pa.Table, pay_day: int, per_hospital: dict[str, int] | None = None
) -> pa.Table:
    """Per hospital: amount and ``Σ amount × (pay day − settlement day)`` over
    (hospital, day, amount) rows, vectorised with Arrow compute. Every hospital is paid
    on ``pay_day`` unless ``per_hospital`` gives its own (its 3203 application)."""
    if days_table.num_rows == 0:
        return pa.table(
            {
                "fixmedins_code": pa.array([], pa.string()),
                "amount_fen": pa.array([], pa.int64()),
                "weighted": pa.array([], pa.int64()),
            }
        )
    paid = pa.repeat(pa.scalar(pay_day, pa.int64()), days_table.num_rows)
    if per_hospital:
        keys = pa.array(list(per_hospital), pa.string())
        values = pa.array(list(per_hospital.values()), pa.int64())
        own = pc.take(values, pc.index_in(days_table["fixmedins_code"], value_set=keys))
        paid = pc.coalesce(own, paid)
    waited = pc.subtract(paid, days_table["setl_day"].cast(pa.int64()))
    weighted = pc.multiply(days_table["amount_fen"], waited)
    t = pa.table(
        {
            "fixmedins_code": days_table["fixmedins_code"],
            "amount_fen": days_table["amount_fen"],
            "weighted": weighted,
        }
    )
    g = t.group_by("fixmedins_code").aggregate([("amount_fen", "sum"), ("weighted", "sum")])
    return g.rename_columns(["fixmedins_code", "amount_fen", "weighted"])


def hospital_applications(session: Session, period: Period) -> dict[str, date]:
    """The local date of each hospital's first clearing application in force (3203,
    G2's ``clearing_applications``) for a monthly period; empty for other cycles."""
    if period.cycle is not Cycle.MONTHLY:
        return {}
    setlym = f"{period.start.year:04d}{period.start.month:02d}"
    rows = session.execute(
        select(ClearingApplicationRow.fixmedins_code, func.min(ClearingApplicationRow.applied_at))
        .where(
            ClearingApplicationRow.setlym == setlym,
            ClearingApplicationRow.status != "cancelled",
        )
        .group_by(ClearingApplicationRow.fixmedins_code)
    ).all()
    out: dict[str, date] = {}
    for code, applied_at in rows:
        moment = applied_at if applied_at.tzinfo else applied_at.replace(tzinfo=UTC)
        out[code] = moment.astimezone(CHINA).date()
    return out


def _div_x100(weighted: int, amount: int) -> int | None:
    from medroam.domain.money import div_round

    if amount == 0:
        return None
    if amount > 0:
        return div_round(weighted * 100, amount)
    return div_round(-weighted * 100, -amount)


def clear(
    engine: Engine,
    cycle: Cycle | str,
    period_text: str,
    *,
    as_of: date,
    now: datetime,
    params: ClearingParams | None = None,
    scope: str | None = None,
    progress: Progress = _no_progress,
) -> RunSummary:
    """Clear one period: national clear-split, provincial tiers, hospital payments.

    Idempotent: a run is identified by (cycle, period, scope); running it again returns
    the stored run and changes nothing. Refused (nothing written) for a period that has
    not ended on ``as_of``.
    """
    from medroam.services import prepayment

    params = params or ClearingParams()
    cycle = parse_cycle(cycle) if isinstance(cycle, str) else cycle
    period = parse_period(cycle, period_text)
    if period.is_open(as_of):
        raise ClearingError(
            f"{period} is still open on {as_of.isoformat()}: it can be cleared from "
            f"{day_date(epoch_day(period.end) + 1).isoformat()}"
        )
    scope = _scope_for(cycle, scope, params)
    run_id = run_id_of(cycle, period, scope)
    with unit_of_work(engine) as session:
        existing = session.get(ClearingRunRow, run_id)
        if existing is not None:
            return _summary(session, existing, created=False)
        connection = session.connection()
        end_day = epoch_day(period.end)
        applied_on = application_date(period, params)
        due_on = payment_due(applied_on, params)
        session.add(
            ClearingRunRow(
                run_id=run_id,
                cycle=cycle.value,
                period_label=period.label,
                scope=scope,
                start_day=epoch_day(period.start),
                end_day=end_day,
                as_of=as_of,
                applied_on=applied_on,
                due_on=due_on,
                params=_params_json(params),
                line_count=0,
                amount_fen=0,
                abs_fen=0,
                created_at=now,
            )
        )
        session.flush()
        progress("mark", 0, 8)
        _mark(connection, run_id, end_day, params, scope)
        lines = operational_lines()
        lines = lines.filter(lines.run_id == run_id)
        # the totals come with the matrix (one scan less; see batch.clearing)
        progress("matrix", 1, 8)
        with_totals = fetch(batch.matrix_with_totals(lines), connection)
        progress("totals", 2, 8)
        totals = batch.totals_from_matrix(with_totals)
        matrix = _rows(with_totals.select(list(batch.MATRIX_COLUMNS)))
        if matrix:
            session.execute(insert(RunMatrixRow), [{"run_id": run_id, **r} for r in matrix])
        # positions depend only on pair totals: computed from the stored matrix
        stored = ibis.table(MATRIX_SCHEMA, name="clearing_run_matrix")
        stored = stored.filter(stored.run_id == run_id)
        progress("provinces", 3, 8)
        provinces = _rows(fetch(batch.province_positions(stored), connection))
        progress("regions", 4, 8)
        regions = _rows(fetch(batch.region_positions(stored), connection))
        progress("hospitals", 5, 8)
        by_hospital = fetch(batch.hospital_lines(lines), connection)
        counts = batch.hospital_settlements_of(by_hospital)  # no scan of its own
        hospitals = _rows(by_hospital.drop_columns(["settlements"]))
        days = fetch(batch.hospital_days(lines), connection)
        progress("store", 6, 8)
        applications = hospital_applications(session, period)
        _store_results(
            session,
            run_id,
            provinces,
            regions,
            hospitals,
            counts,
            days,
            applied_on,
            due_on,
            {code: (d, payment_due(d, params)) for code, d in applications.items()},
        )
        run = session.get(ClearingRunRow, run_id)
        assert run is not None
        run.line_count = int(totals["line_count"] or 0)
        run.amount_fen = int(totals["amount_fen"] or 0)
        run.abs_fen = int(totals["abs_fen"] or 0)
        progress("post", 7, 8)
        pairs: dict[tuple[str, str], int] = {}
        for row in matrix:
            key = (row["insured_region"], row["treatment_region"])
            pairs[key] = pairs.get(key, 0) + int(row["amount_fen"])
        legs = clearing_legs((i, t, a) for (i, t), a in sorted(pairs.items()))
        if legs:
            post(session, "clear", run_id, f"clearing run {run_id}", legs, now=now)
        session.flush()
        prepayment.assess_after_run(session, run, now=now)
        progress("done", 8, 8)
        return _summary(session, run, created=True)


def _mark(
    connection: Connection, run_id: str, end_day: int, params: ClearingParams, scope: str
) -> None:
    """Assign the eligible items to this run (the same predicate as ``batch.eligible``)."""
    _s, _d, items = operational_tables()
    targets = []
    if scope in ("all", "funds"):
        targets.append("cleared_run_id")
    if scope in ("all", "mutual_aid"):
        targets.append("mulaid_run_id")
    for column in targets:
        chosen = eligible(items, end_day, params.month_basis, column).select("setl_id")
        connection.execute(
            text(
                f"UPDATE clearing_items SET {column} = :run "
                f"WHERE setl_id IN (SELECT q.setl_id FROM ({to_sql(chosen, connection)}) AS q)"
            ),
            {"run": run_id},
        )
    if scope in ("all", "funds"):  # supervision-case adjustments are fund lines
        settlements, _d, _i = operational_tables()
        lines = adjustment_lines(adjustments_table(), settlements)
        cases = eligible(lines, end_day, params.month_basis, "run_id").select("setl_id")
        connection.execute(
            text(
                "UPDATE case_adjustments SET run_id = :run WHERE run_id IS NULL AND case_id IN "
                f"(SELECT q.setl_id FROM ({to_sql(cases, connection)}) AS q)"
            ),
            {"run": run_id},
        )


def _store_results(
    session: Session,
    run_id: str,
    provinces: list[dict[str, Any]],
    regions: list[dict[str, Any]],
    hospitals: list[dict[str, Any]],
    counts: pa.Table,
    days: pa.Table,
    applied_on: date,
    due_on: date,
    applications: dict[str, tuple[date, date]],
) -> None:
    def put(model: Any, rows: list[dict[str, Any]]) -> None:
        if rows:
            session.execute(insert(model), [{"run_id": run_id, **r} for r in rows])

    put(RunProvinceRow, provinces)
    put(RunRegionRow, regions)
    put(RunHospitalRow, hospitals)
    per_hospital: dict[str, dict[str, Any]] = {}
    for row in hospitals:
        entry = per_hospital.setdefault(
            row["fixmedins_code"],
            {"treatment_region": row["treatment_region"], "amount_fen": 0},
        )
        entry["amount_fen"] += int(row["amount_fen"])
    settlements = {r["fixmedins_code"]: int(r["settlements"]) for r in counts.to_pylist()}
    own_days = {code: epoch_day(due) for code, (_applied, due) in applications.items()}
    weights = {
        r["fixmedins_code"]: _div_x100(int(r["weighted"]), int(r["amount_fen"]))
        for r in advance_days_x100(days, epoch_day(due_on), own_days).to_pylist()
    }
    put(
        RunPaymentRow,
        [
            {
                "fixmedins_code": code,
                "treatment_region": entry["treatment_region"],
                "amount_fen": entry["amount_fen"],
                "settlements": settlements.get(code, 0),
                "applied_on": applications.get(code, (applied_on, due_on))[0],
                "due_on": applications.get(code, (applied_on, due_on))[1],
                "advance_days_x100": weights.get(code),
            }
            for code, entry in sorted(per_hospital.items())
        ],
    )


def post(
    session: Session, kind: str, ref: str, memo: str, legs: Sequence[Leg], *, now: datetime
) -> int:
    """Write one balanced posting to the clearing journal (refused if unbalanced: here,
    and by the database's guard at close / commit)."""
    check_balanced(legs)
    posting = ClearingPostingRow(kind=kind, ref=ref, memo=memo, closed=False, posted_at=now)
    session.add(posting)
    session.flush()
    session.execute(
        insert(ClearingLegRow),
        [
            {"posting_id": posting.posting_id, "account": g.account, "amount": g.amount}
            for g in legs
        ],
    )
    posting.closed = True
    session.flush()
    return int(posting.posting_id)


def _summary(session: Session, run: ClearingRunRow, *, created: bool) -> RunSummary:
    from medroam.services.prepayment import warnings_for_run

    provinces = session.execute(
        select(RunProvinceRow)
        .where(RunProvinceRow.run_id == run.run_id)
        .order_by(RunProvinceRow.province)
    ).scalars()
    lines = session.execute(
        select(RunMatrixRow.fund_line, func.sum(RunMatrixRow.amount_fen))
        .where(RunMatrixRow.run_id == run.run_id)
        .group_by(RunMatrixRow.fund_line)
        .order_by(RunMatrixRow.fund_line)
    ).all()
    return RunSummary(
        run_id=run.run_id,
        cycle=run.cycle,
        period=run.period_label,
        scope=run.scope,
        created=created,
        line_count=int(run.line_count),
        amount_fen=int(run.amount_fen),
        applied_on=run.applied_on,
        due_on=run.due_on,
        provinces=tuple(
            {
                "province": p.province,
                "payable_fen": int(p.payable),
                "receivable_fen": int(p.receivable),
                "net_fen": int(p.net),
            }
            for p in provinces
        ),
        warnings=tuple(warnings_for_run(session, run)),
        fund_lines={str(k): int(v) for k, v in lines},
    )


def find_run(
    session: Session, cycle: Cycle | str, period_text: str, scope: str | None
) -> ClearingRunRow:
    cycle = parse_cycle(cycle) if isinstance(cycle, str) else cycle
    period = parse_period(cycle, period_text)
    scopes = [scope] if scope else ["all", "funds", "mutual_aid"]
    for candidate in scopes:
        run = session.get(ClearingRunRow, run_id_of(cycle, period, candidate))
        if run is not None:
            return run
    raise ClearingError(f"no clearing run for {period}: run `medroam clear` first")


def get_run(
    engine: Engine, cycle: Cycle | str, period_text: str, scope: str | None = None
) -> RunSummary:
    with unit_of_work(engine) as session:
        return _summary(session, find_run(session, cycle, period_text, scope), created=False)


def list_runs(engine: Engine) -> list[dict[str, Any]]:
    with unit_of_work(engine) as session:
        runs = session.execute(
            select(ClearingRunRow).order_by(ClearingRunRow.end_day, ClearingRunRow.run_id)
        ).scalars()
        return [
            {
                "run_id": r.run_id,
                "cycle": r.cycle,
                "period": r.period_label,
                "scope": r.scope,
                "lines": int(r.line_count),
                "amount_fen": int(r.amount_fen),
                "due_on": r.due_on.isoformat(),
            }
            for r in runs
        ]


def verify_run(engine: Engine, run_id: str) -> list[str]:
    """Recompute a run from the lines assigned to it; the differences (none: reproduced)."""
    with unit_of_work(engine) as session:
        run = session.get(ClearingRunRow, run_id)
        if run is None:
            raise ClearingError(f"no clearing run {run_id!r}")
        connection = session.connection()
        lines = operational_lines()
        lines = lines.filter(lines.run_id == run_id)
        fresh = {
            (r["insured_region"], r["treatment_region"], r["insutype"], r["fund_line"]): (
                int(r["amount_fen"]),
                int(r["line_count"]),
            )
            for r in _rows(fetch(batch.pair_matrix(lines), connection))
        }
        stored = {
            (r.insured_region, r.treatment_region, r.insutype, r.fund_line): (
                int(r.amount_fen),
                int(r.line_count),
            )
            for r in session.execute(
                select(RunMatrixRow).where(RunMatrixRow.run_id == run_id)
            ).scalars()
        }
        problems = []
        for key in sorted(fresh.keys() | stored.keys()):
            if fresh.get(key) != stored.get(key):
                problems.append(f"{key}: stored {stored.get(key)}, recomputed {fresh.get(key)}")
        return problems


# --- statements ---------------------------------------------------------------------------


def _yuan_days(x100: int | None) -> str | None:
    return None if x100 is None else str(Decimal(x100) / 100)


def build_statements(
    session: Session,
    run: ClearingRunRow,
    regions: RegionTable,
    only: tuple[str, str] | None = None,
) -> list[st.Statement]:
    """Statements of a run for the nation, every province, region and hospital in it;
    with ``only`` = (party kind, party), just that one (the same statement as in the
    full list: a page for one party does not build 400 others)."""

    def wanted(kind: str, party: str) -> bool:
        return only is None or only == (kind, party)

    def name(code: str) -> str:
        region = regions.get(code)
        return f"{code} {region.name}" if region else code

    rid = run.run_id
    matrix = list(
        session.execute(
            select(RunMatrixRow)
            .where(RunMatrixRow.run_id == rid)
            .order_by(
                RunMatrixRow.insured_region,
                RunMatrixRow.treatment_region,
                RunMatrixRow.insutype,
                RunMatrixRow.fund_line,
            )
        ).scalars()
    )
    provinces = list(
        session.execute(
            select(RunProvinceRow)
            .where(RunProvinceRow.run_id == rid)
            .order_by(RunProvinceRow.province)
        ).scalars()
    )
    region_rows = list(
        session.execute(
            select(RunRegionRow).where(RunRegionRow.run_id == rid).order_by(RunRegionRow.region)
        ).scalars()
    )
    hospital_rows = list(
        session.execute(
            select(RunHospitalRow)
            .where(RunHospitalRow.run_id == rid)
            .order_by(
                RunHospitalRow.fixmedins_code,
                RunHospitalRow.insutype,
                RunHospitalRow.clr_type,
                RunHospitalRow.fund_line,
            )
        ).scalars()
    )
    payments = list(
        session.execute(
            select(RunPaymentRow)
            .where(RunPaymentRow.run_id == rid)
            .order_by(RunPaymentRow.fixmedins_code)
        ).scalars()
    )
    period = f"{run.cycle} {run.period_label}"
    netting = Netting(run.params.get("netting", "net"))
    out: list[st.Statement] = []

    # national
    if wanted("national", NATIONAL):
        gross: dict[tuple[str, str], int] = {}
        for m in matrix:
            if m.insured_province != m.treatment_province:
                key = (m.insured_province, m.treatment_province)
                gross[key] = gross.get(key, 0) + int(m.amount_fen)
        nets = {p.province: int(p.net) for p in provinces}
        transfers = (
            net_transfers(nets, NATIONAL) if netting is Netting.NET else gross_transfers(gross)
        )
        out.append(
            st.Statement(
                rid,
                "national",
                NATIONAL,
                f"国家清分 national clear-split — {period}",
                {
                    "run_id": rid,
                    "period": period,
                    "netting": netting.value,
                    "lines": int(run.line_count),
                    "cleared_fen": int(run.amount_fen),
                    "inter_province_fen": sum(gross.values()),
                    "hospitals_paid_by": run.due_on.isoformat(),
                },
                (
                    st.Section(
                        "positions",
                        "Net positions by province (receives − pays)",
                        ("province", "payable_fen", "receivable_fen", "net_fen"),
                        tuple(
                            (name(p.province), int(p.payable), int(p.receivable), int(p.net))
                            for p in provinces
                        ),
                    ),
                    st.Section(
                        "gross",
                        "Gross matrix (insuring province → treating province)",
                        ("insured_province", "treatment_province", "amount_fen"),
                        tuple((name(a), name(b), v) for (a, b), v in sorted(gross.items())),
                    ),
                    st.Section(
                        "transfers",
                        f"Transfers ({netting.value})",
                        ("payer", "payee", "amount_fen"),
                        tuple((name(t.payer), name(t.payee), t.amount) for t in transfers),
                    ),
                ),
            )
        )
    # provinces
    for p in provinces:
        if not wanted("province", p.province):
            continue
        own_regions = [r for r in region_rows if r.province == p.province]
        out.append(
            st.Statement(
                rid,
                "province",
                p.province,
                f"省级清算 {name(p.province)} — {period}",
                {
                    "run_id": rid,
                    "period": period,
                    "payable_fen": int(p.payable),
                    "receivable_fen": int(p.receivable),
                    "net_fen": int(p.net),
                },
                (
                    st.Section(
                        "regions",
                        "Pooling regions (inter-province via the province; intra-province netted)",
                        (
                            "region",
                            "inter_payable_fen",
                            "inter_receivable_fen",
                            "intra_payable_fen",
                            "intra_receivable_fen",
                            "net_fen",
                        ),
                        tuple(
                            (
                                name(r.region),
                                int(r.inter_payable),
                                int(r.inter_receivable),
                                int(r.intra_payable),
                                int(r.intra_receivable),
                                int(r.net),
                            )
                            for r in own_regions
                        ),
                    ),
                    _pair_section(
                        [
                            m
                            for m in matrix
                            if p.province in (m.insured_province, m.treatment_province)
                            and m.insured_province != m.treatment_province
                        ],
                        name,
                        "Inter-province detail",
                    ),
                ),
            )
        )
    # regions
    for r in region_rows:
        if not wanted("region", r.region):
            continue
        mine = [m for m in matrix if r.region in (m.insured_region, m.treatment_region)]
        pays = [p for p in payments if p.treatment_region == r.region]
        out.append(
            st.Statement(
                rid,
                "region",
                r.region,
                f"统筹区清算 {name(r.region)} — {period}",
                {
                    "run_id": rid,
                    "period": period,
                    "payable_fen": int(r.inter_payable + r.intra_payable),
                    "receivable_fen": int(r.inter_receivable + r.intra_receivable),
                    "net_fen": int(r.net),
                    "hospitals_apply_on": run.applied_on.isoformat(),
                    "hospitals_paid_by": run.due_on.isoformat(),
                },
                (
                    _pair_section(mine, name, "Payables and receivables by pair and fund"),
                    st.Section(
                        "hospitals",
                        "Hospital payments",
                        ("fixmedins_code", "settlements", "amount_fen", "due_on", "advance_days"),
                        tuple(
                            (
                                p.fixmedins_code,
                                int(p.settlements),
                                int(p.amount_fen),
                                p.due_on.isoformat(),
                                _yuan_days(p.advance_days_x100),
                            )
                            for p in pays
                        ),
                    ),
                ),
            )
        )
    # hospitals
    by_hospital: dict[str, list[RunHospitalRow]] = {}
    for h in hospital_rows:
        by_hospital.setdefault(h.fixmedins_code, []).append(h)
    for pay in payments:
        if not wanted("hospital", pay.fixmedins_code):
            continue
        out.append(
            st.Statement(
                rid,
                "hospital",
                pay.fixmedins_code,
                f"医疗机构清算单 {pay.fixmedins_code} — {period}",
                {
                    "run_id": rid,
                    "period": period,
                    "treatment_region": name(pay.treatment_region),
                    "settlements": int(pay.settlements),
                    "amount_fen": int(pay.amount_fen),
                    "applied_on": pay.applied_on.isoformat(),
                    "due_on": pay.due_on.isoformat(),
                    "advance_days": _yuan_days(pay.advance_days_x100),
                },
                (
                    st.Section(
                        "detail",
                        "By insurance type, clearing category and fund line",
                        ("insutype", "clr_type", "fund_line", "lines", "amount_fen"),
                        tuple(
                            (
                                h.insutype,
                                h.clr_type,
                                _fund_label(h.fund_line),
                                int(h.line_count),
                                int(h.amount_fen),
                            )
                            for h in by_hospital.get(pay.fixmedins_code, [])
                        ),
                    ),
                ),
            )
        )
    return out


def _fund_label(value: str) -> str:
    try:
        return f"{value} {FUND_LINE_LABELS[FundLine(value)]}"
    except ValueError:
        return value


def _pair_section(
    rows: Iterable[RunMatrixRow], name: Callable[[str], str], title: str
) -> st.Section:
    return st.Section(
        "pairs",
        title,
        ("insured_region", "treatment_region", "insutype", "fund_line", "lines", "amount_fen"),
        tuple(
            (
                name(m.insured_region),
                name(m.treatment_region),
                m.insutype,
                _fund_label(m.fund_line),
                int(m.line_count),
                int(m.amount_fen),
            )
            for m in rows
        ),
    )


def write_statements(
    engine: Engine,
    cycle: Cycle | str,
    period_text: str,
    out_dir: Path,
    *,
    scope: str | None = None,
    formats: Sequence[str] = ("csv", "json", "html"),
    party: str | None = None,
    progress: Progress = _no_progress,
) -> list[Path]:
    """Write the statements of a run (every party, or one) under ``out_dir/<run_id>/``."""
    unknown = [f for f in formats if f not in st.RENDERERS]
    if unknown:
        raise ClearingError(
            f"unknown statement format(s) {', '.join(unknown)}; use csv, json, html"
        )
    regions = load_regions()
    with unit_of_work(engine) as session:
        run = find_run(session, cycle, period_text, scope)
        statements = build_statements(session, run, regions)
    if party is not None:
        statements = [s for s in statements if s.party == party]
        if not statements:
            raise ClearingError(f"no statement for party {party!r} in run {run.run_id}")
    target = out_dir / run.run_id
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for i, statement in enumerate(statements):
        for fmt in formats:
            path = target / f"{statement.file_stem}.{fmt}"
            path.write_text(st.RENDERERS[fmt](statement), encoding="utf-8")
            written.append(path)
        progress("statements", i + 1, len(statements))
    return written


def statement_for(
    engine: Engine, cycle: Cycle | str, period_text: str, party: str, scope: str | None = None
) -> dict[str, Any]:
    """One party's statement as JSON-ready data (for the API)."""
    regions = load_regions()
    with unit_of_work(engine) as session:
        run = find_run(session, cycle, period_text, scope)
        # the first statement of that party in the full list's order (a code may name a
        # province and a pooling region both)
        for key in _party_keys(party):
            for statement in build_statements(session, run, regions, key):
                return st.as_dict(statement)
    raise ClearingError(f"no statement for party {party!r} in run {run.run_id}")


def _party_keys(party: str) -> list[tuple[str, str]]:
    """The (kind, party) a statement's party code may be, in the order of
    ``build_statements``: 000000 the nation; six digits a province or a pooling region;
    anything else a hospital."""
    if party == NATIONAL:
        return [("national", party)]
    if len(party) == 6 and party.isdigit():
        return [("province", party), ("region", party)]
    return [("hospital", party)]


# --- exports, cash-flow comparison, ledger checks -----------------------------------------


def export_lines(engine: Engine, path: Path, *, batch_rows: int = 100_000) -> int:
    """Write the clearing lines of the operational database to Parquet (same schema the
    DuckDB path reads); the number of lines written."""
    with unit_of_work(engine) as session:
        connection = session.connection()
        return _write_parquet(
            stream(operational_lines(), connection, batch_rows), path, LINE_SCHEMA.to_pyarrow()
        )


def advance_comparison(
    days: pa.Table, params: ClearingParams, cycles: Sequence[Cycle] = tuple(Cycle)
) -> list[dict[str, Any]]:
    """Advance days per hospital under each cycle, from (fixmedins_code, setl_day,
    amount_fen) rows (``batch.clearing.hospital_days``): each settlement is paid at the
    deadline of the period of its cycle. The date mapping is computed once per distinct
    day; the weighting is vectorised."""
    out: list[dict[str, Any]] = []
    if days.num_rows == 0:
        return out
    distinct = pc.unique(days["setl_day"]).to_pylist()
    for cycle in cycles:
        mapping = {d: epoch_day(payment_date_for(day_date(d), cycle, params)) for d in distinct}
        keys = pa.array(list(mapping.keys()), pa.int32())
        values = pa.array(list(mapping.values()), pa.int64())
        idx = pc.index_in(days["setl_day"].cast(pa.int32()), value_set=keys)
        paid = pc.take(values, idx)
        waited = pc.subtract(paid, days["setl_day"].cast(pa.int64()))
        t = pa.table(
            {
                "fixmedins_code": days["fixmedins_code"],
                "amount_fen": days["amount_fen"],
                "weighted": pc.multiply(days["amount_fen"], waited),
            }
        )
        g = t.group_by("fixmedins_code").aggregate([("amount_fen", "sum"), ("weighted", "sum")])
        total_amount = pc.sum(g["amount_fen_sum"]).as_py() or 0
        total_weight = pc.sum(g["weighted_sum"]).as_py() or 0
        for code, amount, weight in zip(
            g["fixmedins_code"].to_pylist(),
            g["amount_fen_sum"].to_pylist(),
            g["weighted_sum"].to_pylist(),
            strict=True,
        ):
            out.append(
                {
                    "cycle": cycle.value,
                    "fixmedins_code": code,
                    "amount_fen": amount,
                    "advance_days": _yuan_days(_div_x100(weight, amount)),
                }
            )
        out.append(
            {
                "cycle": cycle.value,
                "fixmedins_code": "*",
                "amount_fen": total_amount,
                "advance_days": _yuan_days(_div_x100(total_weight, total_amount)),
            }
        )
    return out


def hospital_cash_flow(
    engine: Engine, start: date, end: date, params: ClearingParams | None = None
) -> list[dict[str, Any]]:
    """Advance days per hospital for every cycle over the confirmed lines settled in
    ``[start, end]`` — what daily, monthly, quarterly and annual clearing would mean."""
    params = params or ClearingParams()
    with unit_of_work(engine) as session:
        connection = session.connection()
        lines = operational_lines()
        lines = lines.filter(
            (lines.setl_day >= epoch_day(start)) & (lines.setl_day <= epoch_day(end))
        )
        days = fetch(batch.hospital_days(lines), connection)
    return advance_comparison(days, params)


def unbalanced_postings(engine: Engine) -> list[dict[str, Any]]:
    """Postings of either journal whose legs do not sum to zero (should be none)."""
    out: list[dict[str, Any]] = []
    with unit_of_work(engine) as session:
        for journal, legs in (("ledger", "ledger_legs"), ("clearing", "clearing_legs")):
            rows = session.execute(
                text(
                    f"SELECT posting_id, SUM(amount) FROM {legs} GROUP BY posting_id "
                    f"HAVING SUM(amount) <> 0 ORDER BY posting_id"
                )
            ).all()
            out.extend({"journal": journal, "posting_id": r[0], "sum": int(r[1])} for r in rows)
    return out


def account_balances(engine: Engine, prefix: str = "") -> dict[str, int]:
    """Non-zero balances of both journals by account (positive: debit), by prefix."""
    with unit_of_work(engine) as session:
        out: dict[str, int] = {}
        for legs in ("ledger_legs", "clearing_legs"):
            rows = session.execute(
                text(
                    f"SELECT account, SUM(amount) FROM {legs} WHERE account LIKE :p "
                    f"GROUP BY account"
                ),
                {"p": prefix + "%"},
            ).all()
            for account, amount in rows:
                out[account] = out.get(account, 0) + int(amount)
        return {k: v for k, v in sorted(out.items()) if v != 0}


def to_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)
