"""``medroam demo`` (what ``make demo`` runs): seed the synthetic nation, start the
gateway, simulate a month of national cross-region care through it, reconcile and
clear, print the summary, write the HTML report — then keep the server running."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from medroam.cli.common import console, fail
from medroam.cli.sim import codes, parse_day, print_summary, progress_bar, quiet_gateway_logs
from medroam.domain.clearing.periods import ClearingError
from medroam.services.demo import (
    DEFAULT_FIXTURES,
    DEFAULT_REPORT,
    DEMO_ANOMALIES,
    DemoConfig,
    choose_port,
    full,
    run_demo,
)
from medroam.services.seed import DEFAULT_SEED
from medroam.services.sim import DEFAULT_DAYS, SimConfig, SimError, parse_cycles
from medroam.sim.seed import PERSONS_PER_REGION


def demo(
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Database URL (default: a fresh sqlite:///var/demo.db, recreated each run).",
            show_default=False,
        ),
    ] = None,
    seed_value: Annotated[
        int, typer.Option("--seed", help="Random seed: the same seed gives the same run.")
    ] = DEFAULT_SEED,
    start: Annotated[
        str | None,
        typer.Option(
            "--start", help="First simulated day (default 2026-10-01).", show_default=False
        ),
    ] = None,
    days: Annotated[int, typer.Option("--days", help="Days to simulate.")] = DEFAULT_DAYS,
    provinces: Annotated[
        list[str] | None,
        typer.Option("--provinces", help="Only these provinces (e.g. 11,31,44,51,42)."),
    ] = None,
    persons: Annotated[
        int, typer.Option("--persons", help="Insured persons per pooling region (at least 20).")
    ] = PERSONS_PER_REGION,
    whole: Annotated[
        bool,
        typer.Option(
            "--full",
            help="The whole nation at four times the population (≈ 4× the time).",
        ),
    ] = False,
    concurrency: Annotated[int, typer.Option("--concurrency", help="HIS clients at once.")] = 2,
    host: Annotated[str, typer.Option("--host", help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            help="Port (default 8080, or a free one if 8080 is taken).",
            show_default=False,
        ),
    ] = None,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Keep the server running afterwards.")
    ] = True,
    report: Annotated[Path, typer.Option("--report", help="The HTML report.")] = DEFAULT_REPORT,
    fixtures: Annotated[
        Path, typer.Option("--fixtures", help="Fixtures for calling the server (JSON).")
    ] = DEFAULT_FIXTURES,
    anomalies: Annotated[
        float,
        typer.Option(
            "--anomalies",
            help="Share of encounters with a planted violation, for the audit's evaluation "
            "(0: none).",
        ),
    ] = DEMO_ANOMALIES,
) -> None:
    """The platform end to end on synthetic data: seed, serve, simulate, clear, report."""
    try:
        config = SimConfig(
            seed=seed_value,
            start=parse_day(start, "--start"),
            days=days,
            provinces=codes(provinces),
            persons=persons,
            concurrency=concurrency,
            cycles=parse_cycles(["all"]),
            host=host,
            port=choose_port(host, port),
            anomalies=anomalies,
        )
        if whole:
            config = full(config)
        demo_config = DemoConfig(config, db=db, report=report, fixtures=fixtures, serve=serve)
    except SimError as exc:
        fail(str(exc))
    quiet_gateway_logs()
    try:
        with progress_bar() as progress:
            result = run_demo(demo_config, progress=progress)
    except (SimError, ClearingError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(str(exc), code=1)
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        fail(f"database: {first[0] if first else type(exc).__name__}", code=1)
    print_summary(result.sim.summary)
    urls = result.urls
    console.print(
        f"\nReport:   {result.report}\nFixtures: {result.fixtures}\nDatabase: {result.db_url}",
        highlight=False,
    )
    server = result.sim.server
    if server is None:
        result.engine.dispose()
        return
    console.print(
        f"\n[bold]medroam is serving[/] on {urls['server']} (real time from now on)\n"
        f"  national interface  POST {urls['interface']}\n"
        f"  agency API docs     {urls['agency_docs']}\n"
        f"  fixtures            {result.fixtures} (credentials, persons, tokens)\n"
        "Press Ctrl-C to stop.",
        highlight=False,
    )

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)  # stop as cleanly on TERM as on Ctrl-C
    try:
        server.wait()
    except KeyboardInterrupt:
        console.print("stopping …")
    finally:
        server.stop()
        result.engine.dispose()
        result.release()
