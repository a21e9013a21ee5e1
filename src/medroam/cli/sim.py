"""``medroam sim``: a month of synthetic national cross-region care through the real
gateway, then reconciliation and clearing; ``--clearing-cycle`` compares cycles."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from medroam.cli.common import console, err_console, fail
from medroam.domain.clearing.periods import ClearingError
from medroam.services.seed import DEFAULT_SEED
from medroam.services.sim import DEFAULT_DAYS, SimConfig, SimError, parse_cycles, run_simulation
from medroam.sim.anomalies import FRAUD_MIN_BILLS
from medroam.sim.report import CYCLE_LABELS, application_counts, render_report, wan_yuan, yuan
from medroam.sim.seed import PERSONS_PER_REGION
from medroam.store.db import database_url, make_engine


def codes(values: list[str] | None) -> tuple[str, ...] | None:
    if not values:
        return None
    return tuple(code.strip() for value in values for code in value.split(",") if code.strip())


def parse_day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{option}: {text!r} is not a date (YYYY-MM-DD)")


PLAIN_PROGRESS_SECONDS = 10.0  # a plain progress line at least this often per step


def plain_progress(
    write: Callable[[str], None],
    *,
    every: float = PLAIN_PROGRESS_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> Callable[[str, int, int], None]:
    """A progress callback writing plain lines (``encounters 1200/5000 (24 %)``) for a
    log or a pipe, where a bar shows nothing: on a step's start, on its end, and otherwise
    at most every ``every`` seconds."""
    last: dict[str, float] = {}

    def progress(what: str, done: int, total: int) -> None:
        now = clock()
        first = what not in last
        finished = done >= total
        if not (first or finished or now - last[what] >= every):
            return
        last[what] = now
        share = f" ({100 * done // total} %)" if total > 0 else ""
        write(f"{what} {done}/{total}{share}")

    return progress


@contextmanager
def progress_bar() -> Iterator[Any]:
    """A Rich progress bar on stderr when it is a terminal, else periodic plain lines;
    yields the ``(what, done, total)`` callback."""
    if not err_console.is_terminal:

        def write(line: str) -> None:
            print(line, file=sys.stderr, flush=True)

        yield plain_progress(write)
        return
    with Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = bar.add_task(what, total=max(total, 1))
            bar.update(tasks[what], completed=done, total=max(total, 1))

        yield progress


def quiet_gateway_logs() -> None:
    """The gateway logs one line per request (info; warning for a refusal): keep the
    terminal for the progress bar and the summary, which counts the refusals by reason
    (a simulation with planted anomalies is refused on purpose)."""
    from medroam.gateway import logging as gateway_logging

    gateway_logging.configure("error")


# --- the summary -------------------------------------------------------------------------------


def print_summary(s: Mapping[str, Any]) -> None:
    period, shape, setl = s["period"], s["shape"], s["settlements"]
    console.print(
        f"\n[bold]Simulated {period['start']} … {period['end']}[/] ({period['days']} days, seed "
        f"{s['seed']}, SYNTHETIC): {s['nation']['regions']} pooling regions in "
        f"{s['nation']['provinces']} provinces, {period['persons']:,} insured persons, "
        f"{period['hospitals']:,} hospitals.",
        highlight=False,
    )
    # The right-hand column is what the simulator aims at: targets set from the published
    # 2021 Jan–Oct figures (domain-rules §8), not the figures themselves.
    t = Table(
        title="与目标的形态对比 Shape against the simulator's targets "
        "(set from the 2021 Jan–Oct published figures)",
        title_justify="left",
    )
    t.add_column("figure 指标")
    t.add_column("achieved 模拟结果", justify="right")
    t.add_column("target 模拟目标", justify="right")
    t.add_row(
        "outpatient : inpatient person-times",
        f"{shape['outpatient_per_inpatient']} : 1",
        f"{shape['outpatient_per_inpatient_target']} : 1",
    )
    t.add_row(
        "mean bill, outpatient / inpatient (yuan)",
        f"{yuan(shape['outpatient_mean_fen'])} / {yuan(shape['inpatient_mean_fen'])}",
        f"{yuan(shape['outpatient_mean_target_fen'])} / {yuan(shape['inpatient_mean_target_fen'])}",
    )
    t.add_row(
        "inpatient ÷ outpatient cost, per visit / total",
        f"{shape['inpatient_per_outpatient_cost_per_visit']} / "
        f"{shape['inpatient_per_outpatient_total_cost']}",
        f"{shape['inpatient_per_outpatient_cost_per_visit_target']} / ≈ 50",
    )
    t.add_row("fund payment ratio", str(shape["fund_ratio"]), shape["fund_ratio_target"])
    t.add_row("… inpatient", str(shape["fund_ratio_inpatient"]), "58.0%")
    t.add_row(
        "… outpatient incl. personal accounts",
        str(shape["fund_and_account_ratio_outpatient"]),
        "54.9%",
    )
    console.print(t)

    console.print(
        f"Settlements: {setl['in_force']:,} in force ({setl['inter_province']:,} inter-province, "
        f"{setl['intra_province']:,} intra-province; {setl['cancelled']} cancelled), medical cost "
        f"{wan_yuan(setl['medfee_fen'])} yuan, funds {wan_yuan(setl['fund_fen'])}, personal "
        f"accounts {wan_yuan(setl['account_fen'])}, cash {wan_yuan(setl['cash_fen'])}; "
        f"{setl['open_stays']} still in hospital.",
        highlight=False,
    )
    refused = sum(r["count"] for r in s["refusals"])
    if refused:
        console.print(f"Refused calls: {refused}", highlight=False)
        for r in s["refusals"][:5]:
            console.print(f"  {r['count']:>5} × {r['infno']} {r['reason']}", highlight=False)

    t = Table(title="Volumes and net clearing positions by province", title_justify="left")
    for col in ("province", "treated 门诊", "treated 住院", "insured 门诊", "insured 住院"):
        t.add_column(col, justify="left" if col == "province" else "right")
    t.add_column("net position (yuan)", justify="right")
    rows = sorted(
        s["provinces"],
        key=lambda p: -(p["treated_outpatient"] + p["treated_inpatient"] + p["insured_inpatient"]),
    )
    for p in rows:
        t.add_row(
            p["name"],
            str(p["treated_outpatient"]),
            str(p["treated_inpatient"]),
            str(p["insured_outpatient"]),
            str(p["insured_inpatient"]),
            yuan(p["net_fen"]),
        )
    console.print(t)

    recon = s["reconciliation"]
    for run in s["clearing"]:
        console.print(
            f"Clearing {run['run_id']}: {run['line_count']:,} lines, "
            f"{yuan(run['amount_fen'])} yuan; hospitals apply {run['hospitals_apply_on']}, "
            f"paid by {run['hospitals_paid_by']}.",
            highlight=False,
        )
    console.print(
        f"Reconciliation: {recon['balanced_3201']}/{recon['statements_3201']} hospital statements "
        f"(3201) balanced; clearing applications (3203) "
        f"{application_counts(recon['applications_3203'])}; "
        f"{recon['confirmed_items']:,} items confirmed between regions.",
        highlight=False,
    )
    warnings = s["prepayment"]["warnings"]
    levels = Counter((w["level"], w["warning"]) for w in warnings)
    console.print(
        f"Prepayment: {s['prepayment']['quotas']} quotas; warnings "
        + (
            ", ".join(f"{n} {level} {color}" for (level, color), n in sorted(levels.items()))
            or "none"
        )
        + ".",
        highlight=False,
    )
    names = s.get("names", {})
    reds = [w for w in warnings if w["warning"] == "red"][:5]
    for w in reds:
        console.print(
            f"  red: {names.get(w['payer'], w['payer'])} → {names.get(w['payee'], w['payee'])} "
            f"usage {w['usage_rate']}, top up {yuan(w['topup_fen'])} by {w['topup_due']}",
            highlight=False,
        )
    adv = s["advance"]
    console.print(
        f"Hospital advance days (monthly cycle): weighted {adv['advance_days_weighted']}, median "
        f"hospital {adv['advance_days_median']}, longest {adv['advance_days_max']} "
        f"({adv['hospitals']} hospitals, {wan_yuan(adv['amount_fen'])} yuan advanced).",
        highlight=False,
    )
    if s["whatif"]:
        print_whatif(s["whatif"])
    if s.get("anomalies"):
        print_anomalies(s["anomalies"])
    gw = s["gateway"]
    console.print(
        f"Gateway: {gw['calls']:,} calls, {gw['calls_per_second']} calls/s with "
        f"{gw['concurrency']} HIS workers, p50 {gw['p50_ms']} ms, p99 {gw['p99_ms']} ms. "
        "Timings (s): " + ", ".join(f"{k} {v}" for k, v in s["timings"].items()),
        highlight=False,
    )


def print_anomalies(a: Mapping[str, Any]) -> None:
    """What was planted (the truth is stored apart, for ``medroam audit evaluate``)."""
    t = Table(
        title=f"植入的违规 Planted anomalies (rate {a['rate']}; SYNTHETIC)", title_justify="left"
    )
    t.add_column("family 规则类别")
    t.add_column("planted 植入", justify="right")
    t.add_column("refused at the gateway 事中拒付", justify="right")
    t.add_column("precision 精确率", justify="right")
    t.add_column("recall 召回率", justify="right")
    found = a.get("evaluation", {}).get("families", {})
    for family, n in a["by_family"].items():
        e = found.get(family, {})
        t.add_row(
            family,
            str(n["planted"]),
            str(n["refused"]),
            e.get("precision", "—"),
            e.get("recall", "—"),
        )
    console.print(t)
    evaluation = a.get("evaluation", {})
    ranked = {i["fixmedins_code"]: i for i in evaluation.get("institutions", [])}
    frauds = ", ".join(
        f"{i['fixmedins_code']} ({i['scheme']}"
        + (
            f", rank {ranked[i['fixmedins_code']]['rank']}/{evaluation['institutions_scored']}"
            if i["fixmedins_code"] in ranked
            else ""
        )
        + ")"
        for i in a["institutions"]
    )
    if not frauds:
        frauds = (
            f"none (no hospital on which a scheme changes {a.get('fraud_min_bills', '')} bills or "
            "more: see --fraud-min-bills)"
        )
    if evaluation.get("institution_auc"):
        frauds += f"; institution scores ROC AUC {evaluation['institution_auc']}"
    console.print(
        f"Fraudulent institutions: {frauds}. Not plantable with the shipped rules "
        f"and catalogue: {', '.join(a['not_plantable']) or 'none'}. Made clean first: "
        f"{a['cleaned_lines']:,} lines and {a['cleaned_encounters']:,} encounters dropped.",
        highlight=False,
    )


def print_whatif(rows: list[dict[str, Any]]) -> None:
    t = Table(
        title="What if: clearing cycle (the simulated days as a steady-state year)",
        title_justify="left",
    )
    for col in (
        "cycle",
        "advance days",
        "hospitals min…max",
        "advanced: mean / peak (yuan)",
        "prepay usage: all / worst / median province",
        "pairs yellow / red",
    ):
        t.add_column(col, justify="left" if col == "cycle" else "right")
    for w in rows:
        t.add_row(
            f"{w['cycle']} {CYCLE_LABELS.get(w['cycle'], '')}",
            str(w["advance_days"]),
            f"{w['advance_days_min']} … {w['advance_days_max']}",
            f"{wan_yuan(w['advanced_mean_fen'])} / {wan_yuan(w['advanced_peak_fen'])}",
            f"{w['prepay_usage_all']} / {w['prepay_usage_province_max']} / "
            f"{w['prepay_usage_province_median']}",
            f"{w['prepay_pairs_yellow']} / {w['prepay_pairs_red']} of {w['prepay_pairs']}",
        )
    console.print(t)


# --- the command -------------------------------------------------------------------------------

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (default: env MEDROAM_DB, else sqlite:///./medroam.db).",
        show_default=False,
    ),
]


def sim(
    db: DbOption = None,
    seed_value: Annotated[
        int, typer.Option("--seed", help="Random seed: the same seed gives the same run.")
    ] = DEFAULT_SEED,
    start: Annotated[
        str | None,
        typer.Option(
            "--start",
            help="First simulated day (YYYY-MM-DD; default: the seeded day, else 2026-10-01).",
            show_default=False,
        ),
    ] = None,
    days: Annotated[int, typer.Option("--days", help="Days to simulate.")] = DEFAULT_DAYS,
    provinces: Annotated[
        list[str] | None,
        typer.Option("--provinces", help="Only these provinces (11 or 110000; comma-separated)."),
    ] = None,
    regions: Annotated[
        list[str] | None,
        typer.Option("--regions", help="Only these pooling regions (e.g. 110100)."),
    ] = None,
    persons: Annotated[
        int, typer.Option("--persons", help="Insured persons per pooling region (at least 20).")
    ] = PERSONS_PER_REGION,
    volume: Annotated[
        float, typer.Option("--volume", help="Multiply every person's rate of care by this.")
    ] = 1.0,
    concurrency: Annotated[
        int, typer.Option("--concurrency", help="HIS clients calling at once.")
    ] = 2,
    cycle: Annotated[
        list[str] | None,
        typer.Option(
            "--clearing-cycle",
            help="Compare these cycles: daily, monthly, quarterly, annual (several, or all).",
            show_default=False,
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address the gateway listens on.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option("--port", help="Gateway port (0: any free port).")] = 0,
    report: Annotated[
        Path | None, typer.Option("--report", help="Also write the HTML report here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    anomalies: Annotated[
        float,
        typer.Option(
            "--anomalies",
            help="Plant known violations in this share of the encounters (e.g. 0.02) and a "
            "few fraudulent hospitals, for `medroam audit evaluate`; the truth is stored apart.",
        ),
    ] = 0.0,
    fraud_min_bills: Annotated[
        int,
        typer.Option(
            "--fraud-min-bills",
            help="A fraudulent hospital's scheme changes at least this many of its bills.",
        ),
    ] = FRAUD_MIN_BILLS,
) -> None:
    """Simulate cross-region care through the real gateway (HTTP), then reconcile and clear."""
    try:
        cycles = parse_cycles(cycle or ["monthly"])
        config = SimConfig(
            seed=seed_value,
            start=parse_day(start, "--start"),
            days=days,
            provinces=codes(provinces),
            regions=codes(regions),
            persons=persons,
            volume=volume,
            concurrency=concurrency,
            cycles=cycles,
            host=host,
            port=port,
            anomalies=anomalies,
            fraud_min_bills=fraud_min_bills,
        )
        from medroam.services.sim import check_config

        check_config(config)
    except SimError as exc:
        fail(str(exc))
    if report is not None and report.is_dir():
        fail(f"--report: {report} is a directory")
    url = database_url(db)
    try:
        engine = make_engine(url)
    except ArgumentError:
        fail(f"--db: {url!r} is not a database URL (e.g. sqlite:///./sim.db)")
    quiet_gateway_logs()
    try:
        with progress_bar() as progress:
            result = run_simulation(engine, config, progress=progress)
    except (SimError, ClearingError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(str(exc), code=1)
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        fail(f"database {url}: {first[0] if first else type(exc).__name__}", code=1)
    finally:
        engine.dispose()
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(render_report(result.summary), "utf-8")
    if as_json:
        typer.echo(json.dumps(result.summary, ensure_ascii=False, indent=1, default=str))
        return
    print_summary(result.summary)
    if report is not None:
        console.print(f"Report: {report}", highlight=False)
