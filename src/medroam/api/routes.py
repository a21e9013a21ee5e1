"""The agency REST API (经办机构接口): insured persons, filings, institutions, policies,
catalogue and settlement queries, as one :class:`fastapi.APIRouter`.

Who may do what (``nation`` may do everything, everywhere):

==========================  ==============================  ===============================
resource                    read                            write
==========================  ==============================  ===============================
persons                     insured_place, province         insured_place, province
filings                     insured_place, province;        insured_place, province
                            treatment_place for filings
                            naming its region
institutions, credentials   every role, in its region       treatment_place, province
policies                    every role, in its region       insured_place, province
catalogue                   every role, in its region       —
settlements                 insured_place (its insured),    —
                            treatment_place (its
                            institutions), province
==========================  ==============================  ===============================

Region scope: ``insured_place`` and ``treatment_place`` act in their pooling region only,
``province`` in every pooling region of its province; outside it the answer is 403.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Depends, Path, Query, Request, status
from pydantic import BeforeValidator
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from medroam.api import commands, queries, schemas
from medroam.api.auth import (
    INSURED_PLACE,
    PROVINCE,
    TREATMENT_PLACE,
    Principal,
    engine_of,
    principal,
)
from medroam.api.errors import (
    ERROR_RESPONSES,
    ApiError,
    bad_request,
    conflict,
    forbidden,
    not_found,
)
from medroam.domain.codes import INSUTYPE_RESIDENT
from medroam.domain.filing import FilingChanges, FilingError, FilingRequest, region_covers
from medroam.domain.policy import FilingRules
from medroam.refdata.policies import load_policy_book
from medroam.refdata.regions import load_regions
from medroam.services import filings as filing_service
from medroam.services.uow import unit_of_work
from medroam.store.filings import StaleFilingError, filing_to_record
from medroam.store.refdata_cache import (
    PolicyNotFoundError,
    ReferenceDataMissingError,
    policy_for,
)

T = TypeVar("T")

Who = Annotated[Principal, Depends(principal)]
Db = Annotated[Engine, Depends(engine_of)]
Limit = Annotated[int, Query(ge=1, le=500, description="page size")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="items to skip")]
RegionPath = Annotated[str, Path(pattern=r"^[0-9]{6}$", description="6-digit region code")]
PsnPath = Annotated[str, Path(pattern=r"^[0-9A-Za-z]{1,30}$", description="人员编号")]
FilingPath = Annotated[str, Path(pattern=r"^[0-9A-Za-z_-]{1,40}$", description="备案编号")]
CodePath = Annotated[str, Path(pattern=r"^[A-Z][0-9]{11}$", description="定点医药机构编号")]
InsutypePath = Annotated[str, Path(pattern=r"^(310|390)$", description="310 职工, 390 居民")]
ItemPath = Annotated[
    str, Path(pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]{0,49}$", description="医疗目录编码")
]
SetlPath = Annotated[str, Path(pattern=r"^[0-9A-Za-z_-]{1,30}$", description="结算ID")]
QueryDay = Annotated[
    date | None,
    BeforeValidator(schemas.iso_day),
    Query(ge=date(1900, 1, 1), le=date(2199, 12, 31)),
]
RegionQuery = Annotated[str | None, Query(pattern=r"^[0-9]{6}$")]

READ_PERSONS = (INSURED_PLACE, PROVINCE)
WRITE_PERSONS = (INSURED_PLACE, PROVINCE)
WRITE_FILINGS = (INSURED_PLACE, PROVINCE)
WRITE_INSTITUTIONS = (TREATMENT_PLACE, PROVINCE)
WRITE_POLICIES = (INSURED_PLACE, PROVINCE)
ANY_ROLE = (INSURED_PLACE, TREATMENT_PLACE, PROVINCE)

router = APIRouter(responses={k: v for k, v in ERROR_RESPONSES.items() if k in (401, 403, 422)})


def _now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


def _read(engine: Engine, action: Callable[[Session], T]) -> T:
    with unit_of_work(engine) as session:
        return action(session)


def _write(engine: Engine, action: Callable[[Session], T]) -> T:
    try:
        with unit_of_work(engine) as session:
            return action(session)
    except IntegrityError as exc:  # a concurrent request took the same key
        first = str(exc.orig or exc).strip().splitlines()
        raise conflict(
            f"conflicts with stored data: {first[0] if first else 'duplicate'}"
        ) from None


def _pooling_region(code: str, field: str = "region") -> str:
    region = load_regions().get(code)
    if region is None or region.code.endswith("0000"):
        raise not_found(f"{field} {code} is not a pooling region (统筹区)")
    return code


def _region_arg(who: Principal, region: str | None, what: str) -> str:
    """The region a list is for: the one asked, or the caller's own pooling region."""
    if region is None:
        if who.region is None or who.region.endswith("0000"):
            raise bad_request(f"query parameter region is required to list {what}")
        region = who.region
    _pooling_region(region)
    return region


# --- persons ---------------------------------------------------------------------------------


@router.post(
    "/persons",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.PersonOut,
    tags=["persons"],
    summary="Register an insured person (参保登记)",
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (404, 409)},
)
def create_person(body: schemas.PersonCreate, who: Who, engine: Db, request: Request) -> Any:
    """Registers a person with one insurance, an account and vouchers (ID card always;
    e-voucher and social-security card when given). The ID number must be valid (check
    digit, birth date); `gend` and `brdy` must agree with it. Roles: insured_place of the
    region, province, nation."""
    who.require(WRITE_PERSONS, "register persons")
    _pooling_region(body.insuplc_admdvs, "insuplc_admdvs")
    who.require_region(body.insuplc_admdvs, "register persons")
    now = _now(request)
    psn_no = _write(engine, lambda s: commands.create_person(s, body, now))
    return _read(engine, lambda s: queries.get_person(s, psn_no))


def _person_scope(engine: Engine, who: Principal, psn_no: str, what: str) -> str:
    region = _read(engine, lambda s: queries.person_region(s, psn_no))
    if region is None:
        raise not_found(f"no insured person {psn_no}")
    who.require_region(region, what)
    return region


@router.get(
    "/persons/{psn_no}",
    response_model=schemas.PersonOut,
    tags=["persons"],
    summary="Get an insured person (full ID number)",
    responses={404: ERROR_RESPONSES[404]},
)
def get_person(psn_no: PsnPath, who: Who, engine: Db) -> Any:
    """The person with insurances, account balance, vouchers and chronic-disease
    qualifications. Roles: insured_place of the person's region, province, nation."""
    who.require(READ_PERSONS, "read persons")
    _person_scope(engine, who, psn_no, "read persons")
    person = _read(engine, lambda s: queries.get_person(s, psn_no))
    if person is None:  # pragma: no cover - checked above
        raise not_found(f"no insured person {psn_no}")
    return person


@router.get(
    "/persons",
    response_model=schemas.Page[schemas.PersonListItem],
    tags=["persons"],
    summary="List the persons insured in a region (ID numbers masked)",
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (400, 404)},
)
def list_persons(
    who: Who,
    engine: Db,
    region: Annotated[
        str | None,
        Query(pattern=r"^[0-9]{6}$", description="pooling region; default: the caller's"),
    ] = None,
    insutype: Annotated[str | None, Query(pattern=r"^(310|390)$")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    """Persons by psn_no; `certno` is masked (first 6 and last 4 characters)."""
    who.require(READ_PERSONS, "list persons")
    chosen = _region_arg(who, region, "persons")
    who.require_region(chosen, "list persons")
    window = queries.Window(limit, offset)
    return _read(engine, lambda s: queries.list_persons(s, chosen, insutype, window))


@router.get(
    "/persons/{psn_no}/settlements",
    response_model=schemas.Page[schemas.SettlementOut],
    tags=["settlements"],
    summary="Settlements of a person",
    responses={404: ERROR_RESPONSES[404]},
)
def person_settlements(
    psn_no: PsnPath,
    who: Who,
    engine: Db,
    start: Annotated[QueryDay, Query(alias="from")] = None,
    end: Annotated[QueryDay, Query(alias="to")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    """Every settlement (and reverse record) of the person, oldest first, optionally in a
    date range (China time). Roles: insured_place of the person's region, province,
    nation."""
    who.require(READ_PERSONS, "read the settlements of persons")
    _person_scope(engine, who, psn_no, "read the settlements of persons")
    window = queries.Window(limit, offset)
    return _read(
        engine,
        lambda s: queries.list_settlements(s, psn_no=psn_no, start=start, end=end, window=window),
    )


# --- filings ---------------------------------------------------------------------------------


def _filing_error(exc: FilingError) -> ApiError:
    message = str(exc)
    if any(k in message for k in ("already", "cannot be", "cannot become")):
        return conflict(message)
    return bad_request(message)


def _rules(session: Session, region: str, insutype: str, on: date) -> FilingRules:
    """The filing rules of the person's place of insurance in force on ``on``."""
    try:
        return policy_for(session, region, insutype, on).filing
    except (ReferenceDataMissingError, PolicyNotFoundError):
        try:
            return load_policy_book().find(region, insutype, on).filing
        except LookupError as exc:
            raise conflict(str(exc)) from None


def _person_rules(engine: Engine, psn_no: str, on: date) -> tuple[str, FilingRules]:
    def read(session: Session) -> tuple[str, FilingRules]:
        region = queries.person_region(session, psn_no)
        if region is None:
            raise not_found(f"no insured person {psn_no}")
        insutype = queries.person_insutype(session, psn_no) or INSUTYPE_RESIDENT
        return region, _rules(session, region, insutype, on)

    return _read(engine, read)


def _filing_visible(who: Principal, insured_region: str, destination: str) -> bool:
    if who.role == TREATMENT_PLACE:
        return who.region is not None and region_covers(destination, who.region)
    return who.covers(insured_region)


def _load_filing(engine: Engine, who: Principal, filing_id: str) -> schemas.FilingOut:
    try:
        filing = filing_service.get_filing(engine, filing_id)
    except filing_service.FilingNotFoundError:
        raise not_found(f"no filing {filing_id}") from None
    if not _filing_visible(who, filing.insured_region, filing.destination):
        raise forbidden(
            f"role {who.describe()} may not read filing {filing_id} of region "
            f"{filing.insured_region} to {filing.destination} (outside its region)"
        )
    return queries.filing_out(filing_to_record(filing))


@router.post(
    "/filings",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.FilingOut,
    tags=["filings"],
    summary="File (备案) for an insured person",
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (400, 404, 409)},
)
def create_filing(body: schemas.FilingCreate, who: Who, engine: Db, request: Request) -> Any:
    """Records a filing made by the person through `channel` (national_app, mini_program,
    gov_app, counter, phone, hospital). The rules are the person's place of insurance's
    (validity of temporary filings, one long-term filing at a time, destination outside
    the insured region). Roles: insured_place of the person's region, province, nation."""
    who.require(WRITE_FILINGS, "make filings")
    now = _now(request)
    region, rules = _person_rules(engine, body.psn_no, now.date())
    who.require_region(region, "make filings for persons")
    request_ = FilingRequest(
        filing_id=body.filing_id or filing_service.new_filing_id(),
        psn_no=body.psn_no,
        insured_region=region,
        filing_type=body.filing_type,
        destination=body.destination,
        valid_from=body.valid_from,
        channel=body.channel,
        commitment_only=body.commitment_only,
        reason=body.reason,
    )
    try:
        filing = filing_service.make_filing(engine, rules, request_, now)
    except FilingError as exc:
        raise _filing_error(exc) from None
    except IntegrityError:
        raise conflict(f"filing id {request_.filing_id} is already taken") from None
    return queries.filing_out(filing_to_record(filing))


@router.get(
    "/filings",
    response_model=schemas.Page[schemas.FilingOut],
    tags=["filings"],
    summary="Query filings by person, insured region or treatment region",
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (400, 404)},
)
def list_filings(
    who: Who,
    engine: Db,
    psn_no: Annotated[str | None, Query(pattern=r"^[0-9A-Za-z]{1,30}$")] = None,
    insured_region: RegionQuery = None,
    treatment_region: Annotated[
        str | None,
        Query(pattern=r"^[0-9]{6}$", description="filings whose destination covers it"),
    ] = None,
    active_only: bool = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    """Exactly one of `psn_no`, `insured_region` or `treatment_region`. The treatment
    place may list the filings naming its region (`treatment_region`)."""
    given = [k for k, v in (("psn_no", psn_no), ("insured_region", insured_region),
                            ("treatment_region", treatment_region)) if v is not None]  # fmt: skip
    if len(given) != 1:
        raise bad_request("give exactly one of psn_no, insured_region or treatment_region")
    if treatment_region is not None:
        _pooling_region(treatment_region, "treatment_region")
        who.require((*ANY_ROLE,), "list filings")
        who.require_region(treatment_region, "list the filings")
    else:
        who.require(WRITE_FILINGS, "list filings by person or insured region")
        if psn_no is not None:
            _person_scope(engine, who, psn_no, "read the filings of persons")
        else:
            assert insured_region is not None
            _pooling_region(insured_region, "insured_region")
            who.require_region(insured_region, "list the filings")
    window = queries.Window(limit, offset)
    return _read(
        engine,
        lambda s: queries.list_filings(
            s,
            psn_no=psn_no,
            insured_region=insured_region,
            treatment_region=treatment_region,
            active_only=active_only,
            window=window,
        ),
    )


@router.get(
    "/filings/{filing_id}",
    response_model=schemas.FilingOut,
    tags=["filings"],
    summary="Get a filing in its current version",
    responses={404: ERROR_RESPONSES[404]},
)
def get_filing(filing_id: FilingPath, who: Who, engine: Db) -> Any:
    """Roles: insured_place of the insured region, treatment_place of a region the filing
    names, province, nation."""
    return _load_filing(engine, who, filing_id)


@router.patch(
    "/filings/{filing_id}",
    response_model=schemas.FilingOut,
    tags=["filings"],
    summary="Change a filing (变更备案)",
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (400, 404, 409)},
)
def change_filing(
    filing_id: FilingPath, body: schemas.FilingChange, who: Who, engine: Db, request: Request
) -> Any:
    """The change makes the next version; long-term filings are locked for the place of
    insurance's lock period (FIL-04). Roles: insured_place of the insured region,
    province, nation."""
    who.require(WRITE_FILINGS, "change filings")
    current = _load_filing(engine, who, filing_id)
    who.require_region(current.insured_region, "change filings")
    now = _now(request)
    _, rules = _person_rules(engine, current.psn_no, now.date())
    changes = FilingChanges(
        channel=body.channel,
        destination=body.destination,
        filing_type=body.filing_type,
        valid_from=body.valid_from,
        commitment_only=body.commitment_only,
        reason=body.reason,
    )
    try:
        filing = filing_service.change_filing(engine, rules, filing_id, changes, now)
    except FilingError as exc:
        raise _filing_error(exc) from None
    except StaleFilingError as exc:
        raise conflict(f"{exc}; try again") from None
    return queries.filing_out(filing_to_record(filing))


@router.post(
    "/filings/{filing_id}/cancel",
    response_model=schemas.FilingOut,
    tags=["filings"],
    summary="Cancel a filing (取消备案)",
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (404, 409)},
)
def cancel_filing(
    filing_id: FilingPath, body: schemas.FilingCancel, who: Who, engine: Db, request: Request
) -> Any:
    """The filing stays valid up to today. Roles: insured_place of the insured region,
    province, nation."""
    who.require(WRITE_FILINGS, "cancel filings")
    current = _load_filing(engine, who, filing_id)
    who.require_region(current.insured_region, "cancel filings")
    now = _now(request)
    _, rules = _person_rules(engine, current.psn_no, now.date())
    try:
        filing = filing_service.cancel_filing(
            engine, rules, filing_id, now, body.reason, channel=body.channel
        )
    except FilingError as exc:
        raise _filing_error(exc) from None
    except StaleFilingError as exc:
        raise conflict(f"{exc}; try again") from None
    return queries.filing_out(filing_to_record(filing))


@router.get(
    "/filings/{filing_id}/history",
    response_model=list[schemas.FilingEventOut],
    tags=["filings"],
    summary="Every version of a filing with its event and channel",
    responses={404: ERROR_RESPONSES[404]},
)
def filing_history(filing_id: FilingPath, who: Who, engine: Db) -> Any:
    _load_filing(engine, who, filing_id)
    events = filing_service.filing_history(engine, filing_id)
    return [
        schemas.FilingEventOut(
            version=e.version,
            event=e.event.value,
            at=e.at,
            channel=e.channel.value,
            filing=queries.filing_out(filing_to_record(e.snapshot)),
        )
        for e in events
    ]


# --- institutions ----------------------------------------------------------------------------


def _institution_scope(engine: Engine, who: Principal, code: str, what: str) -> str:
    region = _read(engine, lambda s: queries.institution_region(s, code))
    if region is None:
        raise not_found(f"no institution {code}")
    who.require_region(region, what)
    return region


@router.get(
    "/institutions",
    response_model=schemas.Page[schemas.InstitutionOut],
    tags=["institutions"],
    summary="List the institutions of a region",
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (400, 404)},
)
def list_institutions(
    who: Who,
    engine: Db,
    region: Annotated[
        str | None,
        Query(pattern=r"^[0-9]{6}$", description="pooling region; default: the caller's"),
    ] = None,
    level: Annotated[str | None, Query(pattern=r"^[1239]$")] = None,
    active: bool | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    """Institutions (定点医药机构) with their credentials' key ids (never the secrets)."""
    chosen = _region_arg(who, region, "institutions")
    who.require_region(chosen, "list the institutions")
    window = queries.Window(limit, offset)
    return _read(
        engine,
        lambda s: queries.list_institutions(s, chosen, level=level, active=active, window=window),
    )


@router.get(
    "/institutions/{fixmedins_code}",
    response_model=schemas.InstitutionOut,
    tags=["institutions"],
    summary="Get an institution",
    responses={404: ERROR_RESPONSES[404]},
)
def get_institution(fixmedins_code: CodePath, who: Who, engine: Db) -> Any:
    _institution_scope(engine, who, fixmedins_code, "read the institutions")
    return _read(engine, lambda s: queries.get_institution(s, fixmedins_code))


@router.post(
    "/institutions",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.InstitutionCreated,
    tags=["institutions"],
    summary="Create an institution with gateway credentials",
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (404, 409)},
)
def create_institution(body: schemas.InstitutionCreate, who: Who, engine: Db) -> Any:
    """Creates the institution and issues the requested credentials; their secrets appear
    only in this answer. Roles: treatment_place of the region, province, nation."""
    who.require(WRITE_INSTITUTIONS, "create institutions")
    _pooling_region(body.region)
    who.require_region(body.region, "create institutions")
    code, issued = _write(engine, lambda s: commands.create_institution(s, body))
    out = _read(engine, lambda s: queries.get_institution(s, code))
    assert out is not None
    return schemas.InstitutionCreated(**out.model_dump(), secrets=issued)


@router.post(
    "/institutions/{fixmedins_code}/deactivate",
    response_model=schemas.InstitutionOut,
    tags=["institutions"],
    summary="Deactivate an institution and its credentials",
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (404, 409)},
)
def deactivate_institution(fixmedins_code: CodePath, who: Who, engine: Db) -> Any:
    """The gateway refuses the institution's calls from now on. Roles: treatment_place of
    the region, province, nation."""
    who.require(WRITE_INSTITUTIONS, "deactivate institutions")
    _institution_scope(engine, who, fixmedins_code, "deactivate the institutions")
    _write(engine, lambda s: commands.deactivate_institution(s, fixmedins_code))
    return _read(engine, lambda s: queries.get_institution(s, fixmedins_code))


@router.post(
    "/institutions/{fixmedins_code}/credentials/rotate",
    response_model=schemas.Secret,
    tags=["institutions"],
    summary="Rotate the credentials of one scheme",
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (404, 409)},
)
def rotate_credentials(
    fixmedins_code: CodePath,
    who: Who,
    engine: Db,
    body: Annotated[schemas.Rotate, Body()],
) -> Any:
    """Retires the active credentials of `scheme` and issues a new key id and secret
    (shown only here). Roles: treatment_place of the region, province, nation."""
    who.require(WRITE_INSTITUTIONS, "rotate credentials")
    _institution_scope(engine, who, fixmedins_code, "rotate the credentials of institutions")
    return _write(engine, lambda s: commands.rotate_credentials(s, fixmedins_code, body.scheme))


@router.get(
    "/institutions/{fixmedins_code}/settlements",
    response_model=schemas.Page[schemas.SettlementOut],
    tags=["settlements"],
    summary="Settlements of an institution in a period",
    responses={404: ERROR_RESPONSES[404]},
)
def institution_settlements(
    fixmedins_code: CodePath,
    who: Who,
    engine: Db,
    start: Annotated[QueryDay, Query(alias="from", description="first day (China time)")] = None,
    end: Annotated[QueryDay, Query(alias="to", description="last day, inclusive")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    """Roles: treatment_place of the institution's region, province, nation."""
    who.require((TREATMENT_PLACE, PROVINCE), "read the settlements of institutions")
    _institution_scope(engine, who, fixmedins_code, "read the settlements of institutions")
    if start is not None and end is not None and end < start:
        raise bad_request(f"to ({end}) is before from ({start})")
    window = queries.Window(limit, offset)
    return _read(
        engine,
        lambda s: queries.list_settlements(
            s, fixmedins_code=fixmedins_code, start=start, end=end, window=window
        ),
    )


# --- policies --------------------------------------------------------------------------------


@router.get(
    "/policies/{region}/{insutype}",
    response_model=list[schemas.PolicyVersion],
    tags=["policies"],
    summary="List the versions of a benefit policy",
    responses={404: ERROR_RESPONSES[404]},
)
def policy_versions(region: RegionPath, insutype: InsutypePath, who: Who, engine: Db) -> Any:
    _pooling_region(region)
    who.require_region(region, "read the policies")
    versions = _read(engine, lambda s: queries.policy_versions(s, region, insutype))
    if not versions:
        raise not_found(f"no policy {region}/{insutype} is stored (is the reference data loaded?)")
    return versions


@router.get(
    "/policies/{region}/{insutype}/in-force",
    response_model=schemas.PolicyDocument,
    tags=["policies"],
    summary="The policy in force on a date",
    responses={404: ERROR_RESPONSES[404]},
)
def policy_in_force(
    region: RegionPath,
    insutype: InsutypePath,
    who: Who,
    engine: Db,
    request: Request,
    on: Annotated[QueryDay, Query(description="the date (default: today)")] = None,
) -> Any:
    _pooling_region(region)
    who.require_region(region, "read the policies")
    day = on or _now(request).date()
    doc = _read(engine, lambda s: queries.policy_in_force(s, region, insutype, day))
    if doc is None:
        raise not_found(f"no policy {region}/{insutype} is in force on {day.isoformat()}")
    return doc


POLICY_EXAMPLE_NOTE = (
    "A policy object in the file format of medroam/data/policies/README.md, e.g. the "
    "`document` of GET …/in-force with a later `effective_from`. Amounts are decimal strings "
    "in yuan, ratios decimal strings; JSON numbers with a fraction are refused."
)


@router.post(
    "/policies/{region}/{insutype}",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.PolicyVersion,
    tags=["policies"],
    summary="Upload a new version of a benefit policy (validated)",
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (404, 409)},
)
def upload_policy(
    region: RegionPath,
    insutype: InsutypePath,
    who: Who,
    engine: Db,
    request: Request,
    document: Annotated[
        dict[str, Any],
        Body(
            description=POLICY_EXAMPLE_NOTE,
            openapi_examples={
                "new version": {
                    "summary": "the in-force document with a new start date",
                    "value": {
                        "region": "110100",
                        "insutype": "310",
                        "effective_from": "2027-01-01",
                        "effective_to": None,
                        "...": "the other fields as GET …/in-force returns them",
                    },
                }
            },
        ),
    ],
) -> Any:
    """Validated with the packaged policy validator; an error names the field
    (`inpatient.levels.3.ratio`, …). The version in force before it is closed the day
    before it starts. Roles: insured_place of the region, province, nation."""
    who.require(WRITE_POLICIES, "upload policies")
    _pooling_region(region)
    who.require_region(region, "upload policies")
    now = _now(request)
    return _write(engine, lambda s: commands.upload_policy(s, region, insutype, document, now))


# --- catalogue -------------------------------------------------------------------------------


def _catalogue_scope(engine: Engine, who: Principal, region: str) -> None:
    _pooling_region(region)
    who.require_region(region, "read the catalogue")
    if not _read(engine, queries.catalogue_loaded):
        raise not_found("the catalogue is not loaded (run medroam seed --demo)")


@router.get(
    "/catalogue/{region}/items/{code}",
    response_model=schemas.CatalogueItemOut,
    tags=["catalogue"],
    summary="Look up a catalogue item at a place of treatment",
    responses={404: ERROR_RESPONSES[404]},
)
def catalogue_item(region: RegionPath, code: ItemPath, who: Who, engine: Db) -> Any:
    """The item as the region's catalogue has it (national list, then the province's and
    the region's overrides)."""
    _catalogue_scope(engine, who, region)
    item = _read(engine, lambda s: queries.catalogue_item(s, region, code))
    if item is None:
        raise not_found(f"no item {code} in the catalogue of {region}")
    return item


@router.get(
    "/catalogue/{region}/items",
    response_model=schemas.Page[schemas.CatalogueItemOut],
    tags=["catalogue"],
    summary="Search the catalogue of a place of treatment by name",
    responses={404: ERROR_RESPONSES[404]},
)
def search_catalogue(
    region: RegionPath,
    who: Who,
    engine: Db,
    name: Annotated[
        str,
        Query(
            min_length=1,
            max_length=50,
            pattern=r"^[^\x00-\x1f\x7f]*$",
            description="part of the name, e.g. 阿莫西林",
        ),
    ],
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    _catalogue_scope(engine, who, region)
    window = queries.Window(limit, offset)
    return _read(engine, lambda s: queries.search_catalogue(s, region, name, window))


# --- settlements -----------------------------------------------------------------------------


@router.get(
    "/settlements/{setl_id}",
    response_model=schemas.SettlementOut,
    tags=["settlements"],
    summary="Get a settlement by setl_id",
    responses={404: ERROR_RESPONSES[404]},
)
def get_settlement(setl_id: SetlPath, who: Who, engine: Db) -> Any:
    """Roles: insured_place of the person's insured region, treatment_place of the
    institution's region, province of either, nation. A settlement outside the role's
    region is answered 404 exactly like a missing one."""
    regions = _read(engine, lambda s: queries.settlement_regions(s, setl_id))
    if regions is None:
        raise not_found(f"no settlement {setl_id}")
    insured, treatment = regions
    allowed = {
        INSURED_PLACE: who.covers(insured),
        TREATMENT_PLACE: who.covers(treatment),
        PROVINCE: who.covers(insured) or who.covers(treatment),
    }.get(who.role, True)
    if not allowed:  # answered as a missing one, so that no region can probe the ids
        raise not_found(f"no settlement {setl_id}")
    return _read(engine, lambda s: queries.get_settlement(s, setl_id))
