"""Institution scores: the case-weighted z by hand, robust z by hand, the explanation,
ROC AUC, and the scoring putting planted outliers first among their peers — also when
they have one case, and not a large hospital for a few dear bills."""

from __future__ import annotations

import random
from typing import Any

import pytest

from medroam.domain.audit.scores import (
    ZERO,
    Explanation,
    Sums,
    baseline,
    combined_score,
    evidence,
    explain,
    funnel_z,
    poisson_upper_tail,
    robust_z,
    roc_auc,
)
from medroam.services.audit_run import AuditRunError
from medroam.services.audit_scores import score_rows, span


def test_the_worked_example_of_the_module_docstring() -> None:
    """One short stay of one; peers 40 stays with 1 short; nationally 1,000 stays (without
    it) with 5 short: θ_nat = 6/1002, θ = (1 + 30 × 6/1002) / 70 = 0.016852,
    σ² = θ(1 − θ) = 0.016568, z = (1 − θ) / √σ² = 7.638."""
    theta, var = baseline(Sums(40, 1, 1), Sums(1000, 5, 5), bounded=True)
    assert theta == pytest.approx((1 + 30 * 6 / 1002) / 70)
    assert theta == pytest.approx(0.016852, abs=1e-6)
    assert var == pytest.approx(0.016568, abs=1e-6)
    z = funnel_z(Sums(1, 1, 1), Sums(40, 1, 1), Sums(1000, 5, 5), bounded=True)
    assert z == pytest.approx(7.638, abs=1e-3)


def test_a_mean_of_many_cases_counts_more_than_one_case() -> None:
    """Peers' cases: mean 10, variance 4 (Σx = 1,000, Σx² = 10,400 over 100 cases), no
    national prior. A mean of 12 is z = 2 / √(4/1) = 1 on one case and
    2 / √(4/25) = 5 on 25 cases."""
    peers = Sums(100, 1000, 10_400)
    one = Sums(1, 12, 144)
    many = Sums(25, 300, 25 * 144)
    assert funnel_z(one, peers, ZERO, bounded=False) == pytest.approx(1.0)
    assert funnel_z(many, peers, ZERO, bounded=False) == pytest.approx(5.0)


def test_no_cases_or_no_spread_is_no_evidence() -> None:
    assert funnel_z(ZERO, Sums(10, 5, 5), Sums(10, 5, 5), bounded=True) == 0.0
    same = Sums(10, 30, 90)  # every peer case is 3
    assert funnel_z(Sums(1, 5, 25), same, ZERO, bounded=False) == 0.0


def test_a_small_national_pool_weighs_as_the_cases_it_has() -> None:
    """Nationally only the Beta(1, 1) pseudo-cases (one at 0, one at 1): k = 2, not 30.
    Peers 98 cases summing to 1: θ = (1 + 2 × 0.5) / 100 = 0.02."""
    theta, _var = baseline(Sums(98, 1, 1), Sums(0, 0, 0), bounded=True)
    assert theta == pytest.approx(0.02)


def test_evidence_is_one_way_for_one_way_features() -> None:
    assert evidence("short_stay", -3.0) == -3.0  # fewer short stays: nothing suspicious
    assert evidence("los", -3.0) == 3.0  # shorter or longer stays both
    assert combined_score({"short_stay": -3.0, "los": 2.0}, forest_z=4.0) == 2.0 + 0.25 * 4.0


def test_robust_z_by_hand() -> None:
    """Values 10, 12, 11, 13, 40: median 12, absolute deviations 2, 0, 1, 1, 28 → MAD 1,
    σ ≈ 1.4826; z(40) = 28 / 1.4826 = 18.886…, z(10) = −2 / 1.4826 = −1.349…"""
    z = robust_z([10, 12, 11, 13, 40])
    assert z[4] == pytest.approx(28 / 1.4826)
    assert z[0] == pytest.approx(-2 / 1.4826)
    assert z[1] == 0


def test_robust_z_when_most_peers_agree() -> None:
    """5, 5, 5, 5, 9: MAD 0, so the mean absolute deviation (4/5 = 0.8) × 1.2533 scales:
    z(9) = 4 / 1.00264 = 3.989…; all equal → all 0."""
    assert robust_z([5, 5, 5, 5, 9])[4] == pytest.approx(4 / (1.2533 * 0.8))
    assert robust_z([7, 7, 7]) == [0.0, 0.0, 0.0]


def test_explanation_names_the_strongest_evidence_in_chinese() -> None:
    why = explain(
        {"items_per_day": 9.0, "drug_share": 0.3, "los": 8.0, "short_stay": 0.0},
        {"items_per_day": 5.2, "drug_share": -0.4, "los": 0.0, "short_stay": -2.0},
        {"items_per_day": 3.0, "drug_share": 0.45, "los": 8.0, "short_stay": 0.1},
    )
    # |z| order; z 0 and a one-way feature pointing the harmless way are left out
    assert [e.feature for e in why] == ["items_per_day", "drug_share"]
    assert why[0].text() == "日均收费明细条数 9.0，高于同类机构 3.0（z = +5.2）"
    assert why[1].text() == "药品费用占比 30.0%，低于同类机构 45.0%（z = -0.4）"


def test_a_z_that_shows_as_zero_reads_as_a_tie() -> None:
    """z = +0.04 prints as +0.0: "接近", not "高于" a peer figure that prints the same
    (an outside check read "药品费用占比 49.9%，高于同类机构 49.9%（z = +0.0）")."""
    tie = Explanation("drug_share", 0.4991, 0.4989, 0.04)
    assert tie.text() == "药品费用占比 49.9%，接近同类机构 49.9%（z = +0.0）"
    assert Explanation("drug_share", 0.6, 0.5, 0.05).text().startswith("药品费用占比 60.0%，高于")


def test_the_poisson_tail_by_hand_and_against_scipy() -> None:
    """P(X ≥ 3 | 0.5) = 1 − e^−0.5 (1 + 0.5 + 0.125) = 1 − 0.606531 × 1.625 = 0.014388;
    P(X ≥ 1 | 0.1) = 1 − e^−0.1 = 0.095163; nothing observed is certain, an expectation
    of 0 makes any count impossible. Far in the tail and at large counts it agrees with
    scipy's survival function (an independent implementation)."""
    assert poisson_upper_tail(3, 0.5) == pytest.approx(0.014388, abs=1e-6)
    assert poisson_upper_tail(1, 0.1) == pytest.approx(0.095163, abs=1e-6)
    assert poisson_upper_tail(0, 2.0) == 1.0
    assert poisson_upper_tail(2, 0.0) == 0.0
    from scipy.stats import poisson  # type: ignore[import-untyped]

    for observed, mean in ((7, 0.98), (18, 6.2), (140, 100.0), (2000, 1800.0), (40, 1.0)):
        want = float(poisson.sf(observed - 1, mean))
        assert poisson_upper_tail(observed, mean) == pytest.approx(want, rel=1e-9)


def test_roc_auc_by_hand() -> None:
    """Scores 0.9 (planted), 0.8, 0.5 (planted), 0.1: the planted beat 2 + 1 of the 4
    planted×other pairs → 3/4."""
    assert roc_auc([0.9, 0.8, 0.5, 0.1], [True, False, True, False]) == 0.75
    assert roc_auc([0.1], [True]) is None


def test_the_span_of_months_ending_with_the_period() -> None:
    assert span("2026-10", 1)[0].isoformat() == "2026-10-01"
    assert [d.isoformat() for d in span("2026-02", 3)] == ["2025-12-01", "2026-02-28"]
    with pytest.raises(AuditRunError, match="--months"):
        span("2026-10", 13)


def _row(code: str, cases: list[dict[str, float]], level: str = "3") -> dict[str, Any]:
    """A feature row as the batch returns it, from per-case values."""
    row: dict[str, Any] = {
        "fixmedins_code": code,
        "level": level,
        "kind": "hospital",
        "province": "11",
        "cases": len(cases),
    }
    for f in ("cost_inpatient", "los", "items_per_day", "short_stay", "repeat_lines"):
        values = [c[f] for c in cases if f in c]
        row[f"{f}_n"] = len(values)
        row[f"{f}_sum"] = float(sum(values))
        row[f"{f}_sq"] = float(sum(v * v for v in values))
    return row


def _stay(n: int, **over: float) -> dict[str, float]:
    """An ordinary stay: ln(yuan) around 9.9 (≈ 20,000 yuan), 8–10 days, 2–3 lines a
    day, rarely a repeated line, never 3 days or less."""
    return {
        "cost_inpatient": 9.9 + (n % 5 - 2) / 10,
        "los": 8.0 + n % 3,
        "items_per_day": 2.0 + (n % 4) / 4,
        "short_stay": 0.0,
        "repeat_lines": 0.05 if n % 10 == 0 else 0.0,
    } | over


def test_a_one_case_phantom_stay_and_a_duplicating_hospital_rank_first() -> None:
    """Twelve hospitals of one province alike (30 stays each; HBIG with 200 and a few
    dearer bills), HP with a single 3-day stay and HD billing a third of its lines twice
    on 20 stays: HP and HD rank 1–2, explained by the short stays and the repeated
    lines; HBIG (its mean bill only 0.1 higher) ranks below them."""
    rows = [_row(f"H{h:02d}", [_stay(h + n) for n in range(30)]) for h in range(12)]
    rows.append(_row("HBIG", [_stay(n, cost_inpatient=10.0) for n in range(200)]))
    rows.append(_row("HP", [_stay(0, los=3.0, short_stay=1.0)]))
    rows.append(_row("HD", [_stay(n, repeat_lines=0.25) for n in range(20)]))
    scored = score_rows(rows)
    by_code = {s.fixmedins_code: s for s in scored}
    assert {scored[0].fixmedins_code, scored[1].fixmedins_code} == {"HP", "HD"}
    assert "3天及以内住院占比 100.0%" in by_code["HP"].explanation
    assert "同日重复收费明细占比 25.0%" in by_code["HD"].explanation
    assert by_code["HBIG"].rank > 2
    assert all(s.peer_group == "3级/hospital/11" for s in scored)


def test_the_order_of_the_rows_does_not_change_the_scores() -> None:
    """The feature rows come from a GROUP BY, in whatever order the database returns
    them (SQLite and PostgreSQL differ; so do two runs of one simulation, whose ids are
    drawn at random). The isolation forest draws 256 rows by position for each tree once
    there are more, so the scores must be computed from the rows in one fixed order (by
    institution code): 300 institutions reversed or shuffled give the same score and
    rank to every one."""
    rows = [_row(f"H{h:03d}", [_stay(h + n) for n in range(5 + h % 25)]) for h in range(300)]
    rows.append(_row("HP", [_stay(0, los=3.0, short_stay=1.0)]))
    rows.append(_row("HD", [_stay(n, repeat_lines=0.25) for n in range(20)]))

    def outcome(given: list[dict[str, Any]]) -> dict[str, tuple[int, float]]:
        return {s.fixmedins_code: (s.rank, s.score) for s in score_rows(given)}

    reference = outcome(rows)
    assert outcome(list(reversed(rows))) == reference
    shuffled = rows[:]
    random.Random(3).shuffle(shuffled)
    assert outcome(shuffled) == reference
