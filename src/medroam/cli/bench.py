"""``medroam bench``: run every benchmark and print one JSON summary."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from medroam.bench.suite import BENCHMARKS, run_suite
from medroam.cli.common import err_console, fail


def bench(
    quick: Annotated[
        bool, typer.Option("--quick", help="Small sizes (CI): well under a minute in all.")
    ] = False,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            help=f"Run only these ({', '.join(BENCHMARKS)}; comma-separated or repeated).",
            show_default=False,
        ),
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", help="HIS clients of the gateway benchmark.", min=1)
    ] = 4,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Database of the gateway benchmark (default: a temporary SQLite file).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Benchmarks (settlement engine, gateway over HTTP, clearing, DRG): one JSON summary."""
    chosen = (
        [b.strip() for value in only for b in value.split(",") if b.strip()]
        if only
        else list(BENCHMARKS)
    )
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        fail(f"--only: unknown benchmark(s) {', '.join(unknown)}; use {', '.join(BENCHMARKS)}")

    def progress(what: str, done: int, total: int) -> None:
        if what != "done":
            err_console.print(f"[{done + 1}/{total}] {what} …", highlight=False)

    summary = run_suite(quick=quick, only=chosen, concurrency=concurrency, db=db, progress=progress)
    typer.echo(json.dumps(summary, indent=2, ensure_ascii=False, default=str))
