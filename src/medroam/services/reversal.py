"""2601 冲正交易: undo a transaction whose outcome the HIS does not know.

The original is looked up by (omsgid, oinfno, fixmedins_code) in the message log. If it
succeeded it is undone exactly: a settlement (2207/2304) gets its reverse settlement, an
admission (2401) is cancelled, a cancellation (2208/2305) is itself undone (the original
settlement stands again). If it never arrived or failed there is nothing to undo, and the
answer is still success. A repeated reversal is a no-op.

A settlement (or a cancellation's reverse record) that the place of insurance has
already confirmed for clearing is not reversed (national-interface §4.8): its period is
settled between the regions, so the refusal names the setl_id and the period and points
to 2208/2305, whose reverse record nets in a later period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from medroam.services.errors import RefusedError
from medroam.services.ports import InstitutionRef, InsuredPlace
from medroam.services.settlement import (
    SettlementView,
    cancel_settlement_row,
    restore_cancelled,
)
from medroam.services.visits import cancel_admission_row
from medroam.store.repositories import (
    ClearingItemRepository,
    ConfirmedClearing,
    MessageLogRepository,
    SettlementRepository,
    VisitRepository,
)

SETTLEMENTS = frozenset({"2207", "2304"})
CANCELLATIONS = frozenset({"2208", "2305"})
CANCELLATION_OF = {"2207": "2208", "2304": "2305"}
ADMISSION = "2401"
REVERSIBLE = SETTLEMENTS | CANCELLATIONS | {ADMISSION}


class ReversalAction(StrEnum):
    NOT_RECEIVED = "not_received"  # no such message: nothing to undo
    ORIGINAL_FAILED = "original_failed"  # it was refused: nothing was written
    ALREADY_REVERSED = "already_reversed"
    ALREADY_UNDONE = "already_undone"  # e.g. the settlement was cancelled by 2208 since
    SETTLEMENT_REVERSED = "settlement_reversed"
    ADMISSION_CANCELLED = "admission_cancelled"
    CANCELLATION_UNDONE = "cancellation_undone"


@dataclass(frozen=True, slots=True)
class ReversalOutcome:
    action: ReversalAction
    view: SettlementView | None = None  # the reverse settlement, or the restored one


def reverse_message(
    session: Session,
    place: InsuredPlace,
    institution: InstitutionRef,
    now: datetime,
    *,
    psn_no: str,
    omsgid: str,
    oinfno: str,
    msgid: str,
) -> ReversalOutcome:
    if oinfno not in REVERSIBLE:
        raise RefusedError(
            f"oinfno {oinfno}: this transaction cannot be reversed (reversible: "
            f"{', '.join(sorted(REVERSIBLE))})"
        )
    if omsgid == msgid:
        raise RefusedError(f"omsgid {omsgid} is this reversal's own msgid")
    logs = MessageLogRepository(session)
    log = logs.find(institution.code, omsgid)
    if log is None:
        return ReversalOutcome(ReversalAction.NOT_RECEIVED)
    if log.infno != oinfno:
        raise RefusedError(f"omsgid {omsgid} was transaction {log.infno}, not oinfno {oinfno}")
    if log.infcode != 0:
        return ReversalOutcome(ReversalAction.ORIGINAL_FAILED)
    if log.reversed:
        return ReversalOutcome(ReversalAction.ALREADY_REVERSED)

    outcome = _undo(session, place, institution, now, psn_no, omsgid, oinfno, msgid)
    logs.mark_reversed(log)
    return outcome


def _undo(
    session: Session,
    place: InsuredPlace,
    institution: InstitutionRef,
    now: datetime,
    psn_no: str,
    omsgid: str,
    oinfno: str,
    msgid: str,
) -> ReversalOutcome:
    settlements = SettlementRepository(session)
    if oinfno == ADMISSION:
        visit = VisitRepository(session).by_msgid(institution.code, omsgid)
        if visit is None:
            raise RefusedError(f"omsgid {omsgid}: the admission it made is not on record")
        _check_person(psn_no, visit.psn_no, omsgid)
        visit = VisitRepository(session).get(institution.code, visit.mdtrt_id, lock=True)
        assert visit is not None
        if visit.status == "cancelled":
            return ReversalOutcome(ReversalAction.ALREADY_UNDONE)
        cancel_admission_row(session, visit, now)
        return ReversalOutcome(ReversalAction.ADMISSION_CANCELLED)

    if oinfno in SETTLEMENTS:
        row = settlements.by_request(institution.code, omsgid, reverse=False)
        if row is None:
            raise RefusedError(f"omsgid {omsgid}: the settlement it made is not on record")
        _check_person(psn_no, row.psn_no, omsgid)
        row = settlements.get(institution.code, row.setl_id, lock=True)
        assert row is not None
        if row.status != "valid":
            return ReversalOutcome(ReversalAction.ALREADY_UNDONE)
        cleared = ClearingItemRepository(session).confirmed(row.setl_id)
        if cleared is not None:
            raise RefusedError(
                f"setl_id {row.setl_id} is in {_clearing_text(cleared)}: 2601 refused; "
                f"cancel it with {CANCELLATION_OF[oinfno]} instead (nets in a later period)"
            )
        visit = VisitRepository(session).get(institution.code, row.mdtrt_id, lock=True)
        assert visit is not None
        view = cancel_settlement_row(session, place, now, visit, row, msgid=msgid)
        return ReversalOutcome(ReversalAction.SETTLEMENT_REVERSED, view)

    reverse_row = settlements.by_request(institution.code, omsgid, reverse=True)
    if reverse_row is None:
        raise RefusedError(f"omsgid {omsgid}: the cancellation it made is not on record")
    _check_person(psn_no, reverse_row.psn_no, omsgid)
    if reverse_row.status == "voided":
        return ReversalOutcome(ReversalAction.ALREADY_UNDONE)
    cleared = ClearingItemRepository(session).confirmed(reverse_row.setl_id)
    if cleared is not None:
        raise RefusedError(
            f"setl_id {reverse_row.setl_id}, this cancellation's reverse record, is in "
            f"{_clearing_text(cleared)}: 2601 refused; settle the bill again instead"
        )
    view = restore_cancelled(session, place, institution, now, reverse_row)
    return ReversalOutcome(ReversalAction.CANCELLATION_UNDONE, view)


def _clearing_text(c: ConfirmedClearing) -> str:
    """≤ 75 characters: err_msg is C(200)."""
    run = "" if c.run_id is None else f", run {c.run_id}"
    return f"a confirmed clearing (period {c.period}{run})"


def _check_person(sent: str, recorded: str, omsgid: str) -> None:
    if sent and sent != recorded:
        raise RefusedError(
            f"psn_no {sent} does not match the person of the original transaction {omsgid} "
            f"({recorded})"
        )
