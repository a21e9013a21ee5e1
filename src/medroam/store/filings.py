"""Filing repository: rows ↔ domain :class:`~medroam.domain.filing.Filing`.

``filings`` holds the current version of each filing; every write also appends the
filing as it now stands to ``filing_events``. The repository never commits: the unit of
work around it does.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from medroam.domain.codes import FilingType
from medroam.domain.filing import (
    Filing,
    FilingChannel,
    FilingEvent,
    FilingEventKind,
    FilingStatus,
)
from medroam.store.fastsql import FastQuery
from medroam.store.tables import FilingEventRow, FilingRow, PersonRow


class StaleFilingError(RuntimeError):
    """The filing changed (or vanished) since it was read: retry the use case."""


def filing_to_record(filing: Filing) -> dict[str, Any]:
    """The JSON form of a filing (event snapshots, CLI ``--json``)."""
    return {
        "filing_id": filing.filing_id,
        "psn_no": filing.psn_no,
        "insured_region": filing.insured_region,
        "filing_type": filing.filing_type.value,
        "destination": filing.destination,
        "valid_from": filing.valid_from.isoformat(),
        "valid_to": None if filing.valid_to is None else filing.valid_to.isoformat(),
        "filed_at": filing.filed_at.astimezone(UTC).isoformat(),
        "channel": filing.channel.value,
        "status": filing.status.value,
        "version": filing.version,
        "commitment_only": filing.commitment_only,
        "reason": filing.reason,
    }


def filing_from_record(record: dict[str, Any]) -> Filing:
    valid_to = record["valid_to"]
    return Filing(
        filing_id=record["filing_id"],
        psn_no=record["psn_no"],
        insured_region=record["insured_region"],
        filing_type=FilingType(record["filing_type"]),
        destination=record["destination"],
        valid_from=date.fromisoformat(record["valid_from"]),
        valid_to=None if valid_to is None else date.fromisoformat(valid_to),
        filed_at=datetime.fromisoformat(record["filed_at"]),
        channel=FilingChannel(record["channel"]),
        status=FilingStatus(record["status"]),
        version=int(record["version"]),
        commitment_only=bool(record["commitment_only"]),
        reason=record["reason"],
    )


_FILINGS = cast(Table, FilingRow.__table__)
_FILINGS_OF_PERSON = FastQuery(
    select(_FILINGS)
    .where(_FILINGS.c.psn_no == bindparam("psn_no"))
    .order_by(_FILINGS.c.valid_from, _FILINGS.c.filed_at, _FILINGS.c.filing_id)
)


def _to_domain(row: Any) -> Filing:
    """A filing from a ``filings`` row (an ORM entity or a plain row)."""
    return Filing(
        filing_id=row.filing_id,
        psn_no=row.psn_no,
        insured_region=row.insured_region,
        filing_type=FilingType(row.filing_type),
        destination=row.destination,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        filed_at=row.filed_at,
        channel=FilingChannel(row.channel),
        status=FilingStatus(row.status),
        version=row.version,
        commitment_only=row.commitment_only,
        reason=row.reason,
    )


def _copy_into(row: FilingRow, filing: Filing, at: datetime) -> None:
    row.psn_no = filing.psn_no
    row.insured_region = filing.insured_region
    row.filing_type = filing.filing_type.value
    row.destination = filing.destination
    row.valid_from = filing.valid_from
    row.valid_to = filing.valid_to
    row.filed_at = filing.filed_at
    row.channel = filing.channel.value
    row.status = filing.status.value
    row.version = filing.version
    row.commitment_only = filing.commitment_only
    row.reason = filing.reason
    row.updated_at = at


class FilingRepository:
    """Filings and their history inside one session (one unit of work)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # persons (minimal until the person registry arrives)

    def person_region(self, psn_no: str, *, lock: bool = False) -> str | None:
        """The person's insured region, or None when the person is unknown.

        ``lock`` takes the person's row lock (PostgreSQL), serialising concurrent filing
        use cases of one person; on SQLite the unit of work already holds the write lock.
        """
        stmt = select(PersonRow.insured_region).where(PersonRow.psn_no == psn_no)
        if lock:
            stmt = stmt.with_for_update()
        return self.session.execute(stmt).scalar_one_or_none()

    def add_person(self, psn_no: str, insured_region: str) -> None:
        self.session.add(PersonRow(psn_no=psn_no, insured_region=insured_region))
        self.session.flush()

    # filings

    def add(self, filing: Filing, *, at: datetime, channel: FilingChannel) -> None:
        """Insert version 1 of a filing and its ``created`` event."""
        if filing.version != 1:
            raise ValueError(f"a new filing starts at version 1, got {filing.version}")
        row = FilingRow(filing_id=filing.filing_id)
        _copy_into(row, filing, at)
        self.session.add(row)
        self.session.flush()
        self._append(filing, FilingEventKind.CREATED, at, channel)

    def get(self, filing_id: str, *, for_update: bool = False) -> Filing | None:
        stmt = select(FilingRow).where(FilingRow.filing_id == filing_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = self.session.execute(stmt.execution_options(populate_existing=True)).scalar()
        return None if row is None else _to_domain(row)

    def list_for_person(self, psn_no: str) -> list[Filing]:
        # plain rows from a prebuilt query: read by every settlement
        rows = _FILINGS_OF_PERSON.all(self.session, {"psn_no": psn_no})
        return [_to_domain(row) for row in rows]

    def update(
        self, filing: Filing, *, event: FilingEventKind, at: datetime, channel: FilingChannel
    ) -> None:
        """Store the next version of a filing (the stored one must be ``version - 1``)
        and append its event."""
        if event is FilingEventKind.CREATED:
            raise ValueError("use add() for a new filing")
        row = self.session.get(FilingRow, filing.filing_id, populate_existing=True)
        if row is None:
            raise StaleFilingError(f"filing {filing.filing_id} does not exist")
        if row.version != filing.version - 1:
            raise StaleFilingError(
                f"filing {filing.filing_id} is at version {row.version}; cannot store "
                f"version {filing.version}"
            )
        _copy_into(row, filing, at)
        self.session.flush()
        self._append(filing, event, at, channel)

    def history(self, filing_id: str) -> list[FilingEvent]:
        stmt = (
            select(FilingEventRow)
            .where(FilingEventRow.filing_id == filing_id)
            .order_by(FilingEventRow.version)
        )
        return [
            FilingEvent(
                filing_id=row.filing_id,
                version=row.version,
                event=FilingEventKind(row.event),
                at=row.at,
                channel=FilingChannel(row.channel),
                snapshot=filing_from_record(row.snapshot),
            )
            for row in self.session.execute(stmt).scalars()
        ]

    def _append(
        self, filing: Filing, event: FilingEventKind, at: datetime, channel: FilingChannel
    ) -> None:
        self.session.add(
            FilingEventRow(
                filing_id=filing.filing_id,
                version=filing.version,
                event=event.value,
                at=at,
                channel=channel.value,
                snapshot=filing_to_record(filing),
            )
        )
        self.session.flush()
