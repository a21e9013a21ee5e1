"""``medroam drg ...``: group cases with CHS-DRG (or another loaded scheme).

    medroam drg group --input cases.csv --output groups.csv [--scheme X.scheme.json]
                      [--qy off|any_or_procedure|principal_or_procedure]
    medroam drg synth --output cases.csv [--n 10000] [--seed 2025]

Bad rows are written to the output with status ``error`` and their reason, listed in the
summary, and do not stop the run; exit code 0 unless the file itself cannot be used.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from medroam.cli.common import console, fail
from medroam.domain.drg.scheme import QyMode, Scheme
from medroam.refdata.errors import ReferenceDataError
from medroam.services.drg import INPUT_COLUMNS, RowError, group_csv

app = typer.Typer(
    help="DRG grouping (CHS-DRG 1.1 packaged) and synthetic cases.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

_PROGRESS_MIN_ROWS = 2_000
_MAX_ERRORS_SHOWN = 20


def _scheme(path: Path | None) -> Scheme:
    from medroam.refdata.drg import load_scheme

    try:
        return load_scheme(path)
    except ReferenceDataError as exc:
        fail(str(exc))


@app.command("group")
def group_cmd(
    input_path: Annotated[Path, typer.Option("--input", help="Cases CSV (UTF-8).")],
    output_path: Annotated[Path, typer.Option("--output", help="Groups CSV to write.")],
    scheme_path: Annotated[
        Path | None,
        typer.Option("--scheme", help="Scheme manifest (default: packaged CHS-DRG 1.1)."),
    ] = None,
    qy: Annotated[
        QyMode | None, typer.Option("--qy", help="QY switch (default: the scheme's).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar or summary.")] = False,
) -> None:
    """Group every row of INPUT into OUTPUT (id, status, mdc, adrg, drg, trace, error)."""
    scheme = _scheme(scheme_path)
    options = scheme.options if qy is None else replace(scheme.options, qy_mode=qy)
    try:
        with input_path.open(encoding="utf-8-sig", newline="") as f:
            total = max(sum(1 for _ in f) - 1, 0)
    except OSError as exc:
        fail(f"cannot read {input_path}: {exc.strerror}")
    except UnicodeDecodeError:
        fail(f"{input_path} is not UTF-8 text")
    show = not quiet and total >= _PROGRESS_MIN_ROWS
    try:
        with (
            input_path.open(encoding="utf-8-sig", newline="") as src,
            output_path.open("w", encoding="utf-8", newline="") as dst,
            Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=console,
                disable=not show,
                transient=True,
            ) as progress,
        ):
            task = progress.add_task("grouping", total=total)
            summary = group_csv(src, dst, scheme, options, on_row=lambda: progress.advance(task))
    except RowError as exc:
        fail(f"{input_path}: {exc} (expected columns: {','.join(INPUT_COLUMNS)})")
    except OSError as exc:
        fail(f"cannot write {output_path}: {exc.strerror}")
    if quiet:
        return
    table = Table(title=f"{scheme.label}: {summary.rows} rows → {output_path}")
    table.add_column("status")
    table.add_column("rows", justify="right")
    for status, n in sorted(summary.by_status.items()):
        table.add_row(status, str(n))
    console.print(table)
    if summary.errors:
        errors = Table(title=f"{len(summary.errors)} rows not grouped")
        errors.add_column("id")
        errors.add_column("reason")
        for row_id, reason in summary.errors[:_MAX_ERRORS_SHOWN]:
            errors.add_row(row_id, reason)
        console.print(errors)
        if len(summary.errors) > _MAX_ERRORS_SHOWN:
            console.print(f"… and {len(summary.errors) - _MAX_ERRORS_SHOWN} more in the output")


@app.command("synth")
def synth_cmd(
    output_path: Annotated[Path, typer.Option("--output", help="Cases CSV to write.")],
    n: Annotated[int, typer.Option("--n", min=1, help="Number of cases.")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 2025,
) -> None:
    """Write SYNTHETIC cases (deterministic for a seed) in the ``group`` input format."""
    from medroam.services.drg import write_synthetic_cases

    scheme = _scheme(None)
    try:
        with output_path.open("w", encoding="utf-8", newline="") as dst:
            write_synthetic_cases(dst, scheme, n=n, seed=seed)
    except OSError as exc:
        fail(f"cannot write {output_path}: {exc.strerror}")
    console.print(f"wrote {n} synthetic cases to {output_path}")
