"""2601 reversal at service level: the message log says what happened to the original
(rows are written here as the dispatcher writes them)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from medroam.services import fees, reversal, settlement
from medroam.services.errors import RefusedError
from medroam.services.reversal import ReversalAction
from medroam.services.uow import unit_of_work
from medroam.store.insured_place import SqlInsuredPlace
from medroam.store.tables import MessageLogRow, SettlementRow, VisitRow
from tests.integration.test_settlement_service_support import (
    BALANCE,
    EMPLOYEE_HHHT,
    H_BJ,
    MUTUAL_AID,
    NOW,
    account,
    accumulators,
    admit,
    assert_ledger_balanced,
    discharge,
    register,
    request,
    typical_lines,
)

pytestmark = pytest.mark.db
PSN = EMPLOYEE_HHHT


def log(s: Session, msgid: str, infno: str, infcode: int = 0) -> None:
    s.add(
        MessageLogRow(
            fixmedins_code=H_BJ.code,
            msgid=msgid,
            infno=infno,
            request_hash="-",
            infcode=infcode,
            inf_refmsgid="R" + msgid,
            response="{}",
            received_at=NOW,
            reversed=False,
        )
    )
    s.flush()


def reverse(engine: Engine, omsgid: str, oinfno: str, msgid: str) -> reversal.ReversalOutcome:
    with unit_of_work(engine) as s:
        outcome = reversal.reverse_message(
            s, SqlInsuredPlace(s), H_BJ, NOW, psn_no=PSN, omsgid=omsgid, oinfno=oinfno, msgid=msgid
        )
        log(s, msgid, "2601")
        return outcome


def settled_outpatient(engine: Engine, msgid: str = "M-2207") -> tuple[str, str]:
    with unit_of_work(engine) as s:
        mdtrt_id = register(s, PSN)
        results = fees.upload_fees(
            s, H_BJ, NOW, typical_lines(s, mdtrt_id, PSN), inpatient=False, msgid="M-2204"
        )
    with unit_of_work(engine) as s:
        view = settlement.settle(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            request(mdtrt_id, PSN, sum(r.amount for r in results), med_type="11"),
            kind="outpatient",
            msgid=msgid,
        )
        log(s, msgid, "2207")
    assert view.setl_id is not None
    return mdtrt_id, view.setl_id


def test_reversing_a_settlement_writes_its_reverse_once(world: Engine) -> None:
    with unit_of_work(world) as s:
        acc0 = accumulators(s, PSN)
    _, setl_id = settled_outpatient(world)
    outcome = reverse(world, "M-2207", "2207", "M-2601")
    assert outcome.action is ReversalAction.SETTLEMENT_REVERSED
    assert outcome.view is not None and outcome.view.reverses_setl_id == setl_id
    assert outcome.view.medins_setl_id == "M-2601"
    with unit_of_work(world) as s:
        assert accumulators(s, PSN) == acc0 and account(s, PSN) == (BALANCE, MUTUAL_AID)
        logged = s.execute(
            select(MessageLogRow).where(MessageLogRow.msgid == "M-2207")
        ).scalar_one()
        assert logged.reversed
        n = s.execute(select(func.count()).select_from(SettlementRow)).scalar_one()
    again = reverse(world, "M-2207", "2207", "M-2601b")
    assert again.action is ReversalAction.ALREADY_REVERSED
    with unit_of_work(world) as s:
        assert s.execute(select(func.count()).select_from(SettlementRow)).scalar_one() == n
        assert assert_ledger_balanced(s) == 2


def test_nothing_to_do_when_the_original_never_arrived_or_failed(world: Engine) -> None:
    assert reverse(world, "NEVER-SENT", "2207", "M-1").action is ReversalAction.NOT_RECEIVED
    with unit_of_work(world) as s:
        log(s, "M-FAILED", "2207", infcode=-1)
    assert reverse(world, "M-FAILED", "2207", "M-2").action is ReversalAction.ORIGINAL_FAILED
    with unit_of_work(world) as s:
        assert s.execute(select(func.count()).select_from(SettlementRow)).scalar_one() == 0


def test_refusals(world: Engine) -> None:
    settled_outpatient(world)
    with pytest.raises(RefusedError, match="oinfno 2204: this transaction cannot be reversed"):
        reverse(world, "M-2204", "2204", "M-1")
    with pytest.raises(RefusedError, match="omsgid M-2207 was transaction 2207, not oinfno 2304"):
        reverse(world, "M-2207", "2304", "M-1")
    with unit_of_work(world) as s, pytest.raises(RefusedError, match="does not match the person"):
        reversal.reverse_message(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            psn_no="OTHER",
            omsgid="M-2207",
            oinfno="2207",
            msgid="M-9",
        )


def test_reversing_a_cancellation_restores_the_settlement(world: Engine) -> None:
    mdtrt_id, setl_id = settled_outpatient(world)
    with unit_of_work(world) as s:
        settled_state = (accumulators(s, PSN), account(s, PSN))
        settlement.cancel_settlement(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            mdtrt_id=mdtrt_id,
            setl_id=setl_id,
            psn_no=PSN,
            kind="outpatient",
            msgid="M-2208",
        )
        log(s, "M-2208", "2208")
    outcome = reverse(world, "M-2208", "2208", "M-2601")
    assert outcome.action is ReversalAction.CANCELLATION_UNDONE
    with unit_of_work(world) as s:
        assert (accumulators(s, PSN), account(s, PSN)) == settled_state
        original = s.get(SettlementRow, setl_id)
        assert original is not None and original.status == "valid"
        statuses = {r.status for r in s.execute(select(SettlementRow)).scalars()}
        assert statuses == {"valid", "voided"}
        assert assert_ledger_balanced(s) == 3  # settle, cancel, restore
    # the restored settlement can be cancelled again as usual
    with unit_of_work(world) as s:
        settlement.cancel_settlement(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            mdtrt_id=mdtrt_id,
            setl_id=setl_id,
            psn_no=PSN,
            kind="outpatient",
            msgid="M-2208b",
        )
        assert account(s, PSN) == (BALANCE, MUTUAL_AID)


def test_reversing_an_admission_and_an_inpatient_settlement(world: Engine) -> None:
    with unit_of_work(world) as s:
        mdtrt_id = admit(s, PSN, msgid="M-2401")
        log(s, "M-2401", "2401")
    assert reverse(world, "M-2401", "2401", "M-R1").action is ReversalAction.ADMISSION_CANCELLED
    with unit_of_work(world) as s:
        visit = s.get(VisitRow, mdtrt_id)
        assert visit is not None and visit.status == "cancelled"

    with unit_of_work(world) as s:
        mdtrt_id = admit(s, PSN, serial="IP2", msgid="M-2401b")
        log(s, "M-2401b", "2401")
        results = fees.upload_fees(
            s, H_BJ, NOW, typical_lines(s, mdtrt_id, PSN), inpatient=True, msgid="M-2301"
        )
        discharge(s, mdtrt_id, PSN)
    with unit_of_work(world) as s:
        settlement.settle(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            request(mdtrt_id, PSN, sum(r.amount for r in results)),
            kind="inpatient",
            msgid="M-2304",
        )
        log(s, "M-2304", "2304")
    with pytest.raises(RefusedError, match=r"is settled \(已结算\): cannot cancel the admission"):
        reverse(world, "M-2401b", "2401", "M-R2")
    outcome = reverse(world, "M-2304", "2304", "M-R3")
    assert outcome.action is ReversalAction.SETTLEMENT_REVERSED
    with unit_of_work(world) as s:
        visit = s.get(VisitRow, mdtrt_id)
        assert visit is not None and visit.status == "discharged"
