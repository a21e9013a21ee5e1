"""Benchmark: CHS-DRG 1.1 cases grouped per second, in-process on one core.

Cases are SYNTHETIC (``domain.drg.synthetic.historical_year``: one template per ADRG with
added MCC/CC secondaries), so every MDC and ADRG is represented.

    python bench/bench_drg.py [--n 100000] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

from medroam.domain.drg.grouper import group
from medroam.domain.drg.synthetic import historical_year
from medroam.refdata.drg import load_scheme

DEFAULT_N = 100_000


def run(n: int = DEFAULT_N, seed: int = 7, repeats: int = 3) -> dict[str, Any]:
    """Group ``n`` cases ``repeats`` times; the best run's cases per second."""
    t0 = time.perf_counter()
    scheme = load_scheme()
    load_s = time.perf_counter() - t0
    cases = [h.case for h in historical_year(scheme, seed=seed, n=min(n, 20_000))]
    for c in cases[:1_000]:  # warm-up
        group(c, scheme)

    runs: list[float] = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(n):
            group(cases[i % len(cases)], scheme)
        runs.append(time.perf_counter() - start)
    best = min(runs)
    return {
        "benchmark": "drg_grouping",
        "scheme": scheme.label,
        "cases": n,
        "seconds_best_of_3": round(best, 3),
        "seconds_median": round(statistics.median(runs), 3),
        "drg.per_second": round(n / best),
        "us_per_case": round(best / n * 1e6, 2),
        "scheme_load_seconds": round(load_s, 3),
        "cores": os.cpu_count(),
        "cores_used": 1,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=DEFAULT_N, help="cases to group")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    print(json.dumps(run(args.n, args.seed), indent=2))


if __name__ == "__main__":
    main()
