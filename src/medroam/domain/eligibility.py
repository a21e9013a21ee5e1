"""May a visit settle directly (直接结算)? One decision for the gateway and ``medroam calc``.

The rules (domain-rules §2.2 FIL-01, §2.3, §3.3):

* Unfiled intra-province care (省内异地, 未备案) when the province requires a filing for it
  (``ProvinceSettings.intra_filing_required``).
* Other unfiled cross-region care when the place of insurance does not settle unfiled
  care directly (``FilingRules.unfiled_direct_settlement``).
* Cross-province outpatient chronic-disease care (门诊慢特病跨省直接结算) only for a
  disease of the national list, and only from the day cross-province settlement covers
  it (five diseases from 2021, five more from December 2024; data in
  ``medroam/data/chronic_diseases.csv``).

Emergency care and a filing made before the discharge settlement never reach here as
unfiled (FIL-07, FIL-08): :func:`medroam.domain.filing.resolve_benefit_status` has
already decided them. The function returns the reason for a refusal, or ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from medroam.domain.chronic import ChronicDisease
from medroam.domain.codes import BenefitStatus, ServiceKind, service_kind
from medroam.domain.filing import BenefitDecision
from medroam.domain.policy import FilingRules
from medroam.domain.province import ProvinceSettings
from medroam.domain.region import CrossRegion, classify_visit


class NotEligibleError(ValueError):
    """The visit may not settle directly; the message says why (and which rule)."""


def direct_settlement_refusal(
    decision: BenefitDecision,
    rules: FilingRules,
    *,
    policy_region: str,
    insured_region: str,
    treatment_region: str,
    province: ProvinceSettings | None,
    med_type: str = "",
    disease_code: str | None = None,
    on: date | None = None,
    cross_province_diseases: Mapping[str, ChronicDisease] | None = None,
) -> str | None:
    """Why the visit may not settle directly, or ``None`` when it may.

    ``province`` holds the settings of the insured region's province (``None``: the
    defaults, no intra-province filing needed). ``cross_province_diseases`` is the
    national list by code; ``None`` skips the chronic-disease check (a caller that does
    not settle med_type 14). ``on`` is the date of care the chronic check is made for.
    """
    cross = classify_visit(insured_region, treatment_region)
    if decision.status is BenefitStatus.UNFILED:
        if (
            cross is CrossRegion.INTRA_PROVINCE
            and province is not None
            and province.intra_filing_required
        ):
            return (
                f"province {province.province} requires a filing (备案) for intra-province "
                f"care (省内异地就医需备案): none covers {treatment_region}; file before the "
                "discharge settlement (emergency care counts as filed)"
            )
        if not rules.unfiled_direct_settlement:
            return (
                f"{decision.reason} The place of insurance {policy_region} requires a filing "
                "(备案) before direct settlement."
            )
    if (
        cross is CrossRegion.INTER_PROVINCE
        and cross_province_diseases is not None
        and service_kind(med_type) is ServiceKind.CHRONIC
        and disease_code
    ):
        disease = cross_province_diseases.get(disease_code)
        if disease is None:
            return (
                f"dise_codg {disease_code}: not one of the outpatient chronic diseases settled "
                "directly across provinces (门诊慢特病跨省直接结算病种)"
            )
        if on is not None and not disease.cross_province_on(on):
            return (
                f"dise_codg {disease_code} ({disease.name}): cross-province direct settlement "
                f"covers it from {disease.since.isoformat()}, not on {on.isoformat()} "
                "(门诊慢特病跨省直接结算自该日起)"
            )
    return None
