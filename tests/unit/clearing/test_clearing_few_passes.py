"""The run's totals folded into the matrix scan (``matrix_with_totals`` +
``totals_from_matrix``) equal the old separate ``totals`` and ``pair_matrix`` queries, on a
generated month and on a hand example.

Worked example (``test_small_example_by_hand``): settlement S1 on day 20 000 with a basic
line of 1 000 fen and an account line of 200 fen, settlement S2 on day 20 001 with a basic
line of 500 fen, and S2R, the reverse record of S2 on day 20 001 with −500 fen, all from
110100 treated in 310100. Totals: 1 000 + 200 + 500 − 500 = 1 200 fen, 4 lines,
|1 000| + |200| + |500| + |−500| = 2 200 fen absolute, days 20 000 to 20 001. Matrix: basic
1 000 + 500 − 500 = 1 000 fen over 3 lines, account 200 fen over 1 line. Settlements of
H1: the basic lines are the head lines, S1 + S2 − S2R (a reverse record counts −1) = 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis  # type: ignore[import-untyped]
import pyarrow as pa  # type: ignore[import-untyped]

from medroam.batch import clearing as batch
from medroam.batch.engine import duckdb_lines, fetch
from medroam.batch.lines import LINE_SCHEMA, eligible, epoch_day
from medroam.bench.clearing import PERIOD, generate
from medroam.domain.clearing.params import MonthBasis


def _sorted(table: pa.Table) -> list[tuple[Any, ...]]:
    return sorted(tuple(r.values()) for r in table.to_pylist())


def _compare(lines: Any) -> None:
    with_totals = fetch(batch.matrix_with_totals(lines))
    old_totals = fetch(batch.totals(lines)).to_pylist()[0]
    assert batch.totals_from_matrix(with_totals) == old_totals
    assert _sorted(with_totals.select(list(batch.MATRIX_COLUMNS))) == _sorted(
        fetch(batch.pair_matrix(lines))
    )


def test_generated_month_equals_the_old_path(tmp_path: Path) -> None:
    path = tmp_path / "lines.parquet"
    n_lines = generate(path, 30_000)
    assert n_lines > 30_000  # extra fund lines on some settlements
    con = ibis.duckdb.connect(threads=1)
    run = eligible(duckdb_lines(path, con), epoch_day(PERIOD.end), MonthBasis.SETTLEMENT, "run_id")
    assert fetch(batch.totals(run)).to_pylist()[0]["line_count"] > 30_000
    _compare(run)


def _lines(rows: list[tuple[str, int, str, int, int]]) -> Any:
    cols: dict[str, list[Any]] = {name: [] for name in LINE_SCHEMA.names}
    for setl_id, day, fund_line, amount, refd in rows:
        values = {
            "setl_id": setl_id,
            "setl_day": day,
            "insured_region": "110100",
            "treatment_region": "310100",
            "fixmedins_code": "H1",
            "insutype": "310",
            "clr_type": "11",
            "fund_pay_type": "310100" if fund_line == "basic" else "310200",
            "fund_line": fund_line,
            "amount_fen": amount,
            "refd_setl_flag": refd,
            "state": "confirmed",
            "state_day": day,
            "run_id": None,
            "head_line": 1 if fund_line == "basic" else 0,  # each settlement's first fund line
        }
        for k, v in values.items():
            cols[k].append(v)
    return ibis.memtable(pa.table(cols, schema=LINE_SCHEMA.to_pyarrow()))


def test_small_example_by_hand() -> None:
    lines = _lines(
        [
            ("S1", 20_000, "basic", 1_000, 0),
            ("S1", 20_000, "account", 200, 0),
            ("S2", 20_001, "basic", 500, 0),
            ("S2R", 20_001, "basic", -500, 1),
        ]
    )
    with_totals = fetch(batch.matrix_with_totals(lines))
    matrix = {r["fund_line"]: (r["amount_fen"], r["line_count"]) for r in with_totals.to_pylist()}
    assert matrix == {"basic": (1_000, 3), "account": (200, 1)}
    totals = batch.totals_from_matrix(with_totals)
    assert totals == {
        "amount_fen": 1_200,
        "line_count": 4,
        "abs_fen": 2_200,
        "max_day": 20_001,
        "min_day": 20_000,
    }
    _compare(lines)
    # settlements (人次): S1 + S2 − S2R = 1, from the lines and from the hospital rows
    assert fetch(batch.hospital_settlements(lines)).to_pylist() == [
        {"treatment_region": "310100", "fixmedins_code": "H1", "settlements": 1}
    ]
    by_hospital = fetch(batch.hospital_lines(lines))
    assert batch.hospital_settlements_of(by_hospital).to_pylist() == [
        {"treatment_region": "310100", "fixmedins_code": "H1", "settlements": 1}
    ]


def test_no_lines() -> None:
    empty = _lines([])
    assert (
        batch.totals_from_matrix(fetch(batch.matrix_with_totals(empty)))
        == (fetch(batch.totals(empty)).to_pylist()[0])
    )
