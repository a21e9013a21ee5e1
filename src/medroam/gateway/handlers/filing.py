"""Hospital filings (national-interface §4.7, §7.5): 2501/2502 referral, 2503/2504
chronic/special disease, 2505/2506 designated institution. Each filing returns a
``trt_dcla_detl_sn``; only the institution that filed may cancel it.

* 2501 records the referral (``referrals``). When the destination lies outside the
  person's place of insurance, it also files a TMP_REFERRAL cross-region filing through
  ``medroam.services.filings`` under the rules of the place of insurance, which the
  settlement then finds (benefit status ``referral``). ``refl_type`` must agree with
  where the destination lies seen from the referring institution (1 same city, 2 same
  province, 3 another province).
* 2503 adds an unreviewed qualification to the person's chronic-disease qualifications
  (the certifying institution is ``ide_fixmedins_no``); 2504 cancels it while the agency
  has not reviewed it.
* 2505 designates an institution for the person (``designations``).
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from sqlalchemy import select

from medroam.domain.codes import FilingType
from medroam.domain.filing import (
    FilingChannel,
    FilingError,
    FilingRequest,
    region_covers,
)
from medroam.domain.policy import FilingRules
from medroam.domain.region import province_of
from medroam.gateway.errors import BusinessError, ForbiddenError, InputError
from medroam.gateway.reader import Node
from medroam.gateway.registry import RequestContext, handler
from medroam.gateway.settings import CHINA_TZ
from medroam.refdata.chronic import load_chronic_diseases
from medroam.services import filings as filing_service
from medroam.services.ports import Insurance, InsuredPerson
from medroam.store.insured_place import SqlInsuredPlace
from medroam.store.tables import (
    ChronicQualificationRow,
    DesignationRow,
    InstitutionRow,
    ReferralRow,
)

REFL_TYPES = {"1": "市内转院", "2": "转往省内异地", "3": "转往省外异地"}
_OPTIONAL_REFERRAL_FIELDS = (
    "tel",
    "addr",
    "insu_optins",
    "dise_cond_dscr",
    "hosp_agre_refl_flag",
    "refl_used_flag",
    "refl_old_mdtrt_id",
)
_AGENT_FIELDS = (
    "tel",
    "addr",
    "agnter_name",
    "agnter_cert_type",
    "agnter_certno",
    "agnter_tel",
    "agnter_addr",
    "agnter_rlts",
    "memo",
)


def new_sn(ctx: RequestContext) -> str:
    """trt_dcla_detl_sn: region(6) + yyyyMMddHHmmss + 10 random digits (30 chars)."""
    local = ctx.now.astimezone(CHINA_TZ)
    return f"{ctx.institution.region}{local:%Y%m%d%H%M%S}{secrets.randbelow(10**10):010d}"


def _today(ctx: RequestContext) -> date:
    return ctx.now.astimezone(CHINA_TZ).date()


def _person(ctx: RequestContext, node: Node) -> InsuredPerson:
    psn_no = node.text("psn_no", max_len=30)
    person = SqlInsuredPlace(ctx.session).person(psn_no)
    if person is None:
        raise BusinessError(f"{node.path}.psn_no: no insured person {psn_no}")
    return person


def _insurance(node: Node, person: InsuredPerson, *, required: bool) -> Insurance:
    insutype = node.text("insutype", required=required, max_len=6)
    if insutype:
        insurance = person.insurance(insutype)
        if insurance is None:
            held = ", ".join(i.insutype for i in person.insurances) or "none"
            raise BusinessError(
                f"{node.path}.insutype: person {person.psn_no} has no insurance {insutype} "
                f"(holds {held})"
            )
        if not insurance.active:
            raise BusinessError(
                f"{node.path}.insutype: person {person.psn_no}'s insurance {insutype} is not "
                f"in force (psn_insu_stas {insurance.status})"
            )
        return insurance
    for insurance in person.insurances:
        if insurance.active:
            return insurance
    raise BusinessError(f"{node.path}.psn_no: person {person.psn_no} has no insurance in force")


def _period(
    node: Node, begin_key: str, end_key: str, default: date | None = None
) -> tuple[date, date | None]:
    begin = node.day(begin_key, required=default is None) or default
    assert begin is not None
    end = node.day(end_key, required=False)
    if end is not None and end < begin:
        raise InputError(f"{node.path}.{end_key}: {end} is before {begin_key} {begin}")
    return begin, end


def _extras(node: Node, keys: tuple[str, ...]) -> dict[str, str]:
    return {k: node.text(k, required=False, max_len=2000) for k in keys if node.has(k)}


# --- 2501 / 2502 referral ----------------------------------------------------------------


def _expected_refl_type(origin: str, destination: str) -> str:
    if origin[:4] == destination[:4]:
        return "1"
    if origin[:2] == destination[:2]:
        return "2"
    return "3"


def _filing_rules(ctx: RequestContext, insurance: Insurance, on: date) -> FilingRules:
    try:
        return (
            SqlInsuredPlace(ctx.session)
            .policy(insurance.insured_region, insurance.insutype, on)
            .filing
        )
    except LookupError as exc:
        raise BusinessError(
            f"no benefit policy of {insurance.insured_region} for insutype "
            f"{insurance.insutype} on {on}: {exc}"
        ) from None


@handler("2501", "转院备案", state_changing=True)
def referral_filing(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    node = inp.node("refmedin")
    person = _person(ctx, node)
    insurance = _insurance(node, person, required=False)
    diag_code = node.text("diag_code", max_len=20)
    diag_name = node.text("diag_name", max_len=100)
    target_no = node.text("reflin_medins_no", max_len=30)
    target_name = node.text("reflin_medins_name", max_len=200)
    destination = node.region("mdtrtarea_admdvs")
    refl_type = node.code("refl_type", REFL_TYPES)
    refl_date = node.req_day("refl_date")
    reason = node.text("refl_rea", max_len=100)
    opinion = node.text("refl_opnn", max_len=200)
    begin, end = _period(node, "begndate", "enddate", default=refl_date)
    expected = _expected_refl_type(ctx.institution.region, destination)
    if refl_type != expected:
        raise InputError(
            f"{node.path}.refl_type: {refl_type} ({REFL_TYPES[refl_type]}) but "
            f"mdtrtarea_admdvs {destination} seen from this institution ({ctx.institution.region}) "
            f"is {expected} ({REFL_TYPES[expected]})"
        )

    sn = new_sn(ctx)
    insured = insurance.insured_region
    filing_id: str | None = None
    if not (region_covers(insured, destination) or region_covers(destination, insured)):
        rules = _filing_rules(ctx, insurance, begin)
        filed_destination = (
            province_of(destination) if rules.granularity == "province" else destination
        )
        request = FilingRequest(
            filing_id=sn,
            psn_no=person.psn_no,
            insured_region=insured,
            filing_type=FilingType.TMP_REFERRAL,
            destination=filed_destination,
            valid_from=begin,
            channel=FilingChannel.HOSPITAL,
            reason=f"2501 转院: {reason}"[:200],
        )
        try:
            filing_service.make_filing_in(ctx.session, rules, request, ctx.now)
        except FilingError as exc:
            raise BusinessError(f"referral filing refused: {exc}") from None
        filing_id = sn

    ctx.session.add(
        ReferralRow(
            trt_dcla_detl_sn=sn,
            psn_no=person.psn_no,
            filing_id=filing_id,
            filed_by=ctx.institution.code,
            insutype=insurance.insutype,
            refl_type=refl_type,
            reflin_medins_no=target_no,
            reflin_medins_name=target_name,
            destination=destination,
            diag_code=diag_code,
            diag_name=diag_name,
            refl_date=refl_date,
            begndate=begin,
            enddate=end,
            detail={
                "refl_rea": reason,
                "refl_opnn": opinion,
                **_extras(node, _OPTIONAL_REFERRAL_FIELDS),
            },
            status="active",
            cancel_reason=None,
            msgid=ctx.envelope.msgid,
            created_at=ctx.now,
            cancelled_at=None,
        )
    )
    ctx.session.flush()
    return {"result": {"trt_dcla_detl_sn": sn}}


@handler("2502", "转院备案撤销", state_changing=True)
def cancel_referral(ctx: RequestContext, inp: Node) -> None:
    node = inp.node("data")
    sn = node.text("trt_dcla_detl_sn", max_len=30)
    psn_no = node.text("psn_no", max_len=30)
    memo = node.text("memo", required=False, max_len=500)
    row = ctx.session.get(ReferralRow, sn, with_for_update=True)
    if row is None or row.psn_no != psn_no or row.filed_by != ctx.institution.code:
        raise ForbiddenError(
            f"{node.path}.trt_dcla_detl_sn: no referral filing {sn} of person {psn_no} "
            "made by this institution"
        )
    if row.status == "cancelled":
        raise BusinessError(f"referral filing {sn} is already cancelled")
    if row.filing_id is not None:
        person = SqlInsuredPlace(ctx.session).person(psn_no)
        insurance = person.insurance(row.insutype) if person is not None else None
        if insurance is None:
            raise BusinessError(f"person {psn_no} no longer holds insurance {row.insutype}")
        rules = _filing_rules(ctx, insurance, row.begndate)
        try:
            filing_service.cancel_filing_in(
                ctx.session,
                rules,
                row.filing_id,
                ctx.now,
                f"2502 转院备案撤销: {memo}"[:200],
                FilingChannel.HOSPITAL,
            )
        except FilingError as exc:
            raise BusinessError(f"referral filing {sn} cannot be cancelled: {exc}") from None
    row.status = "cancelled"
    row.cancel_reason = memo or None
    row.cancelled_at = ctx.now
    return None


# --- 2503 / 2504 chronic / special disease ----------------------------------------------


@handler("2503", "人员慢特病备案", state_changing=True)
def chronic_filing(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    node = inp.node("data")
    person = _person(ctx, node)
    insurance = _insurance(node, person, required=True)
    code = node.text("opsp_dise_code", max_len=30)
    name = node.text("opsp_dise_name", max_len=500)
    node.region("insu_optins", required=False)
    certifier = node.text("ide_fixmedins_no", max_len=30)
    node.text("ide_fixmedins_name", max_len=200)
    node.req_day("hosp_ide_date")
    node.text("diag_dr_codg", max_len=30)
    node.text("diag_dr_name", max_len=50)
    begin, end = _period(node, "begndate", "enddate")
    known = {d.code: d for d in load_chronic_diseases()}
    if code not in known:
        raise BusinessError(
            f"{node.path}.opsp_dise_code: {code!r} is not a chronic/special disease of the "
            f"catalogue (known: {', '.join(sorted(known))})"
        )
    existing = ctx.session.scalars(
        select(ChronicQualificationRow).where(
            ChronicQualificationRow.psn_no == person.psn_no,
            ChronicQualificationRow.opsp_dise_code == code,
            ChronicQualificationRow.status == "active",
        )
    ).all()
    for other in existing:
        if (other.end_date is None or begin <= other.end_date) and (
            end is None or other.begin_date <= end
        ):
            raise BusinessError(
                f"person {person.psn_no} already holds qualification {other.trt_dcla_detl_sn} "
                f"for {code} from {other.begin_date} to {other.end_date or 'open end'}"
            )
    sn = new_sn(ctx)
    ctx.session.add(
        ChronicQualificationRow(
            trt_dcla_detl_sn=sn,
            psn_no=person.psn_no,
            insutype=insurance.insutype,
            opsp_dise_code=code,
            opsp_dise_name=name,
            begin_date=begin,
            end_date=end,
            status="active",
            reviewed=False,
            ide_fixmedins_no=certifier,
            created_at=ctx.now,
        )
    )
    ctx.session.flush()
    return {"result": {"trt_dcla_detl_sn": sn}}


@handler("2504", "人员慢特病备案撤销", state_changing=True)
def cancel_chronic_filing(ctx: RequestContext, inp: Node) -> None:
    node = inp.node("data")
    sn = node.text("trt_dcla_detl_sn", max_len=30)
    psn_no = node.text("psn_no", max_len=30)
    node.text("memo", max_len=500)
    row = ctx.session.get(ChronicQualificationRow, sn, with_for_update=True)
    if row is None or row.psn_no != psn_no or row.ide_fixmedins_no != ctx.institution.code:
        raise ForbiddenError(
            f"{node.path}.trt_dcla_detl_sn: no chronic-disease filing {sn} of person {psn_no} "
            "made by this institution"
        )
    if row.status == "cancelled":
        raise BusinessError(f"chronic-disease filing {sn} is already cancelled")
    if row.reviewed:
        raise BusinessError(
            f"chronic-disease filing {sn} was reviewed by the agency: only unreviewed "
            "filings can be cancelled"
        )
    row.status = "cancelled"
    return None


# --- 2505 / 2506 designated institution --------------------------------------------------


@handler("2505", "人员定点备案", state_changing=True)
def designation_filing(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    node = inp.node("data")
    person = _person(ctx, node)
    biz_appy_type = node.text("biz_appy_type", max_len=6)
    fix_srt_no = node.text("fix_srt_no", max_len=6)
    code = node.text("fixmedins_code", max_len=30)
    name = node.text("fixmedins_name", max_len=200)
    begin, end = _period(node, "begndate", "enddate")
    institution = ctx.session.get(InstitutionRow, code)
    if institution is None or not institution.active:
        raise BusinessError(f"{node.path}.fixmedins_code: no active designated institution {code}")
    others = ctx.session.scalars(
        select(DesignationRow).where(
            DesignationRow.psn_no == person.psn_no,
            DesignationRow.biz_appy_type == biz_appy_type,
            DesignationRow.fix_srt_no == fix_srt_no,
            DesignationRow.status == "active",
        )
    ).all()
    for other in others:
        if (other.enddate is None or begin <= other.enddate) and (
            end is None or other.begndate <= end
        ):
            raise BusinessError(
                f"person {person.psn_no} already has designation {other.trt_dcla_detl_sn} "
                f"(biz_appy_type {biz_appy_type}, fix_srt_no {fix_srt_no}) from "
                f"{other.begndate} to {other.enddate or 'open end'}"
            )
    sn = new_sn(ctx)
    ctx.session.add(
        DesignationRow(
            trt_dcla_detl_sn=sn,
            psn_no=person.psn_no,
            fixmedins_code=code,
            fixmedins_name=name,
            filed_by=ctx.institution.code,
            biz_appy_type=biz_appy_type,
            fix_srt_no=fix_srt_no,
            begndate=begin,
            enddate=end,
            detail=_extras(node, _AGENT_FIELDS),
            status="active",
            cancel_reason=None,
            msgid=ctx.envelope.msgid,
            created_at=ctx.now,
            cancelled_at=None,
        )
    )
    ctx.session.flush()
    return {"result": {"trt_dcla_detl_sn": sn}}


@handler("2506", "人员定点备案撤销", state_changing=True)
def cancel_designation(ctx: RequestContext, inp: Node) -> None:
    node = inp.node("data")
    sn = node.text("trt_dcla_detl_sn", max_len=30)
    psn_no = node.text("psn_no", max_len=30)
    memo = node.text("memo", required=False, max_len=500)
    row = ctx.session.get(DesignationRow, sn, with_for_update=True)
    if row is None or row.psn_no != psn_no or row.filed_by != ctx.institution.code:
        raise ForbiddenError(
            f"{node.path}.trt_dcla_detl_sn: no designation {sn} of person {psn_no} "
            "made by this institution"
        )
    if row.status == "cancelled":
        raise BusinessError(f"designation {sn} is already cancelled")
    row.status = "cancelled"
    row.cancel_reason = memo or None
    row.cancelled_at = ctx.now
    return None
