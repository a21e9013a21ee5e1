"""Run an Ibis expression where the data is.

* On the operational database, :func:`fetch` compiles the expression to the
  connection's dialect (``ibis.to_sql``) and runs it on the caller's SQLAlchemy
  connection, inside the caller's transaction: a clearing run marks its lines, computes
  and posts in one unit of work, and sees its own uncommitted marks.
* Anywhere else (DuckDB over Parquet), the expression is bound to an Ibis backend and
  :func:`fetch` executes it there.

Either way the result is a ``pyarrow.Table`` with the expression's schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis  # type: ignore[import-untyped]
import ibis.expr.types as ir  # type: ignore[import-untyped]
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from sqlalchemy import text
from sqlalchemy.engine import Connection

from medroam.batch.lines import (
    ADJUSTMENTS_SCHEMA,
    DETAILS_SCHEMA,
    DRAWS_SCHEMA,
    ITEMS_SCHEMA,
    LINE_SCHEMA,
    SETTLEMENTS_SCHEMA,
    adjustment_lines,
    settlement_lines,
)

_DIALECTS = {"sqlite": "sqlite", "postgresql": "postgres", "duckdb": "duckdb"}


def dialect_of(connection: Connection) -> str:
    name = connection.dialect.name
    try:
        return _DIALECTS[name]
    except KeyError:
        raise ValueError(f"no Ibis dialect for database {name!r}") from None


def to_sql(expr: ir.Expr, connection: Connection) -> str:
    return str(ibis.to_sql(expr, dialect=dialect_of(connection)))


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    return value


def fetch(expr: ir.Table, connection: Connection | None = None) -> pa.Table:
    """The rows of ``expr`` as Arrow: on ``connection`` if given, else on its backend."""
    schema = expr.schema().to_pyarrow()
    if connection is None:
        return expr.to_pyarrow().cast(schema)
    result = connection.execute(text(to_sql(expr, connection)))
    rows = result.fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
    arrays = [
        pa.array([_plain(v) for v in col], type=field.type)
        for col, field in zip(columns, schema, strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def operational_tables() -> tuple[ir.Table, ir.Table, ir.Table]:
    """Unbound Ibis tables over the operational schema (compiled per connection)."""
    return (
        ibis.table(SETTLEMENTS_SCHEMA, name="settlements"),
        ibis.table(DETAILS_SCHEMA, name="settlement_details"),
        ibis.table(ITEMS_SCHEMA, name="clearing_items"),
    )


def adjustments_table() -> ir.Table:
    """Unbound Ibis table over the supervision cases' clearing adjustments."""
    return ibis.table(ADJUSTMENTS_SCHEMA, name="case_adjustments")


def operational_lines() -> ir.Table:
    """The clearing-lines view over the operational tables (unbound): settlement lines
    and the (negative) lines of supervision-case adjustments."""
    settlements, details, items = operational_tables()
    draws = ibis.table(DRAWS_SCHEMA, name="mutual_aid_draws")
    lines = settlement_lines(settlements, details, items, draws)
    return lines.union(adjustment_lines(adjustments_table(), settlements), distinct=False)


def stream(
    expr: ir.Table, connection: Connection, batch_rows: int = 100_000
) -> Iterator[pa.RecordBatch]:
    """Rows of ``expr`` from the connection in Arrow record batches (bounded memory)."""
    schema = expr.schema().to_pyarrow()
    result = connection.execution_options(yield_per=batch_rows).execute(
        text(to_sql(expr, connection))
    )
    for part in result.partitions():
        columns = list(zip(*part, strict=True))
        yield pa.RecordBatch.from_arrays(
            [
                pa.array([_plain(v) for v in col], type=field.type)
                for col, field in zip(columns, schema, strict=True)
            ],
            schema=schema,
        )


def write_parquet(batches: Iterator[pa.RecordBatch], path: Path, schema: pa.Schema) -> int:
    """Write record batches to one Parquet file; the number of rows written."""
    rows = 0
    with pq.ParquetWriter(path, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows


def line_arrow_schema() -> pa.Schema:
    return LINE_SCHEMA.to_pyarrow()


def duckdb_lines(paths: list[Path] | Path, connection: Any | None = None) -> ir.Table:
    """Clearing lines read from Parquet by DuckDB (an in-memory DuckDB unless given)."""
    con = connection if connection is not None else ibis.duckdb.connect()
    files = [str(p) for p in (paths if isinstance(paths, list) else [paths])]
    table = con.read_parquet(files)
    return table.select(*[table[c].cast(t) for c, t in LINE_SCHEMA.items()])
