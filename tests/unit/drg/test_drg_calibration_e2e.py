"""A synthetic year end to end: generate, group, calibrate, price, settle.

The data is SYNTHETIC (``domain.drg.synthetic``); the assertions are properties that any
data must satisfy, not figures.
"""

from __future__ import annotations

from collections import Counter

from medroam.domain.drg.grouper import GroupStatus, group
from medroam.domain.drg.payment import (
    CaseClass,
    PaymentCase,
    PaymentMethod,
    PaymentParams,
    Scope,
    YearBudget,
    base_rate,
    calibrate,
    monthly_advance,
    price_cases,
    settle_year,
)
from medroam.domain.drg.scheme import Scheme
from medroam.domain.drg.synthetic import historical_year


def _scope(insured: str, treatment: str) -> Scope:
    if insured == treatment:
        return Scope.LOCAL
    return Scope.INTRA_PROVINCE if insured[:2] == treatment[:2] else Scope.INTER_PROVINCE


def test_generator_is_deterministic(scheme: Scheme) -> None:
    a = historical_year(scheme, seed=1, n=200)
    b = historical_year(scheme, seed=1, n=200)
    c = historical_year(scheme, seed=2, n=200)
    assert a == b
    assert a != c


def test_synthetic_year(scheme: Scheme) -> None:
    year = historical_year(scheme, seed=11, n=4_000)
    results = [group(h.case, scheme) for h in year]
    assert all(r.status is GroupStatus.GROUPED for r in results)
    cal = calibrate([(r.drg, h.total_cost) for r, h in zip(results, year, strict=True)])
    assert cal.standards.groups
    mean_rw = sum(cal.counts[d] * g.rw for d, g in cal.standards.groups.items()) // sum(
        cal.counts.values()
    )
    assert 9_000 <= mean_rw <= 11_000  # the case-weighted mean RW is about 1.0
    rate = base_rate(500_000_000, cal.counts, cal.standards)
    assert rate > 0
    params = PaymentParams(
        region="620100",
        year=2025,
        method=PaymentMethod.POINTS,
        standards=cal.standards,
        point_value=rate * 100,
        cross_region_coefficient=9_800,
    )
    cases = [
        PaymentCase(
            h.case.case_id,
            h.person_id,
            h.hospital_id,
            h.hospital_level,
            _scope(h.insured_region, h.treatment_region),
            h.insured_region,
            r.drg,
            h.case.los or 0,
            "1",
            h.admitted,
            h.discharged,
            h.total_cost,
            h.patient_share,
            h.item_fund,
        )
        for h, r in zip(year, results, strict=True)
    ]
    priced = price_cases(cases, params)
    classes = Counter(p.klass for p in priced)
    assert classes[CaseClass.NORMAL] > classes[CaseClass.HIGH] > 0
    assert classes[CaseClass.LOW] > 0
    assert classes[CaseClass.EXCLUDED_SHORT] > 0 and classes[CaseClass.EXCLUDED_LONG] > 0
    assert classes[CaseClass.NOT_INCLUDED] > 0  # inter-province (110100)
    adv = monthly_advance(priced, 8_500)
    budget = YearBudget(450_000_000, holdback=500)
    settled = settle_year(priced, params, budget, adv)
    drg_total = sum(h.drg_amount for h in settled.hospitals)
    assert abs(drg_total - settled.distributable) <= len(priced)
    assert {c.insured_region for c in settled.claims} == {"621000", "620500", "110100"}
    for h in settled.hospitals:
        assert h.advances + h.balance == h.fund_due
