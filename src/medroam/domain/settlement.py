"""Inputs and result of one settlement (结算): person, visit, accounts, the result.

Field names are English; the interface's names are given in comments and mapped at the
gateway boundary (see docs/glossary.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

from medroam.domain.catalogue import LineResult
from medroam.domain.codes import AssistanceCategory, BenefitStatus, ServiceKind
from medroam.domain.money import Fen, Ratio


@dataclass(frozen=True, slots=True)
class Person:
    """The insured person as the place of insurance knows them (1101 baseinfo/insuinfo)."""

    psn_no: str  # psn_no 人员编号
    name: str  # psn_name
    cert_type: str  # psn_cert_type
    cert_no: str  # certno
    gender: str  # gend
    birth_date: date  # brdy
    insutype: str  # insutype 险种类型
    psn_type: str  # psn_type 人员类别
    insured_region: str  # insuplc_admdvs 参保地医保区划
    civil_servant: bool = False  # cvlserv_flag
    assistance: AssistanceCategory | None = None  # 医疗救助对象类别
    chronic_diseases: frozenset[str] = frozenset()  # qualified 门慢门特 disease codes (认定)

    def age_on(self, day: date) -> int:
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years


@dataclass(frozen=True, slots=True)
class AccountState:
    """Personal account (个人账户) balance and the family mutual-aid quota (共济额度)."""

    balance: Fen = 0
    mutual_aid_balance: Fen = 0


@dataclass(frozen=True, slots=True)
class Visit:
    """One visit or admission at the place of treatment, as far as benefits care."""

    visit_id: str  # mdtrt_id 就诊ID
    med_type: str  # med_type 医疗类别
    institution_code: str  # fixmedins_code
    institution_level: str  # InstitutionLevel value
    treatment_region: str  # mdtrtarea_admvs 就医地医保区划
    begin: date  # begntime (admission / visit date)
    settle_date: date  # setl_time date
    disease_code: str | None = None  # dise_codg (chronic disease)
    account_flag: str = "0"  # acct_used_flag: 0 none, 1 own account, 2 family mutual aid
    mid_settlement: bool = False  # mid_setl_flag 中途结算
    # State of this admission from earlier (mid-stay) settlements that still stand:
    admission_counted: bool = False
    deductible_applied: Fen = 0


class TraceEntry(NamedTuple):
    """One step of the explanation: which rule, with which parameters, gave which amount."""

    step: int  # the step of domain-rules §3.2 (1–12)
    rule: str  # a stable rule code, e.g. "pool.ratio"
    amount: Fen
    params: tuple[tuple[str, int | str], ...] = ()  # raw values; see domain.explain
    line_id: str | None = None


@dataclass(frozen=True, slots=True)
class FundDetail:
    """One setldetail row (结算基金分项)."""

    fund_pay_type: str
    inscp: Fen  # inscp_scp_amt considered by this fund
    limit: Fen  # crt_payb_lmt_amt: what this fund could still pay this time
    paid: Fen  # fund_payamt
    note: str = ""  # setl_proc_info


@dataclass(frozen=True, slots=True)
class Settlement:
    """The result of settling a visit: setlinfo amounts, setldetail rows, lines, deltas."""

    kind: ServiceKind
    status: BenefitStatus
    medfee: Fen  # medfee_sumamt
    fulamt_ownpay: Fen  # fulamt_ownpay_amt 全自费
    overlmt_selfpay: Fen  # overlmt_selfpay 超限价
    preselfpay: Fen  # preselfpay_amt 先行自付
    inscp: Fen  # inscp_scp_amt 符合政策范围
    deductible: Fen  # act_pay_dedc 实际支付起付线
    pool: Fen  # hifp_pay 统筹基金
    pool_ratio: Ratio  # pool_prop_selfpay (the pooled fund's payment ratio)
    civil_servant: Fen  # cvlserv_pay
    enterprise: Fen  # hifes_pay (enterprise supplementary; not modelled, always 0)
    critical_illness: Fen  # hifmi_pay 居民大病保险
    large_expense: Fen  # hifob_pay 职工大额补助
    assistance: Fen  # maf_pay 医疗救助
    other: Fen  # oth_pay
    fund_total: Fen  # fund_pay_sumamt
    personal: Fen  # psn_part_amt 个人负担
    account: Fen  # acct_pay (includes mutual aid)
    mutual_aid: Fen  # acct_mulaid_pay
    cash: Fen  # psn_cash_pay
    hospital: Fen  # hosp_part_amt
    balance_before: Fen
    balance_after: Fen  # balc
    mutual_aid_balance_after: Fen
    details: tuple[FundDetail, ...]
    lines: tuple[LineResult, ...]
    accumulator_delta: Mapping[str, int]
    trace: tuple[TraceEntry, ...]
    reversed_: bool = field(default=False)

    def identities(self) -> list[str]:
        """The interface's amount identities that do NOT hold (empty when all hold)."""
        broken: list[str] = []
        if self.medfee != self.fund_total + self.personal + self.hospital:
            broken.append("I1 medfee_sumamt = fund_pay_sumamt + psn_part_amt + hosp_part_amt")
        if self.personal != self.account + self.cash:
            broken.append("I2 psn_part_amt = acct_pay + psn_cash_pay")
        if abs(self.mutual_aid) > abs(self.account):
            broken.append("I3 acct_mulaid_pay ⊆ acct_pay")
        fund_sum = (
            self.pool
            + self.civil_servant
            + self.enterprise
            + self.critical_illness
            + self.large_expense
            + self.assistance
            + self.other
        )
        if self.fund_total != fund_sum:
            broken.append("I4 fund_pay_sumamt = Σ fund fields")
        if self.medfee != self.fulamt_ownpay + self.overlmt_selfpay + self.preselfpay + self.inscp:
            broken.append("I6 medfee_sumamt = fulamt + overlmt + preselfpay + inscp")
        return broken
