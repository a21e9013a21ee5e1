"""``medroam drg ...``: group cases with CHS-DRG (or another loaded scheme), and price
them with a region's DRG payment parameters.

    medroam drg group --input cases.csv --output groups.csv [--scheme X.scheme.json]
                      [--qy off|any_or_procedure|principal_or_procedure]
    medroam drg synth --output cases.csv [--n 10000] [--seed 2025] [--region R] [--year Y]
    medroam drg price --cases groups.csv --region R --year Y [--json] [--output priced.csv]
    medroam drg year  --cases groups.csv --region R --year Y [--json] [--budget YUAN]

Bad rows are reported with their id and reason (``group`` also writes them to the output
with status ``error``) and do not stop the run; exit code 0 unless the file itself, or the
region's parameters, cannot be used (2).
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from medroam.cli.common import console, err_console, fail
from medroam.domain.drg.payment import PaymentParams, PricedCase, Scope, YearBudget
from medroam.domain.drg.scheme import QyMode, Scheme
from medroam.domain.money import MoneyError, fen_to_yuan, format_yuan, yuan_to_fen
from medroam.gateway import jsonfmt
from medroam.refdata.errors import ReferenceDataError
from medroam.services.drg import INPUT_COLUMNS, RowError, group_csv
from medroam.services.drg_payment import (
    REQUIRED_COLUMNS,
    PriceReport,
    YearReport,
    point_value_text,
    points_text,
    price_file,
    year_file,
)

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


def synth_regions(region: str) -> tuple[str, ...]:
    """The place of treatment, two other pooling regions of its province (file order) and
    one outside it: ``440300`` → ``(440300, 440100, 440200, 110100)``."""
    from medroam.refdata.regions import load_regions

    table = load_regions()
    found = table.get(region)
    if found is None or found.province_code == region:
        fail(f"--region {region}: not a pooling region of data/regions.csv")
    same = [r.code for r in table.pooling_regions_of(found.province_code) if r.code != region]
    other = "310100" if region.startswith("11") else "110100"
    return (region, *same[:2], other)


@app.command("synth")
def synth_cmd(
    output_path: Annotated[Path, typer.Option("--output", help="Cases CSV to write.")],
    n: Annotated[int, typer.Option("--n", min=1, help="Number of cases.")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 2025,
    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            help="Place of treatment (default 620100 with 621000, "
            "620500 and 110100 as places of insurance).",
        ),
    ] = None,
    year: Annotated[int, typer.Option("--year", help="Year of discharge.")] = 2025,
) -> None:
    """Write SYNTHETIC stays (deterministic for a seed) in the ``group`` input format,
    with the payment columns (hospital, place of insurance, dates, costs) after them."""
    from medroam.services.drg import write_synthetic_cases

    scheme = _scheme(None)
    regions = synth_regions(region) if region is not None else None
    try:
        with output_path.open("w", encoding="utf-8", newline="") as dst:
            write_synthetic_cases(dst, scheme, n=n, seed=seed, year=year, insured_regions=regions)
    except OSError as exc:
        fail(f"cannot write {output_path}: {exc.strerror}")
    console.print(f"wrote {n} synthetic cases to {output_path}")


# --- payment -------------------------------------------------------------------------------

_CASES_SHOWN = 20


def _params(
    region: str, year: int, params_dir: Path | None
) -> tuple[PaymentParams, YearBudget | None]:
    from medroam.refdata.drg import load_payment_params

    if len(region) != 6 or not region.isdigit():
        fail(f"--region {region!r}: must be a 6-digit region code")
    try:
        return load_payment_params(region, year, params_dir)
    except ReferenceDataError as exc:
        fail(str(exc))


def _count_rows(path: Path) -> int:
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            return max(sum(1 for _ in f) - 1, 0)
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    except UnicodeDecodeError:
        fail(f"{path} is not UTF-8 text")


@contextmanager
def _reading(path: Path, what: str, quiet: bool) -> Iterator[tuple[TextIO, Callable[[], None]]]:
    """The open file and a per-row callback that advances a progress bar (on stderr,
    from 2,000 rows, unless quiet)."""
    total = _count_rows(path)
    show = not quiet and total >= _PROGRESS_MIN_ROWS
    with (
        path.open(encoding="utf-8-sig", newline="") as src,
        Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err_console,
            disable=not show,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task(what, total=total)
        yield src, lambda: progress.advance(task)


def _yuan(fen: int) -> Decimal:
    return fen_to_yuan(fen)


def _points(points: int) -> Decimal:
    return Decimal(points_text(points))


def _value(micro: int) -> Decimal:
    return Decimal(point_value_text(micro))


def priced_row(p: PricedCase) -> dict[str, Any]:
    c = p.case
    return {
        "id": c.case_id,
        "drg": c.drg,
        "scope": c.scope.value,
        "insured_region": c.insured_region,
        "hospital_id": c.hospital_id,
        "class": p.klass.value,
        "base_points": _points(p.base_points),
        "coefficients": {name: _points(v) for name, v in p.coefficients},
        "points": _points(p.points),
        "point_value": _value(p.value),
        "amount": _yuan(p.amount),
        "total_cost": _yuan(c.total_cost),
        "patient_share": _yuan(c.patient_share),
        "item_fund": _yuan(c.item_fund),
        "fund_to_hospital": _yuan(p.fund_to_hospital),
        "special_review": p.special_review,
        "readmission_of": p.readmission_of,
        "steps": list(p.steps),
    }


def _class_totals(priced: tuple[PricedCase, ...]) -> dict[str, dict[str, Any]]:
    acc: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for p in priced:
        a = acc[p.klass.value]
        a[0] += 1
        a[1] += p.points
        a[2] += p.amount
        a[3] += p.fund_to_hospital
    return {
        k: {
            "cases": v[0],
            "points": _points(v[1]),
            "amount": _yuan(v[2]),
            "fund_to_hospital": _yuan(v[3]),
        }
        for k, v in sorted(acc.items())
    }


def price_document(report: PriceReport) -> dict[str, Any]:
    pr = report.params
    priced = report.priced
    return {
        "region": pr.region,
        "year": pr.year,
        "method": pr.method.value,
        "rows": report.rows,
        "priced": len(priced),
        "errors": [{"id": i, "reason": r} for i, r in report.errors],
        "summary": {
            "by_class": _class_totals(priced),
            "points": _points(sum(p.points for p in priced)),
            "amount": _yuan(sum(p.amount for p in priced)),
            "fund_to_hospital": _yuan(sum(p.fund_to_hospital for p in priced)),
            "item_fund": _yuan(sum(p.case.item_fund for p in priced)),
            "special_review": sum(1 for p in priced if p.special_review),
            "readmissions": sum(1 for p in priced if p.readmission_of),
        },
        "cases": [priced_row(p) for p in priced],
    }


def _errors_table(errors: tuple[tuple[str, str], ...], out: Console) -> None:
    if not errors:
        return
    table = Table(title=f"{len(errors)} rows not priced")
    table.add_column("id")
    table.add_column("reason")
    for row_id, reason in errors[:_MAX_ERRORS_SHOWN]:
        table.add_row(row_id, reason)
    out.print(table)
    if len(errors) > _MAX_ERRORS_SHOWN:
        out.print(f"… and {len(errors) - _MAX_ERRORS_SHOWN} more (--json lists them all)")


def _print_price(report: PriceReport) -> None:
    pr = report.params
    doc = price_document(report)
    title = (
        f"{pr.region} {pr.year} ({pr.method.value}): {len(report.priced)} of {report.rows} "
        "cases priced"
    )
    by_class = Table(title=title)
    for col in ("class", "cases", "points", "amount ¥", "fund to hospital ¥"):
        by_class.add_column(col, justify="left" if col == "class" else "right")
    for klass, t in doc["summary"]["by_class"].items():
        by_class.add_row(
            klass, str(t["cases"]), str(t["points"]), str(t["amount"]), str(t["fund_to_hospital"])
        )
    s = doc["summary"]
    by_class.add_row(
        "total",
        str(len(report.priced)),
        str(s["points"]),
        str(s["amount"]),
        str(s["fund_to_hospital"]),
        style="bold",
    )
    console.print(by_class)
    console.print(f"特例单议 candidates: {s['special_review']}   readmissions: {s['readmissions']}")
    cases = Table(title=f"cases (first {min(_CASES_SHOWN, len(report.priced))})")
    for col in ("id", "drg", "scope", "class", "points", "amount ¥", "fund ¥", "notes"):
        cases.add_column(
            col, justify="right" if col in ("points", "amount ¥", "fund ¥") else "left"
        )
    for p in report.priced[:_CASES_SHOWN]:
        notes = [*p.steps]
        if p.special_review:
            notes.append("特例单议")
        cases.add_row(
            p.case.case_id,
            p.case.drg,
            p.case.scope.value,
            p.klass.value,
            points_text(p.points),
            format_yuan(p.amount),
            format_yuan(p.fund_to_hospital),
            "; ".join(notes),
        )
    console.print(cases)
    _errors_table(report.errors, console)


PRICED_COLUMNS = (
    "id",
    "drg",
    "scope",
    "insured_region",
    "hospital_id",
    "class",
    "base_points",
    "points",
    "point_value",
    "amount",
    "total_cost",
    "patient_share",
    "item_fund",
    "fund_to_hospital",
    "special_review",
    "readmission_of",
    "steps",
)


def _write_priced(path: Path, report: PriceReport) -> None:
    try:
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(
                f, fieldnames=PRICED_COLUMNS, lineterminator="\n", extrasaction="ignore"
            )
            writer.writeheader()
            for p in report.priced:
                row = priced_row(p)
                row["special_review"] = "1" if p.special_review else "0"
                row["steps"] = "; ".join(p.steps)
                writer.writerow({k: str(v) for k, v in row.items()})
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror}")


_CasesOpt = Annotated[Path, typer.Option("--cases", help="Groups CSV with payment columns.")]
_RegionOpt = Annotated[str, typer.Option("--region", help="Place of treatment (6 digits).")]
_YearOpt = Annotated[int, typer.Option("--year", help="Year of the payment parameters.")]
_JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
_ParamsOpt = Annotated[
    Path | None,
    typer.Option("--params", help="Directory of <region>-<year>.json (default: packaged)."),
]


def _file_error(path: Path, exc: RowError) -> None:
    fail(f"{path}: {exc} (required columns: {','.join(REQUIRED_COLUMNS)})")


@app.command("price")
def price_cmd(
    cases_path: _CasesOpt,
    region: _RegionOpt,
    year: _YearOpt,
    as_json: _JsonOpt = False,
    output_path: Annotated[
        Path | None, typer.Option("--output", help="Also write every priced case (CSV).")
    ] = None,
    params_dir: _ParamsOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Price every grouped case with the region's DRG payment parameters: class (normal,
    high/low outlier, ungroupable, excluded), points, coefficients (level, hospital,
    cross-region), amount and fund-to-hospital; readmissions over the file."""
    params, _ = _params(region, year, params_dir)
    try:
        with _reading(cases_path, "pricing", quiet) as (src, tick):
            report = price_file(src, params, on_row=tick)
    except RowError as exc:
        _file_error(cases_path, exc)
    if output_path is not None:
        _write_priced(output_path, report)
    if as_json:
        sys.stdout.write(jsonfmt.dumps(price_document(report), indent=2) + "\n")
    else:
        _print_price(report)


def year_document(report: YearReport) -> dict[str, Any]:
    pr, st, b = report.params, report.settlement, report.budget
    return {
        "region": pr.region,
        "year": pr.year,
        "method": pr.method.value,
        "rows": report.rows,
        "cases": len(report.provisional),
        "errors": [{"id": i, "reason": r} for i, r in report.errors],
        "budget": None
        if b is None
        else {
            "amount": _yuan(b.budget),
            "holdback": _points(b.holdback),
            "distributable": _yuan(b.distributable),
        },
        "advance_ratio": _points(report.advance_ratio),
        "total_points": _points(st.total_points),
        "provisional_point_value": _value(pr.value_per_point(Scope.LOCAL)),
        "point_value": _value(st.value),
        "distributable": _yuan(st.distributable),
        "advances": {
            month: {h: _yuan(v) for h, v in by_h.items()}
            for month, by_h in report.advances_by_month.items()
        },
        "hospitals": [
            {
                "hospital_id": h.hospital_id,
                "cases": h.cases,
                "points": _points(h.points),
                "drg_amount": _yuan(h.drg_amount),
                "item_amount": _yuan(h.item_amount),
                "fund_due": _yuan(h.fund_due),
                "advances": _yuan(h.advances),
                "balance": _yuan(h.balance),
            }
            for h in st.hospitals
        ],
        "claims": [
            {
                "insured_region": c.insured_region,
                "cases": c.cases,
                "item_fund": _yuan(c.item_fund),
                "drg_fund": _yuan(c.drg_fund),
                "claim": _yuan(c.claim),
            }
            for c in st.claims
        ],
        "clearing_basis": pr.clearing_basis.value,
    }


def _print_year(report: YearReport) -> None:
    doc = year_document(report)
    pr = report.params
    head = Table(title=f"{pr.region} {pr.year} ({pr.method.value}): the year", show_header=False)
    head.add_column("what")
    head.add_column("value", justify="right")
    if doc["budget"] is not None:
        head.add_row("budget ¥", str(doc["budget"]["amount"]))
        head.add_row("hold-back (调剂金)", str(doc["budget"]["holdback"]))
    head.add_row("distributable ¥", str(doc["distributable"]))
    head.add_row("cases priced / rows", f"{doc['cases']} / {doc['rows']}")
    head.add_row("total points", str(doc["total_points"]))
    head.add_row("provisional point value ¥", str(doc["provisional_point_value"]))
    head.add_row("year-end point value ¥", str(doc["point_value"]))
    head.add_row("monthly advance ratio", str(doc["advance_ratio"]))
    console.print(head)

    hospitals = sorted(report.advances)
    months = Table(title="monthly advances ¥ (by month of discharge)")
    months.add_column("month")
    for h in hospitals:
        months.add_column(h, justify="right")
    months.add_column("total", justify="right")
    for month, by_h in report.advances_by_month.items():
        months.add_row(
            month,
            *(format_yuan(by_h.get(h, 0)) for h in hospitals),
            format_yuan(sum(by_h.values())),
        )
    console.print(months)

    year_end = Table(title="year-end settlement per hospital ¥")
    for col in (
        "hospital",
        "cases",
        "points",
        "DRG amount",
        "by item",
        "fund due",
        "advanced",
        "balance",
    ):
        year_end.add_column(col, justify="left" if col == "hospital" else "right")
    for hy in report.settlement.hospitals:
        year_end.add_row(
            hy.hospital_id,
            str(hy.cases),
            points_text(hy.points),
            format_yuan(hy.drg_amount),
            format_yuan(hy.item_amount),
            format_yuan(hy.fund_due),
            format_yuan(hy.advances),
            format_yuan(hy.balance),
        )
    console.print(year_end)

    claims = Table(title=f"claims on the places of insurance ¥ (basis: {pr.clearing_basis.value})")
    for col in ("place of insurance", "cases", "itemised fund", "DRG fund", "claim"):
        claims.add_column(col, justify="left" if col.startswith("place") else "right")
    for c in report.settlement.claims:
        claims.add_row(
            c.insured_region,
            str(c.cases),
            format_yuan(c.item_fund),
            format_yuan(c.drg_fund),
            format_yuan(c.claim),
        )
    console.print(claims)
    _errors_table(report.errors, console)


def _budget(budget: YearBudget | None, override: str | None) -> YearBudget | None:
    if override is None:
        return budget
    try:
        amount = yuan_to_fen(override, field="--budget")
    except MoneyError as exc:
        fail(str(exc))
    if amount <= 0:
        fail("--budget: must be positive")
    return YearBudget(amount) if budget is None else replace(budget, budget=amount)


@app.command("year")
def year_cmd(
    cases_path: _CasesOpt,
    region: _RegionOpt,
    year: _YearOpt,
    as_json: _JsonOpt = False,
    budget_yuan: Annotated[
        str | None,
        typer.Option("--budget", help="The year's DRG budget in yuan (default: the file's)."),
    ] = None,
    params_dir: _ParamsOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """The year of the place of treatment: budget, points, point value, monthly advances,
    each hospital's year-end balance and the claim on each place of insurance."""
    params, file_budget = _params(region, year, params_dir)
    budget = _budget(file_budget, budget_yuan)
    try:
        with _reading(cases_path, "pricing", quiet) as (src, tick):
            report = year_file(src, params, budget, on_row=tick)
    except RowError as exc:
        _file_error(cases_path, exc)
    except ValueError as exc:
        fail(f"{region} {year}: {exc}")
    if as_json:
        sys.stdout.write(jsonfmt.dumps(year_document(report), indent=2) + "\n")
    else:
        _print_year(report)
