"""``medroam serve``: a real process on a free port, and a clear refusal of a port in use."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from medroam.cli.main import app
from medroam.store.db import make_engine, upgrade
from tests.http.conftest import free_socket, make_clients, seed_institutions
from tests.http.helpers import DICT_QUERY

pytestmark = pytest.mark.db


def test_port_in_use_is_refused_clearly(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(
            app, ["serve", "--port", str(port), "--db", f"sqlite:///{tmp_path / 'x.db'}"]
        )
    assert result.exit_code == 2
    assert f"port {port} on 127.0.0.1 is already in use" in result.output
    assert not (tmp_path / "x.db").exists()  # refused before touching the database


def test_bad_log_level_is_refused() -> None:
    result = CliRunner().invoke(app, ["serve", "--log-level", "loud"])
    assert result.exit_code == 2
    assert "--log-level must be debug, info, warning or error" in result.output


def test_bad_provinces_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "provinces.json"
    path.write_text('{"synthetic": true, "source": "x", "provinces": {"440100": {}}}')
    result = CliRunner().invoke(
        app, ["serve", "--provinces", str(path), "--db", f"sqlite:///{tmp_path / 'x.db'}"]
    )
    assert result.exit_code == 2
    assert "'440100' is not a province code" in result.output
    assert not (tmp_path / "x.db").exists()


def test_serve_runs_the_gateway(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    engine = make_engine(url)
    upgrade(engine)
    seed_institutions(engine)
    engine.dispose()
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    exe = Path(sys.executable).with_name("medroam")
    process = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), "--db", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.communicate()[1].decode()
            assert time.monotonic() < deadline, "medroam serve did not start"
            time.sleep(0.1)
        client = make_clients(base)["h1"]
        doc = client.call("1901", DICT_QUERY)
        assert doc["infcode"] == 0
        client.close()
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err.decode()
    assert (
        f"medroam gateway on http://127.0.0.1:{port}/fsi/api/rsfComIfsService/callService"
        in out.decode()
    )
    log = err.decode()
    assert '"event":"request"' in log and '"infno":"1901"' in log
