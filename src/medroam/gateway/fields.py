"""Domain values → the interface's field names (setlinfo, setldetail, result rows).

This is the one place where the pinyin field names of the national interface meet the
English names of the domain (docs/glossary.md lists both).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from medroam.domain.catalogue import PRICE_SCALE, QTY_SCALE, LineResult
from medroam.domain.codes import AssistanceCategory
from medroam.domain.money import fen_to_yuan, ratio_to_decimal
from medroam.domain.settlement import FundDetail, Settlement

# China keeps one time zone without daylight saving (UTC+8).
CHINA_TZ = timezone(timedelta(hours=8), "CST")
_QTY = Decimal(1).scaleb(-4)
_PRICE = Decimal(1).scaleb(-6)

FUND_NAMES: dict[str, str] = {
    "310100": "职工基本医疗保险统筹基金",
    "310102": "职工门诊统筹",
    "310200": "职工个人账户基金",
    "320100": "公务员医疗补助",
    "330100": "大额医疗费用补助",
    "390100": "城乡居民基本医疗保险基金",
    "390102": "居民门诊统筹",
    "390200": "城乡居民大病医疗保险",
    "610100": "医疗救助",
}


# 1101 idetinfo psn_idet_type (人员身份类别) of each 医疗救助 category: medroam's own
# codes, listed in code_tables.json (served by 1901) and docs/glossary.md.
PSN_IDET_TYPES: dict[AssistanceCategory, str] = {
    AssistanceCategory.EXTREME_POVERTY: "2301",  # 特困人员
    AssistanceCategory.MINIMUM_LIVING: "2302",  # 低保对象
    AssistanceCategory.NEAR_MINIMUM: "2303",  # 低保边缘家庭成员
    AssistanceCategory.RELAPSE_POVERTY: "2304",  # 返贫致贫人口
}


def _amt(fen: int) -> Decimal:
    return fen_to_yuan(fen)


def setlinfo_amounts(s: Settlement) -> dict[str, Any]:
    """The amount fields of setlinfo, in the interface's order."""
    return {
        "medfee_sumamt": _amt(s.medfee),
        "fulamt_ownpay_amt": _amt(s.fulamt_ownpay),
        "overlmt_selfpay": _amt(s.overlmt_selfpay),
        "preselfpay_amt": _amt(s.preselfpay),
        "inscp_scp_amt": _amt(s.inscp),
        "act_pay_dedc": _amt(s.deductible),
        "hifp_pay": _amt(s.pool),
        "pool_prop_selfpay": ratio_to_decimal(s.pool_ratio),
        "cvlserv_pay": _amt(s.civil_servant),
        "hifes_pay": _amt(s.enterprise),
        "hifmi_pay": _amt(s.critical_illness),
        "hifob_pay": _amt(s.large_expense),
        "maf_pay": _amt(s.assistance),
        "oth_pay": _amt(s.other),
        "fund_pay_sumamt": _amt(s.fund_total),
        "psn_part_amt": _amt(s.personal),
        "acct_pay": _amt(s.account),
        "psn_cash_pay": _amt(s.cash),
        "hosp_part_amt": _amt(s.hospital),
        "balc": _amt(s.balance_after),
        "acct_mulaid_pay": _amt(s.mutual_aid),
    }


def setldetail_row(d: FundDetail) -> dict[str, Any]:
    return {
        "fund_pay_type": d.fund_pay_type,
        "inscp_scp_amt": _amt(d.inscp),
        "crt_payb_lmt_amt": _amt(d.limit),
        "fund_payamt": _amt(d.paid),
        "fund_pay_type_name": FUND_NAMES.get(d.fund_pay_type, ""),
        "setl_proc_info": d.note,
    }


def line_result_row(r: LineResult) -> dict[str, Any]:
    """One 2204/2301 ``result`` row."""
    return {
        "feedetl_sn": r.line_id,
        "det_item_fee_sumamt": _amt(r.amount),
        "cnt": (Decimal(r.quantity) / QTY_SCALE).quantize(_QTY),
        "pric": (Decimal(r.unit_price) / PRICE_SCALE).quantize(_PRICE),
        "pric_uplmt_amt": (
            (Decimal(r.price_cap) / PRICE_SCALE).quantize(_PRICE)
            if r.price_cap is not None
            else Decimal("0.000000")
        ),
        "selfpay_prop": ratio_to_decimal(r.selfpay_ratio),
        "fulamt_ownpay_amt": _amt(r.fulamt_ownpay),
        "overlmt_amt": _amt(r.overlmt),
        "preselfpay_amt": _amt(r.preselfpay),
        "inscp_scp_amt": _amt(r.inscp),
        "chrgitm_lv": r.level,
        "med_chrgitm_type": r.charge_type,
        "bas_medn_flag": "1" if r.essential else "0",
        "hi_nego_drug_flag": "1" if r.negotiated else "0",
        "chld_medc_flag": "0",
        "list_sp_item_flag": "1" if r.special else "0",
        "lmt_used_flag": "1" if r.restricted else "0",
        "drt_reim_flag": "0",
        "memo": "" if r.reason == "listed" else r.reason,
    }


# --- settlement transactions (2206–2208, 2303–2305, 5203, 1101, 2001, 5206) ---------------

FUND_NAMES.update(
    {
        "310101": "职工统筹基金（预付金）",
        "310103": "职工生育",
        "310300": "职工大病补助",
        "330100": "大额医疗费用补助",
        "370100": "企业补充医疗保险",
        "390101": "居民基本医疗保险基金（预付金）",
        "390300": "大病补充",
        "510100": "生育基金",
        "999997": "其他基金",
    }
)
_AGE = Decimal("0.1")


def amount(fen: int) -> Decimal:
    """Fen as an interface amount (N(16,2))."""
    return fen_to_yuan(fen)


def ratio(value: int) -> Decimal:
    """Ten-thousandths as an interface ratio (N(5,4))."""
    return ratio_to_decimal(value)


def age_value(years: int) -> Decimal:
    """An age as N(4,1)."""
    return Decimal(years).quantize(_AGE)


def local_time(moment: datetime) -> str:
    """A platform timestamp as ``yyyy-MM-dd HH:mm:ss`` in China Standard Time."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(CHINA_TZ)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def day_text(day: date | None) -> str:
    return "" if day is None else day.isoformat()


def reverse_setlinfo_amounts(s: Settlement) -> dict[str, Any]:
    """The amounts of a reverse setlinfo (2208/2305): negated, with the cash field under
    both the documented ``pdn_cash_pay`` and the usual ``psn_cash_pay``."""
    out = setlinfo_amounts(s)
    out["pdn_cash_pay"] = out["psn_cash_pay"]
    out["hifdm_pay"] = amount(0)
    return out
