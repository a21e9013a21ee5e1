"""End-to-end flows over real HTTP with G1's transactions: a cross-province outpatient
visit and a cross-province admission, a lost answer retried and reversed (2601), another
institution refused; then reconciliation (3201/3202 with files through 9101/9102),
clearing applications (3203/3204) and hospital filings (2501–2506) on those records."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from medroam.client import HisClient
from medroam.gateway.settings import CHINA_TZ
from medroam.store.tables import MessageLogRow, SettlementRow
from tests.http.conftest import PERSONS, Gateway
from tests.http.helpers import answer

pytestmark = pytest.mark.db

SHENZHEN = "440305"
CHENGDU = "510100"
P1 = PERSONS[0]  # insured in Chengdu (510100), employee, treated in Shenzhen (H1)
DRUG_B = "XA02BCE091A004010190003"  # 注射用奥美拉唑 40mg, 乙类 5 %
DRUG_C = "XA02BCE091A011010190001"  # 奥美拉唑肠溶胶囊 20mg, 丙类
REGISTRATION = "001101000010001"  # 普通门诊挂号费(三级医院), 甲类


def now_text(offset_minutes: int = 0) -> str:
    return (datetime.now(CHINA_TZ) + timedelta(minutes=offset_minutes)).strftime(
        "%Y-%m-%d %H:%M:%S"
    )


def ok(client: HisClient, infno: str, inp: dict[str, Any], **kw: Any) -> dict[str, Any]:
    doc = client.call(infno, inp, **kw)
    assert doc["infcode"] == 0, f"{infno}: {doc['err_msg']}"
    output = doc["output"]
    assert isinstance(output, dict)
    return output


def person_lookup(client: HisClient, certno: str) -> dict[str, Any]:
    out = ok(
        client,
        "1101",
        {
            "data": {
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": certno,
                "psn_cert_type": "01",
                "certno": certno,
                "psn_name": "",
            }
        },
        insuplc_admdvs=SHENZHEN,  # clients send their own region before they know better
    )
    return out


def fee_line(
    sn: str,
    mdtrt_id: str,
    psn_no: str,
    code: str,
    price: str,
    cnt: str,
    *,
    batch: str = "B1",
    med_type: str = "11",
) -> dict[str, Any]:
    total = (Decimal(price) * Decimal(cnt)).quantize(Decimal("0.01"))
    return {
        "feedetl_sn": sn,
        "mdtrt_id": mdtrt_id,
        "psn_no": psn_no,
        "chrg_bchno": batch,
        "med_type": med_type,
        "fee_ocur_time": now_text(),
        "med_list_codg": code,
        "medins_list_codg": "HOSP-" + code[-6:],
        "det_item_fee_sumamt": str(total),
        "cnt": cnt,
        "pric": price,
        "bilg_dept_codg": "D01",
        "bilg_dept_name": "内科",
        "bilg_dr_codg": "DR01",
        "bilg_dr_name": "医生甲",
        "hosp_appr_flag": "1",
    }


def check_identities(setlinfo: dict[str, Any]) -> None:
    medfee = Decimal(setlinfo["medfee_sumamt"])
    fund = Decimal(setlinfo["fund_pay_sumamt"])
    personal = Decimal(setlinfo["psn_part_amt"])
    assert medfee == fund + personal + Decimal(setlinfo["hosp_part_amt"])
    assert personal == Decimal(setlinfo["acct_pay"]) + Decimal(setlinfo["psn_cash_pay"])


def registration_data(client: HisClient, serial: str = "", **extra: Any) -> dict[str, Any]:
    """A 2201's ``data`` for P1 (insured in Chengdu) by social-security card."""
    return {
        "psn_no": P1[0],
        "insutype": "310",
        "begntime": now_text(),
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": P1[2],
        "ipt_otp_no": serial or "MZ" + client.new_msgid()[-12:],
        **extra,
    }


def register_p1(client: HisClient, serial: str = "", **extra: str) -> str:
    """2201 for P1; the visit's id."""
    data = registration_data(client, serial, **extra)
    return str(ok(client, "2201", {"data": data}, insuplc_admdvs=CHENGDU)["data"]["mdtrt_id"])


def outpatient_visit(client: HisClient) -> dict[str, Any]:
    """1101 → 2201 → 2203 → 2204 → 2206 → 2207; returns ids and the settlement."""
    psn_no, certno = P1[0], P1[2]
    info = person_lookup(client, certno)
    assert info["baseinfo"]["psn_no"] == psn_no
    insu = info["insuinfo"][0]
    assert insu["insuplc_admdvs"] == CHENGDU and insu["insutype"] == "310"
    region = insu["insuplc_admdvs"]
    mdtrt_id = register_p1(
        client, atddr_no="DR01", dr_name="医生甲", dept_code="D01", dept_name="内科", caty="A03"
    )
    ok(
        client,
        "2203",
        {
            "mdtrtinfo": {
                "mdtrt_id": mdtrt_id,
                "psn_no": psn_no,
                "med_type": "11",
                "begntime": now_text(),
                "main_cond_dscr": "胃痛",
            },
            "diseinfo": [
                {
                    "diag_type": "1",
                    "diag_srt_no": "1",
                    "diag_code": "K29.700",
                    "diag_name": "胃炎",
                    "maindiag_flag": "1",
                }
            ],
        },
        insuplc_admdvs=region,
    )
    lines = [
        fee_line("F1", mdtrt_id, psn_no, REGISTRATION, "10.00", "1"),
        fee_line("F2", mdtrt_id, psn_no, DRUG_B, "12.50", "4"),
        fee_line("F3", mdtrt_id, psn_no, DRUG_C, "10.00", "2"),
    ]
    result = ok(client, "2204", {"feedetail": lines}, insuplc_admdvs=region)["result"]
    assert [r["feedetl_sn"] for r in result] == ["F1", "F2", "F3"]
    assert [r["chrgitm_lv"] for r in result] == ["01", "02", "03"]
    settle_data = {
        "psn_no": psn_no,
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": certno,
        "med_type": "11",
        "medfee_sumamt": "80.00",
        "psn_setlway": "01",
        "mdtrt_id": mdtrt_id,
        "chrg_bchno": "B1",
        "insutype": "310",
        "acct_used_flag": "1",
    }
    pre = ok(client, "2206", {"data": settle_data}, insuplc_admdvs=region)
    check_identities(pre["setlinfo"])
    settled = ok(client, "2207", {"data": settle_data}, insuplc_admdvs=region)
    setlinfo = settled["setlinfo"]
    check_identities(setlinfo)
    assert Decimal(setlinfo["medfee_sumamt"]) == Decimal("80.00")
    assert Decimal(setlinfo["fulamt_ownpay_amt"]) == Decimal("20.00")  # the 丙 drug
    # pre-settlement and settlement agree
    for key in ("medfee_sumamt", "fund_pay_sumamt", "psn_part_amt", "acct_pay"):
        assert pre["setlinfo"][key] == setlinfo[key], key
    return {"mdtrt_id": mdtrt_id, "setlinfo": setlinfo, "region": region, "setl_data": settle_data}


def test_cross_province_outpatient(flow_gateway: Gateway) -> None:
    client = flow_gateway.client("h1")
    visit = outpatient_visit(client)
    s = visit["setlinfo"]
    assert s["clr_optins"] == SHENZHEN  # cleared by the place of treatment
    assert len(s["medins_setl_id"]) == 30
    assert s["setl_id"]
    # 5203 finds it
    found = ok(
        client,
        "5203",
        {"data": {"psn_no": P1[0], "setl_id": s["setl_id"], "mdtrt_id": visit["mdtrt_id"]}},
    )
    assert found["setlinfo"]["medfee_sumamt"] == s["medfee_sumamt"]
    # 2208 cancels it: a reverse settlement with negated amounts
    reverse = ok(
        client,
        "2208",
        {"data": {"setl_id": s["setl_id"], "mdtrt_id": visit["mdtrt_id"], "psn_no": P1[0]}},
        insuplc_admdvs=visit["region"],
    )["setlinfo"]
    assert Decimal(reverse["medfee_sumamt"]) == -Decimal(s["medfee_sumamt"])
    assert Decimal(reverse["fund_pay_sumamt"]) == -Decimal(s["fund_pay_sumamt"])
    # a second cancellation is refused
    again = client.call(
        "2208", {"data": {"setl_id": s["setl_id"], "mdtrt_id": visit["mdtrt_id"], "psn_no": P1[0]}}
    )
    assert again["infcode"] == -1 and again["err_msg"]


def test_lost_answer_retry_then_reversal(flow_gateway: Gateway) -> None:
    client = flow_gateway.client("h1")
    visit = outpatient_visit(client)
    # a second settlement of another visit: send 2207 and "lose" the answer
    data = visit["setl_data"]
    # a new visit with one fee line, settled with a fixed msgid
    psn_no = P1[0]
    reg = ok(
        client,
        "2201",
        {
            "data": {
                **{k: data[k] for k in ("psn_no", "insutype", "mdtrt_cert_type", "mdtrt_cert_no")},
                "begntime": now_text(),
                "ipt_otp_no": "MZ" + client.new_msgid()[-12:],
            }
        },
        insuplc_admdvs=CHENGDU,
    )["data"]
    mdtrt_id = reg["mdtrt_id"]
    ok(
        client,
        "2204",
        {"feedetail": [fee_line("G1", mdtrt_id, psn_no, DRUG_B, "12.50", "2")]},
        insuplc_admdvs=CHENGDU,
    )
    settle_data = {**data, "mdtrt_id": mdtrt_id, "medfee_sumamt": "25.00"}
    msgid = client.new_msgid()
    body = client.envelope("2207", {"data": settle_data}, insuplc_admdvs=CHENGDU, msgid=msgid)
    first = client.post(body, infno="2207")
    assert answer(first)["infcode"] == 0
    before = flow_gateway.counts("settlements", "message_log", "ledger_postings")
    retried = client.post(body, infno="2207")  # the HIS never saw the answer: same msgid
    assert retried.content == first.content
    assert flow_gateway.counts("settlements", "message_log", "ledger_postings") == before
    # still unsure, the HIS reverses it
    ok(client, "2601", {"data": {"psn_no": psn_no, "omsgid": msgid, "oinfno": "2207"}})
    setl_id = answer(first)["output"]["setlinfo"]["setl_id"]
    with flow_gateway.engine.connect() as c:
        original = c.execute(select(SettlementRow).where(SettlementRow.setl_id == setl_id)).one()
        reverses = c.execute(
            select(SettlementRow).where(SettlementRow.reverses_setl_id == setl_id)
        ).all()
        logged = c.execute(select(MessageLogRow).where(MessageLogRow.msgid == msgid)).one()
    assert original.status == "cancelled"
    assert len(reverses) == 1 and reverses[0].medfee == -original.medfee
    assert logged.reversed is True
    # a second 2601 is a no-op success; a 2601 of a never-seen msgid too
    ok(client, "2601", {"data": {"psn_no": psn_no, "omsgid": msgid, "oinfno": "2207"}})
    ok(
        client,
        "2601",
        {"data": {"psn_no": psn_no, "omsgid": "NEVER" + msgid[5:], "oinfno": "2207"}},
    )


def test_another_institutions_visit_is_refused(flow_gateway: Gateway) -> None:
    h1, h2 = flow_gateway.client("h1"), flow_gateway.client("h2")
    visit = outpatient_visit(h1)
    before = flow_gateway.counts("settlements", "fee_lines")
    doc = h2.call(
        "2208",
        {
            "data": {
                "setl_id": visit["setlinfo"]["setl_id"],
                "mdtrt_id": visit["mdtrt_id"],
                "psn_no": P1[0],
            }
        },
    )
    assert doc["infcode"] == -1 and doc["err_msg"]
    doc = h2.call(
        "2204", {"feedetail": [fee_line("X1", visit["mdtrt_id"], P1[0], DRUG_B, "1.00", "1")]}
    )
    assert doc["infcode"] == -1
    doc = h2.call(
        "5203",
        {
            "data": {
                "psn_no": P1[0],
                "setl_id": visit["setlinfo"]["setl_id"],
                "mdtrt_id": visit["mdtrt_id"],
            }
        },
    )
    assert doc["infcode"] == -1
    assert flow_gateway.counts("settlements", "fee_lines") == before


def test_cross_province_inpatient(flow_gateway: Gateway) -> None:
    client = flow_gateway.client("h1")
    psn_no, certno = P1[0], P1[2]
    info = person_lookup(client, certno)
    region = info["insuinfo"][0]["insuplc_admdvs"]
    admitted = ok(
        client,
        "2401",
        {
            "mdtrtinfo": {
                "psn_no": psn_no,
                "insutype": "310",
                "begntime": now_text(-60 * 24 * 3),
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": certno,
                "med_type": "21",
                "ipt_no": "ZY" + client.new_msgid()[-12:],
                "atddr_no": "DR02",
                "chfpdr_name": "医生乙",
                "adm_diag_dscr": "肺炎",
                "adm_dept_codg": "D02",
                "adm_dept_name": "呼吸科",
                "adm_bed": "12",
                "dscg_maindiag_code": "J18.900",
                "dscg_maindiag_name": "肺炎",
            },
            "diseinfo": [
                {
                    "psn_no": psn_no,
                    "diag_type": "1",
                    "maindiag_flag": "1",
                    "diag_srt_no": "1",
                    "diag_code": "J18.900",
                    "diag_name": "肺炎",
                    "diag_time": now_text(-60 * 24 * 3),
                }
            ],
        },
        insuplc_admdvs=region,
    )
    mdtrt_id = (
        admitted["result"]["mdtrt_id"] if "result" in admitted else admitted["data"]["mdtrt_id"]
    )
    lines = [
        fee_line("I1", mdtrt_id, psn_no, DRUG_B, "39.90", "10", batch="", med_type="21"),
        fee_line("I2", mdtrt_id, psn_no, DRUG_C, "10.00", "3", batch="", med_type="21"),
    ]
    ok(client, "2301", {"feedetail": lines}, insuplc_admdvs=region)
    data = {
        "psn_no": psn_no,
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": certno,
        "medfee_sumamt": "429.00",
        "psn_setlway": "01",
        "mdtrt_id": mdtrt_id,
        "insutype": "310",
        "acct_used_flag": "0",
        "mid_setl_flag": "0",
    }
    pre = ok(client, "2303", {"data": data}, insuplc_admdvs=region)
    check_identities(pre["setlinfo"])
    ok(
        client,
        "2402",
        {
            "dscginfo": {
                "mdtrt_id": mdtrt_id,
                "psn_no": psn_no,
                "insutype": "310",
                "endtime": now_text(),
                "dscg_way": "1",
                "dscg_dept_codg": "D02",
                "dscg_dept_name": "呼吸科",
            },
            "diseinfo": [
                {
                    "psn_no": psn_no,
                    "mdtrt_id": mdtrt_id,
                    "diag_type": "1",
                    "maindiag_flag": "1",
                    "diag_srt_no": "1",
                    "diag_code": "J18.900",
                    "diag_name": "肺炎",
                }
            ],
        },
        insuplc_admdvs=region,
    )
    # the final settlement after discharge (a mid-stay one would send mid_setl_flag 1)
    settled = ok(client, "2304", {"data": data}, insuplc_admdvs=region)["setlinfo"]
    check_identities(settled)
    assert Decimal(settled["medfee_sumamt"]) == Decimal("429.00")
    reverse = ok(
        client,
        "2305",
        {"data": {"mdtrt_id": mdtrt_id, "setl_id": settled["setl_id"], "psn_no": psn_no}},
        insuplc_admdvs=region,
    )["setlinfo"]
    assert Decimal(reverse["medfee_sumamt"]) == Decimal("-429.00")
