"""4101 settlement-list upload and 4104 QC-result query over real HTTP, on SQLite and
PostgreSQL: each test settles its own inpatient stay (2401 → 2301 → 2402 → 2304) of a
person insured in Chengdu (510100) at H1 in Shenzhen (440305), then uploads its list."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from medroam.client import HisClient
from medroam.gateway.settings import CHINA_TZ
from medroam.store.tables import SettlementListRow
from tests.http.conftest import PERSONS, Gateway

pytestmark = pytest.mark.db

P1 = PERSONS[0]  # male, born 1980-01-01, insured in 510100
DRUG_B = "XA02BCE091A004010190003"  # 注射用奥美拉唑 40mg, 乙类


def when(days: int = 0) -> str:
    return (datetime.now(CHINA_TZ) + timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S")


def ok(client: HisClient, infno: str, inp: dict[str, Any], **kw: Any) -> dict[str, Any]:
    doc = client.call(infno, inp, **kw)
    assert doc["infcode"] == 0, f"{infno}: {doc['err_msg']}"
    out = doc["output"]
    assert isinstance(out, dict)
    return out


def refused(client: HisClient, infno: str, inp: dict[str, Any]) -> str:
    doc = client.call(infno, inp)
    assert doc["infcode"] == -1, doc
    message = doc["err_msg"]
    assert isinstance(message, str)
    return message


def settled_stay(client: HisClient) -> tuple[str, str]:
    """Admit P1, upload one fee line, discharge, settle; (mdtrt_id, setl_id)."""
    psn_no, certno = P1[0], P1[2]
    dx = {"diag_type": "1", "maindiag_flag": "1", "diag_srt_no": "1"}
    dx |= {"diag_code": "I63.900", "diag_name": "脑梗死", "psn_no": psn_no}
    admitted = ok(
        client,
        "2401",
        {
            "mdtrtinfo": {
                "psn_no": psn_no,
                "insutype": "310",
                "begntime": when(-8),
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": certno,
                "med_type": "21",
                "ipt_no": "ZY" + client.new_msgid()[-12:],
                "adm_dept_codg": "D03",
                "adm_dept_name": "神经内科",
            },
            "diseinfo": [dx],
        },
        insuplc_admdvs="510100",
    )
    mdtrt_id = admitted["result"]["mdtrt_id"]
    line = {
        "feedetl_sn": "D1",
        "mdtrt_id": mdtrt_id,
        "psn_no": psn_no,
        "chrg_bchno": "",
        "med_type": "21",
        "fee_ocur_time": when(-7),
        "med_list_codg": DRUG_B,
        "medins_list_codg": "HOSP-190003",
        "det_item_fee_sumamt": "399.00",
        "cnt": "10",
        "pric": "39.90",
        "hosp_appr_flag": "1",
    }
    ok(client, "2301", {"feedetail": [line]}, insuplc_admdvs="510100")
    ok(
        client,
        "2402",
        {
            "dscginfo": {
                "mdtrt_id": mdtrt_id,
                "psn_no": psn_no,
                "insutype": "310",
                "endtime": when(),
                "dscg_way": "1",
            },
            "diseinfo": [{**dx, "mdtrt_id": mdtrt_id}],
        },
        insuplc_admdvs="510100",
    )
    data = {
        "psn_no": psn_no,
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": certno,
        "medfee_sumamt": "399.00",
        "psn_setlway": "01",
        "mdtrt_id": mdtrt_id,
        "insutype": "310",
        "acct_used_flag": "0",
        "mid_setl_flag": "0",
    }
    setl = ok(client, "2304", {"data": data}, insuplc_admdvs="510100")["setlinfo"]
    return mdtrt_id, str(setl["setl_id"])


def settlement_list(
    mdtrt_id: str,
    setl_id: str,
    *,
    gend: str = "1",
    age: object = 45,
    diagnoses: tuple[tuple[str, str], ...] = (("I63.900", "1"), ("J18.900", "0")),
) -> dict[str, Any]:
    """A 4101 input: I63.900 (principal) + J18.900 groups to BR23 for an adult."""
    return {
        "setlinfo": {
            "mdtrt_id": mdtrt_id,
            "setl_id": setl_id,
            "fixmedins_code": "H44030500001",
            "fixmedins_name": "深圳市南山区测试人民医院",
            "psn_name": P1[1],
            "gend": gend,
            "age": age,
            "insuplc": "510100",
            "adm_time": when(-8)[:10],
            "dscg_time": when()[:10],
            "act_ipt_days": "8",
            "dscg_way": "1",
            "psn_selfpay": "20.00",
            "psn_ownpay": "0.00",
            "hi_paymtd": "1",
        },
        "payinfo": [{"fund_pay_type": "310100", "fund_payamt": "300.00"}],
        "diseinfo": [
            {"diag_type": "1", "diag_code": code, "diag_name": "", "maindiag_flag": flag}
            for code, flag in diagnoses
        ],
        "iteminfo": [{"med_chrgitm": "09", "amt": "399.00", "claa_sumfee": "0.00"}],
        "oprninfo": [],
        "icuinfo": [],
    }


def test_clean_list_is_grouped_and_queried(flow_gateway: Gateway) -> None:
    client = flow_gateway.client("h1")
    mdtrt_id, setl_id = settled_stay(client)
    before = flow_gateway.count("settlement_lists")
    out = ok(client, "4101", settlement_list(mdtrt_id, setl_id))
    list_id = out["data"]["setl_list_id"]
    assert out["setl_list_id"] == list_id and list_id.startswith("SL440305")
    assert (out["data"]["qc_stas"], out["data"]["drg_code"]) == ("passed", "BR23")
    assert flow_gateway.count("settlement_lists") == before + 1

    (row,) = ok(client, "4104", {"data": {"setl_list_id": list_id}})["qcinfo"]
    assert (row["mdc_code"], row["adrg_code"], row["drg_code"]) == ("MDCB", "BR2", "BR23")
    assert row["grp_stas"] == "grouped" and row["qc_stas"] == "passed"
    assert row["qcdetail"] == [] and row["err_cnt"] == 0
    assert row["grp_trace"].endswith("=BR23") and row["grp_ver"] == "CHS-DRG 1.1"
    assert (row["mdtrt_id"], row["setl_id"], row["insuplc"]) == (mdtrt_id, setl_id, "510100")
    assert Decimal(str(row["medfee_sumamt"])) == Decimal("399.00")  # Σ iteminfo.amt

    # by stay and by settlement: the same list
    by_visit = ok(client, "4104", {"data": {"mdtrt_id": mdtrt_id}})["qcinfo"]
    by_setl = ok(client, "4104", {"data": {"setl_id": setl_id}})["qcinfo"]
    assert [r["setl_list_id"] for r in by_visit + by_setl] == [list_id, list_id]

    # a re-upload (new msgid) of a corrected list keeps the id and counts the upload
    again = ok(client, "4101", settlement_list(mdtrt_id, setl_id, diagnoses=(("I63.900", "1"),)))
    assert again["setl_list_id"] == list_id and again["data"]["drg_code"] == "BR25"
    (row,) = ok(client, "4104", {"data": {"setl_list_id": list_id}})["qcinfo"]
    assert (row["drg_code"], row["upld_cnt"]) == ("BR25", 2)
    assert flow_gateway.count("settlement_lists") == before + 1
    with flow_gateway.engine.connect() as c:
        stored = c.execute(
            select(SettlementListRow).where(SettlementListRow.setl_list_id == list_id)
        ).one()
    assert (stored.treatment_region, stored.insuplc) == ("440305", "510100")
    assert stored.document["nodes"]["payinfo"] == [
        {"fund_pay_type": "310100", "fund_payamt": 30_000}
    ]
    assert stored.document["nodes"]["setlinfo"]["hi_paymtd"] == "1"


@pytest.mark.parametrize(
    ("change", "rule", "field", "code"),
    [
        # invalid principal diagnosis: a code the scheme does not know
        ({"diagnoses": (("K80.100", "1"),)}, "QC004", "diseinfo.diag_code", "K80.100"),
        # malformed principal diagnosis
        ({"diagnoses": (("I63", "1"),)}, "QC003", "diseinfo.diag_code", "I63"),
        # no principal diagnosis at all
        ({"diagnoses": (("I63.900", "0"),)}, "QC001", "diseinfo.maindiag_flag", ""),
        # sex conflict: endometriosis (female only) for a man
        ({"gend": "1", "diagnoses": (("N80.000", "1"),)}, "QC009", "diseinfo.diag_code", "N80.000"),
        # age conflict: a perinatal diagnosis at 45
        ({"age": "45", "diagnoses": (("P22.000", "1"),)}, "QC011", "setlinfo.age", "P22.000"),
    ],
)
def test_qc_findings(
    flow_gateway: Gateway, change: dict[str, Any], rule: str, field: str, code: str
) -> None:
    client = flow_gateway.client("h1")
    mdtrt_id, setl_id = settled_stay(client)
    out = ok(client, "4101", settlement_list(mdtrt_id, setl_id, **change))
    assert out["data"]["qc_stas"] == "failed"
    assert out["data"]["drg_code"] == "" and out["data"]["grp_stas"] == ""
    (row,) = ok(client, "4104", {"data": {"mdtrt_id": mdtrt_id}})["qcinfo"]
    assert row["setl_list_id"] == out["setl_list_id"]
    assert row["drg_code"] == "" and row["err_cnt"] >= 1
    found = [(d["qc_rule"], d["qc_lv"], d["fld"], d["code"]) for d in row["qcdetail"]]
    assert (rule, "error", field, code) in found


def test_another_institutions_stay_is_refused(flow_gateway: Gateway) -> None:
    h1, h2 = flow_gateway.client("h1"), flow_gateway.client("h2")
    mdtrt_id, setl_id = settled_stay(h1)
    list_id = ok(h1, "4101", settlement_list(mdtrt_id, setl_id))["setl_list_id"]
    before = flow_gateway.count("settlement_lists")
    body = settlement_list(mdtrt_id, setl_id)
    body["setlinfo"]["fixmedins_code"] = "H11010500002"  # H2 claims it as its own
    assert "setlinfo.mdtrt_id" in refused(h2, "4101", body)
    # naming H1 in the list does not help either
    assert "H11010500002" in refused(h2, "4101", settlement_list(mdtrt_id, setl_id))
    # nor can H2 read H1's QC result, by any key
    for key, value in (("setl_list_id", list_id), ("mdtrt_id", mdtrt_id), ("setl_id", setl_id)):
        assert value in refused(h2, "4104", {"data": {key: value}})
    assert flow_gateway.count("settlement_lists") == before


def test_settlement_of_another_stay_is_refused(flow_gateway: Gateway) -> None:
    client = flow_gateway.client("h1")
    mdtrt_a, _ = settled_stay(client)
    _, setl_b = settled_stay(client)
    message = refused(client, "4101", settlement_list(mdtrt_a, setl_b))
    assert "setlinfo.setl_id" in message and setl_b in message


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("setlinfo", "age"), "forty", "input.setlinfo.age"),
        (("setlinfo", "age"), "200", "input.setlinfo.age"),
        (("setlinfo", "gend"), "M", "input.setlinfo.gend"),
        (("setlinfo", "adm_time"), "2025-13-01", "input.setlinfo.adm_time"),
        (("setlinfo", "setl_id"), "", "input.setlinfo.setl_id"),
        (("setlinfo", "insuplc"), "51010", "input.setlinfo.insuplc"),
        (("setlinfo", "dscg_way"), "7", "input.setlinfo.dscg_way"),
        (("diseinfo", 0, "maindiag_flag"), "Y", "input.diseinfo[0].maindiag_flag"),
        (("diseinfo", 0, "diag_code"), "", "input.diseinfo[0].diag_code"),
        (("iteminfo", 0, "amt"), "-1.00", "input.iteminfo[0].amt"),
        (("payinfo", 0, "fund_payamt"), "1.234", "input.payinfo[0].fund_payamt"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    flow_gateway: Gateway, path: tuple[Any, ...], value: str, named: str
) -> None:
    client = flow_gateway.client("h1")
    body = settlement_list("MD-any", "SE-any")  # refused before any lookup
    target: Any = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    before = flow_gateway.count("settlement_lists")
    message = refused(client, "4101", body)
    assert message.startswith(named), message
    assert flow_gateway.count("settlement_lists") == before


def test_structural_refusals(flow_gateway: Gateway) -> None:
    client = flow_gateway.client("h1")
    mdtrt_id, setl_id = settled_stay(client)
    no_dx = settlement_list(mdtrt_id, setl_id)
    no_dx["diseinfo"] = []
    assert refused(client, "4101", no_dx).startswith("input.diseinfo")
    icu = settlement_list(mdtrt_id, setl_id)
    icu["icuinfo"] = [
        {
            "scs_cutd_ward_type": "1",
            "scs_cutd_inpool_time": when(-3),
            "scs_cutd_exit_time": when(-4),
        }
    ]
    assert refused(client, "4101", icu).startswith("input.icuinfo[0].scs_cutd_exit_time")
    wrong_place = settlement_list(mdtrt_id, setl_id)
    wrong_place["setlinfo"]["insuplc"] = "440300"
    assert "510100" in refused(client, "4101", wrong_place)
    assert "required" in refused(client, "4104", {"data": {}})
    assert "SL-NONE" in refused(client, "4104", {"data": {"setl_list_id": "SL-NONE"}})


def test_hebei_style_path_reaches_4101(flow_gateway: Gateway) -> None:
    """The per-transaction path of 4101 (national-interface §2.1) fills a missing infno."""
    client = flow_gateway.client("h1")
    mdtrt_id, setl_id = settled_stay(client)
    body = client.envelope("4101", settlement_list(mdtrt_id, setl_id))
    del body["infno"]
    response = client.post(body, infno="4101", path="/fsi/api/medinfoupload/setllistinfoupld")
    doc = response.json(parse_float=Decimal)
    assert doc["infcode"] == 0, doc["err_msg"]
    assert doc["output"]["data"]["drg_code"] == "BR23"
