"""Database fixtures: every DB test runs on SQLite (a fresh file) and on PostgreSQL (a
fresh schema with a random name, dropped afterwards).

PostgreSQL comes from env ``MEDROAM_TEST_PG_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``). If it does not answer, the
PostgreSQL tests FAIL, unless env ``MEDROAM_SKIP_PG=1``, which skips them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from medroam.store import refdata_cache
from medroam.store.db import make_engine, upgrade
from tests.integration.test_settlement_service_support import build_world

PG_DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS = ["sqlite", "postgresql"]


def _pg_admin_engine(url: str) -> Engine:
    return create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})


@pytest.fixture(scope="session")
def pg_base_url() -> str:
    """The PostgreSQL server URL, checked once per session."""
    url = os.environ.get("MEDROAM_TEST_PG_URL", PG_DEFAULT_URL)
    engine = _pg_admin_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        message = (
            f"PostgreSQL at {make_url(url).render_as_string(hide_password=True)} does not "
            f"answer ({reason}). Start it, point MEDROAM_TEST_PG_URL at one, or set "
            f"MEDROAM_SKIP_PG=1 to skip the PostgreSQL tests."
        )
        if os.environ.get("MEDROAM_SKIP_PG") == "1":
            pytest.skip(message)
        pytest.fail(message, pytrace=False)
    finally:
        engine.dispose()
    return url


def _pg_schema_url(base_url: str) -> Iterator[str]:
    schema = f"medroam_test_{uuid.uuid4().hex[:16]}"
    admin = _pg_admin_engine(base_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text("SET LOCAL lock_timeout = '10s'"))
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A URL to a fresh, empty SQLite file."""
    return f"sqlite:///{tmp_path / 'medroam.db'}"


@pytest.fixture
def pg_url(pg_base_url: str) -> Iterator[str]:
    """A URL to a fresh, empty PostgreSQL schema (``search_path`` set), dropped after."""
    yield from _pg_schema_url(pg_base_url)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> str:
    """A URL to an empty database of each backend (not migrated)."""
    url: str = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated database of each backend."""
    engine = make_engine(db_url)
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def world(engine: Engine) -> Iterator[Engine]:
    """The settlement tests' synthetic world (``test_settlement_service_support``) on
    each backend, with the reference-data caches emptied first."""
    refdata_cache.clear_caches()
    build_world(engine)
    yield engine
