"""``medroam demo`` end to end on a small nation: seed, serve, simulate over HTTP,
reconcile, clear, summary, report — and the server it leaves running."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from medroam.cli import app
from medroam.services.demo import DemoConfig, run_demo
from medroam.services.sim import SimConfig, parse_cycles

SMALL = ["--provinces", "11,13,31", "--days", "8", "--concurrency", "4"]


def test_demo_end_to_end_without_serving(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["demo", "--no-serve", *SMALL])
    assert result.exit_code == 0, result.output
    out = result.output
    for heading in (
        "Shape against the simulator's targets",
        "Volumes and net clearing positions by province",
        "Clearing CLR-monthly-2026-10-all",
        "Prepayment:",
        "Hospital advance days",
        "What if: clearing cycle",
        "Planted anomalies (rate 0.02; SYNTHETIC)",
        "Report:   var/demo-report.html",
    ):
        assert heading in out, heading
    assert "balanced" in out and "is serving" not in out
    # no Python reprs where a person reads (issue 10 item 9)
    assert "{'" not in out and "None :" not in out
    assert "clearing applications (3203) 已受理 accepted" in out
    # the targets are not called published figures (issue 12 item 16)
    assert "Shape against the published figures" not in out
    # the default database is an embedded SQLite file, fresh on every run
    assert (tmp_path / "var" / "demo.db").is_file()
    html = (tmp_path / "var" / "demo-report.html").read_text("utf-8")
    assert html.count("<svg") >= 5
    assert "http://" not in html.replace("http://www.w3.org", "") and "<script" not in html
    for cycle in ("daily", "monthly", "quarterly", "annual"):
        assert f"{cycle} " in html
    fixtures = json.loads((tmp_path / "var" / "demo-fixtures.json").read_text("utf-8"))
    assert fixtures["synthetic"] is True and fixtures["generator"] == "medroam demo"
    assert fixtures["server"]["agency_docs"].endswith("/api/v1/docs")
    assert fixtures["institutions"] and fixtures["persons"]
    # a second run starts afresh and gives the same figures
    again = CliRunner().invoke(app, ["demo", "--no-serve", *SMALL])
    assert again.exit_code == 0, again.output

    def figures(text: str) -> list[str]:
        return re.findall(r"Settlements: .*?yuan", text, re.S)

    assert figures(again.output) == figures(out) and figures(out)


def test_the_demo_server_keeps_serving_real_time(tmp_path: Path) -> None:
    config = replace(
        SimConfig(start=date(2026, 10, 1), days=3, provinces=("11", "13"), volume=2.0),
        cycles=parse_cycles(["monthly"]),
    )
    demo = DemoConfig(
        config,
        db=f"sqlite:///{tmp_path / 'demo.db'}",
        report=tmp_path / "report.html",
        fixtures=tmp_path / "fixtures.json",
        serve=True,
    )
    result = run_demo(demo)
    server = result.sim.server
    assert server is not None and result.sim.clock is not None
    try:
        assert not result.sim.clock.simulated  # back on real time
        health = httpx.get(result.urls["server"] + "/health", timeout=10)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        docs = httpx.get(result.urls["agency_docs"], timeout=10)
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        fixtures = json.loads(result.fixtures.read_text("utf-8"))
        assert fixtures["server"]["url"] == result.urls["server"]
        # a hospital of the fixtures can call the interface now, signed with its TIF token
        from medroam.client import HisClient

        scenario = fixtures["scenario"]
        h, p = scenario["hospital"], scenario["person"]
        client = HisClient(
            fixtures["server"]["url"], h["fixmedins_code"], h["fixmedins_name"], h["region"],
            scheme="tif", key_id=h["tif"]["paasid"], secret=h["tif"]["token"],
        )  # fmt: skip
        with client:
            answer = client.call(
                "1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": p["certno"]}}
            )
        assert answer["infcode"] == 0, answer
        assert answer["output"]["baseinfo"]["psn_no"] == p["psn_no"]
    finally:
        server.stop()
        result.engine.dispose()
