"""Real-time audit over real HTTP (SQLite and PostgreSQL): warnings at 2206, refusal at
2207 by a refusing rule with nothing written, a warning-only rule that settles, 3101 /
3102 against a hand-worked example, 3103 stored, bad input.

The shipped rule book (data/audit/000000-2025-01-01.json) is used as is:

* GZ10000801003001 诊断与性别不符（女性限定诊断）, sex_limit on diagnoses N70/N80/O80/C53 for
  women, action **refuse**, severity 3, behaviour 诊断与性别不符;
* GZ10000101008000 限最大开药量, quantity_limit on XC10AAE041A001010190001 (阿托伐他汀钙片
  20mg) at most 28 per visit, 门诊/购药, action **warn**, severity 2, behaviour 超量开药.

P1 (测试甲) is a man born 1980-01-01, insured in 成都 510100, treated at H1 in 深圳.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from medroam.client import HisClient
from medroam.store.audit_feedback_tables import AuditFeedbackRow
from medroam.store.tables import FeeLineRow, VisitRow
from tests.http.conftest import H1, PERSONS, Gateway, seed_persons
from tests.http.test_flows import CHENGDU, REGISTRATION, fee_line, now_text, ok, register_p1

pytestmark = pytest.mark.db

P1 = PERSONS[0]
STATIN = "XC10AAE041A001010190001"  # 阿托伐他汀钙片 20mg
SEX_RULE = "GZ10000801003001"
SEX_RULE_NAME = "诊断与性别不符（女性限定诊断）"
QTY_RULE = "GZ10000101008000"
WRITTEN = ("settlements", "settlement_details", "ledger_postings", "ledger_legs")


def open_visit(client: HisClient, diagnosis: str, statins: str) -> dict[str, Any]:
    """2201 → 2203 (main diagnosis) → 2204 (registration 10.00 + statins at 0.41)."""
    psn_no, certno = P1[0], P1[2]
    mdtrt_id = register_p1(client)
    ok(
        client,
        "2203",
        {
            "mdtrtinfo": {
                "mdtrt_id": mdtrt_id,
                "psn_no": psn_no,
                "med_type": "11",
                "begntime": now_text(),
                "dise_codg": diagnosis,
                "dise_name": "测试诊断",
            }
        },
        insuplc_admdvs=CHENGDU,
    )
    lines = [
        fee_line("F1", mdtrt_id, psn_no, REGISTRATION, "10.00", "1"),
        fee_line("F2", mdtrt_id, psn_no, STATIN, "0.41", statins),
    ]
    ok(client, "2204", {"feedetail": lines}, insuplc_admdvs=CHENGDU)
    medfee = Decimal("10.00") + (Decimal("0.41") * Decimal(statins)).quantize(Decimal("0.01"))
    return {
        "psn_no": psn_no,
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": certno,
        "med_type": "11",
        "medfee_sumamt": str(medfee),
        "psn_setlway": "01",
        "mdtrt_id": mdtrt_id,
        "chrg_bchno": "B1",
        "insutype": "310",
        "acct_used_flag": "0",
    }


def test_pre_settlement_warns_and_settlement_refuses_naming_the_rule(
    flow_gateway: Gateway,
) -> None:
    client = flow_gateway.client("h1")
    data = open_visit(client, "N80.0", "35")  # a man with a women-only diagnosis, 35 > 28
    pre = client.call("2206", {"data": data}, insuplc_admdvs=CHENGDU)
    assert pre["infcode"] == 0, pre["err_msg"]
    warn = pre["warn_msg"]
    assert warn.startswith("智能审核提醒：")
    assert f"【结算时将拒绝】{SEX_RULE} {SEX_RULE_NAME}" in warn
    assert f"{QTY_RULE} 限最大开药量" in warn
    assert f"【结算时将拒绝】{QTY_RULE}" not in warn
    # the documented output is untouched: the same two nodes, no audit field added
    assert set(pre["output"]) == {"setlinfo", "setldetail"}
    assert Decimal(pre["output"]["setlinfo"]["medfee_sumamt"]) == Decimal("24.35")

    before = flow_gateway.counts(*WRITTEN)
    refused = client.call("2207", {"data": data}, insuplc_admdvs=CHENGDU)
    assert refused["infcode"] == -1
    assert refused["err_msg"].startswith(f"智能审核拒绝结算：{SEX_RULE} {SEX_RULE_NAME}：")
    assert "男性患者出现限女性的诊断：N80.0" in refused["err_msg"]
    assert refused.get("output") in (None, {})
    assert flow_gateway.counts(*WRITTEN) == before
    with flow_gateway.engine.connect() as connection:
        statuses = connection.execute(
            select(FeeLineRow.status, FeeLineRow.setl_id).where(
                FeeLineRow.mdtrt_id == data["mdtrt_id"]
            )
        ).all()
        visit_status = connection.execute(
            select(VisitRow.status).where(VisitRow.mdtrt_id == data["mdtrt_id"])
        ).scalar_one()
    assert [s for s, _ in statuses] == ["uploaded", "uploaded"]
    assert [i for _, i in statuses] == [None, None]
    assert visit_status != "settled"


def test_warning_rule_does_not_block(flow_gateway: Gateway) -> None:
    client = flow_gateway.client("h1")
    data = open_visit(client, "K29.700", "35")
    before = flow_gateway.count("settlements")
    settled = client.call("2207", {"data": data}, insuplc_admdvs=CHENGDU)
    assert settled["infcode"] == 0, settled["err_msg"]
    assert settled["output"]["setlinfo"]["setl_id"]
    assert f"{QTY_RULE} 限最大开药量" in settled["warn_msg"]
    assert SEX_RULE not in settled["warn_msg"]
    assert flow_gateway.count("settlements") == before + 1


def test_clean_bill_has_no_warning(flow_gateway: Gateway) -> None:
    client = flow_gateway.client("h1")
    data = open_visit(client, "K29.700", "28")  # at the limit: no finding
    pre = client.call("2206", {"data": data}, insuplc_admdvs=CHENGDU)
    assert pre["infcode"] == 0 and "warn_msg" not in pre


# --- 3101 / 3102 ---------------------------------------------------------------------

ENCOUNTER = {
    "mdtrt_id": "MD3101A",
    "medins_id": H1[0],
    "med_type": "11",
    "insutype": "310",
    "adm_date": "2026-03-02",
    "fsi_diagnose_dtos": [{"dise_codg": "N80.0", "maindise_flag": "1"}],
    "fsi_order_dtos": [
        {"rx_id": "R1", "hilist_code": STATIN, "cnt": "35", "pric": "0.41", "sumamt": "14.35"},
        {"rx_id": "R2", "hilist_code": REGISTRATION, "cnt": "1", "pric": "10", "sumamt": "10"},
    ],
}
PATIENT = {"patn_id": P1[0], "gend": "1", "brdy": "1980-01-01", "poolarea": CHENGDU}


def analysis(encounter: dict[str, Any] | None = None, **patient: Any) -> dict[str, Any]:
    p = {**PATIENT, **patient, "fsi_encounter_dtos": [encounter or ENCOUNTER]}
    return {"data": {"trig_scen": "1", "patient_dtos": [p]}}


@pytest.mark.parametrize("infno", ["3101", "3102"])
def test_analysis_result_shape(flow_gateway: Gateway, infno: str) -> None:
    """Hand-worked: a man (gend 1) with N80.0 and 35 statins at 0.41 (14.35 yuan).

    Rules in rule-code order (both rules are 事前 and 事中):

    1. GZ10000101008000 限最大开药量: 35 > 28 per visit; vola_amt = 14.35 × (35 − 28) / 35
       = 2.87; one 违规项 R1 with its own amount 14.35; evidence quantity 350000 and limit
       280000 (ten-thousandths).
    2. GZ10000801003001 诊断与性别不符（女性限定诊断）: N80.0 starts with N80, the patient
       is a man; no line involved, vola_amt 0.00; evidence codes N80.0, gender 1.
    R2 (registration) is in no rule.
    """
    client = flow_gateway.client("h1")
    doc = client.call(infno, analysis())
    assert doc["infcode"] == 0, doc["err_msg"]
    result = doc["output"]["result"]
    assert [r["rule_id"] for r in result] == [QTY_RULE, SEX_RULE]
    qty, sex = result
    assert qty["jr_id"].startswith(QTY_RULE + "-") and len(qty["jr_id"]) == 16 + 1 + 12
    assert qty["rule_name"] == "限最大开药量"
    assert qty["vola_cont"] == f"{STATIN} 本次就诊数量 35 超过限定 28"
    assert qty["vola_amt"] == Decimal("2.87")
    assert qty["sev_deg"] == "2"
    assert qty["vola_bhvr_type"] == "超量开药"
    assert qty["vola_evid"] == '{"limit": "280000", "quantity": "350000"}'
    assert qty["patn_id"] == P1[0] and qty["mdtrt_id"] == "MD3101A"
    assert qty["judge_result_detail_dtos"] == [
        {
            "jrd_id": qty["jr_id"] + "-01",
            "patn_id": P1[0],
            "mdtrt_id": "MD3101A",
            "rx_id": "R1",
            "vola_item_type": "1",
            "vola_amt": Decimal("14.35"),
        }
    ]
    assert sex["rule_name"] == SEX_RULE_NAME
    assert sex["vola_cont"] == "男性患者出现限女性的诊断：N80.0"
    assert sex["vola_amt"] == Decimal("0.00")
    assert sex["sev_deg"] == "3"
    assert sex["vola_bhvr_type"] == "诊断与性别不符"
    assert sex["vola_evid"] == '{"codes": "N80.0", "gender": "1"}'
    assert sex["rule_type"] == "明确违规" and sex["dspo_way"] == "refuse"
    assert sex["judge_result_detail_dtos"] == []
    # the same bill gives the same ids
    again = client.call(infno, analysis())["output"]["result"]
    assert [r["jr_id"] for r in again] == [qty["jr_id"], sex["jr_id"]]


def test_analysis_rule_ids_and_stage(flow_gateway: Gateway) -> None:
    client = flow_gateway.client("h1")
    body = analysis()
    body["data"]["rule_ids"] = [SEX_RULE]
    result = client.call("3101", body)["output"]["result"]
    assert [r["rule_id"] for r in result] == [SEX_RULE]
    # a code the library does not have is refused, not answered "nothing found"
    body["data"]["rule_ids"] = [SEX_RULE, "GZ99999999999999"]
    refused = client.call("3101", body)
    assert refused["infcode"] == -1
    assert refused["err_msg"].endswith(
        "rule_ids：规则编码不存在 unknown rule code(s) GZ99999999999999"
    )
    # 超限定单价 (GZ10000201001000) is 事中 only: 3102 finds it, 3101 does not
    over = {
        **ENCOUNTER,
        "fsi_diagnose_dtos": [],
        "fsi_order_dtos": [
            {"rx_id": "R9", "hilist_code": "001102000010000", "cnt": "1", "pric": "30",
             "sumamt": "30"},
        ],
    }  # fmt: skip
    assert client.call("3101", analysis(over))["output"]["result"] == []
    during = client.call("3102", analysis(over))["output"]["result"]
    assert [r["rule_id"] for r in during] == ["GZ10000201001000"]
    assert during[0]["vola_amt"] == Decimal("5.00")  # (30 − 25) × 1


# --- 3103 ----------------------------------------------------------------------------


def test_feedback_is_stored(flow_gateway: Gateway) -> None:
    client = flow_gateway.client("h1")
    result = client.call("3101", analysis())["output"]["result"]
    jr = result[0]["jr_id"]
    doc = client.call(
        "3103",
        {
            "data": {
                "warn_type": "1",
                "warns": [
                    {
                        "warn_rslt_id": jr,
                        "dspo_way": "2",
                        "dspo_way_rea": "已减量至 28 片",
                        "mdtrt_id": "MD3101A",
                        "patn_id": P1[0],
                    }
                ],
            }
        },
    )
    assert doc["infcode"] == 0, doc["err_msg"]
    assert doc["output"]["data"]["cnt"] == 1
    with flow_gateway.engine.connect() as connection:
        rows = connection.execute(
            select(AuditFeedbackRow).where(AuditFeedbackRow.jr_id == jr)
        ).all()
    assert len(rows) == 1
    row = rows[0]
    assert (row.fixmedins_code, row.rule_id, row.warn_type, row.dspo_way) == (
        H1[0],
        QTY_RULE,
        "1",
        "2",
    )
    assert row.dspo_way_rea == "已减量至 28 片" and row.mdtrt_id == "MD3101A"


# --- bad input -----------------------------------------------------------------------


def _refused(client: HisClient, infno: str, body: dict[str, Any]) -> str:
    doc = client.call(infno, body)
    assert doc["infcode"] == -1
    message = doc["err_msg"]
    assert isinstance(message, str)
    return message


def test_bad_input(flow_gateway: Gateway) -> None:
    client = flow_gateway.client("h1")
    no_birth = analysis()
    del no_birth["data"]["patient_dtos"][0]["brdy"]
    assert "patient_dtos[0].brdy" in _refused(client, "3101", no_birth)
    assert "gend" in _refused(client, "3101", analysis(gend="X"))
    other = {**ENCOUNTER, "medins_id": "H11010500002"}
    assert "medins_id" in _refused(client, "3102", analysis(other))
    bad_cnt = {**ENCOUNTER, "fsi_order_dtos": [{**ENCOUNTER["fsi_order_dtos"][0], "cnt": "x"}]}
    assert "fsi_order_dtos[0].cnt" in _refused(client, "3101", analysis(bad_cnt))
    assert "patient_dtos" in _refused(client, "3101", {"data": {"trig_scen": "1"}})

    before = flow_gateway.count("audit_feedback")
    bad_jr = {"data": {"warn_type": "1", "warns": [{"warn_rslt_id": "X-1", "dspo_way": "1"}]}}
    assert "warns[0].warn_rslt_id" in _refused(client, "3103", bad_jr)
    jr = client.call("3101", analysis())["output"]["result"][0]["jr_id"]
    good = {"warn_rslt_id": jr, "dspo_way": "1"}
    bad_way = {"data": {"warn_type": "1", "warns": [good, {**good, "dspo_way": "7"}]}}
    assert "warns[1].dspo_way" in _refused(client, "3103", bad_way)
    bad_type = {"data": {"warn_type": "5", "warns": [good]}}
    assert "warn_type" in _refused(client, "3103", bad_type)
    assert flow_gateway.count("audit_feedback") == before  # nothing half-written


# --- inpatient: 2303 warns, 2304 refuses ---------------------------------------------

BED = "001109000010000"  # 普通病房床位费(三人间)
BED_RULE = "GZ10000201013000"  # 限定频次（床位费每日一次）, 住院, refuse


def test_inpatient_bed_charged_twice_a_day_is_refused_at_2304(flow_gateway: Gateway) -> None:
    """Two bed days charged on the same day: 2 > 1 per day. 2303 warns, 2304 refuses;
    the stay stays discharged and unsettled."""
    client = flow_gateway.client("h1")
    psn_no, certno = P1[0], P1[2]
    admitted = ok(
        client,
        "2401",
        {
            "mdtrtinfo": {
                "psn_no": psn_no, "insutype": "310", "begntime": now_text(-60 * 24 * 3),
                "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "med_type": "21",
                "ipt_no": "ZY" + client.new_msgid()[-12:], "atddr_no": "DR02",
                "chfpdr_name": "医生乙", "adm_diag_dscr": "肺炎", "adm_dept_codg": "D02",
                "adm_dept_name": "呼吸科", "adm_bed": "12",
                "dscg_maindiag_code": "J18.900", "dscg_maindiag_name": "肺炎",
            },
        },
        insuplc_admdvs=CHENGDU,
    )  # fmt: skip
    mdtrt_id = (
        admitted["result"]["mdtrt_id"] if "result" in admitted else admitted["data"]["mdtrt_id"]
    )
    lines = [
        fee_line("I1", mdtrt_id, psn_no, BED, "30.00", "1", batch="", med_type="21"),
        fee_line("I2", mdtrt_id, psn_no, BED, "30.00", "1", batch="", med_type="21"),
    ]
    ok(client, "2301", {"feedetail": lines}, insuplc_admdvs=CHENGDU)
    data = {
        "psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": certno,
        "medfee_sumamt": "60.00", "psn_setlway": "01", "mdtrt_id": mdtrt_id,
        "insutype": "310", "acct_used_flag": "0", "mid_setl_flag": "0",
    }  # fmt: skip
    pre = client.call("2303", {"data": data}, insuplc_admdvs=CHENGDU)
    assert pre["infcode"] == 0, pre["err_msg"]
    assert f"【结算时将拒绝】{BED_RULE} 限定频次（床位费每日一次）" in pre["warn_msg"]
    ok(
        client,
        "2402",
        {
            "dscginfo": {
                "mdtrt_id": mdtrt_id, "psn_no": psn_no, "insutype": "310",
                "endtime": now_text(), "dscg_way": "1", "dscg_dept_codg": "D02",
                "dscg_dept_name": "呼吸科",
            },
        },
        insuplc_admdvs=CHENGDU,
    )  # fmt: skip
    before = flow_gateway.counts(*WRITTEN)
    refused = client.call("2304", {"data": data}, insuplc_admdvs=CHENGDU)
    assert refused["infcode"] == -1
    named = f"智能审核拒绝结算：{BED_RULE} 限定频次（床位费每日一次）："
    assert refused["err_msg"].startswith(named)
    assert flow_gateway.counts(*WRITTEN) == before
    with flow_gateway.engine.connect() as connection:
        status = connection.execute(
            select(VisitRow.status).where(VisitRow.mdtrt_id == mdtrt_id)
        ).scalar_one()
    assert status == "discharged"


def test_audit_realtime_off_neither_warns_nor_refuses(make_gateway: Any) -> None:
    """Setting ``audit_realtime`` off (SQLite): the same bill as the refused one settles,
    and no answer carries ``warn_msg``."""
    gw: Gateway = make_gateway(audit_realtime=False)
    seed_persons(gw.engine)
    client = gw.client("h1")
    data = open_visit(client, "N80.0", "35")
    pre = client.call("2206", {"data": data}, insuplc_admdvs=CHENGDU)
    assert pre["infcode"] == 0 and "warn_msg" not in pre
    settled = client.call("2207", {"data": data}, insuplc_admdvs=CHENGDU)
    assert settled["infcode"] == 0, settled["err_msg"]
    assert "warn_msg" not in settled
    assert gw.count("settlements") == 1
