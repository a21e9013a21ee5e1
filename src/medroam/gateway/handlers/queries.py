"""5203 结算信息查询 and 5206 人员累计信息查询 (national-interface §4.12)."""

from __future__ import annotations

from typing import Any

from medroam.domain.accumulators import IP_ADMISSIONS, cum_type_code
from medroam.gateway.fields import amount, day_text, local_time, setldetail_row, setlinfo_amounts
from medroam.gateway.handlers.outpatient import person_fields, place_of
from medroam.gateway.handlers.reconciliation import reversal_of
from medroam.gateway.reader import Node
from medroam.gateway.registry import RequestContext, handler
from medroam.services import settlement as settling

_COUNT_KEYS = frozenset({IP_ADMISSIONS})


@handler("5203", "结算信息查询", state_changing=False)
def settlement_info(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    data = inp.node("data")
    v = settling.settlement_info(
        ctx.session,
        place_of(ctx),
        ctx.institution,
        setl_id=data.text("setl_id", max_len=30),
        mdtrt_id=data.text("mdtrt_id", required=False, max_len=30),
        psn_no=data.text("psn_no", required=False, max_len=30),
    )
    s = v.settlement
    info: dict[str, Any] = {"setl_id": v.setl_id, "mdtrt_id": v.mdtrt_id}
    info.update(person_fields(v))
    info.update(
        {
            "flxempe_flag": "1" if v.insurance.psn_type in ("1103", "1203") else "0",
            "nwb_flag": "1" if v.insurance.psn_type == "1401" else "0",
            "insu_optins": v.insured_region,
            "emp_name": v.insurance.emp_name,
            "pay_loc": v.pay_loc,
            "fixmedins_code": v.fixmedins_code,
            "fixmedins_name": ctx.institution.name,
            "hosp_lv": v.institution_level,
            "fixmedins_poolarea": v.treatment_region,
            "lmtpric_hosp_lv": v.institution_level,
            "dedc_hosp_lv": v.institution_level,
            "begndate": day_text(v.begin.date()),
            "enddate": day_text(None if v.end is None else v.end.date()),
            "setl_time": local_time(v.setl_time),
            "mdtrt_cert_type": v.mdtrt_cert_type,
            "med_type": v.med_type,
            "clr_type": v.clr_type,
            "clr_way": v.clr_way,
            "clr_optins": v.clr_optins,
        }
    )
    amounts = setlinfo_amounts(s)
    info.update(amounts)
    info.update(
        {
            "psn_pay": amounts["psn_part_amt"],
            "cash_payamt": amounts["psn_cash_pay"],
            "hifdm_pay": amount(0),
            "medins_setl_id": v.medins_setl_id,
            "refd_setl_flag": "1" if v.refund else "0",
            "year": str(v.year),
            "dise_codg": v.dise_codg,
            "dise_name": v.dise_name,
            "invono": v.invono,
            "opter_id": v.opter,
            "opter_name": v.opter_name,
            "opt_time": local_time(v.setl_time),
        }
    )
    info.update(_status_fields(ctx, v.setl_id or "", v.status))
    return {"setlinfo": info, "setldetail": [setldetail_row(d) for d in s.details]}


_UNDONE_BY = {"2601": "已冲正 (2601 冲正交易)", "2208": "已撤销 (2208)", "2305": "已撤销 (2305)"}


def _status_fields(ctx: RequestContext, setl_id: str, status: str) -> dict[str, str]:
    """``vali_flag`` (有效标志) and ``memo`` saying whether and how the settlement was
    undone: a reversed settlement must not read as one in force."""
    if status == "voided":
        return {"vali_flag": "0", "memo": "退费记录已被冲正 (2601), 视同未发生"}
    if status != "cancelled":
        return {"vali_flag": "1", "memo": ""}
    undone = reversal_of(ctx.session, ctx.institution.code, setl_id)
    if undone is None:
        return {"vali_flag": "0", "memo": "已撤销"}
    reverse_id, infno = undone
    how = _UNDONE_BY.get(infno, "已撤销")
    return {"vali_flag": "0", "memo": f"{how}, 冲销记录 setl_id {reverse_id}"}


@handler("5206", "人员累计信息查询", state_changing=False)
def accumulators(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    data = inp.node("data")
    rows = settling.accumulator_info(
        place_of(ctx),
        ctx.now,
        psn_no=data.text("psn_no", max_len=30),
        cum_ym=data.text("cum_ym", required=False, max_len=6),
    )
    return {
        "cuminfo": [
            {
                "insutype": r.insutype,
                "year": str(r.year),
                "cum_ym": r.cum_ym,
                "cum_type_code": cum_type_code(r.key),  # C(10): docs/glossary.md
                "cum_type_name": r.key,  # the full key (an added field)
                "cum": amount(r.value * 100 if r.key in _COUNT_KEYS else r.value),
            }
            for r in rows
        ]
    }
