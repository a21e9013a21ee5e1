"""Use case: settle one case without a server (``medroam calc``).

Finds the place of insurance's policy in force, the place of treatment's catalogue and
the visit's filing status, asks the domain whether the visit may settle directly (the
same function the gateway asks: :func:`medroam.domain.eligibility.direct_settlement_refusal`)
and only then runs the pure calculator.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol

from medroam.domain.calculator import settle
from medroam.domain.catalogue import Catalogue
from medroam.domain.chronic import ChronicDisease
from medroam.domain.eligibility import NotEligibleError, direct_settlement_refusal
from medroam.domain.filing import BenefitDecision, resolve_benefit_status
from medroam.domain.policy import BenefitPolicy
from medroam.domain.province import ProvinceBook
from medroam.domain.settlement import Settlement
from medroam.gateway.case_file import Case


class PolicyDate(StrEnum):
    """Which date selects the policy version in force (a choice the rules leave open).

    Default ``settle``: the settlement date, which is also the date that decides the
    accumulator year, so a stay across New Year is priced and accumulated consistently.
    """

    BEGIN = "begin"
    SETTLE = "settle"


class PolicyFinder(Protocol):
    """Anything with ``find(region, insutype, on) -> BenefitPolicy`` (a policy book)."""

    def find(self, region: str, insutype: str, on: date) -> BenefitPolicy: ...


@dataclass(frozen=True, slots=True)
class CalcOutcome:
    case: Case
    policy: BenefitPolicy
    decision: BenefitDecision
    settlement: Settlement


def calculate(
    case: Case,
    policies: PolicyFinder,
    catalogue_for: Callable[[str], Catalogue],
    *,
    policy_date: PolicyDate = PolicyDate.SETTLE,
    provinces: ProvinceBook | None = None,
    cross_province_diseases: Mapping[str, ChronicDisease] | None = None,
) -> CalcOutcome:
    """Settle ``case``. Raises ``LookupError`` when no policy is in force,
    ``NotEligibleError`` when the visit may not settle directly (what the gateway refuses)
    and ``CalculationError`` when the case cannot be settled as given.

    ``provinces``: the province settings (``None``: every province at the defaults);
    ``cross_province_diseases``: the national chronic-disease list by code (``None``: no
    cross-province chronic-disease check)."""
    visit, person = case.visit, case.person
    on = visit.settle_date if policy_date is PolicyDate.SETTLE else visit.begin
    policy = policies.find(person.insured_region, person.insutype, on)
    decision = resolve_benefit_status(
        case.filings,
        person.insured_region,
        visit.treatment_region,
        visit.begin,
        visit.settle_date,
        case.emergency,
        policy.filing,
    )
    refusal = direct_settlement_refusal(
        decision,
        policy.filing,
        policy_region=policy.region,
        insured_region=person.insured_region,
        treatment_region=visit.treatment_region,
        province=(provinces or ProvinceBook()).of(person.insured_region),
        med_type=visit.med_type,
        disease_code=visit.disease_code,
        on=visit.begin,
        cross_province_diseases=cross_province_diseases,
    )
    if refusal is not None:
        raise NotEligibleError(refusal)
    settlement = settle(
        case.lines,
        visit,
        person,
        decision.status,
        policy,
        catalogue_for(visit.treatment_region),
        case.ytd,
        case.account,
    )
    return CalcOutcome(case, policy, decision, settlement)
