"""Hospital filings over real HTTP: 2501/2502 referral (a cross-province referral makes a
TMP_REFERRAL filing), 2503/2504 chronic disease, 2505/2506 designated institution."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from medroam.gateway.settings import CHINA_TZ
from medroam.store.tables import (
    ChronicQualificationRow,
    DesignationRow,
    FilingRow,
    ReferralRow,
)
from tests.http.conftest import H1, H2, PERSONS, Gateway
from tests.http.test_flows import ok

pytestmark = pytest.mark.db

P1, P2, P3 = (p[0] for p in PERSONS)  # P1, P2 insured in 510100; P3 in 440300


def today(offset_days: int = 0) -> str:
    return str(datetime.now(CHINA_TZ).date() + timedelta(days=offset_days))


def referral(psn_no: str, destination: str, refl_type: str, **changes: Any) -> dict[str, Any]:
    node = {
        "psn_no": psn_no,
        "insutype": "",
        "tel": "13800000000",
        "addr": "某地",
        "diag_code": "C34.900",
        "diag_name": "肺恶性肿瘤",
        "dise_cond_dscr": "需上级医院诊治",
        "reflin_medins_no": H2[0],
        "reflin_medins_name": H2[1],
        "mdtrtarea_admdvs": destination,
        "hosp_agre_refl_flag": "1",
        "refl_type": refl_type,
        "refl_date": today(),
        "refl_rea": "病情需要",
        "refl_opnn": "同意转院",
        "begndate": today(),
        "enddate": "",
    }
    node.update(changes)
    return {"refmedin": node}


def test_cross_province_referral_makes_a_filing(flow_gateway: Gateway) -> None:
    gw = flow_gateway
    h1 = gw.client("h1")
    # P3 (insured in Shenzhen 440300) referred from H1 (440305) to Beijing (110105)
    sn = ok(h1, "2501", referral(P3, "110105", "3"))["result"]["trt_dcla_detl_sn"]
    assert len(sn) == 30
    with gw.engine.connect() as c:
        ref = c.execute(select(ReferralRow).where(ReferralRow.trt_dcla_detl_sn == sn)).one()
        filing = c.execute(select(FilingRow).where(FilingRow.filing_id == sn)).one()
    assert ref.filing_id == sn and ref.filed_by == H1[0] and ref.insutype == "390"
    assert ref.detail["refl_rea"] == "病情需要" and ref.detail["tel"] == "13800000000"
    assert filing.filing_type == "TMP_REFERRAL" and filing.status == "active"
    assert filing.channel == "hospital" and filing.insured_region == "440300"
    assert filing.destination == "110105" and filing.valid_to is not None

    # another filing of the same kind overlapping it is refused by the filing rules
    before = gw.counts("referrals", "filings")
    doc = h1.call("2501", referral(P3, "110105", "3"))
    assert doc["infcode"] == -1 and doc["err_msg"].startswith("referral filing refused: ")
    assert gw.counts("referrals", "filings") == before

    # only the filing institution may cancel it
    doc = gw.client("h2").call(
        "2502", {"data": {"trt_dcla_detl_sn": sn, "psn_no": P3, "memo": "x"}}
    )
    assert doc["err_msg"] == (
        f"input.data.trt_dcla_detl_sn: no referral filing {sn} of person {P3} "
        "made by this institution"
    )
    ok(h1, "2502", {"data": {"trt_dcla_detl_sn": sn, "psn_no": P3, "memo": "患者放弃"}})
    with gw.engine.connect() as c:
        assert (
            c.execute(select(FilingRow.status).where(FilingRow.filing_id == sn)).scalar_one()
            == "cancelled"
        )
        assert (
            c.execute(
                select(ReferralRow.status).where(ReferralRow.trt_dcla_detl_sn == sn)
            ).scalar_one()
            == "cancelled"
        )
    doc = h1.call("2502", {"data": {"trt_dcla_detl_sn": sn, "psn_no": P3}})
    assert doc["err_msg"] == f"referral filing {sn} is already cancelled"


def test_referral_within_the_city_makes_no_filing(flow_gateway: Gateway) -> None:
    h1 = flow_gateway.client("h1")
    before = flow_gateway.count("filings")
    sn = ok(h1, "2501", referral(P3, "440306", "1"))["result"]["trt_dcla_detl_sn"]
    with flow_gateway.engine.connect() as c:
        ref = c.execute(select(ReferralRow).where(ReferralRow.trt_dcla_detl_sn == sn)).one()
    assert ref.filing_id is None and ref.refl_type == "1"
    assert flow_gateway.count("filings") == before


def test_referral_refusals(flow_gateway: Gateway) -> None:
    h1 = flow_gateway.client("h1")
    before = flow_gateway.counts("referrals", "filings")
    doc = h1.call("2501", referral(P3, "110105", "1"))
    assert doc["err_msg"] == (
        "input.refmedin.refl_type: 1 (市内转院) but mdtrtarea_admdvs 110105 seen from this "
        "institution (440305) is 3 (转往省外异地)"
    )
    doc = h1.call("2501", referral("P000", "110105", "3"))
    assert doc["err_msg"] == "input.refmedin.psn_no: no insured person P000"
    doc = h1.call("2501", referral(P3, "110105", "3", insutype="310"))
    assert (
        doc["err_msg"]
        == "input.refmedin.insutype: person P440300000003 has no insurance 310 (holds 390)"
    )
    doc = h1.call("2501", referral(P3, "110105", "9"))
    assert doc["err_msg"].startswith("input.refmedin.refl_type: unknown code '9'")
    doc = h1.call("2501", referral(P3, "110105", "3", enddate=today(-1)))
    assert doc["err_msg"].startswith("input.refmedin.enddate: ")
    doc = h1.call("2501", referral(P3, "110105", "3", diag_code=""))
    assert doc["err_msg"] == "input.refmedin.diag_code: is required (必填)"
    assert flow_gateway.counts("referrals", "filings") == before


def chronic(psn_no: str, code: str = "M03900", **changes: Any) -> dict[str, Any]:
    data = {
        "psn_no": psn_no,
        "insutype": "310",
        "opsp_dise_code": code,
        "opsp_dise_name": "高血压",
        "tel": "",
        "addr": "",
        "insu_optins": "510100",
        "ide_fixmedins_no": H1[0],
        "ide_fixmedins_name": H1[1],
        "hosp_ide_date": today(),
        "diag_dr_codg": "DR01",
        "diag_dr_name": "医生甲",
        "begndate": today(),
        "enddate": today(365),
    }
    data.update(changes)
    return {"data": data}


def test_chronic_disease_filing(flow_gateway: Gateway) -> None:
    gw = flow_gateway
    h1 = gw.client("h1")
    sn = ok(h1, "2503", chronic(P1))["result"]["trt_dcla_detl_sn"]
    with gw.engine.connect() as c:
        row = c.execute(
            select(ChronicQualificationRow).where(ChronicQualificationRow.trt_dcla_detl_sn == sn)
        ).one()
    assert row.psn_no == P1 and row.opsp_dise_code == "M03900" and row.status == "active"
    assert row.reviewed is False and row.ide_fixmedins_no == H1[0]

    doc = h1.call("2503", chronic(P1))
    assert doc["err_msg"].startswith(f"person {P1} already holds qualification {sn} for M03900")
    doc = h1.call("2503", chronic(P1, code="X99999"))
    assert doc["err_msg"].startswith(
        "input.data.opsp_dise_code: 'X99999' is not a chronic/special disease"
    )
    doc = h1.call("2503", chronic(P1, insutype="390"))
    assert doc["err_msg"] == f"input.data.insutype: person {P1} has no insurance 390 (holds 310)"

    doc = gw.client("h2").call(
        "2504", {"data": {"trt_dcla_detl_sn": sn, "psn_no": P1, "memo": "x"}}
    )
    assert doc["err_msg"].startswith(f"input.data.trt_dcla_detl_sn: no chronic-disease filing {sn}")
    doc = h1.call("2504", {"data": {"trt_dcla_detl_sn": sn, "psn_no": P1}})
    assert doc["err_msg"] == "input.data.memo: is required (必填)"
    ok(h1, "2504", {"data": {"trt_dcla_detl_sn": sn, "psn_no": P1, "memo": "误报"}})
    doc = h1.call("2504", {"data": {"trt_dcla_detl_sn": sn, "psn_no": P1, "memo": "误报"}})
    assert doc["err_msg"] == f"chronic-disease filing {sn} is already cancelled"

    # a reviewed filing can no longer be cancelled at the hospital
    sn2 = ok(h1, "2503", chronic(P1, code="M01600", opsp_dise_name="糖尿病"))["result"][
        "trt_dcla_detl_sn"
    ]
    with gw.engine.begin() as c:
        c.execute(
            update(ChronicQualificationRow)
            .where(ChronicQualificationRow.trt_dcla_detl_sn == sn2)
            .values(reviewed=True)
        )
    doc = h1.call("2504", {"data": {"trt_dcla_detl_sn": sn2, "psn_no": P1, "memo": "x"}})
    assert doc["err_msg"] == (
        f"chronic-disease filing {sn2} was reviewed by the agency: "
        "only unreviewed filings can be cancelled"
    )


def designation(psn_no: str, **changes: Any) -> dict[str, Any]:
    data = {
        "psn_no": psn_no,
        "tel": "",
        "addr": "",
        "biz_appy_type": "03",
        "begndate": today(),
        "enddate": "2099-12-31",
        "agnter_name": "代办人",
        "agnter_cert_type": "01",
        "agnter_certno": "",
        "agnter_tel": "",
        "agnter_addr": "",
        "agnter_rlts": "1",
        "fix_srt_no": "1",
        "fixmedins_code": H1[0],
        "fixmedins_name": H1[1],
        "memo": "",
    }
    data.update(changes)
    return {"data": data}


def test_designation_filing(flow_gateway: Gateway) -> None:
    gw = flow_gateway
    h1, h2 = gw.client("h1"), gw.client("h2")
    sn = ok(h1, "2505", designation(P2))["result"]["trt_dcla_detl_sn"]
    with gw.engine.connect() as c:
        row = c.execute(select(DesignationRow).where(DesignationRow.trt_dcla_detl_sn == sn)).one()
    assert row.fixmedins_code == H1[0] and row.filed_by == H1[0] and row.status == "active"
    assert row.detail["agnter_name"] == "代办人"
    doc = h1.call("2505", designation(P2))
    assert doc["err_msg"].startswith(f"person {P2} already has designation {sn}")
    # another order number is another designation
    ok(h1, "2505", designation(P2, fix_srt_no="2", fixmedins_code=H2[0], fixmedins_name=H2[1]))
    doc = h1.call("2505", designation(P2, fix_srt_no="3", fixmedins_code="H99999999999"))
    assert (
        doc["err_msg"] == "input.data.fixmedins_code: no active designated institution H99999999999"
    )
    doc = h2.call("2506", {"data": {"trt_dcla_detl_sn": sn, "psn_no": P2}})
    assert doc["err_msg"].startswith(f"input.data.trt_dcla_detl_sn: no designation {sn}")
    ok(h1, "2506", {"data": {"trt_dcla_detl_sn": sn, "psn_no": P2, "memo": "变更定点"}})
    doc = h1.call("2506", {"data": {"trt_dcla_detl_sn": sn, "psn_no": P2}})
    assert doc["err_msg"] == f"designation {sn} is already cancelled"
    # after the cancellation the same designation may be made again
    ok(h1, "2505", designation(P2))
