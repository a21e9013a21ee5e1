"""Features of each institution's period, as set computations (SQLite, PostgreSQL, DuckDB).

One row per institution that settled in the period, with its peer keys (level, kind,
province), its counts (cases, stays, fee lines, grouped settlement lists: the bases the
scores shrink by) and:

* cost per outpatient case and per stay, mean length of stay, fee lines per day of care;
* drug and examination shares of the fee-line amounts (收费项目类别 09/10/11 and 03/04);
* the share of its stays followed by another stay of the same person there within 31
  days (再入院), the share of stays of 3 days or less (短住院), the share of its cases
  that are stays (住院率);
* the share of fee lines repeating an item already charged on the same visit and day
  (同日重复收费: lines − distinct (visit, item, day));
* the share of out-of-region cases, and the MCC/CC share of its grouped settlement
  lists (CHS-DRG codes ending in 1 or 3; NULL without lists).
"""

from __future__ import annotations

import ibis  # type: ignore[import-untyped]
import ibis.expr.types as ir  # type: ignore[import-untyped]

from medroam.batch.audit import in_force, naive_day

DRUG_TYPES = ("09", "10", "11")  # 西药费, 中药饮片费, 中成药费
EXAM_TYPES = ("03", "04")  # 检查费, 化验费
READMISSION_DAYS = 31
SHORT_STAY_DAYS = 3

FEE_LINES = ibis.schema(
    {
        "setl_id": "string",
        "med_list_codg": "string",
        "fee_ocur_time": "timestamp",
        "amount": "int64",
        "med_chrgitm_type": "string",
        "status": "string",
    }
)
INSTITUTIONS = ibis.schema(
    {"fixmedins_code": "string", "level": "string", "kind": "string", "region": "string"}
)
SETTLEMENT_LISTS = ibis.schema({"setl_id": "string", "fixmedins_code": "string", "drg": "string"})


def feature_tables() -> dict[str, ir.Table]:
    return {
        "fee_lines_amounts": ibis.table(FEE_LINES, name="fee_lines"),
        "institutions": ibis.table(INSTITUTIONS, name="institutions"),
        "settlement_lists": ibis.table(SETTLEMENT_LISTS, name="settlement_lists"),
    }


def _ratio(num: ir.NumericValue, den: ir.NumericValue) -> ir.FloatingValue:
    return ibis.ifelse(den > 0, num.cast("float64") / den.cast("float64"), 0.0)


def _or_null(num: ir.NumericValue, den: ir.NumericValue) -> ir.FloatingValue:
    return ibis.ifelse(den > 0, num.cast("float64") / den.cast("float64"), None)


def features(t: dict[str, ir.Table], first_day: int, last_day: int) -> ir.Table:
    """The features of the institutions that settled on days ``first_day``..``last_day``
    (module docstring)."""
    visits = in_force(t, first_day, last_day)
    v = visits.mutate(
        stay=ibis.ifelse(visits.kind == "inpatient", 1, 0),
        stay_fee=ibis.ifelse(visits.kind == "inpatient", visits.medfee, 0),
        days=ibis.greatest(visits.end_day - visits.begin_day, 1),
        los=ibis.ifelse(visits.kind == "inpatient", visits.end_day - visits.begin_day, 0),
        short=ibis.ifelse(
            (visits.kind == "inpatient") & (visits.end_day - visits.begin_day <= SHORT_STAY_DAYS),
            1,
            0,
        ),
        away=ibis.ifelse(visits.insured_region != visits.treatment_region, 1, 0),
    )
    per_case = v.group_by("fixmedins_code").agg(
        cases=v.count(),
        medfee=v.medfee.sum(),
        stay_fee=v.stay_fee.sum(),
        stays=v.stay.sum(),
        stay_days=v.los.sum(),
        short_stays=v.short.sum(),
        care_days=v.days.sum(),
        away=v.away.sum(),
    )
    f = t["fee_lines_amounts"]
    f = f.filter(f.status == "settled")
    lines = f.join(visits, f.setl_id == visits.setl_id).select(
        visits.fixmedins_code,
        visits.setl_id,
        f.med_list_codg,
        f.amount,
        f.med_chrgitm_type,
        charge_day=naive_day(f.fee_ocur_time),
    )
    # lines per (visit, item, day): every line beyond the first repeats a charge
    same = lines.group_by(["fixmedins_code", "setl_id", "med_list_codg", "charge_day"]).agg(
        n=lines.count(),
        amount=lines.amount.sum(),
        drugs=ibis.ifelse(lines.med_chrgitm_type.isin(DRUG_TYPES), lines.amount, 0).sum(),
        exams=ibis.ifelse(lines.med_chrgitm_type.isin(EXAM_TYPES), lines.amount, 0).sum(),
    )
    per_line = same.group_by("fixmedins_code").agg(
        lines=same.n.sum(),
        repeated=(same.n - 1).sum(),
        amount=same.amount.sum(),
        drugs=same.drugs.sum(),
        exams=same.exams.sum(),
    )
    stays = visits.filter(visits.kind == "inpatient").select(
        "fixmedins_code", "psn_no", "setl_id", "begin_day", "end_day"
    )
    later = stays.view()
    again = stays.join(
        later,
        (stays.fixmedins_code == later.fixmedins_code)
        & (stays.psn_no == later.psn_no)
        & (stays.setl_id != later.setl_id)
        & (later.begin_day >= stays.end_day)
        & (later.begin_day - stays.end_day <= READMISSION_DAYS),
    ).select(stays.fixmedins_code, stays.setl_id)
    distinct = again.distinct()
    readmitted = distinct.group_by("fixmedins_code").agg(readmitted=distinct.count())
    sl = t["settlement_lists"]
    sl = sl.filter(sl.drg.notnull()).semi_join(visits, sl.setl_id == visits.setl_id)
    suffix = sl.drg.substr(3, 1)
    per_list = sl.group_by("fixmedins_code").agg(
        lists=sl.count(), mcc_cc=ibis.ifelse(suffix.isin(["1", "3"]), 1, 0).sum()
    )
    inst = t["institutions"]
    out = (
        per_case.left_join(per_line, "fixmedins_code")
        .left_join(readmitted, "fixmedins_code")
        .left_join(per_list, "fixmedins_code")
        .left_join(inst, "fixmedins_code")
    )
    return out.select(
        fixmedins_code=per_case.fixmedins_code,
        level=inst.level.fill_null("9"),
        kind=inst.kind.fill_null("hospital"),
        province=inst.region.substr(0, 2).fill_null("00"),
        cases=per_case.cases.cast("int64"),
        stays=per_case.stays.cast("int64"),
        lines=per_line.lines.fill_null(0).cast("int64"),
        lists=per_list.lists.fill_null(0).cast("int64"),
        # cost per case split by kind of care (case mix): NULL when the institution had
        # none of that kind, so that it is compared on what it did
        cost_outpatient=_or_null(
            per_case.medfee - per_case.stay_fee, per_case.cases - per_case.stays
        ),
        cost_inpatient=_or_null(per_case.stay_fee, per_case.stays),
        los=_or_null(per_case.stay_days, per_case.stays),
        items_per_day=_ratio(per_line.lines.fill_null(0), per_case.care_days),
        drug_share=_ratio(per_line.drugs.fill_null(0), per_line.amount.fill_null(0)),
        exam_share=_ratio(per_line.exams.fill_null(0), per_line.amount.fill_null(0)),
        readmit_31=_or_null(readmitted.readmitted.fill_null(0), per_case.stays),
        short_stay=_or_null(per_case.short_stays, per_case.stays),
        stay_share=_ratio(per_case.stays, per_case.cases),
        repeat_lines=_ratio(per_line.repeated.fill_null(0), per_line.lines.fill_null(0)),
        out_of_region=_ratio(per_case.away, per_case.cases),
        mcc_cc_share=ibis.ifelse(
            per_list.lists.fill_null(0) > 0, _ratio(per_list.mcc_cc, per_list.lists), None
        ),
    )
