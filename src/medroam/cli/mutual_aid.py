"""``medroam mutual-aid grant|end|list``: personal-account mutual aid (个人账户共济).

Every command opens the database given by ``--db`` (default: env ``MEDROAM_DB``, else
``sqlite:///./medroam.db``), migrates it if needed, runs one service call in one
transaction and prints a table (or JSON with ``--json``). Bad input prints one line and
exits with code 2; nothing is written then.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, TypeVar

import typer
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from medroam.cli.common import DbOpt, console, fail, open_database
from medroam.cli.filing import CHINA_TZ
from medroam.domain.money import format_yuan, yuan_to_fen
from medroam.gateway.errors import BusinessError, InputError
from medroam.services import mutual_aid as service
from medroam.services.uow import unit_of_work
from medroam.store.insured_place import SqlInsuredPlace

app = typer.Typer(
    help="Personal-account mutual aid (个人账户共济): grant, end and list relationships.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

T = TypeVar("T")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
OnOpt = Annotated[
    str | None,
    typer.Option("--on", help="Day it takes effect (YYYY-MM-DD; default today, Beijing time).",
                 show_default=False),
]  # fmt: skip

STATUS_NAMES = {"active": "有效", "ended": "已终止"}
REASON_NAMES = {"request": "申请解除", "insurance_changed": "参保关系变更自动解除"}


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        fail(f"{option}: {value!r} is not a date (YYYY-MM-DD)")


def _quota(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        amount = Decimal(value.strip())
    except InvalidOperation:
        fail(f"--quota: {value!r} is not an amount in yuan (e.g. 500.00)")
    if not amount.is_finite() or amount <= 0:
        fail(f"--quota: {value!r} must be a positive amount in yuan with at most two decimals")
    if amount > Decimal("10000000"):
        fail(f"--quota: {value!r} is more than 10,000,000.00 yuan")
    if amount != amount.quantize(Decimal("0.01")):
        fail(f"--quota: {value!r} must be a positive amount in yuan with at most two decimals")
    return yuan_to_fen(str(amount))


def _run(db: str | None, action: Callable[[Session], T]) -> T:
    engine = open_database(db)
    try:
        with unit_of_work(engine) as session:
            return action(session)
    except (InputError, BusinessError) as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        fail(f"database: {first[0] if first else type(exc).__name__}", code=1)
    finally:
        engine.dispose()


def _record(g: service.GrantView) -> dict[str, object]:
    return {
        "grant_id": g.grant_id,
        "holder": g.holder,
        "holder_region": g.holder_region,
        "beneficiary": g.beneficiary,
        "beneficiary_region": g.beneficiary_region,
        "relation": g.relation,
        "relation_name": g.relation_name,
        "quota": format_yuan(g.quota),
        "used": format_yuan(g.used),
        "remaining": format_yuan(g.remaining),
        "valid_from": g.valid_from.isoformat(),
        "valid_to": g.valid_to.isoformat() if g.valid_to else None,
        "status": g.status,
        "end_reason": g.end_reason,
        "returned": format_yuan(g.returned) if g.returned is not None else None,
    }


def _print(grants: list[service.GrantView], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps([_record(g) for g in grants], ensure_ascii=False, indent=2))
        return
    table = Table(title="个人账户共济关系 (mutual-aid grants)")
    for header in ("共济编号", "持有人 (参保地)", "受助人 (参保地)", "关系",
                   "额度/已用/剩余 (元)", "期间", "状态"):  # fmt: skip
        table.add_column(header, overflow="fold")
    for g in grants:
        table.add_row(
            g.grant_id,
            f"{g.holder} ({g.holder_region})",
            f"{g.beneficiary} ({g.beneficiary_region})",
            f"{g.relation_name} {g.relation}",
            f"{format_yuan(g.quota)} / {format_yuan(g.used)} / {format_yuan(g.remaining)}",
            f"{g.valid_from.isoformat()} – {g.valid_to.isoformat() if g.valid_to else ''}",
            STATUS_NAMES.get(g.status, g.status)
            + (f" {REASON_NAMES.get(g.end_reason, g.end_reason)}" if g.end_reason else "")
            + (f" 退回额度 {format_yuan(g.returned)} 元" if g.returned else ""),
        )
    console.print(table)


def _now() -> datetime:
    return datetime.now(CHINA_TZ)


@app.command("grant")
def grant_command(
    holder: Annotated[str, typer.Option("--holder", help="Account holder's psn_no (employee).")],
    beneficiary: Annotated[str, typer.Option("--beneficiary", help="The close relative's psn_no.")],
    relation: Annotated[
        str,
        typer.Option(
            "--relation",
            help="spouse, parent, child, sibling, grandparent, grandchild (or GB/T 4761 code "
            "10 spouse, 20 child, 30 grandchild, 50 parent, 60 grandparent, 70 sibling).",
        ),
    ],
    quota: Annotated[
        str | None,
        typer.Option(
            "--quota",
            help="共济额度 in yuan (default: the holder's balance today).",
            show_default=False,
        ),
    ] = None,
    on: OnOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Let a close relative's care be paid from the holder's personal account."""
    amount, day, now = _quota(quota), _day(on, "--on"), _now()
    view = _run(
        db,
        lambda s: service.grant(
            s,
            SqlInsuredPlace(s),
            now,
            holder=holder.strip(),
            beneficiary=beneficiary.strip(),
            relation=relation,
            quota=amount,
            on=day,
        ),
    )
    _print([view], as_json)


@app.command("end")
def end_command(
    grant_id: Annotated[str, typer.Argument(help="The grant to end (共济编号).")],
    reason: Annotated[
        str, typer.Option("--reason", help="request, or insurance_changed (automatic).")
    ] = "request",
    on: OnOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """End a grant: no further use; its unused quota is no longer available."""
    day, now = _day(on, "--on"), _now()
    view = _run(
        db,
        lambda s: service.end(
            s, SqlInsuredPlace(s), now, grant_id=grant_id.strip(), on=day, reason=reason
        ),
    )
    _print([view], as_json)


@app.command("list")
def list_command(
    psn_no: Annotated[
        str | None,
        typer.Option(
            "--psn-no",
            help="Only grants where this person is holder or beneficiary.",
            show_default=False,
        ),
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="active or ended.", show_default=False)
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List mutual-aid grants."""
    grants = _run(db, lambda s: service.list_grants(s, psn_no=psn_no, status=status))
    _print(grants, as_json)


@app.command("sync")
def sync_command(
    psn_no: Annotated[str, typer.Argument(help="The person whose insurance changed.")],
    on: OnOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """End the grants of a person whose insurance stopped or moved (automatic end)."""
    day, now = _day(on, "--on"), _now()
    ended = _run(
        db,
        lambda s: service.end_on_insurance_change(
            s, SqlInsuredPlace(s), now, psn_no=psn_no.strip(), on=day
        ),
    )
    _print(ended, as_json)
