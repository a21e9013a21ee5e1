"""Benchmark: the gateway as it is deployed — ``medroam serve --workers N`` on
PostgreSQL — driven by a load generator in its own process.

A fresh PostgreSQL schema is migrated and seeded with two provinces of the demo nation
(北京 and 河北: patients of each treated in the other). ``medroam serve`` is started as a
real process with ``--workers`` (default: one per core) and SQL counting on
(``MEDROAM_SQL_STATS=1``); for each concurrency, :mod:`medroam.bench.loadgen` plays
``--n`` whole outpatient visits (2201 → 2204 → 2207) at once from its own process.
Server CPU is read from ``/proc`` for the server and its workers, before and after.

Then, unless ``--no-settlements-only``, as many further visits are opened (2201 → 2204,
not measured) and only their 2207s are played and measured: the settlements-only rate
the issue's goal names (≥ 1,000 settlements/s), the whole-visit rate being the other.

Keys (for the highest concurrency; every run is under ``runs`` and
``settlement_runs``): ``gateway.pg.per_second`` (whole visits, i.e. settlements in the
visit mix, per second), ``gateway.pg.p99_ms`` (p99 of 2207),
``gateway.pg.cpu_ms_per_visit`` (server CPU), ``gateway.pg.statements_per_visit``,
``gateway.pg.settlements_only_per_second``, ``gateway.pg.settlements_only_p99_ms``,
``gateway.pg.cpu_ms_per_settlement``.

    python -m medroam.bench.gateway_pg [--n 2000] [--concurrency 4,16,64] [--workers 2]
        [--no-settlements-only]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, make_url, text

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ENV_PG = "MEDROAM_BENCH_PG_URL"
PROVINCES = ("11", "13")
AS_OF = date(2026, 10, 1)
WARMUP = 20
_TICKS = os.sysconf("SC_CLK_TCK")


@contextmanager
def fresh_schema(base_url: str) -> Iterator[str]:
    """A URL to a new, empty schema of ``base_url``'s database, dropped afterwards (for
    ``sqlite``, a new database file in a temporary folder)."""
    if base_url.startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix="medroam-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'gateway.db'}"
        return
    schema = f"medroam_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def make_jobs(url: str, n: int, seed: int = 7) -> list[dict[str, Any]]:
    """Seed the database and plan ``n`` visits of patients insured in the other province."""
    from medroam.refdata.regions import load_regions
    from medroam.services.seed import plan_regions, seed_demo
    from medroam.sim.behaviour import Shape
    from medroam.sim.driver import price_text, yuan_text
    from medroam.sim.visits import BillMaker
    from medroam.store.db import make_engine, upgrade

    engine = make_engine(url)
    try:
        upgrade(engine)
        seeded = seed_demo(engine, seed=1, as_of=AS_OF, provinces=PROVINCES)
    finally:
        engine.dispose()
    codes = set(seeded.written + seeded.skipped)
    table = [r for r in load_regions().pooling_regions() if r.code in codes]
    plans = plan_regions(1, table, seeded.as_of, 24)
    persons = [p for rp in plans for p in rp.persons if p.psn_type not in ("1402",)]
    hospitals = [i for rp in plans for i in rp.institutions]
    maker = BillMaker(Shape())
    rng = random.Random(seed)
    run_tag = uuid.uuid4().hex[:6]
    jobs: list[dict[str, Any]] = []
    for k in range(n):
        h = hospitals[k % len(hospitals)]
        others = [p for p in persons if p.insured_region[:2] != h.region[:2]]
        person = others[rng.randrange(len(others))]
        bill = maker.outpatient(rng, h.region, h.level, emergency=False)
        tif = next(c for c in h.credentials if c.scheme == "tif")
        jobs.append(
            {
                "hospital": {
                    "code": h.code, "name": h.name, "region": h.region,
                    "key_id": tif.key_id, "secret": tif.secret,
                },
                "person": {
                    "psn_no": person.psn_no, "insutype": person.insutype,
                    "certno": person.identity.certno, "insured_region": person.insured_region,
                },
                "ipt_otp_no": f"LG{run_tag}{k:08d}",
                "medfee_sumamt": yuan_text(sum(line.amount for line in bill)),
                "bill": [
                    {
                        "feedetl_sn": line.sn, "chrg_bchno": "CB1",
                        "med_list_codg": line.code, "det_item_fee_sumamt": yuan_text(line.amount),
                        "cnt": str(line.quantity), "pric": price_text(line.price),
                        "hosp_appr_flag": "1" if line.approved else "0",
                    }
                    for line in bill
                ],
            }
        )  # fmt: skip
    return jobs


@dataclass(frozen=True, slots=True)
class Proc:
    """One process as ``/proc/<pid>/stat`` describes it."""

    name: str
    ppid: int
    cpu_seconds: float  # user + system


def processes() -> dict[int, Proc]:
    """Every process of this machine (those that vanish while read are skipped)."""
    found: dict[int, Proc] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        cpu = (int(fields[11]) + int(fields[12])) / _TICKS
        found[int(entry)] = Proc(name, int(fields[1]), cpu)
    return found


def children(pid: int) -> list[int]:
    """The direct children of ``pid``."""
    return [child for child, proc in processes().items() if proc.ppid == pid]


def _tree_cpu_seconds(root: int) -> float:
    """User + system CPU of ``root`` and every process descending from it."""
    table = processes()
    total = 0.0
    for pid, proc in table.items():
        p = pid
        while p and p != root:
            p = table[p].ppid if p in table else 0
        if p == root:
            total += proc.cpu_seconds
    return total


def postmaster_pid() -> int | None:
    """The local PostgreSQL server's main process, when this machine runs it (its CPU,
    backends included, is then reported too; it includes any other client's work)."""
    table = processes()
    for pid, proc in table.items():
        parent = table.get(proc.ppid)
        if proc.name == "postgres" and (parent is None or parent.name != "postgres"):
            return pid
    return None


class Server:
    """``medroam serve`` as a child process."""

    def __init__(self, url: str, workers: int, pool_size: int) -> None:
        from medroam.netutil import free_port

        self.port = free_port()
        env = {**os.environ, "MEDROAM_SQL_STATS": "1"}
        self.proc = subprocess.Popen(
            [
                sys.executable, "-c", "from medroam.cli import main; main()", "serve",
                "--db", url, "--port", str(self.port), "--workers", str(workers),
                "--pool-size", str(pool_size), "--log-level", "warning",
            ],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"medroam serve exited: {err[-500:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("medroam serve did not answer within 60 s")
            time.sleep(0.2)
        time.sleep(0.5 * workers)  # every worker up

    def cpu_seconds(self) -> float:
        return _tree_cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _loadgen(
    path: Path, url: str, concurrency: int, phase: str, opened: Path | None = None
) -> dict[str, Any]:
    args = [sys.executable, "-m", "medroam.bench.loadgen", str(path), url, "--concurrency",
            str(concurrency), "--warmup", str(WARMUP), "--phase", phase]  # fmt: skip
    if opened is not None:
        args += ["--opened", str(opened)]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr[-800:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    result.pop("started_at", None)
    return result


def _measured(
    server: Server, sqlite: bool, calls: int, play: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """``play`` with the server's and the database's CPU around it, per item and call."""
    pg = None if sqlite else postmaster_pid()
    db0 = _tree_cpu_seconds(pg) if pg else 0.0
    cpu0 = server.cpu_seconds()
    result = play()
    cpu1 = server.cpu_seconds()
    db1 = _tree_cpu_seconds(pg) if pg else 0.0
    items = result["visits"] + WARMUP
    unit = "visit" if calls == 3 else "settlement"
    result[f"server_cpu_ms_per_{unit}"] = round((cpu1 - cpu0) * 1000 / items, 2)
    result["server_cpu_ms_per_call"] = round((cpu1 - cpu0) * 1000 / items / calls, 2)
    if pg:
        result[f"database_cpu_ms_per_{unit}"] = round((db1 - db0) * 1000 / items, 2)
    return result


def run(
    n: int = 2_000,
    concurrencies: Sequence[int] = (4, 16, 64),
    workers: int | None = None,
    pool_size: int = 8,
    db: str | None = None,
    settlements: bool = True,
) -> dict[str, Any]:
    """Whole visits at each concurrency; with ``settlements``, then as many visits opened
    (2201 + 2204, not measured) and only their 2207s played and measured."""
    base = db or os.environ.get(ENV_PG) or DEFAULT_PG
    sqlite = base.startswith("sqlite")
    workers = 1 if sqlite else (workers or os.cpu_count() or 1)
    runs: list[dict[str, Any]] = []
    settle_runs: list[dict[str, Any]] = []
    per_level = (n + WARMUP) * (2 if settlements else 1)
    with fresh_schema(base) as url, tempfile.TemporaryDirectory(prefix="medroam-lg-") as tmp:
        jobs = make_jobs(url, per_level * len(concurrencies))
        server = Server(url, workers, pool_size)
        try:
            for i, c in enumerate(concurrencies):
                part = jobs[i * per_level : i * per_level + n + WARMUP]
                path = Path(tmp) / f"jobs-{c}.json"
                path.write_text(json.dumps(part), encoding="utf-8")
                runs.append(
                    _measured(server, sqlite, 3, partial(_loadgen, path, server.url, c, "visit"))
                )
                if not settlements:
                    continue
                rest = jobs[i * per_level + n + WARMUP : (i + 1) * per_level]
                to_open = Path(tmp) / f"open-{c}.json"
                opened = Path(tmp) / f"opened-{c}.json"
                to_open.write_text(json.dumps(rest), encoding="utf-8")
                _loadgen(to_open, server.url, c, "open", opened)
                settle_runs.append(
                    _measured(server, sqlite, 1, partial(_loadgen, opened, server.url, c, "settle"))
                )
        finally:
            server.stop()
    last = runs[-1]
    if sqlite:
        out: dict[str, Any] = {
            "benchmark": "gateway-sqlite",
            "workers": 1,
            "cores": os.cpu_count(),
            "load_1min": round(os.getloadavg()[0], 2),
            "gateway.sqlite.per_second": last["settlements_per_second"],
            "gateway.sqlite.p99_ms": last["2207_p99_ms"],
            "gateway.sqlite.cpu_ms_per_visit": last["server_cpu_ms_per_visit"],
        }
        prefix = "gateway.sqlite"
    else:
        out = {
            "benchmark": "gateway-pg",
            "workers": workers,
            "pool_size": pool_size,
            "cores": os.cpu_count(),
            "load_1min": round(os.getloadavg()[0], 2),
            "gateway.pg.per_second": last["settlements_per_second"],
            "gateway.pg.p99_ms": last["2207_p99_ms"],
            "gateway.pg.cpu_ms_per_visit": last["server_cpu_ms_per_visit"],
            "gateway.pg.statements_per_visit": last.get("statements_per_visit"),
        }
        prefix = "gateway.pg"
    if settle_runs:
        s = settle_runs[-1]
        out[f"{prefix}.settlements_only_per_second"] = s["settlements_per_second"]
        out[f"{prefix}.settlements_only_p99_ms"] = s["2207_p99_ms"]
        out[f"{prefix}.cpu_ms_per_settlement"] = s["server_cpu_ms_per_settlement"]
    out["runs"] = runs
    out["settlement_runs"] = settle_runs
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--n", type=int, default=2_000, help="visits per concurrency")
    ap.add_argument("--concurrency", default="4,16,64", help="comma-separated")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--pool-size", type=int, default=8)
    ap.add_argument(
        "--db", default=None, help=f"PostgreSQL URL (default: ${ENV_PG} or {DEFAULT_PG})"
    )
    ap.add_argument(
        "--no-settlements-only",
        action="store_true",
        help="skip the settlements-only runs (2207 alone on visits opened beforehand)",
    )
    args = ap.parse_args()
    levels = [int(x) for x in args.concurrency.split(",") if x.strip()]
    result = run(
        args.n, levels, args.workers, args.pool_size, args.db, not args.no_settlements_only
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
