"""``INSERT … ON CONFLICT`` on both databases (PostgreSQL and SQLite share the syntax,
SQLAlchemy spells it per dialect): the hot path's way to claim a key or add to a counter
in one statement instead of a read followed by a write."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement, TextClause

from medroam.store.fastsql import FastQuery

# Statements built once per (dialect, table, key, returned column, value names).
_built: dict[tuple[str, str, tuple[str, ...], str, tuple[str, ...], str], Any] = {}


_adding: dict[
    tuple[str, str, tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]], FastQuery
] = {}


def table_of(entity: Any) -> Table:
    """The Core table of a mapped class (Core statements skip the ORM's bookkeeping)."""
    return cast(Table, entity.__table__)


def _insert(session: Session, table: Table) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"ON CONFLICT on {dialect}")  # pragma: no cover


def insert_new(
    session: Session,
    table: Table,
    values: Mapping[str, Any],
    conflict: Sequence[str],
    returning: Any,
    *,
    where: ColumnElement[bool] | TextClause | None = None,
) -> Any:
    """Insert a row unless one with the same ``conflict`` key exists (``where``: the
    predicate of a partial unique index). Returns the ``returning`` column of the new
    row, or None when the key was taken (no row written). (RETURNING, not the row count:
    the row count of a PostgreSQL ``DO NOTHING`` insert is not reliable through the
    driver.)"""
    dialect = session.get_bind().dialect.name
    key = (dialect, table.name, tuple(conflict), str(returning), tuple(values), str(where))
    query = _built.get(key)
    if query is None:
        query = FastQuery(
            _insert(session, table)
            .values({k: bindparam(k, type_=table.c[k].type) for k in values})
            .on_conflict_do_nothing(index_elements=list(conflict), index_where=where)
            .returning(returning)
        )
        _built[key] = query
    row = query.first(session, values)
    return None if row is None else row[0]


def insert_or_add(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    key: Sequence[str],
    add: Sequence[str],
    replace: Sequence[str] = (),
) -> None:
    """Insert ``rows``; where a key exists, add the ``add`` columns to the stored values
    and overwrite the ``replace`` ones. One statement (an executemany) for all rows."""
    if not rows:
        return
    # One single-row statement executed for every row (psycopg pipelines them): a
    # multi-row VALUES would be a new, uncached statement text for every row count.
    dialect = session.get_bind().dialect.name
    columns = tuple(rows[0])
    built_key = (dialect, table.name, tuple(key), tuple(add), tuple(replace), columns)
    query = _adding.get(built_key)
    if query is None:
        base = _insert(session, table).values(
            {c: bindparam(c, type_=table.c[c].type) for c in columns}
        )
        updates: dict[str, Any] = {c: table.c[c] + base.excluded[c] for c in add}
        updates.update({c: base.excluded[c] for c in replace})
        query = _adding[built_key] = FastQuery(
            base.on_conflict_do_update(index_elements=list(key), set_=updates)
        )
    query.execute_many(session, rows)
