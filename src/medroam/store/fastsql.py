"""Hot-path statements on the session's own driver connection; rows as plain tuples.

SQLAlchemy's ``Session.execute`` costs about 0.09 ms of CPU per statement on top of
psycopg's own work (result metadata, cursor description objects, row wrappers), measured
on a 16-column primary-key read: 0.146 ms through the session against 0.057 ms for the
same prepared statement on the psycopg connection. A settlement reads a handful of rows
per call, so that overhead was a large share of a call's CPU (docs/performance.md).

:class:`FastQuery` compiles a Core ``SELECT`` once per dialect with SQLAlchemy (so the
SQL, the quoting and the type conversions are SQLAlchemy's, not a second hand-written
copy), then runs it on the DBAPI connection of the session's current transaction: the
same transaction, locks and isolation as any other statement of the unit of work, and,
as ``Session.execute`` does, pending ORM changes are flushed first. Bind
and result conversions of the statement's types are applied (SQLite stores dates as
text; PostgreSQL needs none for the types read here). Errors come back as SQLAlchemy's
exceptions (``OperationalError`` for a lock timeout, …), statements are counted by
:mod:`medroam.store.sqlstats` as any other.

For the hot path's reads, whose rows the caller turns into plain values itself, and its
few fixed-shape writes (the message log, a new visit, a settlement's one statement);
anything the ORM must track stays on the session.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ClauseElement

from medroam.store import sqlstats

Processor = Callable[[Any], Any] | None


@dataclass(slots=True)
class _Compiled:
    sql: str
    defaults: dict[str, Any]  # literal parameters of the statement itself
    order: tuple[str, ...] | None  # parameter names in order, for positional paramstyles
    binds: dict[str, Callable[[Any], Any]]
    types: list[Any]  # the result columns' SQLAlchemy types
    row: Callable[[Any], Any]  # a named tuple's _make: rows read by column name
    results: list[Processor] | None = None  # known after the first run (needs cursor types)
    has_rows: bool = True  # after the first run: whether the statement returns rows
    prepare: bool = False


class FastQuery:
    """A Core statement compiled once per dialect, run on the driver connection; rows
    come back as tuples."""

    __slots__ = ("_by_dialect", "statement")

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}

    def _compiled(self, dialect: Dialect) -> _Compiled:
        key = f"{dialect.name}+{dialect.driver}"
        found = self._by_dialect.get(key)
        if found is None:
            compiled: Any = self.statement.compile(dialect=dialect)
            order = tuple(compiled.positiontup) if compiled.positiontup else None
            found = _Compiled(
                sql=compiled.string,
                defaults={k: v for k, v in compiled.params.items() if v is not None},
                order=order,
                binds=dict(compiled._bind_processors),
                types=[col.type for col in compiled._result_columns],
                row=_row_class([col.keyname for col in compiled._result_columns])._make,
                prepare=dialect.driver == "psycopg",
            )
            self._by_dialect[key] = found
        return found

    def all(self, session: Session, params: Mapping[str, Any]) -> list[Any]:
        """Every row, as named tuples (``row.psn_no`` or ``row[0]``) in the select's
        column order."""
        make = self._compiled(session.get_bind().dialect).row
        return [make(r) for r in self.tuples(session, params)]

    def tuples(self, session: Session, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every row as a plain tuple, converted, in the select's column order."""
        c, dialect, cursor = self._cursor(session)
        args = _args(c, params)
        try:
            if c.prepare:
                cursor.execute(c.sql, args, prepare=True)
            else:
                cursor.execute(c.sql, args)
            if c.results is None:  # first run (psycopg builds .description anew per call)
                c.has_rows = cursor.description is not None
                c.results = _result_processors(c.types, dialect, cursor.description)
            raw: list[tuple[Any, ...]] = cursor.fetchall() if c.has_rows else []
        except dialect.loaded_dbapi.Error as error:
            raise _wrapped(c, args, error, dialect) from error
        finally:
            cursor.close()
        procs = c.results
        if raw and any(procs):
            return [
                tuple(v if p is None else p(v) for p, v in zip(procs, r, strict=True)) for r in raw
            ]
        return raw

    def execute_many(self, session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
        """Run a statement that returns nothing once per parameter set, as one
        ``executemany`` (one statement for the counts, as SQLAlchemy counts it); the
        rows it changed in all (the driver's ``rowcount``, summed over the sets)."""
        if not rows:
            return 0
        c, dialect, cursor = self._cursor(session)
        batch = [_args(c, r) for r in rows]
        try:
            cursor.executemany(c.sql, batch)
            changed: int = cursor.rowcount
        except dialect.loaded_dbapi.Error as error:
            raise _wrapped(c, batch, error, dialect) from error
        finally:
            cursor.close()
        return changed

    def _cursor(self, session: Session) -> tuple[_Compiled, Dialect, Any]:
        """The compiled form and a driver cursor of the session's transaction (pending
        ORM changes flushed first, as ``Session.execute`` does; the statement counted)."""
        session._autoflush()
        connection = session.connection()
        if sqlstats.is_installed(connection.engine):
            sqlstats.count_statement()
        driver: Any = connection.connection.driver_connection
        return self._compiled(connection.dialect), connection.dialect, driver.cursor()

    def execute(self, session: Session, params: Mapping[str, Any]) -> None:
        """Run a statement whose rows (if any) are not wanted."""
        self.tuples(session, params)

    def first(self, session: Session, params: Mapping[str, Any]) -> Any | None:
        rows = self.all(session, params)
        return rows[0] if rows else None


def _wrapped(c: _Compiled, args: Any, error: Exception, dialect: Dialect) -> exc.StatementError:
    """A driver error as SQLAlchemy's exception (IntegrityError, OperationalError, …)."""
    return exc.DBAPIError.instance(c.sql, args, error, dialect.loaded_dbapi.Error, dialect=dialect)


def _args(c: _Compiled, params: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
    """The driver's parameters: the statement's own literals, the caller's values, each
    through its type's bind conversion; positional for a positional paramstyle."""
    values = {**c.defaults, **params} if c.defaults else dict(params)
    for name, process in c.binds.items():
        if name in values:
            values[name] = process(values[name])
    return [values[n] for n in c.order] if c.order is not None else values


def _row_class(names: list[str]) -> Any:
    return namedtuple("Row", names, rename=True)


def _result_processors(
    types: list[Any], dialect: Dialect, description: Sequence[Any] | None
) -> list[Processor]:
    # SQLAlchemy's own conversions; some (psycopg's Numeric) depend on the cursor's type.
    # A text() statement has no typed columns: its values come as the driver gives them.
    if not description or len(types) != len(description):
        return [None] * len(description or ())
    codes = [d[1] for d in description]
    return [t._cached_result_processor(dialect, code) for t, code in zip(types, codes, strict=True)]
