"""Planted anomalies: known violations in a simulated month, to measure the audit.

``medroam sim --anomalies RATE`` first makes the planned month **clean** with respect to
the shipped rule library — every bill is checked with the audit's own pure engine
(``domain.audit``) and a line that breaks a bill rule is dropped (a stay whose diagnosis
breaks a rule gets a neutral one; a man is not admitted for a childbirth); a visit that
breaks a history rule is dropped — and then plants, in a share ``RATE`` of the
encounters, one violation each, round-robin over the rule families that can be planted.
A planted encounter is kept only if the engine finds exactly its family on it, so the
truth is exact. A few institutions are made fraudulent as a whole (duplicated charges,
phantom admissions, split admissions, up-coded settlement lists); they are the
institution-level truth.

The truth (which encounter, which family, which institution) is returned to the caller,
who stores it apart from everything the audit reads (``sim_anomaly_truth``).

Families planted (mechanism names of ``domain.audit.mechanisms``): every bill mechanism
whose shipped knowledge names items the place of treatment's catalogue lists, plus
``split_admission``, ``frequent_visits`` and ``overlapping_settlement``.
``drg_upcoding`` is not planted per visit (it is an institution signal): the fraud
scheme ``upcoding`` plants it per institution. ``unbundled_charge`` and
``duplicate_charge`` are planted only if their items are listed; the shipped synthetic
knowledge uses codes the catalogue lacks for some of them, and the summary says which
families were not plantable.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from medroam.domain.audit.engine import RuleBook, applies
from medroam.domain.audit.mechanisms import (
    MECHANISMS,
    AgeLimit,
    CostThreshold,
    DuplicateCharge,
    FrequentVisits,
    IndicationLimit,
    Kind,
    LevelLimit,
    PriceCap,
    QuantityLimit,
    Readmission,
    ScenarioLimit,
    SexLimit,
    Target,
    UnbundledCharge,
)
from medroam.domain.audit.model import AuditLine, AuditVisit, Bill, Rule, Scenario, Stage
from medroam.domain.drg.scheme import Scheme
from medroam.sim.lists import upcode
from medroam.sim.visits import (
    INPATIENT,
    INPATIENT_DIAGNOSES,
    OUTPATIENT,
    Diagnosis,
    Encounter,
    FeeItem,
    Plan,
    line_amount,
)

QUANTITY_SCALE = 10_000  # AuditLine quantities are ten-thousandths
NEUTRAL_DIAGNOSIS = INPATIENT_DIAGNOSES[0]  # 肺炎: no sex or age limit in the library
FRAUD_SHARE = 0.02  # share of hospitals (at least one) made fraudulent
# A fraudulent institution does its scheme on at least this many of its bills in the
# window (a parameter: ``medroam sim --fraud-min-bills``). One or two changed bills are
# a visit-level finding's evidence, not an institution's: no peer statistic can tell
# them from chance (docs/audit.md, "Fraud on a scale a score can see").
FRAUD_MIN_BILLS = 5
FRAUD_SCHEMES = ("duplicate_charge", "phantom_admission", "split_admission", "upcoding")


@dataclass(frozen=True, slots=True)
class PersonFacts:
    """What the rules read about a person."""

    gender: str
    birth_date: date
    insutype: str
    insured_region: str

    def age_on(self, day: date) -> int:
        years = day.year - self.birth_date.year
        return years - ((day.month, day.day) < (self.birth_date.month, self.birth_date.day))


@dataclass(frozen=True, slots=True)
class Planted:
    """One known violation: an encounter (visit level) or an institution."""

    level: str  # "visit" or "institution"
    family: str  # a mechanism name, or a fraud scheme for institutions
    rule_code: str  # the rule planted against ("" for an institution)
    encounter_key: str  # "" for an institution
    fixmedins_code: str
    psn_no: str = ""


@dataclass(frozen=True, slots=True)
class Outcome:
    plan: Plan
    planted: tuple[Planted, ...]
    cleaned_lines: int
    cleaned_encounters: int
    not_plantable: tuple[str, ...]


class Catalogues:
    """Which codes each place of treatment lists, and at what typical price."""

    def __init__(self, listed: Callable[[str], frozenset[str]], prices: Mapping[str, int]) -> None:
        self._listed = listed
        self.prices = prices

    def lists(self, region: str, code: str) -> bool:
        return code in self._listed(region) and bool(self.prices.get(code))


# --- the audit's view of an encounter --------------------------------------------------


def charge_day(e: Encounter, line: FeeItem) -> date:
    return e.admit + timedelta(days=line.day_offset) if e.kind == INPATIENT else e.day


def audit_visit(e: Encounter, person: PersonFacts) -> AuditVisit:
    inpatient = e.kind == INPATIENT
    return AuditVisit(
        visit_id=e.key,
        psn_no=e.psn_no,
        gender=person.gender,
        age=person.age_on(e.admit),
        insutype=person.insutype,
        scenario=Scenario.INPATIENT if inpatient else Scenario.OUTPATIENT,
        institution_code=e.hospital.code,
        institution_level=e.hospital.level,
        treatment_region=e.hospital.region,
        insured_region=person.insured_region,
        begin=e.admit,
        end=e.day,
        diagnoses=e.diagnosis_codes if inpatient else (),  # only stays send diagnoses
        total=e.medfee,
    )


def audit_bill(e: Encounter, person: PersonFacts) -> Bill:
    lines = tuple(
        AuditLine(
            line_id=line.sn,
            code=line.code,
            quantity=line.quantity * QUANTITY_SCALE,
            unit_price=line.price,
            amount=line.amount,
            charge_date=charge_day(e, line),
        )
        for line in e.lines
    )
    return Bill(audit_visit(e, person), lines)


class Auditor:
    """The shipped rules in force for the month (事后: everything the batch audit runs)."""

    def __init__(self, book: RuleBook, day: date) -> None:
        self.book = book
        self.day = day

    def bill_rules(self, region: str) -> tuple[Rule, ...]:
        return self.book.in_force(region, self.day, Stage.AFTER, Kind.BILL)

    def history_rules(self, region: str) -> tuple[Rule, ...]:
        return self.book.in_force(region, self.day, Stage.AFTER, Kind.HISTORY)

    def bill_findings(self, e: Encounter, person: PersonFacts) -> list[tuple[Rule, Any]]:
        bill = audit_bill(e, person)
        out = []
        for rule in self.bill_rules(e.hospital.region):
            if applies(rule, bill.visit.scenario, bill.visit.insutype, bill.visit.cross_region):
                for f in MECHANISMS[rule.mechanism].check(rule.meta, rule.params, bill):
                    out.append((rule, f))
        return out

    def families(
        self, e: Encounter, person: PersonFacts, history: Sequence[Encounter] = ()
    ) -> set[str]:
        """The families that fire on ``e`` (bill rules) and, with ``history`` (the
        person's encounters including ``e``), the history rules that name ``e``."""
        found = {rule.mechanism for rule, _f in self.bill_findings(e, person)}
        if history:
            visits = [audit_visit(h, person) for h in history]
            for rule in self.history_rules(e.hospital.region):
                for f in MECHANISMS[rule.mechanism].check(rule.meta, rule.params, visits):
                    if e.key == f.visit_id or e.key in f.related_ids:
                        found.add(rule.mechanism)
        return found


# --- cleaning ----------------------------------------------------------------------------


def _clean_encounter(
    e: Encounter, person: PersonFacts, auditor: Auditor
) -> tuple[Encounter | None, int]:
    """``e`` without what breaks a bill rule (lines dropped, a diagnosis made neutral);
    None if the visit as a whole breaks one (e.g. the cost threshold)."""
    dropped = 0
    for _ in range(8):
        findings = auditor.bill_findings(e, person)
        if not findings:
            return e, dropped
        bad_lines = {i for _rule, f in findings for i in f.line_ids}
        if bad_lines:
            kept = tuple(line for line in e.lines if line.sn not in bad_lines)
            dropped += len(e.lines) - len(kept)
            if not kept:
                return None, dropped
            e = replace(e, lines=kept)
        elif any(r.mechanism in ("sex_limit", "age_limit") for r, _f in findings):
            e = replace(e, diagnosis=NEUTRAL_DIAGNOSIS)
        else:
            return None, dropped
    return None, dropped


def clean(
    encounters: Sequence[Encounter], persons: Mapping[str, PersonFacts], auditor: Auditor
) -> tuple[list[Encounter], int, int]:
    """The encounters that break no rule of the library: (encounters, lines dropped,
    encounters dropped)."""
    kept: list[Encounter] = []
    lines_dropped = encounters_dropped = 0
    for e in encounters:
        person = persons.get(e.psn_no)
        if person is None:
            kept.append(e)
            continue
        cleaned, dropped = _clean_encounter(e, person, auditor)
        lines_dropped += dropped
        if cleaned is None:
            encounters_dropped += 1
        else:
            kept.append(cleaned)
    # history rules: drop the later encounter of whatever a rule names, until none fires
    by_person: dict[str, list[Encounter]] = defaultdict(list)
    for e in kept:
        by_person[e.psn_no].append(e)
    drop: set[str] = set()
    for psn_no, mine in by_person.items():
        person = persons.get(psn_no)
        if person is None or len(mine) < 2:
            continue
        for _ in range(20):
            live = [e for e in mine if e.key not in drop]
            visits = [audit_visit(e, person) for e in live]
            named: set[str] = set()
            for e in live[:1]:
                for rule in auditor.history_rules(e.hospital.region):
                    for f in MECHANISMS[rule.mechanism].check(rule.meta, rule.params, visits):
                        named.update([f.visit_id, *f.related_ids])
            if not named:
                break
            latest = max((e for e in live if e.key in named), key=lambda e: (e.admit, e.key))
            drop.add(latest.key)
    encounters_dropped += len(drop)
    return [e for e in kept if e.key not in drop], lines_dropped, encounters_dropped


# --- planting one violation --------------------------------------------------------------


def _next_sn(e: Encounter) -> str:
    return f"{max((int(line.sn) for line in e.lines if line.sn.isdigit()), default=0) + 1:04d}"


def _with_line(
    e: Encounter,
    code: str,
    price: int,
    quantity: int = 1,
    day_offset: int = 0,
    name: str = "",
) -> Encounter:
    line = FeeItem(
        sn=_next_sn(e),
        code=code,
        name=name or code,
        charge_type="",
        quantity=quantity,
        price=price,
        amount=line_amount(price, quantity),
        day_offset=day_offset,
        approved=True,
    )
    return replace(e, lines=(*e.lines, line))


Planter = Callable[[Rule, Encounter, PersonFacts, Catalogues, random.Random], Encounter | None]


def _first_listed(codes: Iterable[str], region: str, cat: Catalogues) -> str | None:
    return next((c for c in sorted(codes) if cat.lists(region, c)), None)


def _sex(rule: Rule, e: Encounter, p: PersonFacts, cat: Catalogues, rng: random.Random) -> Any:
    params: SexLimit = rule.params  # type: ignore[assignment]
    if params.gender == p.gender:
        return None
    if params.target is Target.DIAGNOSIS:
        if e.kind != INPATIENT:
            return None
        prefix = sorted(params.codes)[0]
        return replace(e, diagnosis=Diagnosis(f"{prefix}.900", prefix, "A03", "内科"))
    if params.target is Target.ITEM:
        item = _first_listed(params.codes, e.hospital.region, cat)
        return None if item is None else _with_line(e, item, cat.prices[item])
    return None


def _age(rule: Rule, e: Encounter, p: PersonFacts, cat: Catalogues, rng: random.Random) -> Any:
    params: AgeLimit = rule.params  # type: ignore[assignment]
    age = p.age_on(e.admit)
    too_old = params.max_age is not None and age > params.max_age
    too_young = params.min_age is not None and age < params.min_age
    if params.target is not Target.ITEM or not (too_old or too_young):
        return None
    code = _first_listed(params.codes, e.hospital.region, cat)
    return None if code is None else _with_line(e, code, cat.prices[code])


def _scenario(rule: Rule, e: Encounter, p: PersonFacts, cat: Catalogues, rng: random.Random) -> Any:
    params: ScenarioLimit = rule.params  # type: ignore[assignment]
    scenario = Scenario.INPATIENT if e.kind == INPATIENT else Scenario.OUTPATIENT
    if scenario in params.scenarios:
        return None
    code = _first_listed(params.codes, e.hospital.region, cat)
    return None if code is None else _with_line(e, code, cat.prices[code])


def _level(rule: Rule, e: Encounter, p: PersonFacts, cat: Catalogues, rng: random.Random) -> Any:
    params: LevelLimit = rule.params  # type: ignore[assignment]
    if not e.hospital.level.isdigit() or int(e.hospital.level) >= params.min_level:
        return None
    code = _first_listed(params.codes, e.hospital.region, cat)
    return None if code is None else _with_line(e, code, cat.prices[code])


def _price(rule: Rule, e: Encounter, p: PersonFacts, cat: Catalogues, rng: random.Random) -> Any:
    params: PriceCap = rule.params  # type: ignore[assignment]
    code = _first_listed(params.caps, e.hospital.region, cat)
    if code is None:
        return None
    return _with_line(e, code, params.caps[code] * 13 // 10)  # 30 % over the cap


def _quantity(rule: Rule, e: Encounter, p: PersonFacts, cat: Catalogues, rng: random.Random) -> Any:
    params: QuantityLimit = rule.params  # type: ignore[assignment]
    code = _first_listed(params.codes, e.hospital.region, cat)
    if code is None:
        return None
    over = params.max_quantity // QUANTITY_SCALE + 2
    return _with_line(e, code, cat.prices[code], quantity=over)


def _duplicate(
    rule: Rule, e: Encounter, p: PersonFacts, cat: Catalogues, rng: random.Random
) -> Any:
    params: DuplicateCharge = rule.params  # type: ignore[assignment]
    region = e.hospital.region
    for a, b in params.pairs:
        if cat.lists(region, a) and cat.lists(region, b):
            both = _with_line(e, a, cat.prices[a])
            return _with_line(both, b, cat.prices[b])
    return None


def _unbundled(
    rule: Rule, e: Encounter, p: PersonFacts, cat: Catalogues, rng: random.Random
) -> Any:
    params: UnbundledCharge = rule.params  # type: ignore[assignment]
    region = e.hospital.region
    parts = [c for c in sorted(params.components) if cat.lists(region, c)]
    if len(parts) < params.min_components:
        return None
    for code in parts[: params.min_components]:
        e = _with_line(e, code, cat.prices[code])
    return e


def _indication(
    rule: Rule, e: Encounter, p: PersonFacts, cat: Catalogues, rng: random.Random
) -> Any:
    params: IndicationLimit = rule.params  # type: ignore[assignment]
    if e.kind != INPATIENT or any(e.diagnosis.code.startswith(d) for d in params.diagnoses):
        return None
    code = _first_listed(params.codes, e.hospital.region, cat)
    return None if code is None else _with_line(e, code, cat.prices[code])


def _outside(rule: Rule, e: Encounter, p: PersonFacts, cat: Catalogues, rng: random.Random) -> Any:
    if e.kind != INPATIENT or not e.lines:
        return None
    line = e.lines[0]
    # a charge dated the day before the admission (the driver sends it as dated)
    return _with_line(e, line.code, line.price, day_offset=-1, name=line.name)


def _cost(rule: Rule, e: Encounter, p: PersonFacts, cat: Catalogues, rng: random.Random) -> Any:
    params: CostThreshold = rule.params  # type: ignore[assignment]
    if e.kind != INPATIENT or not e.lines or p.insured_region == e.hospital.region:
        return None
    missing = params.threshold - e.medfee
    if missing <= 0:
        return None
    dearest = max(e.lines, key=lambda line: line.price)
    quantity = missing // max(1, line_amount(dearest.price, 1)) + 1
    if quantity > 100_000:
        return None
    return _with_line(e, dearest.code, dearest.price, quantity=quantity, name=dearest.name)


BILL_PLANTERS: dict[str, Planter] = {
    "sex_limit": _sex,
    "age_limit": _age,
    "scenario_limit": _scenario,
    "level_limit": _level,
    "price_cap": _price,
    "quantity_limit": _quantity,
    "duplicate_charge": _duplicate,
    "unbundled_charge": _unbundled,
    "indication_limit": _indication,
    "charge_outside_stay": _outside,
    "cross_region_cost": _cost,
}
HISTORY_FAMILIES = ("split_admission", "frequent_visits", "overlapping_settlement")


def _history_extra(
    rule: Rule, e: Encounter, mine: Sequence[Encounter], hospitals: Sequence[Any]
) -> list[Encounter]:
    """Encounters to add so that a history rule names ``e``'s person."""
    if rule.mechanism == "split_admission" and e.kind == INPATIENT:
        params: Readmission = rule.params  # type: ignore[assignment]
        gap = max(1, params.days // 3)
        admit = e.day + timedelta(days=gap)
        lines = tuple(replace(line, day_offset=min(line.day_offset, 3)) for line in e.lines)
        return [
            replace(
                e,
                key=f"{e.key}-R",
                admit=admit,
                day=admit + timedelta(days=3),
                lines=lines,
                cancel=False,
            )
        ]
    if rule.mechanism == "frequent_visits" and e.kind == OUTPATIENT:
        freq: FrequentVisits = rule.params  # type: ignore[assignment]
        if freq.scenario is not Scenario.OUTPATIENT:
            return []
        return [
            replace(e, key=f"{e.key}-F{n}", admit=e.day + timedelta(days=n + 1),
                    day=e.day + timedelta(days=n + 1), cancel=False)
            for n in range(freq.max_visits + 1 - len([m for m in mine if m.kind == OUTPATIENT]))
        ]  # fmt: skip
    if rule.mechanism == "overlapping_settlement" and e.kind == INPATIENT and hospitals:
        elsewhere = [h for h in hospitals if h.region != e.hospital.region]
        if not elsewhere or (e.day - e.admit).days < 2:
            return []
        mid = e.admit + timedelta(days=1)
        return [
            replace(
                e,
                key=f"{e.key}-O",
                kind=OUTPATIENT,
                hospital=elsewhere[0],
                admit=mid,
                day=mid,
                lines=e.lines[:2],
                cancel=False,
            )
        ]
    return []


# --- the whole month ------------------------------------------------------------------------

MAX_SCAN = 400  # encounters a family may try before it is declared not plantable


def _plant_one(
    family: str,
    key: str,
    e: Encounter,
    person: PersonFacts,
    auditor: Auditor,
    rules_by_family: Mapping[str, Sequence[Rule]],
    catalogues: Catalogues,
    rng: random.Random,
    by_key: dict[str, Encounter],
    mine: dict[str, list[str]],
    hospitals: Sequence[Any],
    window: tuple[date, date],
    tries: Counter[str],
) -> bool:
    """Plant ``family`` in ``e`` if one of its rules in force there can be broken so that
    the engine finds it; other families the change also breaks are truth too (the
    final truth pass records every finding on a changed person's care)."""
    in_force = {
        r.meta.code
        for r in auditor.bill_rules(e.hospital.region) + auditor.history_rules(e.hospital.region)
    }
    for rule in sorted(rules_by_family.get(family, []), key=lambda r: r.meta.code):
        if rule.meta.code not in in_force:
            continue
        tries[family] += 1
        if family in BILL_PLANTERS:
            changed = BILL_PLANTERS[family](rule, e, person, catalogues, rng)
            if changed is None:
                continue
            history = [by_key[k] if k != key else changed for k in mine[e.psn_no]]
            if family not in auditor.families(changed, person, history):
                continue
            by_key[key] = changed
            return True
        extra = _history_extra(rule, e, [by_key[k] for k in mine[e.psn_no]], hospitals)
        if not extra or any(not window[0] <= x.admit <= x.day <= window[1] for x in extra):
            continue
        history = [by_key[k] for k in mine[e.psn_no]] + extra
        if not any(family in auditor.families(x, person, history) for x in [e, *extra]):
            continue
        for x in extra:
            by_key[x.key] = x
            mine[e.psn_no].append(x.key)
        return True
    return False


def _ruled_codes(book: RuleBook) -> frozenset[str]:
    """Every item code a bill rule names (a fraudulent duplicate avoids them)."""
    found: set[str] = set()
    for rule in book.rules:
        params = rule.params
        for name in ("codes", "components"):
            found.update(getattr(params, name, ()) or ())
        found.update(getattr(params, "caps", {}) or {})
        for pair in getattr(params, "pairs", ()) or ():
            found.update(pair)
    return frozenset(found)


def _visit_truth(
    touched: Iterable[str],
    mine: Mapping[str, Sequence[str]],
    by_key: Mapping[str, Encounter],
    persons: Mapping[str, PersonFacts],
    auditor: Auditor,
) -> list[Planted]:
    """The visit-level truth: every finding of the engine on the encounters of the
    persons whose care was changed (the others were made clean), on the visit the
    finding names first. Cancelled encounters are left out (the audit skips them)."""
    out: list[Planted] = []
    for psn_no in sorted(set(touched)):
        person = persons.get(psn_no)
        if person is None:
            continue
        live = [by_key[k] for k in mine[psn_no] if k in by_key and not by_key[k].cancel]
        seen: set[tuple[str, str, str]] = set()
        for e in live:
            for rule, f in auditor.bill_findings(e, person):
                seen.add((rule.mechanism, rule.meta.code, f.visit_id))
        if live:
            visits = [audit_visit(e, person) for e in live]
            for rule in auditor.history_rules(live[0].hospital.region):
                for f in MECHANISMS[rule.mechanism].check(rule.meta, rule.params, visits):
                    seen.add((rule.mechanism, rule.meta.code, f.visit_id))
        for family, code, key in sorted(seen):
            if key in by_key:
                out.append(Planted("visit", family, code, key, by_key[key].hospital.code, psn_no))
    return out


Upcoder = Callable[[Encounter], Encounter | None]  # a stay up-coded, None if it cannot be


def defraud(
    scheme: str,
    encounters: Sequence[Encounter],
    ruled: frozenset[str],
    window: tuple[date, date] | None = None,
    upcoder: Upcoder | None = None,
) -> list[Encounter]:
    """The encounters an institution committing ``scheme`` changes or adds (empty when
    the scheme fits none of them); with ``window``, only changes whose settlements all
    fall in it (a phantom stay discharged after the window, or the first half of a
    split stay discharged before it, would not be in the data). Every encounter of the
    institution is treated:

    * ``duplicate_charge``: the first third of each bill's lines (at least one) charged
      a second time, same item, day, quantity and price (items a rule names are left
      alone: a second bed a day would be a rule's finding, not fraud);
    * ``phantom_admission``: each outpatient visit billed as a three-day stay, its lines
      charged on each of the three days;
    * ``split_admission``: each stay of six days or more split in two, the second
      admission two days after the first discharge;
    * ``upcoding`` (高套病组): each stay whose settlement list would group without an
      MCC or CC gets one more other diagnosis that moves it into the CC/MCC group of its
      ADRG (``upcoder``, ``sim.lists.upcode``; without one nothing changes).
    """
    out: list[Encounter] = []
    for e in encounters:
        if e.cancel:
            continue
        if scheme == "duplicate_charge" and e.lines:
            doubled = e
            for line in e.lines[: max(1, len(e.lines) // 3)]:
                if line.code not in ruled:
                    doubled = _with_line(
                        doubled, line.code, line.price, line.quantity, line.day_offset, line.name
                    )
            if doubled is not e:
                out.append(doubled)
        elif scheme == "phantom_admission" and e.kind == OUTPATIENT and e.lines:
            if window is not None and e.admit + timedelta(days=3) > window[1]:
                continue
            out.append(
                replace(
                    e,
                    kind=INPATIENT,
                    day=e.admit + timedelta(days=3),
                    diagnosis=NEUTRAL_DIAGNOSIS,
                    lines=tuple(
                        replace(line, sn=f"{n:04d}", day_offset=d)
                        for n, (d, line) in enumerate(
                            ((d, line) for d in range(3) for line in e.lines), start=1
                        )
                    ),
                )
            )
        elif scheme == "split_admission" and e.kind == INPATIENT and (e.day - e.admit).days >= 6:
            half = (e.day - e.admit).days // 2
            first = replace(
                e,
                day=e.admit + timedelta(days=half),
                lines=tuple(line for line in e.lines if line.day_offset <= half),
            )
            second_lines = tuple(
                replace(line, day_offset=line.day_offset - half - 2)
                for line in e.lines
                if line.day_offset > half + 1
            )
            settled = window is None or first.day >= window[0]
            if first.lines and second_lines and settled:
                second = replace(
                    e,
                    key=f"{e.key}-S",
                    admit=e.admit + timedelta(days=half + 2),
                    lines=second_lines,
                    cancel=False,
                )
                out += [first, second]
        elif scheme == "upcoding" and e.kind == INPATIENT and upcoder is not None:
            upcoded = upcoder(e)
            if upcoded is not None:
                out.append(upcoded)
    return out


def plant(
    plan: Plan,
    persons: Mapping[str, PersonFacts],
    book: RuleBook,
    catalogues: Catalogues,
    rate: float,
    seed: int,
    hospitals: Sequence[Any] = (),
    grouping: Scheme | None = None,
    fraud_min_bills: int = FRAUD_MIN_BILLS,
) -> Outcome:
    """Clean the month, then plant violations in a share ``rate`` of its encounters and
    make a few hospitals fraudulent (module docstring), each changing at least
    ``fraud_min_bills`` of its own bills. ``grouping`` is the DRG scheme the platform
    groups settlement lists with (the scheme ``upcoding`` needs it; without it the
    scheme is not used)."""
    if not 0 < rate <= 0.5:
        raise ValueError(f"the anomaly rate must be in (0, 0.5], got {rate}")
    if fraud_min_bills < 1:
        raise ValueError(f"the fraud's minimum of bills must be at least 1, got {fraud_min_bills}")
    rng = random.Random(f"medroam-sim:anomalies:{seed}")
    auditor = Auditor(book, plan.start)
    window = [e for e in plan.encounters if plan.start <= e.day <= plan.end]
    early = [e for e in plan.encounters if e.day < plan.start or e.day > plan.end]
    cleaned, lines_dropped, dropped = clean(window, persons, auditor)
    by_key = {e.key: e for e in cleaned}
    mine: dict[str, list[str]] = defaultdict(list)
    for e in cleaned:
        mine[e.psn_no].append(e.key)

    planted: list[Planted] = []
    families = [*BILL_PLANTERS, *HISTORY_FAMILIES]
    rules_by_family: dict[str, list[Rule]] = defaultdict(list)
    for rule in book.rules:
        if rule.in_force(plan.start) and rule.mechanism in families:
            rules_by_family[rule.mechanism].append(rule)
    touched: set[str] = set()  # persons already carrying a planted violation
    order = [e.key for e in cleaned]
    rng.shuffle(order)
    wanted = max(1, round(rate * len(cleaned)))
    tries: Counter[str] = Counter()
    made: Counter[str] = Counter()
    # an equal share of the planted encounters per family; a family whose violation
    # fits few encounters (a stay, a lower-level hospital …) searches further for them
    quota = -(-wanted // len(families))
    for n_family, family in enumerate(families):
        start = (n_family * len(order)) // len(families)
        scanned = 0
        for key in order[start:] + order[:start]:
            if made[family] >= quota or scanned >= MAX_SCAN:
                break
            e = by_key[key]
            person = persons.get(e.psn_no)
            if person is None or e.psn_no in touched or e.cancel:
                continue
            scanned += 1
            if _plant_one(family, key, e, person, auditor, rules_by_family, catalogues, rng,
                          by_key, mine, hospitals, (plan.start, plan.end), tries):  # fmt: skip
                touched.add(e.psn_no)
                made[family] += 1

    # fraudulent hospitals: their scheme on their own encounters (institution truth)
    ruled = _ruled_codes(book)
    codes = sorted({e.hospital.code for e in by_key.values()})
    wanted_frauds = max(1, round(FRAUD_SHARE * len(codes))) if codes else 0
    own: dict[str, list[str]] = defaultdict(list)
    for key, e in by_key.items():
        own[e.hospital.code].append(key)
    own_keys = set(by_key)
    frauds = 0

    def upcoder(e: Encounter) -> Encounter | None:
        person = persons.get(e.psn_no)
        # a person carrying a planted violation may be refused at 2304, and a stay
        # without a settlement sends no list: the up-coding would not be in the data
        if grouping is None or person is None or e.psn_no in touched:
            return None
        return upcode(e, person.gender, person.birth_date, grouping)

    # schemes in turn; each goes to the first hospital, in a seeded order, not yet
    # fraudulent on which it changes at least ``fraud_min_bills`` bills (a clinic without
    # stays cannot split one): a fraudulent institution is one whose data shows its
    # scheme, repeatedly. A scheme that fits no hospital is dropped from the turn.
    schemes = [s for s in FRAUD_SCHEMES if s != "upcoding" or grouping is not None]
    order_of_hospitals = rng.sample(codes, len(codes))
    fraudulent: set[str] = set()
    # a scheme that changed too few of a hospital's bills never changes more later (the
    # persons it may not touch only grow): not tried there again
    too_few: set[tuple[str, str]] = set()
    turn = 0
    while frauds < wanted_frauds and schemes:
        scheme = schemes[turn % len(schemes)]
        for code in order_of_hospitals:
            if code in fraudulent or (scheme, code) in too_few:
                continue
            # not the encounters of a person carrying a planted violation: a refusal at
            # 2304 would take the changed bill out of the data (a split stay refused for
            # a charge outside it left a "split" hospital with one stay and nothing to see)
            candidates = [by_key[k] for k in sorted(own[code]) if by_key[k].psn_no not in touched]
            changes = defraud(scheme, candidates, ruled, (plan.start, plan.end), upcoder)
            # a split stay is two encounters, the first under the stay's own key
            if sum(1 for e in changes if e.key in own_keys) < fraud_min_bills:
                too_few.add((scheme, code))
                continue
            frauds += 1
            fraudulent.add(code)
            planted.append(Planted("institution", scheme, "", "", code))
            for e in changes:
                touched.add(e.psn_no)
                if e.key not in by_key:
                    mine[e.psn_no].append(e.key)
                by_key[e.key] = e
            turn += 1
            break
        else:
            schemes.remove(scheme)

    planted.extend(_visit_truth(touched, mine, by_key, persons, auditor))
    encounters = sorted([*early, *by_key.values()], key=lambda e: (e.day, e.key))
    not_plantable = tuple(f for f in families if tries[f] and not made[f]) + tuple(
        f for f in families if not tries[f]
    )
    return Outcome(
        replace(plan, encounters=tuple(encounters)),
        tuple(planted),
        lines_dropped,
        dropped,
        not_plantable,
    )
