"""Agency API: personal-account mutual aid (个人账户共济) grants.

==========================  ==============================  ===============================
resource                    read                            write
==========================  ==============================  ===============================
mutual-aid grants           insured_place, province of the  insured_place, province of the
                            person (holder or beneficiary)  holder (grant) or of either
                                                            side (end)
==========================  ==============================  ===============================

Amounts are yuan strings with two decimals; dates YYYY-MM-DD (China time). Bad input is
400 with a message naming the field; nothing is written then.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from medroam.api.auth import INSURED_PLACE, PROVINCE, Principal, engine_of, principal
from medroam.api.errors import ERROR_RESPONSES, bad_request, conflict, not_found
from medroam.api.schemas import Day, Yuan
from medroam.domain.money import MoneyError, format_yuan, yuan_to_fen
from medroam.gateway.errors import BusinessError
from medroam.services import mutual_aid as service
from medroam.services.errors import InvalidInputError, NotFoundError
from medroam.services.uow import unit_of_work
from medroam.store.insured_place import SqlInsuredPlace
from medroam.store.mutual_aid_tables import MutualAidGrantRow

T = TypeVar("T")
Who = Annotated[Principal, Depends(principal)]
Db = Annotated[Engine, Depends(engine_of)]
PsnNo = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{1,30}$")]
GrantPath = Annotated[str, Path(pattern=r"^[0-9A-Za-z_-]{1,40}$", description="共济编号")]
ROLES = (INSURED_PLACE, PROVINCE)

router = APIRouter(
    prefix="/mutual-aid",
    tags=["mutual-aid"],
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (401, 403, 422)},
)


class GrantCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "holder_psn_no": "P440100000001",
                    "beneficiary_psn_no": "P150100000001",
                    "relation": "child",
                    "quota": "200.00",
                }
            ]
        },
    )

    holder_psn_no: PsnNo = Field(description="共济人 (employee whose personal account pays)")
    beneficiary_psn_no: PsnNo = Field(description="被共济人 (close relative)")
    relation: Annotated[str, StringConstraints(min_length=1, max_length=20)] = Field(
        description="spouse, parent, child, sibling, grandparent, grandchild, or the GB/T "
        "4761 code 10, 20, 30, 50, 60, 70"
    )
    quota: Yuan | None = Field(
        default=None, description="共济额度 (yuan); default: the holder's balance today"
    )
    valid_from: Day | None = Field(default=None, description="default: today (China time)")


class GrantEnd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Literal["request", "insurance_changed"] = "request"
    valid_to: Day | None = Field(default=None, description="the day it ends; default today")


class GrantOut(BaseModel):
    grant_id: str
    holder_psn_no: str
    holder_region: str
    beneficiary_psn_no: str
    beneficiary_region: str
    relation: str
    relation_name: str
    quota: str = Field(description="共济额度 (yuan)")
    used: str = Field(description="已使用 (yuan)")
    remaining: str = Field(description="剩余可用 (yuan; 0.00 once ended)")
    valid_from: date
    valid_to: date | None
    status: Literal["active", "ended"]
    end_reason: str | None
    returned: str | None = Field(description="unused quota when it ended (yuan)")


def _out(g: service.GrantView) -> GrantOut:
    return GrantOut(
        grant_id=g.grant_id,
        holder_psn_no=g.holder,
        holder_region=g.holder_region,
        beneficiary_psn_no=g.beneficiary,
        beneficiary_region=g.beneficiary_region,
        relation=g.relation,
        relation_name=g.relation_name,
        quota=format_yuan(g.quota),
        used=format_yuan(g.used),
        remaining=format_yuan(g.remaining),
        valid_from=g.valid_from,
        valid_to=g.valid_to,
        status="ended" if g.status == "ended" else "active",
        end_reason=g.end_reason,
        returned=format_yuan(g.returned) if g.returned is not None else None,
    )


def _now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


def _run(engine: Engine, action: Callable[[Session], T]) -> T:
    try:
        with unit_of_work(engine) as session:
            return action(session)
    except NotFoundError as exc:
        raise not_found(str(exc)) from None
    except InvalidInputError as exc:
        raise bad_request(str(exc)) from None
    except BusinessError as exc:
        raise conflict(str(exc)) from None
    except IntegrityError as exc:
        first = str(exc.orig or exc).strip().splitlines()
        raise conflict(
            f"conflicts with stored data: {first[0] if first else 'duplicate'}"
        ) from None


def _region_of(session: Session, psn_no: str, field: str) -> str:
    person = SqlInsuredPlace(session).person(psn_no)
    if person is None or not person.insurances:
        raise NotFoundError(f"{field}: no insured person {psn_no}")
    return person.insurances[0].insured_region


@router.post(
    "/grants",
    status_code=status.HTTP_201_CREATED,
    response_model=GrantOut,
    summary="Grant mutual aid to a close relative (建立共济关系)",
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (400, 404, 409)},
)
def create_grant(body: GrantCreate, who: Who, engine: Db, request: Request) -> Any:
    """The holder's personal account may pay the beneficiary's personal share up to the
    quota (own account first, then grants, oldest first). Roles: insured_place or
    province of the holder's region, nation."""
    who.require(ROLES, "grant mutual aid")
    now = _now(request)
    try:
        quota = None if body.quota is None else yuan_to_fen(body.quota, field="quota")
    except MoneyError as exc:
        raise bad_request(str(exc)) from None

    def act(s: Session) -> service.GrantView:
        who.require_region(_region_of(s, body.holder_psn_no, "holder_psn_no"), "grant mutual aid")
        return service.grant(
            s,
            SqlInsuredPlace(s),
            now,
            holder=body.holder_psn_no,
            beneficiary=body.beneficiary_psn_no,
            relation=body.relation,
            quota=quota,
            on=body.valid_from,
        )

    return _out(_run(engine, act))


@router.post(
    "/grants/{grant_id}/end",
    response_model=GrantOut,
    summary="End a mutual-aid grant (解除共济关系)",
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (400, 404, 409)},
)
def end_grant(grant_id: GrantPath, body: GrantEnd, who: Who, engine: Db, request: Request) -> Any:
    """No further use; the unused quota (`returned`) is no longer available to the
    beneficiary (it never left the holder's account). Roles: insured_place or province
    of the holder's or the beneficiary's region, nation."""
    who.require(ROLES, "end mutual aid")
    now = _now(request)

    def act(s: Session) -> service.GrantView:
        row = s.get(MutualAidGrantRow, grant_id)
        if row is None or not (who.covers(row.holder_region) or who.covers(row.beneficiary_region)):
            raise NotFoundError(f"grant_id: no mutual-aid grant {grant_id}")
        return service.end(
            s, SqlInsuredPlace(s), now, grant_id=grant_id, on=body.valid_to, reason=body.reason
        )

    return _out(_run(engine, act))


@router.get(
    "/grants",
    response_model=list[GrantOut],
    summary="List the mutual-aid grants of a person (as holder or beneficiary)",
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (400, 404)},
)
def list_grants(
    who: Who,
    engine: Db,
    psn_no: Annotated[str, Query(pattern=r"^[0-9A-Za-z]{1,30}$", description="人员编号")],
    grant_status: Annotated[
        Literal["active", "ended"] | None, Query(alias="status", description="active or ended")
    ] = None,
) -> Any:
    """Oldest first. Roles: insured_place or province of the person's region, nation."""
    who.require(ROLES, "read mutual aid")

    def act(s: Session) -> list[service.GrantView]:
        who.require_region(_region_of(s, psn_no, "psn_no"), "read mutual aid")
        return service.list_grants(s, psn_no=psn_no, status=grant_status)

    return [_out(g) for g in _run(engine, act)]


def install(app: FastAPI) -> None:
    app.include_router(router)
