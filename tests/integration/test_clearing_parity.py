"""The batch computations give identical results, to the fen, on the operational
database (SQLite, PostgreSQL) and on DuckDB over a Parquet export of its clearing lines."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import ibis  # type: ignore[import-untyped]
import ibis.expr.types as ir  # type: ignore[import-untyped]
import pytest
from sqlalchemy import Engine

from medroam.batch import clearing as batch
from medroam.batch.engine import duckdb_lines, fetch, operational_lines
from medroam.batch.lines import eligible, epoch_day
from medroam.domain.clearing.params import MonthBasis
from medroam.services import clearing as svc
from medroam.services.uow import unit_of_work
from tests.integration.test_clearing import NOV, OCT, october, propose_and_confirm
from tests.integration.test_clearing_support import BEIJING, NOW, SHANGHAI, World, at

pytestmark = pytest.mark.db

COMPUTATIONS: dict[str, Callable[[ir.Table], ir.Table]] = {
    "pair_matrix": batch.pair_matrix,
    "province_matrix": batch.province_matrix,
    "province_positions": batch.province_positions,
    "region_positions": batch.region_positions,
    "hospital_lines": batch.hospital_lines,
    "hospital_settlements": batch.hospital_settlements,
    "hospital_days": batch.hospital_days,
    "totals": batch.totals,
    "matrix_with_totals": batch.matrix_with_totals,
}


def rows(table: Any) -> list[tuple[Any, ...]]:
    return sorted(tuple(r.values()) for r in table.to_pylist())


def on_database(engine: Engine, make: Callable[[ir.Table], ir.Table]) -> list[tuple[Any, ...]]:
    with unit_of_work(engine) as session:
        return rows(fetch(make(operational_lines()), session.connection()))


def test_every_computation_is_identical_on_duckdb(engine: Engine, tmp_path: Path) -> None:
    world = World(engine)
    october(world)
    world.cancel("S1", "S1R", at("2026-11-05"))
    world.settle("S6", BEIJING, SHANGHAI, at("2026-11-10"), {"310100": 100_000}, account=7)
    p = svc.propose(engine, OCT, now=NOW)
    svc.dispute(engine, ["S2"], "not ours", now=NOW)
    svc.confirm(engine, now=NOW, setl_ids=["S1", "S3", "S4", "S5"])
    propose_and_confirm(engine, NOV)
    assert p.proposed == 5

    # before any run: the eligible lines of October on DuckDB are what the run clears
    before = tmp_path / "before.parquet"
    svc.export_lines(engine, before)
    con = ibis.duckdb.connect()
    pending = eligible(
        duckdb_lines(before, con), epoch_day(OCT.end), MonthBasis.SETTLEMENT, "run_id"
    )
    expected = fetch(batch.totals(pending)).to_pylist()[0]
    oct_run = svc.clear(engine, "monthly", "2026-10", as_of=date(2026, 11, 2), now=NOW)
    assert (oct_run.amount_fen, oct_run.line_count) == (
        expected["amount_fen"],
        expected["line_count"],
    )
    svc.clear(engine, "monthly", "2026-11", as_of=date(2026, 12, 1), now=NOW)

    # after: every computation over all lines, and over each run's lines, agrees
    after = tmp_path / "after.parquet"
    assert svc.export_lines(engine, after, batch_rows=3) > 0  # several record batches
    lake = duckdb_lines(after, con)
    for name, make in COMPUTATIONS.items():
        assert on_database(engine, make) == rows(fetch(make(lake))), name
        for run_id in ("CLR-monthly-2026-10-all", "CLR-monthly-2026-11-all"):

            def of_run(
                t: ir.Table, make: Callable[[ir.Table], ir.Table] = make, r: str = run_id
            ) -> ir.Table:
                return make(t.filter(t.run_id == r))

            assert on_database(engine, of_run) == rows(fetch(of_run(lake))), (name, run_id)

    # every settlement has exactly one head line (the one that counts it in 人次): S6 has
    # a fund line and an account line, the cancellation S1R is a settlement of its own
    heads: dict[str, int] = {}
    for line in fetch(lake).to_pylist():
        if line["refd_setl_flag"] != 2:
            heads[line["setl_id"]] = heads.get(line["setl_id"], 0) + line["head_line"]
    assert heads and set(heads.values()) == {1}, heads
    assert {"S1", "S1R", "S6"} <= set(heads)

    # and the stored province positions are the DuckDB ones
    oct_lines = lake.filter(lake.run_id == "CLR-monthly-2026-10-all")
    duck = {r["province"]: r["net"] for r in fetch(batch.province_positions(oct_lines)).to_pylist()}
    assert duck == {p["province"]: p["net_fen"] for p in oct_run.provinces}
