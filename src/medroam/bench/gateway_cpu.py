"""Benchmark: server CPU per interface call without HTTP, one thread, SQL counted.

The same whole visits as :mod:`medroam.bench.gateway_pg` (2201 → 2204 → 2207), given
straight to :meth:`Gateway.process` (headers, body) one after another: what remains is
the gateway's own cost (authentication, envelope, handler, storage, JSON), measured as
CPU time of this process (the database server's CPU is not in it). Prints ms of CPU and
SQL statements per call.

    python -m medroam.bench.gateway_cpu [--n 300] [--db URL or 'sqlite'] [--no-audit]
        [--profile FILE]

``--no-audit`` turns the real-time audit (setting ``audit_realtime``) off, to measure
what it costs per 2207 (docs/audit-realtime.md).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from medroam.bench.gateway_pg import DEFAULT_PG, fresh_schema, make_jobs

CALLS = ("2201", "2204", "2207")
WARMUP = 20


def run(
    n: int = 300, db: str | None = None, audit: bool = True, profile: str | None = None
) -> dict[str, Any]:
    import cProfile

    from medroam.client import HisClient
    from medroam.gateway import jsonfmt
    from medroam.gateway import logging as gateway_logging
    from medroam.gateway.dispatch import Gateway
    from medroam.gateway.settings import GatewaySettings
    from medroam.store import sqlstats
    from medroam.store.db import make_engine

    gateway_logging.configure("warning")
    with fresh_schema(db or DEFAULT_PG) as url:
        jobs = make_jobs(url, n + WARMUP)
        engine = make_engine(url)
        sqlstats.install(engine)
        gateway = Gateway(engine, GatewaySettings(audit_realtime=audit))
        cpu = dict.fromkeys(CALLS, 0.0)
        statements = dict.fromkeys(CALLS, 0)
        clients: dict[str, HisClient] = {}
        profiler = cProfile.Profile(time.process_time) if profile else None

        def call(client: HisClient, infno: str, inp: dict[str, Any], insuplc: str, k: int) -> Any:
            body = jsonfmt.dumps(client.envelope(infno, inp, insuplc_admdvs=insuplc)).encode()
            headers = {"content-type": "application/json", **client.auth_headers(infno)}
            started = time.process_time()
            if profiler is not None and k >= WARMUP:
                outcome = profiler.runcall(gateway.process, headers, body)
            else:
                outcome = gateway.process(headers, body)
            if k >= WARMUP:
                cpu[infno] += time.process_time() - started
                statements[infno] += outcome.sql.statements if outcome.sql else 0
            doc = json.loads(outcome.body)
            if doc["infcode"] != 0:
                raise RuntimeError(f"{infno}: {doc['err_msg']}")
            return doc

        for k, job in enumerate(jobs):
            h, p = job["hospital"], job["person"]
            if h["code"] not in clients:
                clients[h["code"]] = HisClient(
                    "http://in-process", h["code"], h["name"], h["region"], scheme="tif",
                    key_id=h["key_id"], secret=h["secret"],
                )  # fmt: skip
            c = clients[h["code"]]
            now = time.strftime("%Y-%m-%d %H:%M:%S")
            reg = call(c, "2201", {"data": {
                "psn_no": p["psn_no"], "insutype": p["insutype"], "begntime": now,
                "mdtrt_cert_type": "02", "mdtrt_cert_no": p["certno"],
                "ipt_otp_no": job["ipt_otp_no"]}}, p["insured_region"], k)  # fmt: skip
            mdtrt_id = reg["output"]["data"]["mdtrt_id"]
            rows = [
                {**line, "mdtrt_id": mdtrt_id, "psn_no": p["psn_no"], "fee_ocur_time": now}
                for line in job["bill"]
            ]
            call(c, "2204", {"feedetail": rows}, p["insured_region"], k)
            call(c, "2207", {"data": {
                "psn_no": p["psn_no"], "mdtrt_cert_type": "02", "mdtrt_cert_no": p["certno"],
                "med_type": "11", "medfee_sumamt": job["medfee_sumamt"], "psn_setlway": "01",
                "mdtrt_id": mdtrt_id, "chrg_bchno": "CB1", "insutype": p["insutype"],
                "acct_used_flag": "1"}}, p["insured_region"], k)  # fmt: skip
        for c in clients.values():
            c.close()
        if profiler is not None and profile:
            profiler.dump_stats(profile)
        engine.dispose()
    out: dict[str, Any] = {
        "benchmark": "gateway-cpu",
        "database": url.split(":", 1)[0],
        "n": n,
        "audit_realtime": audit,
    }
    for infno in CALLS:
        out[f"{infno}_cpu_ms"] = round(cpu[infno] * 1000 / n, 2)
        out[f"{infno}_statements"] = round(statements[infno] / n, 2)
    out["cpu_ms_per_visit"] = round(sum(out[f"{i}_cpu_ms"] for i in CALLS), 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--n", type=int, default=300, help="visits")
    ap.add_argument("--db", default=None, help="PostgreSQL URL, or 'sqlite'")
    ap.add_argument(
        "--no-audit", action="store_true", help="real-time audit off (audit_realtime=False)"
    )
    ap.add_argument("--profile", default=None, help="write a cProfile of the calls to FILE")
    args = ap.parse_args()
    db = "sqlite" if args.db == "sqlite" else args.db
    print(json.dumps(run(args.n, db, audit=not args.no_audit, profile=args.profile), indent=2))


if __name__ == "__main__":
    main()
