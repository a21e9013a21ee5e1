"""Engines and schema migrations.

SQLite is the embedded default (one file, WAL journal, foreign keys on); PostgreSQL is
the production database. The same Alembic migrations, packaged with medroam, serve both.
"""

from __future__ import annotations

import os
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
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see _sqlite_on_begin)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


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
