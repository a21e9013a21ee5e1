"""Benchmark: outpatient settlements end to end through the gateway over HTTP.

A fresh database (SQLite in a temporary directory, or ``--db``) is seeded with a part of
the demo nation; the gateway runs in-process (uvicorn) and ``--concurrency`` HIS clients
— one per hospital, each signing with its TIF credentials — settle ``--n`` outpatient
visits of patients insured in another province: 2201 registration, 2204 fee upload (a
bill from the place of treatment's catalogue), 2207 settlement. Prints JSON with
``gateway.per_second`` (settlements per second), ``gateway.p99_ms`` (p99 latency of the
settlement transaction 2207) and the core count.

    python -m medroam.bench.gateway [--n 2000] [--concurrency 4] [--db URL]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

from medroam.client import HisClient
from medroam.services.seed import plan_regions, seed_demo
from medroam.sim.behaviour import Shape
from medroam.sim.driver import GatewayServer, SimClock, price_text, yuan_text
from medroam.sim.visits import BillMaker, FeeItem
from medroam.store.db import make_engine, upgrade

DEFAULT_N = 2_000
PROVINCES = ("11", "13")  # patients insured in 河北 treated in 北京, and the other way
AS_OF = date(2026, 10, 1)


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(int(len(ordered) * q) - 1, 0)] if ordered else 0.0


def run(
    n: int = DEFAULT_N, concurrency: int = 4, db: str | None = None, seed: int = 7
) -> dict[str, Any]:
    """Settle ``n`` outpatient visits over HTTP with ``concurrency`` clients."""
    from medroam.gateway import logging as gateway_logging

    gateway_logging.configure("warning")
    with tempfile.TemporaryDirectory(prefix="medroam-bench-gw-") as tmp:
        url = db or f"sqlite:///{Path(tmp) / 'gateway.db'}"
        engine = make_engine(url)
        upgrade(engine)
        seeded = seed_demo(engine, seed=1, as_of=AS_OF, provinces=PROVINCES)
        table = [r for r in _regions() if r.code in set(seeded.written + seeded.skipped)]
        plans = plan_regions(1, table, seeded.as_of, 24)
        persons = [p for rp in plans for p in rp.persons if p.psn_type not in ("1402",)]
        hospitals = [i for rp in plans for i in rp.institutions]
        clock = SimClock()  # real time: the benchmark runs "now"
        server = GatewayServer(engine, clock)
        server.start()
        maker = BillMaker(Shape())
        rng = random.Random(seed)
        jobs: list[tuple[int, Any, Any, tuple[FeeItem, ...]]] = []
        for k in range(n):
            hospital = hospitals[k % len(hospitals)]
            others = [p for p in persons if p.insured_region[:2] != hospital.region[:2]]
            person = others[rng.randrange(len(others))]
            bill = maker.outpatient(rng, hospital.region, hospital.level, emergency=False)
            jobs.append((k, hospital, person, bill))
        clients: dict[str, HisClient] = {}
        for h in hospitals:
            tif = next(c for c in h.credentials if c.scheme == "tif")
            clients[h.code] = HisClient(
                server.url, h.code, h.name, h.region, scheme="tif", key_id=tif.key_id,
                secret=tif.secret,
            )  # fmt: skip
        settle_ms: list[float] = []
        visit_ms: list[float] = []
        failures: list[str] = []
        lock = threading.Lock()

        def one(job: tuple[int, Any, Any, tuple[FeeItem, ...]]) -> None:
            k, hospital, person, bill = job
            c = clients[hospital.code]
            who = person.identity
            insuplc = person.insured_region
            now = f"{clock.now():%Y-%m-%d %H:%M:%S}"
            t0 = time.perf_counter()
            reg = c.call(
                "2201",
                {
                    "data": {
                        "psn_no": person.psn_no,
                        "insutype": person.insutype,
                        "begntime": now,
                        "mdtrt_cert_type": "02",
                        "mdtrt_cert_no": who.certno,
                        "ipt_otp_no": f"BM{seed}{k:08d}",
                    }
                },
                insuplc_admdvs=insuplc,
            )
            if reg.get("infcode") != 0:
                with lock:
                    failures.append(f"2201: {reg.get('err_msg')}")
                return
            mdtrt_id = reg["output"]["data"]["mdtrt_id"]
            rows = [
                {
                    "feedetl_sn": line.sn,
                    "mdtrt_id": mdtrt_id,
                    "psn_no": person.psn_no,
                    "chrg_bchno": "CB1",
                    "fee_ocur_time": now,
                    "med_list_codg": line.code,
                    "det_item_fee_sumamt": yuan_text(line.amount),
                    "cnt": str(line.quantity),
                    "pric": price_text(line.price),
                    "hosp_appr_flag": "1" if line.approved else "0",
                }
                for line in bill
            ]
            up = c.call("2204", {"feedetail": rows}, insuplc_admdvs=insuplc)
            if up.get("infcode") != 0:
                with lock:
                    failures.append(f"2204: {up.get('err_msg')}")
                return
            data = {
                "psn_no": person.psn_no,
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": who.certno,
                "med_type": "11",
                "medfee_sumamt": yuan_text(sum(line.amount for line in bill)),
                "psn_setlway": "01",
                "mdtrt_id": mdtrt_id,
                "chrg_bchno": "CB1",
                "insutype": person.insutype,
                "acct_used_flag": "1",
            }
            t1 = time.perf_counter()
            settled = c.call("2207", {"data": data}, insuplc_admdvs=insuplc)
            t2 = time.perf_counter()
            with lock:
                if settled.get("infcode") != 0:
                    failures.append(f"2207: {settled.get('err_msg')}")
                    return
                settle_ms.append((t2 - t1) * 1000)
                visit_ms.append((t2 - t0) * 1000)

        try:
            warm = min(20, n)
            for job in jobs[:warm]:  # warm-up: connections, caches
                one(job)
            settle_ms.clear()
            visit_ms.clear()
            started = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(one, jobs[warm:]))
            elapsed = time.perf_counter() - started
        finally:
            for c in clients.values():
                c.close()
            server.stop()
            engine.dispose()
        done = len(settle_ms)
        return {
            "benchmark": "gateway",
            "database": url.split(":", 1)[0],
            "settlements": done,
            "failures": len(failures),
            "failure_examples": sorted(set(failures))[:3],
            "concurrency": concurrency,
            "calls_per_settlement": 3,
            "seconds": round(elapsed, 3),
            "gateway.per_second": round(done / elapsed, 1) if elapsed else None,
            "gateway.calls_per_second": round(3 * done / elapsed, 1) if elapsed else None,
            "gateway.p50_ms": round(_percentile(settle_ms, 0.5), 1),
            "gateway.p99_ms": round(_percentile(settle_ms, 0.99), 1),
            "gateway.visit_p99_ms": round(_percentile(visit_ms, 0.99), 1),
            "cores": os.cpu_count(),
        }


def _regions() -> list[Any]:
    from medroam.refdata.regions import load_regions

    return [r for r in load_regions().pooling_regions() if r.code[:2] in PROVINCES]


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--n", type=int, default=DEFAULT_N, help="settlements")
    ap.add_argument("--concurrency", type=int, default=4, help="HIS clients at once")
    ap.add_argument("--db", default=None, help="database URL (default: a temporary SQLite)")
    args = ap.parse_args()
    print(json.dumps(run(args.n, args.concurrency, args.db), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
