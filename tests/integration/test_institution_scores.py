"""Institution scores on a small simulated nation (``medroam sim --anomalies``): the
fraudulent hospital the simulator plants ranks in the top 5 % of ``medroam audit
scores``, explained by its scheme's feature — on SQLite and PostgreSQL (the features are
set computations on the database, with ``ln`` and window-free joins on both)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from medroam.cli.main import app
from medroam.services.audit_scores import compute_scores, institution_ranks, stored_scores
from medroam.services.sim import SimConfig, run_simulation
from medroam.sim import anomalies
from medroam.store.db import make_engine, upgrade
from tests.integration.test_drg_lists_support import mcc_cc, month_lists, standardised


@pytest.mark.db
def test_the_planted_fraudulent_hospital_ranks_in_the_top_5_percent(engine: Engine) -> None:
    """Four provinces, a month at twice the usual rate of care: one hospital is made to
    bill a third of its lines twice (duplicate_charge). It ranks 2nd of 31 (the first
    version's scoring: 23rd), explained by its same-day repeated lines; the scores of
    the span are stored, one row per institution, and a re-run replaces them."""
    config = SimConfig(
        seed=6, provinces=("11", "31", "44", "51"), days=31, anomalies=0.05, volume=2.0
    )
    run_simulation(engine, config)
    scored = compute_scores(engine, "2026-10", months=1)
    ranks = institution_ranks(engine, "2026-10", months=1)
    assert ranks["planted"] == 1 and ranks["scored"] == len(scored) >= 20
    (planted,) = ranks["institutions"]
    assert planted["scheme"] == "duplicate_charge"
    assert planted["rank"] <= max(1, round(0.05 * ranks["scored"]))
    assert "同日重复收费明细占比" in planted["explanation"]
    assert float(ranks["auc"]) >= 0.9
    # stored per span; a second run replaces (no duplicate key), another span is apart
    compute_scores(engine, "2026-10", months=1)
    assert len(stored_scores(engine, "2026-10", months=1)) == len(scored)
    compute_scores(engine, "2026-10", months=3)
    assert len(stored_scores(engine, "2026-10", months=3)) == len(scored)  # only October
    assert len(stored_scores(engine, "2026-10", months=1)) == len(scored)


@pytest.mark.db
def test_a_planted_upcoding_hospital_ranks_in_the_top_5_percent(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same four provinces (seed 9), the one fraudulent hospital made to up-code
    (高套病组: an MCC/CC other diagnosis on every stay it moves, at least
    ``FRAUD_MIN_BILLS`` = 5 of them). The stays' settlement lists (4101) are grouped by
    the platform; clean lists land in CC/MCC DRGs too (the simulator's comorbidities),
    yet the up-coding hospital ranks 1st of 27, explained by its MCC/CC
    病组占比（按病组标化）: 8 of its 10 movable lists in an MCC/CC DRG (the other two are
    persons carrying a planted violation, left alone) where the other institutions'
    rates of their ADRGs expect 1.27 (O/E 6.3, z = +6.4). Top 5 % here is one rank; the
    test allows two. The ratio O/E the database computed (SQLite, PostgreSQL) is the one
    the domain's formulas give on the lists."""
    monkeypatch.setattr(anomalies, "FRAUD_SCHEMES", ("upcoding",))
    config = SimConfig(
        seed=9, provinces=("11", "31", "44", "51"), days=31, anomalies=0.05, volume=2.0
    )
    run_simulation(engine, config)
    scored = compute_scores(engine, "2026-10", months=1)
    ranks = institution_ranks(engine, "2026-10", months=1)
    (planted,) = ranks["institutions"]
    code = planted["fixmedins_code"]
    assert planted["scheme"] == "upcoding"
    assert planted["rank"] <= 2 and len(scored) >= 20
    assert planted["explanation"].startswith("MCC/CC 病组占比（按病组标化）")
    (theirs,) = [s for s in scored if s.fixmedins_code == code]
    assert theirs.z["mcc_cc_oe"] >= 4.0
    lists = month_lists(engine, 2026, 10)
    std = standardised(lists, code)
    clean = [d for c, d in lists if c != code]
    assert std.observed >= anomalies.FRAUD_MIN_BILLS
    assert 0 < sum(mcc_cc(d) for d in clean) < len(clean) / 4  # some, and a minority
    observed, expected = std.observed, std.expected
    assert theirs.features["mcc_cc_oe"] == pytest.approx(observed / expected, rel=1e-5)


def test_cli_scores_on_an_empty_database_and_a_bad_span(tmp_path: Path) -> None:
    """``medroam audit scores`` on an empty database prints its (empty) table for the
    quarter ending with the period; --months outside 1..12 exits 2 with the reason."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    empty = make_engine(db)
    upgrade(empty)  # migrated, nothing in it
    empty.dispose()
    runner = CliRunner()
    result = runner.invoke(app, ["audit", "scores", "--period", "2026-10", "--db", db])
    assert result.exit_code == 0, result.output
    assert "2026-08…2026-10" in result.output
    bad = runner.invoke(app, ["audit", "scores", "--period", "2026-10", "--months", "0",
                              "--db", db])  # fmt: skip
    assert bad.exit_code == 2 and "--months: 0 is not between 1 and 12" in bad.output
