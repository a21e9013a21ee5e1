"""Institution scores: robust z by hand, the explanation, ROC AUC, and the detector
putting a planted outlier first among its peers."""

from __future__ import annotations

import pytest

from medroam.domain.audit.scores import explain, robust_z, roc_auc
from medroam.services.audit_scores import score_rows


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


def test_explanation_names_the_strongest_features_in_chinese() -> None:
    why = explain(
        {"items_per_day": 9.0, "drug_share": 0.3, "los": 8.0},
        {"items_per_day": 5.2, "drug_share": -0.4, "los": 0.0},
        {"items_per_day": 3.0, "drug_share": 0.45, "los": 8.0},
    )
    assert [e.feature for e in why] == ["items_per_day", "drug_share"]  # |z| order, z 0 left out
    assert why[0].text() == "日均收费项目数 9.0，高于同类机构中位数 3.0（z = +5.2）"
    assert why[1].text() == "药品费用占比 30.0%，低于同类机构中位数 45.0%（z = -0.4）"


def test_roc_auc_by_hand() -> None:
    """Scores 0.9 (planted), 0.8, 0.5 (planted), 0.1: the planted beat 2 + 1 of the 4
    planted×other pairs → 3/4."""
    assert roc_auc([0.9, 0.8, 0.5, 0.1], [True, False, True, False]) == 0.75
    assert roc_auc([0.1], [True]) is None


def test_the_detector_ranks_a_planted_outlier_first() -> None:
    """Twelve level-3 hospitals of one province alike (cost, items per day, shares …) and
    one billing four times the items per day at twice the cost: it ranks 1, explained by
    its items per day."""
    rows = []
    for n in range(12):
        rows.append(
            {"fixmedins_code": f"H{n:02d}", "level": "3", "kind": "hospital", "province": "11",
             "cases": 40, "cost_outpatient": 300.0 + n, "cost_inpatient": 20000.0 + 50 * n,
             "los": 8.0 + (n % 3) / 2, "items_per_day": 3.0 + (n % 4) / 10,
             "drug_share": 0.40 + (n % 5) / 100, "exam_share": 0.15, "readmit_31": 0.02,
             "out_of_region": 0.5, "mcc_cc_share": None}
        )  # fmt: skip
    rows.append({**rows[0], "fixmedins_code": "HX", "items_per_day": 12.0,
                 "cost_inpatient": 40000.0})  # fmt: skip
    scored = score_rows(rows)
    assert scored[0].fixmedins_code == "HX" and scored[0].rank == 1
    assert "日均收费项目数" in scored[0].explanation
    assert all(s.peer_group == "3级/hospital/11" for s in scored)
