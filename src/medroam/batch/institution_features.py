"""Features of each institution's period, as set computations (SQLite, PostgreSQL, DuckDB).

Every feature is a value per case (settlement in force), NULL where it does not apply;
the institution's feature is the mean over its cases, and the batch returns per feature
the count ``<f>_n``, the sum ``<f>_sum`` and the sum of squares ``<f>_sq``, so that the
scores can weigh an institution's mean by how many cases it rests on
(``domain/audit/scores.py``). Per case:

* ``cost_outpatient`` / ``cost_inpatient``: the natural logarithm of the bill (yuan) of
  an outpatient case / a stay (bills are log-normal: the mean of the logarithms is the
  logarithm of the geometric mean, not moved by one dear bill);
* ``los``: the stay's length in days; ``short_stay``: 1 if it is 3 days or less (短住院);
* ``readmit_31``: 1 if the same person is admitted there again within 31 days of the
  discharge (再入院);
* ``stay_share``: 1 for a stay, 0 for an outpatient case (住院率);
* ``items_per_day``: fee lines per day of care;
* ``drug_share`` / ``exam_share``: shares of the bill's fee-line amounts in 收费项目类别
  09/10/11 and 03/04;
* ``repeat_lines``: the share of the bill's fee lines that repeat an item already
  charged on the same day (同日重复收费: lines − distinct (item, day));
* ``out_of_region``: 1 for a patient insured elsewhere.

And one feature that is not a mean of cases, ``mcc_cc_oe`` (MCC/CC 病组占比（按病组标化）,
``domain/audit/scores.py``): over the institution's lists in ADRGs split by severity
(the DRG ends in 1, 3 or 5), the count ``mcc_cc_oe_n``, the observed MCC/CC lists
``mcc_cc_oe_observed`` and the expected ``mcc_cc_oe_expected`` and variance
``mcc_cc_oe_variance`` under every other institution's rate of the same ADRGs
(``batch.audit.standardised_lists``, which the institution rule ``drg_upcoding`` reads
too).
"""

from __future__ import annotations

import ibis  # type: ignore[import-untyped]
import ibis.expr.types as ir  # type: ignore[import-untyped]

from medroam.batch.audit import (
    INSTITUTIONS,
    SETTLEMENT_LISTS,
    in_force,
    naive_day,
    standardised_lists,
)
from medroam.domain.audit.scores import FEATURE_NAMES, STANDARDISED

DRUG_TYPES = ("09", "10", "11")  # 西药费, 中药饮片费, 中成药费
EXAM_TYPES = ("03", "04")  # 检查费, 化验费
READMISSION_DAYS = 31
SHORT_STAY_DAYS = 3
FEATURES = tuple(f for f in FEATURE_NAMES if f not in STANDARDISED)  # of ``_per_case``

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


def feature_tables() -> dict[str, ir.Table]:
    return {
        "fee_lines_amounts": ibis.table(FEE_LINES, name="fee_lines"),
        "institutions": ibis.table(INSTITUTIONS, name="institutions"),
        "settlement_lists": ibis.table(SETTLEMENT_LISTS, name="settlement_lists"),
    }


def _per_case(t: dict[str, ir.Table], visits: ir.Table) -> ir.Table:
    """One row per settlement in force (``visits``): its institution and the value every
    feature takes on it (NULL where the feature does not apply, e.g. a stay's length on
    an outpatient visit)."""
    f = t["fee_lines_amounts"]
    f = f.filter(f.status == "settled")
    lines = f.join(visits, f.setl_id == visits.setl_id).select(
        visits.setl_id,
        f.med_list_codg,
        f.amount,
        f.med_chrgitm_type,
        charge_day=naive_day(f.fee_ocur_time),
    )
    # lines per (settlement, item, day): every line beyond the first repeats a charge
    same = lines.group_by(["setl_id", "med_list_codg", "charge_day"]).agg(
        n=lines.count(),
        amount=lines.amount.sum(),
        drugs=ibis.ifelse(lines.med_chrgitm_type.isin(DRUG_TYPES), lines.amount, 0).sum(),
        exams=ibis.ifelse(lines.med_chrgitm_type.isin(EXAM_TYPES), lines.amount, 0).sum(),
    )
    per_bill = same.group_by("setl_id").agg(
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
    again = (
        stays.join(
            later,
            (stays.fixmedins_code == later.fixmedins_code)
            & (stays.psn_no == later.psn_no)
            & (stays.setl_id != later.setl_id)
            & (later.begin_day >= stays.end_day)
            & (later.begin_day - stays.end_day <= READMISSION_DAYS),
        )
        .select(setl_id=stays.setl_id, readmitted=ibis.literal(1))
        .distinct()
    )
    c = visits.left_join(per_bill, "setl_id").left_join(again, "setl_id")
    stay = visits.kind == "inpatient"
    length = visits.end_day - visits.begin_day
    n_lines = per_bill.lines.fill_null(0)
    # bills are log-normal: their logarithm (of yuan) is averaged, a geometric mean
    log_bill = (ibis.greatest(visits.medfee, 1).cast("float64") / 100.0).ln()
    return c.select(
        fixmedins_code=visits.fixmedins_code,
        cost_outpatient=ibis.ifelse(stay, None, log_bill),
        cost_inpatient=ibis.ifelse(stay, log_bill, None),
        los=ibis.ifelse(stay, length, None),
        items_per_day=n_lines.cast("float64") / ibis.greatest(length, 1).cast("float64"),
        drug_share=_or_null(per_bill.drugs, per_bill.amount),
        exam_share=_or_null(per_bill.exams, per_bill.amount),
        readmit_31=ibis.ifelse(stay, again.readmitted.fill_null(0), None),
        short_stay=ibis.ifelse(stay, ibis.ifelse(length <= SHORT_STAY_DAYS, 1, 0), None),
        stay_share=ibis.ifelse(stay, 1, 0),
        repeat_lines=_or_null(per_bill.repeated, n_lines),
        out_of_region=ibis.ifelse(visits.insured_region != visits.treatment_region, 1, 0),
    )


def _or_null(num: ir.NumericValue, den: ir.NumericValue) -> ir.FloatingValue:
    return ibis.ifelse(den > 0, num.cast("float64") / den.cast("float64"), None)


def features(t: dict[str, ir.Table], first_day: int, last_day: int) -> ir.Table:
    """The features of the institutions that settled on days ``first_day``..``last_day``
    (module docstring): per feature its count of cases ``<f>_n``, sum ``<f>_sum`` and
    sum of squares ``<f>_sq`` over the cases it applies to; and the observed and expected
    counts of ``mcc_cc_oe``."""
    visits = in_force(t, first_day, last_day)
    c = _per_case(t, visits)
    std = standardised_lists(t, visits)
    aggs: dict[str, ir.Value] = {"cases": c.count()}
    for name in FEATURES:
        x = c[name].cast("float64")
        aggs[f"{name}_n"] = x.count()
        aggs[f"{name}_sum"] = x.sum()
        aggs[f"{name}_sq"] = (x * x).sum()
    per = c.group_by("fixmedins_code").agg(**aggs)
    inst = t["institutions"]
    out = per.left_join(inst, "fixmedins_code").left_join(std, "fixmedins_code")
    return out.select(
        fixmedins_code=per.fixmedins_code,
        level=inst.level.fill_null("9"),
        kind=inst.kind.fill_null("hospital"),
        province=inst.region.substr(0, 2).fill_null("00"),
        cases=per.cases.cast("int64"),
        mcc_cc_oe_n=std.movable.fill_null(0).cast("int64"),
        mcc_cc_oe_observed=std.observed.fill_null(0).cast("int64"),
        mcc_cc_oe_expected=std.expected.fill_null(0.0),
        mcc_cc_oe_variance=std.variance.fill_null(0.0),
        **{
            f"{name}_{part}": (
                per[f"{name}_{part}"].cast("int64")
                if part == "n"
                else per[f"{name}_{part}"].fill_null(0.0)
            )
            for name in FEATURES
            for part in ("n", "sum", "sq")
        },
    )
