"""The audit mechanisms (规则逻辑): a small set of pure, parametric checks.

Rule *knowledge* (codes, limits, windows) is data (``medroam/data/audit``); each rule
names one mechanism here and carries that mechanism's parameter object. Three kinds:

* **bill** mechanisms read one visit and its lines (事前/事中 and, per visit, 事后);
* **history** mechanisms read all visits of the period (分解住院, 频繁就诊, 同时多地结算);
* **institution** mechanisms read per-institution statistics (DRG 高套: the
  case-mix-standardised MCC/CC share, observed ÷ expected lists).

Every check returns ``Finding`` objects; none does I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from itertools import pairwise

from medroam.domain.audit.model import (
    AuditLine,
    AuditVisit,
    Bill,
    Finding,
    Rule,
    RuleMeta,
    Scenario,
)
from medroam.domain.audit.scores import Standardised
from medroam.domain.money import RATIO_ONE, Fen, Ratio, div_round, format_yuan

# micro-yuan × ten-thousandths → fen
_PRICE_QTY_TO_FEN = 1_000_000 * 10_000 // 100
_QTY_SCALE = 10_000


class ParamError(ValueError):
    """A mechanism parameter is missing or impossible; ``field`` names it."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class Target(StrEnum):
    """What a sex or age limit applies to."""

    DIAGNOSIS = "diagnosis"  # ICD-10 code prefixes
    PROCEDURE = "procedure"  # ICD-9-CM-3 code prefixes
    ITEM = "item"  # catalogue codes (drug, service, consumable)


class Per(StrEnum):
    """The span of a quantity limit."""

    DAY = "day"
    VISIT = "visit"


GENDER_NAMES = {"1": "男", "2": "女"}


def _qty(q: int) -> str:
    whole, frac = divmod(abs(q), _QTY_SCALE)
    text = f"{whole}" if frac == 0 else f"{whole}.{frac:04d}".rstrip("0")
    return f"-{text}" if q < 0 else text


def _charged(bill: Bill, codes: frozenset[str]) -> list[AuditLine]:
    """The bill's charged (positive) lines of the given codes."""
    return [li for li in bill.lines if li.code in codes and li.quantity > 0]


def _prefix_hit(code: str, prefixes: frozenset[str]) -> bool:
    return any(code.startswith(p) for p in prefixes)


def _finding(
    meta: RuleMeta,
    visit: AuditVisit,
    content: str,
    amount: Fen,
    lines: Sequence[AuditLine] = (),
    related: Sequence[AuditLine] = (),
    **evidence: str,
) -> Finding:
    return Finding(
        rule=meta,
        visit_id=visit.visit_id,
        psn_no=visit.psn_no,
        content=content,
        amount=amount,
        line_ids=tuple(li.line_id for li in lines),
        related_ids=tuple(li.line_id for li in related),
        evidence=evidence,
        institution_code=visit.institution_code,
    )


# ---------------------------------------------------------------- parameter objects


@dataclass(frozen=True, slots=True)
class SexLimit:
    """限性别: the target codes are for one sex only (e.g. 前列腺 → 男)."""

    target: Target
    codes: frozenset[str]
    gender: str  # the sex allowed: 1 男, 2 女

    def __post_init__(self) -> None:
        if self.gender not in GENDER_NAMES:
            raise ParamError("gender", f"must be 1 (男) or 2 (女), got {self.gender!r}")
        _non_empty("codes", self.codes)


@dataclass(frozen=True, slots=True)
class AgeLimit:
    """限年龄: the target codes only for ages ``min_age``..``max_age`` (inclusive)."""

    target: Target
    codes: frozenset[str]
    min_age: int | None
    max_age: int | None

    def __post_init__(self) -> None:
        _non_empty("codes", self.codes)
        if self.min_age is None and self.max_age is None:
            raise ParamError("min_age", "min_age or max_age is required")
        for name, value in (("min_age", self.min_age), ("max_age", self.max_age)):
            if value is not None and not 0 <= value <= 150:
                raise ParamError(name, f"age must be 0..150, got {value}")
        if self.min_age is not None and self.max_age is not None and self.min_age > self.max_age:
            raise ParamError("max_age", f"max_age {self.max_age} < min_age {self.min_age}")


@dataclass(frozen=True, slots=True)
class ScenarioLimit:
    """限就医方式: the items are paid only in the listed scenarios (e.g. 住院 only)."""

    codes: frozenset[str]
    scenarios: frozenset[Scenario]

    def __post_init__(self) -> None:
        _non_empty("codes", self.codes)
        _non_empty("scenarios", self.scenarios)


@dataclass(frozen=True, slots=True)
class LevelLimit:
    """限医疗机构级别: the items are paid only at institutions of at least ``min_level``.

    Level 9 (未定级) counts as 1, as in the calculator.
    """

    codes: frozenset[str]
    min_level: int

    def __post_init__(self) -> None:
        _non_empty("codes", self.codes)
        if self.min_level not in (2, 3):
            raise ParamError("min_level", f"must be 2 or 3, got {self.min_level}")


@dataclass(frozen=True, slots=True)
class PriceCap:
    """超限定单价: unit price above the cap (micro-yuan per unit)."""

    caps: Mapping[str, int]

    def __post_init__(self) -> None:
        _non_empty("caps", self.caps)
        for code, cap in self.caps.items():
            if cap <= 0:
                raise ParamError(f"caps.{code}", f"cap must be positive, got {cap}")


@dataclass(frozen=True, slots=True)
class QuantityLimit:
    """限定频次/数量: at most ``max_quantity`` (ten-thousandths) per day or per visit."""

    codes: frozenset[str]
    max_quantity: int
    per: Per

    def __post_init__(self) -> None:
        _non_empty("codes", self.codes)
        if self.max_quantity <= 0:
            raise ParamError("max_quantity", f"must be positive, got {self.max_quantity}")


@dataclass(frozen=True, slots=True)
class DuplicateCharge:
    """重复收费: ``included`` is part of ``main``; charging both (on one day) is double."""

    pairs: tuple[tuple[str, str], ...]  # (main, included)
    same_day: bool = True

    def __post_init__(self) -> None:
        _non_empty("pairs", self.pairs)
        for main, included in self.pairs:
            if main == included:
                raise ParamError("pairs", f"an item cannot include itself: {main}")


@dataclass(frozen=True, slots=True)
class UnbundledCharge:
    """分解收费: ≥ ``min_components`` of a package's components on one day, package
    price ``package_price`` (micro-yuan): the excess over the package is the amount."""

    package: str
    components: frozenset[str]
    min_components: int
    package_price: int

    def __post_init__(self) -> None:
        if len(self.components) < 2:
            raise ParamError("components", "a package needs at least two components")
        if not 2 <= self.min_components <= len(self.components):
            raise ParamError(
                "min_components",
                f"must be 2..{len(self.components)}, got {self.min_components}",
            )
        if self.package_price <= 0:
            raise ParamError("package_price", f"must be positive, got {self.package_price}")


@dataclass(frozen=True, slots=True)
class IndicationLimit:
    """限适应症: the items are paid only with a diagnosis among the prefixes."""

    codes: frozenset[str]
    diagnoses: frozenset[str]  # ICD-10 prefixes

    def __post_init__(self) -> None:
        _non_empty("codes", self.codes)
        _non_empty("diagnoses", self.diagnoses)


@dataclass(frozen=True, slots=True)
class NoParams:
    """Mechanisms without parameters (计费日期不在住院期, 同时多地结算)."""


@dataclass(frozen=True, slots=True)
class CostThreshold:
    """异地就医大额协查: a cross-region visit whose total reaches ``threshold`` (fen)."""

    threshold: Fen

    def __post_init__(self) -> None:
        if self.threshold <= 0:
            raise ParamError("threshold", f"must be positive, got {self.threshold}")


@dataclass(frozen=True, slots=True)
class Readmission:
    """分解住院: a new stay within ``days`` of the last discharge at the same
    institution, with the same main diagnosis on its first ``prefix_len`` characters."""

    days: int
    prefix_len: int = 3

    def __post_init__(self) -> None:
        if not 1 <= self.days <= 90:
            raise ParamError("days", f"must be 1..90, got {self.days}")
        if not 1 <= self.prefix_len <= 7:
            raise ParamError("prefix_len", f"must be 1..7, got {self.prefix_len}")


@dataclass(frozen=True, slots=True)
class FrequentVisits:
    """频繁门诊/购药: more than ``max_visits`` visits of ``scenario`` in a rolling
    ``days`` (any institution)."""

    scenario: Scenario
    max_visits: int
    days: int

    def __post_init__(self) -> None:
        if self.scenario not in (Scenario.OUTPATIENT, Scenario.PHARMACY):
            raise ParamError("scenario", f"must be 门诊 or 购药, got {self.scenario}")
        if self.max_visits < 1:
            raise ParamError("max_visits", f"must be ≥ 1, got {self.max_visits}")
        if not 1 <= self.days <= 366:
            raise ParamError("days", f"must be 1..366, got {self.days}")


@dataclass(frozen=True, slots=True)
class UpcodingSignal:
    """DRG 高套: an institution whose movable lists (in ADRGs split by severity) land in
    an MCC/CC DRG more often than the nation codes the same ADRGs — observed ÷ expected
    above ``max_ratio``, and so many that chance gives it at most ``max_p`` of the time —
    with at least ``min_cases`` movable lists (``check_upcoding``). ``min_cases`` counts
    movable lists, not all DRG cases: only those can be up-coded."""

    max_ratio: Ratio  # O/E in ten-thousandths: 15000 = 1.5 ×
    min_cases: int  # movable lists
    max_p: int = 1_000  # millionths: 1000 = 0.001 (a rule file without it gets 0.001)

    def __post_init__(self) -> None:
        if self.max_ratio <= RATIO_ONE:
            raise ParamError("max_ratio", f"must exceed 1 (10000), got {self.max_ratio}")
        if self.min_cases < 1:
            raise ParamError("min_cases", f"must be ≥ 1, got {self.min_cases}")
        if not 0 < self.max_p < 1_000_000:
            raise ParamError("max_p", f"must be between 0 and 1 (millionths), got {self.max_p}")


def _chance(p: float) -> str:
    """A small probability for people: 'P = 0.0143', or 'P < 0.0001' below that."""
    return "P < 0.0001" if p < 0.0001 else f"P = {p:.4f}"


def _pct(ratio: Ratio) -> str:
    """Ten-thousandths as a percentage with two decimals: 5789 → '57.89%'."""
    return f"{ratio // 100}.{ratio % 100:02d}%"


def _non_empty(name: str, value: object) -> None:
    if not value:
        raise ParamError(name, "must not be empty")


# ---------------------------------------------------------------- bill mechanisms


def _target_hits(
    target: Target, codes: frozenset[str], bill: Bill
) -> tuple[list[str], list[AuditLine]]:
    """The diagnosis/procedure codes, or the lines, that the target codes match."""
    visit = bill.visit
    if target is Target.DIAGNOSIS:
        return [d for d in visit.diagnoses if _prefix_hit(d, codes)], []
    if target is Target.PROCEDURE:
        return [p for p in visit.procedures if _prefix_hit(p, codes)], []
    return [], _charged(bill, codes)


def check_sex(meta: RuleMeta, p: SexLimit, bill: Bill) -> list[Finding]:
    visit = bill.visit
    if visit.gender == p.gender or visit.gender not in GENDER_NAMES:
        return []
    codes, lines = _target_hits(p.target, p.codes, bill)
    if not codes and not lines:
        return []
    what = "、".join(codes or [li.code for li in lines])
    return [
        _finding(
            meta,
            visit,
            f"{GENDER_NAMES[visit.gender]}性患者出现限{GENDER_NAMES[p.gender]}性的"
            f"{_TARGET_NAMES[p.target]}：{what}",
            sum(li.amount for li in lines),
            lines,
            gender=visit.gender,
            codes=what,
        )
    ]


_TARGET_NAMES = {Target.DIAGNOSIS: "诊断", Target.PROCEDURE: "手术操作", Target.ITEM: "项目"}


def check_age(meta: RuleMeta, p: AgeLimit, bill: Bill) -> list[Finding]:
    visit = bill.visit
    if (p.min_age is None or visit.age >= p.min_age) and (
        p.max_age is None or visit.age <= p.max_age
    ):
        return []
    codes, lines = _target_hits(p.target, p.codes, bill)
    if not codes and not lines:
        return []
    what = "、".join(codes or [li.code for li in lines])
    low = p.min_age if p.min_age is not None else 0
    high = p.max_age if p.max_age is not None else "∞"
    span = f"{low}–{high}岁"
    return [
        _finding(
            meta,
            visit,
            f"{visit.age}岁患者出现限{span}的{_TARGET_NAMES[p.target]}：{what}",
            sum(li.amount for li in lines),
            lines,
            age=str(visit.age),
            codes=what,
        )
    ]


def check_scenario(meta: RuleMeta, p: ScenarioLimit, bill: Bill) -> list[Finding]:
    if bill.visit.scenario in p.scenarios:
        return []
    lines = _charged(bill, p.codes)
    if not lines:
        return []
    allowed = "、".join(sorted(s.value for s in p.scenarios))
    return [
        _finding(
            meta,
            bill.visit,
            f"限{allowed}使用的项目在{bill.visit.scenario.value}中收费："
            + "、".join(li.code for li in lines),
            sum(li.amount for li in lines),
            lines,
            scenario=bill.visit.scenario.value,
        )
    ]


def institution_level_number(level: str) -> int:
    """1, 2 or 3; 未定级 (9) and anything unknown count as 1."""
    return int(level) if level in ("1", "2", "3") else 1


def check_level(meta: RuleMeta, p: LevelLimit, bill: Bill) -> list[Finding]:
    level = institution_level_number(bill.visit.institution_level)
    if level >= p.min_level:
        return []
    lines = _charged(bill, p.codes)
    if not lines:
        return []
    return [
        _finding(
            meta,
            bill.visit,
            f"限{p.min_level}级及以上机构使用的项目在{level}级机构收费："
            + "、".join(li.code for li in lines),
            sum(li.amount for li in lines),
            lines,
            institution_level=bill.visit.institution_level,
        )
    ]


def over_cap_fen(line: AuditLine, cap: int) -> Fen:
    """The part of a line above the unit price cap, in fen (0 when within)."""
    if line.unit_price <= cap or line.quantity <= 0:
        return 0
    return div_round((line.unit_price - cap) * line.quantity, _PRICE_QTY_TO_FEN)


def check_price(meta: RuleMeta, p: PriceCap, bill: Bill) -> list[Finding]:
    out: list[Finding] = []
    for li in bill.lines:
        cap = p.caps.get(li.code)
        if cap is None:
            continue
        excess = over_cap_fen(li, cap)
        if excess > 0:
            out.append(
                _finding(
                    meta,
                    bill.visit,
                    f"{li.code} 单价 {format_yuan(div_round(li.unit_price, 10_000))} 元超过"
                    f"限定单价 {format_yuan(div_round(cap, 10_000))} 元",
                    excess,
                    [li],
                    unit_price=str(li.unit_price),
                    cap=str(cap),
                )
            )
    return out


def check_quantity(meta: RuleMeta, p: QuantityLimit, bill: Bill) -> list[Finding]:
    groups: dict[tuple[str, date | None], list[AuditLine]] = defaultdict(list)
    for li in bill.lines:
        if li.code in p.codes:
            key = (li.code, li.charge_date if p.per is Per.DAY else None)
            groups[key].append(li)
    out: list[Finding] = []
    for (code, day), lines in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or date.min)
    ):
        total_qty = sum(li.quantity for li in lines)
        if total_qty <= p.max_quantity:
            continue
        total_amt = sum(li.amount for li in lines)
        excess = div_round(total_amt * (total_qty - p.max_quantity), total_qty)
        span = f"{day.isoformat()} 当日" if day is not None else "本次就诊"
        out.append(
            _finding(
                meta,
                bill.visit,
                f"{code} {span}数量 {_qty(total_qty)} 超过限定 {_qty(p.max_quantity)}",
                excess,
                [li for li in lines if li.quantity > 0],
                quantity=str(total_qty),
                limit=str(p.max_quantity),
            )
        )
    return out


def check_duplicate(meta: RuleMeta, p: DuplicateCharge, bill: Bill) -> list[Finding]:
    by_code: dict[str, list[AuditLine]] = defaultdict(list)
    for li in bill.lines:
        if li.quantity > 0:
            by_code[li.code].append(li)
    out: list[Finding] = []
    for main, included in p.pairs:
        mains, incs = by_code.get(main), by_code.get(included)
        if not mains or not incs:
            continue
        if p.same_day:
            days = {li.charge_date for li in mains}
            incs = [li for li in incs if li.charge_date in days]
            if not incs:
                continue
        out.append(
            _finding(
                meta,
                bill.visit,
                f"{included} 已包含在 {main} 中，重复收费",
                sum(li.amount for li in incs),
                incs,
                [
                    li
                    for li in mains
                    if not p.same_day or li.charge_date in {i.charge_date for i in incs}
                ],
                main=main,
                included=included,
            )
        )
    return out


def check_unbundled(meta: RuleMeta, p: UnbundledCharge, bill: Bill) -> list[Finding]:
    per_day: dict[date, list[AuditLine]] = defaultdict(list)
    for li in bill.lines:
        if li.code in p.components and li.quantity > 0:
            per_day[li.charge_date].append(li)
    package_fen = div_round(p.package_price, 10_000)
    out: list[Finding] = []
    for day in sorted(per_day):
        lines = per_day[day]
        distinct = {li.code for li in lines}
        if len(distinct) < p.min_components:
            continue
        charged = sum(li.amount for li in lines)
        out.append(
            _finding(
                meta,
                bill.visit,
                f"{day.isoformat()} 分项收取 {len(distinct)} 项（{format_yuan(charged)} 元），"
                f"应按 {p.package} 收费 {format_yuan(package_fen)} 元",
                max(0, charged - package_fen),
                lines,
                package=p.package,
                components=",".join(sorted(distinct)),
            )
        )
    return out


def check_indication(meta: RuleMeta, p: IndicationLimit, bill: Bill) -> list[Finding]:
    if any(_prefix_hit(d, p.diagnoses) for d in bill.visit.diagnoses):
        return []
    lines = _charged(bill, p.codes)
    if not lines:
        return []
    return [
        _finding(
            meta,
            bill.visit,
            "限适应症项目无相应诊断："
            + "、".join(li.code for li in lines)
            + f"（诊断：{'、'.join(bill.visit.diagnoses) or '无'}）",
            sum(li.amount for li in lines),
            lines,
            diagnoses=",".join(bill.visit.diagnoses),
            required=",".join(sorted(p.diagnoses)),
        )
    ]


def check_outside_stay(meta: RuleMeta, p: NoParams, bill: Bill) -> list[Finding]:
    visit = bill.visit
    if visit.scenario is not Scenario.INPATIENT:
        return []
    lines = [li for li in bill.lines if not visit.begin <= li.charge_date <= visit.end]
    if not lines:
        return []
    return [
        _finding(
            meta,
            visit,
            f"计费日期不在住院期间 {visit.begin.isoformat()}–{visit.end.isoformat()}："
            + "、".join(f"{li.line_id}@{li.charge_date.isoformat()}" for li in lines),
            sum(li.amount for li in lines if li.quantity > 0),
            lines,
            begin=visit.begin.isoformat(),
            end=visit.end.isoformat(),
        )
    ]


def check_cross_region_cost(meta: RuleMeta, p: CostThreshold, bill: Bill) -> list[Finding]:
    visit = bill.visit
    if not visit.cross_region:
        return []
    total = visit.total or sum(li.amount for li in bill.lines)
    if total < p.threshold:
        return []
    return [
        _finding(
            meta,
            visit,
            f"异地就医费用 {format_yuan(total)} 元达到协查阈值 {format_yuan(p.threshold)} 元，"
            f"请参保地 {visit.insured_region} 协查",
            0,
            (),
            bill.lines,
            total=str(total),
            threshold=str(p.threshold),
            insured_region=visit.insured_region,
        )
    ]


# ---------------------------------------------------------------- history mechanisms


def check_readmission(
    meta: RuleMeta, p: Readmission, visits: Iterable[AuditVisit]
) -> list[Finding]:
    stays: dict[tuple[str, str], list[AuditVisit]] = defaultdict(list)
    for v in visits:
        if v.scenario is Scenario.INPATIENT and v.diagnoses:
            stays[(v.psn_no, v.institution_code)].append(v)
    out: list[Finding] = []
    for key in sorted(stays):
        seq = sorted(stays[key], key=lambda v: (v.begin, v.visit_id))
        for prev, cur in pairwise(seq):
            gap = (cur.begin - prev.end).days
            if not 0 <= gap <= p.days:
                continue
            if cur.diagnoses[0][: p.prefix_len] != prev.diagnoses[0][: p.prefix_len]:
                continue
            out.append(
                _finding(
                    meta,
                    cur,
                    f"出院 {gap} 天内（≤{p.days} 天）以相同诊断 {cur.diagnoses[0][: p.prefix_len]} "
                    f"再次入院，上次住院 {prev.visit_id}",
                    0,
                    previous=prev.visit_id,
                    gap_days=str(gap),
                    diagnosis=cur.diagnoses[0],
                )
            )
    return out


def check_frequent(
    meta: RuleMeta, p: FrequentVisits, visits: Iterable[AuditVisit]
) -> list[Finding]:
    per_person: dict[str, list[AuditVisit]] = defaultdict(list)
    for v in visits:
        if v.scenario is p.scenario:
            per_person[v.psn_no].append(v)
    out: list[Finding] = []
    for psn in sorted(per_person):
        seq = sorted(per_person[psn], key=lambda v: (v.begin, v.visit_id))
        start = 0
        for i, v in enumerate(seq):
            while seq[start].begin <= v.begin - timedelta(days=p.days):
                start += 1
            count = i - start + 1
            if count > p.max_visits:
                out.append(
                    _finding(
                        meta,
                        v,
                        f"{p.days} 天内第 {count} 次{p.scenario.value}（限 {p.max_visits} 次）",
                        0,
                        count=str(count),
                        first=seq[start].visit_id,
                    )
                )
    return out


def _interval(v: AuditVisit) -> tuple[date, date]:
    """[begin, end) in days: a stay excludes its discharge day, a visit is its day."""
    end = (
        v.end
        if v.scenario is Scenario.INPATIENT and v.end > v.begin
        else v.begin + timedelta(days=1)
    )
    return v.begin, end


def check_overlap(meta: RuleMeta, p: NoParams, visits: Iterable[AuditVisit]) -> list[Finding]:
    per_person: dict[str, list[AuditVisit]] = defaultdict(list)
    for v in visits:
        per_person[v.psn_no].append(v)
    out: list[Finding] = []
    for psn in sorted(per_person):
        # on the same first day a stay comes first, so that the finding names the visit
        # settled during the stay (not whichever id sorts first: ids are random)
        seq = sorted(
            per_person[psn],
            key=lambda v: (v.begin, v.scenario is not Scenario.INPATIENT, v.visit_id),
        )
        for i, a in enumerate(seq):
            a_begin, a_end = _interval(a)
            for b in seq[i + 1 :]:
                b_begin, b_end = _interval(b)
                if b_begin >= a_end:
                    break
                if a.institution_code == b.institution_code:
                    continue
                if Scenario.INPATIENT not in (a.scenario, b.scenario):
                    continue
                if a_begin < b_end:
                    out.append(
                        _finding(
                            meta,
                            b,
                            f"同一人员在 {a.institution_code}（{a.visit_id}）住院期间于 "
                            f"{b.institution_code} 结算（{b.visit_id}）",
                            0,
                            other_visit=a.visit_id,
                            other_institution=a.institution_code,
                        )
                    )
    return out


# ---------------------------------------------------------------- institution mechanisms


@dataclass(frozen=True, slots=True)
class CaseMix:
    """One institution's DRG cases in a period: how many carried an MCC or CC (the raw
    share, told against its peers); and its movable lists (in ADRGs split by severity),
    O of them in an MCC/CC DRG, E expected and V its variance under the national rates of
    their ADRGs (``domain.audit.scores``, computed by ``batch.audit.standardised_lists``).
    E and V are floats: a statistical signal, never money."""

    institution_code: str
    peer_group: str  # e.g. level + type + region
    cases: int
    cc_mcc_cases: int
    movable: int
    observed: int
    expected: float
    variance: float

    def __post_init__(self) -> None:
        if not 0 <= self.cc_mcc_cases <= self.cases:
            raise ValueError(f"{self.institution_code}: cc_mcc_cases outside 0..cases")
        if not 0 <= self.observed <= self.movable <= self.cases:
            raise ValueError(f"{self.institution_code}: need 0 ≤ observed ≤ movable ≤ cases")

    @property
    def standardised(self) -> Standardised:
        return Standardised(self.movable, self.observed, self.expected, self.variance)


def check_upcoding(meta: RuleMeta, p: UpcodingSignal, mixes: Sequence[CaseMix]) -> list[Finding]:
    """Flag an institution with at least ``min_cases`` movable lists whose O/E exceeds
    ``max_ratio`` (O × 10000 > E × max_ratio) and whose O is unlikely by chance: the
    Poisson tail P(X ≥ O | E) at most ``max_p`` millionths (``scores.poisson_upper_tail``;
    the funnel z is told too, but on a few lists it overstates a rare event: one MCC/CC
    list where 0.05 are expected is z ≈ 4.2 and happens 1 time in 20). The yardstick is
    the nation's coding of the same ADRGs, so a hospital whose patients are in ADRGs that
    often carry an MCC/CC is not flagged for its case mix. The finding also tells the raw
    share against its peers (the other institutions of its group: Σ their MCC/CC cases ÷
    Σ their cases), which decides nothing.

    Worked example (max_ratio 1.5, min_cases 5, max_p 0.001): 7 movable lists, all in an
    MCC/CC DRG, in ADRGs whose national rates add up to E = 0.98: O/E = 7.14 > 1.5 and
    P(X ≥ 7 | 0.98) = 7.35 × 10⁻⁵ ≤ 0.001 → flagged. 5 movable lists, 1 in an MCC/CC DRG
    of a rare ADRG, E = 0.10: O/E = 10, z = (1 − 0.1)/√0.09 = 3.0, but P(X ≥ 1 | 0.1) =
    1 − e^−0.1 = 0.095 → not flagged."""
    groups: dict[str, list[CaseMix]] = defaultdict(list)
    for m in mixes:
        groups[m.peer_group].append(m)
    out: list[Finding] = []
    for group in sorted(groups):
        members = groups[group]
        all_cases = sum(m.cases for m in members)
        all_cc = sum(m.cc_mcc_cases for m in members)
        for m in sorted(members, key=lambda m: m.institution_code):
            std = m.standardised
            if m.movable < p.min_cases or m.expected <= 0:
                continue
            if m.observed * RATIO_ONE <= m.expected * p.max_ratio:
                continue
            tail = std.tail
            if tail * 1_000_000 > p.max_p:
                continue
            ratio = m.observed / m.expected
            share = div_round(m.cc_mcc_cases * RATIO_ONE, m.cases)
            peer_cases = all_cases - m.cases
            peer_cc = all_cc - m.cc_mcc_cases
            peer_share = div_round(peer_cc * RATIO_ONE, peer_cases) if peer_cases > 0 else None
            peers = "无同组机构" if peer_share is None else f"同组机构 {_pct(peer_share)}"
            out.append(
                Finding(
                    rule=meta,
                    visit_id="",
                    psn_no="",
                    content=f"机构 {m.institution_code} 可分级病组的 {m.movable} 份结算清单中 "
                    f"{m.observed} 份入 MCC/CC 组，按全国同病组比例预期 {m.expected:.2f} 份"
                    f"（实际/预期 {ratio:.2f}，z = {std.z:+.1f}，偶然出现的概率 {_chance(tail)}）；"
                    f"MCC/CC 病例占比 {_pct(share)}，{peers}",
                    amount=0,
                    evidence={
                        "movable": str(m.movable),
                        "observed": str(m.observed),
                        "expected": f"{m.expected:.2f}",
                        "ratio": f"{ratio:.2f}",
                        "z": f"{std.z:.2f}",
                        "p": f"{tail:.3e}",
                        "cases": str(m.cases),
                        "cc_mcc_cases": str(m.cc_mcc_cases),
                        "share": str(share),
                        "peer_share": "" if peer_share is None else str(peer_share),
                        "peer_group": group,
                    },
                    institution_code=m.institution_code,
                )
            )
    return out


# ---------------------------------------------------------------- registry


class Kind(StrEnum):
    BILL = "bill"
    HISTORY = "history"
    INSTITUTION = "institution"


@dataclass(frozen=True, slots=True)
class Mechanism:
    name: str
    kind: Kind
    params: type
    check: Callable[..., list[Finding]]
    label: str  # zh-CN


MECHANISMS: dict[str, Mechanism] = {
    m.name: m
    for m in (
        Mechanism("sex_limit", Kind.BILL, SexLimit, check_sex, "限性别"),
        Mechanism("age_limit", Kind.BILL, AgeLimit, check_age, "限年龄"),
        Mechanism("scenario_limit", Kind.BILL, ScenarioLimit, check_scenario, "限就医方式"),
        Mechanism("level_limit", Kind.BILL, LevelLimit, check_level, "限医疗机构级别"),
        Mechanism("price_cap", Kind.BILL, PriceCap, check_price, "超限定单价"),
        Mechanism("quantity_limit", Kind.BILL, QuantityLimit, check_quantity, "限定频次/数量"),
        Mechanism("duplicate_charge", Kind.BILL, DuplicateCharge, check_duplicate, "重复收费"),
        Mechanism("unbundled_charge", Kind.BILL, UnbundledCharge, check_unbundled, "分解收费"),
        Mechanism("indication_limit", Kind.BILL, IndicationLimit, check_indication, "限适应症"),
        Mechanism(
            "charge_outside_stay", Kind.BILL, NoParams, check_outside_stay, "计费日期不在住院期间"
        ),
        Mechanism(
            "cross_region_cost",
            Kind.BILL,
            CostThreshold,
            check_cross_region_cost,
            "异地就医大额协查",
        ),
        Mechanism("split_admission", Kind.HISTORY, Readmission, check_readmission, "分解住院"),
        Mechanism("frequent_visits", Kind.HISTORY, FrequentVisits, check_frequent, "频繁就诊/购药"),
        Mechanism("overlapping_settlement", Kind.HISTORY, NoParams, check_overlap, "同时多地结算"),
        Mechanism("drg_upcoding", Kind.INSTITUTION, UpcodingSignal, check_upcoding, "DRG 高套病组"),
    )
}


def run_bill_rule(rule: Rule, bill: Bill) -> list[Finding]:
    mech = MECHANISMS[rule.mechanism]
    if mech.kind is not Kind.BILL:
        return []
    return mech.check(rule.meta, rule.params, bill)


def run_history_rule(rule: Rule, visits: Sequence[AuditVisit]) -> list[Finding]:
    mech = MECHANISMS[rule.mechanism]
    if mech.kind is not Kind.HISTORY:
        return []
    return mech.check(rule.meta, rule.params, visits)
