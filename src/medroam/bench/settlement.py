"""Benchmark: 30-line bills settled in-process on one core (the calculator alone).

python bench/bench_settlement.py [--n 20000] [--lines 30] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from datetime import date
from typing import Any

from medroam.domain.accumulators import Accumulators
from medroam.domain.calculator import settle
from medroam.domain.catalogue import Catalogue, FeeLine
from medroam.domain.codes import BenefitStatus
from medroam.domain.settlement import AccountState, Person, Visit
from medroam.refdata.catalogue import load_catalogue
from medroam.refdata.policies import load_policy_book

DEFAULT_N = 20_000


def build_bills(catalogue: Catalogue, n_bills: int, n_lines: int, seed: int) -> list[list[FeeLine]]:
    rng = random.Random(seed)
    codes = sorted(catalogue.items)
    bills = []
    for b in range(n_bills):
        lines = []
        for i in range(n_lines):
            code = rng.choice(codes)
            qty = rng.randint(1, 5) * 10_000
            price = rng.randint(100, 200_000) * 10_000  # micro-yuan: 0.01 .. 2,000 yuan
            amount = price * qty // 100_000_000  # fen, exact here (price is a whole fen)
            lines.append(FeeLine(f"{b}-{i}", code, amount, qty, price))
        bills.append(lines)
    return bills


def run(n: int = DEFAULT_N, lines: int = 30, seed: int = 7) -> dict[str, Any]:
    """Settle ``n`` bills of ``lines`` lines; settlements per second and latencies."""
    treatment = "110100"
    catalogue = load_catalogue(treatment)
    policy = load_policy_book().find("150700", "310", date(2026, 10, 15))
    person = Person("BENCH", "测试", "01", "", "1", date(1958, 5, 1), "310", "1201", "150700")
    visit = Visit(
        "V",
        "21",
        "H11010000001",
        "3",
        treatment,
        date(2026, 10, 8),
        date(2026, 10, 15),
        account_flag="1",
    )
    bills = build_bills(catalogue, min(n, 2_000), lines, seed)
    ytd = Accumulators()
    account = AccountState(300_000)
    for bill in bills[:200]:  # warm-up
        settle(bill, visit, person, BenefitStatus.LONG_TERM, policy, catalogue, ytd, account)

    samples: list[float] = []
    start = time.perf_counter()
    for i in range(n):
        bill = bills[i % len(bills)]
        t0 = time.perf_counter_ns()
        settle(bill, visit, person, BenefitStatus.LONG_TERM, policy, catalogue, ytd, account)
        samples.append((time.perf_counter_ns() - t0) / 1000)
    elapsed = time.perf_counter() - start
    samples.sort()
    return {
        "benchmark": "settlement",
        "lines_per_bill": lines,
        "settlements": n,
        "seconds": round(elapsed, 3),
        "settlement.per_second": round(n / elapsed),
        "p50_us": round(statistics.median(samples), 1),
        "p99_us": round(samples[max(int(len(samples) * 0.99) - 1, 0)], 1),
        "cores": os.cpu_count(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=DEFAULT_N, help="settlements to time")
    ap.add_argument("--lines", type=int, default=30)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    print(json.dumps(run(args.n, args.lines, args.seed), indent=2))


if __name__ == "__main__":
    main()
