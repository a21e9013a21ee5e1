"""Account-only outpatient settlement and the rounding rule (issue 12 items 2 and 3).

Worked by hand from the synthetic factory policies (tests/factories.py); amounts in yuan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from medroam.domain import accumulators as acc
from medroam.domain.accumulators import Accumulators
from medroam.domain.calculator import settle
from medroam.domain.catalogue import FeeLine
from medroam.domain.codes import FUND_EMPLOYEE_ACCOUNT, BenefitStatus
from medroam.domain.money import MoneyError, RoundingMode, RoundingRule
from medroam.domain.policy import AccountPolicy, BenefitPolicy, LevelTerms
from medroam.domain.settlement import AccountState, Person, Settlement, Visit
from medroam.refdata.errors import ReferenceDataError
from medroam.refdata.policies import policy_from_dict, policy_to_dict
from tests.factories import (
    A_SERVICE,
    C_ITEM,
    L1,
    L3,
    employee_policy,
    fen,
    line,
    make_catalogue,
    pct,
    person,
    resident,
    resident_policy,
    visit,
    with_inpatient,
)

CAT = make_catalogue()


def _settle(
    lines: Sequence[FeeLine],
    v: Visit,
    p: Person,
    policy: BenefitPolicy,
    *,
    ytd: dict[str, int] | None = None,
    account: AccountState | None = None,
) -> Settlement:
    return settle(
        lines,
        v,
        p,
        BenefitStatus.LONG_TERM,
        policy,
        CAT,
        Accumulators(ytd or {}),
        account or AccountState(),
    )


# --- item 2: account-only outpatient settlement ------------------------------------------------


def test_no_outpatient_pooling_the_account_pays_the_personal_share() -> None:
    """Employee whose place of insurance has no general-outpatient pooling; account 300.00.

    Bill 甲 200.00 + 丙 50.00 = 250.00 (med_type 11, acct_used_flag 1)
    funds 0.00 (no pooling: no deductible, no ratio); personal share 250.00
    account = min(300.00, 250.00) = 250.00 (coverage personal_share); cash 0.00
    balance 300.00 → 50.00
    Before the fix the calculator refused the bill.
    """
    s = _settle(
        [line(A_SERVICE, "200"), line(C_ITEM, "50")],
        visit(med_type="11", account_flag="1"),
        person(),
        employee_policy(outpatient=None),
        account=AccountState(balance=fen(300)),
    )
    assert (s.medfee, s.inscp, s.fulamt_ownpay) == (fen(250), fen(200), fen(50))
    assert (s.deductible, s.pool, s.fund_total, s.pool_ratio) == (0, 0, 0, 0)
    assert (s.personal, s.account, s.mutual_aid, s.cash) == (fen(250), fen(250), 0, 0)
    assert s.balance_after == fen(50)
    assert [(d.fund_pay_type, d.paid) for d in s.details] == [(FUND_EMPLOYEE_ACCOUNT, fen(250))]
    assert s.identities() == []
    assert dict(s.accumulator_delta) == {
        acc.ACCOUNT_PAID: fen(250),
        acc.MEDFEE: fen(250),
        acc.INSCP: fen(200),
    }


def test_pharmacy_purchase_own_account_then_mutual_aid_fund_pays_nothing() -> None:
    """Pharmacy (med_type 41) where the policy does have outpatient pooling (deductible
    500, 60 %): the pool still pays 0. Civil servant (the subsidy pays 0 too).

    Bill 甲 400.00; acct_used_flag 2; own balance 100.00; mutual-aid quota 500.00
    own account = min(100, 400) = 100.00 (own first); mutual aid = min(500, 300) = 300.00
    acct_pay 400.00 (of which acct_mulaid_pay 300.00); cash 0.00
    """
    s = _settle(
        [line(A_SERVICE, "400")],
        visit(med_type="41", account_flag="2"),
        person(psn_type="1102", civil_servant=True),
        employee_policy(),
        account=AccountState(balance=fen(100), mutual_aid_balance=fen(500)),
    )
    assert (s.pool, s.civil_servant, s.fund_total) == (0, 0, 0)
    assert (s.personal, s.account, s.mutual_aid, s.cash) == (fen(400), fen(400), fen(300), 0)
    assert (s.balance_after, s.mutual_aid_balance_after) == (0, fen(200))
    assert acc.OP_DEDUCTIBLE not in s.accumulator_delta
    assert acc.OP_FUND not in s.accumulator_delta
    assert s.identities() == []


def test_pharmacy_resident_without_account_pays_cash() -> None:
    """Resident (no personal account, account.enabled false), pharmacy 甲 400.00,
    acct_used_flag 1: the funds pay 0, the account 0 → cash 400.00."""
    s = _settle(
        [line(A_SERVICE, "400")],
        visit(med_type="41", account_flag="1"),
        resident(),
        resident_policy(account=AccountPolicy(enabled=False)),
        account=AccountState(balance=fen(999)),
    )
    assert (s.fund_total, s.account, s.cash) == (0, 0, fen(400))
    assert s.balance_after == fen(999)


def test_general_outpatient_with_pooling_is_unchanged() -> None:
    """med_type 11 with pooling: 甲 800.00, deductible 500.00, 60 % → pool 180.00."""
    s = _settle([line(A_SERVICE, "800")], visit(med_type="11"), person(), employee_policy())
    assert (s.deductible, s.pool, s.cash) == (fen(500), fen(180), fen(620))


# --- item 3: one rounding per computed amount ---------------------------------------------------

# Employee, tertiary 1,200 / 80 %, cap 300,000 of which 294,900.02 paid: 5,099.98 remain.
_CAP_POLICY = with_inpatient(employee_policy(), levels={L3: LevelTerms(fen(1_200), pct(80))})
_CAP_YTD = {acc.POOL_FUND: fen("294900.02"), acc.IP_ADMISSIONS: 1}


def test_large_expense_basis_is_rounded_once_not_at_the_cap_point() -> None:
    """Bill 甲 20,000.00; deductible 1,200.00; eligible 18,800.00
    uncapped pool = 18,800 × 80 % = 15,040.00 > 5,099.98 remaining → pool 5,099.98
    cap point     = 5,099.98 ÷ 80 % = 6,374.975 (exact, not rounded)
    over-cap basis = 18,800 − 6,374.975 = 12,425.025 → 12,425.03 (one rounding, half up)
    大额 (hifob)   = 12,425.03 × 90 % = 11,182.527 → 11,182.53
    fund total     = 5,099.98 + 11,182.53 = 16,282.51; personal = cash = 3,717.49
    (Rounding the cap point first gave 6,374.98, a basis of 12,425.02 and 大额 11,182.52.)
    """
    s = _settle([line(A_SERVICE, "20000")], visit(), person(), _CAP_POLICY, ytd=_CAP_YTD)
    assert s.pool == fen("5099.98")
    assert s.accumulator_delta[acc.layer_basis_key("hifob")] == fen("12425.03")
    assert s.large_expense == fen("11182.53")
    assert (s.fund_total, s.cash) == (fen("16282.51"), fen("3717.49"))
    assert s.identities() == []


def test_rounding_rule_is_a_policy_parameter_for_the_large_expense_basis() -> None:
    """The same case with ``rounding.mode = down``: basis 12,425.025 → 12,425.02;
    大额 = 12,425.02 × 90 % = 11,182.518 → 11,182.51."""
    policy = replace(_CAP_POLICY, rounding=RoundingRule(mode=RoundingMode.DOWN))
    s = _settle([line(A_SERVICE, "20000")], visit(), person(), policy, ytd=_CAP_YTD)
    assert s.accumulator_delta[acc.layer_basis_key("hifob")] == fen("12425.02")
    assert s.large_expense == fen("11182.51")
    assert s.identities() == []


@pytest.mark.parametrize(
    ("rule", "pool"),
    [
        (RoundingRule(), "360.05"),  # default: 0.01 yuan, half away from zero
        (RoundingRule(mode=RoundingMode.HALF_EVEN), "360.04"),
        (RoundingRule(mode=RoundingMode.DOWN), "360.04"),
        (RoundingRule(step=10), "360.00"),  # 0.1 yuan
        (RoundingRule(step=100), "360.00"),  # 1 yuan
    ],
)
def test_rounding_rule_swaps(rule: RoundingRule, pool: str) -> None:
    """Primary hospital 300 / 90 %: bill 甲 700.05, eligible 400.05,
    pool = 400.05 × 90 % = 360.045 exactly, then rounded by the policy's rule."""
    policy = replace(employee_policy(), rounding=rule)
    s = _settle([line(A_SERVICE, "700.05")], visit(institution_level=L1), person(), policy)
    assert s.pool == fen(pool)
    assert s.cash == fen("700.05") - fen(pool)


def test_rounding_rule_arithmetic_and_bounds() -> None:
    assert RoundingRule().div(-5, 2) == -3  # half away from zero, also below zero
    assert RoundingRule(mode=RoundingMode.HALF_EVEN).div(7, 2) == 4
    assert RoundingRule(step=10).div(-150, 10) == -20
    with pytest.raises(MoneyError, match="step"):
        RoundingRule(step=5)


def test_policy_files_carry_the_rounding_rule() -> None:
    data = policy_to_dict(employee_policy())
    assert "rounding" not in data  # the default is not written
    data["rounding"] = {"step": "0.1", "mode": "half_even"}
    policy = policy_from_dict(data)
    assert policy.rounding == RoundingRule(10, RoundingMode.HALF_EVEN)
    assert policy_to_dict(policy)["rounding"] == {"step": "0.1", "mode": "half_even"}
    data["rounding"] = {"step": "0.05"}
    with pytest.raises(ReferenceDataError, match=r"rounding\.step"):
        policy_from_dict(data)
