"""Payment parameter files: two synthetic regions load, differ, and bad values are named."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from tools.drg_gen_payment import OUT, write

from medroam.domain.drg.payment import (
    CaseClass,
    CrossRegionMode,
    PaymentCase,
    PaymentMethod,
    Scope,
    case_points,
)
from medroam.refdata.drg import load_payment_params, parse_payment_params
from medroam.refdata.errors import ReferenceDataError


def _case(scope: Scope, los: int = 8, cost: int = 1_000_000) -> PaymentCase:
    return PaymentCase(
        "c",
        "p",
        "H",
        "3",
        scope,
        "621000",
        "BR23",
        los,
        "1",
        date(2025, 3, 1),
        date(2025, 3, 9),
        cost,
        200_000,
        cost - 200_000,
    )


def test_two_regions_load_with_their_own_rules() -> None:
    rate, no_budget = load_payment_params("620100", 2025)
    points, budget = load_payment_params("440300", 2025)
    assert (rate.method, points.method) == (PaymentMethod.RATE, PaymentMethod.POINTS)
    assert no_budget is None and budget is not None and budget.advance_ratio == 9_000
    assert rate.cross_region_mode is CrossRegionMode.COEFFICIENT
    assert points.cross_region_mode is CrossRegionMode.SEPARATE_TABLE
    assert len(rate.standards.groups) == 628
    # the same inter-province case: by item in 620100, by DRG in 440300
    assert case_points(_case(Scope.INTER_PROVINCE), rate).klass is CaseClass.NOT_INCLUDED
    assert case_points(_case(Scope.INTER_PROVINCE), points).klass is not CaseClass.NOT_INCLUDED
    # a 2-day stay: excluded in 620100 (≤ 2), priced in 440300 (≤ 1)
    assert case_points(_case(Scope.LOCAL, los=2), rate).klass is CaseClass.EXCLUDED_SHORT
    assert case_points(_case(Scope.LOCAL, los=2), points).klass is not CaseClass.EXCLUDED_SHORT


def test_rate_file_prices_by_hand() -> None:
    """620100: standard = RW × base rate × level coefficient (1.05 for level 3)."""
    params, _ = load_payment_params("620100", 2025)
    g = params.standards.groups["BR23"]
    p = case_points(_case(Scope.LOCAL, cost=g.mean_cost), params)
    num = g.rw * params.base_rate * 10_500
    q, r = divmod(num, 10_000 * 10_000)
    assert p.amount == q + (1 if 2 * r >= 10_000 * 10_000 else 0)


def test_files_are_the_generator_output(tmp_path: Path) -> None:
    """The packaged files are byte for byte what tools/drg_gen_payment.py writes."""
    for path in write(tmp_path):
        assert path.read_bytes() == (OUT / path.name).read_bytes(), path.name


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"base_rate": 123.4}, "base_rate"),
        ({"base_rate": "12.345"}, "base_rate"),
        ({"method": "barter"}, "value"),
        ({"standards": {"overall_mean": "1.00", "groups": {"X": {"rw": "x"}}}}, "rw"),
    ],
)
def test_bad_values_name_the_field(change: dict[str, object], field: str, tmp_path: Path) -> None:
    base = json.loads((OUT / "620100-2025.json").read_text(encoding="utf-8"))
    base.update(change)
    with pytest.raises(ReferenceDataError, match=f"field '{field}'"):
        parse_payment_params(base, "f.json")


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ReferenceDataError, match="no payment parameters for 999999 2025"):
        load_payment_params("999999", 2025, tmp_path)
