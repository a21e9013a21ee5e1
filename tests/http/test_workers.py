"""``medroam serve --workers N`` on PostgreSQL, as a real process tree: idempotency and
visit opening stay exact across workers, SQL counting answers per request, and a
restart on the same port works at once after a stop or a ``kill -9``."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from medroam.bench.gateway_pg import children
from medroam.cli.main import app
from medroam.client import HisClient
from medroam.gateway import jsonfmt
from medroam.store.db import make_engine, upgrade
from medroam.store.sqlstats import HEADER, parse_header, worker_of
from tests.http.conftest import (
    PERSONS,
    _pg_schema,
    free_socket,
    make_clients,
    seed_institutions,
    seed_persons,
)
from tests.http.helpers import DICT_QUERY, answer

EXE = Path(sys.executable).with_name("medroam")
CST = timezone(timedelta(hours=8))
PSN, _NAME, CERTNO = PERSONS[0][0], PERSONS[0][1], PERSONS[0][2]


def _port() -> int:
    sock = free_socket()
    port: int = sock.getsockname()[1]
    sock.close()
    return port


def _start(
    url: str, port: int, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [str(EXE), "serve", "--port", str(port), "--db", url, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise AssertionError(process.communicate()[1].decode()[-2000:])
        assert time.monotonic() < deadline, "medroam serve did not start"
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def _seed(url: str, *, persons: bool = False) -> None:
    """Migrate the database at ``url`` and seed the test institutions (and persons)."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        seed_institutions(engine)
        if persons:
            seed_persons(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def served(pg_server_url: str) -> Iterator[tuple[str, str]]:
    """A seeded PostgreSQL schema served by ``medroam serve --workers 2``."""
    for url in _pg_schema(pg_server_url):
        _seed(url, persons=True)
        port = _port()
        process = _start(url, port, "--workers", "2", env={"MEDROAM_SQL_STATS": "1"})
        try:
            yield url, f"http://127.0.0.1:{port}"
        finally:
            _stop(process)


def _count(url: str, sql: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            return int(c.execute(text(sql)).scalar_one())
    finally:
        engine.dispose()


def _register(client: HisClient, serial: str, msgid: str | None = None) -> dict[str, Any]:
    now = datetime.now(CST).strftime("%Y-%m-%d %H:%M:%S")
    data = {"psn_no": PSN, "insutype": "310", "begntime": now, "mdtrt_cert_type": "02",
            "mdtrt_cert_no": CERTNO, "ipt_otp_no": serial}  # fmt: skip
    return client.call("2201", {"data": data}, insuplc_admdvs="510100", msgid=msgid)


def worker_pids(server_pid: int) -> list[int]:
    """The server's worker processes (not multiprocessing's resource tracker)."""
    found = []
    for pid in children(server_pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            found.append(pid)
    return found


def test_connections_spread_over_both_workers(served: tuple[str, str]) -> None:
    """48 keep-alive connections each send 4 calls: both workers answer a fair share
    (each has its own SO_REUSEPORT socket and the kernel spreads the connections; with
    uvicorn's one shared socket, one worker took 95 % of a benchmark's calls), and every
    answer is right whichever worker gave it. Fewer than 20 % on one worker by chance
    (9 or fewer of 48 connections): about 2 × 10⁻⁵."""
    _url, base = served
    clients = [make_clients(base)["h1"] for _ in range(48)]

    def calls(client: HisClient) -> list[int | None]:
        pids = []
        for _ in range(4):
            body = jsonfmt.dumps(client.envelope("1901", DICT_QUERY))
            response = client.post(body, infno="1901")
            assert answer(response)["infcode"] == 0
            pids.append(worker_of(response.headers[HEADER]))
        return pids

    with ThreadPoolExecutor(48) as pool:
        pids = [p for per_client in pool.map(calls, clients) for p in per_client]
    assert None not in pids
    shares = sorted(pids.count(p) / len(pids) for p in set(pids))
    assert len(shares) == 2 and shares[0] >= 0.2, shares
    for c in clients:
        c.close()


def test_identical_requests_at_once_give_one_visit_and_one_answer(served: tuple[str, str]) -> None:
    """The same 2201 (same msgid, same body) sent 12 times at once, over 12 connections
    spread on two workers: one visit is opened and every caller gets the same answer."""
    url, base = served
    sender = make_clients(base)["h1"]
    now = datetime.now(CST).strftime("%Y-%m-%d %H:%M:%S")
    body = sender.envelope(
        "2201",
        {"data": {"psn_no": PSN, "insutype": "310", "begntime": now, "mdtrt_cert_type": "02",
                  "mdtrt_cert_no": CERTNO, "ipt_otp_no": "SAME-MSGID-1"}},
        insuplc_admdvs="510100",
    )  # fmt: skip
    raw = jsonfmt.dumps(body)
    clients = [make_clients(base)["h1"] for _ in range(12)]
    with ThreadPoolExecutor(12) as pool:
        docs = list(pool.map(lambda c: answer(c.post(raw, infno="2201")), clients))
    ids = {d["output"]["data"]["mdtrt_id"] for d in docs if d["infcode"] == 0}
    assert all(d["infcode"] == 0 for d in docs), [d.get("err_msg") for d in docs]
    assert len(ids) == 1
    assert _count(url, "SELECT count(*) FROM visits WHERE ipt_otp_no = 'SAME-MSGID-1'") == 1
    assert _count(url, f"SELECT count(*) FROM message_log WHERE msgid = '{body['msgid']}'") == 1
    for c in [sender, *clients]:
        c.close()


def test_same_serial_under_different_msgids_opens_one_visit(served: tuple[str, str]) -> None:
    """12 registrations of one ``ipt_otp_no``, each with its own msgid, at once: exactly
    one opens the visit, the 11 others are refused as already registered."""
    url, base = served
    clients = [make_clients(base)["h1"] for _ in range(12)]
    with ThreadPoolExecutor(12) as pool:
        docs = list(
            pool.map(
                lambda k: _register(clients[k], "SAME-SERIAL-1", msgid=f"H44030500001S{k:016d}"),
                range(12),
            )
        )
    opened = [d for d in docs if d["infcode"] == 0]
    refused = [d for d in docs if d["infcode"] != 0]
    assert len(opened) == 1
    assert len(refused) == 11
    assert all("ipt_otp_no SAME-SERIAL-1 is already registered" in d["err_msg"] for d in refused)
    assert _count(url, "SELECT count(*) FROM visits WHERE ipt_otp_no = 'SAME-SERIAL-1'") == 1
    for c in clients:
        c.close()


def test_sql_counts_come_back_per_request(served: tuple[str, str]) -> None:
    """With MEDROAM_SQL_STATS=1 each answer says what it cost: a state-changing call is
    one commit (nonce, business writes and message log together)."""
    _url, base = served
    client = make_clients(base)["h1"]
    now = datetime.now(CST).strftime("%Y-%m-%d %H:%M:%S")
    data = {"psn_no": PSN, "insutype": "310", "begntime": now, "mdtrt_cert_type": "02",
            "mdtrt_cert_no": CERTNO, "ipt_otp_no": "COUNTED-1"}  # fmt: skip
    response = client.post(client.envelope("2201", {"data": data}, insuplc_admdvs="510100"),
                           infno="2201")  # fmt: skip
    assert answer(response)["infcode"] == 0
    counts = parse_header(response.headers[HEADER])
    assert counts.commits == 1
    assert 2 <= counts.statements <= 12
    client.close()


def test_restart_on_the_same_port_at_once(pg_server_url: str, tmp_path: Path) -> None:
    """After a stop, and after a kill -9 with connections open, ``medroam serve`` starts
    again on the same port at once (sockets in TIME_WAIT do not make it busy)."""
    url = f"sqlite:///{tmp_path / 'restart.db'}"
    _seed(url)
    port = _port()
    first = _start(url, port)
    client = make_clients(f"http://127.0.0.1:{port}")["h1"]
    assert client.call("1901", DICT_QUERY)["infcode"] == 0
    _stop(first)
    second = _start(url, port)
    client = make_clients(f"http://127.0.0.1:{port}")["h1"]
    assert client.call("1901", DICT_QUERY)["infcode"] == 0  # a live keep-alive connection
    second.kill()  # kill -9
    second.communicate()
    third = _start(url, port)
    try:
        client = make_clients(f"http://127.0.0.1:{port}")["h1"]
        assert client.call("1901", DICT_QUERY)["infcode"] == 0
    finally:
        _stop(third)


def test_workers_stop_when_their_supervisor_is_killed(pg_server_url: str) -> None:
    """``kill -9`` of the server's main process alone: its two workers, left without a
    supervisor, stop by themselves (before, they kept the port and kept answering under
    PID 1), and a new ``medroam serve`` starts on the same port."""
    for url in _pg_schema(pg_server_url):
        _seed(url)
        port = _port()
        server = _start(url, port, "--workers", "2")
        workers = worker_pids(server.pid)
        assert len(workers) == 2
        server.kill()  # the supervisor only
        server.wait(timeout=10)  # not communicate(): live workers would hold its pipes open
        deadline = time.monotonic() + 30
        try:
            while any(Path(f"/proc/{pid}").exists() and not _zombie(pid) for pid in workers):
                assert time.monotonic() < deadline, "orphaned workers kept running"
                time.sleep(0.2)
        finally:
            for pid in workers:  # whatever happened, leave no process behind
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            server.communicate()
        again = _start(url, port)
        try:
            client = make_clients(f"http://127.0.0.1:{port}")["h1"]
            assert client.call("1901", DICT_QUERY)["infcode"] == 0
        finally:
            _stop(again)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except OSError:
        return True


def test_sqlite_refuses_several_workers(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["serve", "--workers", "2", "--db", f"sqlite:///{tmp_path / 'x.db'}"]
    )
    assert result.exit_code == 2
    assert "SQLite allows one writer at a time" in result.output
    assert not (tmp_path / "x.db").exists()


def _stream(base: str, k: int, sent: list[tuple[str, str, dict[str, Any]]]) -> None:
    """15 registrations on one connection; each (msgid, body, answer) answered is kept."""
    client = make_clients(base)["h1"]
    now = datetime.now(CST).strftime("%Y-%m-%d %H:%M:%S")
    for i in range(15):
        msgid = f"H44030500001K{k:02d}{i:014d}"
        data = {"psn_no": PSN, "insutype": "310", "begntime": now, "mdtrt_cert_type": "02",
                "mdtrt_cert_no": CERTNO, "ipt_otp_no": f"KILL-{k}-{i}"}  # fmt: skip
        raw = jsonfmt.dumps(
            client.envelope("2201", {"data": data}, insuplc_admdvs="510100", msgid=msgid)
        )
        try:
            doc = answer(client.post(raw, infno="2201"))
        except httpx.HTTPError:  # the connection to the killed worker broke
            client.close()
            client = make_clients(base)["h1"]
            continue
        sent.append((msgid, raw, doc))
    client.close()


def test_a_worker_killed_under_load_loses_nothing_acknowledged(pg_server_url: str) -> None:
    """Registrations stream in on 6 connections while one of two workers is killed with
    SIGKILL. Every registration answered infcode 0 has its visit and its message-log row;
    sending it again (same msgid, same body) gives the first answer, whichever worker
    takes it; the killed worker is replaced and the server keeps answering."""
    for url in _pg_schema(pg_server_url):
        _seed(url, persons=True)
        port = _port()
        server = _start(url, port, "--workers", "2")
        base = f"http://127.0.0.1:{port}"
        try:
            workers = worker_pids(server.pid)
            assert len(workers) == 2
            sent: list[tuple[str, str, dict[str, Any]]] = []
            with ThreadPoolExecutor(6) as pool:
                futures = [pool.submit(_stream, base, k, sent) for k in range(6)]
                time.sleep(0.5)
                os.kill(workers[0], signal.SIGKILL)
                for f in futures:
                    f.result()
            acknowledged = [(m, raw, d) for m, raw, d in sent if d["infcode"] == 0]
            assert acknowledged, "no registration was answered"
            for msgid, _raw, doc in acknowledged:
                mdtrt_id = doc["output"]["data"]["mdtrt_id"]
                visits = f"SELECT count(*) FROM visits WHERE mdtrt_id = '{mdtrt_id}'"
                assert _count(url, visits) == 1
                logged = f"SELECT count(*) FROM message_log WHERE msgid = '{msgid}'"
                assert _count(url, logged) == 1
            deadline = time.monotonic() + 20
            while len([w for w in worker_pids(server.pid) if w != workers[0]]) < 2:
                assert time.monotonic() < deadline, "the killed worker was not replaced"
                time.sleep(0.2)
            client = make_clients(base)["h1"]
            for _msgid, raw, doc in acknowledged[:20]:
                again = answer(client.post(raw, infno="2201"))
                assert again["output"] == doc["output"]
            client.close()
        finally:
            _stop(server)
