"""Helpers shared by the CLI commands: consoles and the one way to fail."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from sqlalchemy import Engine

console = Console()
if not console.is_terminal:  # piped or captured: do not squeeze tables into 80 columns
    console.width = 140
err_console = Console(stderr=True)

# The --db option of every command that opens the database.
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (default: env MEDROAM_DB, else sqlite:///./medroam.db).",
        show_default=False,
    ),
]


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one clear line to stderr and exit; never a stack trace for bad input."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def open_database(db: str | None, *, existing: bool = True) -> Engine:
    """The engine of ``--db`` (or ``MEDROAM_DB``, or ``./medroam.db``), migrated; the
    caller disposes of it. One clear line, never a traceback, for a URL that is not one,
    a database that cannot be opened or reached and, with ``existing``, an SQLite file
    that is not there: a mistyped path would otherwise become a new, empty database and
    a month of nothing. ``medroam filing``, where a database may start, passes False;
    seed, sim and serve open theirs themselves."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from medroam.store.db import database_url, make_engine, upgrade

    url = database_url(db)
    try:
        engine = make_engine(url)
    except ArgumentError:
        fail(f"--db: {url!r} 不是数据库地址 is not a database URL (e.g. sqlite:///./medroam.db)")
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if existing and path and path != ":memory:" and not Path(path).is_file():
        engine.dispose()
        fail(
            f"数据库文件不存在 database file not found: {path}（先运行 medroam seed 或 medroam "
            "sim，或检查 --db / MEDROAM_DB）"
        )
    try:
        upgrade(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        shown = make_url(url).render_as_string(hide_password=True)
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        fail(f"数据库无法打开 cannot open database {shown}: {first[0] if first else exc}", code=1)
    return engine


@contextmanager
def database(db: str | None, *, existing: bool = True) -> Iterator[Engine]:
    """:func:`open_database` for a ``with`` block, disposed of at its end."""
    engine = open_database(db, existing=existing)
    try:
        yield engine
    finally:
        engine.dispose()
