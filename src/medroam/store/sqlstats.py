"""Per-request counts of SQL statements and commits, for benchmarks and diagnosis.

Off unless asked for (``MEDROAM_SQL_STATS=1`` or :func:`install`): two engine events
count, per thread, the statements sent (``before_cursor_execute``; an ``executemany`` is
one statement and one round trip) and the commits. The gateway runs each request in one
worker thread, so :func:`begin` … :func:`snapshot` around a request gives its own counts,
which ``medroam serve`` then sends back in the ``x-medroam-sql`` header
(``statements=N;commits=M``) for the load generator to add up.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event

ENV_VAR = "MEDROAM_SQL_STATS"
HEADER = "x-medroam-sql"

_local = threading.local()


@dataclass(frozen=True, slots=True)
class Counts:
    statements: int = 0
    commits: int = 0

    def header(self) -> str:
        # the worker's pid too: benchmarks and tests see how connections spread
        return f"statements={self.statements};commits={self.commits};worker={os.getpid()}"


def enabled_by_env() -> bool:
    return os.environ.get(ENV_VAR, "") not in ("", "0", "false", "no")


def install(engine: Engine) -> None:
    """Count on ``engine`` from now on (idempotent)."""
    if getattr(engine, "_medroam_sqlstats", False):
        return
    event.listen(engine, "before_cursor_execute", _on_statement)
    event.listen(engine, "commit", _on_commit)
    engine._medroam_sqlstats = True  # type: ignore[attr-defined]


def is_installed(engine: Engine) -> bool:
    return bool(getattr(engine, "_medroam_sqlstats", False))


def _on_statement(*_args: Any, **_kwargs: Any) -> None:
    _local.statements = getattr(_local, "statements", 0) + 1


def count_statement() -> None:
    """Count a statement sent past the engine's events (``store.fastsql``)."""
    _on_statement()


def _on_commit(*_args: Any) -> None:
    _local.commits = getattr(_local, "commits", 0) + 1


def begin() -> None:
    """Start counting this thread's work afresh."""
    _local.statements = 0
    _local.commits = 0


def snapshot() -> Counts:
    return Counts(getattr(_local, "statements", 0), getattr(_local, "commits", 0))


def worker_of(value: str) -> int | None:
    """The pid of the worker that answered, from a ``x-medroam-sql`` header."""
    parts = dict(p.split("=", 1) for p in value.split(";") if "=" in p)
    worker = parts.get("worker", "")
    return int(worker) if worker.isdigit() else None


def parse_header(value: str) -> Counts:
    """The counts of a ``x-medroam-sql`` header (zeros when absent or malformed)."""
    parts = dict(p.split("=", 1) for p in value.split(";") if "=" in p)
    try:
        return Counts(int(parts.get("statements", 0)), int(parts.get("commits", 0)))
    except ValueError:
        return Counts()
