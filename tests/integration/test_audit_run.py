"""``medroam audit run`` on a simulated month with planted anomalies, on SQLite and
PostgreSQL, and the same audit on DuckDB over a Parquet export: the findings are exactly
the planted truth (the month was made clean first), re-running replaces them, and the
three engines agree finding for finding."""

from __future__ import annotations

from math import exp, factorial
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from medroam.cli.main import app
from medroam.domain.audit.mechanisms import UpcodingSignal
from medroam.refdata.audit_rules import load_rule_book
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
from medroam.sim import anomalies
from medroam.store.audit_tables import AuditFindingRow, AuditRunRow
from medroam.store.db import make_engine, upgrade
from medroam.store.tables import InstitutionRow
from tests.integration.test_drg_lists_support import month_lists, movable, standardised

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


def test_cli_run_and_findings(tmp_path: Path, pg_base_url: str) -> None:
    """The CLI on an empty database: a run with nothing to find, findings says so; a bad
    period exits 2 with the reason; a database file that is not there (a mistyped path)
    exits 2 naming it, for every audit command, and is not created; a PostgreSQL
    database that does not exist is one line and exit 1, no traceback."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    upgrade_engine = make_engine(db)
    upgrade(upgrade_engine)
    upgrade_engine.dispose()
    runner = CliRunner()
    typo = tmp_path / "typo.db"
    for command in ("run", "findings", "evaluate", "scores"):
        missing = runner.invoke(
            app, ["audit", command, "--period", PERIOD, "--db", f"sqlite:///{typo}"]
        )
        assert missing.exit_code == 2 and "数据库文件不存在" in missing.output, missing.output
        assert "Traceback" not in missing.output and not typo.exists()
    unreachable = make_url(pg_base_url).set(database="medroam_no_such_database")
    url = unreachable.render_as_string(hide_password=False)
    for command in ("run", "scores"):
        refused = runner.invoke(app, ["audit", command, "--period", PERIOD, "--db", url])
        assert refused.exit_code == 1 and "Traceback" not in refused.output
        assert "数据库无法打开 cannot open database" in refused.output, refused.output
    result = runner.invoke(app, ["audit", "run", "--period", PERIOD, "--db", db])
    assert result.exit_code == 0, result.output
    assert "事后审核 2026-10" in result.output and "0 条疑点" in result.output
    empty = runner.invoke(app, ["audit", "findings", "--period", PERIOD, "--db", db])
    assert empty.exit_code == 0 and "no findings" in empty.output
    bad = runner.invoke(app, ["audit", "run", "--period", "2026-13", "--db", db])
    assert bad.exit_code == 2 and "month must be 1..12" in bad.output


def test_the_institution_rule_flags_a_standardised_mcc_cc_share(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The institution rule ``drg_upcoding`` (DRG 高套病组信号) runs in the month's
    audit with the shipped parameters (max_ratio 1.5, min_cases 5 movable lists, max_p
    0.001). The four provinces of seed 9, whose one fraudulent hospital up-codes its
    stays. Recomputed here from the raw rows: an institution's movable lists are its
    settlement lists in force grouped into a DRG ending in 1, 3 or 5; O those ending in 1
    or 3; each expected in the MCC/CC DRG with its ADRG's rate over the other
    institutions' movable lists (``adrg_rate``, shrunk towards ``pooled_rate``): E = Σ p.
    Flagged: at least 5 movable lists, O × 10000 > E × 15000 and the Poisson chance of O
    or more, computed here the other way round (1 − Σ_{k<O} e^−E E^k / k!), at most
    0.001. The flagged set equals what the audit stored: the up-coding hospital alone;
    each finding is on the institution (no settlement, visit, person or amount), in its
    region, and tells O, E and the raw share; evaluation per settlement ignores them;
    DuckDB over Parquet agrees."""
    monkeypatch.setattr(anomalies, "FRAUD_SCHEMES", ("upcoding",))
    config = SimConfig(
        seed=9, provinces=("11", "31", "44", "51"), days=31, anomalies=0.05, volume=2.0
    )
    run_simulation(engine, config)
    book = load_rule_book()
    (shipped,) = [r.params for r in book.rules if r.mechanism == "drg_upcoding"]
    assert shipped == UpcodingSignal(max_ratio=15000, min_cases=5, max_p=1_000)
    run_audit(engine, PERIOD, book=book)
    stored = [f for f in findings_for_period(engine, PERIOD) if f["mechanism"] == "drg_upcoding"]

    lists = month_lists(engine, 2026, 10)  # PERIOD
    with engine.connect() as c:
        institutions = {i.fixmedins_code: i.region for i in c.execute(select(InstitutionRow)).all()}
    expected: dict[str, tuple[int, int, float]] = {}
    for code in {code for code, _d in movable(lists)}:
        std = standardised(lists, code)
        o, e = std.observed, std.expected
        chance = 1 - sum(exp(-e) * e**k / factorial(k) for k in range(o))
        if std.lists >= 5 and o * 10_000 > e * 15_000 and chance <= 0.001:
            expected[code] = (std.lists, o, e)
    assert expected, "no institution above the nation's coding"
    assert {f["fixmedins_code"] for f in stored} == set(expected)
    (planted,) = [t for t in truth_for_period(engine, PERIOD) if t.level == "institution"]
    # only the up-coder (10 movable lists, 8 MCC/CC, 1.27 expected)
    assert set(expected) == {planted.fixmedins_code}
    for f in stored:
        assert (f["setl_id"], f["mdtrt_id"], f["psn_no"], f["amount"]) == ("", "", "", 0)
        assert f["treatment_region"] == institutions[f["fixmedins_code"]]
        lists, o, e = expected[f["fixmedins_code"]]
        assert f["content"].startswith(
            f"机构 {f['fixmedins_code']} 可分级病组的 {lists} 份结算清单中 {o} 份入 MCC/CC 组，"
            f"按全国同病组比例预期 {e:.2f} 份"
        )
        assert "MCC/CC 病例占比" in f["content"]
    assert all(m != "drg_upcoding" for m, _s in found_pairs(findings_for_period(engine, PERIOD)))

    export_tables(engine, tmp_path / "audit")
    found_duck, _rules, _settlements, _c = run_audit_parquet(tmp_path / "audit", PERIOD, book=book)
    duck = [f for f in finding_rows(found_duck, PERIOD, "x") if f["mechanism"] == "drg_upcoding"]
    assert {(f["fixmedins_code"], f["content"]) for f in duck} == {
        (f["fixmedins_code"], f["content"]) for f in stored
    }
    # Parquet files without institutions and settlement lists: the rest, no institution rule
    (tmp_path / "audit" / "institutions.parquet").unlink()
    (tmp_path / "audit" / "settlement_lists.parquet").unlink()
    without, *_ = run_audit_parquet(tmp_path / "audit", PERIOD, book=book)
    rest = finding_rows(without, PERIOD, "x")
    assert {f["mechanism"] for f in rest} == {
        f["mechanism"] for f in finding_rows(found_duck, PERIOD, "x")
    } - {"drg_upcoding"}
