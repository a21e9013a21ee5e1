"""Filing use cases (备案): make, change, cancel, look up, list, history.

Each function is one unit of work. The rules (:class:`FilingRules`) and the moment of the
action (``now``, timezone-aware, local time of the place of insurance) are parameters.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from medroam.domain import filing as rules_of
from medroam.domain.filing import (
    Filing,
    FilingChanges,
    FilingChannel,
    FilingError,
    FilingEvent,
    FilingEventKind,
    FilingRequest,
)
from medroam.domain.policy import FilingRules
from medroam.services.uow import unit_of_work
from medroam.store.filings import FilingRepository


class FilingNotFoundError(LookupError):
    def __init__(self, filing_id: str) -> None:
        super().__init__(f"no filing {filing_id!r}")
        self.filing_id = filing_id


def new_filing_id() -> str:
    """A fresh filing id (random; pass your own to FilingRequest for reproducibility)."""
    return "F" + uuid.uuid4().hex[:20].upper()


def make_filing(
    engine: Engine, rules: FilingRules, request: FilingRequest, now: datetime
) -> Filing:
    """File (备案). The person is registered with the request's insured region on first
    filing; a later request naming another insured region is refused."""
    with unit_of_work(engine) as session:
        return make_filing_in(session, rules, request, now)


def make_filing_in(
    session: Session, rules: FilingRules, request: FilingRequest, now: datetime
) -> Filing:
    """:func:`make_filing` inside the caller's unit of work (e.g. a gateway handler)."""
    repo = FilingRepository(session)
    region = repo.person_region(request.psn_no, lock=True)
    if region is None:
        repo.add_person(request.psn_no, request.insured_region)
    elif region != request.insured_region:
        raise FilingError(
            f"person {request.psn_no} is insured in {region}, not {request.insured_region}"
        )
    if repo.get(request.filing_id) is not None:
        raise FilingError(f"filing id {request.filing_id} is already taken")
    filing = rules_of.new_filing(rules, request, now, existing=repo.list_for_person(request.psn_no))
    repo.add(filing, at=now, channel=request.channel)
    return filing


def _load_for_update(repo: FilingRepository, filing_id: str) -> Filing:
    current = repo.get(filing_id)
    if current is None:
        raise FilingNotFoundError(filing_id)
    repo.person_region(current.psn_no, lock=True)  # person-level lock first, then re-read
    locked = repo.get(filing_id, for_update=True)
    if locked is None:  # pragma: no cover - filings are never deleted
        raise FilingNotFoundError(filing_id)
    return locked


def change_filing(
    engine: Engine, rules: FilingRules, filing_id: str, changes: FilingChanges, now: datetime
) -> Filing:
    """Change a filing (变更备案); the result is its next version."""
    with unit_of_work(engine) as session:
        return change_filing_in(session, rules, filing_id, changes, now)


def change_filing_in(
    session: Session, rules: FilingRules, filing_id: str, changes: FilingChanges, now: datetime
) -> Filing:
    """:func:`change_filing` inside the caller's unit of work (e.g. the console, which
    writes its operations-log entry in the same transaction)."""
    repo = FilingRepository(session)
    current = _load_for_update(repo, filing_id)
    changed = rules_of.change_filing(
        rules, current, changes, now, others=repo.list_for_person(current.psn_no)
    )
    repo.update(changed, event=FilingEventKind.CHANGED, at=now, channel=changes.channel)
    return changed


def cancel_filing(
    engine: Engine,
    rules: FilingRules,
    filing_id: str,
    now: datetime,
    reason: str,
    channel: FilingChannel = FilingChannel.COUNTER,
) -> Filing:
    """Cancel a filing (取消备案); it stays valid up to the cancel date."""
    with unit_of_work(engine) as session:
        return cancel_filing_in(session, rules, filing_id, now, reason, channel)


def cancel_filing_in(
    session: Session,
    rules: FilingRules,
    filing_id: str,
    now: datetime,
    reason: str,
    channel: FilingChannel = FilingChannel.COUNTER,
) -> Filing:
    """:func:`cancel_filing` inside the caller's unit of work (e.g. a gateway handler)."""
    repo = FilingRepository(session)
    current = _load_for_update(repo, filing_id)
    cancelled = rules_of.cancel_filing(rules, current, now, reason)
    repo.update(cancelled, event=FilingEventKind.CANCELLED, at=now, channel=channel)
    return cancelled


def get_filing(engine: Engine, filing_id: str) -> Filing:
    with unit_of_work(engine) as session:
        filing = FilingRepository(session).get(filing_id)
    if filing is None:
        raise FilingNotFoundError(filing_id)
    return filing


def list_filings(
    engine: Engine, psn_no: str, *, active_only: bool = False, valid_on: date | None = None
) -> list[Filing]:
    """A person's filings, oldest first; optionally only active ones, or only those
    valid on a day."""
    with unit_of_work(engine) as session:
        filings = FilingRepository(session).list_for_person(psn_no)
    return [
        f
        for f in filings
        if (not active_only or f.active) and (valid_on is None or f.valid_on(valid_on))
    ]


def filing_history(engine: Engine, filing_id: str) -> list[FilingEvent]:
    """Every version of a filing with the event that produced it, oldest first."""
    with unit_of_work(engine) as session:
        events = FilingRepository(session).history(filing_id)
    if not events:
        raise FilingNotFoundError(filing_id)
    return events
