"""The Ibis batch computations on DuckDB agree with the pure reference (netting,
fund totals) on random clearing lines, and with hand figures on a small example."""

from __future__ import annotations

from typing import Any

import ibis  # type: ignore[import-untyped]
import pyarrow as pa  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as s

from medroam.batch import clearing as batch
from medroam.batch.engine import fetch
from medroam.batch.lines import LINE_SCHEMA, eligible, fund_line_expr
from medroam.domain.clearing.funds import fund_line_of
from medroam.domain.clearing.netting import net_positions
from medroam.domain.clearing.params import MonthBasis

REGIONS = ["110100", "310100", "440100", "440300", "420100"]
CODES = ["310100", "390100", "390200", "610100", "320100", "330100", "370100", "310200"]

line = s.fixed_dictionaries(
    {
        "ins": s.sampled_from(REGIONS),
        "trt": s.sampled_from(REGIONS),
        "fpt": s.sampled_from(CODES),
        "amount": s.integers(-(10**10), 10**12),
        "day": s.integers(20_000, 20_030),
    }
)


def table(lines: list[dict[str, Any]]) -> Any:
    cols: dict[str, list[Any]] = {name: [] for name in LINE_SCHEMA.names}
    for i, x in enumerate(lines):
        values = {
            "setl_id": f"S{i}",
            "setl_day": x["day"],
            "insured_region": x["ins"],
            "treatment_region": x["trt"],
            "fixmedins_code": f"H{x['trt']}",
            "insutype": "310",
            "clr_type": "21",
            "fund_pay_type": x["fpt"],
            "fund_line": str(fund_line_of(x["fpt"])),
            "amount_fen": x["amount"],
            "refd_setl_flag": 1 if x["amount"] < 0 else 0,
            "state": "confirmed",
            "state_day": x["day"],
            "run_id": None,
            "head_line": 1,  # every line is a settlement of its own
        }
        for k, v in values.items():
            cols[k].append(v)
    return ibis.memtable(pa.table(cols, schema=LINE_SCHEMA.to_pyarrow()))


@settings(max_examples=40, deadline=None)
@given(s.lists(line, max_size=30).map(lambda ls: [x for x in ls if x["ins"] != x["trt"]]))
def test_province_positions_match_the_reference(lines: list[dict[str, Any]]) -> None:
    t = table(lines)
    got = {r["province"]: r["net"] for r in fetch(batch.province_positions(t)).to_pylist()}
    gross: dict[tuple[str, str], int] = {}
    for x in lines:
        key = (x["ins"][:2] + "0000", x["trt"][:2] + "0000")
        gross[key] = gross.get(key, 0) + x["amount"]
    expected = net_positions(gross)
    assert {k: v for k, v in got.items()} == {k: expected.get(k, 0) for k in got}
    assert sum(got.values()) == 0
    regions = fetch(batch.region_positions(t)).to_pylist()
    assert sum(r["net"] for r in regions) == 0
    for province, net in got.items():
        assert sum(r["inter_net"] for r in regions if r["province"] == province) == net
    total = sum(x["amount"] for x in lines)
    totals = fetch(batch.totals(t)).to_pylist()[0]
    assert (totals["amount_fen"] or 0) == total
    assert sum(r["amount_fen"] for r in fetch(batch.hospital_lines(t)).to_pylist()) == total


def test_fund_line_expression_matches_the_mapping() -> None:
    codes = [*CODES, "310102", "390300", "610104", "999997", "310200MA", "340100"]
    t = ibis.memtable(pa.table({"c": codes}))
    got = fetch(t.select(c=t.c, line=fund_line_expr(t.c))).to_pylist()
    assert {r["c"]: r["line"] for r in got} == {c: str(fund_line_of(c)) for c in codes}


def test_eligibility() -> None:
    t = table(
        [
            {"ins": "110100", "trt": "310100", "fpt": "310100", "amount": 5, "day": 20_000},
            {"ins": "110100", "trt": "310100", "fpt": "310100", "amount": 7, "day": 20_001},
        ]
    )
    t = t.mutate(
        state=ibis.ifelse(t.setl_id == "S0", "confirmed", "disputed"),
        state_day=ibis.literal(20_010, "int32"),
    )
    assert fetch(eligible(t, 20_005, MonthBasis.SETTLEMENT, "run_id")).num_rows == 1
    assert fetch(eligible(t, 20_005, MonthBasis.CONFIRMATION, "run_id")).num_rows == 0
    assert fetch(eligible(t, 20_010, MonthBasis.CONFIRMATION, "run_id")).num_rows == 1
