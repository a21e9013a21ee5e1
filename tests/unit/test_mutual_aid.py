"""Personal-account mutual aid across provinces (issue 12 item 7; domain-rules §5.6,
notice of 2026-01-09): close relatives, several holders and several beneficiaries,
unused quota back to the holder when the relationship ends, monthly full clearing by
(holder's province, province of treatment). Amounts in fen."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pytest

from medroam.domain.accumulators import Accumulators
from medroam.domain.calculator import reverse, settle
from medroam.domain.codes import BenefitStatus
from medroam.domain.mutual_aid import (
    CROSS_PROVINCE_FROM,
    EndReason,
    Grant,
    GrantStatus,
    Insured,
    MutualAidError,
    MutualAidRules,
    Relation,
    ReturnOn,
    available,
    clearing_pairs,
    draw,
    end_grant,
    insurance_changed,
    open_grant,
    year_end_returns,
)
from medroam.domain.policy import AccountPolicy
from medroam.domain.settlement import AccountState
from tests.factories import A_SERVICE, line, make_catalogue, resident, resident_policy, visit

SON = Insured("P-SON", "310", "440100", True)  # employee in 广州
DAUGHTER = Insured("P-DAUGHTER", "310", "110100", True)  # employee in 北京
MOTHER = Insured("P-MOTHER", "390", "510100", True)  # resident in 成都
DAY = date(2026, 3, 1)


def _grant(
    gid: str, holder: Insured, quota: int, on: date = DAY, existing: Sequence[Grant] = ()
) -> Grant:
    return open_grant(gid, holder, MOTHER, Relation.PARENT, quota, 1_000_000, on, existing)


def test_cross_province_mutual_aid_from_2026_01_09() -> None:
    """广州 employee → 成都 resident mother: refused on 2026-01-08, granted on 2026-01-09;
    within one province it was possible before."""
    with pytest.raises(MutualAidError, match=r"beneficiary: .*across provinces.*2026-01-09"):
        _grant("G1", SON, 50_000, date(2026, 1, 8))
    g = _grant("G1", SON, 50_000, CROSS_PROVINCE_FROM)
    assert g.cross_province and g.remaining == 50_000
    cousin_town = Insured("P-BRO", "390", "440300", True)  # 深圳, same province as 广州
    same = open_grant("G0", SON, cousin_town, "sibling", 100, 100, date(2025, 6, 1))
    assert not same.cross_province


@pytest.mark.parametrize(
    ("holder", "relation", "quota", "field"),
    [
        (SON, "cousin", 100, "relation"),  # not a close relative (近亲属)
        (Insured("P-R", "390", "510100", True), "child", 100, "holder"),  # a resident: no account
        (SON, "parent", 0, "quota"),
        (SON, "parent", 1_000_001, "quota"),  # more than the holder's balance
        (Insured("P-SON", "310", "440100", False), "parent", 100, "holder"),
    ],
)
def test_grants_the_rules_refuse(holder: Insured, relation: str, quota: int, field: str) -> None:
    with pytest.raises(MutualAidError, match=rf"^{field}: "):
        open_grant("G", holder, MOTHER, relation, quota, 1_000_000, DAY)


def test_several_holders_aid_one_relative_and_one_holder_aids_several() -> None:
    """Son 500.00 + daughter 300.00 for the mother: her quota is 800.00. A second grant of
    the same pair is refused; the son may also aid his sister."""
    son = _grant("G1", SON, 50_000, date(2026, 2, 1))
    daughter = _grant("G2", DAUGHTER, 30_000)
    assert available([son, daughter], MOTHER.psn_no) == 80_000
    with pytest.raises(MutualAidError, match="already aids"):
        _grant("G3", SON, 100, existing=[son, daughter])
    sister = open_grant("G4", SON, DAUGHTER, Relation.SIBLING, 10_000, 1_000_000, DAY)
    assert available([son, daughter, sister], DAUGHTER.psn_no) == 10_000


def test_a_draw_spreads_over_the_grants_oldest_first_and_a_reversal_gives_back() -> None:
    """Mother pays 650.00 of mutual aid: 500.00 from the son's (older) grant, 150.00 from
    the daughter's; reversing it returns 150.00 to the daughter's, then 500.00 to the
    son's."""
    grants = [_grant("G2", DAUGHTER, 30_000), _grant("G1", SON, 50_000, date(2026, 2, 1))]
    after, draws = draw(grants, MOTHER.psn_no, 65_000)
    assert [(d.grant_id, d.amount) for d in draws] == [("G1", 50_000), ("G2", 15_000)]
    assert available(after, MOTHER.psn_no) == 15_000
    back, undo = draw(after, MOTHER.psn_no, -65_000)
    assert [(d.grant_id, d.amount) for d in undo] == [("G2", -15_000), ("G1", -50_000)]
    assert back == grants
    with pytest.raises(MutualAidError, match=r"^acct_mulaid_pay: "):
        draw(grants, MOTHER.psn_no, 80_001)


def test_unused_quota_returns_to_the_holder_when_the_relationship_ends() -> None:
    g = _grant("G1", SON, 50_000)
    (g,), _ = draw([g], MOTHER.psn_no, 12_345)
    ended, back = end_grant(g, date(2026, 4, 1), EndReason.REQUEST)
    assert back == 50_000 - 12_345
    assert ended.status is GrantStatus.ENDED and ended.remaining == 0
    assert available([ended], MOTHER.psn_no) == 0
    with pytest.raises(MutualAidError, match="already ended"):
        end_grant(ended, date(2026, 4, 2), EndReason.REQUEST)


def test_relationships_end_automatically_when_an_insurance_changes() -> None:
    """The mother moves her insurance to 重庆 (500100): both grants end, each returning
    its unused quota to its holder; a grant of other people is untouched."""
    son, daughter = _grant("G1", SON, 50_000), _grant("G2", DAUGHTER, 30_000)
    other = open_grant("G9", DAUGHTER, SON, Relation.SIBLING, 1_000, 1_000, DAY)
    moved = Insured(MOTHER.psn_no, "390", "500100", True)
    ended = insurance_changed([son, daughter, other], moved, date(2026, 5, 1))
    assert [(g.grant_id, g.end_reason, back) for g, back in ended] == [
        ("G1", EndReason.INSURANCE_CHANGED, 50_000),
        ("G2", EndReason.INSURANCE_CHANGED, 30_000),
    ]
    stopped = Insured(SON.psn_no, "310", "440100", False)  # the holder's insurance ends
    assert [g.grant_id for g, _ in insurance_changed([son, other], stopped, DAY)] == [
        "G1",
        "G9",
    ]


def test_the_return_trigger_is_a_parameter() -> None:
    g = _grant("G1", SON, 50_000)
    assert year_end_returns([g], date(2026, 12, 31)) == []  # default: only when it ends
    rules = MutualAidRules(return_on=ReturnOn.YEAR_END)
    ((kept, back),) = year_end_returns([g], date(2026, 12, 31), rules)
    assert back == 50_000 and kept.remaining == 0 and kept.status is GrantStatus.ACTIVE


def test_monthly_clearing_pairs_are_holder_province_to_treatment_province() -> None:
    """The mother (insured in 成都) spends 650.00 in 北京 (110105): 500.00 from the son's
    grant (广东 holder), 150.00 from the daughter's (北京 holder); then 100.00 in 广州
    (440106), from the daughter's grant. Cleared by (holder's province, province of
    treatment): 44→11 500.00, 11→11 150.00, 11→44 100.00 — never the beneficiary's
    own 四川."""
    grants = [_grant("G1", SON, 50_000, date(2026, 2, 1)), _grant("G2", DAUGHTER, 30_000)]
    grants, first = draw(grants, MOTHER.psn_no, 65_000)
    grants, second = draw(grants, MOTHER.psn_no, 10_000)
    month = [(d, "110105") for d in first] + [(d, "440106") for d in second]
    assert clearing_pairs(month) == {
        ("110000", "110000"): 15_000,
        ("110000", "440000"): 10_000,
        ("440000", "110000"): 50_000,
    }


def test_a_cross_province_resident_beneficiary_settles_with_the_aid() -> None:
    """The 成都 resident mother (no account of her own) treated in 北京 with
    acct_used_flag 2 and the quota of both grants (800.00): bill 甲 1,000.00 at a
    tertiary hospital (900 / 60 %): pool = 100 × 60 % = 60.00; personal 940.00;
    mutual aid = min(800, 940) = 800.00; cash 140.00. The reversal gives it back."""
    grants = [_grant("G1", SON, 50_000), _grant("G2", DAUGHTER, 30_000)]
    quota = available(grants, MOTHER.psn_no)
    s = settle(
        [line(A_SERVICE, "1000")],
        visit(account_flag="2", begin=date(2026, 3, 2), settle_date=date(2026, 3, 5)),
        resident(psn_no=MOTHER.psn_no, insured_region="510100"),
        BenefitStatus.LONG_TERM,
        resident_policy(region="510100", account=AccountPolicy(enabled=False)),
        make_catalogue(),
        Accumulators({}),
        AccountState(balance=0, mutual_aid_balance=quota),
    )
    assert (s.pool, s.mutual_aid, s.account, s.cash) == (6_000, 80_000, 80_000, 14_000)
    grants, _ = draw(grants, MOTHER.psn_no, s.mutual_aid)
    assert available(grants, MOTHER.psn_no) == s.mutual_aid_balance_after == 0
    r = reverse(s, AccountState(0, 0))
    grants, _ = draw(grants, MOTHER.psn_no, r.mutual_aid)
    assert available(grants, MOTHER.psn_no) == r.mutual_aid_balance_after == 80_000
