"""Person lookup (1101) and benefit check (2001), answered from the place of insurance.

The person is resolved from the voucher, never from the envelope's insuplc_admdvs (HIS
clients send their own region there on 1101); every insurance carries the person's own
place of insurance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from types import MappingProxyType

from medroam.domain.chronic import ChronicDisease
from medroam.domain.codes import (
    FUND_EMPLOYEE_ACCOUNT,
    INSUTYPE_EMPLOYEE,
    MED_TYPE_PHARMACY,
    AssistanceCategory,
    ServiceKind,
    service_kind,
)
from medroam.domain.eligibility import direct_settlement_refusal
from medroam.domain.filing import BenefitDecision, resolve_benefit_status
from medroam.domain.identity import mask_id_number
from medroam.domain.policy import BenefitPolicy
from medroam.domain.province import ProvinceSettings
from medroam.domain.region import CrossRegion, classify_visit
from medroam.refdata.chronic import load_chronic_diseases
from medroam.services.errors import InvalidInputError, NotFoundError, RefusedError
from medroam.services.ports import (
    INSU_STATUS_NAMES,
    InstitutionRef,
    Insurance,
    InsuredPerson,
    InsuredPlace,
)

EMERGENCY_MED_TYPES = frozenset({"13", "24"})


@dataclass(frozen=True, slots=True)
class SpecialIdentity:
    """A special identity of the person (1101 ``idetinfo``): the 医疗救助 category the
    place of insurance marked on an insurance. The registry keeps no separate validity for
    it, so its period is that of the insurance that carries it: from ``psn_insu_date``,
    open-ended unless the insurance is no longer in force (then to ``paus_insu_date``)."""

    category: AssistanceCategory
    begin: date | None
    end: date | None


@dataclass(frozen=True, slots=True)
class PersonInfo:
    """1101: the person, every insurance, and the personal-account balance."""

    person: InsuredPerson
    balance: int  # fen
    age: int  # on the day of the lookup
    identities: tuple[SpecialIdentity, ...] = ()

    def balance_of(self, insurance: Insurance) -> int:
        """The balance shown on an insurance row (employees own the personal account)."""
        return self.balance if insurance.insutype == INSUTYPE_EMPLOYEE else 0


def person_info(
    place: InsuredPlace, now: datetime, cert_type: str, cert_no: str, card_sn: str = ""
) -> PersonInfo:
    """Find a person by voucher (mdtrt_cert_type 01 e-voucher, 02 ID number, 03 card)."""
    if cert_type == "03" and not card_sn:
        raise InvalidInputError("card_sn: is required when mdtrt_cert_type is 03 (社会保障卡)")
    psn_no = place.find_person(cert_type, cert_no, card_sn)
    person = None if psn_no is None else place.person(psn_no)
    if person is None:
        raise NotFoundError(
            f"mdtrt_cert_no {mask_id_number(cert_no)} (mdtrt_cert_type {cert_type}): no insured "
            "person with this voucher (未查询到参保信息)"
        )
    if not person.insurances:
        raise NotFoundError(f"psn_no {person.psn_no}: the person has no insurance")
    state = place.benefit_state(person.psn_no, person.insurances[0].insutype, now.year)
    try:
        age = person.age_on(now.date())
    except ValueError:
        age = 0
    return PersonInfo(
        person=person,
        balance=state.account.balance,
        age=age,
        identities=special_identities(person),
    )


def special_identities(person: InsuredPerson) -> tuple[SpecialIdentity, ...]:
    """One identity per assistance category held on any insurance, in category order
    (the earliest start; open-ended if any insurance carrying it is in force)."""
    found: dict[AssistanceCategory, SpecialIdentity] = {}
    for insurance in person.insurances:
        category = insurance.assistance
        if category is None:
            continue
        end = None if insurance.active else insurance.pause_date
        seen = found.get(category)
        if seen is None:
            found[category] = SpecialIdentity(category, insurance.begin_date, end)
            continue
        begins = [d for d in (seen.begin, insurance.begin_date) if d is not None]
        ends = (seen.end, end)
        found[category] = SpecialIdentity(
            category,
            min(begins) if begins else None,
            None if None in ends else max(d for d in ends if d is not None),
        )
    order = list(AssistanceCategory)
    return tuple(sorted(found.values(), key=lambda i: order.index(i.category)))


def require_person(
    place: InsuredPlace, psn_no: str, insutype: str
) -> tuple[InsuredPerson, Insurance]:
    person = place.person(psn_no)
    if person is None:
        raise NotFoundError(f"psn_no {psn_no}: no insured person (人员编号不存在)")
    insurance = person.insurance(insutype)
    if insurance is None:
        held = ", ".join(i.insutype for i in person.insurances) or "none"
        raise RefusedError(
            f"insutype {insutype}: person {psn_no} has no such insurance (insured: {held})"
        )
    return person, insurance


def insurance_refusal(insurance: Insurance, psn_no: str) -> str | None:
    """Why an insurance cannot settle now, or None."""
    if insurance.active:
        return None
    name = INSU_STATUS_NAMES.get(insurance.status, "unknown status")
    return (
        f"psn_insu_stas {insurance.status} ({name}): insurance {insurance.insutype} of person "
        f"{psn_no} is not in force, no direct settlement"
    )


def networked_refusal(institution: InstitutionRef, cross: CrossRegion) -> str | None:
    if cross is CrossRegion.INTER_PROVINCE and not institution.networked:
        return (
            f"fixmedins_code {institution.code} is not networked for cross-province direct "
            "settlement (未开通跨省联网)"
        )
    return None


def filing_refusal(
    decision: BenefitDecision,
    policy: BenefitPolicy,
    *,
    insured_region: str,
    treatment_region: str,
    province: ProvinceSettings | None = None,
    med_type: str = "",
    disease_code: str | None = None,
    on: date | None = None,
) -> str | None:
    """Why the care cannot settle directly, or None: the domain's one decision
    (:func:`medroam.domain.eligibility.direct_settlement_refusal`), with the national
    list of cross-province chronic diseases."""
    return direct_settlement_refusal(
        decision,
        policy.filing,
        policy_region=policy.region,
        insured_region=insured_region,
        treatment_region=treatment_region,
        province=province,
        med_type=med_type,
        disease_code=disease_code,
        on=on,
        cross_province_diseases=cross_province_diseases(),
    )


@cache
def cross_province_diseases() -> Mapping[str, ChronicDisease]:
    """The national cross-province chronic-disease list by code (packaged data)."""
    return MappingProxyType({d.code: d for d in load_chronic_diseases()})


@dataclass(frozen=True, slots=True)
class BenefitQuery:
    psn_no: str
    insutype: str
    med_type: str
    begin: datetime
    end: datetime | None = None
    disease_code: str = ""
    emergency: bool = False


@dataclass(frozen=True, slots=True)
class FundEntitlement:
    """One 2001 ``trtinfo`` row."""

    fund_pay_type: str
    entitled: bool
    reason: str  # trt_chk_rslt: why not (or the benefit status when entitled)
    begin: date
    end: date | None


@dataclass(frozen=True, slots=True)
class BenefitCheck:
    psn_no: str
    decision: BenefitDecision | None
    funds: tuple[FundEntitlement, ...]


def check_benefits(
    place: InsuredPlace, institution: InstitutionRef, now: datetime, query: BenefitQuery
) -> BenefitCheck:
    """2001: per fund, whether the person is entitled for this care, and why not."""
    kind = service_kind(query.med_type)
    if kind is None:
        raise InvalidInputError(
            f"med_type: {query.med_type!r} is not a medical category the platform settles"
        )
    person, insurance = require_person(place, query.psn_no, query.insutype)
    day = query.begin.date()
    try:
        policy = place.policy(insurance.insured_region, insurance.insutype, day)
    except LookupError as exc:
        raise RefusedError(str(exc)) from None
    cross = classify_visit(insurance.insured_region, institution.region)
    decision = resolve_benefit_status(
        place.filings(person.psn_no),
        insurance.insured_region,
        institution.region,
        day,
        None,
        query.emergency or query.med_type in EMERGENCY_MED_TYPES,
        policy.filing,
    )
    general = (
        insurance_refusal(insurance, person.psn_no)
        or networked_refusal(institution, cross)
        or filing_refusal(
            decision,
            policy,
            insured_region=insurance.insured_region,
            treatment_region=institution.region,
            province=place.province_settings(insurance.insured_region),
            med_type=query.med_type,
            disease_code=query.disease_code or None,
            on=day,
        )
    )
    end = None if query.end is None else query.end.date()

    pool_type = (
        policy.outpatient_fund_type if kind is ServiceKind.OUTPATIENT else policy.pool_fund_type
    )
    pool_reason = general or _pool_refusal(place, person, kind, policy, query, day)
    rows = [
        FundEntitlement(pool_type, pool_reason is None, pool_reason or decision.reason, day, end)
    ]
    for layer in policy.layers:
        if kind in layer.applies_to:
            rows.append(
                FundEntitlement(layer.fund_pay_type, general is None, general or "", day, end)
            )
    cs = policy.civil_servant
    if cs is not None and insurance.psn_type in cs.psn_types and kind in cs.applies_to:
        rows.append(FundEntitlement("320100", general is None, general or "", day, end))
    ap = policy.assistance
    if (
        ap is not None
        and insurance.assistance is not None
        and insurance.assistance in ap.categories
        and kind in ap.applies_to
    ):
        rows.append(FundEntitlement("610100", general is None, general or "", day, end))
    if policy.account.enabled and insurance.insutype == INSUTYPE_EMPLOYEE:
        rows.append(
            FundEntitlement(
                FUND_EMPLOYEE_ACCOUNT,
                insurance_refusal(insurance, person.psn_no) is None,
                insurance_refusal(insurance, person.psn_no) or "",
                day,
                end,
            )
        )
    return BenefitCheck(person.psn_no, decision, tuple(rows))


def _pool_refusal(
    place: InsuredPlace,
    person: InsuredPerson,
    kind: ServiceKind,
    policy: BenefitPolicy,
    query: BenefitQuery,
    day: date,
) -> str | None:
    if kind is ServiceKind.OUTPATIENT and policy.outpatient is None:
        return (
            f"the place of insurance {policy.region} has no general-outpatient pooling for "
            f"insutype {policy.insutype}: only the personal account can pay"
        )
    if kind is ServiceKind.OUTPATIENT and query.med_type[:2] == MED_TYPE_PHARMACY:
        return (
            f"med_type {query.med_type} (定点药店购药): a pharmacy purchase is paid by the "
            "personal account (and mutual aid) only"
        )
    if kind is ServiceKind.CHRONIC:
        code = query.disease_code
        if not code:
            return "dise_codg: a chronic-disease check (med_type 14) needs the disease code"
        if policy.chronic is None or code not in policy.chronic.diseases:
            return (
                f"dise_codg {code} is not a chronic/special disease of the place of insurance "
                f"{policy.region}"
            )
        qualified = any(
            q.disease_code == code and q.valid_on(day)
            for q in place.chronic_qualifications(person.psn_no)
        )
        if not qualified:
            return (
                f"dise_codg {code}: person {person.psn_no} is not qualified (未认定/未备案) for "
                f"this chronic disease on {day.isoformat()}"
            )
    return None
