"""Fund lines (基金线): how clearing groups the ``fund_pay_type`` codes.

Each fund of a pooling region is cleared as its own line so that a statement shows, for
example, how much of a month's cross-province money was 大病保险 and how much 医疗救助
(the 2025 three-year plan lets regions speed up clearing of exactly these two).
Personal-account money is cleared too (the hospital was not paid it in cash), and the
family mutual-aid part of it (``acct_mulaid_pay``, 个人账户共济) is its own line, cleared
monthly in full (domain-rules §5.6). Every other ``setldetail`` fund row is cleared as
posted by the settlement journal (codes without a line of their own, 医院垫付 999900 /
999996 included, fall in ``other``), so that clearing extinguishes exactly the
inter-region payables and receivables the settlements created.
"""

from __future__ import annotations

from enum import StrEnum


class FundLine(StrEnum):
    BASIC = "basic"  # 基本医疗保险统筹基金 (职工/居民, incl. 门诊统筹)
    CIVIL_SERVANT = "civil_servant"  # 公务员医疗补助
    LARGE_EXPENSE = "large_expense"  # 职工大额医疗费用补助
    CRITICAL = "critical"  # 大病保险 (居民大病, 职工大病补助, 大病补充)
    ASSISTANCE = "assistance"  # 医疗救助
    OTHER = "other"  # other funds (企业补充, 离休, 伤残, 其他)
    ACCOUNT = "account"  # 个人账户 (the holder's own account)
    MUTUAL_AID = "mutual_aid"  # 个人账户共济 (a relative's account)


FUND_LINE_LABELS: dict[FundLine, str] = {
    FundLine.BASIC: "基本医疗保险统筹基金",
    FundLine.CIVIL_SERVANT: "公务员医疗补助",
    FundLine.LARGE_EXPENSE: "大额医疗费用补助",
    FundLine.CRITICAL: "大病保险",
    FundLine.ASSISTANCE: "医疗救助",
    FundLine.OTHER: "其他基金",
    FundLine.ACCOUNT: "个人账户",
    FundLine.MUTUAL_AID: "个人账户共济",
}

# The fund lines that are "fund payments" (fund_pay_sumamt): everything but accounts.
FUND_PAYMENT_LINES = frozenset(
    {
        FundLine.BASIC,
        FundLine.CIVIL_SERVANT,
        FundLine.LARGE_EXPENSE,
        FundLine.CRITICAL,
        FundLine.ASSISTANCE,
        FundLine.OTHER,
    }
)
ACCOUNT_LINES = frozenset({FundLine.ACCOUNT, FundLine.MUTUAL_AID})

# A pseudo fund_pay_type for the mutual-aid part of acct_pay in clearing lines (the
# interface has no separate code: acct_mulaid_pay is a setlinfo field).
MUTUAL_AID_FUND_PAY_TYPE = "310200MA"

# fund_pay_type → fund line: exact codes first, then the longest prefix, else OTHER.
EXACT: dict[str, FundLine] = {
    "310200": FundLine.ACCOUNT,
    MUTUAL_AID_FUND_PAY_TYPE: FundLine.MUTUAL_AID,
    "320100": FundLine.CIVIL_SERVANT,
    "330100": FundLine.LARGE_EXPENSE,
    "310300": FundLine.CRITICAL,
    "390200": FundLine.CRITICAL,
    "390300": FundLine.CRITICAL,
}
PREFIXES: tuple[tuple[str, FundLine], ...] = (
    ("3101", FundLine.BASIC),
    ("3901", FundLine.BASIC),
    ("610", FundLine.ASSISTANCE),
)


def fund_line_of(fund_pay_type: str) -> FundLine:
    """The fund line of a ``fund_pay_type``."""
    line = EXACT.get(fund_pay_type)
    if line is not None:
        return line
    for prefix, prefixed in sorted(PREFIXES, key=lambda p: -len(p[0])):
        if fund_pay_type.startswith(prefix):
            return prefixed
    return FundLine.OTHER
