"""SQLite's writer gate (``store.db._WriterGate``): the transactions of one process queue
on a lock instead of polling SQLite's busy handler, and every way a transaction ends
lets the next one in."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from medroam.services.uow import unit_of_work
from medroam.store.db import make_engine, writer_gate_held


@pytest.fixture
def sqlite(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'gate.db'}")
    with engine.begin() as c:
        c.execute(text("CREATE TABLE t (n INTEGER)"))
    return engine


def _second_waits_for_first(engine: Engine, end_first: str) -> list[str]:
    """Thread 1 opens a transaction and holds it 0.3 s, then ends it by ``end_first``;
    thread 2 starts a transaction meanwhile. The order of events says who waited."""
    events: list[str] = []
    opened = threading.Event()

    def first() -> None:
        connection = engine.connect()
        connection.begin()
        connection.execute(text("INSERT INTO t VALUES (1)"))
        opened.set()
        time.sleep(0.3)
        events.append("first ends")
        if end_first == "commit":
            connection.commit()
        elif end_first == "rollback":
            connection.rollback()
        connection.close()  # "close": returned to the pool with the transaction open

    def second() -> None:
        opened.wait()
        with engine.begin() as connection:
            events.append("second in")
            connection.execute(text("INSERT INTO t VALUES (2)"))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=10)
    return events


@pytest.mark.parametrize("end_first", ["commit", "rollback", "close"])
def test_a_second_transaction_starts_when_the_first_ends(sqlite: Engine, end_first: str) -> None:
    assert _second_waits_for_first(sqlite, end_first) == ["first ends", "second in"]
    with sqlite.connect() as c:
        rows = sorted(n for (n,) in c.execute(text("SELECT n FROM t")))
    assert rows == ([1, 2] if end_first == "commit" else [2])


def test_the_gate_is_held_by_a_unit_of_work_and_released_by_its_end(sqlite: Engine) -> None:
    """Held while a unit of work runs; released when it commits and when an error rolls
    it back (a leaked gate would make every later transaction wait out the timeout)."""
    assert not writer_gate_held(sqlite)
    with unit_of_work(sqlite) as s:
        s.execute(text("INSERT INTO t VALUES (1)"))
        assert writer_gate_held(sqlite)
    assert not writer_gate_held(sqlite)
    with pytest.raises(RuntimeError), unit_of_work(sqlite) as s:
        s.execute(text("INSERT INTO t VALUES (2)"))
        raise RuntimeError("boom")
    assert not writer_gate_held(sqlite)
