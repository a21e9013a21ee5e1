"""The supervision case workflow (domain/cases.py): order, roles, the appeal window in
working days, the decision's limits, the pro-rata split and the ledger legs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from medroam.domain.cases import (
    Action,
    Actor,
    Case,
    CaseParams,
    CaseRefusedError,
    CaseState,
    Decision,
    FindingRef,
    Origin,
    Parties,
    ResultType,
    Role,
    actions_for,
    apply,
    china_day,
    decision_legs,
    open_case,
    split_pro_rata,
    upheld_amount,
)

PARTIES = Parties(fixmedins_code="H44010600001", insured_region="110105", treatment_region="440106")
OWNER = Actor("王审核", Role.TREATMENT, frozenset({"440106"}))
CO = Actor("李协查", Role.INSURANCE, frozenset({"110105"}))
HOSPITAL = Actor("院方", Role.INSTITUTION, frozenset({"H44010600001"}))
# 2025-09-26 10:00 China time (a Friday before the National Day holiday)
T0 = datetime(2025, 9, 26, 2, 0, tzinfo=UTC)


def finding(result_type: ResultType = ResultType.SUSPICIOUS, flagged: int = 10_000) -> FindingRef:
    return FindingRef("R-001", "限性别用药", result_type, "S1", flagged, {"line": "1"})


def opened(result_type: ResultType = ResultType.SUSPICIOUS) -> Case:
    return open_case("C1", Origin.FINDING, finding(result_type), PARTIES, OWNER, T0, "疑点")


def notified() -> Case:
    case = apply(opened(), Action.START, OWNER, T0)
    case = apply(case, Action.ESCALATE, OWNER, T0)
    return apply(case, Action.NOTIFY, OWNER, T0, note="请于期限内申诉")


def test_full_path_records_every_step_with_actor_role_and_time() -> None:
    case = notified()
    case = apply(case, Action.APPEAL, HOSPITAL, T0 + timedelta(days=1), note="用药有指征")
    case = apply(
        case, Action.DECIDE, OWNER, T0 + timedelta(days=2), decision=Decision.PARTIAL, amount=6000
    )
    case = apply(case, Action.DEDUCT, OWNER, T0 + timedelta(days=3))
    case = apply(case, Action.CLEAR, OWNER, T0 + timedelta(days=4), note="run R1")
    assert case.state is CaseState.CLEARED
    assert case.decision is Decision.PARTIAL and case.decided_amount == 6000
    assert [t.to_state for t in case.history] == [
        CaseState.OPEN,
        CaseState.INITIAL_REVIEW,
        CaseState.RE_REVIEW,
        CaseState.NOTIFIED,
        CaseState.APPEALED,
        CaseState.DECIDED,
        CaseState.DEDUCTED,
        CaseState.CLEARED,
    ]
    appeal = case.history[4]
    assert (appeal.actor, appeal.role, appeal.note) == ("院方", Role.INSTITUTION, "用药有指征")
    assert appeal.from_state is CaseState.NOTIFIED


def test_appeal_deadline_counts_working_days_over_the_national_day_holiday() -> None:
    """Notice on Fri 2025-09-26, 10 working days: Sun 28 (调休 workday) = 1, 29 = 2,
    30 = 3, 1–8 Oct holiday, 9 = 4, 10 = 5, Sat 11 (workday) = 6, 13..16 = 7..10:
    the window closes at the end of 2025-10-16."""
    case = notified()
    assert case.appeal_deadline == date(2025, 10, 16)
    last_day = datetime(2025, 10, 16, 15, 59, tzinfo=UTC)  # 23:59 China time
    assert apply(case, Action.APPEAL, HOSPITAL, last_day).state is CaseState.APPEALED
    with pytest.raises(CaseRefusedError, match="expire"):
        apply(case, Action.EXPIRE, OWNER, last_day)


def test_appeal_after_the_window_is_refused_and_the_window_expires() -> None:
    case = notified()
    late = datetime(2025, 10, 16, 16, 0, tzinfo=UTC)  # 2025-10-17 00:00 China time
    with pytest.raises(CaseRefusedError, match=r"closed on 2025-10-16.*2025-10-17 is too late"):
        apply(case, Action.APPEAL, HOSPITAL, late)
    expired = apply(case, Action.EXPIRE, OWNER, late)
    assert expired.state is CaseState.WINDOW_EXPIRED
    decided = apply(expired, Action.DECIDE, OWNER, late, decision=Decision.UPHELD, amount=10_000)
    assert decided.decided_amount == 10_000


def test_window_length_is_a_parameter() -> None:
    case = apply(apply(opened(), Action.START, OWNER, T0), Action.ESCALATE, OWNER, T0)
    # 3 working days after Fri 2025-09-26: Sun 28, Mon 29, Tue 30
    short = apply(case, Action.NOTIFY, OWNER, T0, params=CaseParams(appeal_working_days=3))
    assert short.appeal_deadline == date(2025, 9, 30)
    with pytest.raises(ValueError, match="appeal_working_days"):
        CaseParams(appeal_working_days=0)


def test_out_of_order_is_refused_naming_the_state() -> None:
    with pytest.raises(CaseRefusedError, match=r"cannot notify .* in state open"):
        apply(opened(), Action.NOTIFY, OWNER, T0)
    with pytest.raises(CaseRefusedError, match="cannot deduct"):
        apply(notified(), Action.DEDUCT, OWNER, T0)


def test_wrong_role_is_refused() -> None:
    with pytest.raises(CaseRefusedError, match=r"appeal .* is for 定点医药机构"):
        apply(notified(), Action.APPEAL, OWNER, T0)
    with pytest.raises(CaseRefusedError, match=r"start .* is for 就医地经办机构"):
        apply(opened(), Action.START, CO, T0)


def test_actor_of_another_region_or_institution_is_refused() -> None:
    other_agency = Actor("外地", Role.TREATMENT, frozenset({"310101"}))
    with pytest.raises(CaseRefusedError, match="does not act for 440106"):
        apply(opened(), Action.START, other_agency, T0)
    other_hospital = Actor("别院", Role.INSTITUTION, frozenset({"H1"}))
    with pytest.raises(CaseRefusedError, match="does not act for H44010600001"):
        apply(notified(), Action.APPEAL, other_hospital, T0)


def test_assist_case_is_opened_by_the_place_of_insurance_only() -> None:
    case = open_case("C2", Origin.ASSIST, finding(), PARTIES, CO, T0, "协查")
    assert case.state is CaseState.OPEN and case.history[0].role is Role.INSURANCE
    with pytest.raises(CaseRefusedError, match="opened by 参保地经办机构"):
        open_case("C2", Origin.ASSIST, finding(), PARTIES, OWNER, T0)
    with pytest.raises(CaseRefusedError, match="opened by 就医地经办机构"):
        open_case("C3", Origin.FINDING, finding(), PARTIES, CO, T0)


def test_opening_refuses_more_than_the_settlement_and_a_second_unended_case() -> None:
    """On a settlement of 1,315.08 元 (131,508 fen): a flagged 99,999,999.00 元 is
    refused, exactly 1,315.08 元 is not; a case on the same settlement and rule that
    has not ended (CS1) refuses a second, named."""
    big = FindingRef("R-001", "限性别用药", ResultType.SUSPICIOUS, "S1", 9_999_999_900)
    with pytest.raises(CaseRefusedError) as refused:
        open_case("C4", Origin.FINDING, big, PARTIES, OWNER, T0, medfee=131_508)
    assert str(refused.value) == (
        "疑点金额 99999999.00 元超过结算 S1 的医疗费总额 1315.08 元，不能立案 / "
        "flagged amount 99999999.00 元 is above settlement S1's total (medfee_sumamt) 1315.08 元"
    )
    whole = finding(flagged=131_508)
    assert open_case("C4", Origin.FINDING, whole, PARTIES, OWNER, T0, medfee=131_508).state is (
        CaseState.OPEN
    )
    with pytest.raises(CaseRefusedError, match=r"^结算 S1 的规则 R-001 已有未结案件 CS1、CS2，"):
        open_case("C5", Origin.FINDING, whole, PARTIES, OWNER, T0, unended=("CS1", "CS2"))


def test_co_reviewer_comments_and_may_refer() -> None:
    case = apply(notified(), Action.COMMENT, CO, T0, note="同意")
    assert case.state is CaseState.NOTIFIED and case.history[-1].role is Role.INSURANCE
    referred = apply(case, Action.REFER, CO, T0, note="移送公安")
    assert referred.state is CaseState.REFERRED
    with pytest.raises(CaseRefusedError, match="cannot comment"):
        apply(referred, Action.COMMENT, OWNER, T0)


def test_amount_above_flagged_is_refused() -> None:
    case = apply(notified(), Action.APPEAL, HOSPITAL, T0)
    with pytest.raises(CaseRefusedError, match=r"100\.01 元 is above the flagged amount 100\.00"):
        apply(case, Action.DECIDE, OWNER, T0, decision=Decision.PARTIAL, amount=10_001)


def test_partial_amount_above_the_fund_payment_is_refused() -> None:
    case = apply(notified(), Action.APPEAL, HOSPITAL, T0)
    with pytest.raises(
        CaseRefusedError,
        match=r"^案件 C1：认定金额 90\.00 元超过基金为结算 S1 可追回的金额 89\.99 元",
    ):
        apply(
            case, Action.DECIDE, OWNER, T0, decision=Decision.PARTIAL, amount=9_000, fund_paid=8_999
        )


def appealed(flagged: int) -> Case:
    case = open_case("C7", Origin.FINDING, finding(flagged=flagged), PARTIES, OWNER, T0)
    for action, actor in (
        (Action.START, OWNER),
        (Action.ESCALATE, OWNER),
        (Action.NOTIFY, OWNER),
        (Action.APPEAL, HOSPITAL),
    ):
        case = apply(case, action, actor, T0)
    return case


def test_upheld_takes_the_flagged_amount_without_being_told() -> None:
    """Flagged 100.00 元, the funds paid 150.00 元: upheld takes 100.00 元, with or
    without the amount given; the note is the officer's alone."""
    case = appealed(10_000)
    for amount in (None, 10_000):
        decided = apply(
            case, Action.DECIDE, OWNER, T0, decision=Decision.UPHELD, amount=amount,
            fund_paid=15_000, note="证据充分",
        )  # fmt: skip
        assert decided.decided_amount == 10_000 and not decided.upheld_capped
        assert decided.history[-1].note == "证据充分"
    unknown = apply(case, Action.DECIDE, OWNER, T0, decision=Decision.UPHELD)
    assert unknown.decided_amount == 10_000


def test_upheld_is_capped_by_what_the_funds_can_give_back() -> None:
    """docs/cases.md's worked example: flagged 1,223.46 元 (122,346 fen) on a settlement
    whose funds paid 400.00 元 (40,000 fen), nothing taken back before. Upheld recovers
    min(122,346, 40,000) = 40,000 fen, 400.00 元, and its note says why; an explicit
    1,223.46 元 (or anything but 400.00) is refused naming both figures."""
    case = appealed(122_346)
    decided = apply(
        case, Action.DECIDE, OWNER, T0, decision=Decision.UPHELD, fund_paid=40_000,
        note="证据充分",
    )  # fmt: skip
    assert decided.decision is Decision.UPHELD and decided.decided_amount == 40_000
    assert decided.upheld_capped
    assert decided.history[-1].note == (
        "证据充分；维持：疑点金额 1223.46 元超过基金可追回金额 400.00 元"
        "（基金为结算 S1 支付的金额减去此前处理决定已追回的部分），按 400.00 元追回"
    )
    same = apply(
        case, Action.DECIDE, OWNER, T0, decision=Decision.UPHELD, amount=40_000, fund_paid=40_000
    )
    assert same.decided_amount == 40_000
    for wrong, text in ((122_346, "1223.46"), (30_000, "300.00")):
        with pytest.raises(CaseRefusedError) as refused:
            apply(
                case, Action.DECIDE, OWNER, T0, decision=Decision.UPHELD, amount=wrong,
                fund_paid=40_000,
            )  # fmt: skip
        assert str(refused.value).startswith(
            "案件 C7：维持决定按 400.00 元处理（疑点金额 1223.46 元超过基金可追回金额 400.00 元），"
            f"不能认定为 {text} 元；请不填金额，或改用部分维持 (partial) / "
        )
    with pytest.raises(CaseRefusedError, match=r"^案件 C7：基金为结算 S1 可追回的金额为 0\.00 元"):
        apply(case, Action.DECIDE, OWNER, T0, decision=Decision.UPHELD, fund_paid=0)
    assert upheld_amount(122_346, 40_000) == 40_000
    assert upheld_amount(122_346, 200_000) == 122_346
    assert upheld_amount(122_346, None) == 122_346


def test_decision_kind_must_match_the_amount() -> None:
    case = apply(notified(), Action.APPEAL, HOSPITAL, T0)
    with pytest.raises(CaseRefusedError, match=r"upheld decision takes 100\.00 元 .* not 0\.05 元"):
        apply(case, Action.DECIDE, OWNER, T0, decision=Decision.UPHELD, amount=5)
    with pytest.raises(CaseRefusedError, match="partial decision is below"):
        apply(case, Action.DECIDE, OWNER, T0, decision=Decision.PARTIAL, amount=10_000)
    with pytest.raises(CaseRefusedError, match="needs a decision"):
        apply(case, Action.DECIDE, OWNER, T0)
    with pytest.raises(CaseRefusedError, match="needs a positive amount"):
        apply(case, Action.DECIDE, OWNER, T0, decision=Decision.PARTIAL)


def test_violation_may_skip_appeal_when_the_parameter_allows() -> None:
    case = apply(opened(ResultType.VIOLATION), Action.START, OWNER, T0)
    case = apply(case, Action.ESCALATE, OWNER, T0)
    decided = apply(case, Action.DECIDE, OWNER, T0, decision=Decision.UPHELD, amount=10_000)
    assert decided.state is CaseState.DECIDED
    strict = CaseParams(violation_skips_appeal=False)
    with pytest.raises(CaseRefusedError, match="goes to the institution for appeal"):
        apply(
            case, Action.DECIDE, OWNER, T0, decision=Decision.UPHELD, amount=10_000, params=strict
        )


def test_suspicious_cannot_skip_appeal() -> None:
    case = apply(apply(opened(), Action.START, OWNER, T0), Action.ESCALATE, OWNER, T0)
    with pytest.raises(CaseRefusedError, match="可疑 case goes to the institution"):
        apply(case, Action.DECIDE, OWNER, T0, decision=Decision.UPHELD, amount=10_000)


def test_withdrawn_case_is_closed_not_deducted() -> None:
    case = apply(opened(), Action.START, OWNER, T0)
    withdrawn = apply(case, Action.DECIDE, OWNER, T0, decision=Decision.WITHDRAWN)
    assert withdrawn.decided_amount == 0
    with pytest.raises(CaseRefusedError, match="nothing to deduct"):
        apply(withdrawn, Action.DEDUCT, OWNER, T0)
    assert apply(withdrawn, Action.CLOSE, OWNER, T0).state is CaseState.CLOSED
    with pytest.raises(CaseRefusedError, match="only be withdrawn"):
        apply(case, Action.DECIDE, OWNER, T0, decision=Decision.PARTIAL, amount=1)


def test_a_decided_amount_cannot_be_closed_without_money() -> None:
    case = apply(notified(), Action.APPEAL, HOSPITAL, T0)
    case = apply(case, Action.DECIDE, OWNER, T0, decision=Decision.UPHELD, amount=10_000)
    with pytest.raises(CaseRefusedError, match="must be deducted"):
        apply(case, Action.CLOSE, OWNER, T0)
    assert apply(case, Action.RECOVER, OWNER, T0).state is CaseState.RECOVERED


def test_time_must_be_aware_and_not_go_back() -> None:
    with pytest.raises(CaseRefusedError, match="timezone-aware"):
        apply(opened(), Action.START, OWNER, datetime(2025, 9, 26, 10))
    with pytest.raises(CaseRefusedError, match="before the last step"):
        apply(opened(), Action.START, OWNER, T0 - timedelta(seconds=1))
    assert china_day(datetime(2025, 9, 26, 16, 0, tzinfo=UTC)) == date(2025, 9, 27)


def test_finding_reference_is_checked() -> None:
    with pytest.raises(
        CaseRefusedError, match=r"^疑点金额应大于 0 元，收到 0\.00 元 / flagged_amount"
    ):
        FindingRef("R", "n", ResultType.VIOLATION, "S1", 0)
    assert ResultType.parse("明确违规") is ResultType.VIOLATION
    assert ResultType.parse("suspicious") is ResultType.SUSPICIOUS
    with pytest.raises(CaseRefusedError, match="result_type 'x'"):
        ResultType.parse("x")


def test_refusals_read_zh_cn_first_then_english() -> None:
    """A refusal is one line: the zh-CN sentence, " / ", the same in English."""
    refused: list[CaseRefusedError] = []
    for attempt in (
        lambda: open_case("C9", Origin.FINDING, finding(), PARTIES, HOSPITAL, T0),
        lambda: apply(opened(), Action.NOTIFY, OWNER, T0),
        lambda: apply(opened(), Action.START, HOSPITAL, T0),
        lambda: apply(opened(), Action.START, Actor("外地", Role.TREATMENT, frozenset({"1"})), T0),
        lambda: apply(notified(), Action.EXPIRE, OWNER, T0),
        lambda: apply(apply(notified(), Action.APPEAL, HOSPITAL, T0), Action.DECIDE, OWNER, T0),
    ):
        with pytest.raises(CaseRefusedError) as caught:
            attempt()
        refused.append(caught.value)
    messages = [str(e) for e in refused]
    assert messages[0] == (
        "审核发现案件由就医地经办机构立案，院方（定点医药机构）不能立案 / "
        "a 审核发现 case is opened by 就医地经办机构, not by 院方 (定点医药机构)"
    )
    assert messages[1].startswith(
        "案件 C1：待审核状态下不能告知机构，告知机构须在以下状态办理：复审 / "
    )
    assert messages[2].startswith(
        "案件 C1：开始初审由就医地经办机构办理，院方（定点医药机构）不能办理 / "
    )
    assert messages[3].startswith(
        "外地（就医地经办机构）不代表本案件的就医地经办机构 440106，其代表 1 / "
    )
    assert messages[4].startswith("案件 C1：申诉期至 2025-10-16 止，2025-09-26 尚未届满 / ")
    assert messages[5].startswith("案件 C1：请选择处理决定：")
    assert all("\n" not in m and " / " in m for m in messages)


def test_split_with_one_fen_left_goes_to_the_largest_remainder() -> None:
    """1001 fen over 7000 / 2000 / 1000: exact shares 700.7, 200.2, 100.1; floors
    700 + 200 + 100 = 1000; the 1 fen left goes to the largest remainder (.7)."""
    parts = {"310100": 7000, "320100": 2000, "330100": 1000}
    assert split_pro_rata(1001, parts) == {"310100": 701, "320100": 200, "330100": 100}


def test_split_uneven_parts() -> None:
    """1000 fen over 123.45 / 67.89 / 0.01 元 (total 19135 fen): 645.15, 354.79, 0.05;
    floors 645 + 354 + 0 = 999; the fen goes to 330100 (.79); 610100 gets nothing."""
    parts = {"310100": 12345, "330100": 6789, "610100": 1}
    assert split_pro_rata(1000, parts) == {"310100": 645, "330100": 355}


def test_split_ties_go_to_the_smaller_code_first() -> None:
    """2 fen over three equal parts: 0.67 each, all remainders equal: a and b get 1."""
    assert split_pro_rata(2, {"c": 3, "b": 3, "a": 3}) == {"a": 1, "b": 1}


def test_split_refuses_more_than_the_parts() -> None:
    with pytest.raises(ValueError, match="above the parts' total"):
        split_pro_rata(11, {"310100": 10})


def test_cross_region_legs_balance_and_return_the_money() -> None:
    legs = decision_legs({"310100": 701, "320100": 300}, PARTIES)
    assert legs == [
        ("fund:110105:310100", -701),
        ("fund:110105:320100", -300),
        ("payable:region:110105>440106", 1001),
        ("receivable:region:110105>440106", -1001),
        ("payable:hospital:H44010600001", 1001),
    ]
    assert sum(a for _, a in legs) == 0


def test_local_legs_balance() -> None:
    local = Parties("H1", "440106", "440106")
    assert decision_legs({"310100": 50}, local) == [
        ("fund:440106:310100", -50),
        ("payable:hospital:H1", 50),
    ]


def test_stored_code_lists_match_the_domain() -> None:
    """The CHECK constraints of ``case_tables`` and of migration 0013 list exactly the
    domain's states, actions, roles, origins, result types and decisions."""
    import importlib.util
    from pathlib import Path

    from medroam.store import case_tables as t

    path = Path(t.__file__).parent / "migrations" / "versions" / "0013_cases.py"
    spec = importlib.util.spec_from_file_location("migration_0013", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    states = tuple(s.value for s in CaseState)
    actions = tuple(a.value for a in Action)
    assert t.CASE_STATES == migration._STATES == states
    assert t.CASE_ACTIONS == migration._ACTIONS == actions
    assert tuple(r.value for r in Role) == t.CASE_ROLES
    assert tuple(o.value for o in Origin) == t.CASE_ORIGINS
    assert tuple(r.value for r in ResultType) == t.CASE_RESULT_TYPES
    assert tuple(d.value for d in Decision) == t.CASE_DECISIONS


def test_actions_offered_by_state_and_role() -> None:
    """What a screen offers: the owner starts an open case (or refers it, or comments);
    the institution may only comment until notified, then appeal; the co-reviewer may
    refer or comment but never decide; nothing is offered on a cleared case."""
    assert actions_for(CaseState.OPEN, Role.TREATMENT) == [
        Action.START,
        Action.REFER,
        Action.COMMENT,
    ]
    assert actions_for(CaseState.OPEN, Role.INSTITUTION) == [Action.COMMENT]
    assert actions_for(CaseState.NOTIFIED, Role.INSTITUTION) == [Action.APPEAL, Action.COMMENT]
    assert Action.DECIDE not in actions_for(CaseState.APPEALED, Role.INSURANCE)
    assert actions_for(CaseState.CLEARED, Role.TREATMENT) == []
    # every action offered is one that apply() takes from that state
    case = opened()
    for action in actions_for(CaseState.OPEN, Role.TREATMENT):
        assert apply(case, action, OWNER, T0).history[-1].action is action
