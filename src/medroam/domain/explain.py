"""The trace of a settlement as readable text (the explanation of benefits).

A settlement's trace holds raw values (fen, ratios in ten-thousandths, counts, codes);
this module turns each entry into one line that names the rule, the parameters and the
amount, in English with the Chinese term.
"""

from __future__ import annotations

from medroam.domain.catalogue import LineResult
from medroam.domain.money import format_yuan
from medroam.domain.settlement import Settlement, TraceEntry

_RATIO_KEYS = frozenset({"ratio", "base", "bonus", "reduction"})
_COUNT_KEYS = frozenset({"admission"})

RULES: dict[str, str] = {
    "total.fulamt_ownpay": "全自费 fully self-paid lines (unlisted, 丙类, unapproved)",
    "total.overlmt_selfpay": "超限价自付 part of unit prices above the catalogue's price cap",
    "total.preselfpay": "乙类先行自付 class-B first self-pay at each item's ratio",
    "total.inscp": "政策范围内费用 in-policy amount = total − the three above",
    "outpatient.account_only": "个人账户结算 account-only outpatient care: the funds pay 0",
    "deductible.admission": "起付线 deductible of this admission (place of insurance, by level)",
    "deductible.outpatient_year": "门诊统筹起付线 annual outpatient deductible, remaining part",
    "deductible.chronic_year": "慢特病起付线 annual chronic-disease deductible, remaining part",
    "pool.ratio": "统筹支付比例 pooled-fund ratio = base + bonuses − filing reduction",
    "pool.uncapped": "统筹基金 (in-policy − deductible) × ratio",
    "pool.capped": "封顶线 limited by what remains of the annual cap / quota",
    "layer.hifmi": "居民大病保险 critical-illness layer on the remaining burden (tiered)",
    "layer.hifob": "职工大额医疗费用补助 large-expense layer",
    "civil_servant": "公务员医疗补助 civil-servant subsidy",
    "assistance": "医疗救助 medical assistance above its threshold",
    "fund.total": "基金支付总额 total fund payment",
    "account": "个人账户 / 共济 personal account, then family mutual aid",
    "cash": "个人现金 cash paid by the patient",
    "reverse": "撤销 reversal of an earlier settlement (exact negative)",
}

_LINE_REASONS: dict[str, str] = {
    "not_in_catalogue": "not in the catalogue → 全自费",
    "class_c": "丙类 → 全自费",
    "approval_refused": "hospital approval refused (hosp_appr_flag 2) → 全自费",
    "restricted_unapproved": "restricted item (限制使用) without approval → 全自费",
    "listed": "listed",
}


def _value(key: str, value: int | str) -> str:
    if isinstance(value, str):
        return value
    if key in _RATIO_KEYS:
        whole, frac = divmod(value, 100)
        return f"{whole}.{frac:02d}%" if frac else f"{whole}%"
    if key in _COUNT_KEYS:
        return str(value)
    return format_yuan(value)


def explain_entry(entry: TraceEntry) -> str:
    text = RULES.get(entry.rule, entry.rule)
    params = ", ".join(f"{k}={_value(k, v)}" for k, v in entry.params)
    amount = "" if entry.rule == "pool.ratio" else f" = {format_yuan(entry.amount)}"
    where = f" [line {entry.line_id}]" if entry.line_id else ""
    return f"step {entry.step:>2}: {text}{amount}{' (' + params + ')' if params else ''}{where}"


def explain_line(r: LineResult) -> str:
    parts = [f"line {r.line_id}: {format_yuan(r.amount)}", _LINE_REASONS.get(r.reason, r.reason)]
    if r.overlmt:
        parts.append(f"over price cap {format_yuan(r.overlmt)}")
    if r.preselfpay:
        parts.append(f"乙类 first self-pay {format_yuan(r.preselfpay)}")
    parts.append(f"in-policy {format_yuan(r.inscp)}")
    return "; ".join(parts)


def explain(settlement: Settlement, *, lines: bool = True) -> list[str]:
    """Every amount of the settlement, explained: lines first, then steps 1–12."""
    out: list[str] = []
    if lines:
        out.extend(
            explain_line(r)
            for r in settlement.lines
            if r.reason != "listed" or r.overlmt or r.preselfpay
        )
    out.extend(explain_entry(e) for e in settlement.trace)
    return out
