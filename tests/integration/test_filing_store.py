"""Filing service, repository, migrations and CLI on real SQLite and real PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, delete, event, func, inspect, select, text, update
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from medroam.cli.filing import app
from medroam.domain import filing as domain
from medroam.domain.codes import FilingType
from medroam.domain.filing import (
    FilingChanges,
    FilingChannel,
    FilingError,
    FilingEventKind,
    FilingRequest,
    FilingStatus,
)
from medroam.domain.policy import FilingRules
from medroam.services import filings as service
from medroam.services.uow import unit_of_work
from medroam.store.db import current_revision, head_revision, make_engine, upgrade
from medroam.store.filings import FilingRepository, StaleFilingError
from medroam.store.tables import FilingEventRow, FilingRow, PersonRow

pytestmark = pytest.mark.db

CST = timezone(timedelta(hours=8))
RULES = FilingRules(reductions={})
HOME = "440300"
BEIJING = "110100"
SHANGHAI = "310100"


def at(day: str, hour: int = 10) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), CST).replace(hour=hour)


def request(
    filing_id: str = "F1",
    filing_type: FilingType = FilingType.LT_RETIRED,
    destination: str = BEIJING,
    valid_from: str = "2024-01-01",
    psn_no: str = "P1",
    insured_region: str = HOME,
) -> FilingRequest:
    return FilingRequest(
        filing_id=filing_id,
        psn_no=psn_no,
        insured_region=insured_region,
        filing_type=filing_type,
        destination=destination,
        valid_from=date.fromisoformat(valid_from),
        channel=FilingChannel.MINI_PROGRAM,
        commitment_only=True,
        reason="resettled with family",
    )


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


# --- migrations ------------------------------------------------------------------------


def test_migration_creates_the_schema_and_is_idempotent(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        head = head_revision()
        assert head is not None and current_revision(engine) == head
        tables = set(inspect(engine).get_table_names())
        assert {"persons", "filings", "filing_events", "alembic_version"} <= tables

        statements: list[str] = []

        def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements.append(statement.strip().split()[0].upper())

        event.listen(engine, "before_cursor_execute", record)
        upgrade(engine)  # second run: nothing to do
        upgrade(db_url)  # also through a URL
        event.remove(engine, "before_cursor_execute", record)
        assert not {"CREATE", "ALTER", "DROP", "INSERT", "UPDATE"} & set(statements)
        assert current_revision(engine) == head
        assert set(inspect(engine).get_table_names()) == tables
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        assert [v[0] for v in versions] == [head]
    finally:
        engine.dispose()


def test_sqlite_pragmas_are_applied(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    finally:
        engine.dispose()


def test_postgresql_tables_live_in_the_test_schema(pg_url: str) -> None:
    upgrade(pg_url)
    engine = make_engine(pg_url)
    with engine.connect() as connection:
        schema = connection.execute(text("SELECT current_schema()")).scalar_one()
        located = connection.execute(
            text("SELECT table_schema FROM information_schema.tables WHERE table_name = 'filings'")
        ).scalars()
        assert schema.startswith("medroam_test_")
        assert schema in list(located)
    engine.dispose()


# --- service round trips ---------------------------------------------------------------


def test_create_and_query_round_trip(engine: Engine) -> None:
    made = service.make_filing(engine, RULES, request(), at("2024-01-01"))
    temp = service.make_filing(
        engine,
        RULES,
        request("F2", FilingType.TMP_REFERRAL, SHANGHAI, "2024-02-10"),
        at("2024-02-09"),
    )
    assert temp.valid_to == date(2024, 8, 9)
    got = service.get_filing(engine, "F1")
    assert got == made
    assert got.filed_at == at("2024-01-01") and got.filed_at.tzinfo is not None
    assert (got.commitment_only, got.channel, got.reason) == (
        True,
        FilingChannel.MINI_PROGRAM,
        "resettled with family",
    )
    assert [f.filing_id for f in service.list_filings(engine, "P1")] == ["F1", "F2"]
    assert service.list_filings(engine, "P1", valid_on=date(2024, 9, 1)) == [made]
    assert service.list_filings(engine, "nobody") == []
    with unit_of_work(engine) as session:
        person = session.get(PersonRow, "P1")
        assert person is not None and person.insured_region == HOME


def test_unknown_filing_is_not_found(engine: Engine) -> None:
    with pytest.raises(service.FilingNotFoundError, match="no filing 'F404'"):
        service.get_filing(engine, "F404")
    with pytest.raises(service.FilingNotFoundError):
        service.filing_history(engine, "F404")
    with pytest.raises(service.FilingNotFoundError):
        service.cancel_filing(engine, RULES, "F404", at("2024-01-01"), "x")


def test_rules_are_checked_against_stored_filings(engine: Engine) -> None:
    service.make_filing(engine, RULES, request(), at("2024-01-01"))
    with pytest.raises(FilingError, match="already has an active long-term filing F1"):
        service.make_filing(
            engine, RULES, request("F2", FilingType.LT_WORKER, SHANGHAI), at("2024-01-02")
        )
    with pytest.raises(FilingError, match="insured in 440300, not 510100"):
        service.make_filing(engine, RULES, request("F3", insured_region="510100"), at("2024-01-02"))
    assert count(engine, FilingRow) == 1 and count(engine, FilingEventRow) == 1


def test_history_keeps_every_version(engine: Engine) -> None:
    service.make_filing(engine, RULES, request(), at("2024-01-01"))
    changes = FilingChanges(
        channel=FilingChannel.COUNTER,
        destination=SHANGHAI,
        commitment_only=False,
        reason="documents received; moved",
    )
    v2 = service.change_filing(engine, RULES, "F1", changes, at("2024-07-02"))
    v3 = service.cancel_filing(
        engine, RULES, "F1", at("2024-10-01"), "returned home", FilingChannel.PHONE
    )
    history = service.filing_history(engine, "F1")
    assert [(e.version, e.event) for e in history] == [
        (1, FilingEventKind.CREATED),
        (2, FilingEventKind.CHANGED),
        (3, FilingEventKind.CANCELLED),
    ]
    assert [e.channel for e in history] == [
        FilingChannel.MINI_PROGRAM,
        FilingChannel.COUNTER,
        FilingChannel.PHONE,
    ]
    assert [e.at for e in history] == [at("2024-01-01"), at("2024-07-02"), at("2024-10-01")]
    assert history[0].snapshot.destination == BEIJING and history[0].snapshot.commitment_only
    assert history[1].snapshot == v2 and history[2].snapshot == v3
    assert service.get_filing(engine, "F1") == v3
    assert count(engine, FilingRow) == 1


def test_cancel(engine: Engine) -> None:
    service.make_filing(
        engine, RULES, request("T1", FilingType.TMP_OTHER, SHANGHAI, "2024-03-01"), at("2024-03-01")
    )
    cancelled = service.cancel_filing(engine, RULES, "T1", at("2024-04-15"), "plans changed")
    stored = service.get_filing(engine, "T1")
    assert stored == cancelled
    assert (stored.status, stored.valid_to, stored.version) == (
        FilingStatus.CANCELLED,
        date(2024, 4, 15),
        2,
    )
    assert service.list_filings(engine, "P1", active_only=True) == []
    with pytest.raises(FilingError, match="already cancelled"):
        service.cancel_filing(engine, RULES, "T1", at("2024-04-16"), "again")
    assert len(service.filing_history(engine, "T1")) == 2


def test_lock_refuses_and_writes_nothing(engine: Engine) -> None:
    service.make_filing(engine, RULES, request(valid_from="2024-03-31"), at("2024-03-20"))
    changes = FilingChanges(channel=FilingChannel.COUNTER, destination=SHANGHAI)
    with pytest.raises(FilingError, match="cannot be changed before 2024-10-01"):
        service.change_filing(engine, RULES, "F1", changes, at("2024-09-30"))
    with pytest.raises(FilingError, match="cannot be cancelled before 2024-10-01"):
        service.cancel_filing(engine, RULES, "F1", at("2024-09-30"), "x")
    assert service.get_filing(engine, "F1").version == 1
    assert len(service.filing_history(engine, "F1")) == 1
    assert service.change_filing(engine, RULES, "F1", changes, at("2024-10-01")).version == 2


# --- all or nothing --------------------------------------------------------------------


def test_failure_in_the_middle_of_a_change_leaves_nothing_written(engine: Engine) -> None:
    original = service.make_filing(engine, RULES, request(), at("2024-01-01"))
    changes = FilingChanges(channel=FilingChannel.COUNTER, destination=SHANGHAI)
    with pytest.raises(RuntimeError, match="power cut"), unit_of_work(engine) as session:
        repo = FilingRepository(session)
        current = repo.get("F1", for_update=True)
        assert current is not None
        changed = domain.change_filing(RULES, current, changes, at("2024-08-01"))
        repo.update(
            changed, event=FilingEventKind.CHANGED, at=at("2024-08-01"), channel=changes.channel
        )
        assert repo.get("F1") == changed  # written inside the transaction ...
        raise RuntimeError("power cut")
    assert service.get_filing(engine, "F1") == original  # ... and rolled back
    assert [e.version for e in service.filing_history(engine, "F1")] == [1]


def test_service_failure_after_a_write_rolls_back(engine: Engine) -> None:
    # make_filing registers the new person P2 before it finds that F1 is taken:
    # the person row must not survive the refusal.
    service.make_filing(engine, RULES, request(), at("2024-01-01"))
    with pytest.raises(FilingError, match="filing id F1 is already taken"):
        service.make_filing(engine, RULES, request(psn_no="P2"), at("2024-01-02"))
    with unit_of_work(engine) as session:
        assert session.get(PersonRow, "P2") is None
    assert count(engine, PersonRow) == 1


def test_stale_version_is_refused(engine: Engine) -> None:
    v1 = service.make_filing(engine, RULES, request(), at("2024-01-01"))
    changes = FilingChanges(channel=FilingChannel.COUNTER, destination=SHANGHAI)
    v2 = domain.change_filing(RULES, v1, changes, at("2024-07-01"))
    service.change_filing(engine, RULES, "F1", changes, at("2024-07-01"))
    with pytest.raises(StaleFilingError, match="is at version 2"), unit_of_work(engine) as session:
        FilingRepository(session).update(
            v2, event=FilingEventKind.CHANGED, at=at("2024-07-02"), channel=changes.channel
        )
    assert len(service.filing_history(engine, "F1")) == 2


def test_history_is_append_only_in_the_database(engine: Engine) -> None:
    service.make_filing(engine, RULES, request(), at("2024-01-01"))
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(update(FilingEventRow).values(channel="phone"))
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(delete(FilingEventRow))
    assert count(engine, FilingEventRow) == 1


def test_naive_timestamps_are_refused_by_the_store(engine: Engine) -> None:
    filing = domain.new_filing(RULES, request(), at("2024-01-01"))
    with pytest.raises(Exception, match="timezone-aware"), unit_of_work(engine) as session:
        repo = FilingRepository(session)
        repo.add_person("P1", HOME)
        repo.add(filing, at=datetime(2024, 1, 1, 10), channel=FilingChannel.COUNTER)
    assert count(engine, FilingRow) == 0 and count(engine, PersonRow) == 0


def test_timestamps_are_stored_as_utc(engine: Engine) -> None:
    service.make_filing(engine, RULES, request(), at("2024-01-01", 3))
    with unit_of_work(engine) as session:
        row = session.get(FilingRow, "F1")
        assert row is not None
        assert row.filed_at == datetime(2023, 12, 31, 19, tzinfo=UTC)
        assert row.filed_at.tzinfo is UTC


# --- CLI -------------------------------------------------------------------------------


@pytest.fixture
def cli_db(engine: Engine, db_url: str) -> str:
    """The URL of a migrated database (the CLI refuses a missing SQLite file)."""
    return db_url


def run(args: list[str], db_url: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [*args, "--db", db_url])
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def test_cli_round_trip(cli_db: str) -> None:
    db_url = cli_db
    code, out, err = run(
        [
            "create",
            "--psn",
            "P9",
            "--insured-region",
            HOME,
            "--type",
            "lt_resident",
            "--destination",
            BEIJING,
            "--from",
            "2024-01-01",
            "--id",
            "C1",
            "--channel",
            "gov_app",
            "--at",
            "2024-01-01T09:00",
            "--json",
        ],
        db_url,
    )
    assert (code, err) == (0, "")
    created = json.loads(out)
    assert created["filing_type"] == "LT_RESIDENT" and created["valid_to"] is None
    assert created["filed_at"] == "2024-01-01T01:00:00+00:00"  # 09:00 Beijing time

    code, _, err = run(
        ["change", "C1", "--destination", SHANGHAI, "--at", "2024-06-30T12:00"], db_url
    )
    assert code == 2 and "cannot be changed before 2024-07-01" in err
    code, out, _ = run(
        ["change", "C1", "--destination", SHANGHAI, "--lock-months", "3", "--at", "2024-06-30"],
        db_url,
    )
    assert code == 0 and SHANGHAI in out

    code, out, _ = run(["show", "C1", "--json"], db_url)
    assert code == 0 and json.loads(out)["version"] == 2
    code, out, _ = run(["history", "C1", "--json"], db_url)
    history = json.loads(out)
    assert [(e["version"], e["event"]) for e in history] == [(1, "created"), (2, "changed")]
    assert history[0]["channel"] == "gov_app" and history[1]["channel"] == "counter"
    code, out, _ = run(["cancel", "C1", "--reason", "back home", "--at", "2024-08-01"], db_url)
    assert code == 0 and "cancelled" in out
    code, out, _ = run(["list", "--psn", "P9", "--json"], db_url)
    listed = json.loads(out)
    assert [(f["filing_id"], f["status"], f["valid_to"]) for f in listed] == [
        ("C1", "cancelled", "2024-08-01")
    ]
    code, out, _ = run(["list", "--psn", "P9"], db_url)
    assert code == 0 and "C1" in out


def test_cli_temporary_months_option(cli_db: str) -> None:
    db_url = cli_db
    code, out, _ = run(
        [
            "create",
            "--psn",
            "P9",
            "--insured-region",
            HOME,
            "--type",
            "TMP_REFERRAL",
            "--destination",
            SHANGHAI,
            "--from",
            "2024-11-30",
            "--temp-months",
            "TMP_REFERRAL=3",
            "--json",
        ],
        db_url,
    )
    assert code == 0 and json.loads(out)["valid_to"] == "2025-02-28"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "NOPE"], "error: no filing 'NOPE'"),
        (["list"], "error: missing option --psn"),
        (
            [
                "create",
                "--psn",
                "P1",
                "--insured-region",
                HOME,
                "--type",
                "LT_X",
                "--destination",
                BEIJING,
            ],
            "--type: 'LT_X' is not a filing type",
        ),
        (
            [
                "create",
                "--psn",
                "P1",
                "--insured-region",
                HOME,
                "--type",
                "TMP_OTHER",
                "--destination",
                HOME,
            ],
            "destination 440300 is the insured region itself",
        ),
        (
            [
                "create",
                "--psn",
                "P1",
                "--insured-region",
                HOME,
                "--type",
                "TMP_OTHER",
                "--destination",
                SHANGHAI,
                "--from",
                "2024-02-30",
            ],
            "--from: '2024-02-30' is not a date (YYYY-MM-DD)",
        ),
        (["cancel", "X", "--lock-months", "7"], "change_lock_months must lie between 0 and 6"),
        (["cancel", "X", "--temp-months", "six"], "'six' is not a whole number"),
        (["show", "X", "--channel", "fax"], ""),  # unknown option: Typer's own usage error
    ],
)
def test_cli_bad_input_is_one_clear_line_and_exit_2(
    cli_db: str, args: list[str], message: str
) -> None:
    code, out, err = run(args, cli_db)
    assert code == 2
    assert "Traceback" not in out + err
    assert message in err


def test_cli_bad_database_url_is_a_clear_error() -> None:
    result = CliRunner().invoke(app, ["show", "X", "--db", "nonsense"])
    assert result.exit_code == 2
    assert "'nonsense' 不是数据库地址 is not a database URL" in result.stderr
