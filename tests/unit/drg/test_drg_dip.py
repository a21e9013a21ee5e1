"""DIP worked examples (drg-dip.md §7), computed by hand in the docstrings.

Scores ×10⁴, money in fen, point values in µ¥.
"""

from __future__ import annotations

from medroam.domain.drg.dip import DipParams, dip_case_score, dip_scores
from medroam.domain.drg.payment import CaseClass, point_value, points_to_fen

PARAMS = DipParams(scores={"K80.1": 8_500_000}, means={"K80.1": 1_020_000})  # 850; ¥10,200


def test_scores_from_means() -> None:
    """m = ¥10,200, M = ¥12,000: 10,200 / 12,000 × 1,000 = 850; with K = 100: 85;
    ¥5,000 / ¥12,000 × 100 = 41.6667."""
    assert dip_scores({"K80.1": 1_020_000}, 1_200_000, scale=1000) == {"K80.1": 8_500_000}
    got = dip_scores({"K80.1": 1_020_000, "J18.9": 500_000}, 1_200_000)
    assert got == {"J18.9": 416_667, "K80.1": 850_000}


def test_worked_example_high_deviation() -> None:
    """§7.6: cost ¥25,000 / ¥10,200 = 2.451 > 2; score = 850 × ((2.451 − 2) + 1) =
    850 × 14,800 / 10,200 = 1,233.3333; × ¥12.00 = ¥14,799.9996 → ¥14,800.00."""
    s = dip_case_score("K80.1", 2_500_000, "3", PARAMS)
    assert (s.klass, s.score) == (CaseClass.HIGH, 12_333_333)
    assert points_to_fen(s.score, 12_000_000) == 1_480_000


def test_low_and_normal() -> None:
    """Cost ¥4,000 < 0.5 × ¥10,200: 850 × 4,000 / 10,200 = 333.3333. Cost ¥5,100 (exactly
    0.5 ×) and ¥20,400 (exactly 2 ×) are normal: 850."""
    assert dip_case_score("K80.1", 400_000, "3", PARAMS).score == 3_333_333
    assert dip_case_score("K80.1", 510_000, "3", PARAMS).klass is CaseClass.NORMAL
    assert dip_case_score("K80.1", 2_040_000, "3", PARAMS).score == 8_500_000


def test_level_coefficient_and_deviation_switch() -> None:
    """Level 3 coefficient 1.1: normal 850 × 1.1 = 935; the high case 1,233.3333 × 1.1 =
    1,356.6666 → 1,356.6666 (13,566,666.3 → 13,566,666); without the coefficient on
    deviation cases it stays 1,233.3333."""
    p = DipParams(PARAMS.scores, PARAMS.means, level_coefficients={"3": 11_000})
    assert dip_case_score("K80.1", 1_000_000, "3", p).score == 9_350_000
    assert dip_case_score("K80.1", 2_500_000, "3", p).score == 13_566_666
    off = DipParams(
        PARAMS.scores, PARAMS.means, coef_on_deviation=False, level_coefficients={"3": 11_000}
    )
    assert dip_case_score("K80.1", 2_500_000, "3", off).score == 12_333_333


def test_review_flag_above_five_times() -> None:
    assert dip_case_score("K80.1", 5_100_001, "3", PARAMS).special_review
    assert not dip_case_score("K80.1", 5_100_000, "3", PARAMS).special_review


def test_dip_point_value_from_budget() -> None:
    """Budget ¥1,200,000 over 100,000 score points → ¥12.00 per point."""
    assert point_value(120_000_000, 100_000 * 10_000) == 12_000_000
