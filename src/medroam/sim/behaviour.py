"""Why and where the people of the demo nation seek care outside their pooling region.

The seed (:mod:`medroam.sim.seed`) says who people are and what they filed; this module
adds what they do. Every person gets zero or more :class:`Care` patterns — a place of
treatment, a reason, and how often they come for outpatient care and for a hospital
stay — that look like life:

* a retiree resettled with a filing (异地安置) lives in a big city and sees its doctors
  often; so does a parent living with a child in another province (异地长期居住);
* a worker posted elsewhere (常驻异地工作) and a migrant worker who never filed
  (外出务工, 未备案) are young and rarely admitted;
* a referral (转诊) goes to a national centre — 北京, 上海, 广州, 成都, 武汉 — mostly to be
  admitted to one of its 三级 hospitals;
* emergencies (filed afterwards, or on a journey without a filing: 视同备案) are stays;
* everyone else stays at home, except for a business trip or a holiday now and then
  (unfiled outpatient care in a big city) and a stay at the provincial capital's
  hospital (省内异地转诊).

Rates are expected encounters per 30 days for one synthetic person (each stands for
many real ones). Nothing here touches a database; everything is deterministic for a
seed: each person draws from a stream keyed by the seed and their ``psn_no``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from medroam.domain.codes import FilingType
from medroam.refdata.regions import RegionTable
from medroam.sim.seed import CENTRES, RETIREMENT_CITIES, WORK_CITIES, SeedPerson

BEHAVIOUR_VERSION = 1  # bump when a change makes the same seed behave differently

# Hospital level weights (三级 / 二级 / 一级) for each kind of encounter.
LEVELS_OUTPATIENT: tuple[tuple[str, int], ...] = (("3", 55), ("2", 30), ("1", 15))
LEVELS_INPATIENT: tuple[tuple[str, int], ...] = (("3", 70), ("2", 30))
LEVELS_TERTIARY: tuple[tuple[str, int], ...] = (("3", 1),)


@dataclass(frozen=True, slots=True)
class Shape:
    """The published figures the simulated month is shaped after (domain-rules §8, the
    2021 Jan–Oct cross-province figures: inpatient 363.68万 person-times, 880.35亿 yuan,
    58.0 % from the funds; general outpatient 700.03万, 17.52亿, 54.9 %).

    * ``outpatient_per_inpatient``: outpatient ÷ inpatient person-times (≈ 1.92, "about
      2 : 1");
    * ``outpatient_mean_fen`` / ``inpatient_mean_fen``: the mean bill per visit
      (17.52亿 ÷ 700.03万 ≈ 250 yuan; 880.35亿 ÷ 363.68万 ≈ 24,207 yuan), so the total cost
      comes out ≈ 50 : 1 and a stay costs ≈ 97 outpatient visits;
    * ``fund_ratio`` (ten-thousandths): the overall share paid by the funds, reported
      next to the achieved one (the policies decide it; the bills' mix steers it).
    """

    outpatient_per_inpatient: Fraction = Fraction(2)
    outpatient_mean_fen: int = 250_00
    inpatient_mean_fen: int = 24_200_00
    fund_ratio: int = 5_800

    def __post_init__(self) -> None:
        if self.outpatient_per_inpatient <= 0:
            raise ValueError("outpatient_per_inpatient must be positive")
        if self.outpatient_mean_fen <= 0 or self.inpatient_mean_fen <= 0:
            raise ValueError("mean bills must be positive")


@dataclass(frozen=True, slots=True)
class Reason:
    key: str
    label: str  # Chinese term
    english: str


REASONS: dict[str, Reason] = {
    r.key: r
    for r in (
        Reason("resettled_retiree", "异地安置退休", "retiree resettled to a big city"),
        Reason("living_with_children", "异地长期居住", "living with children elsewhere"),
        Reason("posted_worker", "常驻异地工作", "posted to work elsewhere"),
        Reason("referral", "异地转诊", "referred to a national centre"),
        Reason("emergency_filed", "异地急诊抢救", "emergency, filed afterwards"),
        Reason("temporary", "其他临时外出就医", "other temporary care"),
        Reason("migrant_worker", "外出务工(未备案)", "migrant worker, not filed"),
        Reason("emergency_journey", "急诊(视同备案)", "emergency on a journey, not filed"),
        Reason("trip", "出差旅游(未备案)", "business trip or holiday, not filed"),
        Reason("provincial_referral", "省内转诊", "referred to the provincial capital"),
    )
}


@dataclass(frozen=True, slots=True)
class Care:
    """One reason a person is treated outside their pooling region, and how often."""

    psn_no: str
    reason: str  # a key of REASONS
    region: str  # the place of treatment (pooling region)
    outpatient_per_month: float  # expected outpatient visits per 30 days
    inpatient_per_month: float  # expected admissions per 30 days
    emergency: bool = False  # stays are emergency admissions (急诊转住院)
    outpatient_levels: tuple[tuple[str, int], ...] = LEVELS_OUTPATIENT
    inpatient_levels: tuple[tuple[str, int], ...] = LEVELS_INPATIENT


# (outpatient, inpatient) expected encounters per 30 days, by reason.
RATES: dict[str, tuple[float, float]] = {
    "resettled_retiree": (1.2, 0.30),
    "living_with_children": (1.0, 0.25),
    "posted_worker": (0.5, 0.04),
    "referral": (0.4, 0.55),
    "emergency_filed": (0.1, 0.45),
    "temporary": (0.5, 0.15),
    "migrant_worker": (0.6, 0.04),
    "emergency_journey": (0.05, 0.25),
    "trip": (0.05, 0.004),
    "provincial_referral": (0.02, 0.025),
}
_FILED_REASON = {
    FilingType.LT_RETIRED: "resettled_retiree",
    FilingType.LT_RESIDENT: "living_with_children",
    FilingType.LT_WORKER: "posted_worker",
    FilingType.TMP_REFERRAL: "referral",
    FilingType.TMP_EMERGENCY: "emergency_filed",
    FilingType.TMP_OTHER: "temporary",
}
TRIP_CITIES = tuple(
    dict.fromkeys((*CENTRES.values(), *RETIREMENT_CITIES, *WORK_CITIES, "530700", "460200"))
)


def person_rng(seed: int, psn_no: str, *parts: str) -> random.Random:
    """The random stream of one person (independent of anyone else and of the order)."""
    return random.Random(
        ":".join(("medroam-sim", str(BEHAVIOUR_VERSION), str(seed), psn_no, *parts))
    )


def capital_of(regions: RegionTable, province: str) -> str | None:
    """The first pooling region of a province (the capital in the packaged list)."""
    own = regions.pooling_regions_of(province[:2] + "0000")
    return own[0].code if own else None


def _resolve_destination(
    destination: str, regions: RegionTable, rng: random.Random, seeded: Iterable[str]
) -> str:
    """A filing names a pooling region or, where the rules file by province, a province:
    people filed to a province mostly live in its capital."""
    if not destination.endswith("0000"):
        return destination
    inside = [c for c in seeded if c[:2] == destination[:2]]
    capital = capital_of(regions, destination)
    if capital is not None and (capital in inside or not inside) and rng.random() < 0.6:
        return capital
    if inside:
        return inside[rng.randrange(len(inside))]
    return capital or destination


def _pick(rng: random.Random, codes: Sequence[str]) -> str | None:
    return codes[rng.randrange(len(codes))] if codes else None


def cares_of(
    seed: int,
    person: SeedPerson,
    regions: RegionTable,
    seeded: Sequence[str],
) -> tuple[Care, ...]:
    """The care patterns of one person; only places of treatment in ``seeded`` (the
    pooling regions that have hospitals) count."""
    rng = person_rng(seed, person.psn_no, "behaviour")
    home = person.insured_region
    seeded_set = set(seeded)
    out: list[Care] = []

    def add(
        reason: str, region: str | None, *, emergency: bool = False, tertiary: bool = False
    ) -> None:
        if region is None or region == home or region not in seeded_set:
            return
        o, i = RATES[reason]
        out.append(
            Care(
                person.psn_no,
                reason,
                region,
                o,
                i,
                emergency=emergency,
                outpatient_levels=LEVELS_TERTIARY if tertiary else LEVELS_OUTPATIENT,
                inpatient_levels=LEVELS_TERTIARY if tertiary else LEVELS_INPATIENT,
            )
        )

    filing = person.filing
    if filing is not None:
        reason = _FILED_REASON[filing.filing_type]
        region = _resolve_destination(filing.destination, regions, rng, seeded)
        add(
            reason,
            region,
            emergency=reason == "emergency_filed",
            tertiary=reason == "referral",
        )
        return tuple(out)
    if person.profile == "migrant_worker":
        add("migrant_worker", person.travel)
        return tuple(out)
    if person.profile == "emergency_unfiled":
        add("emergency_journey", person.travel, emergency=True)
        return tuple(out)
    # People at home: a trip now and then, and the provincial capital's hospitals.
    trips = [c for c in TRIP_CITIES if c in seeded_set and c[:2] != home[:2]]
    add("trip", _pick(rng, trips), emergency=rng.random() < 0.5)
    capital = capital_of(regions, home)
    add("provincial_referral", capital, tertiary=True)
    return tuple(out)


def nation_cares(
    seed: int,
    persons: Iterable[SeedPerson],
    regions: RegionTable,
    seeded: Sequence[str],
) -> dict[str, tuple[Care, ...]]:
    """``psn_no`` → care patterns, for every person who has at least one."""
    out: dict[str, tuple[Care, ...]] = {}
    for person in persons:
        cares = cares_of(seed, person, regions, seeded)
        if cares:
            out[person.psn_no] = cares
    return out


def expected_per_month(cares: Mapping[str, Sequence[Care]]) -> tuple[float, float]:
    """Expected (outpatient, inpatient) encounters per 30 days over all patterns."""
    o = sum(c.outpatient_per_month for cs in cares.values() for c in cs)
    i = sum(c.inpatient_per_month for cs in cares.values() for c in cs)
    return o, i
