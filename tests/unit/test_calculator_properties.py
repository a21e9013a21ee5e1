"""Property tests of the calculator over random bills, persons, statuses and states.

Bills have 1–40 lines over the factory catalogue (every class, capped prices, restricted
items with any approval flag, unlisted codes), line amounts up to 500,000.00, and refund
lines that each return part of one earlier line (same code, same unit price, at most its
quantity), so no component of the bill can go negative. Persons are employees or
residents, retired or not, of any age, with or without an assistance category, civil
servants or not. Year-to-date accumulators range from empty to beyond every cap.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from medroam.domain import accumulators as acc
from medroam.domain.accumulators import Accumulators
from medroam.domain.calculator import reverse, settle
from medroam.domain.catalogue import PRICE_SCALE, QTY_SCALE, FeeLine
from medroam.domain.codes import (
    INSUTYPE_EMPLOYEE,
    AssistanceCategory,
    BenefitStatus,
    InstitutionLevel,
    ServiceKind,
)
from medroam.domain.policy import (
    AccountCoverage,
    BenefitPolicy,
    ChronicMode,
    LayerFund,
    MutualAidOrder,
    QuotaPeriod,
    TempBase,
    TierBounds,
)
from medroam.domain.settlement import AccountState, Person, Settlement, Visit
from tests.factories import (
    A_CAPPED,
    A_DIALYSIS,
    A_SERVICE,
    B_CAPPED,
    B_DRUG,
    B_RESTRICTED,
    B_SERVICE,
    C_ITEM,
    L1,
    L2,
    L3,
    UNLISTED,
    employee_policy,
    fen,
    make_catalogue,
    person,
    resident,
    resident_policy,
    visit,
)

CAT = make_catalogue()
CODES = [A_SERVICE, A_DIALYSIS, A_CAPPED, B_DRUG, B_SERVICE, B_CAPPED, B_RESTRICTED, C_ITEM]
MAX_LINE = fen(500_000)
_FEN_TO_MICRO = PRICE_SCALE // 100

AMOUNT_FIELDS = (
    "medfee",
    "fulamt_ownpay",
    "overlmt_selfpay",
    "preselfpay",
    "inscp",
    "deductible",
    "pool",
    "civil_servant",
    "enterprise",
    "critical_illness",
    "large_expense",
    "assistance",
    "other",
    "fund_total",
    "personal",
    "account",
    "mutual_aid",
    "cash",
    "hospital",
)
FUND_FIELDS = (
    "pool",
    "civil_servant",
    "enterprise",
    "critical_illness",
    "large_expense",
    "assistance",
    "other",
)


@dataclass(frozen=True)
class Case:
    lines: list[FeeLine]
    visit: Visit
    person: Person
    status: BenefitStatus
    policy: BenefitPolicy
    ytd: Accumulators
    account: AccountState

    def settle(self, lines: list[FeeLine] | None = None) -> Settlement:
        return settle(
            self.lines if lines is None else lines,
            self.visit,
            self.person,
            self.status,
            self.policy,
            CAT,
            self.ytd,
            self.account,
        )


# --- strategies ------------------------------------------------------------------------

yuan = st.one_of(st.integers(0, fen(5_000)), st.integers(0, fen(400_000)))


@st.composite
def bills(draw: st.DrawFn) -> list[FeeLine]:
    n = draw(st.integers(1, 40))
    lines: list[FeeLine] = []
    for i in range(n):
        code = draw(st.sampled_from([*CODES, UNLISTED]))
        units = draw(st.integers(1, 10))
        price = draw(st.integers(1, MAX_LINE // units))  # fen per unit; amount ≤ 500,000.00
        approval = draw(st.sampled_from(["0", "0", "1", "2"]))
        lid = f"L{i:03d}"
        lines.append(
            FeeLine(
                lid,
                code,
                price * units,
                units * QTY_SCALE,
                price * _FEN_TO_MICRO,
                approval,
            )
        )
        if draw(st.integers(0, 4)) == 0:  # about one line in five is partly refunded
            back = draw(st.integers(1, units))
            lines.append(
                FeeLine(
                    f"{lid}R",
                    code,
                    -price * back,
                    -back * QTY_SCALE,
                    price * _FEN_TO_MICRO,
                    approval,
                    refund_of=lid,
                )
            )
    return lines


EMPLOYEE_TYPES = ["1101", "1102", "1103", "1201", "1202", "1203", "1300"]
RESIDENT_TYPES = ["1401", "1402", "1403", "1404", "1405", "1501"]
MED_TYPES = ["11", "13", "14", "21", "22", "24", "28", "52", "140101"]


@st.composite
def policies(draw: st.DrawFn, employee: bool) -> BenefitPolicy:
    """The factory policy, with some of the open parameters varied."""
    policy = employee_policy() if employee else resident_policy()
    ip = replace(
        policy.inpatient,
        later_admission_factor=draw(st.sampled_from([10_000, 5_000, 0])),
        deductible_free_from=draw(st.sampled_from([None, None, 3])),
    )
    layers = tuple(
        replace(layer, tier_bounds=draw(st.sampled_from(list(TierBounds))))
        for layer in policy.layers
    )
    assert policy.chronic is not None
    chronic = replace(
        policy.chronic,
        mode=draw(st.sampled_from(list(ChronicMode))),
        shares_inpatient_cap=draw(st.booleans()),
    )
    filing = replace(policy.filing, temp_base=draw(st.sampled_from(list(TempBase))))
    account = replace(
        policy.account,
        coverage=draw(st.sampled_from(list(AccountCoverage))),
        mutual_aid_order=draw(st.sampled_from(list(MutualAidOrder))),
    )
    cs = policy.civil_servant
    if cs is not None:
        cs = replace(cs, covers_deductible=draw(st.booleans()))
    return replace(
        policy,
        inpatient=ip,
        layers=layers,
        chronic=chronic,
        filing=filing,
        account=account,
        civil_servant=cs,
    )


def _ytd(draw: st.DrawFn, policy: BenefitPolicy, v: Visit) -> Accumulators:
    def upto(limit_yuan: int) -> int:
        return draw(st.one_of(st.just(0), st.integers(0, fen(limit_yuan))))

    values: dict[str, int] = {
        acc.IP_ADMISSIONS: draw(st.integers(0, 5)),
        acc.POOL_FUND: upto(310_000),
        acc.OP_DEDUCTIBLE: upto(600),
        acc.OP_FUND: upto(3_500),
        acc.CIVIL_SERVANT_PAID: upto(110_000),
        acc.ASSISTANCE_BASIS: upto(60_000),
        acc.ASSISTANCE_PAID: upto(110_000),
    }
    for fund in ("hifmi", "hifob"):
        values[acc.layer_basis_key(fund)] = upto(400_000)
        values[acc.layer_paid_key(fund)] = upto(310_000)
    assert policy.chronic is not None
    for code, terms in policy.chronic.diseases.items():
        monthly = terms.quota_period is QuotaPeriod.MONTH
        values[acc.chronic_quota_key(code, v.settle_date, monthly)] = upto(7_000)
        values[acc.chronic_deductible_key(code)] = upto(400)
    return Accumulators(values)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    employee = draw(st.booleans())
    policy = draw(policies(employee))
    assert policy.chronic is not None
    diseases = sorted(policy.chronic.diseases)
    begin = date(2025, 1, 1) + timedelta(days=draw(st.integers(0, 360)))
    settle_day = begin + timedelta(days=draw(st.integers(0, 30)))
    med_type = draw(st.sampled_from(MED_TYPES))
    disease = draw(st.sampled_from(diseases)) if med_type.startswith("14") else None
    v = visit(
        med_type=med_type,
        institution_level=draw(st.sampled_from([L1, L2, L3, InstitutionLevel.UNRATED.value])),
        begin=begin,
        settle_date=settle_day,
        disease_code=disease,
        account_flag=draw(st.sampled_from(["0", "1", "2"])),
        mid_settlement=draw(st.booleans()),
        admission_counted=draw(st.booleans()),
        deductible_applied=draw(st.one_of(st.just(0), st.integers(0, fen(1_500)))),
    )
    qualified = frozenset(draw(st.sets(st.sampled_from(diseases))))
    if disease is not None:
        qualified |= {disease}
    over: dict[str, Any] = {
        "birth_date": date(1925, 1, 1) + timedelta(days=draw(st.integers(0, 36_500))),
        "assistance": draw(st.one_of(st.none(), st.sampled_from(list(AssistanceCategory)))),
        "chronic_diseases": qualified,
    }
    if employee:
        psn_type = draw(st.sampled_from(EMPLOYEE_TYPES))
        p = person(psn_type=psn_type, civil_servant=psn_type in ("1102", "1202"), **over)
    else:
        p = resident(psn_type=draw(st.sampled_from(RESIDENT_TYPES)), **over)
    account = AccountState(
        balance=draw(st.one_of(st.just(0), st.integers(0, fen(100_000)))),
        mutual_aid_balance=draw(st.one_of(st.just(0), st.integers(0, fen(50_000)))),
    )
    return Case(
        lines=draw(bills()),
        visit=v,
        person=p,
        status=draw(st.sampled_from(list(BenefitStatus))),
        policy=policy,
        ytd=_ytd(draw, policy, v),
        account=account,
    )


def _remaining(cap: int | None, used: int) -> int | None:
    return None if cap is None else max(0, cap - used)


def _le(amount: int, limit: int | None) -> bool:
    return limit is None or amount <= limit


# --- properties ------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(cases())
def test_identities_and_signs(case: Case) -> None:
    s = case.settle()
    assert s.identities() == []
    for f in FUND_FIELDS:
        assert getattr(s, f) >= 0, f
    assert s.fund_total >= 0
    assert s.personal >= 0
    assert s.cash >= 0
    assert 0 <= s.mutual_aid <= s.account
    assert s.account <= case.account.balance + case.account.mutual_aid_balance
    assert s.account - s.mutual_aid <= case.account.balance
    assert s.mutual_aid <= case.account.mutual_aid_balance
    assert s.balance_after == case.account.balance - (s.account - s.mutual_aid) >= 0
    assert s.mutual_aid_balance_after == case.account.mutual_aid_balance - s.mutual_aid >= 0
    assert 0 <= s.deductible <= s.inscp
    assert s.hospital == 0 and s.enterprise == 0 and s.other == 0
    if case.visit.account_flag == "0":
        assert s.account == 0
    if case.visit.account_flag == "1":
        assert s.mutual_aid == 0
    # the line split adds up to the totals (I6 per line and in sum)
    for r in s.lines:
        assert r.amount == r.fulamt_ownpay + r.overlmt + r.preselfpay + r.inscp
    assert s.medfee == sum(line.amount for line in case.lines)


@settings(max_examples=200, deadline=None)
@given(cases(), st.integers(1, fen(500_000)))
def test_one_more_class_a_line_never_lowers_the_funds(case: Case, extra: int) -> None:
    before = case.settle()
    more = FeeLine("EXTRA", A_SERVICE, extra, QTY_SCALE, extra * _FEN_TO_MICRO)
    after = case.settle([*case.lines, more])
    assert after.pool >= before.pool
    assert after.fund_total >= before.fund_total


@settings(max_examples=200, deadline=None)
@given(cases())
def test_caps(case: Case) -> None:
    s = case.settle()
    policy, ytd = case.policy, case.ytd
    kind = s.kind
    if kind is ServiceKind.INPATIENT:
        assert _le(s.pool, _remaining(policy.inpatient.annual_cap, ytd[acc.POOL_FUND]))
    elif kind is ServiceKind.OUTPATIENT:
        assert policy.outpatient is not None
        assert _le(s.pool, _remaining(policy.outpatient.annual_cap, ytd[acc.OP_FUND]))
    else:
        assert policy.chronic is not None and case.visit.disease_code is not None
        terms = policy.chronic.diseases[case.visit.disease_code]
        if terms.quota is not None:
            monthly = terms.quota_period is QuotaPeriod.MONTH
            key = acc.chronic_quota_key(terms.disease_code, case.visit.settle_date, monthly)
            assert s.pool <= max(0, terms.quota - ytd[key])
        if policy.chronic.shares_inpatient_cap:
            assert _le(s.pool, _remaining(policy.inpatient.annual_cap, ytd[acc.POOL_FUND]))
    for layer in policy.layers:
        paid = s.critical_illness if layer.fund is LayerFund.CRITICAL_ILLNESS else s.large_expense
        assert _le(paid, _remaining(layer.annual_cap, ytd[acc.layer_paid_key(layer.fund.value)]))
    if policy.civil_servant is not None:
        cap = _remaining(policy.civil_servant.annual_cap, ytd[acc.CIVIL_SERVANT_PAID])
        assert _le(s.civil_servant, cap)
    else:
        assert s.civil_servant == 0
    if policy.assistance is not None and case.person.assistance is not None:
        terms_a = policy.assistance.categories[case.person.assistance]
        assert _le(s.assistance, _remaining(terms_a.annual_cap, ytd[acc.ASSISTANCE_PAID]))
    else:
        assert s.assistance == 0
    if case.person.insutype == INSUTYPE_EMPLOYEE:
        assert s.critical_illness == 0
    else:
        assert s.large_expense == 0


@settings(max_examples=200, deadline=None)
@given(cases())
def test_settle_then_reverse_restores_state(case: Case) -> None:
    s = case.settle()
    d = s.accumulator_delta
    ytd = case.ytd
    assert ytd.apply(d).apply(d, -1) == ytd
    now = AccountState(s.balance_after, s.mutual_aid_balance_after)
    r = reverse(s, now)
    assert ytd.apply(d).apply(r.accumulator_delta) == ytd
    assert r.balance_before == s.balance_after
    assert r.balance_after == case.account.balance
    assert r.mutual_aid_balance_after == case.account.mutual_aid_balance


@settings(max_examples=200, deadline=None)
@given(cases())
def test_reverse_amounts_are_exact_negatives(case: Case) -> None:
    s = case.settle()
    r = reverse(s, AccountState(s.balance_after, s.mutual_aid_balance_after))
    for f in AMOUNT_FIELDS:
        assert getattr(r, f) == -getattr(s, f), f
    assert r.identities() == []
    assert r.pool_ratio == s.pool_ratio
    assert [(d.fund_pay_type, d.inscp, d.paid) for d in r.details] == [
        (d.fund_pay_type, -d.inscp, -d.paid) for d in s.details
    ]
    assert dict(r.accumulator_delta) == {k: -v for k, v in s.accumulator_delta.items()}
    assert r.reversed_ and not s.reversed_
