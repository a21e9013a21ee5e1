"""After-settlement audit (事后): which visits each rule must look at, as set computations.

The batch layer selects, the domain decides. For every rule in the library, one Ibis
expression selects the **candidate visits** of a period: the visits the rule could find
something on (the rule's items charged, a stay with a charge outside its dates, a
cross-region stay above the threshold, a person readmitted within the window …). The
predicates are supersets of the rule's (the loosest parameters over all regions' versions
of a code), so no violation is missed; the exact decision — amounts, lines, the zh-CN
text — is then the domain's own check (``domain.audit``) on those visits only, the same
code the real-time audit runs, so after-settlement and real-time findings never differ.

Nothing loops over all rows in Python: the expressions run on SQLite, PostgreSQL or DuckDB
(the same unbound tables as clearing, compiled per connection; Parquet on DuckDB).
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis  # type: ignore[import-untyped]
import ibis.expr.types as ir  # type: ignore[import-untyped]

from medroam.batch.lines import local_day
from medroam.domain.audit.mechanisms import (
    AgeLimit,
    CostThreshold,
    DuplicateCharge,
    FrequentVisits,
    IndicationLimit,
    LevelLimit,
    PriceCap,
    QuantityLimit,
    Readmission,
    ScenarioLimit,
    SexLimit,
    Target,
    UnbundledCharge,
)
from medroam.domain.audit.model import Rule, Scenario
from medroam.domain.audit.scores import adrg_rate, pooled_rate

PHARMACY_MED_TYPE = "41"

SETTLEMENTS = ibis.schema(
    {
        "setl_id": "string",
        "mdtrt_id": "string",
        "psn_no": "string",
        "setl_time": "timestamp",
        "status": "string",
        "refd_setl_flag": "boolean",
        "medfee": "int64",
        "fixmedins_code": "string",
        "insutype": "string",
        "insured_region": "string",
        "treatment_region": "string",
    }
)
VISITS = ibis.schema(
    {
        "mdtrt_id": "string",
        "psn_no": "string",
        "kind": "string",
        "med_type": "string",
        "begin_time": "timestamp",
        "end_time": "timestamp",
        "institution_level": "string",
    }
)
FEE_LINES = ibis.schema(
    {
        "mdtrt_id": "string",
        "setl_id": "string",
        "feedetl_sn": "string",
        "med_list_codg": "string",
        "quantity": "int64",
        "unit_price": "int64",
        "amount": "int64",
        "fee_ocur_time": "timestamp",
        "status": "string",
    }
)
DIAGNOSES = ibis.schema(
    {"mdtrt_id": "string", "diag_code": "string", "valid": "boolean", "stage": "string"}
)
PERSONS = ibis.schema({"psn_no": "string", "gender": "string", "birth_date": "date"})
INSTITUTIONS = ibis.schema(
    {"fixmedins_code": "string", "level": "string", "kind": "string", "region": "string"}
)
SETTLEMENT_LISTS = ibis.schema({"setl_id": "string", "fixmedins_code": "string", "drg": "string"})
SCHEMAS = {
    "settlements": SETTLEMENTS,
    "visits": VISITS,
    "fee_lines": FEE_LINES,
    "diagnoses": DIAGNOSES,
    "persons": PERSONS,
    "institutions": INSTITUTIONS,
    "settlement_lists": SETTLEMENT_LISTS,
}
# the 4th character of a CHS-DRG with an MCC (1) or a CC (3)
MCC_CC_DIGITS = ("1", "3")
# the 4th character of a CHS-DRG whose ADRG is split by severity: MCC, CC, neither
SPLIT_DIGITS = ("1", "3", "5")


def tables() -> dict[str, ir.Table]:
    """Unbound tables over the operational schema (the names of ``store/tables.py``)."""
    return {name: ibis.table(schema, name=name) for name, schema in SCHEMAS.items()}


def grouped_lists(t: dict[str, ir.Table], base: ir.Table) -> ir.Table:
    """The settlement lists (4101) grouped into a DRG of the settlements of ``base``
    (``in_force``): ``setl_id``, ``fixmedins_code``, ``drg``, one row per settlement."""
    sl = t["settlement_lists"]
    sl = sl.filter(sl.drg.notnull())
    return (
        sl.join(base, sl.setl_id == base.setl_id)
        .select(base.setl_id, base.fixmedins_code, drg=sl.drg)
        .distinct()
    )


def standardised_lists(t: dict[str, ir.Table], base: ir.Table) -> ir.Table:
    """Per institution with a settlement list of ``base`` in an ADRG split by severity
    (its DRG ends in 1, 3 or 5: a *movable* list): ``movable`` such lists, ``observed``
    of them in the MCC/CC DRG, ``expected`` and ``variance`` under the other
    institutions' rates of their ADRGs (``domain.audit.scores``: p̄, p_a; E = Σ p_a,
    V = Σ p_a (1 − p_a)). Floats: a statistical signal, never money."""
    lists = grouped_lists(t, base)
    grouped = lists.select(
        "fixmedins_code", adrg=lists.drg.substr(0, 3), severity=lists.drg.substr(3, 1)
    )
    movable = grouped.filter(grouped.severity.isin(SPLIT_DIGITS))
    cells = movable.group_by(["fixmedins_code", "adrg"]).agg(
        n=movable.count().cast("float64"),
        m=ibis.ifelse(movable.severity.isin(MCC_CC_DIGITS), 1, 0).sum().cast("float64"),
    )
    per_adrg = cells.group_by("adrg").agg(n_adrg=cells.n.sum(), m_adrg=cells.m.sum())
    own = cells.group_by("fixmedins_code").agg(n_own=cells.n.sum(), m_own=cells.m.sum())
    nation = cells.aggregate(n_all=cells.n.sum(), m_all=cells.m.sum())
    j = cells.join(per_adrg, "adrg").join(own, "fixmedins_code").cross_join(nation)
    pooled = pooled_rate(j.m_all - j.m_own, j.n_all - j.n_own)
    p = adrg_rate(j.m_adrg - j.m, j.n_adrg - j.n, pooled)
    e = j.select("fixmedins_code", "n", "m", expected=j.n * p, variance=j.n * p * (1.0 - p))
    return e.group_by("fixmedins_code").agg(
        movable=e.n.sum(),
        observed=e.m.sum(),
        expected=e.expected.sum(),
        variance=e.variance.sum(),
    )


def case_mix(t: dict[str, ir.Table], base: ir.Table) -> ir.Table:
    """Per institution with a settlement of ``base`` (``in_force``) whose settlement list
    (4101) was grouped into a DRG — not 0000 (ungroupable) nor a QY (歧义) group — its
    level, kind and region, its DRG cases and those in an MCC/CC DRG (the raw share), and
    its ``movable`` lists with their ``observed``, ``expected`` and ``variance``
    (``standardised_lists``; 0 without a movable list): the institution rule
    ``drg_upcoding``'s ``CaseMix``."""
    lists = grouped_lists(t, base)
    lists = lists.filter((lists.drg != "0000") & ~lists.drg.endswith("QY"))  # e.g. BQY
    per = lists.group_by("fixmedins_code").aggregate(
        cases=lists.count(),
        cc_mcc=ibis.ifelse(lists.drg.substr(3, 1).isin(MCC_CC_DIGITS), 1, 0).sum(),
    )
    std = standardised_lists(t, base)
    inst = t["institutions"]
    j = per.left_join(inst, per.fixmedins_code == inst.fixmedins_code).left_join(
        std, per.fixmedins_code == std.fixmedins_code
    )
    return j.select(
        fixmedins_code=per.fixmedins_code,
        level=inst.level.fill_null("9"),
        kind=inst.kind.fill_null("hospital"),
        region=inst.region.fill_null(""),
        cases=per.cases.cast("int64"),
        cc_mcc=per.cc_mcc.cast("int64"),
        movable=std.movable.fill_null(0).cast("int64"),
        observed=std.observed.fill_null(0).cast("int64"),
        expected=std.expected.fill_null(0.0),
        variance=std.variance.fill_null(0.0),
    ).order_by("fixmedins_code")


def naive_day(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Days since 1970-01-01 of a naive local timestamp (visit and charge times)."""
    return (ts.epoch_seconds() // 86400).cast("int32")


def in_force(t: dict[str, ir.Table], first_day: int, last_day: int) -> ir.Table:
    """The settlements in force (originals, not cancelled or voided) settled on China
    days ``first_day``..``last_day`` (days since 1970-01-01), with their visit: one row
    per settlement audited. Times come back as day numbers, so every engine (SQLite has
    no timestamp type) does the same arithmetic."""
    s = t["settlements"]
    day = local_day(s.setl_time)
    s = s.filter((s.status == "valid") & ~s.refd_setl_flag).mutate(setl_day=day)
    s = s.filter((s.setl_day >= first_day) & (s.setl_day <= last_day))
    v = t["visits"]
    j = s.join(v, s.mdtrt_id == v.mdtrt_id)
    return j.select(
        s.setl_id,
        s.mdtrt_id,
        s.psn_no,
        s.setl_day,
        s.medfee,
        s.fixmedins_code,
        s.insutype,
        s.insured_region,
        s.treatment_region,
        v.kind,
        v.med_type,
        v.institution_level,
        begin_day=naive_day(v.begin_time),
        end_day=ibis.ifelse(v.end_time.isnull(), naive_day(v.begin_time), naive_day(v.end_time)),
    )


def _lines(t: dict[str, ir.Table], visits: ir.Table) -> ir.Table:
    f = t["fee_lines"]
    f = f.filter(f.status == "settled")
    return f.join(visits, f.setl_id == visits.setl_id).select(
        visits.mdtrt_id,
        visits.psn_no,
        visits.kind,
        visits.med_type,
        visits.institution_level,
        visits.begin_day,
        visits.end_day,
        code=f.med_list_codg,
        quantity=f.quantity,
        unit_price=f.unit_price,
        charge_day=naive_day(f.fee_ocur_time),
    )


def _scenario(kind: ir.StringValue, med_type: ir.StringValue) -> ir.StringValue:
    return ibis.cases(
        (kind == "inpatient", Scenario.INPATIENT.value),
        (med_type == PHARMACY_MED_TYPE, Scenario.PHARMACY.value),
        else_=Scenario.OUTPATIENT.value,
    )


def _ids(expr: ir.Table) -> ir.Table:
    return expr.select("mdtrt_id").distinct()


def _with_gender(t: dict[str, ir.Table], rows: ir.Table) -> ir.Table:
    p = t["persons"]
    return rows.join(p, rows.psn_no == p.psn_no).select(*rows.columns, p.gender)


def _prefix_any(column: ir.StringValue, prefixes: Sequence[str]) -> ir.BooleanValue:
    return ibis.or_(*(column.startswith(x) for x in sorted(prefixes)))


def candidates(rule: Rule, t: dict[str, ir.Table], visits: ir.Table) -> ir.Table | None:
    """The visits (``mdtrt_id``) a bill rule could find something on; None for a rule this
    layer has no predicate for (it is then checked on every visit of the period)."""
    p = rule.params
    lines = _lines(t, visits)
    if isinstance(p, SexLimit | AgeLimit) and p.target is Target.ITEM:
        hit = lines.filter(lines.code.isin(sorted(p.codes)))
        if isinstance(p, SexLimit):
            g = _with_gender(t, hit)
            hit = g.filter(g.gender != p.gender)
        return _ids(hit)
    if isinstance(p, SexLimit | AgeLimit) and p.target is Target.DIAGNOSIS:
        d = t["diagnoses"]
        d = d.filter(d.valid & _prefix_any(d.diag_code, sorted(p.codes)))
        hit = visits.join(d, visits.mdtrt_id == d.mdtrt_id).select(visits.mdtrt_id, visits.psn_no)
        if isinstance(p, SexLimit):
            g = _with_gender(t, hit)
            hit = g.filter(g.gender != p.gender)
        return _ids(hit)
    if isinstance(p, SexLimit | AgeLimit):
        return visits.filter(ibis.literal(False)).select("mdtrt_id")  # no procedures stored
    if isinstance(p, ScenarioLimit):
        allowed = sorted(s.value for s in p.scenarios)
        hit = lines.filter(
            lines.code.isin(sorted(p.codes)) & ~_scenario(lines.kind, lines.med_type).isin(allowed)
        )
        return _ids(hit)
    if isinstance(p, LevelLimit):
        low = [str(n) for n in range(1, p.min_level)] + ["9"]
        hit = lines.filter(
            lines.code.isin(sorted(p.codes))
            & (lines.institution_level.isin(low) | ~lines.institution_level.isin(["1", "2", "3"]))
        )
        return _ids(hit)
    if isinstance(p, PriceCap):
        over = ibis.or_(
            *(
                (lines.code == code) & (lines.unit_price > cap)
                for code, cap in sorted(p.caps.items())
            )
        )
        return _ids(lines.filter(over))
    if isinstance(p, QuantityLimit | IndicationLimit):
        return _ids(lines.filter(lines.code.isin(sorted(p.codes))))
    if isinstance(p, DuplicateCharge):
        codes = sorted({c for pair in p.pairs for c in pair})
        hit = lines.filter(lines.code.isin(codes))
        per = hit.group_by("mdtrt_id").agg(n=hit.code.nunique())
        return per.filter(per.n >= 2).select("mdtrt_id")
    if isinstance(p, UnbundledCharge):
        hit = lines.filter(lines.code.isin(sorted(p.components)))
        per = hit.group_by("mdtrt_id").agg(n=hit.code.nunique())
        return per.filter(per.n >= p.min_components).select("mdtrt_id")
    if rule.mechanism == "charge_outside_stay":
        stays = lines.filter(lines.kind == "inpatient")
        outside = (stays.charge_day < stays.begin_day) | (stays.charge_day > stays.end_day)
        return _ids(stays.filter(outside))
    if isinstance(p, CostThreshold):
        cross = visits.filter(
            (visits.insured_region != visits.treatment_region) & (visits.medfee > p.threshold)
        )
        return _ids(cross)
    return None


def history_candidates(rule: Rule, t: dict[str, ir.Table], visits: ir.Table) -> ir.Table | None:
    """The persons (``psn_no``) a history rule could find something on, by self-joins of
    each person's visits (few per person), so the domain sees only those persons."""
    p = rule.params
    if isinstance(p, Readmission):
        stays = visits.filter(visits.kind == "inpatient").select(
            "psn_no", "setl_id", "begin_day", "end_day"
        )
        later = stays.view()
        j = stays.join(
            later,
            (stays.psn_no == later.psn_no)
            & (stays.setl_id != later.setl_id)
            & (later.begin_day >= stays.begin_day)
            & (later.begin_day - stays.end_day <= p.days),
        )
        return j.select(stays.psn_no).distinct()
    if isinstance(p, FrequentVisits):
        scenario = _scenario(visits.kind, visits.med_type)
        mine = visits.filter(scenario == p.scenario.value)
        per = mine.group_by("psn_no").agg(n=mine.count())
        return per.filter(per.n > p.max_visits).select("psn_no")
    if rule.mechanism == "overlapping_settlement":
        a = visits.select("psn_no", "setl_id", "fixmedins_code", "kind", "begin_day", "end_day")
        b = a.view()
        j = a.join(
            b,
            (a.psn_no == b.psn_no)
            & (a.fixmedins_code != b.fixmedins_code)
            & (a.kind == "inpatient")
            & (b.begin_day >= a.begin_day)
            & (b.begin_day <= a.end_day),
        )
        return j.select(a.psn_no).distinct()
    return None
