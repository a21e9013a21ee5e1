"""Reconciliation and clearing over real HTTP on real settlements: 3201 totals, 3202
details (the detail file uploaded with 9101, the result file fetched with 9102), 3203
clearing applications checked against the centre's figures, 3204 cancellations."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from medroam.client import HisClient
from medroam.gateway.settings import CHINA_TZ
from medroam.store.tables import ClearingApplicationRow, SettlementRow
from tests.http.conftest import H1, PERSONS, Gateway
from tests.http.helpers import make_zip, unzip_rows
from tests.http.test_flows import ok, outpatient_visit

pytestmark = pytest.mark.db

SHENZHEN = "440305"


@dataclass
class Month:
    """Two outpatient settlements of P1 at H1: A stands, B was cancelled (2208)."""

    gw: Gateway
    a: dict[str, Any]  # setlinfo of A
    b: dict[str, Any]  # setlinfo of B
    b_reverse: dict[str, Any]  # setlinfo of B's reverse record
    day: date


@pytest.fixture(scope="module")
def month(flow_gateway: Gateway) -> Iterator[Month]:
    client = flow_gateway.client("h1")
    a = outpatient_visit(client)
    b = outpatient_visit(client)
    reverse = ok(
        client,
        "2208",
        {
            "data": {
                "setl_id": b["setlinfo"]["setl_id"],
                "mdtrt_id": b["mdtrt_id"],
                "psn_no": PERSONS[0][0],
            }
        },
    )["setlinfo"]
    yield Month(flow_gateway, a["setlinfo"], b["setlinfo"], reverse, datetime.now(CHINA_TZ).date())


def totals_3201(m: Month, **changes: Any) -> dict[str, Any]:
    a = m.a
    data = {
        "insutype": "310",
        "clr_type": a["clr_type"],
        "setl_optins": SHENZHEN,
        "stmt_begndate": str(m.day),
        "stmt_enddate": str(m.day),
        "medfee_sumamt": a["medfee_sumamt"],
        "fund_pay_sumamt": a["fund_pay_sumamt"],
        "acct_pay": a["acct_pay"],
        "fixmedins_setl_cnt": 3,
        "refd_setl_flag": "1",
    }
    data.update(changes)
    return data


def test_3201_balanced(month: Month) -> None:
    out = ok(month.gw.client("h1"), "3201", {"data": totals_3201(month)})["stmtinfo"]
    assert out["setl_optins"] == SHENZHEN
    assert out["stmt_rslt"] == "0", out["stmt_rslt_dscr"]
    assert out["stmt_rslt_dscr"].startswith("平 (balanced): 3 settlements")


def test_3201_unbalanced_names_each_figure(month: Month) -> None:
    medfee = Decimal(month.a["medfee_sumamt"]) + Decimal("0.01")
    out = ok(
        month.gw.client("h1"),
        "3201",
        {"data": totals_3201(month, medfee_sumamt=str(medfee), fixmedins_setl_cnt=2)},
    )["stmtinfo"]
    assert out["stmt_rslt"] == "1"
    assert out["stmt_rslt_dscr"] == (
        f"不平 (not balanced): medfee_sumamt {medfee} vs centre {month.a['medfee_sumamt']}; "
        "fixmedins_setl_cnt 2 vs centre 3"
    )


def test_3201_without_refunds_and_other_agency(month: Month) -> None:
    client = month.gw.client("h1")
    both = Decimal(month.a["medfee_sumamt"]) + Decimal(month.b["medfee_sumamt"])
    fund = Decimal(month.a["fund_pay_sumamt"]) + Decimal(month.b["fund_pay_sumamt"])
    acct = Decimal(month.a["acct_pay"]) + Decimal(month.b["acct_pay"])
    out = ok(
        client,
        "3201",
        {
            "data": totals_3201(
                month,
                refd_setl_flag="0",
                medfee_sumamt=str(both),
                fund_pay_sumamt=str(fund),
                acct_pay=str(acct),
                fixmedins_setl_cnt=2,
            )
        },
    )["stmtinfo"]
    assert out["stmt_rslt"] == "0", out["stmt_rslt_dscr"]
    # another agency holds none of them
    out = ok(client, "3201", {"data": totals_3201(month, setl_optins="110105")})["stmtinfo"]
    assert out["stmt_rslt"] == "1" and "vs centre 0.00" in out["stmt_rslt_dscr"]
    # another institution's figures are its own: H2 has none
    out = ok(month.gw.client("h2"), "3201", {"data": totals_3201(month)})["stmtinfo"]
    assert out["stmt_rslt"] == "1" and "fixmedins_setl_cnt 3 vs centre 0" in out["stmt_rslt_dscr"]


def test_3201_refusals(month: Month) -> None:
    client = month.gw.client("h1")
    doc = client.call("3201", {"data": totals_3201(month, clr_type="77")})
    assert doc["err_msg"].startswith("input.data.clr_type: unknown code '77'")
    doc = client.call("3201", {"data": totals_3201(month, medfee_sumamt="1.234")})
    assert doc["err_msg"] == "input.data.medfee_sumamt: '1.234' has more than 2 decimals"
    doc = client.call("3201", {"data": totals_3201(month, stmt_enddate="2000-01-01")})
    assert doc["err_msg"].startswith("input.data.stmt_enddate: 2000-01-01 is before stmt_begndate")
    doc = client.call("3201", {"data": totals_3201(month, medfee_sumamt="1" + "0" * 15)})
    assert doc["err_msg"] == "input.data.medfee_sumamt: more than 14 integer digits"


def _row(
    s: dict[str, Any], *, setl_id: str | None = None, flag: str = "0", medfee: str | None = None
) -> str:
    cells = [
        setl_id or s["setl_id"],
        s["mdtrt_id"],
        s["psn_no"],
        medfee or s["medfee_sumamt"],
        s["fund_pay_sumamt"],
        s["acct_pay"],
        flag,
    ]
    return "\t".join(str(c) for c in cells)


def _detail(
    month: Month, client: HisClient, lines: list[str]
) -> tuple[dict[str, Any], list[list[str]]]:
    up = client.upload("detail.zip", make_zip("detail.txt", lines))
    a = month.a
    out = ok(
        client,
        "3202",
        {
            "data": {
                "setl_optins": SHENZHEN,
                "file_qury_no": up["file_qury_no"],
                "stmt_begndate": str(month.day),
                "stmt_enddate": str(month.day),
                "medfee_sumamt": a["medfee_sumamt"],
                "fund_pay_sumamt": a["fund_pay_sumamt"],
                "cash_payamt": a["psn_cash_pay"],
                "fixmedins_setl_cnt": 3,
                "clr_type": a["clr_type"],
                "refd_setl_flag": "1",
            }
        },
    )
    info = out["fileinfo"]
    rows = unzip_rows(client.download(info["file_qury_no"], info["filename"]))
    assert all(len(r) == 10 for r in rows)
    return out, rows


def test_3202_all_rows_agree(month: Month) -> None:
    client = month.gw.client("h1")
    # the refund is sent as two rows: positive and negative, under the original setl_id
    out, rows = _detail(
        month,
        client,
        [
            _row(month.a),
            _row(month.b),
            _row(month.b_reverse, setl_id=month.b["setl_id"], flag="1"),
        ],
    )
    assert out["stmtinfo"]["stmt_rslt"] == "0", rows
    assert {r[2] for r in rows} == {
        month.a["setl_id"],
        month.b["setl_id"],
        month.b_reverse["setl_id"],
    }
    by_setl = {r[2]: r for r in rows}
    a_row = by_setl[month.a["setl_id"]]
    # psn_no, mdtrt_id, setl_id, msgid, stmt_rslt, refd_setl_flag, memo, amounts
    assert a_row[0] == PERSONS[0][0] and a_row[3] == month.a["medins_setl_id"]
    assert a_row[4] == "0" and a_row[5] == "0" and a_row[6] == "null"
    assert by_setl[month.b_reverse["setl_id"]][5] == "1"


def test_3202_reports_missing_differing_and_unknown_rows(month: Month) -> None:
    client = month.gw.client("h1")
    wrong = str(Decimal(month.b["medfee_sumamt"]) + 1)
    out, rows = _detail(
        month,
        client,
        [
            _row(month.b, medfee=wrong),
            _row(month.b_reverse, setl_id=month.b["setl_id"], flag="1"),
            _row(month.a, setl_id="NOSUCHSETTLEMENT"),
        ],
    )
    assert out["stmtinfo"]["stmt_rslt"] == "1"
    assert out["stmtinfo"]["stmt_rslt_dscr"] == "不平 (not balanced): 3 of 4 rows differ"
    memo = {r[2]: (r[4], r[6], r[3]) for r in rows}
    assert memo[month.b["setl_id"]] == (
        "1",
        f"medfee_sumamt {wrong} vs centre {month.b['medfee_sumamt']}",
        month.b["medins_setl_id"],
    )
    assert memo["NOSUCHSETTLEMENT"] == ("1", "the centre holds no such settlement", "null")
    # A is missing from the file: its original msgid comes back, for a 2601 if needed
    assert memo[month.a["setl_id"]] == (
        "1",
        "not in the institution's file",
        month.a["medins_setl_id"],
    )


def test_3202_refusals(month: Month) -> None:
    client = month.gw.client("h1")
    before = month.gw.count("gateway_files")
    bad = client.upload("bad.zip", make_zip("x.txt", ["S1\tM1\tP1\tabc\t0\t0\t0"]))
    not_zip = client.upload("n.zip", b"not a zip")
    a = month.a
    base = {
        "setl_optins": SHENZHEN,
        "stmt_begndate": str(month.day),
        "stmt_enddate": str(month.day),
        "medfee_sumamt": "0",
        "fund_pay_sumamt": "0",
        "cash_payamt": "0",
        "fixmedins_setl_cnt": 0,
        "clr_type": a["clr_type"],
    }
    doc = client.call("3202", {"data": {**base, "file_qury_no": bad["file_qury_no"]}})
    assert (
        doc["err_msg"] == f"file {bad['file_qury_no']} row 1: medfee_sumamt: 'abc' is not an amount"
    )
    doc = client.call("3202", {"data": {**base, "file_qury_no": not_zip["file_qury_no"]}})
    assert doc["err_msg"] == f"file {not_zip['file_qury_no']}: is not a ZIP file"
    doc = month.gw.client("h2").call(
        "3202", {"data": {**base, "file_qury_no": bad["file_qury_no"]}}
    )
    assert doc["err_msg"] == (
        f"input.data.file_qury_no: no file '{bad['file_qury_no']}' for this institution"
    )
    assert month.gw.count("gateway_files") == before + 2  # only the two uploads


def _application(month: Month, **changes: Any) -> dict[str, Any]:
    a = month.a
    first = month.day.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    medfee = Decimal(a["medfee_sumamt"])
    data = {
        "clr_type": a["clr_type"],
        "clr_way": "1",
        "setlym": f"{first:%Y%m}",
        "psntime": 1,
        "medfee_sumamt": str(medfee),
        "med_sumfee": str(medfee),
        "fund_appy_sum": a["fund_pay_sumamt"],
        "cash_payamt": a["psn_cash_pay"],
        "acct_pay": a["acct_pay"],
        "begndate": str(first),
        "enddate": str(last),
    }
    data.update(changes)
    return data


def test_3203_3204_clearing_applications(month: Month) -> None:
    gw = month.gw
    client = gw.client("h1")
    doc = client.call("3203", {"data": _application(month)})
    assert doc["err_msg"].startswith("input.data.enddate: the period must be over before clearing")
    gw.shift(timedelta(days=40))  # the month is over
    try:
        wrong = str(Decimal(month.a["fund_pay_sumamt"]) + 5)
        doc = client.call("3203", {"data": _application(month, fund_appy_sum=wrong, psntime=2)})
        assert doc["infcode"] == -1
        assert "psntime 2 vs centre 1; " in doc["err_msg"]
        assert f"fund_appy_sum {wrong} vs centre {month.a['fund_pay_sumamt']}" in doc["err_msg"]
        assert doc["err_msg"].endswith("reconcile with 3201/3202 first")
        assert gw.count("clearing_applications") == 0

        first = ok(client, "3203", {"data": _application(month)})["result"]["clr_appy_evt_id"]
        assert len(first) == 30
        doc = client.call("3203", {"data": _application(month)})
        assert "was already applied for (clr_appy_evt_id " + first in doc["err_msg"]
        # not H2's to cancel
        doc = gw.client("h2").call("3204", {"data": {"clr_appy_evt_id": first}})
        assert (
            doc["err_msg"]
            == f"input.data.clr_appy_evt_id: no clearing application {first} of this institution"
        )
        ok(client, "3204", {"data": {"clr_appy_evt_id": first}})
        doc = client.call("3204", {"data": {"clr_appy_evt_id": first}})
        assert doc["err_msg"] == f"clearing application {first} is already cancelled"
        # after the cancellation a new application is accepted (Jilin spelling works too)
        second = ok(client, "3203", {"data": _application(month)})["result"]["clr_appy_evt_id"]
        with gw.engine.connect() as c:
            rows = {r.clr_appy_evt_id: r for r in c.execute(select(ClearingApplicationRow))}
        assert rows[first].status == "cancelled" and rows[second].status == "applied"
        assert rows[second].fund_appy_sum == int(Decimal(month.a["fund_pay_sumamt"]) * 100)
        assert rows[second].fixmedins_code == H1[0] and rows[second].clr_optins == SHENZHEN
        ok(client, "3204", {"data": {"clr_apply_evt_id": second}})
    finally:
        gw.shift(timedelta(0))


def test_3203_refusals(month: Month) -> None:
    client = month.gw.client("h1")
    doc = client.call("3203", {"data": _application(month, setlym="202613")})
    assert doc["err_msg"] == "input.data.setlym: must be a month yyyyMM, got '202613'"
    early = month.day.replace(day=1) - timedelta(days=1)
    doc = client.call("3203", {"data": _application(month, begndate=str(early))})
    assert doc["err_msg"].startswith(f"input.data.begndate: the period {early}..")
    assert "is not inside setlym" in doc["err_msg"]
    doc = client.call("3203", {"data": _application(month, psntime=-1)})
    assert doc["err_msg"] == "input.data.psntime: must be a count of 0 to 999999"
    doc = client.call("3203", {"data": _application(month, acct_pay="-1.00")})
    assert doc["err_msg"] == "input.data.acct_pay: must not be negative, got -1.00"


def test_settlements_counted_are_those_of_the_fixture(month: Month) -> None:
    with month.gw.engine.connect() as c:
        n = c.execute(select(SettlementRow).where(SettlementRow.fixmedins_code == H1[0])).all()
    assert len(n) == 3
