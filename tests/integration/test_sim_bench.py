"""``medroam bench --quick`` runs every benchmark and reports every required figure.
(A benchmark's speed is never asserted: only that each figure is there and sane.)"""

from __future__ import annotations

import json

from typer.testing import CliRunner

from medroam.bench.suite import REQUIRED_KEYS
from medroam.cli import app


def test_bench_quick_produces_every_required_key() -> None:
    result = CliRunner().invoke(app, ["bench", "--quick"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    summary = json.loads(text[text.index("{") :])
    missing = [key for key in REQUIRED_KEYS if key not in summary]
    assert missing == []
    assert summary["quick"] is True
    assert summary["cores"] >= 1
    for key in REQUIRED_KEYS:
        assert isinstance(summary[key], int | float) and summary[key] > 0, key
    assert summary["clearing.settlements"] == 200_000
    details = summary["details"]
    assert set(details) == {"settlement", "gateway", "gateway-pg", "clearing", "drg"}
    assert details["gateway"]["failures"] == 0
    # the PostgreSQL run: a served process tree, a separate load generator, SQL counted
    pg = details["gateway-pg"]
    assert [r["failures"] for r in pg["runs"]] == [0]
    assert pg["runs"][0]["visits"] == 100
    assert pg["runs"][0]["commits_per_visit"] == 3.0  # one commit per call
    # then 2207 alone on as many visits opened beforehand
    assert [r["failures"] for r in pg["settlement_runs"]] == [0]
    assert pg["settlement_runs"][0]["visits"] == 100
    assert pg["settlement_runs"][0]["2207_commits"] == 1.0
    assert details["gateway"]["settlements"] > 100
    assert details["clearing"]["clearing.lines"] > details["clearing"]["clearing.settlements"]
