"""Engines and schema migrations.

SQLite is the embedded default (one file, WAL journal, foreign keys on); PostgreSQL is
the production database. The same Alembic migrations, packaged with medroam, serve both.
"""

from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection

DEFAULT_URL = "sqlite:///./medroam.db"
ENV_VAR = "MEDROAM_DB"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5000
# Any constant: serialises concurrent first-use migrations of one PostgreSQL schema.
_PG_MIGRATION_LOCK = 0x6D6564726F616D  # "medroam"


def database_url(url: str | None = None) -> str:
    """``url`` if given, else env ``MEDROAM_DB``, else ``sqlite:///./medroam.db``."""
    return url or os.environ.get(ENV_VAR) or DEFAULT_URL


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An engine for ``url`` (see :func:`database_url`).

    Statement parameters are hidden from exception texts (``hide_parameters``).
    On SQLite every new connection gets WAL, foreign keys and a busy timeout, and each
    transaction starts with ``BEGIN IMMEDIATE``: the driver's own implicit transactions
    would leave DDL and reads outside the transaction, and a deferred transaction could
    not wait for the write lock after reading (read-check-write use cases need that).
    """
    # SQL parameters hold ID numbers, card numbers and names: never print them in an
    # exception's text (tracebacks are logged).
    kwargs.setdefault("hide_parameters", True)
    engine = create_engine(database_url(url), **kwargs)
    if engine.dialect.name == "sqlite":
        gate = _WriterGate()
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", gate.begin)
        event.listen(engine, "commit", gate.end)
        event.listen(engine, "rollback", gate.end)
        event.listen(engine.pool, "checkin", gate.checkin)
        _gates[engine] = gate
    return engine


def writer_gate_held(engine: Engine) -> bool:
    """Whether a transaction of this process holds the SQLite engine's writer gate."""
    gate = _gates.get(engine)
    return gate is not None and gate.held()


_gates: weakref.WeakKeyDictionary[Engine, _WriterGate] = weakref.WeakKeyDictionary()


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (_WriterGate.begin)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


class _WriterGate:
    """One SQLite transaction at a time per engine in this process, queued on a lock.

    SQLite lets one writer in; the others wait in its busy handler, which polls with
    sleeps of up to 100 ms, so under concurrency a waiting request sleeps on after the
    lock is free (p99 of hundreds of ms at 4 HIS connections). Here the threads of one
    process queue on a lock and the next one starts as soon as the previous commits.
    Other processes (a CLI beside the server) still meet SQLite's own busy timeout; a
    thread that cannot get the gate within that timeout goes on to SQLite and its
    timeout, so the gate never waits forever."""

    _KEY = "medroam_sqlite_gate"

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def begin(self, connection: Connection) -> None:
        if self._lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
            connection.info[self._KEY] = True
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            self.end(connection)
            raise

    def held(self) -> bool:
        return self._lock.locked()

    def end(self, connection: Connection) -> None:
        if connection.info.pop(self._KEY, False):
            self._lock.release()

    def checkin(self, _dbapi_connection: Any, record: Any) -> None:
        # a connection returned without commit or rollback events (pool reset)
        if record is not None and record.info.pop(self._KEY, False):
            self._lock.release()


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration pointing at the packaged migrations (no ini file)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url(url).replace("%", "%%"))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(url_or_engine: str | Engine | None = None, revision: str = "head") -> None:
    """Bring the database to ``revision`` in one transaction; a no-op when it is there."""
    if isinstance(url_or_engine, Engine):
        _upgrade(url_or_engine, revision)
        return
    engine = make_engine(url_or_engine)
    try:
        _upgrade(engine, revision)
    finally:
        engine.dispose()


def _upgrade(engine: Engine, revision: str) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
            )
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
