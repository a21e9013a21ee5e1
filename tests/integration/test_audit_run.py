"""``medroam audit run`` on a simulated month with planted anomalies, on SQLite and
PostgreSQL, and the same audit on DuckDB over a Parquet export: the findings are exactly
the planted truth (the month was made clean first), re-running replaces them, and the
three engines agree finding for finding."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from medroam.cli.main import app
from medroam.services.audit_run import (
    AuditRunError,
    export_tables,
    finding_rows,
    findings_for_period,
    found_pairs,
    month_bounds,
    run_audit,
    run_audit_parquet,
)
from medroam.services.sim import SimConfig, run_simulation
from medroam.services.sim_truth import truth_for_period
from medroam.services.uow import unit_of_work
from medroam.store.audit_tables import AuditFindingRow, AuditRunRow

pytestmark = pytest.mark.db
PERIOD = "2026-10"


def _simulated(engine: Engine) -> None:
    config = SimConfig(seed=5, provinces=("11", "31", "44", "51"), days=31, anomalies=0.08)
    run_simulation(engine, config)


def test_the_audit_finds_exactly_the_planted_violations(engine: Engine, tmp_path: Path) -> None:
    _simulated(engine)
    summary = run_audit(engine, PERIOD)
    assert summary.settlements > 100 and summary.findings > 0
    assert summary.candidates < summary.settlements  # the batch layer narrowed the work
    truth = truth_for_period(engine, PERIOD)
    planted = {(t.family, t.setl_id) for t in truth if t.level == "visit" and t.setl_id}
    found = found_pairs(findings_for_period(engine, PERIOD))
    assert planted, "nothing was planted"
    assert found == planted  # precision and recall 1 on a month made clean first
    families = {family for family, _s in planted}
    assert len(families) >= 8, families

    # a re-run replaces the month's run and findings
    again = run_audit(engine, PERIOD)
    with unit_of_work(engine) as session:
        runs = session.execute(select(func.count()).select_from(AuditRunRow)).scalar_one()
        rows = session.execute(select(func.count()).select_from(AuditFindingRow)).scalar_one()
    assert runs == 1 and rows == again.findings == summary.findings

    # DuckDB over a Parquet export gives the same findings
    written = export_tables(engine, tmp_path / "audit")
    assert written["settlements"] > 0 and written["fee_lines"] > 0
    found_duck, _rules, settlements, _c = run_audit_parquet(tmp_path / "audit", PERIOD)
    assert settlements == summary.settlements

    def key(rows: list[dict[str, object]]) -> set[tuple[object, ...]]:
        return {(r["rule_code"], r["setl_id"], r["line_ids"], r["amount"]) for r in rows}

    assert key(finding_rows(found_duck, PERIOD, "x")) == key(findings_for_period(engine, PERIOD))


def test_bad_period_is_refused() -> None:
    with pytest.raises(AuditRunError, match="--period"):
        month_bounds("2026-13")
    with pytest.raises(AuditRunError, match="not a month"):
        month_bounds("2026Q4")


def test_cli_run_and_findings(tmp_path: Path) -> None:
    """The CLI on an empty database: a run with nothing to find, findings says so; a bad
    period exits 2 with the reason."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    runner = CliRunner()
    result = runner.invoke(app, ["audit", "run", "--period", PERIOD, "--db", db])
    assert result.exit_code == 0, result.output
    assert "事后审核 2026-10" in result.output and "0 条疑点" in result.output
    empty = runner.invoke(app, ["audit", "findings", "--period", PERIOD, "--db", db])
    assert empty.exit_code == 0 and "no findings" in empty.output
    bad = runner.invoke(app, ["audit", "run", "--period", "2026-13", "--db", db])
    assert bad.exit_code == 2 and "month must be 1..12" in bad.output
