"""Deterministic synthetic cases: one case per ADRG, and a year of historical stays.

SYNTHETIC: the cases are built from the scheme's own code lists with a seeded
``random.Random``; costs are integer fen drawn from integer ranges (no float). They serve
calibration, tests and benchmarks until real data is supplied.

* ``case_for_adrg(scheme, "BR2")`` searches the ADRG's lists (principal diagnosis,
  procedures, entry conditions) for a case that the grouper puts in that ADRG.
* ``historical_year(scheme, seed=…, n=…)`` draws stays from those templates, adds MCC/CC
  secondaries, hospitals, places of insurance, dates and costs.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, replace
from datetime import date, timedelta
from itertools import islice

from medroam.domain.drg.grouper import GroupCase, GroupResult, group
from medroam.domain.drg.scheme import AdrgRule, MdcRule, Scheme
from medroam.domain.money import Fen

_MAX_TRIES = 40


def _mdc_of(scheme: Scheme, rule: AdrgRule) -> MdcRule:
    return next(m for m in scheme.mdcs if m.letter == rule.mdc)


def _first(codes: frozenset[str] | None, n: int) -> list[str]:
    return sorted(codes)[:n] if codes else []


def case_for_adrg(scheme: Scheme, code: str, case_id: str = "") -> GroupCase | None:
    """A case that ``group`` puts in ADRG ``code``, or None when none is found.

    Candidates come from the ADRG's own lists and its MDC's entry conditions; the first
    candidate (in sorted code order) that groups to the ADRG is returned, so the result
    is deterministic.
    """
    rule = scheme.adrgs[code]
    mdc = _mdc_of(scheme, rule)
    sex = mdc.sex if mdc.sex is not None else 1
    age, days, weight = (0, 10, 3000) if mdc.max_age_years == 0 else (45, None, None)
    if rule.max_age_days is not None or rule.min_age_days is not None:
        age, days = 0, rule.max_age_days if rule.max_age_days is not None else 40
        days = min(days, 10) if rule.max_age_days is not None else days
    if rule.catch_all:
        age, days = 0, 60
    if rule.min_weight_g is not None or rule.max_weight_g is not None:
        weight = rule.min_weight_g if rule.min_weight_g is not None else 1000

    earlier_dx: set[str] = set()
    earlier_px: set[str] = set()
    for r in (*mdc.procedural, *mdc.medical):
        if r.code == code:
            break
        earlier_dx |= r.principal_dx or frozenset()
        earlier_px |= r.principal_px or frozenset()

    def fresh(codes: frozenset[str] | None, taken: set[str]) -> list[str]:
        """Codes that earlier ADRGs of the MDC do not list come first."""
        ordered = sorted(codes or (), key=lambda c: (c in taken, c))
        return ordered[:_MAX_TRIES]

    table = mdc.principal_dx
    if table is None:  # entered by procedure (MDCA): any principal diagnosis will do
        pdx_pool = ["J18.900", "I63.900", "K35.800"]
    elif rule.principal_dx is not None:
        pdx_pool = fresh(rule.principal_dx & table, earlier_dx)
    else:
        pdx_pool = _first(table, _MAX_TRIES)
    extra_dx: list[list[str]] = [[]]
    if rule.any_dx is not None:
        shared = rule.any_dx & (table or frozenset())
        if shared:
            pdx_pool = _first(shared, _MAX_TRIES)
        else:
            extra_dx = [[c] for c in _first(rule.any_dx, 5)]
    if mdc.min_trauma_sites is not None:
        sites = mdc.trauma_sites
        extra_dx = []
        pools: dict[str, str] = {}
        for c in sorted(sites):
            pools.setdefault(sites[c], c)
        extra_dx = [[c] for c in pools.values()]

    px_pool: list[tuple[str, ...]] = [()]
    if rule.principal_px is not None:
        px_pool = [(p,) for p in fresh(rule.principal_px, earlier_px)]
    elif rule.procedures is not None:
        expr = rule.procedures
        px_pool = []
        for alt in expr.alternatives:
            px_pool.append(tuple(sorted(expr.tables[i])[0] for i in alt))
        for k in range(1, 5):
            for alt in expr.alternatives:
                px_pool.append(tuple(_first(expr.tables[i], k + 1)[-1] for i in alt))
    elif rule.needs_or_procedure:
        # an OR procedure no procedural ADRG of the MDC (or MDCA) lists
        listed: set[str] = set()
        for m in scheme.mdcs:
            if m.letter in (mdc.letter, "A"):
                for r in m.procedural:
                    if r.principal_px is not None:
                        listed |= r.principal_px
        px_pool = [(p,) for p in islice(sorted(scheme.or_procedures - listed), _MAX_TRIES)]

    for pdx in pdx_pool:
        for extra in extra_dx:
            for px in px_pool:
                dx = (pdx, *[e for e in extra if e != pdx])
                case = GroupCase(case_id or code, sex, age, days, weight, dx, px)
                result = group(case, scheme)
                if result.adrg == code:
                    return case
    return None


# --- a year of historical stays ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HistoricalCase:
    """A synthetic discharged stay: the grouper input plus what payment needs."""

    case: GroupCase
    person_id: str
    hospital_id: str
    hospital_level: str  # "3", "2", "1"
    treatment_region: str
    insured_region: str
    admitted: date
    discharged: date
    total_cost: Fen
    patient_share: Fen  # the itemised settlement's patient share (参保地 policy)
    item_fund: Fen  # the itemised settlement's fund amount


def _stable_unit(text: str, lo: int, hi: int) -> int:
    """A deterministic integer in [lo, hi] from a label (not ``hash()``, which varies)."""
    h = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
    return lo + h % (hi - lo + 1)


def templates(scheme: Scheme) -> list[GroupCase]:
    """One case per ADRG that can be reached (in scheme order)."""
    out: list[GroupCase] = []
    for code in scheme.adrgs:
        c = case_for_adrg(scheme, code)
        if c is not None:
            out.append(c)
    return out


def historical_year(
    scheme: Scheme,
    *,
    seed: int = 2025,
    n: int = 10_000,
    year: int = 2025,
    treatment_region: str = "620100",
    insured_regions: tuple[str, ...] = ("620100", "621000", "620500", "110100"),
    hospitals: tuple[tuple[str, str], ...] = (("H1", "3"), ("H2", "3"), ("H3", "2"), ("H4", "1")),
    base: list[GroupCase] | None = None,
) -> list[HistoricalCase]:
    """``n`` synthetic stays discharged in ``year``, deterministic for a given seed.

    The first insured region is the place of treatment itself (local patients); the
    others are, by their first two digits, intra- or inter-province. Each ADRG gets a
    base cost from its code (¥3,000–¥60,000, surgical ×2); a case costs base ×
    (60–160 %) with 3 % high outliers (×3–6) and 3 % low ones (×10–35 %); MCC ×1.6,
    CC ×1.25. Patient share is 20–40 % of cost.
    """
    rng = random.Random(seed)
    pool = base if base is not None else templates(scheme)
    mccs = sorted(c for c, t in scheme.mcc.items() if t is None)[:50]
    ccs = sorted(c for c, t in scheme.cc.items() if t is None)[:50]
    out: list[HistoricalCase] = []
    start = date(year, 1, 1)
    for i in range(n):
        tmpl = pool[rng.randrange(len(pool))]
        sev = rng.randrange(10)
        dx = tmpl.diagnoses
        cost_pct = 100
        if sev < 2 and mccs:
            dx = (*dx, rng.choice(mccs))
            cost_pct = 160
        elif sev < 5 and ccs:
            dx = (*dx, rng.choice(ccs))
            cost_pct = 125
        los = rng.randint(1, 20) if rng.randrange(50) else rng.randint(60, 90)
        case = replace(tmpl, case_id=f"S{seed}-{i:06d}", diagnoses=dx, los=los)
        adrg_base = _stable_unit(tmpl.diagnoses[0] + "|".join(tmpl.procedures), 3_000, 60_000)
        if tmpl.procedures:
            adrg_base *= 2
        mult = rng.randint(60, 160)
        roll = rng.randrange(100)
        if roll < 3:
            mult = rng.randint(300, 600)
        elif roll < 6:
            mult = rng.randint(10, 35)
        cost = adrg_base * 100 * cost_pct * mult // 10_000  # fen
        share = cost * rng.randint(20, 40) // 100
        hosp, level = hospitals[rng.randrange(len(hospitals))]
        discharged = start + timedelta(days=rng.randrange(365 if year % 4 else 366))
        admitted = discharged - timedelta(days=los)
        out.append(
            HistoricalCase(
                case=case,
                person_id=f"P{rng.randrange(n // 3 + 1):06d}",
                hospital_id=hosp,
                hospital_level=level,
                treatment_region=treatment_region,
                insured_region=insured_regions[rng.randrange(len(insured_regions))],
                admitted=admitted,
                discharged=discharged,
                total_cost=cost,
                patient_share=share,
                item_fund=cost - share,
            )
        )
    return out


def group_all(scheme: Scheme, cases: list[HistoricalCase]) -> list[GroupResult]:
    return [group(h.case, scheme) for h in cases]


# --- random cases for differential testing ----------------------------------------------


def listed_procedures(scheme: Scheme) -> tuple[str, ...]:
    """Every procedure code some ADRG lists (principal lists and procedure tables), sorted.

    Independent of the OR-procedure list, so a sample drawn from it does not change when
    that list changes.
    """
    codes: set[str] = set()
    for rule in scheme.adrgs.values():
        if rule.principal_px is not None:
            codes |= rule.principal_px
        if rule.procedures is not None:
            for table in rule.procedures.tables:
                codes |= table
    return tuple(sorted(codes))


def random_cases(scheme: Scheme, *, n: int, seed: int) -> list[GroupCase]:
    """``n`` random cases for comparing groupers (drg-dip.md §10.6), deterministic per seed.

    SYNTHETIC, not a case mix: every code comes from the scheme's own lists.

    * sex 1 or 2; age 1–95 years, or 8 % infants (age 0, 0–364 days; a birth weight of
      500–4,500 g when ≤ 28 days, as validation requires);
    * principal diagnosis uniform over the union of the MDC 主诊表; 4 % of cases are
      built for MDCZ (a principal trauma diagnosis plus one of another site);
    * 0–6 further diagnoses, distinct and not the principal: 40 % MCC, 40 % CC, 20 % any
      known diagnosis; a quarter of the cases add an MCC of the principal's own exclusion
      table (which must not count);
    * 0–5 procedures (none in 25 % of cases) uniform over ``listed_procedures``; in a
      third of the cases with procedures the first one comes from the procedural ADRGs
      of the principal diagnosis's MDC, so the procedural ADRGs are reached too.
    """
    rng = random.Random(seed)
    mdc_of_dx: dict[str, list[MdcRule]] = {}
    for m in scheme.mdcs:
        for d in sorted(m.principal_dx or ()):
            mdc_of_dx.setdefault(d, []).append(m)
    pdx_pool = sorted(mdc_of_dx)
    dx_pool = sorted(scheme.known_diagnoses)
    mcc_pool = sorted(scheme.mcc)
    cc_pool = sorted(scheme.cc)
    by_table: dict[str, list[str]] = {}
    for code, table in sorted(scheme.mcc.items()):
        if table is not None:
            by_table.setdefault(table, []).append(code)
    px_pool = listed_procedures(scheme)
    mdc_px: dict[str, list[str]] = {}
    for m in scheme.mdcs:
        own: set[str] = set()
        for r in m.procedural:
            own |= r.principal_px or frozenset()
            if r.procedures is not None:
                for t in r.procedures.tables:
                    own |= t
        mdc_px[m.letter] = sorted(own)
    trauma = next((m for m in scheme.mdcs if m.min_trauma_sites is not None), None)
    sites: dict[str, list[str]] = {}
    if trauma is not None:
        for code, site in sorted(trauma.trauma_sites.items()):
            sites.setdefault(site, []).append(code)
    site_names = sorted(sites)

    out: list[GroupCase] = []
    for i in range(n):
        sex = rng.choice((1, 2))
        days: int | None = None
        weight: int | None = None
        if rng.randrange(100) < 8:
            age = 0
            days = rng.randrange(365)
            if days <= 28:
                weight = rng.randrange(500, 4501, 10)
        else:
            age = rng.randint(1, 95)
        extra: list[str] = []
        if site_names and rng.randrange(100) < 4:
            first, second = rng.sample(site_names, 2)
            pdx = rng.choice(sites[first])
            extra.append(rng.choice(sites[second]))
        else:
            pdx = rng.choice(pdx_pool)
        for _ in range(rng.randint(0, 6)):
            roll = rng.randrange(10)
            pool = mcc_pool if roll < 4 else cc_pool if roll < 8 else dx_pool
            extra.append(rng.choice(pool))
        own_table = scheme.cce.get(pdx)
        if own_table in by_table and rng.randrange(4) == 0:
            extra.append(rng.choice(by_table[own_table]))
        dx = (pdx, *dict.fromkeys(d for d in extra if d != pdx))
        px: list[str] = []
        if rng.randrange(4):
            count = rng.randint(1, 5)
            own_px = mdc_px.get(mdc_of_dx[pdx][0].letter, []) if pdx in mdc_of_dx else []
            if own_px and rng.randrange(3) == 0:
                px.append(rng.choice(own_px))
            while len(px) < count:
                px.append(rng.choice(px_pool))
        out.append(
            GroupCase(f"R{seed}-{i:06d}", sex, age, days, weight, dx, tuple(dict.fromkeys(px)))
        )
    return out
