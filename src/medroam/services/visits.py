"""Visits at the place of treatment: outpatient registration (2201/2202), visit
information (2203), and the inpatient episode (2401 admit, 2402 discharge, 2403 change,
2404 cancel admission, 2405 cancel discharge).

Each function is one use case inside the caller's session (the gateway's dispatcher owns
the transaction). An institution sees only its own visits; another institution's
``mdtrt_id`` is answered exactly like an unknown one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session

from medroam.domain.codes import ServiceKind, service_kind
from medroam.domain.region import classify_visit
from medroam.services.errors import InvalidInputError, NotFoundError, RefusedError
from medroam.services.persons import (
    EMERGENCY_MED_TYPES,
    insurance_refusal,
    networked_refusal,
    require_person,
)
from medroam.services.ports import InstitutionRef, InsuredPlace
from medroam.store.repositories import (
    FeeLineRepository,
    LineLike,
    SettlementRepository,
    VisitLike,
    VisitRepository,
    new_id,
)
from medroam.store.tables import DiagnosisRow, VisitRow

OUTPATIENT = "outpatient"
INPATIENT = "inpatient"
DEFAULT_OUTPATIENT_MED_TYPE = "11"  # 普通门诊 until 2203 says otherwise


class VisitFacts(Protocol):
    """What the checks read of a visit: a stored row, or a row read for a fee upload."""

    @property
    def mdtrt_id(self) -> str: ...
    @property
    def psn_no(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> str: ...


_V = TypeVar("_V", bound=VisitFacts)


def touch(visit: VisitRow, now: datetime) -> None:
    """Mark the visit changed at ``now``, never moving ``updated_at`` back: it stays at or
    after every settlement of the visit (``settlement._stamp`` relies on it)."""
    if visit.updated_at is None or now > visit.updated_at:
        visit.updated_at = now


def emergency_in(med_type: str, exp_content: dict[str, Any]) -> bool:
    """Emergency care (急诊抢救, treated as filed): med_type 13/24 or the cross-province
    extension keys IPT_TYPE 2 / OTP_ER_REFL_FLAG 1 or 3 (national-interface §7.3)."""
    return (
        med_type in EMERGENCY_MED_TYPES
        or str(exp_content.get("IPT_TYPE", "")) == "2"
        or str(exp_content.get("OTP_ER_REFL_FLAG", "")) in ("1", "3")
    )


def parse_exp_content(value: Any, field_name: str = "exp_content") -> dict[str, Any]:
    """``exp_content`` as an object: sent as one, as a JSON string, or empty."""
    if value in (None, "", "null"):
        return {}
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            raise InvalidInputError(f"{field_name}: is not a JSON object: {value[:80]!r}") from None
        if isinstance(parsed, dict):
            return parsed
    raise InvalidInputError(f"{field_name}: must be a JSON object, got {value!r}")


@dataclass(frozen=True, slots=True)
class DiagnosisInput:
    diag_type: str
    diag_srt_no: int
    diag_code: str
    diag_name: str
    maindiag: bool = False
    diag_dept: str = ""
    doctor_code: str = ""
    doctor_name: str = ""
    diag_time: datetime | None = None
    adm_cond: str = ""
    valid: bool = True

    def row(self) -> DiagnosisRow:
        return DiagnosisRow(
            diag_type=self.diag_type,
            diag_srt_no=self.diag_srt_no,
            diag_code=self.diag_code,
            diag_name=self.diag_name,
            maindiag_flag=self.maindiag,
            diag_dept=self.diag_dept or None,
            dise_dor_no=self.doctor_code or None,
            dise_dor_name=self.doctor_name or None,
            diag_time=self.diag_time,
            adm_cond=self.adm_cond or None,
            valid=self.valid,
        )


# --- shared -----------------------------------------------------------------------------


def own_visit(
    session: Session,
    institution: InstitutionRef,
    mdtrt_id: str,
    psn_no: str | None,
    *,
    lock: bool = True,
) -> VisitRow:
    """The institution's visit ``mdtrt_id`` (locked), checked against ``psn_no``."""
    visit = VisitRepository(session).get(institution.code, mdtrt_id, lock=lock)
    return _checked(visit, mdtrt_id, psn_no)


def own_visit_for_upload(
    session: Session, institution: InstitutionRef, mdtrt_id: str, psn_no: str
) -> Any:
    """What a fee upload needs of the institution's visit ``mdtrt_id`` (locked), checked
    against ``psn_no``: ``mdtrt_id, psn_no, kind, status`` and its stored ``lines``
    count (``VisitRepository.head_for_upload``), no ORM entity."""
    head = VisitRepository(session).head_for_upload(institution.code, mdtrt_id)
    return _checked(head, mdtrt_id, psn_no)


def own_visit_with_lines(
    session: Session,
    institution: InstitutionRef,
    mdtrt_id: str,
    psn_no: str | None,
    batch: str | None,
    *,
    lock: bool,
) -> tuple[VisitLike, list[LineLike], bool]:
    """:func:`own_visit` with its unsettled lines (of ``batch``, or all) in one query;
    the third value says the person's insurance row was locked with the visit
    (``VisitRepository.with_unsettled_lines``)."""
    visit, lines, insurance_locked = VisitRepository(session).with_unsettled_lines(
        institution.code, mdtrt_id, batch, lock=lock
    )
    return _checked(visit, mdtrt_id, psn_no), lines, insurance_locked


def _checked(visit: _V | None, mdtrt_id: str, psn_no: str | None) -> _V:
    if visit is None:
        raise NotFoundError(f"mdtrt_id {mdtrt_id}: no such visit (就诊信息不存在)")
    if psn_no is not None and psn_no and visit.psn_no != psn_no:
        raise RefusedError(
            f"psn_no {psn_no} does not match visit {mdtrt_id} (its person is {visit.psn_no})"
        )
    return visit


def require_kind(visit: VisitFacts, kind: str, transaction: str) -> None:
    if visit.kind != kind:
        other = "2201 outpatient visit" if visit.kind == OUTPATIENT else "2401 inpatient stay"
        raise RefusedError(
            f"mdtrt_id {visit.mdtrt_id} is a {other}; {transaction} applies to "
            f"{'outpatient visits' if kind == OUTPATIENT else 'inpatient stays'}"
        )


_STATUS_WORDS = {
    "registered": "registered (已挂号)",
    "admitted": "admitted (在院)",
    "discharged": "discharged (已出院)",
    "settled": "settled (已结算)",
    "cancelled": "cancelled (已撤销)",
}


def require_status(visit: VisitFacts, allowed: tuple[str, ...], action: str) -> None:
    if visit.status not in allowed:
        raise RefusedError(
            f"mdtrt_id {visit.mdtrt_id} is {_STATUS_WORDS.get(visit.status, visit.status)}: "
            f"cannot {action}"
        )


def _check_voucher(
    place: InsuredPlace, psn_no: str, cert_type: str, cert_no: str, card_sn: str
) -> None:
    if cert_type not in ("01", "02", "03"):
        raise InvalidInputError(f"mdtrt_cert_type: unknown voucher type {cert_type!r}")
    found = place.find_person(cert_type, cert_no, card_sn)
    if found is None and card_sn and place.find_person(cert_type, cert_no) is not None:
        raise RefusedError(
            f"card_sn: {card_sn!r} is not the card's 卡识别码 (社会保障卡识别码不符)"
        )
    if found is None:
        raise RefusedError(
            f"mdtrt_cert_no (mdtrt_cert_type {cert_type}): no such voucher (就诊凭证不存在)"
        )
    if found != psn_no:
        raise RefusedError(
            f"mdtrt_cert_no (mdtrt_cert_type {cert_type}) does not identify person {psn_no} "
            "(就诊凭证与人员不符)"
        )


@dataclass(frozen=True, slots=True)
class _Opening:
    insured_region: str
    cross_region: str


def _opening(
    place: InsuredPlace,
    institution: InstitutionRef,
    psn_no: str,
    insutype: str,
    cert: tuple[str, str, str],
) -> _Opening:
    person, insurance = require_person(place, psn_no, insutype)
    refusal = insurance_refusal(insurance, person.psn_no)
    if refusal:
        raise RefusedError(refusal)
    _check_voucher(place, person.psn_no, *cert)
    cross = classify_visit(insurance.insured_region, institution.region)
    refusal = networked_refusal(institution, cross)
    if refusal:
        raise RefusedError(refusal)
    return _Opening(insurance.insured_region, cross.value)


# --- outpatient -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Registration:
    """2201 ``data``."""

    psn_no: str
    insutype: str
    begin: datetime
    cert_type: str
    cert_no: str
    ipt_otp_no: str
    card_sn: str = ""
    doctor_code: str = ""
    doctor_name: str = ""
    dept_code: str = ""
    dept_name: str = ""
    caty: str = ""
    exp_content: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Opened:
    mdtrt_id: str
    psn_no: str
    ipt_otp_no: str


def register_outpatient(
    session: Session,
    place: InsuredPlace,
    institution: InstitutionRef,
    now: datetime,
    reg: Registration,
    *,
    msgid: str,
) -> Opened:
    """2201: open an outpatient visit; returns the new ``mdtrt_id``."""
    visits = VisitRepository(session)
    opening = _opening(
        place, institution, reg.psn_no, reg.insutype, (reg.cert_type, reg.cert_no, reg.card_sn)
    )
    mdtrt_id = new_id("MD", institution.region, now)
    opened = visits.open(
        VisitRow(
            mdtrt_id=mdtrt_id,
            psn_no=reg.psn_no,
            insutype=reg.insutype,
            fixmedins_code=institution.code,
            med_type=DEFAULT_OUTPATIENT_MED_TYPE,
            kind=OUTPATIENT,
            ipt_otp_no=reg.ipt_otp_no,
            mdtrt_cert_type=reg.cert_type,
            mdtrt_cert_no=reg.cert_no,
            begin_time=reg.begin,
            end_time=None,
            status="registered",
            treatment_region=institution.region,
            insured_region=opening.insured_region,
            cross_region=opening.cross_region,
            institution_level=institution.level,
            dept_code=reg.dept_code or None,
            dept_name=reg.dept_name or None,
            caty=reg.caty or None,
            atddr_no=reg.doctor_code or None,
            dr_name=reg.doctor_name or None,
            emergency=emergency_in("", reg.exp_content),
            exp_content=reg.exp_content,
            extra={},
            msgid=msgid,
            created_at=now,
            updated_at=now,
        )
    )
    if not opened:
        raise RefusedError(
            f"ipt_otp_no {reg.ipt_otp_no} is already registered at {institution.code}; cancel "
            "that registration (2202) or use a new serial"
        )
    return Opened(mdtrt_id, reg.psn_no, reg.ipt_otp_no)


def cancel_registration(
    session: Session,
    institution: InstitutionRef,
    now: datetime,
    *,
    mdtrt_id: str,
    psn_no: str,
    ipt_otp_no: str,
) -> None:
    """2202: cancel an outpatient registration that has no settlement in force; its
    unsettled fee lines are cancelled with it."""
    visit = own_visit(session, institution, mdtrt_id, psn_no)
    require_kind(visit, OUTPATIENT, "2202 (cancel registration)")
    if ipt_otp_no and visit.ipt_otp_no != ipt_otp_no:
        raise RefusedError(
            f"ipt_otp_no {ipt_otp_no} does not match visit {mdtrt_id} ({visit.ipt_otp_no})"
        )
    require_status(visit, ("registered",), "cancel the registration")
    _refuse_if_settled(session, visit, "cancel the registration")
    _cancel_lines(session, visit, now)
    visit.status = "cancelled"
    touch(visit, now)
    session.flush()


def _refuse_if_settled(session: Session, visit: VisitRow, action: str) -> None:
    standing = SettlementRepository(session).in_force(visit.mdtrt_id)
    if standing:
        raise RefusedError(
            f"mdtrt_id {visit.mdtrt_id} has settlement {standing[-1].setl_id} in force: "
            f"cancel it first, then {action}"
        )


def _cancel_lines(session: Session, visit: VisitRow, now: datetime) -> None:
    for line in FeeLineRepository(session).unsettled(visit.mdtrt_id):
        line.status = "cancelled"
        line.cancelled_at = now


@dataclass(frozen=True, slots=True)
class VisitInfo:
    """2203 ``mdtrtinfo`` + ``diseinfo``."""

    mdtrt_id: str
    psn_no: str
    med_type: str
    begin: datetime
    main_cond_dscr: str = ""
    dise_codg: str = ""
    dise_name: str = ""
    exp_content: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    diagnoses: tuple[DiagnosisInput, ...] = ()


def upload_visit_info(
    session: Session, institution: InstitutionRef, now: datetime, info: VisitInfo
) -> None:
    """2203: medical category, disease and diagnoses of an outpatient visit."""
    visit = own_visit(session, institution, info.mdtrt_id, info.psn_no)
    require_kind(visit, OUTPATIENT, "2203 (visit information)")
    require_status(visit, ("registered",), "change the visit information")
    kind = service_kind(info.med_type)
    if kind is None or kind is ServiceKind.INPATIENT:
        raise InvalidInputError(
            f"med_type: {info.med_type!r} is not an outpatient medical category"
        )
    visit.med_type = info.med_type
    visit.main_cond_dscr = info.main_cond_dscr or visit.main_cond_dscr
    visit.dise_codg = info.dise_codg or visit.dise_codg
    visit.dise_name = info.dise_name or visit.dise_name
    merged = dict(visit.exp_content or {})
    merged.update(info.exp_content)
    visit.exp_content = merged
    visit.emergency = emergency_in(info.med_type, merged)
    visit.extra = {**(visit.extra or {}), **info.extra}
    main = next((d for d in info.diagnoses if d.valid and d.diag_srt_no == 1), None)
    if main is not None:
        visit.main_diag_code, visit.main_diag_name = main.diag_code, main.diag_name
    touch(visit, now)
    VisitRepository(session).upsert_diagnoses(
        visit.mdtrt_id, "outpatient", [d.row() for d in info.diagnoses]
    )


# --- inpatient --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Admission:
    """2401 ``mdtrtinfo`` + ``diseinfo`` (2403 sends the same with ``mdtrt_id``)."""

    psn_no: str
    insutype: str
    begin: datetime
    cert_type: str
    cert_no: str
    med_type: str
    ipt_no: str
    card_sn: str = ""
    doctor_code: str = ""  # atddr_no
    doctor_name: str = ""  # chfpdr_name
    adm_diag_dscr: str = ""
    dept_code: str = ""
    dept_name: str = ""
    bed: str = ""
    main_diag_code: str = ""
    main_diag_name: str = ""
    main_cond_dscr: str = ""
    dise_codg: str = ""
    dise_name: str = ""
    exp_content: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    diagnoses: tuple[DiagnosisInput, ...] = ()


def _inpatient_med_type(med_type: str) -> None:
    if service_kind(med_type) is not ServiceKind.INPATIENT:
        raise InvalidInputError(f"med_type: {med_type!r} is not an inpatient medical category")


def admit(
    session: Session,
    place: InsuredPlace,
    institution: InstitutionRef,
    now: datetime,
    adm: Admission,
    *,
    msgid: str,
) -> Opened:
    """2401: open an inpatient stay; returns the new ``mdtrt_id``."""
    _inpatient_med_type(adm.med_type)
    visits = VisitRepository(session)
    opening = _opening(
        place, institution, adm.psn_no, adm.insutype, (adm.cert_type, adm.cert_no, adm.card_sn)
    )
    mdtrt_id = new_id("MD", institution.region, now)
    opened = visits.open(
        VisitRow(
            mdtrt_id=mdtrt_id,
            psn_no=adm.psn_no,
            insutype=adm.insutype,
            fixmedins_code=institution.code,
            med_type=adm.med_type,
            kind=INPATIENT,
            ipt_otp_no=adm.ipt_no,
            mdtrt_cert_type=adm.cert_type,
            mdtrt_cert_no=adm.cert_no,
            begin_time=adm.begin,
            end_time=None,
            status="admitted",
            treatment_region=institution.region,
            insured_region=opening.insured_region,
            cross_region=opening.cross_region,
            institution_level=institution.level,
            dept_code=adm.dept_code or None,
            dept_name=adm.dept_name or None,
            bed=adm.bed or None,
            atddr_no=adm.doctor_code or None,
            dr_name=adm.doctor_name or None,
            main_diag_code=adm.main_diag_code or None,
            main_diag_name=adm.main_diag_name or None,
            adm_diag_dscr=adm.adm_diag_dscr or None,
            main_cond_dscr=adm.main_cond_dscr or None,
            dise_codg=adm.dise_codg or None,
            dise_name=adm.dise_name or None,
            emergency=emergency_in(adm.med_type, adm.exp_content),
            exp_content=adm.exp_content,
            extra=adm.extra,
            msgid=msgid,
            created_at=now,
            updated_at=now,
        )
    )
    if not opened:
        raise RefusedError(
            f"ipt_no {adm.ipt_no} is already admitted at {institution.code}; cancel that "
            "admission (2404) or use a new serial"
        )
    visits.upsert_diagnoses(mdtrt_id, "admission", [d.row() for d in adm.diagnoses])
    return Opened(mdtrt_id, adm.psn_no, adm.ipt_no)


def change_admission(
    session: Session, institution: InstitutionRef, now: datetime, mdtrt_id: str, adm: Admission
) -> None:
    """2403: change the admission information of a stay that is still open."""
    visit = own_visit(session, institution, mdtrt_id, adm.psn_no)
    require_kind(visit, INPATIENT, "2403 (change admission)")
    require_status(visit, ("admitted", "discharged"), "change the admission information")
    if adm.insutype and adm.insutype != visit.insutype:
        raise RefusedError(
            f"insutype {adm.insutype} differs from the stay's {visit.insutype}: cancel the "
            "admission (2404) and admit again to change the insurance"
        )
    if adm.med_type:
        _inpatient_med_type(adm.med_type)
        visit.med_type = adm.med_type
    if adm.begin is not None:
        visit.begin_time = adm.begin
    for column, value in (
        ("dept_code", adm.dept_code),
        ("dept_name", adm.dept_name),
        ("bed", adm.bed),
        ("atddr_no", adm.doctor_code),
        ("dr_name", adm.doctor_name),
        ("main_diag_code", adm.main_diag_code),
        ("main_diag_name", adm.main_diag_name),
        ("adm_diag_dscr", adm.adm_diag_dscr),
        ("main_cond_dscr", adm.main_cond_dscr),
        ("dise_codg", adm.dise_codg),
        ("dise_name", adm.dise_name),
    ):
        if value:
            setattr(visit, column, value)
    merged = {**(visit.exp_content or {}), **adm.exp_content}
    visit.exp_content = merged
    visit.emergency = emergency_in(visit.med_type, merged)
    visit.extra = {**(visit.extra or {}), **adm.extra}
    touch(visit, now)
    VisitRepository(session).upsert_diagnoses(
        visit.mdtrt_id, "admission", [d.row() for d in adm.diagnoses]
    )


@dataclass(frozen=True, slots=True)
class Discharge:
    """2402 ``dscginfo`` + ``diseinfo``."""

    mdtrt_id: str
    psn_no: str
    insutype: str
    end: datetime
    dscg_way: str
    dept_code: str = ""
    dept_name: str = ""
    bed: str = ""
    dise_codg: str = ""
    dise_name: str = ""
    die_date: date | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    diagnoses: tuple[DiagnosisInput, ...] = ()


def discharge(session: Session, institution: InstitutionRef, now: datetime, d: Discharge) -> None:
    """2402: discharge an admitted stay (the final settlement, 2304, follows)."""
    visit = own_visit(session, institution, d.mdtrt_id, d.psn_no)
    require_kind(visit, INPATIENT, "2402 (discharge)")
    if d.insutype and d.insutype != visit.insutype:
        raise RefusedError(f"insutype {d.insutype} differs from the stay's {visit.insutype}")
    require_status(visit, ("admitted",), "discharge")
    if d.end < visit.begin_time:
        raise InvalidInputError(
            f"endtime: {d.end:%Y-%m-%d %H:%M:%S} is before the admission "
            f"{visit.begin_time:%Y-%m-%d %H:%M:%S}"
        )
    visit.status = "discharged"
    visit.end_time = d.end
    visit.dscg_way = d.dscg_way
    visit.dscg_dept_code = d.dept_code or None
    visit.dscg_dept_name = d.dept_name or None
    visit.dscg_bed = d.bed or None
    visit.die_date = d.die_date
    if d.dise_codg:
        visit.dise_codg, visit.dise_name = d.dise_codg, d.dise_name or visit.dise_name
    visit.extra = {**(visit.extra or {}), **d.extra}
    main = next((x for x in d.diagnoses if x.valid and x.maindiag), None)
    if main is not None:
        visit.main_diag_code, visit.main_diag_name = main.diag_code, main.diag_name
    touch(visit, now)
    VisitRepository(session).upsert_diagnoses(
        visit.mdtrt_id, "discharge", [x.row() for x in d.diagnoses]
    )


def cancel_discharge(
    session: Session, institution: InstitutionRef, now: datetime, *, mdtrt_id: str, psn_no: str
) -> None:
    """2405: undo a discharge that has no final settlement in force."""
    visit = own_visit(session, institution, mdtrt_id, psn_no)
    require_kind(visit, INPATIENT, "2405 (cancel discharge)")
    if visit.status == "settled":
        raise RefusedError(
            f"mdtrt_id {mdtrt_id} is settled (已结算): cancel the settlement (2305) before the "
            "discharge"
        )
    require_status(visit, ("discharged",), "cancel the discharge")
    visit.status = "admitted"
    visit.end_time = None
    touch(visit, now)
    session.flush()


def cancel_admission(
    session: Session, institution: InstitutionRef, now: datetime, *, mdtrt_id: str, psn_no: str
) -> None:
    """2404: cancel an admission that has no settlement in force; its unsettled fee lines
    are cancelled with it."""
    visit = own_visit(session, institution, mdtrt_id, psn_no)
    require_kind(visit, INPATIENT, "2404 (cancel admission)")
    cancel_admission_row(session, visit, now)


def cancel_admission_row(session: Session, visit: VisitRow, now: datetime) -> None:
    require_status(visit, ("admitted",), "cancel the admission")
    _refuse_if_settled(session, visit, "cancel the admission")
    _cancel_lines(session, visit, now)
    visit.status = "cancelled"
    touch(visit, now)
    session.flush()
