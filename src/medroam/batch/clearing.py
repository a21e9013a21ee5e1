"""The set computations of a clearing run, on clearing lines (see ``batch.lines``).

Every function takes the lines of one run (already selected) and returns an Ibis
expression; nothing loops over settlements in Python. Sums are cast to int64 so that
PostgreSQL's ``numeric`` sums come back as integers.

Tiers (domain-rules §5.1, "国家统一清分、省市分级清算"):

* ``pair_matrix``: the gross matrix by (insured region, treatment region, insutype,
  fund line), inter- and intra-province;
* ``province_positions``: the national clear-split of inter-province amounts, one net
  position per province (receives − pays; they sum to zero);
* ``region_positions``: each province clears down to its pooling regions: the
  inter-province part (settled through the province) and the intra-province part
  (netted inside the province); a province's regions sum to the province's position;
* ``hospital_lines``: what the place of treatment owes each hospital;
* ``hospital_days``: amounts by hospital and settlement day (for advance days).
"""

from __future__ import annotations

from typing import Any

import ibis  # type: ignore[import-untyped]
import ibis.expr.types as ir  # type: ignore[import-untyped]
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]


def with_provinces(lines: ir.Table) -> ir.Table:
    return lines.mutate(
        insured_province=lines.insured_region.substr(0, 2) + "0000",
        treatment_province=lines.treatment_region.substr(0, 2) + "0000",
    )


def _sum(column: ir.IntegerColumn) -> ir.IntegerScalar:
    return column.sum().cast("int64")


def pair_matrix(lines: ir.Table) -> ir.Table:
    """The gross matrix by (insured region, treatment region, insutype, fund line).

    Provinces are added after the aggregation (they are functions of the regions), which
    keeps the grouping keys few; positions depend only on pair totals, so
    ``province_positions`` and ``region_positions`` accept this matrix as well as lines.
    """
    m = lines.group_by("insured_region", "treatment_region", "insutype", "fund_line").agg(
        amount_fen=_sum(lines.amount_fen), line_count=lines.count().cast("int64")
    )
    m = with_provinces(m)
    return m.select(
        "insured_province",
        "treatment_province",
        "insured_region",
        "treatment_region",
        "insutype",
        "fund_line",
        "amount_fen",
        "line_count",
    )


def province_matrix(lines: ir.Table) -> ir.Table:
    """The national gross matrix: inter-province amounts by province pair and fund
    (from lines or from a ``pair_matrix``)."""
    t = with_provinces(lines)
    t = t.filter(t.insured_province != t.treatment_province)
    return t.group_by("insured_province", "treatment_province", "insutype", "fund_line").agg(
        amount_fen=_sum(t.amount_fen)
    )


def province_positions(lines: ir.Table) -> ir.Table:
    """Per province: ``payable`` (its insured treated elsewhere), ``receivable`` (its
    hospitals treating others) and ``net = receivable − payable``, inter-province only.
    ``lines`` may be clearing lines or a ``pair_matrix``."""
    pm = province_matrix(lines)
    pays = pm.group_by(province=pm.insured_province).agg(
        payable=_sum(pm.amount_fen), receivable=ibis.literal(0, "int64")
    )
    gets = pm.group_by(province=pm.treatment_province).agg(
        payable=ibis.literal(0, "int64"), receivable=_sum(pm.amount_fen)
    )
    both = pays.union(gets)
    out = both.group_by("province").agg(
        payable=_sum(both.payable), receivable=_sum(both.receivable)
    )
    return out.mutate(net=(out.receivable - out.payable).cast("int64"))


def region_positions(lines: ir.Table) -> ir.Table:
    """Per pooling region: inter- and intra-province payable / receivable and the net.

    ``inter_net`` of a province's regions sums to that province's national position;
    ``intra_net`` sums to zero inside each province. ``lines`` may be clearing lines or
    a ``pair_matrix``.
    """
    t = with_provinces(lines)
    inter = t.insured_province != t.treatment_province
    zero = ibis.literal(0, "int64")
    amount = t.amount_fen
    pays = t.select(
        region=t.insured_region,
        province=t.insured_province,
        inter_payable=ibis.ifelse(inter, amount, zero),
        inter_receivable=zero,
        intra_payable=ibis.ifelse(inter, zero, amount),
        intra_receivable=zero,
    )
    gets = t.select(
        region=t.treatment_region,
        province=t.treatment_province,
        inter_payable=zero,
        inter_receivable=ibis.ifelse(inter, amount, zero),
        intra_payable=zero,
        intra_receivable=ibis.ifelse(inter, zero, amount),
    )
    both = pays.union(gets, distinct=False)
    out = both.group_by("province", "region").agg(
        inter_payable=_sum(both.inter_payable),
        inter_receivable=_sum(both.inter_receivable),
        intra_payable=_sum(both.intra_payable),
        intra_receivable=_sum(both.intra_receivable),
    )
    return out.mutate(
        inter_net=(out.inter_receivable - out.inter_payable).cast("int64"),
        intra_net=(out.intra_receivable - out.intra_payable).cast("int64"),
        net=(
            out.inter_receivable + out.intra_receivable - out.inter_payable - out.intra_payable
        ).cast("int64"),
    )


def _counted(lines: ir.Table) -> ir.IntegerValue:
    """What a line adds to its hospital's settlements (人次): its settlement's head line
    counts +1, or −1 for the reverse record of a cancellation; case adjustments
    (``refd_setl_flag`` 2) and other lines count 0."""
    sign = ibis.cases((lines.refd_setl_flag == 1, -1), (lines.refd_setl_flag == 2, 0), else_=1)
    return lines.head_line.cast("int64") * sign


def hospital_lines(lines: ir.Table) -> ir.Table:
    """What the place of treatment owes each hospital, by clearing category and fund, with
    the settlements (人次) those lines count (see ``hospital_settlements_of``)."""
    return lines.group_by(
        "treatment_region", "fixmedins_code", "insutype", "clr_type", "fund_line"
    ).agg(
        amount_fen=_sum(lines.amount_fen),
        line_count=lines.count().cast("int64"),
        settlements=_sum(_counted(lines)),
    )


def hospital_settlements(lines: ir.Table) -> ir.Table:
    """Settlements (人次) per hospital, net of reverse records: a sum over the lines
    (``head_line``), no grouping by settlement. A run gets the same figures, without a scan
    of its own, from its ``hospital_lines`` (``hospital_settlements_of``)."""
    return lines.group_by("treatment_region", "fixmedins_code").agg(
        settlements=_sum(_counted(lines))
    )


def hospital_settlements_of(hospital_rows: pa.Table) -> pa.Table:
    """``hospital_settlements`` from the result of ``hospital_lines`` (its rows are a
    partition of each hospital's lines, so their counts add up)."""
    out = hospital_rows.group_by(["treatment_region", "fixmedins_code"]).aggregate(
        [("settlements", "sum")]
    )
    return pa.table(
        {
            "treatment_region": out["treatment_region"],
            "fixmedins_code": out["fixmedins_code"],
            "settlements": out["settlements_sum"].cast(pa.int64()),
        }
    )


def hospital_days(lines: ir.Table) -> ir.Table:
    """Amounts by hospital and settlement day: the input of advance days."""
    return lines.group_by("treatment_region", "fixmedins_code", "setl_day").agg(
        amount_fen=_sum(lines.amount_fen)
    )


def totals(lines: ir.Table) -> ir.Table:
    """One row: amount, lines and settlements of the run (a checksum of its input)."""
    return lines.aggregate(
        amount_fen=_sum(lines.amount_fen),
        line_count=lines.count().cast("int64"),
        abs_fen=_sum(lines.amount_fen.abs()),
        max_day=lines.setl_day.max(),
        min_day=lines.setl_day.min(),
    )


# --- the totals folded into the matrix --------------------------------------------------
#
# ``matrix_with_totals`` is the pair matrix whose rows also carry the absolute amount and
# the first and last day of their lines, so the run's totals are sums / min / max over the
# matrix (``totals_from_matrix``) instead of a scan of their own: four scans of the lines
# per run instead of five. (Settlements per hospital still group by settlement: see
# docs/performance.md, "Clearing", for what that costs and what would remove it.)


def matrix_with_totals(lines: ir.Table) -> ir.Table:
    """``pair_matrix`` plus ``abs_fen``, ``min_day`` and ``max_day`` per row."""
    m = lines.group_by("insured_region", "treatment_region", "insutype", "fund_line").agg(
        amount_fen=_sum(lines.amount_fen),
        line_count=lines.count().cast("int64"),
        abs_fen=_sum(lines.amount_fen.abs()),
        min_day=lines.setl_day.min(),
        max_day=lines.setl_day.max(),
    )
    m = with_provinces(m)
    return m.select(
        "insured_province",
        "treatment_province",
        "insured_region",
        "treatment_region",
        "insutype",
        "fund_line",
        "amount_fen",
        "line_count",
        "abs_fen",
        "min_day",
        "max_day",
    )


MATRIX_COLUMNS = (
    "insured_province",
    "treatment_province",
    "insured_region",
    "treatment_region",
    "insutype",
    "fund_line",
    "amount_fen",
    "line_count",
)


def totals_from_matrix(matrix: pa.Table) -> dict[str, Any]:
    """The row of ``totals`` from the result of ``matrix_with_totals`` (None when empty,
    as SQL's SUM / MIN / MAX of no rows). Computed on the Arrow columns: turning a
    national month's 1.4 M matrix rows into Python dicts took 6 s and 1.5 GB."""
    if matrix.num_rows == 0:
        return {
            "amount_fen": None,
            "line_count": 0,
            "abs_fen": None,
            "max_day": None,
            "min_day": None,
        }

    def total(column: str, how: str) -> int:
        value = getattr(pc, how)(matrix[column]).as_py()
        return int(value)

    return {
        "amount_fen": total("amount_fen", "sum"),
        "line_count": total("line_count", "sum"),
        "abs_fen": total("abs_fen", "sum"),
        "max_day": total("max_day", "max"),
        "min_day": total("min_day", "min"),
    }
