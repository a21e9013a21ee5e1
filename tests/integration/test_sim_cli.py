"""``medroam sim`` / ``medroam demo`` / ``medroam bench``: impossible parameters get one
clear line before any work starts (no database, no report, no server)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medroam.cli import app

runner = CliRunner()


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        yield int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--days", "-1"], "--days must be at least 1"),
        (["--days", "0"], "--days must be at least 1"),
        (["--days", "400"], "--days must be at most 366"),
        (["--persons", "0"], "--persons must be at least 20"),
        (["--volume", "0"], "--volume must be positive"),
        (["--concurrency", "0"], "--concurrency must be 1..64"),
        (["--clearing-cycle", "weekly"], "unknown clearing cycle 'weekly'"),
        (["--clearing-cycle", ","], "name at least one cycle"),
        (["--provinces", "99"], "is not a province"),
        (["--regions", "110000"], "is not a pooling region"),
        (["--start", "2026-13-01"], "is not a date"),
        (["--db", "nonsense"], "is not a database URL"),
        (["--port", "70000"], "--port must be 0..65535"),
    ],
)
def test_sim_refuses_impossible_parameters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    db = ["--db", f"sqlite:///{tmp_path / 'sim.db'}"] if "--db" not in args else []
    result = runner.invoke(app, ["sim", *db, *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []  # nothing written: no database, no report


def test_sim_refuses_a_port_in_use(tmp_path: Path, busy_port: int) -> None:
    db = tmp_path / "sim.db"
    result = runner.invoke(app, ["sim", "--db", f"sqlite:///{db}", "--port", str(busy_port)])
    assert result.exit_code == 2
    assert f"port {busy_port} on 127.0.0.1 is already in use" in result.output
    assert not db.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--days", "-3"], "--days must be at least 1"),
        (["--persons", "0"], "--persons must be at least 20"),
        (["--provinces", "1"], "is not a province"),
        (["--report", "."], "is a directory"),
    ],
)
def test_demo_refuses_impossible_parameters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["demo", "--no-serve", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "var").exists()


def test_demo_refuses_a_port_in_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, busy_port: int
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["demo", "--port", str(busy_port)])
    assert result.exit_code == 2
    assert "already in use" in result.output and "--port" in result.output
    assert not (tmp_path / "var").exists()


def test_bench_refuses_an_unknown_benchmark() -> None:
    result = runner.invoke(app, ["bench", "--quick", "--only", "settlement,fastest"])
    assert result.exit_code == 2
    assert "unknown benchmark(s) fastest" in result.output
