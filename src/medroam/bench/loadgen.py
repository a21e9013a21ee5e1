"""The gateway load generator: whole outpatient visits from a job file, in its own process.

Run by :mod:`medroam.bench.gateway_pg` as ``python -m medroam.bench.loadgen JOBS.json
URL --concurrency C``, so that its CPU is its own and visible. Each of ``C`` asyncio
tasks keeps one HTTP/1.1 keep-alive connection and plays one HIS after another: 2201
registration → 2204 fee upload → 2207 settlement, each request built and signed by the
project's :class:`~medroam.client.HisClient` (envelope, msgid, TIF headers). The HTTP
exchange itself is a few lines over asyncio streams, so that the generator costs little
CPU next to the server it measures.

Prints one JSON object: visits done and failed, settlements per second, p50/p99 per
transaction and per visit (ms), the generator's own CPU, and, when the server counts
SQL (``MEDROAM_SQL_STATS=1``), statements and commits per transaction.

``--phase open --opened FILE`` only registers the visits and uploads their lines
(2201 → 2204, not measured) and writes the jobs with their ``mdtrt_id`` to FILE;
``--phase settle`` then plays only the 2207 of each opened visit from that file: the
settlements-only rate of the issue's goal (≥ 1,000 settlements/s), with the server's
CPU for settlements alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from collections import defaultdict
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from medroam.client import HisClient
from medroam.client.his import STANDARD_PATH
from medroam.gateway import jsonfmt
from medroam.store.sqlstats import HEADER, parse_header

CALLS = ("2201", "2204", "2207")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(int(len(ordered) * q + 0.5) - 1, 0)] if ordered else 0.0


class Connection:
    """One keep-alive HTTP/1.1 connection that posts JSON and reads the answer."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        head += [f"Content-Length: {len(body)}", "", ""]
        self.writer.write("\r\n".join(head).encode("latin-1") + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split()[1])
        got: dict[str, str] = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            got[name.strip().lower()] = value.strip()
        size = int(got.get("content-length", "0"))
        data = await self.reader.readexactly(size) if size else b""
        if got.get("connection", "").lower() == "close":
            self.close()
        return status, got, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def run(
    jobs: list[dict[str, Any]], url: str, concurrency: int, warmup: int, phase: str = "visit"
) -> dict[str, Any]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    clients: dict[str, HisClient] = {}
    for job in jobs:
        h = job["hospital"]
        if h["code"] not in clients:
            clients[h["code"]] = HisClient(
                url, h["code"], h["name"], h["region"], scheme="tif", key_id=h["key_id"],
                secret=h["secret"],
            )  # fmt: skip
    call_ms: dict[str, list[float]] = defaultdict(list)
    visit_ms: list[float] = []
    sql: dict[str, list[tuple[int, int]]] = defaultdict(list)
    failures: list[str] = []
    measuring = False
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def call(
        conn: Connection, client: HisClient, infno: str, inp: dict[str, Any], insuplc: str
    ) -> dict[str, Any]:
        body = jsonfmt.dumps(client.envelope(infno, inp, insuplc_admdvs=insuplc)).encode()
        headers = {"Content-Type": "application/json;charset=utf-8", **client.auth_headers(infno)}
        t0 = time.perf_counter()
        status, got, data = await conn.post(STANDARD_PATH, headers, body)
        elapsed = (time.perf_counter() - t0) * 1000
        answer: dict[str, Any] = json.loads(data, parse_float=Decimal) if data else {}
        if status != 200 or answer.get("infcode") != 0:
            raise RuntimeError(f"{infno}: HTTP {status} {str(answer.get('err_msg'))[:120]}")
        if measuring:
            call_ms[infno].append(elapsed)
            if HEADER in got:
                counts = parse_header(got[HEADER])
                sql[infno].append((counts.statements, counts.commits))
        return answer

    async def open_visit(conn: Connection, job: dict[str, Any]) -> str:
        client = clients[job["hospital"]["code"]]
        p = job["person"]
        now = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
        reg = await call(conn, client, "2201", {"data": {
            "psn_no": p["psn_no"], "insutype": p["insutype"], "begntime": now,
            "mdtrt_cert_type": "02", "mdtrt_cert_no": p["certno"], "ipt_otp_no": job["ipt_otp_no"],
        }}, p["insured_region"])  # fmt: skip
        mdtrt_id: str = reg["output"]["data"]["mdtrt_id"]
        rows = [
            {**line, "mdtrt_id": mdtrt_id, "psn_no": p["psn_no"], "fee_ocur_time": now}
            for line in job["bill"]
        ]
        await call(conn, client, "2204", {"feedetail": rows}, p["insured_region"])
        return mdtrt_id

    async def settle(conn: Connection, job: dict[str, Any], mdtrt_id: str) -> None:
        client = clients[job["hospital"]["code"]]
        p = job["person"]
        await call(conn, client, "2207", {"data": {
            "psn_no": p["psn_no"], "mdtrt_cert_type": "02", "mdtrt_cert_no": p["certno"],
            "med_type": "11", "medfee_sumamt": job["medfee_sumamt"], "psn_setlway": "01",
            "mdtrt_id": mdtrt_id, "chrg_bchno": "CB1", "insutype": p["insutype"],
            "acct_used_flag": "1",
        }}, p["insured_region"])  # fmt: skip

    async def visit(conn: Connection, job: dict[str, Any]) -> None:
        t0 = time.perf_counter()
        if phase == "settle":
            await settle(conn, job, job["mdtrt_id"])
        else:
            job["mdtrt_id"] = await open_visit(conn, job)
            if phase == "visit":
                await settle(conn, job, job["mdtrt_id"])
        if measuring:
            visit_ms.append((time.perf_counter() - t0) * 1000)

    async def worker() -> None:
        conn = Connection(host, port)
        try:
            while True:
                try:
                    job = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                try:
                    await visit(conn, job)
                except (RuntimeError, ConnectionError, OSError, asyncio.IncompleteReadError) as exc:
                    failures.append(str(exc))
                    conn.close()
        finally:
            conn.close()

    for job in jobs[:warmup]:
        queue.put_nowait(job)
    await asyncio.gather(*(worker() for _ in range(min(concurrency, warmup) or 1)))
    failures.clear()
    measuring = True
    for job in jobs[warmup:]:
        queue.put_nowait(job)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    for c in clients.values():
        c.close()
    done = len(visit_ms)
    cpu_s = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    out: dict[str, Any] = {
        "phase": phase,
        "visits": done,
        "failures": len(failures),
        "failure_examples": sorted(set(failures))[:3],
        "concurrency": concurrency,
        "seconds": round(elapsed, 3),
        "started_at": started,
        "settlements_per_second": round(done / elapsed, 1) if elapsed else 0.0,
        "visit_p50_ms": round(percentile(visit_ms, 0.5), 1),
        "visit_p99_ms": round(percentile(visit_ms, 0.99), 1),
        "loadgen_cpu_ms_per_visit": round(cpu_s * 1000 / done, 2) if done else None,
    }
    for infno in CALLS if phase == "visit" else ("2207",) if phase == "settle" else CALLS[:2]:
        out[f"{infno}_p50_ms"] = round(percentile(call_ms[infno], 0.5), 1)
        out[f"{infno}_p99_ms"] = round(percentile(call_ms[infno], 0.99), 1)
        if sql[infno]:
            n = len(sql[infno])
            out[f"{infno}_statements"] = round(sum(s for s, _ in sql[infno]) / n, 2)
            out[f"{infno}_commits"] = round(sum(c for _, c in sql[infno]) / n, 2)
    if all(sql[i] for i in CALLS):
        out["statements_per_visit"] = round(sum(out[f"{i}_statements"] for i in CALLS), 1)
        out["commits_per_visit"] = round(sum(out[f"{i}_commits"] for i in CALLS), 1)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("jobs", help="job file (JSON) written by medroam.bench.gateway_pg")
    ap.add_argument("url", help="server base URL")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--phase", choices=("visit", "open", "settle"), default="visit")
    ap.add_argument("--opened", default=None, help="open: write the opened jobs here")
    args = ap.parse_args(argv)
    with open(args.jobs, encoding="utf-8") as f:
        jobs = json.load(f)
    result = asyncio.run(run(jobs, args.url, args.concurrency, args.warmup, args.phase))
    if args.phase == "open" and args.opened:
        with open(args.opened, "w", encoding="utf-8") as f:
            json.dump([j for j in jobs if "mdtrt_id" in j], f)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
