"""The models (``store/tables.py``) and the migrations describe the same schema.

A fresh database upgraded to the head revision is compared with ``Base.metadata`` by
Alembic's autogenerate comparison (tables, columns, types, nullability, indexes, unique
and foreign-key constraints), on SQLite and on PostgreSQL: any difference is drift.
"""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from medroam.store.db import alembic_config, make_engine, upgrade
from medroam.store.tables import Base

pytestmark = pytest.mark.db


def _describe(diff: Any) -> str:
    return repr(diff)


def test_upgraded_database_matches_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diffs = compare_metadata(context, Base.metadata)
        assert not diffs, "schema drift:\n" + "\n".join(_describe(d) for d in diffs)
    finally:
        engine.dispose()


def test_every_model_table_exists_after_upgrade(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
    finally:
        engine.dispose()


def test_downgrade_to_the_gateway_revision_and_back(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        config = alembic_config(engine.url.render_as_string(hide_password=False))
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0002")
        tables = set(inspect(engine).get_table_names())
        assert "settlements" not in tables and "persons" in tables
        upgrade(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert not compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
