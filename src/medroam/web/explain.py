"""The explanation of every fen of a stored settlement, in plain Chinese.

The stored settlement keeps its amounts (not the calculator's trace), so the explanation
walks the same steps from the amounts: the fee total splits into 全自费, 超限价自付,
乙类先行自付 and 政策范围内; the pooled fund pays (政策范围内 − 起付线) × 支付比例 (less
when a cap or quota limits it); the other funds follow; what remains is the person's
(account, then cash) or the hospital's. The last step checks that the parts add up to the
fee total to the fen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from medroam.store.tables import FeeLineRow, SettlementRow
from medroam.web.fmt import ratio, yuan

LINE_REASONS = {
    "not_in_catalogue": "不在就医地医保目录内，全部自费",
    "class_c": "丙类项目，全部自费",
    "approval_refused": "医院审批未通过，全部自费",
    "restricted_unapproved": "限制使用项目未经审批，全部自费",
}


@dataclass(frozen=True, slots=True)
class Step:
    title: str
    amount: int  # fen
    text: str


def _line_text(line: FeeLineRow) -> str | None:
    parts = []
    if line.fulamt_ownpay:
        parts.append(
            f"{LINE_REASONS.get(line.reason, '全部自费')}（{yuan(line.fulamt_ownpay)} 元）"
        )
    if line.overlmt:
        parts.append(f"单价超过目录限价，超出部分 {yuan(line.overlmt)} 元自付")
    if line.preselfpay:
        parts.append(f"乙类项目按 {ratio(line.selfpay_ratio)} 先行自付 {yuan(line.preselfpay)} 元")
    if not parts:
        return None
    return (
        f"费用明细 {line.feedetl_sn}（{line.med_list_codg}，{yuan(line.amount)} 元）："
        + "；".join(parts)
    )


def explain_settlement(s: SettlementRow, lines: Sequence[FeeLineRow] = ()) -> list[Step]:
    """Every amount of the settlement as a step with a sentence (amounts in fen)."""
    steps: list[Step] = []
    if s.refd_setl_flag:
        steps.append(
            Step(
                "撤销记录",
                s.medfee,
                f"本笔是结算 {s.reverses_setl_id} 的撤销记录：各项金额均为原结算的相反数，"
                "基金、个人账户和累计额度按原路退回。",
            )
        )
    steps.append(
        Step("医疗费用总额", s.medfee, f"本次就医发生的医疗费用合计 {yuan(s.medfee)} 元。")
    )
    out_of_policy = s.fulamt_ownpay + s.overlmt_selfpay + s.preselfpay
    steps.append(
        Step(
            "全自费",
            s.fulamt_ownpay,
            f"目录外、丙类或未经审批的项目 {yuan(s.fulamt_ownpay)} 元，基金不予支付。",
        )
    )
    steps.append(
        Step(
            "超限价自付",
            s.overlmt_selfpay,
            f"单价高于就医地目录限价的部分 {yuan(s.overlmt_selfpay)} 元，由个人负担。",
        )
    )
    steps.append(
        Step(
            "乙类先行自付",
            s.preselfpay,
            f"乙类项目按各自比例先行自付 {yuan(s.preselfpay)} 元。",
        )
    )
    steps.append(
        Step(
            "政策范围内费用",
            s.inscp,
            f"{yuan(s.medfee)} − {yuan(out_of_policy)}（以上三项）= {yuan(s.inscp)} 元，"
            "进入基金支付计算。",
        )
    )
    steps.append(
        Step(
            "起付线",
            s.deductible,
            f"本次实际扣除起付标准 {yuan(s.deductible)} 元（按参保地政策，由个人负担）。",
        )
    )
    base = max(s.inscp - s.deductible, 0) if s.medfee >= 0 else s.inscp - s.deductible
    uncapped_num = base * s.pool_ratio
    uncapped = (abs(uncapped_num) + 5000) // 10000 * (1 if uncapped_num >= 0 else -1)
    pool_text = (
        f"（{yuan(s.inscp)} − {yuan(s.deductible)}）× 统筹支付比例 {ratio(s.pool_ratio)}"
        f" = {yuan(uncapped)} 元"
    )
    if uncapped == s.pool:
        pool_text += "，由统筹基金支付。"
    else:
        pool_text += (
            f"；受年度最高支付限额（封顶线）或额度限制，统筹基金实际支付 {yuan(s.pool)} 元。"
        )
    steps.append(Step("统筹基金支付", s.pool, pool_text))
    for title, amount, text in (
        ("公务员医疗补助", s.civil_servant, "公务员医疗补助资金支付"),
        ("企业补充医疗保险", s.enterprise, "企业补充医疗保险支付"),
        ("大病保险", s.critical_illness, "城乡居民大病保险对剩余个人负担分段支付"),
        ("大额医疗费用补助", s.large_expense, "职工大额医疗费用补助支付"),
        ("医疗救助", s.assistance, "医疗救助基金支付"),
        ("其他基金", s.other, "其他基金支付"),
    ):
        if amount:
            steps.append(Step(title, amount, f"{text} {yuan(amount)} 元。"))
    steps.append(
        Step(
            "基金支付合计",
            s.fund_total,
            f"以上各项基金合计支付 {yuan(s.fund_total)} 元（由参保地基金承担，经清算划付）。",
        )
    )
    if s.hospital:
        steps.append(Step("医院负担", s.hospital, f"按协议由医疗机构负担 {yuan(s.hospital)} 元。"))
    steps.append(
        Step(
            "个人负担",
            s.personal,
            f"{yuan(s.medfee)} − {yuan(s.fund_total)} − {yuan(s.hospital)} = "
            f"{yuan(s.personal)} 元，由个人支付。",
        )
    )
    own = s.account - s.mutual_aid
    account_text = f"其中个人账户支付 {yuan(s.account)} 元"
    if s.mutual_aid:
        account_text += f"（本人账户 {yuan(own)} 元，家庭共济 {yuan(s.mutual_aid)} 元）"
    steps.append(Step("个人账户支付", s.account, account_text + "。"))
    steps.append(Step("个人现金支付", s.cash, f"其余 {yuan(s.cash)} 元以现金等方式支付。"))
    total = s.fund_total + s.hospital + s.account + s.cash
    check = "一致" if total == s.medfee else "不一致，请核查"
    steps.append(
        Step(
            "核对",
            total,
            f"基金 {yuan(s.fund_total)} + 医院 {yuan(s.hospital)} + 个人账户 {yuan(s.account)}"
            f" + 现金 {yuan(s.cash)} = {yuan(total)} 元，与医疗费用总额{check}，每一分钱均有去处。",
        )
    )
    for line in lines:
        note = _line_text(line)
        if note:
            steps.append(Step("明细说明", line.amount, note))
    return steps
