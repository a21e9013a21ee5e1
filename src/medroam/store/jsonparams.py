"""Rows as one JSON parameter, for PostgreSQL's ``jsonb_populate_record(set)``.

A statement that takes its rows as one JSON document has the same text for any number
of rows, so psycopg prepares it once; the table's own column types convert the values
on the server. Timestamps are written as the tables store them: aware ones as naive UTC
(``tables.naive_utc``, which refuses a naive value where an aware one is due).
"""

from __future__ import annotations

import json
from datetime import date, datetime

from medroam.store.tables import naive_utc


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return naive_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as a JSON row value")


def dumps(value: object) -> str:
    """``value`` as compact JSON, dates ISO, aware timestamps as naive UTC."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_default)
