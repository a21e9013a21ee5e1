"""DRG results of stored settlement lists (支付方式管理): weight, item cost and what
payment by disease group pays, per hospital and DRG."""

from __future__ import annotations

from datetime import UTC, date, datetime

from medroam.domain.drg.settlement_list import SettlementList
from medroam.services.drg_results import group_results
from medroam.store.settlement_lists import list_to_dict
from medroam.store.tables import SettlementListRow, SettlementRow


def _rows(n: int, region: str, medfee: int) -> list[tuple[SettlementListRow, SettlementRow, str]]:
    out = []
    for i in range(n):
        sl = SettlementList(
            setl_id=f"S{i}",
            mdtrt_id=f"M{i}",
            fixmedins_code="H1",
            insuplc=region,
            treatment_region=region,
            gend="1",
            age=60,
            adm_time=date(2025, 6, 1),
            dscg_time=date(2025, 6, 11),
            act_ipt_days=10,
            dscg_way="1",
        )
        lst = SettlementListRow(
            setl_list_id=f"L{i}",
            fixmedins_code="H1",
            insuplc=region,
            treatment_region=region,
            drg="BR23",
            document={"list": list_to_dict(sl)},
        )
        setl = SettlementRow(
            setl_id=f"S{i}",
            psn_no=f"P{i}",
            medfee=medfee,
            personal=600_000,
            fund_total=medfee - 600_000,
            setl_time=datetime(2025, 6, 11, 2, tzinfo=UTC),
        )
        out.append((lst, setl, "2"))
    return out


def test_two_local_cases_priced_with_the_place_of_treatment_parameters() -> None:
    """深圳 440300, 2025 (SYNTHETIC parameters: points method, 208.2028 yuan per point,
    level 2 coefficient 1.0000). BR23 has RW 0.4426 → 44.26 points per normal case; cost
    30,000.00 lies between 0.5× and 2× the mean 28,874.36, so each case is normal:
    44.26 × 208.2028 = 9,160.9232 + 54.132728 = 9,215.055928 → 9,215.06 yuan. Two cases:
    18,430.12 yuan paid against 60,000.00 yuan of items, difference −41,569.88."""
    [result] = group_results(_rows(2, "440300", 3_000_000))
    assert (result.fixmedins_code, result.drg, result.cases) == ("H1", "BR23", 2)
    assert result.rw == 4426
    assert result.item_cost == 6_000_000
    assert result.payment == 2 * 921_506
    assert result.difference == -4_156_988
    assert result.parameters == "440300-2025"


def test_a_place_without_parameters_shows_cases_and_cost_only() -> None:
    [result] = group_results(_rows(1, "110100", 3_000_000))
    assert result.cases == 1 and result.item_cost == 3_000_000
    assert result.payment is None and result.rw is None and result.parameters == ""
