"""``medroam seed --demo``: build the synthetic demo nation in a database.

Migrates the database, loads the reference data, writes institutions (with gateway
credentials), insured persons, filings and agency tokens for every pooling region (or the
chosen provinces/regions), and writes ``var/demo-fixtures.json`` (as ``medroam demo``
does) with everything needed to call the server at once. Deterministic for a given
``--seed``; a second run with the same seed changes nothing, a run with another seed is
refused.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from medroam.cli.common import console, err_console, fail
from medroam.services.seed import DEFAULT_SEED, DEFAULT_SERVER, SeedError, SeedResult, seed_demo
from medroam.sim.seed import MIN_PERSONS_PER_REGION, PERSONS_PER_REGION
from medroam.store.db import database_url, make_engine, upgrade


def _codes(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [code.strip() for value in values for code in value.split(",") if code.strip()]


def _summary(result: SeedResult) -> Table:
    table = Table(title=f"Demo nation, seed {result.seed}, as of {result.as_of} (synthetic)")
    table.add_column("what")
    table.add_column("rows", justify="right")
    for key, value in result.counts.items():
        table.add_row(key, str(value))
    return table


def seed(
    demo: Annotated[
        bool, typer.Option("--demo", help="Seed the synthetic demo nation (required).")
    ] = False,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Database URL (default: env MEDROAM_DB, else sqlite:///./medroam.db).",
            show_default=False,
        ),
    ] = None,
    seed_value: Annotated[
        int, typer.Option("--seed", help="Random seed: the same seed gives the same nation.")
    ] = DEFAULT_SEED,
    out: Annotated[Path, typer.Option("--out", help="Where to write the fixtures (JSON).")] = Path(
        "var/demo-fixtures.json"
    ),
    provinces: Annotated[
        list[str] | None,
        typer.Option(
            "--provinces",
            help="Only these provinces (11 or 110000; comma-separated or repeated).",
            show_default=False,
        ),
    ] = None,
    regions: Annotated[
        list[str] | None,
        typer.Option(
            "--regions",
            help="Only these pooling regions (e.g. 110100; comma-separated or repeated).",
            show_default=False,
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Business date the filings are valid on (YYYY-MM-DD; default today).",
            show_default=False,
        ),
    ] = None,
    persons: Annotated[
        int,
        typer.Option(
            "--persons", help="Insured persons per pooling region.", min=MIN_PERSONS_PER_REGION
        ),
    ] = PERSONS_PER_REGION,
    server: Annotated[
        str, typer.Option("--server", help="Server URL written into the fixtures.")
    ] = DEFAULT_SERVER,
) -> None:
    """Build the synthetic demo nation (参保人, 定点机构, 备案, 经办令牌) in a database."""
    if not demo:
        fail("only the demo nation can be seeded: run `medroam seed --demo`")
    day: date | None = None
    if as_of is not None:
        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            fail(f"--as-of: {as_of!r} is not a date (YYYY-MM-DD)")
    url = database_url(db)
    try:
        engine = make_engine(url)
    except ArgumentError:
        fail(f"--db: {url!r} is not a database URL (e.g. sqlite:///./demo.db)")
    try:
        upgrade(engine)
        with Progress(
            TextColumn("{task.description:<16}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as bar:
            tasks: dict[str, TaskID] = {}

            def progress(what: str, done: int, total: int) -> None:
                if what not in tasks:
                    tasks[what] = bar.add_task(what, total=max(total, 1))
                bar.update(tasks[what], completed=done, total=max(total, 1))

            result = seed_demo(
                engine,
                seed=seed_value,
                as_of=day,
                provinces=_codes(provinces),
                regions=_codes(regions),
                persons_per_region=persons,
                server=server,
                progress=progress,
            )
    except SeedError as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        fail(f"database {url}: {first[0] if first else type(exc).__name__}", code=1)
    finally:
        engine.dispose()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            json.dumps(result.fixtures, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
    except OSError as exc:
        fail(f"--out: cannot write {out}: {exc.strerror}", code=1)
    console.print(_summary(result))
    console.print(
        f"{len(result.written)} region(s) written, {len(result.skipped)} already seeded with "
        f"seed {result.seed}; {result.seconds:.1f} s. Fixtures: {out}",
        highlight=False,
    )
