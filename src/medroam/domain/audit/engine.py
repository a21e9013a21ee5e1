"""The rule book: the rules in force by region and date, and the bill audit.

A region's book is the national rules (region ``000000``), its province's
(``PP0000``), its city's (``PPCC00``: a district institution in 440305 follows
Shenzhen's 440300 library) and its own; of the rules sharing a code the most local one
wins. ``audit_bill`` is the hot-path entry
(事前/事中): it runs the bill mechanisms that apply to the stage, scenario and insurance
type, in rule-code order, so the same bill always gives the same findings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from medroam.domain.audit.mechanisms import MECHANISMS, Kind
from medroam.domain.audit.model import Bill, Finding, Rule, Scenario, Stage

NATIONAL = "000000"


def _scope(region: str) -> dict[str, int]:
    """Library region → rank (higher is more local) for rules applying at ``region``."""
    scope = {NATIONAL: 0, region[:2] + "0000": 1, region[:4] + "00": 2}
    scope[region] = 3  # a city or province region is its own most local library
    return scope


@dataclass(slots=True)
class RuleBook:
    """All loaded rules; selection by region, date, stage is cached."""

    rules: tuple[Rule, ...]
    _cache: dict[tuple[str, date, Stage, Kind], tuple[Rule, ...]] = field(
        default_factory=dict, repr=False
    )

    def in_force(self, region: str, day: date, stage: Stage, kind: Kind) -> tuple[Rule, ...]:
        """The rules of ``kind`` for ``stage`` at ``region`` (its province and the
        nation included) on ``day``; the most local rule of a code wins."""
        key = (region, day, stage, kind)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        scope = _scope(region)
        chosen: dict[str, tuple[int, Rule]] = {}
        for rule in self.rules:
            rank = scope.get(rule.region)
            if rank is None or stage not in rule.meta.stages or not rule.in_force(day):
                continue
            if MECHANISMS[rule.mechanism].kind is not kind:
                continue
            prev = chosen.get(rule.meta.code)
            if prev is None or prev[0] < rank:
                chosen[rule.meta.code] = (rank, rule)
        result = tuple(r for _, r in sorted(chosen.values(), key=lambda x: x[1].meta.code))
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[key] = result
        return result


def applies(rule: Rule, scenario: Scenario, insutype: str, cross_region: bool) -> bool:
    scenarios = rule.meta.scenarios
    if Scenario.CROSS_REGION in scenarios and not cross_region:
        return False
    plain = scenarios - {Scenario.CROSS_REGION}
    if plain and scenario not in plain:
        return False
    return not rule.meta.insutypes or insutype in rule.meta.insutypes


def audit_bill(book: RuleBook, bill: Bill, stage: Stage, day: date) -> list[Finding]:
    """Every bill rule in force at the place of treatment on ``day`` for ``stage``."""
    visit = bill.visit
    out: list[Finding] = []
    for rule in book.in_force(visit.treatment_region, day, stage, Kind.BILL):
        if applies(rule, visit.scenario, visit.insutype, visit.cross_region):
            out.extend(MECHANISMS[rule.mechanism].check(rule.meta, rule.params, bill))
    return out


def rules_of_kind(rules: Sequence[Rule], kind: Kind) -> list[Rule]:
    return [r for r in rules if MECHANISMS[r.mechanism].kind is kind]
