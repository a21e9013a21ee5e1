"""The settlement handlers called as the dispatcher calls them (``(ctx, Node(input))``):
the documented nodes, exact decimals (amounts 2 places, ratios 4), reverse amounts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from medroam.gateway.errors import BusinessError, InputError
from medroam.gateway.reader import Node
from medroam.gateway.registry import (
    Envelope,
    Institution,
    RequestContext,
    get_handler,
    load_handlers,
)
from medroam.services.uow import unit_of_work
from medroam.store import refdata_cache
from tests.integration.test_settlement_service_support import (
    EMPLOYEE_HHHT,
    H_BJ,
    NOW,
    build_world,
    catalogue,
    id_number,
    pick,
)

pytestmark = pytest.mark.db
PSN = EMPLOYEE_HHHT
INSTITUTION = Institution(H_BJ.code, H_BJ.name, H_BJ.region, H_BJ.level, "hospital", True)


@pytest.fixture
def world(engine: Engine) -> Iterator[Engine]:
    load_handlers()
    refdata_cache.clear_caches()
    build_world(engine)
    yield engine


_seq = iter(range(1, 10**6))


def call(engine: Engine, infno: str, inp: dict[str, Any]) -> Any:
    spec = get_handler(infno)
    assert spec is not None, infno
    msgid = f"{H_BJ.code}20250610093000{next(_seq):04d}"
    envelope = Envelope(
        infno=infno,
        msgid=msgid,
        mdtrtarea_admvs=H_BJ.region,
        insuplc_admdvs=H_BJ.region,
        recer_sys_code="YBXT",
        infver="V1.0",
        opter_type="1",
        opter="001",
        opter_name="测试",
        inf_time=None,
        fixmedins_code=H_BJ.code,
        fixmedins_name=H_BJ.name,
        sign_no="",
    )
    with unit_of_work(engine) as s:
        ctx = RequestContext(session=s, institution=INSTITUTION, envelope=envelope, now=NOW)
        return spec.fn(ctx, Node(inp, "input"))


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return -exponent


def test_outpatient_transactions_answer_the_documented_nodes(world: Engine) -> None:
    out = call(
        world,
        "1101",
        {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": id_number(PSN), "psn_name": ""}},
    )
    assert out["baseinfo"]["psn_no"] == PSN and out["baseinfo"]["age"] == Decimal("45.0")
    (insu,) = out["insuinfo"]
    assert insu["insuplc_admdvs"] == "150100" and _places(insu["balc"]) == 2

    out = call(
        world,
        "2001",
        {
            "data": {
                "psn_no": PSN,
                "insutype": "310",
                "fixmedins_code": H_BJ.code,
                "med_type": "11",
                "begntime": "2025-06-10 09:00:00",
            }
        },
    )
    assert out["trtinfo"] and all(r["trt_enjymnt_flag"] == "1" for r in out["trtinfo"])

    out = call(
        world,
        "2201",
        {
            "data": {
                "psn_no": PSN,
                "insutype": "310",
                "begntime": "2025-06-10 09:00:00",
                "mdtrt_cert_type": "01",
                "mdtrt_cert_no": f"EV-{PSN}",
                "ipt_otp_no": "OP-H1",
                "atddr_no": "D1",
                "dr_name": "医生",
                "dept_code": "01",
                "dept_name": "内科",
                "caty": "A03",
            }
        },
    )
    mdtrt_id = out["data"]["mdtrt_id"]
    assert len(mdtrt_id) <= 30 and out["data"]["ipt_otp_no"] == "OP-H1"

    assert (
        call(
            world,
            "2203",
            {
                "mdtrtinfo": {
                    "mdtrt_id": mdtrt_id,
                    "psn_no": PSN,
                    "med_type": "11",
                    "begntime": "2025-06-10 09:00:00",
                    "exp_content": '{"OTP_ER_REFL_FLAG": ""}',
                },
                "diseinfo": [
                    {
                        "diag_type": "1",
                        "diag_srt_no": "1",
                        "diag_code": "J06.900",
                        "diag_name": "上呼吸道感染",
                        "diag_dept": "内科",
                        "dise_dor_no": "D1",
                        "dise_dor_name": "医生",
                        "diag_time": "2025-06-10 09:05:00",
                        "vali_flag": "1",
                    }
                ],
            },
        )
        is None
    )

    with unit_of_work(world) as s:
        cat = catalogue(s)
        a, b = pick(cat, "01").code, pick(cat, "02").code
    feedetail = [
        {
            "feedetl_sn": "1",
            "mdtrt_id": mdtrt_id,
            "psn_no": PSN,
            "chrg_bchno": "B1",
            "rx_circ_flag": "0",
            "fee_ocur_time": "2025-06-10 09:10:00",
            "med_list_codg": a,
            "medins_list_codg": "H-A",
            "det_item_fee_sumamt": "150.00",
            "cnt": 1,
            "pric": "150.000000",
            "bilg_dept_codg": "01",
            "bilg_dept_name": "内科",
            "bilg_dr_codg": "D1",
            "bilg_dr_name": "医生",
            "hosp_appr_flag": "0",
        },
        {
            "feedetl_sn": "2",
            "mdtrt_id": mdtrt_id,
            "psn_no": PSN,
            "chrg_bchno": "B1",
            "fee_ocur_time": "2025-06-10 09:10:00",
            "med_list_codg": b,
            "medins_list_codg": "H-B",
            "det_item_fee_sumamt": Decimal("71.00"),
            "cnt": "2",
            "pric": Decimal("35.5"),
            "bilg_dept_codg": "01",
            "bilg_dept_name": "内科",
            "bilg_dr_codg": "D1",
            "bilg_dr_name": "医生",
            "hosp_appr_flag": "0",
        },
    ]
    out = call(world, "2204", {"feedetail": feedetail})
    result = out["result"]
    assert [r["feedetl_sn"] for r in result] == ["1", "2"]
    assert all(
        _places(r["det_item_fee_sumamt"]) == 2 and _places(r["selfpay_prop"]) == 4 for r in result
    )
    for r in result:
        parts = r["fulamt_ownpay_amt"] + r["overlmt_amt"] + r["preselfpay_amt"] + r["inscp_scp_amt"]
        assert parts == r["det_item_fee_sumamt"]
    totals = {
        k: sum((r[k] for r in result), Decimal("0.00"))
        for k in (
            "det_item_fee_sumamt",
            "fulamt_ownpay_amt",
            "overlmt_amt",
            "preselfpay_amt",
            "inscp_scp_amt",
        )
    }

    data = {
        "psn_no": PSN,
        "mdtrt_cert_type": "01",
        "mdtrt_cert_no": f"EV-{PSN}",
        "med_type": "11",
        "medfee_sumamt": str(totals["det_item_fee_sumamt"]),
        "psn_setlway": "01",
        "mdtrt_id": mdtrt_id,
        "chrg_bchno": "B1",
        "acct_used_flag": "1",
        "insutype": "310",
    }
    pre = call(world, "2206", {"data": data})
    assert set(pre) == {"setlinfo", "setldetail"} and "setl_id" not in pre["setlinfo"]

    data.update(
        fulamt_ownpay_amt=totals["fulamt_ownpay_amt"],
        overlmt_selfpay=totals["overlmt_amt"],
        preselfpay_amt=totals["preselfpay_amt"],
        inscp_scp_amt=totals["inscp_scp_amt"],
    )
    out = call(world, "2207", {"data": data})
    info = out["setlinfo"]
    setl_id = info["setl_id"]
    assert info["mdtrt_id"] == mdtrt_id and info["clr_optins"] == H_BJ.region
    assert info["setl_time"] == "2025-06-10 09:30:00"
    assert _places(info["pool_prop_selfpay"]) == 4
    for key in ("medfee_sumamt", "hifp_pay", "fund_pay_sumamt", "acct_pay", "psn_cash_pay", "balc"):
        assert _places(info[key]) == 2, key
    assert (
        info["medfee_sumamt"]
        == info["fund_pay_sumamt"] + info["psn_part_amt"] + info["hosp_part_amt"]
    )
    assert info["psn_part_amt"] == info["acct_pay"] + info["psn_cash_pay"]
    assert out["setldetail"] and all(_places(d["fund_payamt"]) == 2 for d in out["setldetail"])

    q = call(world, "5203", {"data": {"psn_no": PSN, "setl_id": setl_id, "mdtrt_id": mdtrt_id}})
    assert (
        q["setlinfo"]["pay_loc"] == "4"
        and q["setlinfo"]["fund_pay_sumamt"] == info["fund_pay_sumamt"]
    )
    assert q["setlinfo"]["psn_pay"] == info["psn_part_amt"]

    cum = call(world, "5206", {"data": {"psn_no": PSN, "cum_ym": "202506"}})["cuminfo"]
    keys = {r["cum_type_name"]: r["cum"] for r in cum}
    assert keys.get("op_fund", Decimal("0.00")) == info["hifp_pay"]
    assert keys["op_deductible"] == info["act_pay_dedc"]
    codes = {r["cum_type_code"]: r["cum"] for r in cum}
    assert codes["Q1000"] == info["act_pay_dedc"]  # the short code of op_deductible
    assert all(len(r["cum_type_code"]) <= 10 for r in cum)
    assert all(r["year"] == "2025" and r["cum_ym"] == "202506" for r in cum)

    out = call(world, "2208", {"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": PSN}})
    rev = out["setlinfo"]
    assert rev["setl_id"] != setl_id and rev["init_setl_id"] == setl_id
    assert rev["medfee_sumamt"] == -info["medfee_sumamt"]
    assert rev["pdn_cash_pay"] == rev["psn_cash_pay"] == -info["psn_cash_pay"]
    assert [d["fund_payamt"] for d in out["setldetail"]] == [
        -d["fund_payamt"] for d in q["setldetail"]
    ]


def test_field_errors_name_the_field_and_value(world: Engine) -> None:
    with pytest.raises(InputError, match=r"input\.data\.mdtrt_cert_type: unknown code '09'"):
        call(world, "1101", {"data": {"mdtrt_cert_type": "09", "mdtrt_cert_no": "x"}})
    with pytest.raises(InputError, match=r"input\.feedetail\[0\]\.cnt: quantity must not be zero"):
        call(
            world,
            "2204",
            {
                "feedetail": [
                    {
                        "feedetl_sn": "1",
                        "mdtrt_id": "M",
                        "psn_no": PSN,
                        "chrg_bchno": "B",
                        "fee_ocur_time": "2025-06-10 09:10:00",
                        "med_list_codg": "X",
                        "det_item_fee_sumamt": "1.00",
                        "cnt": "0",
                        "pric": "1",
                    }
                ]
            },
        )
    with pytest.raises(BusinessError, match="mdtrt_id NOPE: no such visit"):
        call(world, "2202", {"data": {"mdtrt_id": "NOPE", "psn_no": PSN, "ipt_otp_no": "1"}})


def test_inpatient_handlers(world: Engine) -> None:
    out = call(
        world,
        "2401",
        {
            "mdtrtinfo": {
                "psn_no": PSN,
                "insutype": "310",
                "begntime": (NOW - timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S"),
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": id_number(PSN),
                "med_type": "21",
                "ipt_no": "ZY001",
                "atddr_no": "D1",
                "chfpdr_name": "医生",
                "adm_diag_dscr": "胃炎",
                "adm_dept_codg": "03",
                "adm_dept_name": "消化内科",
                "adm_bed": "12",
                "dscg_maindiag_code": "K29.700",
                "dscg_maindiag_name": "胃炎",
                "exp_content": {"IPT_TYPE": "1"},
            },
            "diseinfo": [
                {
                    "psn_no": PSN,
                    "diag_type": "1",
                    "maindiag_flag": "1",
                    "diag_srt_no": 1,
                    "diag_code": "K29.700",
                    "diag_name": "胃炎",
                    "diag_dept": "消化内科",
                    "dise_dor_no": "D1",
                    "dise_dor_name": "医生",
                    "diag_time": "2025-06-07 10:00:00",
                }
            ],
        },
    )
    mdtrt_id = out["result"]["mdtrt_id"]
    with unit_of_work(world) as s:
        code = pick(catalogue(s), "01").code
    base = {
        "mdtrt_id": mdtrt_id,
        "psn_no": PSN,
        "med_type": "21",
        "fee_ocur_time": "2025-06-08 10:00:00",
        "med_list_codg": code,
        "medins_list_codg": "H-A",
        "bilg_dept_codg": "03",
        "bilg_dept_name": "消化内科",
        "bilg_dr_codg": "D1",
        "bilg_dr_name": "医生",
    }
    lines = [
        {**base, "feedetl_sn": "10", "det_item_fee_sumamt": "3000.00", "cnt": "3", "pric": "1000"},
        {
            **base,
            "feedetl_sn": "11",
            "init_feedetl_sn": "10",
            "det_item_fee_sumamt": "-1000.00",
            "cnt": "-1",
            "pric": "1000",
        },
    ]
    result = call(world, "2301", {"feedetail": lines})["result"]
    assert result[1]["det_item_fee_sumamt"] == Decimal("-1000.00")
    call(
        world,
        "2402",
        {
            "dscginfo": {
                "mdtrt_id": mdtrt_id,
                "psn_no": PSN,
                "insutype": "310",
                "endtime": "2025-06-10 09:00:00",
                "dscg_way": "1",
                "dscg_dept_codg": "03",
                "dscg_dept_name": "消化内科",
            }
        },
    )
    data = {
        "psn_no": PSN,
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": id_number(PSN),
        "medfee_sumamt": "2000.00",
        "psn_setlway": "01",
        "mdtrt_id": mdtrt_id,
        "acct_used_flag": "0",
        "insutype": "310",
        "mid_setl_flag": "0",
        "dscgTime": "2025-06-10",
    }
    pre = call(world, "2303", {"data": data})
    assert pre["setlinfo"]["medfee_sumamt"] == Decimal("2000.00")
    out = call(world, "2304", {"data": {**data, "invono": "INV1"}})
    setl_id = out["setlinfo"]["setl_id"]
    rev = call(world, "2305", {"data": {"mdtrt_id": mdtrt_id, "setl_id": setl_id, "psn_no": PSN}})
    assert rev["setlinfo"]["fund_pay_sumamt"] == -out["setlinfo"]["fund_pay_sumamt"]
    call(world, "2405", {"data": {"mdtrt_id": mdtrt_id, "psn_no": PSN}})
    call(world, "2302", {"data": [{"feedetl_sn": "0000", "mdtrt_id": mdtrt_id, "psn_no": PSN}]})
    call(world, "2404", {"data": {"mdtrt_id": mdtrt_id, "psn_no": PSN}})
