"""Clearing commands: ``clear`` (a command), and the ``prepay``, ``statements`` and
``reconcile`` groups.

Mount in ``cli/main.py``::

    from medroam.cli.clearing import clear, prepay, reconcile, statements
    app.command("clear")(clear)
    app.add_typer(prepay, name="prepay")
    app.add_typer(statements, name="statements")
    app.add_typer(reconcile, name="reconcile")

Every command opens the database given by ``--db`` (default env ``MEDROAM_DB``, else
``sqlite:///./medroam.db``), migrates it, runs one service call and prints Rich tables,
or JSON with ``--json``. Bad input prints one line and exits with code 2; a database
that cannot be used exits with code 1. Amounts on the command line are yuan with at
most two decimals; JSON output carries fen.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from medroam.cli.common import DbOpt, console, database, fail
from medroam.domain.calendar import CalendarError
from medroam.domain.clearing.params import (
    ClearingParams,
    MonthBasis,
    Netting,
    PrepayParams,
    QuotaBasis,
)
from medroam.domain.clearing.periods import ClearingError, parse_cycle, parse_period
from medroam.domain.clearing.reconcile import Record, compare
from medroam.domain.money import MoneyError, format_yuan, yuan_to_fen
from medroam.services import clearing as service
from medroam.services import prepayment as prepay_service
from medroam.store.db import database_url

CHINA_TZ = timezone(timedelta(hours=8), "CST")
T = TypeVar("T")

prepay = typer.Typer(
    help="Prepayment funds (预付金): quotas, adjustments, top-ups, usage warnings.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
statements = typer.Typer(
    help="Clearing statements (清算单), runs, hospital cash flow and line exports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
reconcile = typer.Typer(
    help="Reconciliation between regions (对账): propose, confirm, dispute, compare.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
CycleOpt = Annotated[str, typer.Option("--cycle", help="daily, monthly, quarterly or annual.")]
PeriodOpt = Annotated[
    str, typer.Option("--period", help="2026-10-15 | 2026-10 | 2026Q4 | 2026 (by cycle).")
]
ScopeOpt = Annotated[
    str | None,
    typer.Option(
        "--scope", help="all, funds or mutual_aid (default: all when monthly).", show_default=False
    ),
]
AtOpt = Annotated[
    str | None,
    typer.Option("--at", hidden=True, help="Moment of the action (ISO 8601; default now)."),
]


def _now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(CHINA_TZ)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--at: {value!r} is not an ISO 8601 date-time")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=CHINA_TZ)


def _date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option}: {value!r} is not a date (YYYY-MM-DD)")


def _fen(value: str, option: str) -> int:
    try:
        return yuan_to_fen(value, field=option)
    except MoneyError as exc:
        fail(str(exc))


def _run(db: str | None, action: Callable[[Engine], T]) -> T:
    try:
        with database(db) as engine:
            return action(engine)
    except (ClearingError, CalendarError, MoneyError) as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        fail(f"database {database_url(db)}: {first[0] if first else type(exc).__name__}", code=1)


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _yuan(fen: int | None) -> str:
    return "" if fen is None else format_yuan(fen)


def _warnings_table(rows: list[dict[str, Any]], title: str = "Prepayment warnings") -> Table:
    table = Table(title=title)
    for column in (
        "level",
        "payer",
        "payee",
        "month",
        "cleared",
        "quota",
        "usage",
        "warning",
        "top-up",
        "by",
    ):
        table.add_column(column)
    for w in rows:
        colour = {"red": "bold red", "yellow": "yellow"}.get(w["warning"], "")
        table.add_row(
            w["level"],
            w["payer"],
            w["payee"],
            w["month"],
            _yuan(w["cleared_fen"]),
            _yuan(w["quota_fen"]),
            w["usage_rate"] or "—",
            f"[{colour}]{w['warning']}[/]" if colour else w["warning"],
            _yuan(w["topup_fen"]) if w["topup_fen"] else "",
            w["topup_due"] or "",
        )
    return table


@contextmanager
def _progress(enabled: bool) -> Iterator[service.Progress]:
    if not enabled:
        yield lambda _s, _d, _t: None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("clearing", total=1)

        def report(step: str, done: int, total: int) -> None:
            bar.update(task, description=step, completed=done, total=total)

        yield report


# --- clear ----------------------------------------------------------------------------


def clear(
    cycle: CycleOpt = "monthly",
    period: PeriodOpt = "",
    scope: ScopeOpt = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Today (default: the real date).", show_default=False),
    ] = None,
    netting: Annotated[str, typer.Option("--netting", help="net or gross transfers.")] = "net",
    month_basis: Annotated[
        str, typer.Option("--month-basis", help="settlement or confirmation date.")
    ] = "settlement",
    deadline: Annotated[
        int, typer.Option("--payment-deadline-wd", help="Working days to pay a hospital.")
    ] = 30,
    verify: Annotated[
        bool, typer.Option("--verify", help="Recompute the run and compare.")
    ] = False,
    as_json: JsonOpt = False,
    db: DbOpt = None,
    at: AtOpt = None,
) -> None:
    """Clear a period: national clear-split, provincial tiers, hospital payments."""
    if not period:
        fail("missing option --period")
    now = _now(at)
    today = _date(as_of, "--as-of") if as_of else now.date()
    try:
        params = ClearingParams(
            netting=Netting(netting),
            month_basis=MonthBasis(month_basis),
            payment_deadline_wd=deadline,
        )
    except ValueError as exc:
        fail(f"clearing parameters: {exc}")

    def action(engine: Engine) -> tuple[service.RunSummary, list[str] | None]:
        with _progress(not as_json) as report:
            run = service.clear(
                engine,
                cycle,
                period,
                as_of=today,
                now=now,
                params=params,
                scope=scope,
                progress=report,
            )
        return run, (service.verify_run(engine, run.run_id) if verify else None)

    run, problems = _run(db, action)
    if as_json:
        data = run.as_dict()
        if problems is not None:
            data["verified"] = not problems
            data["differences"] = problems
        _print_json(data)
        return
    state = "cleared" if run.created else "already cleared (nothing changed)"
    console.print(
        f"[bold]{run.run_id}[/] {state}: {run.line_count} lines, {_yuan(run.amount_fen)} yuan; "
        f"hospitals apply {run.applied_on}, paid by {run.due_on}"
    )
    funds = Table(title="Fund lines")
    funds.add_column("fund line")
    funds.add_column("amount", justify="right")
    for line, amount in run.fund_lines.items():
        funds.add_row(line, _yuan(amount))
    console.print(funds)
    table = Table(title="National clear-split (net: + receives, − pays)")
    for column in ("province", "payable", "receivable", "net"):
        table.add_column(column, justify="right" if column != "province" else "left")
    for p in run.provinces:
        table.add_row(
            p["province"], _yuan(p["payable_fen"]), _yuan(p["receivable_fen"]), _yuan(p["net_fen"])
        )
    console.print(table)
    if run.warnings:
        console.print(_warnings_table(list(run.warnings)))
    if problems is not None:
        console.print("verified: reproduced exactly" if not problems else "\n".join(problems))
        if problems:
            raise typer.Exit(1)


# --- prepay ---------------------------------------------------------------------------

LevelOpt = Annotated[
    str,
    typer.Option("--level", help="national (province→province) or provincial (region→province)."),
]
PayerOpt = Annotated[str, typer.Option("--payer", help="Insuring province (or pooling region).")]
PayeeOpt = Annotated[
    str, typer.Option("--payee", help="Treating province (or the region's province).")
]
YearOpt = Annotated[int, typer.Option("--year", help="Quota year.")]


def _quota_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Prepayment quotas")
    for column in ("year", "level", "payer", "payee", "quota", "basis", "months"):
        table.add_column(column)
    for q in rows:
        table.add_row(
            str(q["year"]),
            q["level"],
            q["payer"],
            q["payee"],
            _yuan(q.get("quota_fen")),
            str(q.get("basis", "")),
            str(q.get("months", "")),
        )
    return table


@prepay.command("compute")
def prepay_compute(
    year: YearOpt,
    months: Annotated[int, typer.Option("--months", help="Months of prior-year average.")] = 2,
    basis: Annotated[
        str, typer.Option("--basis", help="fund_payment or cleared.")
    ] = "fund_payment",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Compute, post nothing.")] = False,
    as_json: JsonOpt = False,
    db: DbOpt = None,
    at: AtOpt = None,
) -> None:
    """Annual quotas from the prior year's cleared cross-province amounts."""
    try:
        params = PrepayParams(months=months, basis=QuotaBasis(basis))
    except ValueError as exc:
        fail(f"prepayment parameters: {exc}")
    now = _now(at)
    rows = _run(
        db,
        lambda e: prepay_service.compute_quotas(e, year, now=now, params=params, apply=not dry_run),
    )
    if as_json:
        _print_json(rows)
        return
    console.print(_quota_table(rows))


@prepay.command("set")
def prepay_set(
    year: YearOpt,
    level: LevelOpt = "national",
    payer: PayerOpt = "",
    payee: PayeeOpt = "",
    amount: Annotated[str, typer.Option("--amount", help="Quota in yuan.")] = "",
    reason: Annotated[str, typer.Option("--reason")] = "quota set by hand",
    as_json: JsonOpt = False,
    db: DbOpt = None,
    at: AtOpt = None,
) -> None:
    """Issue or re-set a quota (posts the difference to the ledger)."""
    fen = _fen(amount, "--amount")
    now = _now(at)
    row = _run(
        db,
        lambda e: prepay_service.set_quota(
            e, year, level, payer, payee, fen, now=now, reason=reason
        ),
    )
    _print_json(row) if as_json else console.print(_quota_table([row]))


@prepay.command("adjust")
def prepay_adjust(
    year: YearOpt,
    level: LevelOpt = "national",
    payer: PayerOpt = "",
    payee: PayeeOpt = "",
    delta: Annotated[str, typer.Option("--delta", help="Yuan to add (negative: refund).")] = "",
    reason: Annotated[str, typer.Option("--reason")] = "annual adjustment",
    as_json: JsonOpt = False,
    db: DbOpt = None,
    at: AtOpt = None,
) -> None:
    """Add to (or refund from) a quota."""
    fen = _fen(delta, "--delta")
    now = _now(at)
    row = _run(
        db,
        lambda e: prepay_service.adjust(e, year, level, payer, payee, fen, now=now, reason=reason),
    )
    _print_json(row) if as_json else console.print(_quota_table([row]))


@prepay.command("topup")
def prepay_topup(
    year: YearOpt,
    level: LevelOpt = "national",
    payer: PayerOpt = "",
    payee: PayeeOpt = "",
    amount: Annotated[
        str | None, typer.Option("--amount", help="Yuan (default: recommended).")
    ] = None,
    as_json: JsonOpt = False,
    db: DbOpt = None,
    at: AtOpt = None,
) -> None:
    """The emergency top-up (紧急调增) after a red warning."""
    fen = None if amount is None else _fen(amount, "--amount")
    now = _now(at)
    row = _run(
        db, lambda e: prepay_service.topup(e, year, level, payer, payee, now=now, amount=fen)
    )
    _print_json(row) if as_json else console.print(_quota_table([row]))


@prepay.command("list")
def prepay_list(
    year: Annotated[int | None, typer.Option("--year")] = None,
    as_json: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """The quotas (of a year)."""
    rows = _run(db, lambda e: prepay_service.list_quotas(e, year))
    _print_json(rows) if as_json else console.print(_quota_table(rows))


@prepay.command("warnings")
def prepay_warnings(
    month: Annotated[str | None, typer.Option("--month", help="YYYY-MM")] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Include pairs without a warning.")
    ] = False,
    as_json: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Usage warnings (yellow ≥ 70 %, red ≥ 90 %). They never block a settlement."""
    levels = ("none", "yellow", "red") if show_all else ("yellow", "red")
    rows = _run(db, lambda e: prepay_service.warnings(e, month=month, levels=levels))
    _print_json(rows) if as_json else console.print(_warnings_table(rows))


# --- statements -----------------------------------------------------------------------


@statements.command("write")
def statements_write(
    cycle: CycleOpt = "monthly",
    period: PeriodOpt = "",
    scope: ScopeOpt = None,
    out: Annotated[Path, typer.Option("--out", help="Directory for the statements.")] = Path(
        "statements"
    ),
    formats: Annotated[
        str, typer.Option("--format", help="Comma list of csv, json, html.")
    ] = "csv,json,html",
    party: Annotated[str | None, typer.Option("--party", help="One party only (code).")] = None,
    as_json: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Write the statements of a run for every party (national, provinces, regions,
    hospitals) as CSV, JSON and HTML."""
    if not period:
        fail("missing option --period")
    wanted = [f.strip() for f in formats.split(",") if f.strip()]

    def action(engine: Engine) -> list[Path]:
        with _progress(not as_json) as report:
            return service.write_statements(
                engine,
                cycle,
                period,
                out,
                scope=scope,
                formats=wanted,
                party=party,
                progress=report,
            )

    written = _run(db, action)
    if as_json:
        _print_json([str(p) for p in written])
        return
    console.print(f"{len(written)} files written under {written[0].parent if written else out}")


@statements.command("show")
def statements_show(
    cycle: CycleOpt = "monthly",
    period: PeriodOpt = "",
    party: Annotated[
        str, typer.Option("--party", help="000000, a province, region or hospital.")
    ] = "000000",
    scope: ScopeOpt = None,
    db: DbOpt = None,
) -> None:
    """Print one party's statement as JSON."""
    if not period:
        fail("missing option --period")
    _print_json(_run(db, lambda e: service.statement_for(e, cycle, period, party, scope)))


@statements.command("runs")
def statements_runs(as_json: JsonOpt = False, db: DbOpt = None) -> None:
    """The clearing runs made so far."""
    rows = _run(db, service.list_runs)
    if as_json:
        _print_json(rows)
        return
    table = Table(title="Clearing runs")
    for column in ("run_id", "cycle", "period", "scope", "lines", "amount", "hospitals paid by"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["run_id"],
            r["cycle"],
            r["period"],
            r["scope"],
            str(r["lines"]),
            _yuan(r["amount_fen"]),
            r["due_on"],
        )
    console.print(table)


@statements.command("cashflow")
def statements_cashflow(
    start: Annotated[str, typer.Option("--from", help="First settlement date.")] = "",
    end: Annotated[str, typer.Option("--to", help="Last settlement date.")] = "",
    hospital: Annotated[str | None, typer.Option("--hospital", help="One hospital.")] = None,
    as_json: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Hospital advance days (垫支天数) under daily, monthly, quarterly and annual clearing."""
    first, last = _date(start, "--from"), _date(end, "--to")
    rows = _run(db, lambda e: service.hospital_cash_flow(e, first, last))
    rows = [r for r in rows if hospital is None or r["fixmedins_code"] in (hospital, "*")]
    if as_json:
        _print_json(rows)
        return
    table = Table(title=f"Advance days, settlements {first} – {last} (* = all hospitals)")
    for column in ("hospital", "amount", "daily", "monthly", "quarterly", "annual"):
        table.add_column(column)
    by: dict[str, dict[str, Any]] = {}
    for r in rows:
        entry = by.setdefault(r["fixmedins_code"], {"amount": r["amount_fen"]})
        entry[r["cycle"]] = r["advance_days"]
    for code, e in sorted(by.items()):
        table.add_row(
            code,
            _yuan(e["amount"]),
            *(str(e.get(c, "")) for c in ("daily", "monthly", "quarterly", "annual")),
        )
    console.print(table)


@statements.command("export-lines")
def statements_export(
    out: Annotated[Path, typer.Option("--out", help="Parquet file to write.")] = Path(
        "clearing-lines.parquet"
    ),
    db: DbOpt = None,
) -> None:
    """Export the clearing lines to Parquet (for DuckDB or any Arrow tool)."""
    rows = _run(db, lambda e: service.export_lines(e, out))
    console.print(f"{rows} clearing lines written to {out}")


# --- reconcile ------------------------------------------------------------------------


@reconcile.command("propose")
def reconcile_propose(
    cycle: CycleOpt = "monthly",
    period: PeriodOpt = "",
    region: Annotated[
        str, typer.Option("--region", help="Place of treatment (000000: all).")
    ] = "000000",
    as_json: JsonOpt = False,
    db: DbOpt = None,
    at: AtOpt = None,
) -> None:
    """The place of treatment proposes a period's cross-region settlements (3260)."""
    if not period:
        fail("missing option --period")
    now = _now(at)

    def action(engine: Engine) -> service.Proposal:
        return service.propose(
            engine, parse_period(parse_cycle(cycle), period), now=now, treatment_scope=region
        )

    p = _run(db, action)
    if as_json:
        _print_json(p.as_dict())
        return
    console.print(
        f"{p.batch_id}: {p.proposed} new items; {p.carried} disputed items carried over; "
        f"fund {_yuan(p.fund_fen)} yuan, account {_yuan(p.acct_fen)} yuan"
    )


SetlOpt = Annotated[list[str] | None, typer.Option("--setl-id", help="Settlement id (repeatable).")]


@reconcile.command("confirm")
def reconcile_confirm(
    setl_id: SetlOpt = None,
    insured_region: Annotated[str | None, typer.Option("--insured-region")] = None,
    batch: Annotated[str | None, typer.Option("--batch")] = None,
    db: DbOpt = None,
    at: AtOpt = None,
) -> None:
    """The place of insurance confirms items (3261): named ones, or all of a region/batch."""
    now = _now(at)
    n = _run(
        db,
        lambda e: service.confirm(
            e, now=now, setl_ids=setl_id, insured_region=insured_region, batch_id=batch
        ),
    )
    console.print(f"{n} items confirmed")


@reconcile.command("dispute")
def reconcile_dispute(
    setl_id: SetlOpt = None,
    reason: Annotated[str, typer.Option("--reason")] = "",
    db: DbOpt = None,
    at: AtOpt = None,
) -> None:
    """Dispute items: they are held out of clearing and carried over until resolved."""
    if not setl_id:
        fail("name the items with --setl-id")
    now = _now(at)
    n = _run(db, lambda e: service.dispute(e, setl_id, reason, now=now))
    console.print(f"{n} items disputed")


@reconcile.command("withdraw")
def reconcile_withdraw(setl_id: SetlOpt = None, db: DbOpt = None, at: AtOpt = None) -> None:
    """Withdraw disputed items (they never clear)."""
    if not setl_id:
        fail("name the items with --setl-id")
    now = _now(at)
    console.print(f"{_run(db, lambda e: service.withdraw(e, setl_id, now=now))} items withdrawn")


@reconcile.command("rollback")
def reconcile_rollback(
    batch: Annotated[str, typer.Option("--batch")] = "", db: DbOpt = None, at: AtOpt = None
) -> None:
    """Roll back the uncleared confirmations of a batch (3262)."""
    now = _now(at)
    console.print(
        f"{_run(db, lambda e: service.rollback(e, now=now, batch_id=batch))} items reopened"
    )


@reconcile.command("open")
def reconcile_open(
    state: Annotated[str, typer.Option("--state")] = "disputed",
    as_json: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Items in a state (default: disputed, i.e. carried into the next cycle)."""
    rows = _run(db, lambda e: service.open_items(e, state=state))
    if as_json:
        _print_json(rows)
        return
    table = Table(title=f"Items {state}")
    for column in (
        "setl_id",
        "insured",
        "treatment",
        "hospital",
        "date",
        "fund",
        "account",
        "reason",
    ):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["setl_id"],
            r["insured_region"],
            r["treatment_region"],
            r["fixmedins_code"],
            r["setl_date"],
            _yuan(r["fund_fen"]),
            _yuan(r["acct_fen"]),
            r["reason"] or "",
        )
    console.print(table)


def _read_records(path: Path) -> list[Record]:
    """3202 detail file rows: setl_id, mdtrt_id, psn_no, medfee_sumamt, fund_pay_sumamt,
    acct_pay, refd_setl_flag (TAB-separated, amounts in yuan)."""
    records = []
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for n, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
                if not row or not row[0].strip():
                    continue
                if len(row) < 7:
                    fail(f"{path}: line {n} has {len(row)} fields, expected 7")
                records.append(
                    Record(
                        row[0].strip(),
                        _fen(row[3], f"{path}:{n} medfee_sumamt"),
                        _fen(row[4], f"{path}:{n} fund_pay_sumamt"),
                        _fen(row[5], f"{path}:{n} acct_pay"),
                        row[6].strip() == "1",
                    )
                )
    except OSError as exc:
        fail(f"{path}: {exc.strerror}")
    return records


@reconcile.command("compare")
def reconcile_compare(
    ours: Annotated[Path, typer.Option("--ours", help="Our 3202 detail file (TSV).")],
    theirs: Annotated[Path, typer.Option("--theirs", help="Their 3202 detail file (TSV).")],
    as_json: JsonOpt = False,
) -> None:
    """List every mismatch between two 3202 detail files, by setl_id."""
    found = compare(_read_records(ours), _read_records(theirs))
    if as_json:
        _print_json([m.as_dict() for m in found])
    else:
        table = Table(title=f"{len(found)} mismatches" if found else "balanced (对账平)")
        for column in ("setl_id", "refd", "kind", "fields"):
            table.add_column(column)
        for m in found:
            table.add_row(m.setl_id, "1" if m.refd else "0", m.kind.value, ",".join(m.fields))
        console.print(table)
    if found:
        raise typer.Exit(3)
