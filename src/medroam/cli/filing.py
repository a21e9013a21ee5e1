"""``medroam filing ...``: file, change, cancel and query 备案.

Every command opens the database given by ``--db`` (default: env ``MEDROAM_DB``, else
``sqlite:///./medroam.db``), migrates it if needed, runs one service call and prints a
Rich table, or JSON with ``--json``. Bad input prints one line and exits with code 2;
a database that cannot be used exits with code 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from medroam.cli.common import DbOpt, console, database, fail
from medroam.domain.codes import FilingType
from medroam.domain.filing import (
    Filing,
    FilingChanges,
    FilingChannel,
    FilingError,
    FilingEvent,
    FilingRequest,
    check_rules,
)
from medroam.domain.policy import FilingRules
from medroam.services import filings as service
from medroam.store.db import database_url
from medroam.store.filings import StaleFilingError, filing_to_record

# China keeps one time zone without daylight saving: UTC+8 is exact.
CHINA_TZ = timezone(timedelta(hours=8), "CST")

app = typer.Typer(
    help="File, change, cancel and query cross-region filings (异地就医备案).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

T = TypeVar("T")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
LockOpt = Annotated[
    int | None,
    typer.Option(
        "--lock-months",
        help="Months a long-term filing stands before change or cancel (0-6; default 6).",
        show_default=False,
    ),
]
TempOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--temp-months",
        help="Validity of temporary filings in months: N for every temporary type, or "
        "TYPE=N (repeatable; default 6).",
        show_default=False,
    ),
]
GranularityOpt = Annotated[
    str,
    typer.Option("--granularity", help="What a destination names: city or province."),
]
AtOpt = Annotated[
    str | None,
    typer.Option(
        "--at",
        hidden=True,
        help="Moment of the action (ISO 8601; default now, Beijing time).",
    ),
]
ChannelOpt = Annotated[
    str,
    typer.Option(
        "--channel",
        help="national_app, mini_program, gov_app, counter, phone or hospital.",
    ),
]


# --- parsing (every failure is one clear line, exit code 2) ---------------------------


def _required(value: str | None, option: str) -> str:
    if value is None or not value.strip():
        fail(f"missing option {option}")
    return value.strip()


def _parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option}: {value!r} is not a date (YYYY-MM-DD)")


def _parse_now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(CHINA_TZ)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--at: {value!r} is not an ISO 8601 date-time")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=CHINA_TZ)


def _parse_type(value: str) -> FilingType:
    try:
        return FilingType(value.strip().upper())
    except ValueError:
        fail(f"--type: {value!r} is not a filing type ({', '.join(t.value for t in FilingType)})")


def _parse_channel(value: str) -> FilingChannel:
    try:
        return FilingChannel(value.strip().lower())
    except ValueError:
        fail(f"--channel: {value!r} is not a channel ({', '.join(c.value for c in FilingChannel)})")


def _parse_months(text: str) -> int:
    if not text.strip().isdigit():
        fail(f"--temp-months: {text!r} is not a whole number of months")
    return int(text)


def _rules(
    lock_months: int | None, temp_months: list[str] | None, granularity: str = "city"
) -> FilingRules:
    base = FilingRules(reductions={})  # reductions do not matter to filing itself
    validity = dict(base.temp_validity_months)
    for item in temp_months or []:
        if "=" in item:
            name, _, months = item.partition("=")
            filing_type = _parse_type(name)
            if filing_type.long_term:
                fail(f"--temp-months: {filing_type} is long-term; long-term filings do not lapse")
            validity[filing_type] = _parse_months(months)
        else:
            months_all = _parse_months(item)
            validity = {t: months_all for t in validity}
    rules = FilingRules(
        reductions={},
        temp_validity_months=validity,
        change_lock_months=base.change_lock_months if lock_months is None else lock_months,
        granularity=granularity.strip().lower(),
    )
    try:
        check_rules(rules)
    except FilingError as exc:
        fail(str(exc))
    return rules


def _run(db: str | None, action: Callable[[Engine], T]) -> T:
    """Open (and migrate) the database, run one service call, map errors to one line."""
    try:
        # filings are where a database may start (README): a new SQLite file is made
        with database(db, existing=False) as engine:
            return action(engine)
    except FilingError as exc:
        fail(str(exc))
    except service.FilingNotFoundError as exc:
        fail(str(exc.args[0]))
    except StaleFilingError as exc:
        fail(f"{exc}; try again", code=1)
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        fail(f"database {database_url(db)}: {first[0] if first else type(exc).__name__}", code=1)


# --- output ---------------------------------------------------------------------------


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _until(filing: Filing) -> str:
    return "long-term (长期)" if filing.valid_to is None else filing.valid_to.isoformat()


def _show(filing: Filing, as_json: bool, title: str = "Filing (备案)") -> None:
    if as_json:
        _echo_json(filing_to_record(filing))
        return
    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    rows = [
        ("filing id", filing.filing_id),
        ("person (psn_no)", filing.psn_no),
        ("insured region (参保地)", filing.insured_region),
        ("type", filing.filing_type.value),
        ("destination (就医地)", filing.destination),
        ("valid from", filing.valid_from.isoformat()),
        ("valid to", _until(filing)),
        ("status", filing.status.value),
        ("version", str(filing.version)),
        ("channel", filing.channel.value),
        ("filed at", filing.filed_at.astimezone(CHINA_TZ).isoformat(timespec="seconds")),
        ("commitment only (承诺制)", "yes" if filing.commitment_only else "no"),
        ("reason", filing.reason),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)


def _show_list(filings: list[Filing], as_json: bool, psn_no: str) -> None:
    if as_json:
        _echo_json([filing_to_record(f) for f in filings])
        return
    table = Table(title=f"Filings of {psn_no}")
    for column in ("filing id", "type", "destination", "from", "to", "status", "v", "channel"):
        table.add_column(column)
    for f in filings:
        table.add_row(
            f.filing_id,
            f.filing_type.value,
            f.destination,
            f.valid_from.isoformat(),
            _until(f),
            f.status.value,
            str(f.version),
            f.channel.value,
        )
    console.print(table)


def _show_history(events: list[FilingEvent], as_json: bool) -> None:
    if as_json:
        _echo_json(
            [
                {
                    "version": e.version,
                    "event": e.event.value,
                    "at": e.at.isoformat(),
                    "channel": e.channel.value,
                    "filing": filing_to_record(e.snapshot),
                }
                for e in events
            ]
        )
        return
    table = Table(title=f"History of filing {events[0].filing_id}")
    for column in ("v", "event", "at", "channel", "type", "destination", "from", "to", "reason"):
        table.add_column(column)
    for e in events:
        s = e.snapshot
        table.add_row(
            str(e.version),
            e.event.value,
            e.at.astimezone(CHINA_TZ).isoformat(timespec="seconds"),
            e.channel.value,
            s.filing_type.value,
            s.destination,
            s.valid_from.isoformat(),
            _until(s),
            s.reason,
        )
    console.print(table)


# --- commands -------------------------------------------------------------------------


@app.command()
def create(
    psn_no: Annotated[
        str | None, typer.Option("--psn", help="Person number (psn_no). Required.")
    ] = None,
    insured_region: Annotated[
        str | None,
        typer.Option("--insured-region", help="Place of insurance (参保地), 6 digits. Required."),
    ] = None,
    filing_type: Annotated[
        str | None,
        typer.Option(
            "--type",
            help="LT_RETIRED, LT_RESIDENT, LT_WORKER, TMP_REFERRAL, TMP_EMERGENCY or TMP_OTHER."
            " Required.",
        ),
    ] = None,
    destination: Annotated[
        str | None,
        typer.Option("--destination", help="Place of treatment (就医地), 6 digits. Required."),
    ] = None,
    valid_from: Annotated[
        str | None,
        typer.Option(
            "--from", help="First valid day (YYYY-MM-DD; default today).", show_default=False
        ),
    ] = None,
    channel: ChannelOpt = "counter",
    commitment_only: Annotated[
        bool,
        typer.Option("--commitment-only", help="Filed on a personal commitment (个人承诺书)."),
    ] = False,
    reason: Annotated[str, typer.Option("--reason", help="Free text kept with the filing.")] = "",
    filing_id: Annotated[
        str | None,
        typer.Option("--id", help="Filing id (default: generated).", show_default=False),
    ] = None,
    granularity: GranularityOpt = "city",
    db: DbOpt = None,
    as_json: JsonOpt = False,
    lock_months: LockOpt = None,
    temp_months: TempOpt = None,
    at: AtOpt = None,
) -> None:
    """File (备案): make a new filing."""
    psn_no = _required(psn_no, "--psn")
    insured_region = _required(insured_region, "--insured-region")
    filing_type = _required(filing_type, "--type")
    destination = _required(destination, "--destination")
    now = _parse_now(at)
    rules = _rules(lock_months, temp_months, granularity)
    request = FilingRequest(
        filing_id=(filing_id or service.new_filing_id()).strip(),
        psn_no=psn_no.strip(),
        insured_region=insured_region.strip(),
        filing_type=_parse_type(filing_type),
        destination=destination.strip(),
        valid_from=now.date() if valid_from is None else _parse_date(valid_from, "--from"),
        channel=_parse_channel(channel),
        commitment_only=commitment_only,
        reason=reason,
    )
    filing = _run(db, lambda engine: service.make_filing(engine, rules, request, now))
    _show(filing, as_json, title="Filed (已备案)")


@app.command()
def change(
    filing_id: Annotated[str, typer.Argument(help="Filing id.")],
    destination: Annotated[
        str | None, typer.Option("--destination", help="New place of treatment (就医地).")
    ] = None,
    filing_type: Annotated[
        str | None, typer.Option("--type", help="New type (within the same category).")
    ] = None,
    valid_from: Annotated[
        str | None, typer.Option("--from", help="New first valid day (YYYY-MM-DD).")
    ] = None,
    commitment_only: Annotated[
        bool | None,
        typer.Option(
            "--commitment-only/--documents-complete",
            help="Mark as filed on a commitment, or the documents as received.",
            show_default=False,
        ),
    ] = None,
    channel: ChannelOpt = "counter",
    reason: Annotated[str, typer.Option("--reason", help="Why the filing changes.")] = "",
    granularity: GranularityOpt = "city",
    db: DbOpt = None,
    as_json: JsonOpt = False,
    lock_months: LockOpt = None,
    temp_months: TempOpt = None,
    at: AtOpt = None,
) -> None:
    """Change a filing (变更备案); makes its next version."""
    now = _parse_now(at)
    rules = _rules(lock_months, temp_months, granularity)
    changes = FilingChanges(
        channel=_parse_channel(channel),
        destination=None if destination is None else destination.strip(),
        filing_type=None if filing_type is None else _parse_type(filing_type),
        valid_from=None if valid_from is None else _parse_date(valid_from, "--from"),
        commitment_only=commitment_only,
        reason=reason,
    )
    filing = _run(db, lambda engine: service.change_filing(engine, rules, filing_id, changes, now))
    _show(filing, as_json, title="Changed (已变更)")


@app.command()
def cancel(
    filing_id: Annotated[str, typer.Argument(help="Filing id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the filing is cancelled.")] = "",
    channel: ChannelOpt = "counter",
    db: DbOpt = None,
    as_json: JsonOpt = False,
    lock_months: LockOpt = None,
    temp_months: TempOpt = None,
    at: AtOpt = None,
) -> None:
    """Cancel a filing (取消备案); it stays valid up to today."""
    now = _parse_now(at)
    rules = _rules(lock_months, temp_months)
    chan = _parse_channel(channel)
    filing = _run(
        db, lambda engine: service.cancel_filing(engine, rules, filing_id, now, reason, chan)
    )
    _show(filing, as_json, title="Cancelled (已取消)")


@app.command()
def show(
    filing_id: Annotated[str, typer.Argument(help="Filing id.")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a filing in its current version."""
    filing = _run(db, lambda engine: service.get_filing(engine, filing_id))
    _show(filing, as_json)


@app.command()
def history(
    filing_id: Annotated[str, typer.Argument(help="Filing id.")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show every version of a filing, oldest first."""
    events = _run(db, lambda engine: service.filing_history(engine, filing_id))
    _show_history(events, as_json)


@app.command("list")
def list_(
    psn_no: Annotated[
        str | None, typer.Option("--psn", help="Person number (psn_no). Required.")
    ] = None,
    active_only: Annotated[
        bool, typer.Option("--active-only", help="Leave out cancelled filings.")
    ] = False,
    valid_on: Annotated[
        str | None,
        typer.Option("--valid-on", help="Only filings valid on this day (YYYY-MM-DD)."),
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List a person's filings, oldest first."""
    psn_no = _required(psn_no, "--psn")
    day = None if valid_on is None else _parse_date(valid_on, "--valid-on")
    filings = _run(
        db,
        lambda engine: service.list_filings(
            engine, psn_no.strip(), active_only=active_only, valid_on=day
        ),
    )
    _show_list(filings, as_json, psn_no.strip())
