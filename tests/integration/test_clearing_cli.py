"""The clearing commands end to end (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine
from typer.testing import CliRunner

from medroam.cli.clearing import clear, prepay, reconcile, statements
from tests.integration.test_clearing import october
from tests.integration.test_clearing_support import World

pytestmark = pytest.mark.db

app = typer.Typer()
app.command("clear")(clear)
app.add_typer(prepay, name="prepay")
app.add_typer(statements, name="statements")
app.add_typer(reconcile, name="reconcile")
runner = CliRunner()
AT = ["--at", "2026-11-03T09:00:00+08:00"]


def url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_reconcile_clear_statements(engine: Engine, tmp_path: Path) -> None:
    october(World(engine))
    db = ["--db", url(engine)]
    code, out = invoke("reconcile", "propose", "--period", "2026-10", "--json", *db, *AT)
    assert code == 0, out
    batch = json.loads(out)["batch_id"]
    code, out = invoke("reconcile", "dispute", "--setl-id", "S2", "--reason", "differs", *db, *AT)
    assert code == 0 and "1 items disputed" in out
    code, out = invoke("reconcile", "confirm", "--batch", batch, *db, *AT)
    assert code == 0 and "5 items confirmed" in out  # the batch confirm resolves S2 too
    code, out = invoke("reconcile", "open", "--json", *db)
    assert json.loads(out) == []

    code, out = invoke(
        "clear", "--cycle", "monthly", "--period", "2026-10", "--as-of", "2026-10-20", *db
    )
    assert code == 2 and "still open" in out
    code, out = invoke(
        "clear",
        "--cycle",
        "monthly",
        "--period",
        "2026-10",
        "--as-of",
        "2026-11-03",
        "--json",
        "--verify",
        *db,
        *AT,
    )
    assert code == 0, out
    run = json.loads(out)
    assert run["created"] and run["verified"] and sum(p["net_fen"] for p in run["provinces"]) == 0
    code, out = invoke(
        "clear", "--cycle", "monthly", "--period", "2026-10", "--as-of", "2026-11-03", *db, *AT
    )
    assert code == 0 and "already cleared" in out and "National clear-split" in out

    code, out = invoke(
        "statements", "write", "--period", "2026-10", "--out", str(tmp_path), "--json", *db
    )
    assert code == 0, out
    files = json.loads(out)
    assert any(f.endswith("national-000000.html") for f in files)
    code, out = invoke("statements", "show", "--period", "2026-10", "--party", "440000", *db)
    assert code == 0 and json.loads(out)["party_kind"] == "province"
    code, out = invoke("statements", "show", "--period", "2026-09", *db)
    assert code == 2 and "no clearing run" in out
    code, out = invoke("statements", "runs", "--json", *db)
    assert [r["run_id"] for r in json.loads(out)] == ["CLR-monthly-2026-10-all"]
    code, out = invoke("statements", "cashflow", "--from", "2026-10-01", "--to", "2026-10-31", *db)
    assert code == 0 and "quarterly" in out
    parquet = tmp_path / "lines.parquet"
    code, out = invoke("statements", "export-lines", "--out", str(parquet), *db)
    assert code == 0 and parquet.exists()


def test_prepay_commands(engine: Engine) -> None:
    db = ["--db", url(engine)]
    code, out = invoke(
        "prepay",
        "set",
        "--year",
        "2026",
        "--payer",
        "110000",
        "--payee",
        "310000",
        "--amount",
        "-1",
        *db,
        *AT,
    )
    assert code == 2 and "negative" in out
    code, out = invoke(
        "prepay",
        "set",
        "--year",
        "2026",
        "--payer",
        "110000",
        "--payee",
        "310000",
        "--amount",
        "200000.00",
        "--json",
        *db,
        *AT,
    )
    assert code == 0 and json.loads(out)["quota_fen"] == 20_000_000
    code, out = invoke(
        "prepay",
        "adjust",
        "--year",
        "2026",
        "--payer",
        "110000",
        "--payee",
        "310000",
        "--delta",
        "-0.01",
        "--json",
        *db,
        *AT,
    )
    assert json.loads(out)["quota_fen"] == 19_999_999
    code, out = invoke(
        "prepay",
        "set",
        "--year",
        "2026",
        "--payer",
        "110000",
        "--payee",
        "999999",
        "--amount",
        "1",
        *db,
    )
    assert code == 2 and "unknown payee" in out
    code, out = invoke("prepay", "list", "--json", *db)
    assert len(json.loads(out)) == 1
    code, out = invoke("prepay", "warnings", *db)
    assert code == 0
    code, out = invoke(
        "prepay", "topup", "--year", "2026", "--payer", "110000", "--payee", "310000", *db
    )
    assert code == 2 and "no red warning" in out


def test_compare_detail_files(tmp_path: Path) -> None:
    ours = tmp_path / "ours.txt"
    theirs = tmp_path / "theirs.txt"
    ours.write_text("S1\tM1\tP1\t100.00\t80.00\t10.00\t0\nS2\tM2\tP2\t5.00\t4.00\t0\t0\n", "utf-8")
    theirs.write_text(
        "S1\tM1\tP1\t100.00\t80.00\t10.00\t0\nS2\tM2\tP2\t5.00\t4.01\t0\t0\n", "utf-8"
    )
    code, out = invoke(
        "reconcile", "compare", "--ours", str(ours), "--theirs", str(theirs), "--json"
    )
    assert code == 3 and json.loads(out)[0]["fields"] == ["fund"]
    code, out = invoke("reconcile", "compare", "--ours", str(ours), "--theirs", str(ours))
    assert code == 0 and "balanced" in out
