"""Every benchmark in one run (``medroam bench``): the settlement engine, the gateway end
to end over HTTP (in-process on SQLite, and ``gateway-pg``: ``medroam serve --workers``
on PostgreSQL driven by a load generator in its own process), clearing on DuckDB, DRG
grouping; one JSON summary.

``quick`` runs each on a small size (for CI: about a minute in total); the default runs
the sizes named in the issues: 20,000 settlements through the engine, a national month
of 20 million settlements cleared, 100,000 DRG cases, 2,000 settlements through the
gateway over HTTP, and 2,000 whole visits at each of concurrency 4, 16 and 64 on
PostgreSQL (``$MEDROAM_BENCH_PG_URL``, default the local ``test`` database).
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

BENCHMARKS = ("settlement", "gateway", "gateway-pg", "clearing", "drg")
REQUIRED_KEYS = (
    "cores",
    "settlement.per_second",
    "gateway.per_second",
    "gateway.p99_ms",
    "gateway.pg.per_second",
    "gateway.pg.p99_ms",
    "gateway.pg.cpu_ms_per_visit",
    "gateway.pg.statements_per_visit",
    "gateway.pg.settlements_only_per_second",
    "gateway.pg.cpu_ms_per_settlement",
    "clearing.settlements",
    "clearing.seconds",
    "clearing.peak_mb",
    "drg.per_second",
)


@dataclass(frozen=True, slots=True)
class Sizes:
    settlement: int
    gateway: int
    gateway_pg: int  # visits per concurrency
    gateway_pg_levels: tuple[int, ...]
    clearing: int
    drg: int


FULL = Sizes(
    settlement=20_000,
    gateway=2_000,
    gateway_pg=2_000,
    gateway_pg_levels=(4, 16, 64),
    clearing=20_000_000,
    drg=100_000,
)
QUICK = Sizes(
    settlement=2_000,
    gateway=150,
    gateway_pg=100,
    gateway_pg_levels=(4,),
    clearing=200_000,
    drg=10_000,
)

Progress = Callable[[str, int, int], None]


def _none(what: str, done: int, total: int) -> None:
    return None


def run_suite(
    *,
    quick: bool = False,
    only: Sequence[str] = BENCHMARKS,
    concurrency: int = 4,
    db: str | None = None,
    progress: Progress = _none,
) -> dict[str, Any]:
    """Run the chosen benchmarks; the summary keys first, then each benchmark's figures."""
    from medroam.bench import clearing, drg, gateway, gateway_pg, settlement

    unknown = sorted(set(only) - set(BENCHMARKS))
    if unknown:
        raise ValueError(f"unknown benchmark(s) {', '.join(unknown)}; use {', '.join(BENCHMARKS)}")
    sizes = QUICK if quick else FULL
    runs: dict[str, Callable[[], dict[str, Any]]] = {
        "settlement": lambda: settlement.run(sizes.settlement),
        "gateway": lambda: gateway.run(sizes.gateway, concurrency=concurrency, db=db),
        "gateway-pg": lambda: gateway_pg.run(
            sizes.gateway_pg,
            sizes.gateway_pg_levels,
            db=db if db and db.startswith("postgresql") else None,
        ),
        "clearing": lambda: clearing.run(sizes.clearing),
        "drg": lambda: drg.run(sizes.drg),
    }
    chosen = [b for b in BENCHMARKS if b in only]
    summary: dict[str, Any] = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "quick": quick,
    }
    details: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    for n, name in enumerate(chosen):
        progress(name, n, len(chosen))
        started = time.perf_counter()
        figures = runs[name]()
        seconds[name] = round(time.perf_counter() - started, 1)
        details[name] = figures
        prefix = "gateway.pg." if name == "gateway-pg" else f"{name}."
        for key, value in figures.items():
            if key.startswith(prefix):
                summary[key] = value
    progress("done", len(chosen), len(chosen))
    summary["wall_seconds"] = seconds
    summary["details"] = details
    return summary
