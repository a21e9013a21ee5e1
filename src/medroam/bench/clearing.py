"""Benchmark: clear one national month of synthetic cross-region settlements on DuckDB.

    .venv/bin/python bench/bench_clearing.py                  # 20 million settlements
    .venv/bin/python bench/bench_clearing.py --settlements 1000000 --keep
    .venv/bin/python -m medroam.bench.clearing --settlements 200000

1. Generates the month's clearing lines (``medroam.batch.lines`` schema) with DuckDB's
   vectorised SQL straight into Parquet (no Python loop): every settlement has a basic
   fund line (its head line, which counts the settlement); some also a personal account,
   mutual-aid, 大病, 医疗救助, 大额 or civil-servant line; 1 % are cancellation records
   with negated amounts; 0.5 % are disputed or still unanswered and are held out.
2. In a fresh process (so that its peak memory is the clearing's own), runs the clearing
   computations of a run exactly as the service does, written once in Ibis
   (``medroam.batch.clearing``) and executed by DuckDB over the Parquet file: eligible
   lines → gross matrix, national clear-split, provincial tiers, hospital payments,
   settlements per hospital, advance days under the run and under all four cycles.
3. Checks the invariants (net positions sum to zero; the matrix, the positions and the
   hospital payments all total the cleared amount to the fen) and prints JSON with
   ``clearing.settlements``, ``clearing.lines``, ``clearing.seconds``, ``clearing.peak_mb``
   and ``cores``.
4. Times one bare DuckDB GROUP BY over the same Parquet (``bare.seconds``, in a fresh
   process too) and reports ``clearing.ratio_to_bare_scan`` = clearing / bare.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import ibis  # type: ignore[import-untyped]

from medroam.batch import clearing as batch
from medroam.batch.engine import duckdb_lines, fetch
from medroam.batch.lines import eligible, epoch_day
from medroam.domain.clearing.funds import MUTUAL_AID_FUND_PAY_TYPE
from medroam.domain.clearing.params import ClearingParams, MonthBasis
from medroam.domain.clearing.periods import Cycle, parse_period
from medroam.refdata.regions import load_regions
from medroam.services.clearing import advance_comparison, advance_days_x100

PERIOD = parse_period(Cycle.MONTHLY, "2026-10")
# Why quarterly and annual give the same advance days here: every generated settlement is
# in October 2026, and both the quarter (Q4) and the year of an October day end on
# 31 December, so both cycles apply and pay on the same dates. Only data spread over
# the year can tell them apart (medroam sim --clearing-cycle all does).
ADVANCE_NOTE = (
    "all settlements are in 2026-10: quarter Q4 and year 2026 both end on 12-31, so "
    "quarterly and annual pay on the same day; they differ only on data spread over a year"
)
DEFAULT_SETTLEMENTS = 20_000_000

# (fund_pay_type, fund_line, share of settlements in per mille, amount scale)
EXTRA_LINES = (
    ("310200", "account", 400, 0.10),
    (MUTUAL_AID_FUND_PAY_TYPE, "mutual_aid", 10, 0.05),
    ("390200", "critical", 50, 0.60),
    ("610100", "assistance", 20, 0.10),
    ("330100", "large_expense", 30, 0.30),
    ("320100", "civil_servant", 10, 0.20),
)


def generate(path: Path, settlements: int, seed: int = 20261031) -> int:
    """Write the month's clearing lines to ``path``; returns the number of lines."""
    regions = [r.code for r in load_regions().pooling_regions()]
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute("CREATE TABLE regions (idx INTEGER, code VARCHAR)")
    con.executemany("INSERT INTO regions VALUES (?, ?)", list(enumerate(regions)))
    n_regions = len(regions)
    first_day = epoch_day(PERIOD.start)
    days = (PERIOD.end - PERIOD.start).days + 1
    # treatment places are skewed towards the first regions of the list (the big cities
    # come first in the packaged file): index = floor(R * u^2)
    con.execute(
        f"""
        CREATE VIEW s AS
        SELECT
            i,
            'S' || lpad(CAST(i AS VARCHAR), 9, '0') AS setl_id,
            CAST({first_day} + hash(i, {seed}, 1) % {days} AS INTEGER) AS setl_day,
            CAST(hash(i, {seed}, 2) % {n_regions} AS INTEGER) AS ins_idx,
            CAST(floor({n_regions} * pow((hash(i, {seed}, 3) % 1000000) / 1000000.0, 2))
                 AS INTEGER) AS trt_raw,
            hash(i, {seed}, 4) % 1000 AS kind_pm,
            hash(i, {seed}, 5) % 1000 AS flags_pm,
            hash(i, {seed}, 6) % 200 AS hosp,
            hash(i, {seed}, 7) % 1000000 AS u_amount,
            hash(i, {seed}, 8) % 1000 AS state_pm
        FROM range({settlements}) t(i)
        """
    )
    con.execute(
        f"""
        CREATE VIEW settled AS
        SELECT
            s.setl_id,
            s.setl_day,
            ri.code AS insured_region,
            rt.code AS treatment_region,
            'H' || rt.code || lpad(CAST(s.hosp AS VARCHAR), 4, '0') AS fixmedins_code,
            CASE WHEN s.kind_pm < 600 THEN '310' ELSE '390' END AS insutype,
            CASE WHEN s.kind_pm % 7 = 0 THEN '21' WHEN s.kind_pm % 7 = 1 THEN '41' ELSE '11' END
                AS clr_type,
            CASE WHEN s.kind_pm % 7 = 0 THEN 500000 + s.u_amount * 50
                 ELSE 1000 + s.u_amount / 20 END AS base_fen,
            CASE WHEN s.flags_pm < 10 THEN -1 ELSE 1 END AS sign,
            s.flags_pm,
            s.kind_pm,
            CASE WHEN s.state_pm < 3 THEN 'disputed'
                 WHEN s.state_pm < 5 THEN 'proposed'
                 ELSE 'confirmed' END AS state,
            CAST(s.setl_day + 5 AS INTEGER) AS state_day
        FROM s
        JOIN regions ri ON ri.idx = s.ins_idx
        JOIN regions rt ON rt.idx = CASE WHEN s.trt_raw = s.ins_idx
                                         THEN (s.trt_raw + 1) % {n_regions}
                                         ELSE s.trt_raw END
        """
    )
    common = (
        "setl_id, setl_day, insured_region, treatment_region, fixmedins_code, insutype, clr_type"
    )
    tail = (
        "CAST(CASE WHEN sign < 0 THEN 1 ELSE 0 END AS TINYINT) AS refd_setl_flag, state, "
        "state_day, CAST(NULL AS VARCHAR) AS run_id"
    )
    parts = [
        f"""SELECT {common},
                CASE WHEN insutype = '310' THEN '310100' ELSE '390100' END AS fund_pay_type,
                'basic' AS fund_line, CAST(sign * base_fen AS BIGINT) AS amount_fen, {tail},
                CAST(1 AS TINYINT) AS head_line
            FROM settled"""
    ]
    for n, (code, line, per_mille, scale) in enumerate(EXTRA_LINES):
        # each extra line on its own slice of settlements (hash on the settlement id)
        parts.append(
            f"""SELECT {common}, '{code}' AS fund_pay_type, '{line}' AS fund_line,
                    CAST(sign * round(base_fen * {scale}) AS BIGINT) AS amount_fen, {tail},
                    CAST(0 AS TINYINT) AS head_line
                FROM settled WHERE hash(setl_id, {n}) % 1000 < {per_mille}"""
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"COPY ({' UNION ALL '.join(parts)}) TO '{path}' "
        f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)"
    )
    lines = con.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchone()
    con.close()
    return int(lines[0]) if lines else 0


def clear(path: Path, settlements: int) -> dict[str, Any]:
    """The clearing run's computations on DuckDB; timings and invariants."""
    params = ClearingParams()
    started = time.perf_counter()
    con = ibis.duckdb.connect(threads=2)
    lines = duckdb_lines(path, con)
    run = eligible(lines, epoch_day(PERIOD.end), MonthBasis.SETTLEMENT, "run_id")
    t0 = time.perf_counter()
    with_totals = fetch(batch.matrix_with_totals(run))
    totals = batch.totals_from_matrix(with_totals)
    matrix = with_totals.select(list(batch.MATRIX_COLUMNS))
    # positions from the gross matrix, as the service does from the stored matrix
    stored = con.create_table("run_matrix", matrix, temp=True)
    provinces = fetch(batch.province_positions(stored)).to_pylist()
    regions = fetch(batch.region_positions(stored)).to_pylist()
    hospitals = fetch(batch.hospital_lines(run))
    counts = batch.hospital_settlements_of(hospitals)
    days = fetch(batch.hospital_days(run))
    t1 = time.perf_counter()
    due = epoch_day(date(2026, 12, 14))
    advance = advance_days_x100(days, due)
    comparison = advance_comparison(days, params)
    finished = time.perf_counter()

    cleared = int(totals["amount_fen"])
    assert sum(p["net"] for p in provinces) == 0, "province nets must sum to zero"
    assert sum(r["net"] for r in regions) == 0, "region nets must sum to zero"
    assert int(matrix["amount_fen"].to_numpy().sum()) == cleared
    assert int(hospitals["amount_fen"].to_numpy().sum()) == cleared
    assert int(advance["amount_fen"].to_numpy().sum()) == cleared
    inter = sum(p["payable"] for p in provinces)
    overall = {c["cycle"]: c["advance_days"] for c in comparison if c["fixmedins_code"] == "*"}
    return {
        "clearing.settlements": settlements,
        "clearing.lines": int(totals["line_count"]),
        "clearing.cleared_fen": cleared,
        "clearing.inter_province_fen": inter,
        "clearing.provinces": len(provinces),
        "clearing.regions": len(regions),
        "clearing.hospitals": counts.num_rows,
        "clearing.matrix_rows": matrix.num_rows,
        "clearing.select_seconds": round(t0 - started, 2),
        "clearing.compute_seconds": round(t1 - t0, 2),
        "clearing.advance_seconds": round(finished - t1, 2),
        "clearing.seconds": round(finished - started, 2),
        "clearing.peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "clearing.advance_days_by_cycle": overall,
        "clearing.advance_days_note": ADVANCE_NOTE,
        "cores": os.cpu_count(),
    }


def bare_scan(path: Path) -> dict[str, Any]:
    """The yardstick: one plain DuckDB GROUP BY over the same Parquet (amount and lines
    per hospital), two threads, in a fresh process like the clearing."""
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET threads = 2")
    groups = con.execute(
        "SELECT count(*) FROM (SELECT treatment_region, fixmedins_code, sum(amount_fen), "
        f"count(*) FROM read_parquet('{path}') GROUP BY treatment_region, fixmedins_code)"
    ).fetchone()
    seconds = time.perf_counter() - started
    return {
        "bare.seconds": round(seconds, 2),
        "bare.groups": int(groups[0]) if groups else 0,
        "bare.peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def _phase(phase: str, path: Path, settlements: int) -> dict[str, Any]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "medroam.bench.clearing",
            "--phase",
            phase,
            "--parquet",
            str(path),
            "--settlements",
            str(settlements),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def run(
    settlements: int = DEFAULT_SETTLEMENTS, workdir: Path | None = None, keep: bool = False
) -> dict[str, Any]:
    """Generate (unless kept from an earlier run) and clear ``settlements`` settlements;
    the clearing runs in a fresh process so that its peak memory is its own."""
    workdir = workdir or Path(tempfile.gettempdir()) / "medroam-bench-clearing"
    path = workdir / f"lines-{settlements}.parquet"
    gen_seconds = None
    if not (keep and path.exists()):
        started = time.perf_counter()
        generate(path, settlements)
        gen_seconds = round(time.perf_counter() - started, 2)
    figures = _phase("clear", path, settlements)
    figures.update(_phase("bare", path, settlements))
    figures["clearing.ratio_to_bare_scan"] = round(
        figures["clearing.seconds"] / max(figures["bare.seconds"], 0.01), 2
    )
    figures["generate.seconds"] = gen_seconds
    figures["generate.parquet_mb"] = round(path.stat().st_size / 2**20)
    if not keep:
        path.unlink()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--settlements", type=int, default=DEFAULT_SETTLEMENTS)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="reuse / keep the Parquet file")
    parser.add_argument("--phase", choices=["all", "clear", "bare"], default="all")
    parser.add_argument("--parquet", type=Path, default=None)
    args = parser.parse_args()

    if args.phase == "clear":
        print(json.dumps(clear(args.parquet, args.settlements)))
        return
    if args.phase == "bare":
        print(json.dumps(bare_scan(args.parquet)))
        return
    print(json.dumps(run(args.settlements, args.workdir, args.keep), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
