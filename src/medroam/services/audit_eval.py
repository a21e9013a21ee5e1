"""``medroam audit evaluate``: the audit measured against planted anomalies.

The truth is what ``medroam sim --anomalies`` planted (``sim_anomaly_truth``), the
findings what ``medroam audit run`` stored for the month. Per rule family (mechanism):

* planted — truth rows of the family whose visit was settled, plus those the gateway
  refused at settlement;
* found — stored findings of the family; true positives — found on a planted settlement
  of the same family;
* refused at settlement (事中) — planted visits the real-time audit refused (its
  ``err_msg`` starts with ``智能审核拒绝结算``, naming the first refusing rule, which may be
  another family the same bill broke): stopped before any money moved, so they count as
  found; a refusal for another cause (a malformed upload …) does not;
* precision = true positives / found; recall = (true positives + refused naming the
  rule) / planted. "—" where the denominator is 0.

Ratios are exact fractions shown with two decimals (half up), e.g. 0.95.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Engine

from medroam.services.audit_run import findings_for_period, found_pairs
from medroam.services.sim_truth import truth_for_period

AUDIT_REFUSAL = "智能审核拒绝结算"


@dataclass
class FamilyScore:
    family: str
    planted: int = 0
    found: int = 0
    true_positive: int = 0
    refused: int = 0  # refused at settlement, naming the planted rule

    @property
    def precision(self) -> Decimal | None:
        return None if self.found == 0 else Decimal(self.true_positive) / Decimal(self.found)

    @property
    def recall(self) -> Decimal | None:
        if self.planted == 0:
            return None
        return Decimal(self.true_positive + self.refused) / Decimal(self.planted)


def ratio_text(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def family_scores(engine: Engine, period: str) -> list[FamilyScore]:
    """Precision and recall per family of the month (module docstring)."""
    truth = [t for t in truth_for_period(engine, period) if t.level == "visit"]
    found = found_pairs(findings_for_period(engine, period))
    scores: dict[str, FamilyScore] = {}

    def of(family: str) -> FamilyScore:
        return scores.setdefault(family, FamilyScore(family))

    planted: dict[str, set[str]] = defaultdict(set)
    for t in truth:
        if t.setl_id:
            planted[t.family].add(t.setl_id)
        elif t.refusal:
            s = of(t.family)
            s.planted += 1
            if AUDIT_REFUSAL in t.refusal or (t.rule_code and t.rule_code in t.refusal):
                s.refused += 1
    for family, setl_ids in planted.items():
        of(family).planted += len(setl_ids)
    for family, setl_id in found:
        s = of(family)
        s.found += 1
        if setl_id in planted.get(family, set()):
            s.true_positive += 1
    return sorted(scores.values(), key=lambda s: s.family)


def evaluate(engine: Engine, *periods: str) -> dict[str, Any]:
    """The evaluation of one or more months (counts added up) as the demo report and the
    CLI show it."""
    merged: dict[str, FamilyScore] = {}
    for period in periods:
        for s in family_scores(engine, period):
            m = merged.setdefault(s.family, FamilyScore(s.family))
            m.planted += s.planted
            m.found += s.found
            m.true_positive += s.true_positive
            m.refused += s.refused
    scores = sorted(merged.values(), key=lambda s: s.family)
    return {
        "periods": list(periods),
        "families": {
            s.family: {
                "planted": s.planted,
                "found": s.found,
                "true_positive": s.true_positive,
                "refused": s.refused,
                "precision": ratio_text(s.precision),
                "recall": ratio_text(s.recall),
            }
            for s in scores
        },
        "institutions": [],
    }
