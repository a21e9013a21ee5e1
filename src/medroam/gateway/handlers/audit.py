"""Real-time audit transactions: 3101 明细审核事前分析, 3102 明细审核事中分析, 3103
事前事中服务反馈 (docs/audit-realtime.md has the field lists and a worked example).

3101/3102 read what the HIS sends (patients, encounters, diagnoses, operations, orders)
and answer ``result``: one row per finding in the national shape (``jr_id, rule_id,
rule_name, vola_cont, vola_amt, sev_deg, vola_evid, vola_bhvr_type`` and
``judge_result_detail_dtos``). They read and write nothing in the database: an
institution audits only the bills it sends, as itself (``medins_id`` must be its code).
3103 stores the HIS's feedback on a ``jr_id`` in ``audit_feedback``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from medroam.domain.audit.model import (
    AuditLine,
    AuditVisit,
    Bill,
    Finding,
    Stage,
)
from medroam.domain.catalogue import PRICE_SCALE, QTY_SCALE
from medroam.gateway.errors import InputError
from medroam.gateway.fields import amount
from medroam.gateway.reader import Node
from medroam.gateway.registry import RequestContext, handler
from medroam.services import audit_check
from medroam.store.audit_feedback_tables import DISPOSALS, AuditFeedbackRow

GENDERS = ("1", "2", "9")  # gend: 男 / 女 / 未说明
VIOLATING, INVOLVED = "1", "2"  # vola_item_type 违规项 / 涉及项
WARN_TYPES = {"1": Stage.BEFORE, "2": Stage.DURING}
INPATIENT_MED_TYPES = ("21", "22", "2101", "2102", "52")  # 住院 (and 生育住院 52)


def _age(birth: date, on: date) -> int:
    years = on.year - birth.year
    return years - 1 if (on.month, on.day) < (birth.month, birth.day) else years


def _encounter_bill(ctx: RequestContext, patient: Node, enc: Node) -> Bill:
    psn_no = patient.text("patn_id", max_len=30)
    gender = patient.code("gend", GENDERS)
    birth = patient.req_day("brdy")
    insured_region = patient.region("poolarea", required=False) or ctx.institution.region
    medins = enc.text("medins_id", required=False, max_len=30)
    if medins and medins != ctx.institution.code:
        raise InputError(
            f"{enc.path}.medins_id: {medins} is not the calling institution "
            f"{ctx.institution.code} (an institution audits only its own bills)"
        )
    begin = enc.req_day("adm_date")
    end = enc.day("dscg_date", required=False) or begin
    if end < begin:
        raise InputError(f"{enc.path}.dscg_date: {end} is before adm_date {begin}")
    med_type = enc.text("med_type", max_len=6)
    insutype = enc.text("insutype", max_len=6)
    diagnoses = [
        d.text("dise_codg", max_len=20)
        for d in sorted(
            enc.rows("fsi_diagnose_dtos", required=False),
            key=lambda d: d.flag("maindise_flag") != "1",  # the main diagnosis first
        )
    ]
    procedures = tuple(
        o.text("oprn_code", max_len=20) for o in enc.rows("fsi_operation_dtos", required=False)
    )
    lines = []
    for row in enc.rows("fsi_order_dtos", max_rows=5000):
        cnt = row.decimal("cnt", 4)
        pric = row.decimal("pric", 6)
        if cnt == 0:
            raise InputError(f"{row.path}.cnt: quantity must not be zero")
        if pric < 0:
            raise InputError(f"{row.path}.pric: must not be negative, got {pric}")
        charge_day = row.day("drord_begn_date", required=False) or begin
        lines.append(
            AuditLine(
                line_id=row.text("rx_id", max_len=30),
                code=row.text("hilist_code", max_len=50),
                quantity=int(cnt * QTY_SCALE),
                unit_price=int(pric * PRICE_SCALE),
                amount=row.money("sumamt", allow_negative=True),
                charge_date=charge_day,
            )
        )
    ids = [li.line_id for li in lines]
    if len(set(ids)) != len(ids):
        raise InputError(f"{enc.path}.fsi_order_dtos: rx_id repeated")
    kind = "inpatient" if med_type in INPATIENT_MED_TYPES else "outpatient"
    return Bill(
        visit=AuditVisit(
            visit_id=enc.text("mdtrt_id", max_len=30),
            psn_no=psn_no,
            gender=gender,
            age=_age(birth, begin),
            insutype=insutype,
            scenario=audit_check.scenario_of(kind, med_type),
            institution_code=ctx.institution.code,
            institution_level=enc.text("medins_lv", required=False, max_len=3)
            or ctx.institution.level,
            treatment_region=ctx.institution.region,
            insured_region=insured_region,
            begin=begin,
            end=end if kind == "inpatient" else begin,
            diagnoses=tuple(dict.fromkeys(diagnoses)),
            procedures=procedures,
            total=sum(li.amount for li in lines),
        ),
        lines=tuple(lines),
    )


def _evidence(evidence: Mapping[str, str]) -> str:
    return json.dumps(dict(evidence), ensure_ascii=False, sort_keys=True) if evidence else ""


def result_row(f: Finding, line_amounts: Mapping[str, int]) -> dict[str, Any]:
    """One ``result`` row. Per item: a 违规项 carries its own line amount, a 涉及项 0.00;
    the row's ``vola_amt`` is the rule's amount (e.g. only the part above a price cap)."""
    jr = audit_check.jr_id(f)
    details = [
        {
            "jrd_id": f"{jr}-{n:02d}",
            "patn_id": f.psn_no,
            "mdtrt_id": f.visit_id,
            "rx_id": rx_id,
            "vola_item_type": kind,
            "vola_amt": amount(line_amounts.get(rx_id, 0) if kind == VIOLATING else 0),
        }
        for n, (rx_id, kind) in enumerate(
            [(i, VIOLATING) for i in f.line_ids] + [(i, INVOLVED) for i in f.related_ids], 1
        )
    ]
    return {
        "jr_id": jr,
        "rule_id": f.rule.code,
        "rule_name": f.rule.name,
        "vola_cont": f.content,
        "patn_id": f.psn_no,
        "mdtrt_id": f.visit_id,
        "vola_amt": amount(f.amount),
        "sev_deg": f.rule.severity.value,
        "vola_evid": _evidence(f.evidence),
        "vola_bhvr_type": f.rule.behaviour,
        "rule_type": f.rule.result_type.value,  # 明确违规 / 可疑
        "dspo_way": f.rule.action.value,  # warn / refuse / refer: what settlement does
        "judge_result_detail_dtos": details,
    }


def analyse(ctx: RequestContext, inp: Node, stage: Stage) -> dict[str, Any]:
    data = inp.node("data")
    wanted = _rule_ids(data)
    book = audit_check.rule_book(ctx.settings.get("audit_rule_book"))
    unknown = wanted - {r.meta.code for r in book.rules}
    if unknown:  # a filter naming no rule would silently answer "nothing found"
        codes = ", ".join(sorted(unknown))
        raise InputError(f"{data.path}.rule_ids：规则编码不存在 unknown rule code(s) {codes}")
    results: list[dict[str, Any]] = []
    for patient in data.rows("patient_dtos", max_rows=100):
        for enc in patient.rows("fsi_encounter_dtos", max_rows=100):
            bill = _encounter_bill(ctx, patient, enc)
            findings = audit_check.audit(book, bill, stage, ctx.now.date())
            if wanted:
                findings = tuple(f for f in findings if f.rule.code in wanted)
            amounts = {li.line_id: li.amount for li in bill.lines}
            results.extend(result_row(f, amounts) for f in findings)
    return {"result": results}


def _rule_ids(data: Node) -> frozenset[str]:
    """``rule_ids``: only these rules (a list of codes or one comma-separated text)."""
    raw = data.raw.get("rule_ids")
    if raw in (None, "", []):
        return frozenset()
    if isinstance(raw, str):
        raw = raw.split(",")
    if not isinstance(raw, list) or not all(isinstance(r, str) for r in raw):
        raise InputError(f"{data.path}.rule_ids: must be a list of rule codes")
    return frozenset(r.strip() for r in raw if r.strip())


@handler("3101", "明细审核事前分析", state_changing=False)
def before(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    return analyse(ctx, inp, Stage.BEFORE)


@handler("3102", "明细审核事中分析", state_changing=False)
def during(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    return analyse(ctx, inp, Stage.DURING)


@handler("3103", "事前事中服务反馈", state_changing=True)
def feedback(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    """Store each ``warns`` row; answers how many were stored."""
    data = inp.node("data")
    warn_type = data.code("warn_type", tuple(WARN_TYPES))
    book = audit_check.rule_book(ctx.settings.get("audit_rule_book"))
    codes = {r.meta.code: r.meta.name for r in book.rules}
    rows = []
    for w in data.rows("warns", max_rows=1000):
        jr = w.text("warn_rslt_id", max_len=40)
        rule_id, sep, tail = jr.rpartition("-")
        if not sep or len(tail) != 12 or rule_id not in codes:
            raise InputError(
                f"{w.path}.warn_rslt_id: {jr!r} is not a jr_id answered by 3101/3102 "
                "(rule code, '-', 12 hex digits)"
            )
        rows.append(
            AuditFeedbackRow(
                fixmedins_code=ctx.institution.code,
                jr_id=jr,
                rule_id=rule_id,
                warn_type=warn_type,
                dspo_way=w.code("dspo_way", tuple(DISPOSALS)),
                dspo_way_rea=w.text("dspo_way_rea", required=False, max_len=500),
                mdtrt_id=w.text("mdtrt_id", required=False, max_len=30),
                psn_no=w.text("patn_id", required=False, max_len=30),
                msgid=ctx.envelope.msgid,
                received_at=ctx.now,
            )
        )
    ctx.session.add_all(rows)
    ctx.session.flush()
    return {"data": {"cnt": len(rows), "warn_type": warn_type}}
