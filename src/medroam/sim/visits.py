"""Encounters and their bills: what the simulated hospitals send to the gateway.

:func:`plan_encounters` turns the care patterns of :mod:`medroam.sim.behaviour` into
dated encounters — outpatient visits on the days they happen, hospital stays from
admission to discharge — and :class:`BillMaker` writes each one's fee lines from the
**place of treatment's catalogue** (``refdata.catalogue.load_catalogue``) at its typical
prices (``load_typical_prices``): a registration and a consultation, tests, an
examination, drugs for a week or two; for a stay, the bed and nursing for every day,
tests, examinations, treatments, an operation with its anaesthesia and consumables when
the diagnosis is surgical, and the drugs. The bill's size is drawn first (lognormal
around the :class:`~medroam.sim.behaviour.Shape` means) and the lines fill it, so the
published cost per visit is met whatever the catalogue's prices.

Amounts are integer fen, prices integer micro-yuan, quantities whole units: every line
is ``price × quantity`` rounded once, half away from zero, as the gateway checks it.
Deterministic: every encounter draws from its own stream (seed, person, day).
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from medroam.domain.calendar import DEFAULT_CALENDAR
from medroam.domain.catalogue import PRICE_SCALE
from medroam.domain.codes import LEVEL_C
from medroam.domain.money import div_round
from medroam.refdata.catalogue import (
    load_catalogue,
    load_national_catalogue,
    load_typical_prices,
)
from medroam.sim.behaviour import Care, Shape, person_rng

OUTPATIENT = "outpatient"
INPATIENT = "inpatient"
MAX_STAY_DAYS = 40
_FEN_PER_MICRO = PRICE_SCALE // 100  # micro-yuan per fen
OUTPATIENT_OVERSAMPLE = 2.0  # drawn at twice the rate, then thinned to the target ratio
CANCEL_RATE = 0.005
# Doctors prescribe fewer 丙类 (fully self-paid) items than the catalogue lists: a drawn
# 丙 item is kept with this probability (steers the fund share towards the published one).
OWN_PAY_ACCEPT = 0.5  # settlements the hospital cancels (2208/2305) the same day
MEAN_STAY_DAYS = 10  # the mean of stay_length, to scale a bill with its stay
_LEVEL_SUFFIX = {"3": "(三级医院)", "2": "(二级医院)", "1": "(一级医院)"}


@dataclass(frozen=True, slots=True)
class Diagnosis:
    code: str  # ICD-10 (医保版)
    name: str
    dept_code: str
    dept_name: str
    surgical: bool = False
    weight: int = 1


# Common reasons for a stay (weights ≈ their share of cross-region admissions), as
# ICD-10 医保版 codes a settlement list can carry as its principal diagnosis: the
# CHS-DRG 1.1 tables know them and put them in an MDC (the bare C34.900, I61.900 are in
# no 主诊表 and K80.200, K35.800 are not 医保版 codes: their lists would fail QC).
INPATIENT_DIAGNOSES: tuple[Diagnosis, ...] = (
    Diagnosis("J18.900", "肺炎", "A03.02", "呼吸内科", weight=10),
    Diagnosis("I63.900", "脑梗死", "A03.05", "神经内科", weight=9),
    Diagnosis("I25.103", "冠状动脉粥样硬化性心脏病", "A03.03", "心血管内科", True, 9),
    Diagnosis("C34.900x001", "肺恶性肿瘤", "A19", "肿瘤科", weight=8),
    Diagnosis("C16.900", "胃恶性肿瘤", "A04.01", "普通外科", True, 5),
    Diagnosis("C50.900", "乳房恶性肿瘤", "A04.01", "普通外科", True, 4),
    Diagnosis("K80.200x003", "胆囊结石", "A04.01", "普通外科", True, 5),
    Diagnosis("K35.800x001", "急性阑尾炎", "A04.01", "普通外科", True, 3),
    Diagnosis("S72.000", "股骨颈骨折", "A04.04", "骨科", True, 4),
    Diagnosis("M17.900", "膝关节病", "A04.04", "骨科", True, 3),
    Diagnosis("M51.202", "腰椎间盘突出", "A04.04", "骨科", True, 4),
    Diagnosis("I50.900", "心力衰竭", "A03.03", "心血管内科", weight=4),
    Diagnosis("J44.100", "慢性阻塞性肺病伴有急性加重", "A03.02", "呼吸内科", weight=5),
    Diagnosis("E11.900", "2型糖尿病", "A03.07", "内分泌科", weight=3),
    Diagnosis("N18.500", "慢性肾脏病5期", "A03.06", "肾病学科", weight=2),
    Diagnosis("H25.900", "老年性白内障", "A10", "眼科", True, 4),
    Diagnosis("O80.000", "单胎顺产", "A05", "妇产科", weight=3),
    Diagnosis("I61.900x002", "脑出血", "A04.02", "神经外科", True, 2),
    Diagnosis("S06.000", "脑震荡", "A04.02", "神经外科", weight=2),
    Diagnosis("C22.000", "肝细胞癌", "A04.01", "普通外科", True, 2),
)
OUTPATIENT_DIAGNOSES: tuple[Diagnosis, ...] = (
    Diagnosis("J06.900", "急性上呼吸道感染", "A03.02", "呼吸内科", weight=10),
    Diagnosis("I10.x00", "原发性高血压", "A03.03", "心血管内科", weight=9),
    Diagnosis("E11.900", "2型糖尿病", "A03.07", "内分泌科", weight=6),
    Diagnosis("K29.700", "胃炎", "A03.04", "消化内科", weight=6),
    Diagnosis("M54.500", "腰痛", "A04.04", "骨科", weight=4),
    Diagnosis("J20.900", "急性支气管炎", "A03.02", "呼吸内科", weight=4),
    Diagnosis("L30.900", "皮炎", "A13", "皮肤科", weight=3),
    Diagnosis("H10.900", "结膜炎", "A10", "眼科", weight=2),
    Diagnosis("I25.103", "冠状动脉粥样硬化性心脏病", "A03.03", "心血管内科", weight=4),
    Diagnosis("S93.400", "踝扭伤", "A04.04", "骨科", weight=2),
)
# Comorbidities and complications recorded as a stay's other diagnoses (其他诊断), ICD-10
# 医保版 codes the shipped CHS-DRG 1.1 tables know. Most are not a CC (hypertension,
# diabetes …); the CC (表 6) and MCC (表 5) ones let some clean stays group into a CHS-DRG
# ending in 3 or 1, as real lists do. None is named by a shipped audit rule (a sex, age
# or indication rule reading diagnoses), so they change no finding.
SECONDARY_DIAGNOSES: tuple[Diagnosis, ...] = (
    Diagnosis("I10.x00x002", "高血压", "", "", weight=12),
    Diagnosis("E11.900", "2型糖尿病", "", "", weight=8),
    Diagnosis("E78.500", "高脂血症", "", "", weight=6),
    Diagnosis("D64.900", "贫血", "", "", weight=3),
    Diagnosis("N39.000", "泌尿道感染", "", "", weight=3),
    Diagnosis("K76.000", "脂肪肝", "", "", weight=3),
    Diagnosis("M81.000", "绝经后骨质疏松", "", "", weight=3),
    Diagnosis("E87.600", "低钾血症", "", "", weight=3),  # CC
    Diagnosis("J44.900", "慢性阻塞性肺病", "", "", weight=3),  # CC
    Diagnosis("N18.300", "慢性肾脏病3期", "", "", weight=2),  # CC
    Diagnosis("J18.900", "肺炎", "", "", weight=2),  # CC
    Diagnosis("K92.200", "胃肠道出血", "", "", weight=1),  # CC
    Diagnosis("I50.900", "心力衰竭", "", "", weight=2),  # MCC
    Diagnosis("J96.000", "急性呼吸衰竭", "", "", weight=1),  # MCC
    Diagnosis("N17.900", "急性肾衰竭", "", "", weight=1),  # MCC
)
# how many other diagnoses a stay records (weights): with the pool above about 18 % of
# the stays carry a CC or MCC, and about 11 % of the grouped lists land in a CC/MCC DRG
# (the exclusion tables and the ADRGs not split by severity take the rest)
SECONDARY_COUNTS: tuple[tuple[int, int], ...] = ((0, 50), (1, 30), (2, 20))

_SURGICAL_SHARE = sum(d.weight for d in INPATIENT_DIAGNOSES if d.surgical) / sum(
    d.weight for d in INPATIENT_DIAGNOSES
)
SURGICAL_FACTOR = 1.3  # an operation makes a stay dearer; medical stays make up the mean
MEDICAL_FACTOR = (1 - SURGICAL_FACTOR * _SURGICAL_SHARE) / (1 - _SURGICAL_SHARE)


@dataclass(frozen=True, slots=True)
class FeeItem:
    sn: str  # feedetl_sn
    code: str  # med_list_codg
    name: str
    charge_type: str  # med_chrgitm_type
    quantity: int  # whole units
    price: int  # micro-yuan
    amount: int  # fen = price × quantity, rounded once
    day_offset: int = 0  # days after admission (inpatient)
    approved: bool = False  # hosp_appr_flag 1 (restricted items)


@dataclass(frozen=True, slots=True)
class Hospital:
    code: str
    name: str
    region: str
    level: str


@dataclass(frozen=True, slots=True)
class Encounter:
    """One visit or stay, from registration or admission to its settlement."""

    key: str  # stable within a run: psn_no + day + kind + n
    psn_no: str
    reason: str
    kind: str  # OUTPATIENT / INPATIENT
    hospital: Hospital
    admit: date  # registration / admission day
    day: date  # settlement (discharge) day
    emergency: bool
    diagnosis: Diagnosis
    lines: tuple[FeeItem, ...]
    cancel: bool = False  # the settlement is cancelled the same day (2208 / 2305)
    secondary: tuple[Diagnosis, ...] = ()  # other diagnoses of a stay (其他诊断)

    @property
    def diagnosis_codes(self) -> tuple[str, ...]:
        """The principal diagnosis, then the others (what a stay's lists and 2402 send)."""
        return (self.diagnosis.code, *(d.code for d in self.secondary))

    @property
    def medfee(self) -> int:
        return sum(line.amount for line in self.lines)

    @property
    def med_type(self) -> str:
        if self.kind == OUTPATIENT:
            return "13" if self.emergency else "11"
        return "24" if self.emergency else "21"


# --- bills -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Item:
    code: str
    name: str
    charge_type: str
    price: int  # micro-yuan
    unit: int  # fen of one unit
    restricted: bool
    own_pay: bool  # 丙类 in the national list (全自费)


class _Pool:
    """Items of some charge types, sorted by unit price (for range picks)."""

    def __init__(self, items: Iterable[_Item]) -> None:
        self.items = sorted(items, key=lambda i: (i.unit, i.code))
        self.units = [i.unit for i in self.items]

    def __bool__(self) -> bool:
        return bool(self.items)

    def __add__(self, other: _Pool) -> _Pool:
        return _Pool([*self.items, *other.items])


def _fits_level(name: str, level: str) -> bool:
    own = _LEVEL_SUFFIX.get(level, "")
    return not any(s in name for s in _LEVEL_SUFFIX.values()) or (bool(own) and own in name)


def line_amount(price: int, quantity: int) -> int:
    """Fen of ``quantity`` whole units at ``price`` micro-yuan, half away from zero."""
    return div_round(price * quantity, _FEN_PER_MICRO)


def lognormal(rng: random.Random, mean: float, sigma: float) -> float:
    """A lognormal draw with the given mean (not median)."""
    return rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)


class BillMaker:
    """Writes bills from a place of treatment's catalogue at typical prices.

    The pools of items per hospital level come from the national list (an item named for
    another level of hospital, e.g. "(三级医院)", is left out); an item is billed at a
    place of treatment only if that place's catalogue lists it (its class, ratio and cap
    there are the gateway's business when it classifies the line).
    """

    def __init__(
        self,
        shape: Shape,
        prices: Mapping[str, int] | None = None,
        *,
        own_pay_accept: float = OWN_PAY_ACCEPT,
    ) -> None:
        self.shape = shape
        self.own_pay_accept = own_pay_accept
        self.prices = dict(prices) if prices is not None else load_typical_prices()
        self._national = load_national_catalogue()
        self._pools: dict[tuple[str, tuple[str, ...], str, str], _Pool] = {}
        self._listed: dict[str, frozenset[str]] = {}

    def pool(self, level: str, *charge_types: str, contains: str = "", excludes: str = "") -> _Pool:
        key = (level, charge_types, contains, excludes)
        found = self._pools.get(key)
        if found is None:
            found = _Pool(
                _Item(
                    code,
                    item.name,
                    item.charge_type,
                    self.prices[code],
                    line_amount(self.prices[code], 1),
                    item.restricted,
                    item.level == LEVEL_C,
                )
                for code, item in self._national.items()
                if item.charge_type in charge_types
                and self.prices.get(code)
                and _fits_level(item.name, level)
                and (not contains or contains in item.name)
                and (not excludes or excludes not in item.name)
            )
            self._pools[key] = found
        return found

    def listed(self, region: str) -> frozenset[str]:
        """The codes of the place of treatment's catalogue."""
        found = self._listed.get(region)
        if found is None:
            found = self._listed[region] = frozenset(load_catalogue(region).items)
        return found

    # --- helpers ------------------------------------------------------------------

    def _choose(
        self,
        rng: random.Random,
        pool: _Pool,
        budget_fen: int,
        max_quantity: int,
        listed: frozenset[str],
    ) -> _Item | None:
        """An item that can fill ``budget_fen`` within ``max_quantity`` units: its unit
        price between ``budget ÷ max_quantity`` and the budget, else the dearest that
        fits; only items the place of treatment lists."""
        if not pool or budget_fen <= 0:
            return None
        hi = bisect_right(pool.units, budget_fen)
        if hi == 0:
            return None
        lo = min(bisect_left(pool.units, budget_fen / max_quantity), hi - 1)
        for _ in range(6):
            item = pool.items[rng.randrange(lo, hi)]
            if item.code in listed and (not item.own_pay or rng.random() < self.own_pay_accept):
                return item
        return next((i for i in reversed(pool.items[:hi]) if i.code in listed), None)

    @staticmethod
    def _line(n: int, item: _Item, quantity: int, day_offset: int, rng: random.Random) -> FeeItem:
        quantity = max(1, quantity)
        return FeeItem(
            sn=f"{n:04d}",
            code=item.code,
            name=item.name,
            charge_type=item.charge_type,
            quantity=quantity,
            price=item.price,
            amount=line_amount(item.price, quantity),
            day_offset=day_offset,
            approved=item.restricted and rng.random() < 0.9,
        )

    def _fill(
        self,
        rng: random.Random,
        lines: list[FeeItem],
        pool: _Pool,
        budget_fen: int,
        count: int,
        max_quantity: int,
        stay_days: int,
        listed: frozenset[str],
    ) -> None:
        """Add about ``count`` lines of ``pool`` sharing ``budget_fen``, at most
        ``max_quantity`` units each (more lines, up to twice as many, while a fifth of
        the budget is left)."""
        if budget_fen <= 0 or not pool:
            return
        left = budget_fen
        for n in range(2 * count):
            if n >= count and left < budget_fen // 5:
                break
            share = left // max(1, count - n) if n < count else left
            item = self._choose(rng, pool, share, max_quantity, listed)
            if item is None:
                continue
            quantity = min(max_quantity, max(1, round(share / max(item.unit, 1))))
            line = self._line(len(lines) + 1, item, quantity, rng.randrange(stay_days), rng)
            lines.append(line)
            left -= line.amount
            if left <= 0:
                break

    def _one(
        self,
        rng: random.Random,
        lines: list[FeeItem],
        pools: Sequence[_Pool],
        budget_fen: int,
        quantity: int,
        listed: frozenset[str],
    ) -> None:
        """One line from the first non-empty pool (a registration, a bed …)."""
        pool = next((p for p in pools if p), None)
        if pool is not None:
            item = self._choose(rng, pool, max(budget_fen, 100), 1, listed)
            if item is not None:
                lines.append(self._line(len(lines) + 1, item, quantity, 0, rng))

    # --- the two bills --------------------------------------------------------------

    def outpatient(
        self, rng: random.Random, region: str, level: str, emergency: bool
    ) -> tuple[FeeItem, ...]:
        """Registration, consultation, sometimes tests, an examination or a treatment,
        then drugs for a few days to four weeks."""
        listed = self.listed(region)
        target = int(lognormal(rng, self.shape.outpatient_mean_fen, 0.75))
        lines: list[FeeItem] = []
        kind = "急诊" if emergency else "普通门诊"
        self._one(
            rng,
            lines,
            [self.pool(level, "13", contains=kind), self.pool(level, "13")],
            target // 4,
            1,
            listed,
        )
        consult = [
            self.pool(level, "02", contains="急诊" if emergency else "门诊诊查"),
            self.pool(level, "02"),
        ]
        if level == "1":
            consult.insert(0, self.pool(level, "12"))
        self._one(rng, lines, consult, target // 4, 1, listed)
        spent = sum(line.amount for line in lines)
        if rng.random() < 0.35:
            self._fill(
                rng, lines, self.pool(level, "04"), (target - spent) // 3, rng.randint(1, 3), 1, 1,
                listed,
            )  # fmt: skip
        if rng.random() < 0.15:
            self._fill(rng, lines, self.pool(level, "03"), (target - spent) // 3, 1, 1, 1, listed)
        if rng.random() < 0.12:
            self._fill(rng, lines, self.pool(level, "05"), (target - spent) // 5, 1, 3, 1, listed)
        spent = sum(line.amount for line in lines)
        days = rng.choice((3, 5, 7, 7, 14, 14, 28))
        count = 1 + min(3, int(rng.expovariate(0.9)))
        drugs = self.pool(level, "09", "11")
        self._fill(rng, lines, drugs, target - spent, count, 3 * days, 1, listed)
        return tuple(lines)

    def inpatient(
        self, rng: random.Random, region: str, level: str, diagnosis: Diagnosis, stay_days: int
    ) -> tuple[FeeItem, ...]:
        """A stay of ``stay_days`` days: bed, nursing and rounds for every day, then the
        operation (with anaesthesia and consumables) when the diagnosis is surgical,
        tests, examinations, treatments, and drugs for the rest of the bill."""
        listed = self.listed(region)
        mean = self.shape.inpatient_mean_fen * (
            SURGICAL_FACTOR if diagnosis.surgical else MEDICAL_FACTOR
        )
        target = int(lognormal(rng, mean, 0.8) * stay_days / MEAN_STAY_DAYS)
        days = stay_days
        lines: list[FeeItem] = []
        daily = target // (4 * days)
        self._one(rng, lines, [self.pool(level, "01", excludes="重症")], daily, days, listed)
        self._one(rng, lines, [self.pool(level, "07", contains="级护理")], daily, days, listed)
        self._one(rng, lines, [self.pool(level, "02", contains="住院诊查")], daily, days, listed)
        left = target - sum(line.amount for line in lines)
        steps: list[tuple[_Pool, float, int, int]] = []  # pool, share, lines, max units
        if diagnosis.surgical:
            steps += [
                (self.pool(level, "06", excludes="麻醉"), 0.22, 1, 1),
                (self.pool(level, "06", contains="麻醉"), 0.04, 1, 1),
                (self.pool(level, "08"), 0.18, rng.randint(1, 3), 4),
            ]
        steps += [
            (self.pool(level, "04"), 0.10, rng.randint(3, 9), 1 + days // 3),
            (self.pool(level, "03"), 0.08, rng.randint(1, 4), 2),
            (self.pool(level, "05"), 0.08, rng.randint(1, 4), 2 * days),
        ]
        for pool, share, count, most in steps:
            self._fill(rng, lines, pool, int(left * share), count, most, days, listed)
        spent = sum(line.amount for line in lines)
        drugs = self.pool(level, "09", "11")
        self._fill(rng, lines, drugs, target - spent, rng.randint(4, 10), 4 * days, days, listed)
        return tuple(lines)


def stay_length(rng: random.Random, shape: Shape) -> int:
    """Days in hospital: around 9–10 on average, longer for bigger bills (drawn from the
    same stream before the bill, so one draw fixes both)."""
    size = lognormal(rng, 1.0, 0.55)
    return max(2, min(MAX_STAY_DAYS, round(2 + 8 * size * rng.uniform(0.8, 1.2))))


# --- planning ------------------------------------------------------------------------------


def _weighted(rng: random.Random, options: Sequence[tuple[str, int]]) -> str:
    total = sum(w for _, w in options)
    roll = rng.randrange(total)
    for value, weight in options:
        if roll < weight:
            return value
        roll -= weight
    return options[-1][0]  # pragma: no cover


def _diagnosis(rng: random.Random, options: Sequence[Diagnosis]) -> Diagnosis:
    total = sum(d.weight for d in options)
    roll = rng.randrange(total)
    for d in options:
        if roll < d.weight:
            return d
        roll -= d.weight
    return options[-1]  # pragma: no cover


def secondary_diagnoses(rng: random.Random, principal: Diagnosis) -> tuple[Diagnosis, ...]:
    """The other diagnoses of a stay: none, one or two distinct comorbidities of
    ``SECONDARY_DIAGNOSES``, never the principal diagnosis again."""
    count = int(_weighted(rng, [(str(n), w) for n, w in SECONDARY_COUNTS]))
    options = [d for d in SECONDARY_DIAGNOSES if d.code != principal.code]
    out: list[Diagnosis] = []
    for _ in range(count):
        d = _diagnosis(rng, options)
        options.remove(d)
        out.append(d)
    return tuple(out)


def _hospital(
    rng: random.Random, hospitals: Sequence[Hospital], levels: Sequence[tuple[str, int]]
) -> Hospital | None:
    if not hospitals:
        return None
    present = {h.level for h in hospitals}
    options = [(lv, w) for lv, w in levels if lv in present] or [
        (lv, 1) for lv in sorted(present, reverse=True)
    ]
    level = _weighted(rng, options)
    same = [h for h in hospitals if h.level == level]
    return same[rng.randrange(len(same))]


@dataclass(frozen=True, slots=True)
class Plan:
    """Every encounter of the simulated window, by day of settlement, and the
    admissions made before the window whose discharge falls in it."""

    start: date
    days: int
    encounters: tuple[Encounter, ...]
    drawn_outpatient: int  # before thinning to the target ratio
    kept_share: float  # share of outpatient draws kept

    @property
    def end(self) -> date:
        return self.start + timedelta(days=self.days - 1)

    def settled_in_window(self) -> list[Encounter]:
        return [e for e in self.encounters if self.start <= e.day <= self.end]


def plan_encounters(
    seed: int,
    cares: Mapping[str, Sequence[Care]],
    hospitals: Mapping[str, Sequence[Hospital]],
    start: date,
    days: int,
    *,
    shape: Shape | None = None,
    volume: float = 1.0,
    maker: BillMaker | None = None,
) -> Plan:
    """The encounters of ``days`` days from ``start`` for the given care patterns.

    Stays are drawn from ``MAX_STAY_DAYS`` before ``start`` so that the window holds
    the discharges of a steady state; stays still open after the window are kept (they
    are admitted, not settled). Outpatient visits are drawn at ``OUTPATIENT_OVERSAMPLE``
    times their rate and thinned so that outpatient ÷ inpatient settlements match
    ``shape.outpatient_per_inpatient``.
    """
    if days <= 0:
        raise ValueError(f"days must be positive, got {days}")
    if volume <= 0:
        raise ValueError(f"volume must be positive, got {volume}")
    shape = shape or Shape()
    maker = maker or BillMaker(shape)
    end = start + timedelta(days=days - 1)
    first = start - timedelta(days=MAX_STAY_DAYS)
    calendar = DEFAULT_CALENDAR
    workday = {
        first + timedelta(days=n): calendar.is_workday(first + timedelta(days=n))
        for n in range((end - first).days + 1)
    }
    stays: list[Encounter] = []
    visits: list[tuple[float, Encounter]] = []
    for psn_no in sorted(cares):
        busy_until = first - timedelta(days=1)
        for n_care, care in enumerate(cares[psn_no]):
            where = hospitals.get(care.region, ())
            if not where:
                continue
            rng = person_rng(seed, psn_no, "encounters", str(n_care))
            p_in = care.inpatient_per_month * volume / 30
            p_out = care.outpatient_per_month * volume * OUTPATIENT_OVERSAMPLE / 30
            day = first
            while day <= end:
                factor_in = 1.0 if workday[day] else 0.8
                factor_out = 1.0 if workday[day] else 0.5
                u_in, u_out = rng.random(), rng.random()
                if day > busy_until and u_in < p_in * factor_in:
                    sub = random.Random(rng.getrandbits(64))
                    los = stay_length(sub, shape)
                    discharge = day + timedelta(days=los)
                    if discharge >= start:
                        hospital = _hospital(sub, where, care.inpatient_levels)
                        if hospital is not None:
                            diag = _diagnosis(sub, INPATIENT_DIAGNOSES)
                            key = f"{psn_no}-{day:%Y%m%d}-I{n_care}"
                            # a stream of their own: the bills stay what they were
                            other = person_rng(seed, psn_no, "secondary", key)
                            stays.append(
                                Encounter(
                                    key=key,
                                    psn_no=psn_no,
                                    reason=care.reason,
                                    kind=INPATIENT,
                                    hospital=hospital,
                                    admit=day,
                                    day=discharge,
                                    emergency=care.emergency,
                                    diagnosis=diag,
                                    lines=maker.inpatient(
                                        sub, hospital.region, hospital.level, diag, los
                                    ),
                                    cancel=sub.random() < CANCEL_RATE,
                                    secondary=secondary_diagnoses(other, diag),
                                )
                            )
                    busy_until = discharge
                elif start <= day and day > busy_until and u_out < p_out * factor_out:
                    sub = random.Random(rng.getrandbits(64))
                    hospital = _hospital(sub, where, care.outpatient_levels)
                    if hospital is not None:
                        emergency = care.emergency and sub.random() < 0.3
                        visits.append(
                            (
                                sub.random(),
                                Encounter(
                                    key=f"{psn_no}-{day:%Y%m%d}-O{n_care}",
                                    psn_no=psn_no,
                                    reason=care.reason,
                                    kind=OUTPATIENT,
                                    hospital=hospital,
                                    admit=day,
                                    day=day,
                                    emergency=emergency,
                                    diagnosis=_diagnosis(sub, OUTPATIENT_DIAGNOSES),
                                    lines=maker.outpatient(
                                        sub, hospital.region, hospital.level, emergency
                                    ),
                                    cancel=sub.random() < CANCEL_RATE,
                                ),
                            )
                        )
                day += timedelta(days=1)
    settled_stays = sum(1 for s in stays if start <= s.day <= end)
    wanted = min(len(visits), round(shape.outpatient_per_inpatient * settled_stays))
    # keep exactly the ``wanted`` visits with the lowest draws
    kept = [v for _u, v in sorted(visits, key=lambda uv: (uv[0], uv[1].key))[:wanted]]
    keep = wanted / len(visits) if visits else 0.0
    encounters = sorted([*stays, *kept], key=lambda e: (e.day, e.key))
    return Plan(start, days, tuple(encounters), len(visits), keep)


def hospitals_by_region(institutions: Iterable[Hospital]) -> dict[str, list[Hospital]]:
    out: dict[str, list[Hospital]] = {}
    for h in institutions:
        out.setdefault(h.region, []).append(h)
    return out
