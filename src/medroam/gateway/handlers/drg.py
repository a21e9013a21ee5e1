"""4101 医疗保障基金结算清单信息上传 and 4104 质控结果查询 (national-interface §4.11,
domain-rules DRG-07).

4101 reads the nodes ``setlinfo``, ``diseinfo[]`` (required), ``oprninfo[]``,
``payinfo[]``, ``opspdiseinfo[]``, ``iteminfo[]`` and ``icuinfo[]``; a field whose shape
is wrong (a date that is not a date, a flag other than 0/1, a negative amount, an ICU exit
before its entry) refuses the call naming the field. What QC judges — a missing or
invalid principal diagnosis, unknown codes, sex or age conflicts — does not refuse it:
the list is stored with its findings, grouped when none is an error, and 4101 answers
``data.setl_list_id`` (also ``setl_list_id`` at the top of ``output``) with the QC status
and the DRG. 4104 answers ``qcinfo[]``, one row per list, each with its ``qcdetail[]``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from medroam.domain.drg.grouper import normalize_diagnosis, normalize_procedure, short_trace
from medroam.domain.drg.settlement_list import ListDiagnosis, ListProcedure, SettlementList
from medroam.gateway.errors import InputError
from medroam.gateway.fields import amount, local_time
from medroam.gateway.reader import Node
from medroam.gateway.registry import RequestContext, handler
from medroam.services import settlement_lists
from medroam.store.settlement_lists import ListRecord

GENDERS = ("0", "1", "2", "9")  # GB/T 2261.1: unknown, male, female, unspecified
DSCG_WAYS = ("1", "2", "3", "4", "5", "9")
PRINCIPAL_PROCEDURE = "1"  # oprn_oprt_type 1: 主要手术
MAX_AGE_YEARS = 150
MAX_NEWBORN_DAYS = 365
MAX_BIRTH_WEIGHT_G = 99_999

_SETLINFO_READ = (
    "mdtrt_id",
    "setl_id",
    "fixmedins_code",
    "gend",
    "age",
    "nwb_age",
    "nwb_bir_wt",
    "nwb_adm_wt",
    "insuplc",
    "adm_time",
    "dscg_time",
    "act_ipt_days",
    "dscg_way",
    "psn_selfpay",
    "psn_ownpay",
    "acct_pay",
    "psn_cashpay",
)


def _as_sent(node: Node, read: tuple[str, ...] = ()) -> dict[str, Any]:
    """Scalar fields of ``node`` not in ``read``, JSON-safe (numbers as their text)."""
    skip = {k.lower() for k in read}
    out: dict[str, Any] = {}
    for k, v in node.raw.items():
        if str(k).lower() in skip:
            continue
        if isinstance(v, Decimal):
            out[str(k)] = format(v, "f")
        elif isinstance(v, (str, int, bool)) or v is None:
            out[str(k)] = v
    return out


def _whole(node: Node, key: str, *, low: int, high: int) -> int | None:
    """An optional whole number in ``[low, high]`` (``"45"``, ``45`` or ``"45.0"``)."""
    if not node.has(key):
        return None
    value = node.decimal(key, 1)
    if value != value.to_integral_value():
        raise InputError(f"{node.path}.{key}: must be a whole number, got {value}")
    n = int(value)
    if not low <= n <= high:
        raise InputError(f"{node.path}.{key}: {n} is outside {low}–{high}")
    return n


def _diagnoses(inp: Node) -> tuple[tuple[ListDiagnosis, ...], list[dict[str, Any]]]:
    rows = inp.rows("diseinfo")
    out: list[ListDiagnosis] = []
    sent: list[dict[str, Any]] = []
    for d in rows:
        code = normalize_diagnosis(d.text("diag_code", max_len=30))
        principal = d.flag("maindiag_flag") == "1"
        out.append(ListDiagnosis(code, d.text("diag_name", required=False, max_len=200), principal))
        d.text("diag_type", required=False, max_len=3)
        sent.append(_as_sent(d))
    return tuple(out), sent


def _procedures(inp: Node) -> tuple[tuple[ListProcedure, ...], list[dict[str, Any]]]:
    out: list[ListProcedure] = []
    sent: list[dict[str, Any]] = []
    for p in inp.rows("oprninfo", required=False):
        out.append(
            ListProcedure(
                normalize_procedure(p.text("oprn_oprt_code", max_len=30)),
                p.text("oprn_oprt_name", required=False, max_len=500),
                p.text("oprn_oprt_type", required=False, max_len=3) == PRINCIPAL_PROCEDURE,
                p.day("oprn_oprt_date", required=False),
            )
        )
        sent.append(_as_sent(p))
    return tuple(out), sent


def _other_nodes(inp: Node) -> tuple[dict[str, Any], int]:
    """``payinfo``, ``opspdiseinfo``, ``iteminfo``, ``icuinfo`` checked and JSON-safe
    (amounts in fen), and Σ ``iteminfo.amt`` (the list's total cost)."""
    payinfo = [
        {
            "fund_pay_type": r.text("fund_pay_type", max_len=6),
            "fund_payamt": r.money("fund_payamt"),
        }
        for r in inp.rows("payinfo", required=False)
    ]
    opsp = [
        {
            "diag_code": normalize_diagnosis(r.text("diag_code", max_len=30)),
            "diag_name": r.text("diag_name", required=False, max_len=200),
            "oprn_oprt_code": normalize_procedure(
                r.text("oprn_oprt_code", required=False, max_len=30)
            ),
            "oprn_oprt_name": r.text("oprn_oprt_name", required=False, max_len=500),
        }
        for r in inp.rows("opspdiseinfo", required=False)
    ]
    items: list[dict[str, Any]] = [
        {
            "med_chrgitm": r.text("med_chrgitm", max_len=6),
            "amt": r.money("amt"),
            "claa_sumfee": r.money("claa_sumfee", required=False),
            "clab_amt": r.money("clab_amt", required=False),
            "fulamt_ownpay_amt": r.money("fulamt_ownpay_amt", required=False),
            "oth_amt": r.money("oth_amt", required=False),
        }
        for r in inp.rows("iteminfo", required=False)
    ]
    icu: list[dict[str, Any]] = []
    for r in inp.rows("icuinfo", required=False):
        start, end = r.req_timestamp("scs_cutd_inpool_time"), r.req_timestamp("scs_cutd_exit_time")
        if end < start:
            raise InputError(f"{r.path}.scs_cutd_exit_time: {end} is before the entry {start}")
        icu.append(
            {
                "scs_cutd_ward_type": r.text("scs_cutd_ward_type", max_len=6),
                "scs_cutd_inpool_time": start.isoformat(sep=" "),
                "scs_cutd_exit_time": end.isoformat(sep=" "),
                "scs_cutd_sum_dura": r.text("scs_cutd_sum_dura", required=False, max_len=20),
            }
        )
    nodes = {"payinfo": payinfo, "opspdiseinfo": opsp, "iteminfo": items, "icuinfo": icu}
    return nodes, sum(int(i["amt"]) for i in items)


def read_settlement_list(inp: Node) -> tuple[SettlementList, dict[str, Any]]:
    """The 4101 input → the list QC and the grouper read, and the rest (JSON-safe)."""
    info = inp.node("setlinfo")
    adm, dscg = info.day("adm_time", required=False), info.day("dscg_time", required=False)
    diagnoses, dise_sent = _diagnoses(inp)
    procedures, oprn_sent = _procedures(inp)
    nodes, medfee = _other_nodes(inp)
    setlinfo = _as_sent(info, _SETLINFO_READ)
    setlinfo.update(
        {
            "nwb_adm_wt": _whole(info, "nwb_adm_wt", low=1, high=MAX_BIRTH_WEIGHT_G),
            "acct_pay": info.money("acct_pay", required=False),
            "psn_cashpay": info.money("psn_cashpay", required=False),
        }
    )
    sl = SettlementList(
        setl_id=info.text("setl_id", max_len=30),
        mdtrt_id=info.text("mdtrt_id", max_len=30),
        fixmedins_code=info.text("fixmedins_code", required=False, max_len=30),
        insuplc=info.region("insuplc", required=False),
        treatment_region="",  # the stay's, filled by the service
        gend=info.code("gend", GENDERS, required=False),
        age=_whole(info, "age", low=0, high=MAX_AGE_YEARS),
        nwb_age_days=_whole(info, "nwb_age", low=0, high=MAX_NEWBORN_DAYS),
        nwb_bir_wt=_whole(info, "nwb_bir_wt", low=1, high=MAX_BIRTH_WEIGHT_G),
        adm_time=adm,
        dscg_time=dscg,
        act_ipt_days=_whole(info, "act_ipt_days", low=0, high=36_500),
        dscg_way=info.code("dscg_way", DSCG_WAYS, required=False),
        diagnoses=diagnoses,
        procedures=procedures,
        medfee_sumamt=medfee,
        psn_selfpay=info.money("psn_selfpay", required=False),
        psn_ownpay=info.money("psn_ownpay", required=False),
    )
    nodes.update({"setlinfo": setlinfo, "diseinfo": dise_sent, "oprninfo": oprn_sent})
    return sl, nodes


@handler("4101", "医疗保障基金结算清单信息上传", state_changing=True)
def upload_settlement_list(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    sl, nodes = read_settlement_list(inp)
    up = settlement_lists.upload(
        ctx.session, ctx.institution, ctx.now, sl, msgid=ctx.envelope.msgid, nodes=nodes
    )
    r = up.record
    data = {
        "setl_list_id": up.outcome.setl_list_id,
        "qc_stas": r.qc_status.value,
        "grp_stas": "" if up.outcome.group is None else up.outcome.group.status.value,
        "drg_code": "" if up.outcome.group is None else up.outcome.group.drg,
    }
    return {"data": data, "setl_list_id": up.outcome.setl_list_id}


def qcinfo_row(r: ListRecord, drg_names: dict[str, str]) -> dict[str, Any]:
    sl, group = r.stored.settlement_list, r.stored.group
    return {
        "setl_list_id": r.stored.setl_list_id,
        "mdtrt_id": sl.mdtrt_id,
        "setl_id": sl.setl_id,
        "fixmedins_code": sl.fixmedins_code,
        "insuplc": sl.insuplc,
        "medfee_sumamt": amount(sl.medfee_sumamt),
        "qc_stas": r.qc_status.value,
        "err_cnt": sum(1 for f in r.stored.findings if f.blocking),
        "warn_cnt": sum(1 for f in r.stored.findings if not f.blocking),
        "upld_cnt": r.uploads,
        "upld_time": local_time(r.uploaded_at),
        "grp_ver": r.scheme,
        "grp_stas": "" if group is None else group.status.value,
        "mdc_code": "" if group is None else group.mdc,
        "adrg_code": "" if group is None else group.adrg,
        "drg_code": "" if group is None else group.drg,
        "drg_name": "" if group is None else drg_names.get(group.drg, ""),
        "grp_trace": "" if group is None else short_trace(group),
        "qcdetail": [
            {
                "qc_rule": f.rule,
                "qc_lv": f.severity.value,
                "fld": f.field,
                "qc_dscr": f.message,
                "code": f.code,
            }
            for f in r.stored.findings
        ],
    }


@handler("4104", "质控结果查询", state_changing=False)
def quality_control_result(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    from medroam.refdata.drg import load_scheme

    data = inp.node("data")
    records = settlement_lists.query(
        ctx.session,
        ctx.institution,
        setl_list_id=data.text("setl_list_id", required=False, max_len=30),
        mdtrt_id=data.text("mdtrt_id", required=False, max_len=30),
        setl_id=data.text("setl_id", required=False, max_len=30),
    )
    names = dict(load_scheme().drg_names)
    return {"qcinfo": [qcinfo_row(r, names) for r in records]}
