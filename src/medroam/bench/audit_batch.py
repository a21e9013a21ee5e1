"""Benchmark: the after-settlement audit (事后) of a synthetic month on DuckDB over Parquet.

    .venv/bin/python -m medroam.bench.audit_batch --settlements 1000000
    .venv/bin/python -m medroam.bench.audit_batch --settlements 20000000 --workdir /tmp/aud --keep

1. Generates the month's audit tables (``settlements``, ``visits``, ``fee_lines``,
   ``diagnoses``, ``persons``, the columns ``services.audit_run`` reads) straight into
   Parquet with DuckDB's vectorised SQL: about ten fee lines per settlement, one visit in
   four a stay (one per person), four visits per person at one hospital;
   ``VIOLATION_PER_MILLE`` of the settlements carry one violation of a shipped rule (a
   price over the cap, a bed fee in an outpatient visit, a drug over its quantity, a
   charge dated outside the stay).
2. In a fresh process (its peak memory is the audit's own) runs ``run_audit_parquet``:
   every rule's candidates by set computations, then the domain's checks on those.
3. Prints JSON: ``audit.settlements``, ``audit.fee_lines``, ``audit.seconds``,
   ``audit.peak_mb``, ``audit.candidates``, ``audit.findings`` and the findings by rule.

Goal (issue 11): 20 M settlements and 200 M fee lines within 5 minutes and 8 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb

LINES_PER_SETTLEMENT = 10
VIOLATION_PER_MILLE = 5
PERIOD = "2026-10"
# 2026-10-01 00:00 China time is 2026-09-30 16:00 UTC; visits are naive local times
MONTH_START_UTC = "2026-09-30 16:00:00"
MONTH_START_LOCAL = "2026-10-01 00:00:00"


def generate(directory: Path, settlements: int, seed: int = 11) -> dict[str, int]:
    """Write the five tables; rows per table."""
    directory.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET threads = 2")
    n = settlements
    con.execute(
        f"""
        CREATE VIEW s AS
        SELECT i,
               'S' || lpad(CAST(i AS VARCHAR), 10, '0') AS setl_id,
               'M' || lpad(CAST(i AS VARCHAR), 10, '0') AS mdtrt_id,
               'P' || lpad(CAST(i // 4 AS VARCHAR), 10, '0') AS psn_no,
               CAST(hash(i, {seed}, 1) % 31 AS INTEGER) AS day,
               i % 4 = 0 AS inpatient,
               CAST(hash(i, {seed}, 3) % 8 AS INTEGER) AS los,
               hash(i, {seed}, 4) % 1000 < {VIOLATION_PER_MILLE} AS violates,
               CAST(hash(i, {seed}, 5) % 4 AS INTEGER) AS kind_of_violation,
               CAST(hash(i // 4, {seed}, 6) % 300 AS INTEGER) AS region_idx
        FROM range({n}) t(i)
        """
    )
    files = {name: directory / f"{name}.parquet" for name in
             ("settlements", "visits", "fee_lines", "diagnoses", "persons")}  # fmt: skip
    con.execute(
        f"""COPY (
        SELECT setl_id, mdtrt_id, psn_no,
               TIMESTAMP '{MONTH_START_UTC}' + INTERVAL (day) DAY + INTERVAL 3 HOUR AS setl_time,
               'valid' AS status, false AS refd_setl_flag,
               CAST(0 AS BIGINT) AS medfee,
               'H' || lpad(CAST(region_idx AS VARCHAR), 11, '0') AS fixmedins_code,
               '310' AS insutype,
               CAST(110100 + (region_idx % 7) * 100 AS VARCHAR) AS insured_region,
               CAST(310100 + (region_idx % 5) * 100 AS VARCHAR) AS treatment_region
        FROM s) TO '{files["settlements"]}' (FORMAT parquet, COMPRESSION zstd)"""
    )
    con.execute(
        f"""COPY (
        SELECT mdtrt_id, psn_no,
               CASE WHEN inpatient THEN 'inpatient' ELSE 'outpatient' END AS kind,
               CASE WHEN inpatient THEN '21' ELSE '11' END AS med_type,
               TIMESTAMP '{MONTH_START_LOCAL}' + INTERVAL (greatest(day - los, 0)) DAY
                   + INTERVAL 9 HOUR AS begin_time,
               CASE WHEN inpatient
                    THEN TIMESTAMP '{MONTH_START_LOCAL}' + INTERVAL (day) DAY + INTERVAL 9 HOUR
               END AS end_time,
               CAST(1 + region_idx % 3 AS VARCHAR) AS institution_level
        FROM s) TO '{files["visits"]}' (FORMAT parquet, COMPRESSION zstd)"""
    )
    # ten lines per settlement from a pool of ordinary codes; a violating settlement's
    # first line is replaced by its violation
    con.execute(
        f"""COPY (
        SELECT s.mdtrt_id, s.setl_id,
               lpad(CAST(k AS VARCHAR), 4, '0') AS feedetl_sn,
               CASE WHEN s.violates AND k = 0 THEN
                    CASE s.kind_of_violation
                         WHEN 0 THEN '001102000010000'
                         WHEN 1 THEN '001109000010000'
                         WHEN 2 THEN 'XC10AAE041A001010190001'
                         ELSE 'ORD' || lpad(CAST(hash(s.i, k) % 997 AS VARCHAR), 5, '0') END
                    ELSE 'ORD' || lpad(CAST(hash(s.i, k) % 997 AS VARCHAR), 5, '0')
               END AS med_list_codg,
               CAST(CASE WHEN s.violates AND k = 0 AND s.kind_of_violation = 2 THEN 400000
                         ELSE 10000 END AS BIGINT) AS quantity,
               CAST(CASE WHEN s.violates AND k = 0 AND s.kind_of_violation = 0 THEN 30000000
                         ELSE 5000000 + hash(s.i, k) % 1000000 END AS BIGINT) AS unit_price,
               CAST(500 + hash(s.i, k) % 100 AS BIGINT) AS amount,
               CASE WHEN s.violates AND k = 0 AND s.kind_of_violation = 3 AND s.inpatient
                    THEN TIMESTAMP '{MONTH_START_LOCAL}' + INTERVAL (greatest(s.day - s.los, 0)) DAY
                         - INTERVAL 2 DAY
                    ELSE TIMESTAMP '{MONTH_START_LOCAL}' + INTERVAL (s.day) DAY + INTERVAL 8 HOUR
               END AS fee_ocur_time,
               'settled' AS status
        FROM s, range({LINES_PER_SETTLEMENT}) r(k)
        ) TO '{files["fee_lines"]}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)"""
    )
    con.execute(
        f"""COPY (
        SELECT mdtrt_id, 'J18.900' AS diag_code, true AS valid, 'discharge' AS stage
        FROM s WHERE inpatient) TO '{files["diagnoses"]}' (FORMAT parquet, COMPRESSION zstd)"""
    )
    con.execute(
        f"""COPY (
        SELECT DISTINCT psn_no,
               CASE WHEN hash(psn_no) % 2 = 0 THEN '1' ELSE '2' END AS gender,
               CAST(DATE '1960-01-01' + INTERVAL (CAST(hash(psn_no) % 20000 AS INTEGER)) DAY
                    AS DATE) AS birth_date
        FROM s) TO '{files["persons"]}' (FORMAT parquet, COMPRESSION zstd)"""
    )
    counts = {}
    for name, path in files.items():
        row = con.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchone()
        counts[name] = int(row[0]) if row else 0
    con.close()
    return counts


def audit(directory: Path) -> dict[str, Any]:
    """The audit of the generated month (run in its own process)."""
    from medroam.services.audit_run import run_audit_parquet

    started = time.perf_counter()
    found, rules, settlements, candidates = run_audit_parquet(directory, PERIOD)
    seconds = time.perf_counter() - started
    by_rule = Counter(f.finding.rule.code for f in found)
    return {
        "audit.settlements": settlements,
        "audit.rules": rules,
        "audit.candidates": candidates,
        "audit.findings": len(found),
        "audit.seconds": round(seconds, 2),
        "audit.peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "audit.findings_by_rule": dict(sorted(by_rule.items())),
    }


def run(settlements: int, workdir: Path | None = None, keep: bool = False) -> dict[str, Any]:
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        directory = (workdir or Path(tmp)) / f"audit-{settlements}"
        t0 = time.perf_counter()
        counts = generate(directory, settlements)
        generated = time.perf_counter() - t0
        out = subprocess.run(
            [sys.executable, "-m", "medroam.bench.audit_batch", "--phase", "audit",
             "--dir", str(directory)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        figures: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        figures["audit.fee_lines"] = counts["fee_lines"]
        figures["generate.seconds"] = round(generated, 1)
        if not keep and workdir is not None:
            for f in directory.glob("*.parquet"):
                f.unlink()
        return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--settlements", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--phase", choices=("all", "audit"), default="all")
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    if args.phase == "audit":
        print(json.dumps(audit(args.dir), ensure_ascii=False))
        return
    print(json.dumps(run(args.settlements, args.workdir, args.keep), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
