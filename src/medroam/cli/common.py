"""Helpers shared by the CLI commands: consoles and the one way to fail."""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

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
