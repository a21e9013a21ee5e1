"""After a 2601 reversal the HIS drops the reversed settlement from its book: the
settlement and the reverse record the 2601 wrote are void for 3201 under either
``refd_setl_flag``, and 5203 on the reversed settlement says it was reversed (issue 12
item 4).

Worked example: settlements A and B of P1 at H1 today; B is reversed by 2601. The HIS's
book holds A alone, so 3201 sends A's figures and fixmedins_setl_cnt 1, and must balance
with refd_setl_flag 1 (refunds included: there are none left) and 0 alike. Before the fix
the centre counted A, B and B's reverse record (3 settlements, B's amounts netting to 0)
with flag 1, and A and B (2, B's amounts added) with flag 0: neither balanced."""

from __future__ import annotations

from datetime import datetime

import pytest

from medroam.gateway.settings import CHINA_TZ
from tests.http.conftest import PERSONS, Gateway
from tests.http.test_flows import ok, outpatient_visit

pytestmark = pytest.mark.db

SHENZHEN = "440305"


def test_a_2601_reversed_settlement_is_void_for_3201_and_5203_says_so(
    flow_gateway: Gateway,
) -> None:
    client = flow_gateway.client("h1")
    a_visit = outpatient_visit(client)
    a = a_visit["setlinfo"]
    b_visit = outpatient_visit(client)
    b = b_visit["setlinfo"]
    psn_no = PERSONS[0][0]
    ok(
        client,
        "2601",
        {"data": {"psn_no": psn_no, "omsgid": b["medins_setl_id"], "oinfno": "2207"}},
    )
    today = str(datetime.now(CHINA_TZ).date())
    for flag in ("1", "0"):
        data = {
            "insutype": "310",
            "clr_type": a["clr_type"],
            "setl_optins": SHENZHEN,
            "stmt_begndate": today,
            "stmt_enddate": today,
            "medfee_sumamt": a["medfee_sumamt"],
            "fund_pay_sumamt": a["fund_pay_sumamt"],
            "acct_pay": a["acct_pay"],
            "fixmedins_setl_cnt": 1,
            "refd_setl_flag": flag,
        }
        out = ok(client, "3201", {"data": data})["stmtinfo"]
        assert out["stmt_rslt"] == "0", (flag, out["stmt_rslt_dscr"])

    query = {"setl_id": b["setl_id"], "mdtrt_id": b_visit["mdtrt_id"], "psn_no": psn_no}
    info = ok(client, "5203", {"data": query})["setlinfo"]
    assert info["vali_flag"] == "0"
    assert "已冲正" in info["memo"] and "2601" in info["memo"]
    standing = ok(
        client,
        "5203",
        {"data": {**query, "setl_id": a["setl_id"], "mdtrt_id": a_visit["mdtrt_id"]}},
    )["setlinfo"]
    assert standing["vali_flag"] == "1" and standing["memo"] == ""
