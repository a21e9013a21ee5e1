"""DIP (按病种分值付费) scores, deviation cases and case scores (drg-dip.md §7).

Units as in ``payment``: scores ×10⁴, coefficients and thresholds ×10⁴, money in fen,
the point value in µ¥; the point value comes from the budget the same way
(``payment.point_value``) and ``payment.points_to_fen`` turns a score into money.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from medroam.domain.drg.payment import P4, CaseClass
from medroam.domain.money import Fen, div_round


def dip_scores(means: Mapping[str, Fen], overall_mean: Fen, scale: int = 100) -> dict[str, int]:
    """``score_i = m_i ÷ M × K`` (×10⁴), K = ``scale`` (default 100: see docs/drg.md)."""
    if overall_mean <= 0:
        raise ValueError("overall mean must be positive")
    return {g: div_round(m * scale * P4, overall_mean) for g, m in sorted(means.items())}


@dataclass(frozen=True, slots=True)
class DipParams:
    """Deviation thresholds (×10⁴): below 0.5 × and above 2 × the group mean; 特例单议
    flag above 5 ×; whether the level coefficient applies to deviation cases."""

    scores: Mapping[str, int]
    means: Mapping[str, Fen]
    low: int = 5_000
    high: int = 20_000
    review: int = 50_000
    coef_on_deviation: bool = True
    level_coefficients: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DipScore:
    group: str
    klass: CaseClass  # NORMAL, LOW or HIGH
    score: int  # ×10⁴, after deviation and coefficient
    special_review: bool


def dip_case_score(group: str, cost: Fen, level: str, params: DipParams) -> DipScore:
    """Score of one case:

    * ``cost < low × m``: ``RW × cost ÷ m``;
    * ``cost > high × m``: ``RW × ((cost ÷ m − high) + 1)``;
    * otherwise ``RW``; then × the level coefficient (for deviation cases only when
      ``coef_on_deviation``). Rounded once per step to 0.0001.
    """
    rw = params.scores[group]
    m = params.means[group]
    scaled = cost * P4
    if scaled < params.low * m:
        klass = CaseClass.LOW
        score = div_round(rw * cost, m)
    elif scaled > params.high * m:
        klass = CaseClass.HIGH
        score = div_round(rw * (scaled - (params.high - P4) * m), m * P4)
    else:
        klass = CaseClass.NORMAL
        score = rw
    coef = params.level_coefficients.get(level)
    if coef is not None and (klass is CaseClass.NORMAL or params.coef_on_deviation):
        score = div_round(score * coef, P4)
    return DipScore(group, klass, score, scaled > params.review * m)
