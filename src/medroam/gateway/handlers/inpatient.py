"""Inpatient transactions: the stay (2401–2405) and its fees and settlements (2301–2305),
national-interface §4.6."""

from __future__ import annotations

from typing import Any

from medroam.gateway.fields import line_result_row
from medroam.gateway.handlers.outpatient import (
    CERT_TYPES,
    cancel_visit_settlement,
    extras,
    place_of,
    pre_settle_visit,
    read_diagnoses,
    read_exp,
    read_fee_lines,
    settle_visit,
)
from medroam.gateway.reader import Node
from medroam.gateway.registry import RequestContext, handler
from medroam.services import fees, visits

DSCG_WAYS = ("1", "2", "3", "4", "5", "9")

_ADMISSION_FIELDS = (
    "mdtrt_id",
    "psn_no",
    "insutype",
    "begntime",
    "mdtrt_cert_type",
    "mdtrt_cert_no",
    "card_sn",
    "med_type",
    "ipt_no",
    "atddr_no",
    "chfpdr_name",
    "adm_diag_dscr",
    "adm_dept_codg",
    "adm_dept_name",
    "adm_bed",
    "dscg_maindiag_code",
    "dscg_maindiag_name",
    "main_cond_dscr",
    "dise_codg",
    "dise_name",
)


def _admission(info: Node, inp: Node, *, change: bool) -> visits.Admission:
    required = not change
    return visits.Admission(
        psn_no=info.text("psn_no", max_len=30),
        insutype=info.text("insutype", required=required, max_len=6),
        begin=info.req_timestamp("begntime"),
        cert_type=info.code("mdtrt_cert_type", CERT_TYPES, required=required),
        cert_no=info.text("mdtrt_cert_no", required=required, max_len=50),
        med_type=info.text("med_type", required=required, max_len=6),
        ipt_no=info.text("ipt_no", required=required, max_len=30),
        card_sn=info.text("card_sn", required=False, max_len=32),
        doctor_code=info.text("atddr_no", required=False, max_len=30),
        doctor_name=info.text("chfpdr_name", required=False, max_len=50),
        adm_diag_dscr=info.text("adm_diag_dscr", required=False, max_len=200),
        dept_code=info.text("adm_dept_codg", required=False, max_len=30),
        dept_name=info.text("adm_dept_name", required=False, max_len=100),
        bed=info.text("adm_bed", required=False, max_len=30),
        main_diag_code=info.text("dscg_maindiag_code", required=False, max_len=20),
        main_diag_name=info.text("dscg_maindiag_name", required=False, max_len=300),
        main_cond_dscr=info.text("main_cond_dscr", required=False, max_len=1000),
        dise_codg=info.text("dise_codg", required=False, max_len=30),
        dise_name=info.text("dise_name", required=False, max_len=500),
        exp_content=read_exp(info),
        extra=extras(info, _ADMISSION_FIELDS),
        diagnoses=read_diagnoses(inp),
    )


@handler("2401", "入院办理", state_changing=True, reversible=True)
def admit(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    info = inp.node("mdtrtinfo")
    opened = visits.admit(
        ctx.session,
        place_of(ctx),
        ctx.institution,
        ctx.now,
        _admission(info, inp, change=False),
        msgid=ctx.envelope.msgid,
    )
    return {"result": {"mdtrt_id": opened.mdtrt_id}}


_DISCHARGE_FIELDS = (
    "mdtrt_id",
    "psn_no",
    "insutype",
    "endtime",
    "dise_codg",
    "dise_name",
    "dscg_dept_codg",
    "dscg_dept_name",
    "dscg_bed",
    "dscg_way",
    "die_date",
)


@handler("2402", "出院办理", state_changing=True)
def discharge(ctx: RequestContext, inp: Node) -> None:
    info = inp.node("dscginfo")
    visits.discharge(
        ctx.session,
        ctx.institution,
        ctx.now,
        visits.Discharge(
            mdtrt_id=info.text("mdtrt_id", max_len=30),
            psn_no=info.text("psn_no", max_len=30),
            insutype=info.text("insutype", required=False, max_len=6),
            end=info.req_timestamp("endtime"),
            dscg_way=info.code("dscg_way", DSCG_WAYS, required=False, default="1"),
            dept_code=info.text("dscg_dept_codg", required=False, max_len=30),
            dept_name=info.text("dscg_dept_name", required=False, max_len=100),
            bed=info.text("dscg_bed", required=False, max_len=30),
            dise_codg=info.text("dise_codg", required=False, max_len=30),
            dise_name=info.text("dise_name", required=False, max_len=500),
            die_date=info.day("die_date", required=False),
            extra=extras(info, _DISCHARGE_FIELDS),
            diagnoses=read_diagnoses(inp),
        ),
    )
    return None


@handler("2403", "住院信息变更", state_changing=True)
def change_admission(ctx: RequestContext, inp: Node) -> None:
    info = inp.node("mdtrtinfo")
    visits.change_admission(
        ctx.session,
        ctx.institution,
        ctx.now,
        info.text("mdtrt_id", max_len=30),
        _admission(info, inp, change=True),
    )
    return None


@handler("2404", "入院撤销", state_changing=True)
def cancel_admission(ctx: RequestContext, inp: Node) -> None:
    data = inp.node("data")
    visits.cancel_admission(
        ctx.session,
        ctx.institution,
        ctx.now,
        mdtrt_id=data.text("mdtrt_id", max_len=30),
        psn_no=data.text("psn_no", max_len=30),
    )
    return None


@handler("2405", "出院撤销", state_changing=True)
def cancel_discharge(ctx: RequestContext, inp: Node) -> None:
    data = inp.node("data")
    visits.cancel_discharge(
        ctx.session,
        ctx.institution,
        ctx.now,
        mdtrt_id=data.text("mdtrt_id", max_len=30),
        psn_no=data.text("psn_no", max_len=30),
    )
    return None


@handler("2301", "住院费用明细上传", state_changing=True)
def upload_fees(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    results = fees.upload_fees(
        ctx.session,
        ctx.institution,
        ctx.now,
        read_fee_lines(inp, inpatient=True),
        inpatient=True,
        msgid=ctx.envelope.msgid,
    )
    return {"result": [line_result_row(r) for r in results]}


@handler("2302", "住院费用明细撤销", state_changing=True)
def cancel_fees(ctx: RequestContext, inp: Node) -> None:
    items = [
        (
            row.text("feedetl_sn", max_len=30),
            row.text("mdtrt_id", max_len=30),
            row.text("psn_no", max_len=30),
        )
        for row in inp.rows("data")
    ]
    fees.cancel_inpatient_fees(ctx.session, ctx.institution, ctx.now, items)
    return None


@handler("2303", "住院预结算", state_changing=False)
def pre_settle(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    return pre_settle_visit(ctx, inp, kind=visits.INPATIENT)


@handler("2304", "住院结算", state_changing=True, reversible=True)
def settle(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    return settle_visit(ctx, inp, kind=visits.INPATIENT)


@handler("2305", "住院结算撤销", state_changing=True, reversible=True)
def cancel_settlement(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    return cancel_visit_settlement(ctx, inp, kind=visits.INPATIENT)
