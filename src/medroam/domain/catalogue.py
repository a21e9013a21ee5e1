"""The place of treatment's catalogue (就医地目录) and the per-line classification.

Steps 1–4 of the calculation (domain-rules §3.2) happen here, line by line:
全自费 (not covered), 超限价 (above the unit price cap), 乙类先行自付 (class B first
self-pay) and the in-policy remainder. ``amount = fulamt + overlmt + preselfpay + inscp``
holds for every line, to the fen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from medroam.domain.codes import LEVEL_A, LEVEL_B, LEVEL_C
from medroam.domain.money import RATIO_ONE, Fen, Ratio, apply_ratio, div_round

# Unit prices are N(16,6) yuan → integer micro-yuan; quantities N(16,4) → ten-thousandths.
PRICE_SCALE = 1_000_000
QTY_SCALE = 10_000
# micro-yuan × qty-units → fen: divide by (PRICE_SCALE × QTY_SCALE / 100)
_PRICE_QTY_TO_FEN = PRICE_SCALE * QTY_SCALE // 100


@dataclass(frozen=True, slots=True)
class CatalogueItem:
    """One entry of a place-of-treatment catalogue (drug, service or consumable)."""

    code: str  # med_list_codg, the national insurance catalogue code
    name: str
    list_type: str  # list_type: 101 drugs, 102 herbal pieces, 201 services, 301 consumables …
    charge_type: str  # med_chrgitm_type: 01 bed … 09 western medicine … 14 other
    level: str  # chrgitm_lv: 01 甲, 02 乙, 03 丙
    selfpay_ratio: Ratio  # 乙类先行自付比例 (0 for 甲; ignored for 丙)
    price_cap: int | None  # unit price cap in micro-yuan (定价上限), None = no cap
    restricted: bool = False  # lmt_used_flag 限制使用
    essential: bool = False  # bas_medn_flag
    negotiated: bool = False  # hi_nego_drug_flag
    special: bool = False  # list_sp_item_flag 特检特治
    synthetic: bool = True  # labelled synthetic unless taken from a real catalogue

    def __post_init__(self) -> None:
        if self.level not in (LEVEL_A, LEVEL_B, LEVEL_C):
            raise ValueError(
                f"item {self.code}: chrgitm_lv must be 01, 02 or 03, got {self.level!r}"
            )
        if not 0 <= self.selfpay_ratio <= RATIO_ONE:
            raise ValueError(f"item {self.code}: selfpay ratio out of 0..1: {self.selfpay_ratio}")
        if self.price_cap is not None and self.price_cap < 0:
            raise ValueError(f"item {self.code}: negative price cap {self.price_cap}")


@dataclass(frozen=True, slots=True)
class Catalogue:
    """A catalogue in force at one place of treatment."""

    region: str  # admdvs of the place of treatment (or its province, XX0000)
    items: Mapping[str, CatalogueItem]
    source: str = "synthetic"

    def get(self, code: str) -> CatalogueItem | None:
        return self.items.get(code)


@dataclass(frozen=True, slots=True)
class FeeLine:
    """One uploaded fee detail (2204 / 2301 feedetail)."""

    line_id: str  # feedetl_sn
    list_code: str  # med_list_codg
    amount: Fen  # det_item_fee_sumamt (negative for refund lines)
    quantity: int  # cnt in ten-thousandths (negative for refund lines)
    unit_price: int  # pric in micro-yuan
    hosp_approval: str = "0"  # hosp_appr_flag: 0 none needed, 1 approved, 2 refused
    hospital_code: str = ""  # medins_list_codg
    refund_of: str | None = None  # init_feedetl_sn of a refund line


class LineResult(NamedTuple):
    """The catalogue's classification of one line (2204/2301 ``result`` row).

    A NamedTuple rather than a dataclass: one is built per fee line, and tuple
    construction is several times cheaper on the settlement hot path.
    """

    line_id: str
    amount: Fen
    quantity: int
    unit_price: int
    price_cap: int | None
    selfpay_ratio: Ratio
    fulamt_ownpay: Fen  # 全自费
    overlmt: Fen  # 超限价
    preselfpay: Fen  # 先行自付
    inscp: Fen  # 符合政策范围
    level: str  # chrgitm_lv applied
    charge_type: str
    restricted: bool
    essential: bool
    negotiated: bool
    special: bool
    reason: str  # short code of the rule that decided the line (for the trace)


# Reasons, in the order the steps apply.
REASON_NOT_LISTED = "not_in_catalogue"
REASON_CLASS_C = "class_c"
REASON_APPROVAL_REFUSED = "approval_refused"
REASON_RESTRICTED_UNAPPROVED = "restricted_unapproved"
REASON_LISTED = "listed"


def classify_line(line: FeeLine, item: CatalogueItem | None) -> LineResult:
    """Classify one fee line against the catalogue of the place of treatment.

    Negative (refund) lines are classified as the mirror image of the positive line, so a
    refund exactly undoes the original's split.
    """
    if line.amount < 0:
        mirror = classify_line(
            FeeLine(
                line.line_id,
                line.list_code,
                -line.amount,
                -line.quantity,
                line.unit_price,
                line.hosp_approval,
                line.hospital_code,
                line.refund_of,
            ),
            item,
        )
        return _negate(mirror, line)

    amount = line.amount
    if item is None:
        return _self_paid(line, REASON_NOT_LISTED, LEVEL_C, "14", None)
    if item.level == LEVEL_C:
        return _self_paid(line, REASON_CLASS_C, LEVEL_C, item.charge_type, item)
    # hosp_appr_flag (interface §4.5): restricted items need approval 1; any item with 2
    # is self-paid.
    if line.hosp_approval == "2":
        return _self_paid(line, REASON_APPROVAL_REFUSED, item.level, item.charge_type, item)
    if item.restricted and line.hosp_approval != "1":
        return _self_paid(line, REASON_RESTRICTED_UNAPPROVED, item.level, item.charge_type, item)

    # 超限价: the part of the line above cap × quantity. Computed from the line amount (not
    # from the unit price) so that an amount that disagrees with pric × cnt cannot hide an
    # over-cap charge in the in-policy part.
    overlmt = 0
    if item.price_cap is not None and line.quantity > 0:
        allowed = div_round(item.price_cap * line.quantity, _PRICE_QTY_TO_FEN)
        if amount > allowed:
            overlmt = amount - allowed
    base = amount - overlmt
    ratio = item.selfpay_ratio if item.level == LEVEL_B else 0
    preselfpay = apply_ratio(base, ratio) if ratio else 0
    # Positional construction: this runs once per fee line on the settlement hot path.
    return LineResult(
        line.line_id,
        amount,
        line.quantity,
        line.unit_price,
        item.price_cap,
        ratio,
        0,
        overlmt,
        preselfpay,
        base - preselfpay,
        item.level,
        item.charge_type,
        item.restricted,
        item.essential,
        item.negotiated,
        item.special,
        REASON_LISTED,
    )


def _self_paid(
    line: FeeLine, reason: str, level: str, charge_type: str, item: CatalogueItem | None
) -> LineResult:
    if item is None:
        return LineResult(
            line.line_id,
            line.amount,
            line.quantity,
            line.unit_price,
            None,
            RATIO_ONE,
            line.amount,
            0,
            0,
            0,
            level,
            charge_type,
            False,
            False,
            False,
            False,
            reason,
        )
    return LineResult(
        line.line_id,
        line.amount,
        line.quantity,
        line.unit_price,
        item.price_cap,
        RATIO_ONE,
        line.amount,
        0,
        0,
        0,
        level,
        charge_type,
        item.restricted,
        item.essential,
        item.negotiated,
        item.special,
        reason,
    )


def _negate(r: LineResult, line: FeeLine) -> LineResult:
    return LineResult(
        line_id=line.line_id,
        amount=line.amount,
        quantity=line.quantity,
        unit_price=line.unit_price,
        price_cap=r.price_cap,
        selfpay_ratio=r.selfpay_ratio,
        fulamt_ownpay=-r.fulamt_ownpay,
        overlmt=-r.overlmt,
        preselfpay=-r.preselfpay,
        inscp=-r.inscp,
        level=r.level,
        charge_type=r.charge_type,
        restricted=r.restricted,
        essential=r.essential,
        negotiated=r.negotiated,
        special=r.special,
        reason=r.reason,
    )


__all__ = [
    "LEVEL_A",
    "LEVEL_B",
    "LEVEL_C",
    "PRICE_SCALE",
    "QTY_SCALE",
    "Catalogue",
    "CatalogueItem",
    "FeeLine",
    "LineResult",
    "classify_line",
]
