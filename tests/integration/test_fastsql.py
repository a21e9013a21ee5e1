"""``store.fastsql``: hot-path reads on the driver connection give exactly what the
session gives, on SQLite (dates stored as text, converted back) and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import Date, Engine, bindparam, select, text, update
from sqlalchemy.exc import OperationalError

from medroam.services.uow import unit_of_work
from medroam.store import sqlstats
from medroam.store.fastsql import FastQuery
from medroam.store.filings import _FILINGS_OF_PERSON
from medroam.store.insured_place import SqlInsuredPlace
from medroam.store.tables import AccountRow, FilingRow, UtcDateTime
from tests.integration.test_settlement_service_support import EMPLOYEE_HHHT

pytestmark = pytest.mark.db

CHINA = timezone(timedelta(hours=8))


def test_rows_equal_the_sessions_with_dates_and_utc_times(world: Engine) -> None:
    """The filings of 呼和浩特's employee (filed long-term to 北京): every column, typed
    as the session types it (date, aware UTC datetime), in the same order."""
    with unit_of_work(world) as s:
        fast = _FILINGS_OF_PERSON.all(s, {"psn_no": EMPLOYEE_HHHT})
        slow = s.execute(_FILINGS_OF_PERSON.statement, {"psn_no": EMPLOYEE_HHHT}).all()
    assert fast, "the world has a filing for this person"
    assert [tuple(r) for r in fast] == [tuple(r) for r in slow]
    assert isinstance(fast[0].valid_from, date)
    assert fast[0].filed_at.tzinfo is UTC
    assert fast[0].psn_no == EMPLOYEE_HHHT  # read by column name


def test_bound_dates_and_aware_times_are_converted(world: Engine) -> None:
    """A date and an aware China-time datetime as parameters: SQLite needs them as text,
    the column type stores naive UTC. The filing is found from its first day on and from
    its filing time on (the same instant given in China time), not a day or a second
    before."""
    query = FastQuery(
        select(FilingRow.filing_id).where(
            FilingRow.psn_no == bindparam("psn_no"),
            FilingRow.valid_from <= bindparam("day", type_=Date),
            FilingRow.filed_at <= bindparam("at", type_=UtcDateTime),
        )
    )
    with unit_of_work(world) as s:
        (filing,) = _FILINGS_OF_PERSON.all(s, {"psn_no": EMPLOYEE_HHHT})
        day, at = filing.valid_from, filing.filed_at.astimezone(CHINA)

        def ids(day: date, at: datetime) -> list[str]:
            rows = query.all(s, {"psn_no": EMPLOYEE_HHHT, "day": day, "at": at})
            return [r.filing_id for r in rows]

        assert ids(day, at) == [filing.filing_id]
        assert ids(day - timedelta(days=1), at) == []
        # 8 hours ahead in text: without the column type's conversion to naive UTC,
        # SQLite would compare the China-time text and find it
        assert ids(day, at - timedelta(seconds=1)) == []


def test_statements_are_counted(world: Engine) -> None:
    """Two reads, two statements (counted after the transaction's own BEGIN)."""
    sqlstats.install(world)
    with unit_of_work(world) as s:
        s.connection()
        sqlstats.begin()
        SqlInsuredPlace(s).person(EMPLOYEE_HHHT)
        SqlInsuredPlace(s).benefit_state(EMPLOYEE_HHHT, "310", 2026)
        assert sqlstats.snapshot().statements == 2


def test_driver_errors_come_back_as_sqlalchemy_errors(world: Engine) -> None:
    """A lock held by another transaction and a 0.3 s lock timeout: the read under
    ``FOR UPDATE`` fails with SQLAlchemy's OperationalError, as through the session."""
    if world.dialect.name != "postgresql":
        pytest.skip("SQLite has no row locks")
    locked = FastQuery(
        select(AccountRow.balance).where(AccountRow.psn_no == bindparam("p")).with_for_update()
    )
    with unit_of_work(world) as first:
        first.execute(
            update(AccountRow).where(AccountRow.psn_no == EMPLOYEE_HHHT).values(balance=1)
        )
        with unit_of_work(world) as second:
            second.execute(text("SET LOCAL lock_timeout = '300ms'"))
            with pytest.raises(OperationalError, match="lock timeout"):
                locked.all(second, {"p": EMPLOYEE_HHHT})
            second.rollback()


def test_pending_orm_changes_are_flushed_before_reading(world: Engine) -> None:
    """As ``Session.execute`` would: a balance changed on a loaded ORM object and not yet
    flushed is what the fast read sees."""
    read = FastQuery(select(AccountRow.balance).where(AccountRow.psn_no == bindparam("p")))
    with unit_of_work(world) as s:
        row = s.get(AccountRow, EMPLOYEE_HHHT)
        assert row is not None
        row.balance = 123
        assert read.all(s, {"p": EMPLOYEE_HHHT})[0].balance == 123
