"""Clearing operations of the agency API: reconciliation between regions (对账), clearing
runs (清分 / 清算), statements (清算单), hospital cash flow and prepayment (预付金), over the
services ``medroam.services.clearing`` and ``medroam.services.prepayment`` (the same calls
as ``medroam clear``, ``reconcile``, ``statements`` and ``prepay``).

Who may do what (``nation`` may do everything):

=================================  ============================================================
operation                          roles
=================================  ============================================================
propose a period (3260)            treatment_place (its region), province (its province or a
                                   region in it); the nation also for 000000 (every region)
confirm / dispute items (3261)     insured_place (items insured in its region), province (items
                                   insured in its province)
list reconciliation items          insured_place (insured in its region), treatment_place
                                   (treated in its region), province (either side in it)
start a clearing run               nation only: a run clears the whole nation at once — the
                                   national clear-split and every province's tier come from the
                                   same matrix, so there is no province-only run to start
list runs                          every role (ids, periods and the national totals)
run summary, verification          province (its own position, its regions and the warnings of
                                   its pairs), nation (everything)
statements                         national: nation; a province's: that province; a region's:
                                   its insured_place / treatment_place, its province; a
                                   hospital's: the treatment_place of its region, its province
hospital cash flow                 treatment_place of the hospital's region, province
prepayment: read                   province (pairs it pays or receives), nation
prepayment: write                  nation for national-level quotas (province → province);
                                   a province also for the provincial-level quotas of its own
                                   pooling regions (region → its province), which the
                                   province sets under the rules (§4.4)
=================================  ============================================================

**Runs are synchronous.** ``POST /clearing/runs`` carries the run out inside the request,
in one transaction (nothing is written if it fails) and answers when it is done: a
national month of millions of lines takes tens of seconds, so give the client a long
timeout. A run is idempotent — (cycle, period, scope) identifies it — so a client that
timed out repeats the call (or reads ``GET /clearing/runs/{run_id}``) and gets the stored
run. The same holds for statements, which are built on request from the stored run.

Errors: 404 for an unknown region, institution, run, batch or item; 409 for a period that
is still open, a quota that would go negative, an item already cleared; 422 for input
of the wrong form, a negative amount and a pair of the wrong shape, naming the field;
403 outside the role or its region. A refused request posts nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, FastAPI, Path, Query, Request, Response, status
from pydantic import BeforeValidator
from sqlalchemy import Engine, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from medroam.api import clearing_schemas as cs
from medroam.api import queries, schemas
from medroam.api.auth import INSURED_PLACE, NATION, PROVINCE, TREATMENT_PLACE, Principal
from medroam.api.errors import ERROR_RESPONSES, ApiError, bad_request, forbidden, not_found
from medroam.api.routes import Db, Limit, Offset, Who
from medroam.batch.lines import day_date, epoch_day
from medroam.domain.calendar import CalendarError
from medroam.domain.clearing import statements as st
from medroam.domain.clearing.params import ClearingParams, PrepayParams, QuotaBasis
from medroam.domain.clearing.periods import ClearingError, Period, parse_period
from medroam.domain.money import MoneyError, format_yuan, yuan_to_fen
from medroam.refdata.regions import load_regions
from medroam.services import clearing as svc
from medroam.services import prepayment as prepay_svc
from medroam.services.uow import unit_of_work
from medroam.store.tables import ClearingItemRow, ClearingRunRow, ReconBatchRow, RunRegionRow

T = TypeVar("T")

NATIONAL = svc.NATIONAL
FIRST_YEAR, LAST_YEAR = 2000, 2199

TAGS = [
    {
        "name": "reconciliation",
        "description": "对账 between regions: propose (3260), confirm / dispute (3261), items.",
    },
    {
        "name": "clearing",
        "description": "清分 / 清算 runs (synchronous, idempotent), summaries, verification.",
    },
    {
        "name": "statements",
        "description": "清算单 as JSON, CSV or HTML; hospital cash flow (垫支天数).",
    },
    {
        "name": "prepayment",
        "description": "预付金: quotas, adjustments, top-ups, usage warnings (yellow / red).",
    },
]

RunIdPath = Annotated[
    str,
    Path(
        pattern=r"^CLR-(daily|monthly|quarterly|annual)-[0-9Q-]{4,10}-(all|funds|mutual_aid)$",
        description="e.g. CLR-monthly-2026-10-all",
    ),
]
PartyPath = Annotated[
    str,
    Path(
        pattern=r"^([0-9]{6}|[A-Z][0-9]{11})$",
        description="000000 (national), a province (XX0000), a pooling region or a hospital",
    ),
]
HospitalPath = Annotated[str, Path(pattern=r"^[A-Z][0-9]{11}$", description="定点医药机构编号")]
RegionFilter = Annotated[str | None, Query(pattern=r"^[0-9]{6}$")]
MonthQuery = Annotated[
    str | None, Query(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")
]
YearQuery = Annotated[int | None, Query(ge=FIRST_YEAR, le=LAST_YEAR)]
FromDay = Annotated[
    date,
    BeforeValidator(schemas.iso_day),
    Query(alias="from", ge=date(FIRST_YEAR, 1, 1), le=date(LAST_YEAR, 12, 31)),
]
ToDay = Annotated[
    date,
    BeforeValidator(schemas.iso_day),
    Query(alias="to", ge=date(FIRST_YEAR, 1, 1), le=date(LAST_YEAR, 12, 31)),
]

router = APIRouter(responses={k: v for k, v in ERROR_RESPONSES.items() if k in (401, 403, 422)})


def install(app: FastAPI) -> None:
    """Add the clearing routes (and their tags) to the agency application."""
    app.openapi_tags = [*(app.openapi_tags or []), *TAGS]
    app.include_router(router)


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {k: v for k, v in ERROR_RESPONSES.items() if k in codes}


def _again(model: type[Any], what: str) -> dict[int | str, dict[str, Any]]:
    """The 200 of an idempotent create: documented beside its 201, so that a client (and a
    schema checker) knows a repeated call answers 200 with the same body."""
    return {200: {"model": model, "description": f"{what} existed already: nothing new"}}


# --- helpers -------------------------------------------------------------------------------


def field_error(status_code: int, field: str, message: str) -> ApiError:
    """An error naming the field, in the message and in ``details``."""
    return ApiError(status_code, f"{field}: {message}", [(field, message)])


def _now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


def _read(engine: Engine, action: Callable[[Session], T]) -> T:
    with unit_of_work(engine) as session:
        return action(session)


def _service(action: Callable[[], T], field: str | None = None) -> T:
    """Run a service call; its refusals become API errors (nothing was written)."""
    try:
        return action()
    except ClearingError as exc:
        raise _clearing_error(exc, field) from None
    except (CalendarError, MoneyError) as exc:
        raise bad_request(str(exc)) from None
    except IntegrityError:
        raise ApiError(
            409, "a concurrent request wrote the same record; nothing was written: try again"
        ) from None


def _clearing_error(exc: ClearingError, field: str | None) -> ApiError:
    message = str(exc)
    if "still open" in message or "negative" in message or "no red warning" in message:
        code = 409
    elif message.startswith(("unknown", "no ")) or "not proposed" in message:
        code = 404
    else:
        code = 400
    return field_error(code, field, message) if field else ApiError(code, message)


def _region(code: str, field: str, *, nation: bool = False) -> str:
    """``code`` if it is a province or pooling region (or 000000 where ``nation``)."""
    if nation and code == NATIONAL:
        return code
    if load_regions().get(code) is None:
        raise field_error(404, field, f"{code} is not a known region (省 or 统筹区)")
    return code


def _scope_covered(who: Principal, scope: str) -> bool:
    """Whether the whole of ``scope`` lies in the caller's region."""
    if who.role == NATION:
        return True
    if scope == NATIONAL or who.region is None:
        return False
    if who.role == PROVINCE:
        return scope[:2] == who.region[:2]
    return scope == who.region


def _scope_condition(column: Any, scope: str) -> Any:
    if scope == NATIONAL:
        return column.isnot(None)
    if scope.endswith("0000"):
        return column.startswith(scope[:2])
    return column == scope


def _period(cycle: str, text: str) -> Period:
    try:
        period = parse_period(cycle, text)
    except ClearingError as exc:
        raise field_error(422, "period", str(exc)) from None
    if not FIRST_YEAR <= period.start.year <= LAST_YEAR:
        raise field_error(422, "period", f"{text!r}: the year must lie in {FIRST_YEAR}–{LAST_YEAR}")
    return period


def _closed(period: Period, today: date, what: str) -> None:
    if period.is_open(today):
        raise field_error(
            409,
            "period",
            f"{period} is still open on {today.isoformat()}: it can be {what} from "
            f"{day_date(epoch_day(period.end) + 1).isoformat()}",
        )


def _page(rows: Sequence[T], limit: int, offset: int) -> dict[str, Any]:
    return {
        "items": list(rows[offset : offset + limit]),
        "total": len(rows),
        "limit": limit,
        "offset": offset,
    }


# --- reconciliation ------------------------------------------------------------------------


def _item_out(row: ClearingItemRow) -> cs.ReconItemOut:
    return cs.ReconItemOut(
        setl_id=row.setl_id,
        batch_id=row.batch_id,
        insured_region=row.insured_region,
        treatment_region=row.treatment_region,
        fixmedins_code=row.fixmedins_code,
        setl_date=day_date(row.setl_day),
        refd_setl_flag=bool(row.refd_setl_flag),
        medfee_fen=int(row.medfee),
        fund_fen=int(row.fund),
        acct_fen=int(row.acct),
        state=row.state,
        reason=row.dispute_reason,
        cleared_run_id=row.cleared_run_id,
    )


def _named_items(engine: Engine, setl_ids: Sequence[str]) -> list[cs.ReconItemOut]:
    def read(session: Session) -> list[cs.ReconItemOut]:
        rows = session.execute(
            select(ClearingItemRow)
            .where(ClearingItemRow.setl_id.in_(list(dict.fromkeys(setl_ids))))
            .order_by(ClearingItemRow.setl_id)
        ).scalars()
        return [_item_out(r) for r in rows]

    return _read(engine, read)


def _check_items(
    engine: Engine, who: Principal, setl_ids: Sequence[str], what: str
) -> list[cs.ReconItemOut]:
    """The named items: 404 for any not proposed, 403 for any insured outside the caller."""
    items = _named_items(engine, setl_ids)
    missing = sorted(set(setl_ids) - {i.setl_id for i in items})
    if missing:
        more = f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""
        raise field_error(
            404,
            "setl_ids",
            f"not proposed for reconciliation: {', '.join(missing[:5])}{more}",
        )
    outside = [i for i in items if not who.covers(i.insured_region)]
    if outside:
        first = outside[0]
        raise forbidden(
            f"role {who.describe()} may not {what} settlement {first.setl_id} (insured in "
            f"{first.insured_region}: outside its region)"
        )
    return items


@router.post(
    "/reconciliation/proposals",
    status_code=status.HTTP_201_CREATED,
    response_model=cs.ProposalOut,
    tags=["reconciliation"],
    summary="Propose a closed period's cross-region settlements (3260)",
    responses={**_again(cs.ProposalOut, "every settlement was proposed"), **_errors(404, 409)},
)
def propose(
    body: cs.ProposalCreate, who: Who, engine: Db, request: Request, response: Response
) -> Any:
    """The place of treatment lists the period's cross-region settlements for the places
    of insurance to confirm. Settlements not proposed before become `proposed` items;
    proposing again adds only late arrivals (200, `created` false). The period must
    have ended. Roles: treatment_place of the region, province (its province or a region
    in it), nation (any scope, 000000 for every region)."""
    who.require((TREATMENT_PLACE, PROVINCE), "propose settlements for reconciliation")
    default = NATIONAL if who.region is None else who.region
    scope = _region(body.treatment_region or default, "treatment_region", nation=True)
    if not _scope_covered(who, scope):
        raise forbidden(
            f"role {who.describe()} may not propose the settlements of treatment region "
            f"{scope} (outside its region)"
        )
    period = _period(body.cycle, body.period)
    now = _now(request)
    _closed(period, now.date(), "proposed")
    proposal = _service(lambda: svc.propose(engine, period, now=now, treatment_scope=scope))
    if not proposal.created:
        response.status_code = status.HTTP_200_OK
    return cs.ProposalOut(**proposal.as_dict())


@router.post(
    "/reconciliation/confirmations",
    response_model=cs.ReconAnswer,
    tags=["reconciliation"],
    summary="Confirm reconciliation items (3261)",
    responses=_errors(400, 404),
)
def confirm(body: cs.ConfirmationCreate, who: Who, engine: Db, request: Request) -> Any:
    """Confirms proposed items, and disputed ones that are now resolved (they clear in
    the next run). Name them by `setl_ids`, `batch_id` and/or `insured_region` (the
    conditions combine). An insured_place confirms only the items insured in its region,
    a province those insured in its province. Roles: insured_place, province, nation."""
    who.require((INSURED_PLACE, PROVINCE), "confirm reconciliation items")
    if body.setl_ids is None and body.batch_id is None and body.insured_region is None:
        raise bad_request("name the items: give setl_ids, batch_id or insured_region")
    insured = body.insured_region
    if insured is not None:
        _region(insured, "insured_region", nation=True)
        if not _scope_covered(who, insured):
            raise forbidden(
                f"role {who.describe()} may not confirm the items of insured region "
                f"{insured} (outside its region)"
            )
    elif who.region is not None:
        insured = who.region  # never beyond the caller's own items
    if body.batch_id is not None:
        batch_id = body.batch_id
        if _read(engine, lambda s: s.get(ReconBatchRow, batch_id)) is None:
            raise field_error(404, "batch_id", f"no reconciliation batch {batch_id}")
    if body.setl_ids is not None:
        _check_items(engine, who, body.setl_ids, "confirm")
    now = _now(request)
    count = _service(
        lambda: svc.confirm(
            engine,
            now=now,
            setl_ids=body.setl_ids,
            insured_region=insured,
            batch_id=body.batch_id,
        )
    )
    items = None if body.setl_ids is None else _named_items(engine, body.setl_ids)
    return cs.ReconAnswer(action="confirmed", count=count, items=items)


@router.post(
    "/reconciliation/disputes",
    response_model=cs.ReconAnswer,
    tags=["reconciliation"],
    summary="Dispute reconciliation items",
    responses=_errors(404, 409),
)
def dispute(body: cs.DisputeCreate, who: Who, engine: Db, request: Request) -> Any:
    """Disputed items are held out of clearing and carried into the next cycles until
    they are confirmed. An item a run has cleared cannot be disputed (409). Roles:
    insured_place (items insured in its region), province, nation."""
    who.require((INSURED_PLACE, PROVINCE), "dispute reconciliation items")
    if not body.reason.strip():
        raise field_error(422, "reason", "a dispute needs a reason")
    items = _check_items(engine, who, body.setl_ids, "dispute")
    done = [i for i in items if i.cleared_run_id is not None or i.state == "withdrawn"]
    if done:
        first = done[0]
        why = f"cleared by run {first.cleared_run_id}" if first.cleared_run_id else "withdrawn"
        raise field_error(
            409, "setl_ids", f"{first.setl_id} is already {why}; it cannot be disputed"
        )
    now = _now(request)
    count = _service(lambda: svc.dispute(engine, body.setl_ids, body.reason, now=now), "reason")
    return cs.ReconAnswer(action="disputed", count=count, items=_named_items(engine, body.setl_ids))


@router.get(
    "/reconciliation/items",
    response_model=schemas.Page[cs.ReconItemOut],
    tags=["reconciliation"],
    summary="Reconciliation items by state (default: disputed, i.e. open)",
    responses=_errors(404),
)
def list_items(
    who: Who,
    engine: Db,
    state: cs.ReconState = "disputed",
    insured_region: RegionFilter = None,
    treatment_region: RegionFilter = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    """Disputed items are the open ones: carried into the next cycle until confirmed.
    An insured_place sees the items insured in its region, a treatment_place those
    treated in its region, a province those with either side in its province."""
    conditions: list[Any] = [ClearingItemRow.state == state]
    for code, column, field, own_role in (
        (insured_region, ClearingItemRow.insured_region, "insured_region", INSURED_PLACE),
        (treatment_region, ClearingItemRow.treatment_region, "treatment_region", TREATMENT_PLACE),
    ):
        if code is None:
            continue
        _region(code, field, nation=True)
        if who.role == own_role and not _scope_covered(who, code):
            raise forbidden(
                f"role {who.describe()} may not list the items of {field} {code} "
                "(outside its region)"
            )
        conditions.append(_scope_condition(column, code))
    if who.role != NATION:
        own = who.region or "-"
        if who.role == INSURED_PLACE:
            conditions.append(ClearingItemRow.insured_region == own)
        elif who.role == TREATMENT_PLACE:
            conditions.append(ClearingItemRow.treatment_region == own)
        else:
            conditions.append(
                or_(
                    _scope_condition(ClearingItemRow.insured_region, own),
                    _scope_condition(ClearingItemRow.treatment_region, own),
                )
            )

    def read(session: Session) -> schemas.Page[cs.ReconItemOut]:
        total = session.execute(
            select(func.count()).select_from(ClearingItemRow).where(*conditions)
        ).scalar_one()
        rows = session.execute(
            select(ClearingItemRow)
            .where(*conditions)
            .order_by(ClearingItemRow.setl_id)
            .limit(limit)
            .offset(offset)
        ).scalars()
        return schemas.Page[cs.ReconItemOut](
            items=[_item_out(r) for r in rows], total=int(total), limit=limit, offset=offset
        )

    return _read(engine, read)


# --- clearing runs -------------------------------------------------------------------------


def _warning_visible(who: Principal, level: str, payer: str, payee: str) -> bool:
    if who.role == NATION:
        return True
    if who.role != PROVINCE or who.region is None:
        return False
    own = who.region[:2]
    if level == "provincial":
        return payee[:2] == own
    return own in (payer[:2], payee[:2])


def _warning_out(w: dict[str, Any]) -> cs.WarningOut:
    return cs.WarningOut(
        level=w["level"],
        payer=w["payer"],
        payee=w["payee"],
        month=w["month"],
        cleared_fen=int(w["cleared_fen"]),
        quota_fen=int(w["quota_fen"]),
        usage_rate=w["usage_rate"],
        warning=w["warning"],
        topup_fen=int(w["topup_fen"]),
        topup_yuan=format_yuan(int(w["topup_fen"])),
        topup_due=None if w["topup_due"] is None else date.fromisoformat(w["topup_due"]),
    )


def _regions_of_run(engine: Engine, run_id: str, province: str | None) -> list[cs.RegionPosition]:
    def read(session: Session) -> list[cs.RegionPosition]:
        stmt = select(RunRegionRow).where(RunRegionRow.run_id == run_id)
        if province is not None:
            stmt = stmt.where(RunRegionRow.province == province)
        rows = session.execute(stmt.order_by(RunRegionRow.region)).scalars()
        return [
            cs.RegionPosition(
                region=r.region,
                province=r.province,
                inter_payable_fen=int(r.inter_payable),
                inter_receivable_fen=int(r.inter_receivable),
                intra_payable_fen=int(r.intra_payable),
                intra_receivable_fen=int(r.intra_receivable),
                net_fen=int(r.net),
            )
            for r in rows
        ]

    return _read(engine, read)


def _run_out(engine: Engine, who: Principal, run: svc.RunSummary) -> cs.RunOut:
    """The run as ``who`` may see it: a province only its own position and tier."""
    province = None if who.role == NATION or who.region is None else who.region[:2] + "0000"
    provinces = [
        cs.ProvincePosition(**p)
        for p in run.provinces
        if province is None or p["province"] == province
    ]
    warnings = [
        _warning_out(w)
        for w in run.warnings
        if _warning_visible(who, w["level"], w["payer"], w["payee"])
    ]
    return cs.RunOut(
        run_id=run.run_id,
        cycle=run.cycle,
        period=run.period,
        scope=run.scope,
        created=run.created,
        view="national" if province is None else f"province {province}",
        line_count=run.line_count,
        amount_fen=run.amount_fen,
        amount_yuan=format_yuan(run.amount_fen),
        hospitals_apply_on=run.applied_on,
        hospitals_paid_by=run.due_on,
        fund_lines=dict(run.fund_lines),
        provinces=provinces,
        regions=_regions_of_run(engine, run.run_id, province),
        prepayment_warnings=warnings,
    )


def _stored_run(engine: Engine, run_id: str) -> ClearingRunRow:
    run = _read(engine, lambda s: s.get(ClearingRunRow, run_id))
    if run is None:
        raise not_found(
            f"no clearing run {run_id}: it has not run (start it with POST /clearing/runs)"
        )
    return run


@router.post(
    "/clearing/runs",
    status_code=status.HTTP_201_CREATED,
    response_model=cs.RunOut,
    tags=["clearing"],
    summary="Clear a closed period (synchronous; idempotent)",
    responses={**_again(cs.RunOut, "the run"), **_errors(404, 409)},
)
def start_run(
    body: cs.RunCreate, who: Who, engine: Db, request: Request, response: Response
) -> Any:
    """Clears the confirmed items of the period: the national clear-split (one net
    position per province), the provincial tiers (each pooling region), the hospital
    payments with their due dates and advance days, one balanced posting, and the
    prepayment usage of the month (warnings in `prepayment_warnings`).

    **Synchronous**: the run is made inside this request, in one transaction, and the
    answer comes when it is done (tens of seconds for a national month of millions of
    lines: use a long client timeout). **Idempotent**: (cycle, period, scope) identify
    the run; calling again returns the stored run with 200 and `created` false.

    A period that has not ended is refused (409). Role: nation only — a run clears the
    whole nation at once (every province's tier derives from the same matrix); a province
    reads its own position and tier with GET /clearing/runs/{run_id}."""
    if who.role != NATION:
        raise forbidden(
            f"role {who.role} may not start clearing runs (allowed roles: nation): a run "
            "clears the whole nation at once; read your province's position and tier with "
            "GET /clearing/runs/{run_id}"
        )
    period = _period(body.cycle, body.period)
    now = _now(request)
    _closed(period, now.date(), "cleared")
    mutual_aid_cycle = ClearingParams().mutual_aid_cycle
    if body.scope in ("all", "mutual_aid") and period.cycle is not mutual_aid_cycle:
        raise field_error(
            422,
            "scope",
            f"personal-account mutual aid is cleared {mutual_aid_cycle.value} in full; a "
            f"{period.cycle.value} run clears only the other funds (scope funds)",
        )
    run = _service(
        lambda: svc.clear(
            engine, period.cycle, period.label, as_of=now.date(), now=now, scope=body.scope
        ),
        "period",
    )
    out = _run_out(engine, who, run)
    if body.verify:
        problems = _service(lambda: svc.verify_run(engine, run.run_id))
        out.verified, out.differences = not problems, problems
    if not run.created:
        response.status_code = status.HTTP_200_OK
    return out


@router.get(
    "/clearing/runs",
    response_model=schemas.Page[cs.RunListItem],
    tags=["clearing"],
    summary="List the clearing runs",
)
def list_runs(
    who: Who,
    engine: Db,
    cycle: Annotated[cs.CycleName | None, Query()] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    """Oldest period first. Every role (a run's id names its statements)."""
    rows = [
        cs.RunListItem(
            run_id=r["run_id"],
            cycle=r["cycle"],
            period=r["period"],
            scope=r["scope"],
            line_count=r["lines"],
            amount_fen=r["amount_fen"],
            hospitals_paid_by=date.fromisoformat(r["due_on"]),
        )
        for r in svc.list_runs(engine)
        if cycle is None or r["cycle"] == cycle
    ]
    return _page(rows, limit, offset)


@router.get(
    "/clearing/runs/{run_id}",
    response_model=cs.RunOut,
    tags=["clearing"],
    summary="A clearing run's summary (positions, tiers, warnings)",
    responses=_errors(404),
)
def get_run(run_id: RunIdPath, who: Who, engine: Db) -> Any:
    """The nation sees every province's net position and every region; a province its
    own position, its pooling regions and the prepayment warnings of its pairs. Roles:
    province, nation."""
    who.require((PROVINCE,), "read clearing runs")
    row = _stored_run(engine, run_id)
    run = _service(lambda: svc.get_run(engine, row.cycle, row.period_label, row.scope))
    return _run_out(engine, who, run)


@router.get(
    "/clearing/runs/{run_id}/verification",
    response_model=cs.Verification,
    tags=["clearing"],
    summary="Recompute a run from its lines and compare",
    responses=_errors(404),
)
def verify_run(run_id: RunIdPath, who: Who, engine: Db) -> Any:
    """A run stores its parameters and its lines are exactly the items assigned to it,
    so it reproduces at any time; `differences` lists what does not. Roles: province,
    nation."""
    who.require((PROVINCE,), "verify clearing runs")
    _stored_run(engine, run_id)
    problems = _service(lambda: svc.verify_run(engine, run_id))
    return cs.Verification(run_id=run_id, verified=not problems, differences=problems)


# --- statements ----------------------------------------------------------------------------

FORMATS = {"json": "application/json", "csv": "text/csv", "html": "text/html"}
_ACCEPT = {
    "application/json": "json",
    "text/csv": "csv",
    "text/html": "html",
    "application/*": "json",
    "*/*": "json",
    "text/*": "html",
}


def negotiate(accept: str | None) -> str:
    """The statement format an Accept header asks for (JSON when it names none we have)."""
    if not accept:
        return "json"
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        fmt = _ACCEPT.get(media.lower())
        if fmt is not None and quality > 0:
            choices.append((-quality, index, fmt))
    return min(choices)[2] if choices else "json"


def _party(engine: Engine, who: Principal, party: str) -> tuple[str, str]:
    """(kind, region) of a statement party, with the caller's right to read it."""
    if party == NATIONAL:
        if who.role != NATION:
            raise forbidden(
                f"role {who.describe()} may not read the national statement (it holds every "
                "province's position); read your own province's"
            )
        return "national", NATIONAL
    if party[0].isdigit():
        region = load_regions().get(party)
        if region is None:
            raise field_error(404, "party", f"{party} is not a known region (省 or 统筹区)")
        if region.is_province:
            if not (who.role in (NATION, PROVINCE) and who.covers(party)):
                raise forbidden(
                    f"role {who.describe()} may not read the statement of province {party}"
                )
            return "province", party
        if not who.covers(party):
            raise forbidden(
                f"role {who.describe()} may not read the statement of region {party} "
                "(outside its region)"
            )
        return "region", party
    home = _read(engine, lambda s: queries.institution_region(s, party))
    if home is None:
        raise field_error(404, "party", f"no institution {party}")
    if who.role == INSURED_PLACE or not who.covers(home):
        raise forbidden(
            f"role {who.describe()} may not read the statement of hospital {party}: only its "
            f"treatment region ({home}), its province or the nation may"
        )
    return "hospital", home


@router.get(
    "/clearing/runs/{run_id}/statements/{party}",
    response_model=cs.StatementOut,
    tags=["statements"],
    summary="A party's statement (清算单) as JSON, CSV or HTML",
    responses={
        200: {
            "description": "the statement",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}},
            },
        },
        **_errors(404),
    },
)
def statement(
    run_id: RunIdPath,
    party: PartyPath,
    who: Who,
    engine: Db,
    request: Request,
    fmt: Annotated[
        Literal["json", "csv", "html"] | None,
        Query(
            alias="format",
            description="json, csv or html; default: from the Accept header, else json",
        ),
    ] = None,
) -> Any:
    """Parties: `000000` (national: net positions, gross province matrix, transfers), a
    province (its position, regions, inter-province detail), a pooling region (its pairs
    by fund line, its hospitals' payments) or a hospital (amounts by insutype, clearing
    category and fund line; due date; advance days). CSV amounts are yuan; JSON gives
    `{fen, yuan}`. Roles: see the module table — a hospital's statement is read by the
    treatment_place of its region, its province or the nation."""
    run = _stored_run(engine, run_id)
    kind, _home = _party(engine, who, party)
    chosen = fmt or negotiate(request.headers.get("accept"))

    def build(session: Session) -> st.Statement | None:
        for candidate in svc.build_statements(session, run, load_regions()):
            if candidate.party == party and candidate.party_kind == kind:
                return candidate
        return None

    found = _read(engine, build)
    if found is None:
        raise field_error(
            404, "party", f"no statement for {kind} {party} in run {run_id} (nothing cleared)"
        )
    if chosen == "json":
        return st.as_dict(found)
    body = st.RENDERERS[chosen](found)
    filename = f"{run_id}-{found.file_stem}.{chosen}"
    return Response(
        content=body.encode("utf-8"),
        media_type=f"{FORMATS[chosen]}; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


@router.get(
    "/clearing/hospitals/{fixmedins_code}/cashflow",
    response_model=list[cs.CashFlowRow],
    tags=["statements"],
    summary="A hospital's advance days under each clearing cycle",
    responses=_errors(400, 404),
)
def cash_flow(
    fixmedins_code: HospitalPath,
    who: Who,
    engine: Db,
    start: FromDay,
    end: ToDay,
) -> Any:
    """For the hospital's confirmed cross-region settlements of [from, to]: when each
    would be paid under daily, monthly, quarterly and annual clearing, and the
    amount-weighted days it advances the money (垫支天数). Roles: treatment_place of the
    hospital's region, province, nation."""
    who.require((TREATMENT_PLACE, PROVINCE), "read hospital cash flows")
    if end < start:
        raise field_error(400, "to", f"{end} is before from ({start})")
    home = _read(engine, lambda s: queries.institution_region(s, fixmedins_code))
    if home is None:
        raise field_error(404, "fixmedins_code", f"no institution {fixmedins_code}")
    who.require_region(home, "read the cash flow of hospitals")
    rows = _service(lambda: svc.hospital_cash_flow(engine, start, end))
    return [
        cs.CashFlowRow(
            cycle=r["cycle"],
            fixmedins_code=r["fixmedins_code"],
            amount_fen=int(r["amount_fen"]),
            advance_days=r["advance_days"],
        )
        for r in rows
        if r["fixmedins_code"] == fixmedins_code
    ]


# --- prepayment ----------------------------------------------------------------------------


def _pair(level: str, payer: str, payee: str) -> None:
    """404 for an unknown region, 422 (naming the field) for a pair of the wrong shape."""
    regions = load_regions()
    for field, code in (("payer", payer), ("payee", payee)):
        if regions.get(code) is None:
            raise field_error(404, field, f"{code} is not a known region (省 or 统筹区)")
    if level == "national":
        for field, code in (("payer", payer), ("payee", payee)):
            if not code.endswith("0000"):
                raise field_error(
                    422, field, f"{code}: a national prepayment is between provinces (XX0000)"
                )
        if payer == payee:
            raise field_error(422, "payee", "a national prepayment is between two provinces")
    else:
        if payer.endswith("0000"):
            raise field_error(
                422, "payer", f"{payer}: a provincial prepayment is paid by a pooling region"
            )
        if payee != payer[:2] + "0000":
            raise field_error(
                422,
                "payee",
                f"{payee}: a provincial prepayment goes to the payer's province ({payer[:2]}0000)",
            )


def _may_write(who: Principal, level: str, payee: str) -> None:
    who.require((PROVINCE,), "set prepayment quotas")
    if who.role == NATION:
        return
    if level == "national":
        raise forbidden(
            f"role {who.describe()} may not set national-level (inter-province) prepayment "
            "quotas: only the nation may"
        )
    who.require_region(payee, "set the provincial prepayment quotas")


def _quota_out(q: dict[str, Any]) -> cs.QuotaOut:
    return cs.QuotaOut(
        year=q["year"],
        level=q["level"],
        payer=q["payer"],
        payee=q["payee"],
        quota_fen=int(q["quota_fen"]),
        quota_yuan=format_yuan(int(q["quota_fen"])),
        basis=q["basis"],
        months=int(q["months"]),
    )


def _current(engine: Engine, year: int, level: str, payer: str, payee: str) -> int | None:
    for q in prepay_svc.list_quotas(engine, year):
        if (q["level"], q["payer"], q["payee"]) == (level, payer, payee):
            return int(q["quota_fen"])
    return None


def _fen(value: str, field: str) -> int:
    try:
        return yuan_to_fen(value, field=field)
    except MoneyError as exc:  # pragma: no cover - the schema's pattern admits only decimals
        raise field_error(422, field, str(exc)) from None


@router.get(
    "/prepayment/quotas",
    response_model=schemas.Page[cs.QuotaOut],
    tags=["prepayment"],
    summary="Prepayment quotas (by year)",
)
def list_quotas(
    who: Who,
    engine: Db,
    year: YearQuery = None,
    level: Annotated[cs.PrepayLevel | None, Query()] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    """A province sees the pairs it pays or receives (and its regions' provincial
    quotas). Roles: province, nation."""
    who.require((PROVINCE,), "read prepayment quotas")
    rows = [
        _quota_out(q)
        for q in prepay_svc.list_quotas(engine, year)
        if (level is None or q["level"] == level)
        and _warning_visible(who, q["level"], q["payer"], q["payee"])
    ]
    return _page(rows, limit, offset)


@router.post(
    "/prepayment/quotas",
    status_code=status.HTTP_201_CREATED,
    response_model=cs.QuotaOut,
    tags=["prepayment"],
    summary="Issue or re-set a prepayment quota",
    responses={**_again(cs.QuotaOut, "the quota"), **_errors(404, 409)},
)
def set_quota(body: cs.QuotaSet, who: Who, engine: Db, request: Request, response: Response) -> Any:
    """Sets the pair's quota of the year to `amount`, posting the difference (paid in or
    refunded) to the clearing journal; 201 when the quota is new. A negative amount is
    refused (422) and nothing is posted. Roles: nation; a province for the provincial
    quotas of its own pooling regions."""
    _pair(body.level, body.payer, body.payee)
    _may_write(who, body.level, body.payee)
    amount = _fen(body.amount, "amount")
    if amount < 0:
        raise field_error(
            422,
            "amount",
            f"a prepayment quota cannot be negative ({body.amount} yuan); nothing was posted",
        )
    existed = _current(engine, body.year, body.level, body.payer, body.payee) is not None
    now = _now(request)
    quota = _service(
        lambda: prepay_svc.set_quota(
            engine,
            body.year,
            body.level,
            body.payer,
            body.payee,
            amount,
            now=now,
            reason=body.reason,
        ),
        "amount",
    )
    if existed:
        response.status_code = status.HTTP_200_OK
    return _quota_out(quota)


@router.post(
    "/prepayment/quotas/adjustments",
    response_model=cs.QuotaOut,
    tags=["prepayment"],
    summary="Adjust a prepayment quota (add or refund)",
    responses=_errors(404, 409),
)
def adjust_quota(body: cs.QuotaAdjust, who: Who, engine: Db, request: Request) -> Any:
    """Adds `delta` yuan (negative: a refund) to an existing quota; a quota never goes
    below zero (409, nothing posted). Roles as for issuing."""
    _pair(body.level, body.payer, body.payee)
    _may_write(who, body.level, body.payee)
    delta = _fen(body.delta, "delta")
    current = _current(engine, body.year, body.level, body.payer, body.payee)
    if current is None:
        raise not_found(
            f"no {body.level} prepayment {body.payer}>{body.payee} for {body.year}: issue it "
            "first (POST /prepayment/quotas)"
        )
    if current + delta < 0:
        raise field_error(
            409,
            "delta",
            f"the quota {body.payer}>{body.payee} {body.year} would become negative "
            f"({format_yuan(current)} + {format_yuan(delta)} yuan); nothing was posted",
        )
    now = _now(request)
    quota = _service(
        lambda: prepay_svc.adjust(
            engine,
            body.year,
            body.level,
            body.payer,
            body.payee,
            delta,
            now=now,
            reason=body.reason,
        ),
        "delta",
    )
    return _quota_out(quota)


@router.post(
    "/prepayment/quotas/topups",
    response_model=cs.QuotaOut,
    tags=["prepayment"],
    summary="Emergency top-up (紧急调增) after a red warning",
    responses=_errors(404, 409),
)
def topup_quota(body: cs.QuotaTopup, who: Who, engine: Db, request: Request) -> Any:
    """Adds the recommended amount of the pair's latest red warning, or `amount` when
    given (positive). Without a red warning, give the amount (409). Roles as for
    issuing."""
    _pair(body.level, body.payer, body.payee)
    _may_write(who, body.level, body.payee)
    amount = None if body.amount is None else _fen(body.amount, "amount")
    if amount is not None and amount <= 0:
        raise field_error(422, "amount", f"a top-up must be positive ({body.amount} yuan)")
    now = _now(request)
    quota = _service(
        lambda: prepay_svc.topup(
            engine, body.year, body.level, body.payer, body.payee, now=now, amount=amount
        ),
        "amount",
    )
    return _quota_out(quota)


@router.post(
    "/prepayment/quotas/compute",
    response_model=list[cs.QuotaComputed],
    tags=["prepayment"],
    summary="Annual quotas from the previous year's clearing",
)
def compute_quotas(body: cs.QuotaCompute, who: Who, engine: Db, request: Request) -> Any:
    """Each pair's quota = the prior year's cleared amount (fund payments by default)
    ÷ 12 × `months`; unless `dry_run`, the difference to the current quota is posted.
    The nation computes every pair; a province the provincial quotas of its own pooling
    regions. Roles: province, nation."""
    who.require((PROVINCE,), "compute prepayment quotas")
    params = PrepayParams(months=body.months, basis=QuotaBasis(body.basis))
    now = _now(request)

    def mine(q: dict[str, Any]) -> bool:
        if who.role == NATION:
            return True
        return q["level"] == "provincial" and who.covers(q["payee"])

    computed = _service(
        lambda: prepay_svc.compute_quotas(engine, body.year, now=now, params=params, apply=False)
    )
    rows = [q for q in computed if mine(q)]
    if not body.dry_run:
        reason = f"quota from {body.year - 1}: {params.months} months of {params.basis.value}"
        for q in rows:
            _apply_quota(engine, body.year, q, now, reason, params)
    return [
        cs.QuotaComputed(
            year=body.year,
            level=q["level"],
            payer=q["payer"],
            payee=q["payee"],
            total_fen=int(q["total_fen"]),
            quota_fen=int(q["quota_fen"]),
            quota_yuan=format_yuan(int(q["quota_fen"])),
            applied=not body.dry_run,
        )
        for q in rows
    ]


def _apply_quota(
    engine: Engine, year: int, q: dict[str, Any], now: datetime, reason: str, params: PrepayParams
) -> None:
    _service(
        lambda: prepay_svc.set_quota(
            engine,
            year,
            q["level"],
            q["payer"],
            q["payee"],
            int(q["quota_fen"]),
            now=now,
            reason=reason,
            params=params,
        )
    )


@router.get(
    "/prepayment/warnings",
    response_model=schemas.Page[cs.WarningOut],
    tags=["prepayment"],
    summary="Prepayment usage and warnings (yellow ≥ 70 %, red ≥ 90 %)",
)
def list_warnings(
    who: Who,
    engine: Db,
    month: MonthQuery = None,
    level: Annotated[cs.PrepayLevel | None, Query()] = None,
    all_pairs: Annotated[
        bool, Query(alias="all", description="include pairs without a warning (usage)")
    ] = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    """Usage = the amount cleared in the month ÷ the quota of the year, assessed after
    every run. A red warning carries the recommended emergency top-up and its deadline.
    Warnings inform: they never block a settlement. Roles: province (pairs it pays or
    receives), nation."""
    who.require((PROVINCE,), "read prepayment warnings")
    levels: Iterable[str] = ("none", "yellow", "red") if all_pairs else ("yellow", "red")
    rows = [
        _warning_out(w)
        for w in prepay_svc.warnings(engine, month=month, levels=tuple(levels))
        if (level is None or w["level"] == level)
        and _warning_visible(who, w["level"], w["payer"], w["payee"])
    ]
    return _page(rows, limit, offset)
