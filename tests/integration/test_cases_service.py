"""Supervision cases in the database (services/cases.py), on SQLite and PostgreSQL: the
workflow stored step by step, refusals that write nothing, and a decision that posts a
balanced ledger entry and clearing adjustments in the settlement's fund split."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from medroam.domain.cases import (
    Action,
    Actor,
    CaseState,
    Decision,
    FindingRef,
    Origin,
    ResultType,
    Role,
    split_pro_rata,
)
from medroam.services import cases, fees, settlement
from medroam.services.errors import NotFoundError, RefusedError
from medroam.services.uow import unit_of_work
from medroam.store.case_tables import CaseAdjustmentRow, CaseEventRow, CaseRow
from medroam.store.insured_place import SqlInsuredPlace
from medroam.store.repositories import LedgerRepository
from medroam.store.tables import LedgerPostingRow
from tests.integration.test_clearing_support import World, at
from tests.integration.test_settlement_service_support import (
    EMPLOYEE_BJ,
    EMPLOYEE_HHHT,
    H_BJ,
    NOW,
    admit,
    discharge,
    request,
    typical_lines,
)

pytestmark = pytest.mark.db

OWNER = Actor("王审核", Role.TREATMENT, frozenset({"110100"}))
CO = Actor("李协查", Role.INSURANCE, frozenset({"150100"}))
HOSPITAL = Actor("院方医保办", Role.INSTITUTION, frozenset({H_BJ.code}))
T0 = datetime(2025, 9, 26, 2, 0, tzinfo=UTC)  # Fri 2025-09-26 10:00 China time


def _settle(engine: Engine, psn: str, serial: str) -> str:
    with unit_of_work(engine) as s:
        mdtrt_id = admit(s, psn, serial=serial, msgid="M-ADM" + serial)
        lines = typical_lines(s, mdtrt_id, psn, scale=3)
        results = fees.upload_fees(s, H_BJ, NOW, lines, inpatient=True, msgid="M-F" + serial)
        discharge(s, mdtrt_id, psn)
        view = settlement.settle(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            request(mdtrt_id, psn, sum(r.amount for r in results)),
            kind="inpatient",
            msgid="M-S" + serial,
        )
    assert view.setl_id
    return view.setl_id


def _finding(setl_id: str, flagged: int, rt: ResultType = ResultType.SUSPICIOUS) -> FindingRef:
    return FindingRef("R-DUP", "重复收费", rt, setl_id, flagged, {"feedetl_sn": ["1", "2"]})


def _counts(engine: Engine) -> tuple[int, ...]:
    with unit_of_work(engine) as s:
        return tuple(
            s.execute(select(func.count()).select_from(m)).scalar_one()
            for m in (CaseRow, CaseEventRow, CaseAdjustmentRow, LedgerPostingRow)
        )


def _to_appealed(engine: Engine, case_id: str) -> None:
    for action, actor, days in (
        (Action.START, OWNER, 0),
        (Action.ESCALATE, OWNER, 1),
        (Action.NOTIFY, OWNER, 2),
        (Action.APPEAL, HOSPITAL, 3),
    ):
        cases.move(engine, case_id, action, actor, T0 + timedelta(days=days))


def test_cross_region_decision_posts_balanced_legs_and_adjustments(world: Engine) -> None:
    setl_id = _settle(world, EMPLOYEE_HHHT, "IP1")
    with unit_of_work(world) as s:
        split = cases.fund_split(s, setl_id)
    fund_paid = sum(split.values())
    assert fund_paid > 1000 and len(split) >= 1
    flagged = fund_paid // 2 + 1
    view = cases.open_new(
        world, origin=Origin.FINDING, finding=_finding(setl_id, flagged), actor=OWNER, at=T0
    )
    case_id = view.case.case_id
    assert view.case.parties.insured_region == "150100"
    assert view.case.parties.treatment_region == "110100"
    _to_appealed(world, case_id)
    decided = flagged - 333
    view = cases.move(
        world,
        case_id,
        Action.DECIDE,
        OWNER,
        T0 + timedelta(days=4),
        decision=Decision.PARTIAL,
        amount=decided,
        note="部分维持",
    )
    assert view.case.state is CaseState.DECIDED and view.posting_id is not None
    expected = split_pro_rata(decided, split)
    assert {a.fund_pay_type: -a.amount for a in view.adjustments} == expected
    assert sum(a.amount for a in view.adjustments) == -decided
    assert cases.pending_adjustments(world)[0]["case_id"] == case_id
    with unit_of_work(world) as s:
        legs = [(a, v) for k, a, v in LedgerRepository(s).legs(setl_id) if k == cases.POSTING_KIND]
    assert sum(v for _, v in legs) == 0
    assert ("payable:hospital:" + H_BJ.code, decided) in legs
    assert ("receivable:region:150100>110100", -decided) in legs
    assert ("payable:region:150100>110100", decided) in legs
    assert sorted((a, -v) for a, v in legs if a.startswith("fund:")) == sorted(
        (f"fund:150100:{k}", v) for k, v in expected.items()
    )
    view = cases.move(world, case_id, Action.DEDUCT, OWNER, T0 + timedelta(days=5))
    assert view.case.state is CaseState.DEDUCTED
    history = cases.get(world, case_id).case.history
    assert [t.action for t in history] == [
        Action.OPEN,
        Action.START,
        Action.ESCALATE,
        Action.NOTIFY,
        Action.APPEAL,
        Action.DECIDE,
        Action.DEDUCT,
    ]
    assert history[4].actor == "院方医保办" and history[4].at == T0 + timedelta(days=3)
    assert cases.get(world, case_id).case.appeal_deadline is not None


def test_local_decision_credits_the_fund_and_the_hospital(world: Engine) -> None:
    setl_id = _settle(world, EMPLOYEE_BJ, "IP2")
    with unit_of_work(world) as s:
        split = cases.fund_split(s, setl_id)
    flagged = min(sum(split.values()), 5000)
    view = cases.open_new(
        world,
        origin=Origin.FINDING,
        finding=_finding(setl_id, flagged, ResultType.VIOLATION),
        actor=OWNER,
        at=T0,
    )
    cid = view.case.case_id
    cases.move(world, cid, Action.START, OWNER, T0)
    cases.move(world, cid, Action.ESCALATE, OWNER, T0)
    view = cases.move(
        world, cid, Action.DECIDE, OWNER, T0, decision=Decision.UPHELD, amount=flagged
    )
    with unit_of_work(world) as s:
        legs = [(a, v) for k, a, v in LedgerRepository(s).legs(setl_id) if k == "case"]
    assert sum(v for _, v in legs) == 0
    assert not any(a.startswith(("payable:region", "receivable:region")) for a, _ in legs)
    assert ("payable:hospital:" + H_BJ.code, flagged) in legs
    cases.move(world, cid, Action.DEDUCT, OWNER, T0)
    view = cases.move(world, cid, Action.CLEAR, OWNER, T0)  # local: no inter-region item
    assert view.case.state is CaseState.CLEARED
    assert cases.pending_adjustments(world) == []


def test_refusals_write_nothing(world: Engine) -> None:
    setl_id = _settle(world, EMPLOYEE_HHHT, "IP3")
    with unit_of_work(world) as s:
        fund_paid = sum(cases.fund_split(s, setl_id).values())
    view = cases.open_new(
        world, origin=Origin.FINDING, finding=_finding(setl_id, fund_paid), actor=OWNER, at=T0
    )
    cid = view.case.case_id
    before = _counts(world)
    with pytest.raises(RefusedError, match="cannot notify"):
        cases.move(world, cid, Action.NOTIFY, OWNER, T0)
    with pytest.raises(RefusedError, match="is for 就医地经办机构"):
        cases.move(world, cid, Action.START, HOSPITAL, T0)
    with pytest.raises(RefusedError, match="does not act for 110100"):
        cases.move(world, cid, Action.START, Actor("x", Role.TREATMENT, frozenset({"9"})), T0)
    assert _counts(world) == before
    _to_appealed(world, cid)
    before = _counts(world)
    with pytest.raises(RefusedError, match="above the flagged amount"):
        cases.move(
            world, cid, Action.DECIDE, OWNER, T0 + timedelta(days=5),
            decision=Decision.PARTIAL, amount=fund_paid + 1,
        )  # fmt: skip
    assert _counts(world) == before
    with pytest.raises(NotFoundError, match="case NOPE not found"):
        cases.move(world, "NOPE", Action.START, OWNER, T0)
    assert cases.get(world, cid).case.state is CaseState.APPEALED


def test_appeal_after_the_window_is_refused_in_the_store(world: Engine) -> None:
    setl_id = _settle(world, EMPLOYEE_HHHT, "IP4")
    view = cases.open_new(
        world, origin=Origin.ASSIST, finding=_finding(setl_id, 100), actor=CO, at=T0, note="协查"
    )
    cid = view.case.case_id
    cases.move(world, cid, Action.START, OWNER, T0)
    cases.move(world, cid, Action.ESCALATE, OWNER, T0)
    notified = cases.move(world, cid, Action.NOTIFY, OWNER, T0)
    assert notified.appeal_working_days == 10
    assert notified.case.appeal_deadline is not None
    assert notified.case.appeal_deadline.isoformat() == "2025-10-16"
    late = datetime(2025, 10, 17, 1, 0, tzinfo=UTC)
    with pytest.raises(RefusedError, match="appeal window closed on 2025-10-16"):
        cases.move(world, cid, Action.APPEAL, HOSPITAL, late)
    assert cases.move(world, cid, Action.EXPIRE, OWNER, late).case.state is (
        CaseState.WINDOW_EXPIRED
    )
    listed = cases.list_cases(world, region="150100")
    assert [v.case.case_id for v in listed] == [cid]
    assert cases.list_cases(world, state=CaseState.OPEN) == []


def test_clear_waits_for_a_clearing_run_and_opening_needs_a_settlement(world: Engine) -> None:
    setl_id = _settle(world, EMPLOYEE_HHHT, "IP5")
    with pytest.raises(NotFoundError, match="settlement S-NONE not found"):
        cases.open_new(
            world, origin=Origin.FINDING, finding=_finding("S-NONE", 5), actor=OWNER, at=T0
        )
    with pytest.raises(RefusedError, match="opened by 参保地经办机构"):
        cases.open_new(
            world, origin=Origin.ASSIST, finding=_finding(setl_id, 5), actor=OWNER, at=T0
        )
    view = cases.open_new(
        world,
        origin=Origin.FINDING,
        finding=_finding(setl_id, 5, ResultType.VIOLATION),
        actor=OWNER,
        at=T0,
    )
    cid = view.case.case_id
    for action in (Action.START, Action.ESCALATE):
        cases.move(world, cid, action, OWNER, T0)
    cases.move(world, cid, Action.DECIDE, OWNER, T0, decision=Decision.UPHELD, amount=5)
    cases.move(world, cid, Action.RECOVER, OWNER, T0)
    with pytest.raises(RefusedError, match=r"1 clearing adjustment.* not yet taken"):
        cases.move(world, cid, Action.CLEAR, OWNER, T0)
    assert cases.get(world, cid).case.state is CaseState.RECOVERED


def test_two_cases_cannot_take_back_more_than_the_funds_paid(world: Engine) -> None:
    setl_id = _settle(world, EMPLOYEE_HHHT, "IP6")
    with unit_of_work(world) as s:
        fund_paid = sum(cases.fund_split(s, setl_id).values())
    ids = []
    for rule in ("R-DUP", "R-PRICE"):  # two rules: one unended case per settlement and rule
        finding = FindingRef(rule, "重复收费", ResultType.VIOLATION, setl_id, fund_paid)
        view = cases.open_new(world, origin=Origin.FINDING, finding=finding, actor=OWNER, at=T0)
        ids.append(view.case.case_id)
        for action in (Action.START, Action.ESCALATE):
            cases.move(world, view.case.case_id, action, OWNER, T0)
    first = fund_paid - 100
    cases.move(world, ids[0], Action.DECIDE, OWNER, T0, decision=Decision.PARTIAL, amount=first)
    before = _counts(world)
    with pytest.raises(RefusedError, match=r"above what the funds paid .*\(1\.00 元\)"):
        cases.move(world, ids[1], Action.DECIDE, OWNER, T0, decision=Decision.PARTIAL, amount=101)
    assert _counts(world) == before
    view = cases.move(
        world, ids[1], Action.DECIDE, OWNER, T0, decision=Decision.PARTIAL, amount=100
    )
    assert sum(a.amount for a in view.adjustments) == -100


def test_hand_worked_split_of_a_partial_decision(engine: Engine) -> None:
    """S1: a 北京 (110100) insured treated in 上海 (310100), funds 310100 8,000.00 元 and
    330100 500.00 元 (total 850,000 fen). Flagged 1,000.01 元, decided 850.01 元
    (85,001 fen): 85,001 × 800,000 / 850,000 = 80,000.94 and × 50,000 / 850,000 =
    5,000.06; floors 80,000 + 5,000 = 85,000; the 1 fen left goes to the larger remainder
    (310100): 310100 gives back 800.01 元, 330100 50.00 元."""
    world = World(engine)
    world.settle("S1", "110100", "310100", at("2026-10-03"), {"310100": 800_000, "330100": 50_000})
    owner = Actor("沪审核", Role.TREATMENT, frozenset({"310100"}))
    hospital = Actor("院方", Role.INSTITUTION, frozenset({"H310100"}))
    t = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    view = cases.open_new(
        engine, origin=Origin.FINDING, finding=_finding("S1", 100_001), actor=owner, at=t
    )
    cid = view.case.case_id
    for action, actor in (
        (Action.START, owner),
        (Action.ESCALATE, owner),
        (Action.NOTIFY, owner),
        (Action.APPEAL, hospital),
    ):
        cases.move(engine, cid, action, actor, t)
    view = cases.move(
        engine, cid, Action.DECIDE, owner, t, decision=Decision.PARTIAL, amount=85_001
    )
    assert [(a.fund_pay_type, a.amount) for a in view.adjustments] == [
        ("310100", -80_001),
        ("330100", -5_000),
    ]
    with unit_of_work(engine) as s:
        legs = sorted((a, v) for k, a, v in LedgerRepository(s).legs("S1") if k == "case")
    assert legs == [
        ("fund:110100:310100", -80_001),
        ("fund:110100:330100", -5_000),
        ("payable:hospital:H310100", 85_001),
        ("payable:region:110100>310100", 85_001),
        ("receivable:region:110100>310100", -85_001),
    ]


def test_a_second_decision_is_split_over_what_each_fund_has_left(engine: Engine) -> None:
    """S2: funds 310100 0.01 元 and 330100 0.01 元. Case A (R-A) is decided partial at
    0.01 元: 1 fen over 1 / 1, equal remainders, the smaller code first: 310100 gives
    back 0.01 and has nothing left. Case B (R-B) upheld on 0.02 元 flagged: the funds can
    give back 0.01 元 (2 − 1 fen), so it recovers 0.01 元, from 330100, the only fund
    with money left (split over the original 1 / 1 it would fall on 310100 again)."""
    World(engine).settle("S2", "110100", "310100", at("2026-10-03"), {"310100": 1, "330100": 1})
    owner = Actor("沪审核", Role.TREATMENT, frozenset({"310100"}))
    t = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    ids = []
    for rule in ("R-A", "R-B"):
        finding = FindingRef(rule, "重复收费", ResultType.VIOLATION, "S2", 2)
        view = cases.open_new(engine, origin=Origin.FINDING, finding=finding, actor=owner, at=t)
        ids.append(view.case.case_id)
        for action in (Action.START, Action.ESCALATE):
            cases.move(engine, view.case.case_id, action, owner, t)
    first = cases.move(engine, ids[0], Action.DECIDE, owner, t, decision=Decision.PARTIAL, amount=1)
    assert [(a.fund_pay_type, a.amount) for a in first.adjustments] == [("310100", -1)]
    second = cases.move(engine, ids[1], Action.DECIDE, owner, t, decision=Decision.UPHELD)
    assert second.case.decided_amount == 1 and second.case.upheld_capped
    assert [(a.fund_pay_type, a.amount) for a in second.adjustments] == [("330100", -1)]
    assert "按 0.01 元追回" in second.case.history[-1].note


def test_opening_checks_the_amount_and_an_unended_case_writing_nothing(engine: Engine) -> None:
    """S3: total (medfee) 1,315.08 元 = funds 400.00 + cash 915.08. A flagged
    99,999,999.00 元 (or 1,315.09) is refused, 1,315.08 is not; a second case on R-DUP
    is refused naming the first while that one has not ended, R-PRICE is not; once the
    first is withdrawn and closed, R-DUP may be opened again."""
    World(engine).settle(
        "S3", "110100", "310100", at("2026-10-03"), {"310100": 40_000}, cash=91_508
    )
    owner = Actor("沪审核", Role.TREATMENT, frozenset({"310100"}))
    t = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)

    def open_(rule: str, flagged: int) -> str:
        finding = FindingRef(rule, "重复收费", ResultType.SUSPICIOUS, "S3", flagged)
        view = cases.open_new(engine, origin=Origin.FINDING, finding=finding, actor=owner, at=t)
        return view.case.case_id

    before = _counts(engine)
    for flagged, text in ((9_999_999_900, "99999999.00"), (131_509, "1315.09")):
        with pytest.raises(RefusedError) as refused:
            open_("R-DUP", flagged)
        assert str(refused.value).startswith(
            f"疑点金额 {text} 元超过结算 S3 的医疗费总额 1315.08 元，不能立案 / "
        )
    assert _counts(engine) == before
    first = open_("R-DUP", 131_508)
    before = _counts(engine)
    with pytest.raises(RefusedError) as refused:
        open_("R-DUP", 100)
    assert str(refused.value).startswith(
        f"结算 S3 的规则 R-DUP 已有未结案件 {first}，不能重复立案；请在该案件中办理 / "
    )
    assert _counts(engine) == before
    open_("R-PRICE", 100)
    cases.move(engine, first, Action.START, owner, t)
    cases.move(engine, first, Action.DECIDE, owner, t, decision=Decision.WITHDRAWN)
    with pytest.raises(RefusedError, match=f"未结案件 {first}"):
        open_("R-DUP", 100)  # decided is not ended: the case must be closed
    cases.move(engine, first, Action.CLOSE, owner, t)
    assert open_("R-DUP", 100) != first
