"""Prepayment (预付金) use cases: quotas, adjustments, emergency top-ups, usage warnings.

Two levels (domain-rules §4): ``national`` — an insuring province's float at a treating
province (payer and payee are province codes); ``provincial`` — a pooling region's
remittance to its own province (payee is the province). Every change of a quota posts
balanced legs to the clearing journal (``domain.clearing.ledger.prepay_legs``).

Usage is assessed after every clearing run for the month in which the run's period
ends: the amounts cleared in that month (a quarterly or annual run counts as its
monthly average) ÷ the quota of that year. Warnings are stored and shown by the CLI and
the API; they never block a settlement.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from medroam.batch.clearing import with_provinces
from medroam.batch.engine import fetch, operational_lines
from medroam.batch.lines import day_date, epoch_day
from medroam.domain.calendar import DEFAULT_CALENDAR, WorkingDayCalendar
from medroam.domain.clearing.funds import FUND_PAYMENT_LINES
from medroam.domain.clearing.ledger import prepay_legs
from medroam.domain.clearing.params import PrepayParams, QuotaBasis
from medroam.domain.clearing.periods import ClearingError, month_period
from medroam.domain.clearing.prepayment import WarningLevel, annual_quota, assess
from medroam.domain.money import div_round
from medroam.services.clearing import check_region, post
from medroam.services.uow import unit_of_work
from medroam.store.tables import (
    ClearingRunRow,
    PrepayEventRow,
    PrepayQuotaRow,
    PrepayWarningRow,
    RunMatrixRow,
    RunRegionRow,
)

LEVELS = ("national", "provincial")
_MONTHS = {"daily": 1, "monthly": 1, "quarterly": 3, "annual": 12}


def _check_pair(level: str, payer: str, payee: str) -> None:
    if level not in LEVELS:
        raise ClearingError(f"unknown prepayment level {level!r}; use national or provincial")
    check_region(payer, what="payer")
    check_region(payee, what="payee")
    if level == "national":
        if not (payer.endswith("0000") and payee.endswith("0000")) or payer == payee:
            raise ClearingError("a national prepayment is between two different provinces")
    elif not payee.endswith("0000") or payer[:2] != payee[:2] or payer == payee:
        raise ClearingError("a provincial prepayment is from a pooling region to its province")


def _quota_row(
    session: Session, year: int, level: str, payer: str, payee: str
) -> PrepayQuotaRow | None:
    return session.execute(
        select(PrepayQuotaRow).where(
            PrepayQuotaRow.year == year,
            PrepayQuotaRow.level == level,
            PrepayQuotaRow.payer == payer,
            PrepayQuotaRow.payee == payee,
        )
    ).scalar_one_or_none()


def _change(
    session: Session,
    year: int,
    level: str,
    payer: str,
    payee: str,
    delta: int,
    kind: str,
    reason: str,
    now: datetime,
    params: PrepayParams,
) -> dict[str, Any]:
    row = _quota_row(session, year, level, payer, payee)
    if row is None:
        row = PrepayQuotaRow(
            year=year,
            level=level,
            payer=payer,
            payee=payee,
            amount_fen=0,
            basis=params.basis.value,
            months=params.months,
            updated_at=now,
        )
        session.add(row)
        session.flush()
    new_amount = row.amount_fen + delta
    if new_amount < 0:
        raise ClearingError(
            f"the prepayment {payer}>{payee} {year} would become negative ({new_amount} fen)"
        )
    posting_id = 0
    if delta != 0:
        posting_id = post(
            session,
            "prepay",
            f"{level}:{payer}>{payee}:{year}",
            f"{kind}: {reason}",
            prepay_legs(level, payer, payee, delta),
            now=now,
        )
    row.amount_fen = new_amount
    row.updated_at = now
    session.add(
        PrepayEventRow(
            quota_id=row.quota_id,
            kind=kind,
            delta_fen=delta,
            reason=reason,
            posting_id=posting_id,
            at=now,
        )
    )
    session.flush()
    return _quota_dict(row)


def _quota_dict(row: PrepayQuotaRow) -> dict[str, Any]:
    return {
        "year": row.year,
        "level": row.level,
        "payer": row.payer,
        "payee": row.payee,
        "quota_fen": int(row.amount_fen),
        "basis": row.basis,
        "months": row.months,
    }


def set_quota(
    engine: Engine,
    year: int,
    level: str,
    payer: str,
    payee: str,
    amount: int,
    *,
    now: datetime,
    reason: str = "annual quota",
    params: PrepayParams | None = None,
) -> dict[str, Any]:
    """Issue (or re-set) a quota to ``amount`` fen: posts the difference. Refuses a
    negative amount."""
    params = params or PrepayParams()
    if amount < 0:
        raise ClearingError(f"a prepayment cannot be negative: {amount} fen")
    _check_pair(level, payer, payee)
    with unit_of_work(engine) as session:
        row = _quota_row(session, year, level, payer, payee)
        current = 0 if row is None else int(row.amount_fen)
        kind = "issue" if row is None else "adjust"
        return _change(
            session, year, level, payer, payee, amount - current, kind, reason, now, params
        )


def adjust(
    engine: Engine,
    year: int,
    level: str,
    payer: str,
    payee: str,
    delta: int,
    *,
    now: datetime,
    reason: str,
    params: PrepayParams | None = None,
) -> dict[str, Any]:
    """Add ``delta`` fen (negative: refund) to an existing quota."""
    params = params or PrepayParams()
    _check_pair(level, payer, payee)
    with unit_of_work(engine) as session:
        if _quota_row(session, year, level, payer, payee) is None:
            raise ClearingError(f"no {level} prepayment {payer}>{payee} for {year}")
        return _change(session, year, level, payer, payee, delta, "adjust", reason, now, params)


def topup(
    engine: Engine,
    year: int,
    level: str,
    payer: str,
    payee: str,
    *,
    now: datetime,
    amount: int | None = None,
    params: PrepayParams | None = None,
) -> dict[str, Any]:
    """The emergency top-up (紧急调增) after a red warning: the recommended amount of the
    latest red warning of the pair, unless ``amount`` is given."""
    with unit_of_work(engine) as session:
        return topup_in(session, year, level, payer, payee, now=now, amount=amount, params=params)


def topup_in(
    session: Session,
    year: int,
    level: str,
    payer: str,
    payee: str,
    *,
    now: datetime,
    amount: int | None = None,
    params: PrepayParams | None = None,
    reason: str = "emergency top-up",
) -> dict[str, Any]:
    """:func:`topup` inside the caller's unit of work (the console records the top-up's
    tracking and its log entry in the same transaction)."""
    params = params or PrepayParams()
    _check_pair(level, payer, payee)
    if amount is None:
        latest = (
            session.execute(
                select(PrepayWarningRow)
                .where(
                    PrepayWarningRow.level == level,
                    PrepayWarningRow.payer == payer,
                    PrepayWarningRow.payee == payee,
                    PrepayWarningRow.warning == WarningLevel.RED.value,
                )
                .order_by(PrepayWarningRow.month.desc())
            )
            .scalars()
            .first()
        )
        if latest is None:
            raise ClearingError(f"no red warning for {payer}>{payee}: give an amount")
        amount = int(latest.topup_fen)
    if amount <= 0:
        raise ClearingError(f"a top-up must be positive: {amount} fen")
    return _change(session, year, level, payer, payee, amount, "topup", reason, now, params)


def prior_year_totals(
    engine: Engine, year: int, params: PrepayParams | None = None
) -> list[dict[str, Any]]:
    """Cleared amounts of ``year - 1`` per national pair and per provincial pair, from
    the clearing lines that runs have cleared (basis: fund payments or all cleared)."""
    params = params or PrepayParams()
    start, end = epoch_day(date(year - 1, 1, 1)), epoch_day(date(year - 1, 12, 31))
    with unit_of_work(engine) as session:
        connection = session.connection()
        lines = operational_lines()
        lines = lines.filter(
            lines.run_id.notnull() & (lines.setl_day >= start) & (lines.setl_day <= end)
        )
        if params.basis is QuotaBasis.FUND_PAYMENT:
            lines = lines.filter(lines.fund_line.isin(sorted(f.value for f in FUND_PAYMENT_LINES)))
        t = with_provinces(lines)
        t = t.filter(t.insured_province != t.treatment_province)
        national = t.group_by(payer=t.insured_province, payee=t.treatment_province).agg(
            total_fen=t.amount_fen.sum().cast("int64")
        )
        provincial = t.group_by(payer=t.insured_region, payee=t.insured_province).agg(
            total_fen=t.amount_fen.sum().cast("int64")
        )
        out = [{"level": "national", **r} for r in fetch(national, connection).to_pylist()] + [
            {"level": "provincial", **r} for r in fetch(provincial, connection).to_pylist()
        ]
    return sorted(out, key=lambda r: (r["level"], r["payer"], r["payee"]))


def compute_quotas(
    engine: Engine,
    year: int,
    *,
    now: datetime,
    params: PrepayParams | None = None,
    apply: bool = True,
) -> list[dict[str, Any]]:
    """Annual quotas from the prior year (§4.2, §4.4): monthly average × ``months``;
    with ``apply`` the difference to each current quota is paid in or refunded."""
    params = params or PrepayParams()
    quotas = []
    for row in prior_year_totals(engine, year, params):
        quota = annual_quota(max(0, int(row["total_fen"])), params)
        quotas.append({**row, "year": year, "quota_fen": quota})
    if apply:
        for q in quotas:
            set_quota(
                engine,
                year,
                q["level"],
                q["payer"],
                q["payee"],
                q["quota_fen"],
                now=now,
                reason=f"quota from {year - 1}: {params.months} months of {params.basis.value}",
                params=params,
            )
    return quotas


def list_quotas(engine: Engine, year: int | None = None) -> list[dict[str, Any]]:
    with unit_of_work(engine) as session:
        q = select(PrepayQuotaRow).order_by(
            PrepayQuotaRow.year, PrepayQuotaRow.level, PrepayQuotaRow.payer, PrepayQuotaRow.payee
        )
        if year is not None:
            q = q.where(PrepayQuotaRow.year == year)
        return [_quota_dict(r) for r in session.execute(q).scalars()]


def month_cleared(session: Session, year: int, month: int) -> dict[tuple[str, str, str], int]:
    """Cleared amounts of a month per (level, payer, payee): runs whose period ends in the
    month; a quarterly or annual run counts as its monthly average."""
    period = month_period(year, month)
    start, end = epoch_day(period.start), epoch_day(period.end)
    in_month = (ClearingRunRow.end_day >= start) & (ClearingRunRow.end_day <= end)
    out: dict[tuple[str, str, str], int] = {}
    rows = session.execute(
        select(
            ClearingRunRow.cycle,
            RunMatrixRow.insured_province,
            RunMatrixRow.treatment_province,
            func.sum(RunMatrixRow.amount_fen),
        )
        .join(RunMatrixRow, RunMatrixRow.run_id == ClearingRunRow.run_id)
        .where(in_month, RunMatrixRow.insured_province != RunMatrixRow.treatment_province)
        .group_by(
            ClearingRunRow.cycle, RunMatrixRow.insured_province, RunMatrixRow.treatment_province
        )
    ).all()
    for cycle, payer, payee, amount in rows:
        key = ("national", payer, payee)
        out[key] = out.get(key, 0) + div_round(int(amount), _MONTHS[cycle])
    rows = session.execute(
        select(
            ClearingRunRow.cycle,
            RunRegionRow.region,
            RunRegionRow.province,
            func.sum(RunRegionRow.inter_payable),
        )
        .join(RunRegionRow, RunRegionRow.run_id == ClearingRunRow.run_id)
        .where(in_month)
        .group_by(ClearingRunRow.cycle, RunRegionRow.region, RunRegionRow.province)
    ).all()
    for cycle, region, province, amount in rows:
        if int(amount) == 0:
            continue
        key = ("provincial", region, province)
        out[key] = out.get(key, 0) + div_round(int(amount), _MONTHS[cycle])
    return out


def assess_month(
    session: Session,
    year: int,
    month: int,
    *,
    now: datetime,
    params: PrepayParams | None = None,
    calendar: WorkingDayCalendar = DEFAULT_CALENDAR,
) -> list[dict[str, Any]]:
    """Assess every pair with a quota or with money cleared in the month; store it."""
    params = params or PrepayParams()
    label = f"{year:04d}-{month:02d}"
    cleared = month_cleared(session, year, month)
    quotas = {
        (r.level, r.payer, r.payee): int(r.amount_fen)
        for r in session.execute(
            select(PrepayQuotaRow).where(PrepayQuotaRow.year == year)
        ).scalars()
    }
    warned_on = month_period(year, month).end
    out = []
    for key in sorted(cleared.keys() | quotas.keys()):
        level, payer, payee = key
        w = assess(
            payer,
            payee,
            label,
            cleared.get(key, 0),
            quotas.get(key, 0),
            params,
            calendar=calendar,
            warned_on=warned_on,
        )
        row = session.execute(
            select(PrepayWarningRow).where(
                PrepayWarningRow.level == level,
                PrepayWarningRow.payer == payer,
                PrepayWarningRow.payee == payee,
                PrepayWarningRow.month == label,
            )
        ).scalar_one_or_none()
        if row is None:
            row = PrepayWarningRow(level=level, payer=payer, payee=payee, month=label)
            session.add(row)
        row.cleared_fen = w.cleared
        row.quota_fen = w.quota
        row.rate = w.rate
        row.warning = w.level.value
        row.topup_fen = w.topup
        row.topup_due = w.topup_due
        row.updated_at = now
        out.append({"level": level, **w.as_dict()})
    session.flush()
    return out


def assess_after_run(session: Session, run: ClearingRunRow, *, now: datetime) -> None:
    end = day_date(run.end_day)
    assess_month(session, end.year, end.month, now=now)


def _warning_dict(r: PrepayWarningRow) -> dict[str, Any]:
    return {
        "level": r.level,
        "payer": r.payer,
        "payee": r.payee,
        "month": r.month,
        "cleared_fen": int(r.cleared_fen),
        "quota_fen": int(r.quota_fen),
        "usage_rate": None if r.rate is None else f"{r.rate / 100:.2f}%",
        "warning": r.warning,
        "topup_fen": int(r.topup_fen),
        "topup_due": None if r.topup_due is None else r.topup_due.isoformat(),
    }


def warnings_for_run(session: Session, run: ClearingRunRow) -> list[dict[str, Any]]:
    end = day_date(run.end_day)
    label = f"{end.year:04d}-{end.month:02d}"
    rows = session.execute(
        select(PrepayWarningRow)
        .where(PrepayWarningRow.month == label, PrepayWarningRow.warning != "none")
        .order_by(PrepayWarningRow.level, PrepayWarningRow.payer, PrepayWarningRow.payee)
    ).scalars()
    return [_warning_dict(r) for r in rows]


def warnings(
    engine: Engine,
    *,
    month: str | None = None,
    levels: Sequence[str] = ("yellow", "red"),
) -> list[dict[str, Any]]:
    """Stored usage warnings (default: yellow and red), optionally for one ``YYYY-MM``."""
    with unit_of_work(engine) as session:
        q = select(PrepayWarningRow).where(PrepayWarningRow.warning.in_(list(levels)))
        if month is not None:
            q = q.where(PrepayWarningRow.month == month)
        q = q.order_by(
            PrepayWarningRow.month,
            PrepayWarningRow.level,
            PrepayWarningRow.payer,
            PrepayWarningRow.payee,
        )
        return [_warning_dict(r) for r in session.execute(q).scalars()]
