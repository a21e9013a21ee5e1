"""Worked examples and properties of ``classify_line`` (domain-rules §3.2 steps 1–4).

Units: amounts in fen, quantities in ten-thousandths (1 unit = 10_000), unit prices and
caps in micro-yuan (1 yuan = 1_000_000), ratios in ten-thousandths (10 % = 1_000).
Every expected value is worked out by hand in the test's docstring.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from medroam.domain.catalogue import (
    REASON_APPROVAL_REFUSED,
    REASON_CLASS_C,
    REASON_LISTED,
    REASON_NOT_LISTED,
    REASON_RESTRICTED_UNAPPROVED,
    CatalogueItem,
    FeeLine,
    LineResult,
    classify_line,
)
from medroam.domain.codes import LEVEL_A, LEVEL_B, LEVEL_C
from medroam.domain.money import RATIO_ONE

YUAN = 1_000_000  # micro-yuan
UNIT = 10_000  # quantity ten-thousandths


def item(
    level: str = LEVEL_A,
    ratio: int = 0,
    cap: int | None = None,
    *,
    restricted: bool = False,
    charge_type: str = "05",
) -> CatalogueItem:
    return CatalogueItem(
        code="TEST0001",
        name="test item",
        list_type="201",
        charge_type=charge_type,
        level=level,
        selfpay_ratio=ratio,
        price_cap=cap,
        restricted=restricted,
    )


def line(amount: int, quantity: int, unit_price: int, approval: str = "0") -> FeeLine:
    return FeeLine(
        line_id="1",
        list_code="TEST0001",
        amount=amount,
        quantity=quantity,
        unit_price=unit_price,
        hosp_approval=approval,
    )


def parts(r: LineResult) -> tuple[int, int, int, int]:
    return (r.fulamt_ownpay, r.overlmt, r.preselfpay, r.inscp)


# --- worked examples -------------------------------------------------------------------


def test_class_a_line_is_all_in_policy() -> None:
    """甲 bed fee 50.00 × 2 days = 100.00, cap 60.00 (not exceeded).

    fulamt 0, overlmt 0 (50.00 ≤ 60.00), preselfpay 0 (甲 has no first self-pay, even if
    the item carries a ratio), inscp = 100.00 = 10000 fen.
    """
    r = classify_line(line(10_000, 2 * UNIT, 50 * YUAN), item(LEVEL_A, 1_000, 60 * YUAN))
    assert parts(r) == (0, 0, 0, 10_000)
    assert r.selfpay_ratio == 0
    assert r.level == LEVEL_A
    assert r.reason == REASON_LISTED


def test_class_b_line_pays_ten_percent_first() -> None:
    """乙 100.00 × 3 = 300.00 at 10 %, no cap.

    preselfpay = 300.00 × 0.10 = 30.00 (3000 fen); inscp = 300.00 − 30.00 = 270.00.
    """
    r = classify_line(line(30_000, 3 * UNIT, 100 * YUAN), item(LEVEL_B, 1_000))
    assert parts(r) == (0, 0, 3_000, 27_000)
    assert r.selfpay_ratio == 1_000


def test_class_c_line_is_fully_self_paid() -> None:
    """丙 special-needs bed 600.00 × 1: fulamt = 600.00, nothing else.

    The item's cap and ratio play no part; the result reports the ratio as 1.
    """
    r = classify_line(line(60_000, UNIT, 600 * YUAN), item(LEVEL_C, 1_000, 100 * YUAN))
    assert parts(r) == (60_000, 0, 0, 0)
    assert r.reason == REASON_CLASS_C
    assert r.selfpay_ratio == RATIO_ONE


def test_line_not_in_catalogue_is_fully_self_paid() -> None:
    """No catalogue item: the whole 45.60 is fulamt, level 03, charge type 14 (other)."""
    r = classify_line(line(4_560, UNIT, 45_600_000), None)
    assert parts(r) == (4_560, 0, 0, 0)
    assert (r.level, r.charge_type, r.reason) == (LEVEL_C, "14", REASON_NOT_LISTED)
    assert r.price_cap is None


def test_over_cap_class_a() -> None:
    """甲, 120.00 × 3 = 360.00 with cap 100.00.

    overlmt = (120.00 − 100.00) × 3 = 60.00 (6000 fen); inscp = 360.00 − 60.00 = 300.00.
    """
    r = classify_line(line(36_000, 3 * UNIT, 120 * YUAN), item(LEVEL_A, 0, 100 * YUAN))
    assert parts(r) == (0, 6_000, 0, 30_000)
    assert r.price_cap == 100 * YUAN


def test_over_cap_class_b_takes_the_excess_before_the_ratio() -> None:
    """乙 10 %, 120.00 × 3 = 360.00 with cap 100.00.

    Step 2: overlmt = (120.00 − 100.00) × 3 = 60.00.
    Step 3: preselfpay = (360.00 − 60.00) × 0.10 = 30.00 (not 36.00).
    Step 4: inscp = 360.00 − 60.00 − 30.00 = 270.00.
    """
    r = classify_line(line(36_000, 3 * UNIT, 120 * YUAN), item(LEVEL_B, 1_000, 100 * YUAN))
    assert parts(r) == (0, 6_000, 3_000, 27_000)


def test_over_cap_with_a_fractional_quantity() -> None:
    """甲, 10.00 × 2.5 = 25.00 with cap 8.00.

    overlmt = (10.00 − 8.00) × 2.5 = 5.00 (500 fen); inscp = 25.00 − 5.00 = 20.00.
    """
    r = classify_line(line(2_500, 25_000, 10 * YUAN), item(LEVEL_A, 0, 8 * YUAN))
    assert parts(r) == (0, 500, 0, 2_000)


def test_at_cap_is_not_over_cap() -> None:
    """Price equal to the cap: 100.00 × 1 with cap 100.00 → overlmt 0, inscp 100.00."""
    r = classify_line(line(10_000, UNIT, 100 * YUAN), item(LEVEL_A, 0, 100 * YUAN))
    assert parts(r) == (0, 0, 0, 10_000)


def test_restricted_item_without_approval_is_self_paid() -> None:
    """Restricted 乙 10 % item, 200.00, hosp_appr_flag 0: fulamt 200.00, nothing else."""
    r = classify_line(
        line(20_000, UNIT, 200 * YUAN, approval="0"), item(LEVEL_B, 1_000, restricted=True)
    )
    assert parts(r) == (20_000, 0, 0, 0)
    assert r.reason == REASON_RESTRICTED_UNAPPROVED
    assert r.restricted


def test_restricted_item_with_approval_is_reimbursed() -> None:
    """The same line with hosp_appr_flag 1: preselfpay 200.00 × 0.10 = 20.00, inscp 180.00."""
    r = classify_line(
        line(20_000, UNIT, 200 * YUAN, approval="1"), item(LEVEL_B, 1_000, restricted=True)
    )
    assert parts(r) == (0, 0, 2_000, 18_000)
    assert r.reason == REASON_LISTED


def test_restricted_item_with_refused_approval_is_self_paid() -> None:
    """Restricted item, hosp_appr_flag 2: fulamt = the whole 200.00."""
    r = classify_line(
        line(20_000, UNIT, 200 * YUAN, approval="2"), item(LEVEL_B, 1_000, restricted=True)
    )
    assert parts(r) == (20_000, 0, 0, 0)
    assert r.reason == REASON_APPROVAL_REFUSED


def test_refused_approval_on_unrestricted_item_is_self_paid() -> None:
    """Unrestricted 甲 item 80.00 with hosp_appr_flag 2: fulamt 80.00 (interface §4.5)."""
    r = classify_line(line(8_000, UNIT, 80 * YUAN, approval="2"), item(LEVEL_A))
    assert parts(r) == (8_000, 0, 0, 0)
    assert r.reason == REASON_APPROVAL_REFUSED


def test_approval_on_unrestricted_item_changes_nothing() -> None:
    """Unrestricted 乙 10 % item 80.00 with flag 1: normal, preselfpay 8.00, inscp 72.00."""
    r = classify_line(line(8_000, UNIT, 80 * YUAN, approval="1"), item(LEVEL_B, 1_000))
    assert parts(r) == (0, 0, 800, 7_200)


def test_refund_line_mirrors_the_original() -> None:
    """Refund of the 乙 over-cap line: −360.00, quantity −3, price 120.00, cap 100.00.

    Original: overlmt 60.00, preselfpay 30.00, inscp 270.00. The refund is exactly
    −60.00, −30.00, −270.00 (fulamt 0), so original + refund = 0 in every part.
    """
    it = item(LEVEL_B, 1_000, 100 * YUAN)
    original = classify_line(line(36_000, 3 * UNIT, 120 * YUAN), it)
    refund = classify_line(line(-36_000, -3 * UNIT, 120 * YUAN), it)
    assert parts(refund) == (0, -6_000, -3_000, -27_000)
    assert tuple(a + b for a, b in zip(parts(original), parts(refund), strict=True)) == (
        0,
        0,
        0,
        0,
    )
    assert (refund.amount, refund.quantity) == (-36_000, -3 * UNIT)
    assert refund.reason == original.reason


def test_ratio_on_half_a_fen_rounds_half_up() -> None:
    """乙 5 % on 0.10 yuan: 10 fen × 0.05 = 0.5 fen → 1 fen (half away from zero).

    preselfpay 0.01, inscp 0.10 − 0.01 = 0.09. The refund of the same line gives −0.01
    and −0.09: the mirror rounds away from zero too, so the pair nets to zero.
    """
    it = item(LEVEL_B, 500)
    assert parts(classify_line(line(10, UNIT, YUAN // 10), it)) == (0, 0, 1, 9)
    assert parts(classify_line(line(-10, -UNIT, YUAN // 10), it)) == (0, 0, -1, -9)


def test_ratio_just_below_half_a_fen_rounds_down() -> None:
    """乙 5 % on 0.09 yuan: 9 fen × 0.05 = 0.45 fen → 0 fen; inscp 0.09."""
    assert parts(classify_line(line(9, UNIT, 90_000), item(LEVEL_B, 500))) == (0, 0, 0, 9)


def test_over_cap_on_half_a_fen_rounds_half_up() -> None:
    """甲, price 1.005 yuan × 1 with cap 1.00: the excess is 0.005 yuan = 0.5 fen → 1 fen.

    The hospital bills 1.01 (101 fen); overlmt 0.01, inscp 1.00.
    """
    r = classify_line(line(101, UNIT, 1_005_000), item(LEVEL_A, 0, YUAN))
    assert parts(r) == (0, 1, 0, 100)


# --- properties ------------------------------------------------------------------------

levels = st.sampled_from([LEVEL_A, LEVEL_B, LEVEL_C])
approvals = st.sampled_from(["0", "1", "2"])


@st.composite
def catalogue_items(draw: st.DrawFn) -> CatalogueItem | None:
    if draw(st.booleans()) and draw(st.booleans()):
        return None  # a quarter of the lines are not in the catalogue
    return item(
        draw(levels),
        draw(st.integers(0, RATIO_ONE)),
        draw(st.none() | st.integers(0, 10**12)),
        restricted=draw(st.booleans()),
    )


@given(
    amount=st.integers(0, 10**10),
    quantity=st.integers(1, 10**8),
    unit_price=st.integers(0, 10**12),
    it=catalogue_items(),
    approval=approvals,
)
def test_parts_add_up_and_are_non_negative(
    amount: int, quantity: int, unit_price: int, it: CatalogueItem | None, approval: str
) -> None:
    r = classify_line(line(amount, quantity, unit_price, approval), it)
    assert r.fulamt_ownpay + r.overlmt + r.preselfpay + r.inscp == amount
    assert min(parts(r)) >= 0


@given(
    amount=st.integers(1, 10**10),
    quantity=st.integers(1, 10**8),
    unit_price=st.integers(0, 10**12),
    it=catalogue_items(),
    approval=approvals,
)
def test_negative_line_is_the_negation_part_by_part(
    amount: int, quantity: int, unit_price: int, it: CatalogueItem | None, approval: str
) -> None:
    positive = classify_line(line(amount, quantity, unit_price, approval), it)
    negative = classify_line(line(-amount, -quantity, unit_price, approval), it)
    assert parts(negative) == tuple(-p for p in parts(positive))
    assert (negative.level, negative.reason, negative.selfpay_ratio) == (
        positive.level,
        positive.reason,
        positive.selfpay_ratio,
    )
    assert sum(parts(negative)) == -amount
