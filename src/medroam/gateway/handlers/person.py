"""1101 人员信息获取 and 2001 人员待遇享受检查 (national-interface §4.2, §4.3)."""

from __future__ import annotations

from typing import Any

from medroam.gateway.fields import PSN_IDET_TYPES, age_value, amount, day_text
from medroam.gateway.handlers.outpatient import place_of, read_exp
from medroam.gateway.reader import Node
from medroam.gateway.registry import RequestContext, handler
from medroam.services import persons
from medroam.services.visits import emergency_in

CERT_TYPES = ("01", "02", "03")
CERT_ID_NUMBER = "02"  # mdtrt_cert_type 02: the voucher is the resident ID number


@handler("1101", "人员信息获取", state_changing=False)
def person_info(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    data = inp.node("data")
    cert_type = data.code("mdtrt_cert_type", CERT_TYPES)
    if cert_type == CERT_ID_NUMBER:
        cert_no = data.id_number("mdtrt_cert_no")
    else:
        cert_no = data.text("mdtrt_cert_no", max_len=50)
    info = persons.person_info(
        place_of(ctx),
        ctx.now,
        cert_type,
        cert_no,
        data.text("card_sn", required=False, max_len=32),
    )
    p = info.person
    return {
        "baseinfo": {
            "psn_no": p.psn_no,
            "psn_cert_type": p.cert_type,
            "certno": p.cert_no,
            "psn_name": p.name,
            "gend": p.gender,
            "naty": p.naty,
            "brdy": day_text(p.birth_date) if p.birth_date else _birth_text(p),
            "age": age_value(info.age),
        },
        "insuinfo": [
            {
                "balc": amount(info.balance_of(i)),
                "insutype": i.insutype,
                "psn_type": i.psn_type,
                "psn_insu_stas": i.status,
                "psn_insu_date": day_text(i.begin_date),
                "paus_insu_date": day_text(i.pause_date),
                "cvlserv_flag": "1" if i.civil_servant else "0",
                "insuplc_admdvs": i.insured_region,
                "emp_name": i.emp_name,
            }
            for i in p.insurances
        ],
        "idetinfo": [
            {
                "psn_idet_type": PSN_IDET_TYPES[i.category],
                "psn_type_lv": "",
                "memo": f"医疗救助对象 (assistance category {i.category.value})",
                "begntime": "" if i.begin is None else f"{i.begin.isoformat()} 00:00:00",
                "endtime": "" if i.end is None else f"{i.end.isoformat()} 23:59:59",
            }
            for i in info.identities
        ],
    }


def _birth_text(p: Any) -> str:
    try:
        return str(p.birth().isoformat())
    except ValueError:
        return ""


@handler("2001", "人员待遇享受检查", state_changing=False)
def benefit_check(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    data = inp.node("data")
    med_type = data.text("med_type", max_len=6)
    query = persons.BenefitQuery(
        psn_no=data.text("psn_no", max_len=30),
        insutype=data.text("insutype", max_len=6),
        med_type=med_type,
        begin=data.req_timestamp("begntime"),
        end=data.timestamp("endtime", required=False),
        disease_code=data.text("dise_codg", required=False, max_len=30),
        emergency=emergency_in(med_type, read_exp(data)),
    )
    check = persons.check_benefits(place_of(ctx), ctx.institution, ctx.now, query)
    return {
        "trtinfo": [
            {
                "psn_no": check.psn_no,
                "trt_chk_type": "01",
                "fund_pay_type": f.fund_pay_type,
                "trt_enjymnt_flag": "1" if f.entitled else "0",
                "begndate": day_text(f.begin),
                "enddate": day_text(f.end),
                "trt_chk_rslt": "" if f.entitled else f.reason,
            }
            for f in check.funds
        ]
    }
