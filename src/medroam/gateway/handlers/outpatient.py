"""Outpatient transactions 2201–2208 (national-interface §4.5), and the readers and
writers that the inpatient handlers share.

Handlers are thin: read the documented fields with :class:`Node`, call the service, map
the result to the documented output nodes.
"""

from __future__ import annotations

import json
from typing import Any

from medroam.domain.audit.engine import RuleBook
from medroam.domain.catalogue import PRICE_SCALE, QTY_SCALE
from medroam.domain.province import ProvinceBook
from medroam.gateway.errors import InputError
from medroam.gateway.fields import (
    age_value,
    amount,
    line_result_row,
    local_time,
    reverse_setlinfo_amounts,
    setldetail_row,
    setlinfo_amounts,
)
from medroam.gateway.reader import Node
from medroam.gateway.registry import RequestContext, handler
from medroam.services import audit_check, fees, visits
from medroam.services import settlement as settling
from medroam.services.ports import InsuredPlace
from medroam.services.settlement import ClientTotals, SettlementView, SettleRequest
from medroam.store.insured_place import SqlInsuredPlace

CERT_TYPES = ("01", "02", "03")
ACCOUNT_FLAGS = ("0", "1", "2")


# --- shared readers ------------------------------------------------------------------------


def place_of(ctx: RequestContext) -> InsuredPlace:
    """The place-of-insurance port for this request: the in-database adapter with the
    settings' province book (settings may supply another adapter as ``insured_place``: a
    callable taking the session)."""
    factory = ctx.settings.get("insured_place")
    if callable(factory):
        place: InsuredPlace = factory(ctx.session)
        return place
    provinces = ctx.settings.get("provinces")
    return SqlInsuredPlace(ctx.session, provinces if isinstance(provinces, ProvinceBook) else None)


def read_exp(node: Node) -> dict[str, Any]:
    """``exp_content`` as an object (sent as an object, a JSON string, or empty)."""
    value = node.raw.get("exp_content")
    if value in (None, "", "null"):
        return {}
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            raise InputError(f"{node.path}.exp_content: is not valid JSON") from None
        if isinstance(parsed, dict):
            return parsed
    raise InputError(f"{node.path}.exp_content: must be a JSON object, got {value!r}")


def extras(node: Node, known: tuple[str, ...]) -> dict[str, Any]:
    """The fields of ``node`` not read into columns, as sent (kept in ``extra``)."""
    lower = {k.lower() for k in known} | {"exp_content"}
    return {
        k: v
        for k, v in node.raw.items()
        if k.lower() not in lower and isinstance(v, (str, int, bool, type(None)))
    }


def read_diagnoses(node: Node, key: str = "diseinfo") -> tuple[visits.DiagnosisInput, ...]:
    return tuple(
        visits.DiagnosisInput(
            diag_type=d.text("diag_type", max_len=3),
            diag_srt_no=d.integer("diag_srt_no"),
            diag_code=d.text("diag_code", max_len=20),
            diag_name=d.text("diag_name", max_len=100),
            maindiag=d.flag("maindiag_flag") == "1",
            diag_dept=d.text("diag_dept", required=False, max_len=50),
            doctor_code=d.text("dise_dor_no", required=False, max_len=30),
            doctor_name=d.text("dise_dor_name", required=False, max_len=50),
            diag_time=d.timestamp("diag_time", required=False),
            adm_cond=d.text("adm_cond", required=False, max_len=500),
            valid=d.flag("vali_flag", default="1") == "1",
        )
        for d in node.rows(key, required=False)
    )


_LINE_FIELDS = (
    "feedetl_sn",
    "mdtrt_id",
    "psn_no",
    "chrg_bchno",
    "init_feedetl_sn",
    "med_type",
    "fee_ocur_time",
    "med_list_codg",
    "medins_list_codg",
    "det_item_fee_sumamt",
    "cnt",
    "pric",
    "hosp_appr_flag",
    "dise_codg",
    "rxno",
    "drord_no",
    "bilg_dept_codg",
    "bilg_dept_name",
    "bilg_dr_codg",
    "bilg_dr_name",
)


def read_fee_lines(inp: Node, *, inpatient: bool) -> list[fees.FeeLineInput]:
    lines = []
    for row in inp.rows("feedetail", max_rows=5000):
        quantity = row.decimal("cnt", 4)
        price = row.decimal("pric", 6)
        if price < 0:
            raise InputError(f"{row.path}.pric: must not be negative, got {price}")
        if quantity == 0:
            raise InputError(f"{row.path}.cnt: quantity must not be zero")
        lines.append(
            fees.FeeLineInput(
                feedetl_sn=row.text("feedetl_sn", max_len=30),
                mdtrt_id=row.text("mdtrt_id", max_len=30),
                psn_no=row.text("psn_no", max_len=30),
                fee_ocur_time=row.req_timestamp("fee_ocur_time"),
                med_list_codg=row.text("med_list_codg", max_len=50),
                medins_list_codg=row.text("medins_list_codg", required=False, max_len=150),
                amount=row.money("det_item_fee_sumamt", allow_negative=inpatient),
                quantity=int(quantity * QTY_SCALE),
                unit_price=int(price * PRICE_SCALE),
                hosp_appr_flag=row.code(
                    "hosp_appr_flag", fees.APPROVAL_FLAGS, required=False, default="0"
                ),
                chrg_bchno=row.text("chrg_bchno", required=not inpatient, max_len=30),
                init_feedetl_sn=row.text("init_feedetl_sn", required=False, max_len=30),
                med_type=row.text("med_type", required=False, max_len=6),
                dise_codg=row.text("dise_codg", required=False, max_len=30),
                rxno=row.text("rxno", required=False, max_len=30),
                drord_no=row.text("drord_no", required=False, max_len=30),
                bilg_dept_codg=row.text("bilg_dept_codg", required=False, max_len=30),
                bilg_dept_name=row.text("bilg_dept_name", required=False, max_len=100),
                bilg_dr_codg=row.text("bilg_dr_codg", required=False, max_len=30),
                bilg_dr_name=row.text("bilg_dr_name", required=False, max_len=50),
                extra=extras(row, _LINE_FIELDS),
            )
        )
    return lines


def _optional_money(data: Node, key: str) -> int | None:
    return data.money(key) if data.has(key) else None


def read_settle_request(data: Node, *, inpatient: bool, final: bool) -> SettleRequest:
    """2206/2207 or 2303/2304 ``data``; ``final``: the settling transaction (2207/2304),
    whose four amount fields are checked against the server's lines when sent."""
    totals = ClientTotals(medfee=data.money("medfee_sumamt"))
    if final or inpatient:
        totals = ClientTotals(
            medfee=totals.medfee,
            fulamt_ownpay=_optional_money(data, "fulamt_ownpay_amt"),
            overlmt_selfpay=_optional_money(data, "overlmt_selfpay"),
            preselfpay=_optional_money(data, "preselfpay_amt"),
            inscp=_optional_money(data, "inscp_scp_amt"),
        )
    return SettleRequest(
        mdtrt_id=data.text("mdtrt_id", max_len=30),
        psn_no=data.text("psn_no", max_len=30),
        insutype=data.text("insutype", required=not inpatient, max_len=6),
        totals=totals,
        account_flag=data.code("acct_used_flag", ACCOUNT_FLAGS, required=False, default="0"),
        med_type="" if inpatient else data.text("med_type", max_len=6),
        chrg_bchno="" if inpatient else data.text("chrg_bchno", required=False, max_len=30),
        mid_settlement=inpatient and data.flag("mid_setl_flag") == "1",
        cert_type=data.code("mdtrt_cert_type", CERT_TYPES, required=False),
        invono=data.text("invono", required=False, max_len=20),
        exp_content=read_exp(data),
    )


# --- shared writers ------------------------------------------------------------------------


def person_fields(v: SettlementView) -> dict[str, Any]:
    p = v.person
    try:
        age = p.age_on(v.setl_time.date())
        birth = p.birth().isoformat()
    except ValueError:
        age, birth = 0, ""
    return {
        "psn_no": p.psn_no,
        "psn_name": p.name,
        "psn_cert_type": p.cert_type,
        "certno": p.cert_no,
        "gend": p.gender,
        "naty": p.naty,
        "brdy": birth,
        "age": age_value(age),
        "insutype": v.insurance.insutype,
        "psn_type": v.insurance.psn_type,
        "cvlserv_flag": "1" if v.insurance.civil_servant else "0",
    }


def settlement_output(v: SettlementView) -> dict[str, Any]:
    """2206/2207/2303/2304: ``setlinfo`` + ``setldetail``."""
    info: dict[str, Any] = {"mdtrt_id": v.mdtrt_id}
    if v.setl_id is not None:
        info["setl_id"] = v.setl_id
    info.update(person_fields(v))
    info.update(
        {
            "setl_time": local_time(v.setl_time),
            "mdtrt_cert_type": v.mdtrt_cert_type,
            "med_type": v.med_type,
        }
    )
    info.update(setlinfo_amounts(v.settlement))
    info.update(
        {
            "hifdm_pay": amount(0),
            "medins_setl_id": v.medins_setl_id,
            "clr_optins": v.clr_optins,
            "clr_way": v.clr_way,
            "clr_type": v.clr_type,
        }
    )
    return {
        "setlinfo": info,
        "setldetail": [setldetail_row(d) for d in v.settlement.details],
    }


def reverse_output(v: SettlementView) -> dict[str, Any]:
    """2208/2305: the reverse ``setlinfo`` (negated amounts, ``pdn_cash_pay`` and
    ``psn_cash_pay``) + ``setldetail`` with negated payments."""
    info: dict[str, Any] = {
        "mdtrt_id": v.mdtrt_id,
        "setl_id": v.setl_id,
        "init_setl_id": v.reverses_setl_id,
        "clr_optins": v.clr_optins,
        "setl_time": local_time(v.setl_time),
    }
    info.update(reverse_setlinfo_amounts(v.settlement))
    info["medins_setl_id"] = v.medins_setl_id
    info.update(person_fields(v))
    info.update(
        {
            "mdtrt_cert_type": v.mdtrt_cert_type,
            "med_type": v.med_type,
            "clr_type": v.clr_type,
            "clr_way": v.clr_way,
            "refd_setl_flag": "1",
        }
    )
    return {
        "setlinfo": info,
        "setldetail": [setldetail_row(d) for d in v.settlement.details],
    }


# --- 2201–2208 -----------------------------------------------------------------------------


@handler("2201", "门诊挂号", state_changing=True)
def register(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    data = inp.node("data")
    reg = visits.Registration(
        psn_no=data.text("psn_no", max_len=30),
        insutype=data.text("insutype", max_len=6),
        begin=data.req_timestamp("begntime"),
        cert_type=data.code("mdtrt_cert_type", CERT_TYPES),
        cert_no=data.text("mdtrt_cert_no", max_len=50),
        ipt_otp_no=data.text("ipt_otp_no", max_len=30),
        card_sn=data.text("card_sn", required=False, max_len=32),
        doctor_code=data.text("atddr_no", required=False, max_len=30),
        doctor_name=data.text("dr_name", required=False, max_len=50),
        dept_code=data.text("dept_code", required=False, max_len=30),
        dept_name=data.text("dept_name", required=False, max_len=100),
        caty=data.text("caty", required=False, max_len=10),
        exp_content=read_exp(data),
    )
    opened = visits.register_outpatient(
        ctx.session, place_of(ctx), ctx.institution, ctx.now, reg, msgid=ctx.envelope.msgid
    )
    return {
        "data": {
            "mdtrt_id": opened.mdtrt_id,
            "psn_no": opened.psn_no,
            "ipt_otp_no": opened.ipt_otp_no,
        }
    }


@handler("2202", "门诊挂号撤销", state_changing=True)
def cancel_registration(ctx: RequestContext, inp: Node) -> None:
    data = inp.node("data")
    visits.cancel_registration(
        ctx.session,
        ctx.institution,
        ctx.now,
        mdtrt_id=data.text("mdtrt_id", max_len=30),
        psn_no=data.text("psn_no", max_len=30),
        ipt_otp_no=data.text("ipt_otp_no", required=False, max_len=30),
    )
    return None


_VISIT_FIELDS = (
    "mdtrt_id",
    "psn_no",
    "med_type",
    "begntime",
    "main_cond_dscr",
    "dise_codg",
    "dise_name",
)


@handler("2203", "门诊就诊信息上传", state_changing=True)
def visit_info(ctx: RequestContext, inp: Node) -> None:
    info = inp.node("mdtrtinfo")
    visits.upload_visit_info(
        ctx.session,
        ctx.institution,
        ctx.now,
        visits.VisitInfo(
            mdtrt_id=info.text("mdtrt_id", max_len=30),
            psn_no=info.text("psn_no", max_len=30),
            med_type=info.text("med_type", max_len=6),
            begin=info.req_timestamp("begntime"),
            main_cond_dscr=info.text("main_cond_dscr", required=False, max_len=1000),
            dise_codg=info.text("dise_codg", required=False, max_len=30),
            dise_name=info.text("dise_name", required=False, max_len=500),
            exp_content=read_exp(info),
            extra=extras(info, _VISIT_FIELDS),
            diagnoses=read_diagnoses(inp),
        ),
    )
    return None


@handler("2204", "门诊费用明细信息上传", state_changing=True)
def upload_fees(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    results = fees.upload_fees(
        ctx.session,
        ctx.institution,
        ctx.now,
        read_fee_lines(inp, inpatient=False),
        inpatient=False,
        msgid=ctx.envelope.msgid,
    )
    return {"result": [line_result_row(r) for r in results]}


@handler("2205", "门诊费用明细信息撤销", state_changing=True)
def cancel_fees(ctx: RequestContext, inp: Node) -> None:
    data = inp.node("data")
    fees.cancel_outpatient_fees(
        ctx.session,
        ctx.institution,
        ctx.now,
        mdtrt_id=data.text("mdtrt_id", max_len=30),
        chrg_bchno=data.text("chrg_bchno", max_len=30),
        psn_no=data.text("psn_no", max_len=30),
    )
    return None


def audit_book(ctx: RequestContext) -> RuleBook | None:
    """The rule book of the real-time audit, or None when ``audit_realtime`` is off."""
    if not ctx.settings.get("audit_realtime", True):
        return None
    return audit_check.rule_book(ctx.settings.get("audit_rule_book"))


def pre_settle_visit(ctx: RequestContext, inp: Node, *, kind: str) -> dict[str, Any]:
    """2206 / 2303: compute the settlement, write nothing; audit findings (事中) come
    back in ``warn_msg``, the output is unchanged."""
    inpatient = kind == visits.INPATIENT
    req = read_settle_request(inp.node("data"), inpatient=inpatient, final=False)
    view = settling.pre_settle(
        ctx.session,
        place_of(ctx),
        ctx.institution,
        ctx.now,
        req,
        kind=kind,
        msgid=ctx.envelope.msgid,
        audit=audit_book(ctx),
    )
    if view.findings:
        ctx.warn_msg = audit_check.warning_text(view.findings)
    return settlement_output(view)


def settle_visit(ctx: RequestContext, inp: Node, *, kind: str) -> dict[str, Any]:
    """2207 / 2304: settle and persist in the dispatcher's transaction; a refusing audit
    rule refuses (infcode -1, err_msg naming the rule), warning rules go to warn_msg."""
    inpatient = kind == visits.INPATIENT
    req = read_settle_request(inp.node("data"), inpatient=inpatient, final=True)
    view = settling.settle(
        ctx.session,
        place_of(ctx),
        ctx.institution,
        ctx.now,
        req,
        kind=kind,
        msgid=ctx.envelope.msgid,
        opter=ctx.envelope.opter,
        opter_name=ctx.envelope.opter_name,
        audit=audit_book(ctx),
    )
    if view.findings:
        ctx.warn_msg = audit_check.warning_text(view.findings)
    return settlement_output(view)


def cancel_visit_settlement(ctx: RequestContext, inp: Node, *, kind: str) -> dict[str, Any]:
    """2208 / 2305: the reverse settlement."""
    data = inp.node("data")
    view = settling.cancel_settlement(
        ctx.session,
        place_of(ctx),
        ctx.institution,
        ctx.now,
        mdtrt_id=data.text("mdtrt_id", max_len=30),
        setl_id=data.text("setl_id", max_len=30),
        psn_no=data.text("psn_no", max_len=30),
        kind=kind,
        msgid=ctx.envelope.msgid,
        opter=ctx.envelope.opter,
        opter_name=ctx.envelope.opter_name,
    )
    return reverse_output(view)


@handler("2206", "门诊预结算", state_changing=False)
def pre_settle(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    return pre_settle_visit(ctx, inp, kind=visits.OUTPATIENT)


@handler("2207", "门诊结算", state_changing=True, reversible=True)
def settle(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    return settle_visit(ctx, inp, kind=visits.OUTPATIENT)


@handler("2208", "门诊结算撤销", state_changing=True, reversible=True)
def cancel_settlement(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    return cancel_visit_settlement(ctx, inp, kind=visits.OUTPATIENT)
