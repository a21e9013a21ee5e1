"""Benchmark: CHS-DRG 1.1 cases grouped per second, in-process on one core.

Cases are SYNTHETIC (``domain.drg.synthetic.historical_year``: one template per ADRG with
added MCC/CC secondaries), so every MDC and ADRG is represented. Prints JSON with
``drg.per_second`` and the machine's core count. A benchmark, never a test.

    python bench/bench_drg.py [--n 100000] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from medroam.domain.drg.grouper import group
from medroam.domain.drg.synthetic import historical_year
from medroam.refdata.drg import load_scheme


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100_000, help="cases to group")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    t0 = time.perf_counter()
    scheme = load_scheme()
    load_s = time.perf_counter() - t0
    cases = [h.case for h in historical_year(scheme, seed=args.seed, n=min(args.n, 20_000))]
    for c in cases[:1_000]:  # warm-up
        group(c, scheme)

    runs: list[float] = []
    for _ in range(3):
        start = time.perf_counter()
        for i in range(args.n):
            group(cases[i % len(cases)], scheme)
        runs.append(time.perf_counter() - start)
    best = min(runs)
    print(
        json.dumps(
            {
                "benchmark": "drg_grouping",
                "scheme": scheme.label,
                "cases": args.n,
                "seconds_best_of_3": round(best, 3),
                "seconds_median": round(statistics.median(runs), 3),
                "drg.per_second": round(args.n / best),
                "us_per_case": round(best / args.n * 1e6, 2),
                "scheme_load_seconds": round(load_s, 3),
                "cores": os.cpu_count(),
                "cores_used": 1,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
