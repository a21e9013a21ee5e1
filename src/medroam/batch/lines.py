"""Clearing lines: the one flat input of every clearing computation.

One row per (settlement, fund line) of a cross-region settlement::

    setl_id           string   the settlement (a cancellation is its own settlement)
    setl_day          int32    local settlement date (UTC+8) as days since 1970-01-01
    insured_region    string   参保地 pooling region (6 digits)
    treatment_region  string   就医地 pooling region (6 digits)
    fixmedins_code    string   the hospital or pharmacy that advanced the money
    insutype          string   险种 (310 / 390 ...)
    clr_type          string   清算类别 (11 / 21 / 41 ...)
    fund_pay_type     string   基金支付类型 (310200 for the account, 310200MA mutual aid)
    fund_line         string   FundLine (basic, critical, assistance, account, ...)
    amount_fen        int64    paid by that fund; cancellation rows carry negated amounts
    refd_setl_flag    int8     1 for the reverse record of a cancellation, 2 for a case
                               adjustment (拒付 / 追回 of a supervision case; ``setl_id``
                               is then the case id, ``amount_fen`` negative)
    state             string   reconciliation state: NULL (not proposed), proposed,
                               confirmed, disputed, withdrawn
    state_day         int32    day of the last state change (days since 1970-01-01)
    run_id            string   the clearing run that cleared the line, NULL if none
    head_line         int8     1 on exactly one line of each settlement (the line that
                               counts it in 人次), 0 elsewhere and on case adjustments

Mutual aid (``310200MA``): the part of ``acct_mulaid_pay`` that a relative's grant paid
(``mutual_aid_draws``, services/mutual_aid.py) is one line per holder region with
``insured_region`` = the **holder's** place of insurance, which pays it; any rest (quota
not backed by a grant) is a line of the beneficiary's place of insurance, as before.

Which line is the head line: the settlement's first fund line (lowest ``fund_pay_type``);
without fund lines, its personal-account line; without either, its first mutual-aid line
(the beneficiary's own rest if any, else the lowest holder region). So a
settlement whose mutual-aid line is cleared by the monthly mutual-aid run and its other
lines by another run counts once, in the run of its fund lines. With the flag, settlements
per hospital are a sum over lines (``batch.clearing.hospital_lines``), never a grouping
by settlement: that grouping was the costliest query of a run (docs/performance.md).

Days are integers so that every engine does the same arithmetic (SQLite cannot add
intervals to timestamps in Ibis); :func:`epoch_day` / :func:`day_date` convert.
The same columns are written to Parquet by ``services.clearing.export_lines`` and read
back by DuckDB, so a computation runs unchanged on either.
"""

from __future__ import annotations

from datetime import date, timedelta

import ibis  # type: ignore[import-untyped]
import ibis.expr.types as ir  # type: ignore[import-untyped]

from medroam.domain.clearing.funds import (
    EXACT,
    MUTUAL_AID_FUND_PAY_TYPE,
    PREFIXES,
    FundLine,
)
from medroam.domain.clearing.params import MonthBasis

EPOCH = date(1970, 1, 1)
LOCAL_OFFSET_SECONDS = 8 * 3600  # China Standard Time, no daylight saving

LINE_SCHEMA = ibis.schema(
    {
        "setl_id": "string",
        "setl_day": "int32",
        "insured_region": "string",
        "treatment_region": "string",
        "fixmedins_code": "string",
        "insutype": "string",
        "clr_type": "string",
        "fund_pay_type": "string",
        "fund_line": "string",
        "amount_fen": "int64",
        "refd_setl_flag": "int8",
        "state": "string",
        "state_day": "int32",
        "run_id": "string",
        "head_line": "int8",
    }
)
LINE_COLUMNS = tuple(LINE_SCHEMA.names)

# The operational tables the view reads (only the columns it needs).
SETTLEMENTS_SCHEMA = ibis.schema(
    {
        "setl_id": "string",
        "setl_time": "timestamp",
        "insutype": "string",
        "clr_type": "string",
        "fixmedins_code": "string",
        "insured_region": "string",
        "treatment_region": "string",
        "cross_region": "string",
        "status": "string",
        "refd_setl_flag": "boolean",
        "medfee": "int64",
        "fund_total": "int64",
        "account": "int64",
        "mutual_aid": "int64",
    }
)
DETAILS_SCHEMA = ibis.schema(
    {"setl_id": "string", "seq": "int32", "fund_pay_type": "string", "paid": "int64"}
)
# Which grant paid how much of a settlement's mutual aid (``mutual_aid_draws``).
DRAWS_SCHEMA = ibis.schema(
    {
        "setl_id": "string",
        "grant_id": "string",
        "holder_psn_no": "string",
        "holder_region": "string",
        "amount": "int64",
    }
)
ITEMS_SCHEMA = ibis.schema(
    {
        "setl_id": "string",
        "setl_day": "int32",
        "state": "string",
        "state_day": "int32",
        "cleared_run_id": "string",
        "mulaid_run_id": "string",
    }
)

# Clearing adjustments of supervision cases (``case_adjustments``, store/case_tables.py).
ADJUSTMENTS_SCHEMA = ibis.schema(
    {
        "case_id": "string",
        "setl_id": "string",
        "fixmedins_code": "string",
        "insured_region": "string",
        "treatment_region": "string",
        "fund_pay_type": "string",
        "amount": "int64",
        "created_at": "timestamp",
        "run_id": "string",
    }
)
ADJUSTMENT_FLAG = 2

# A stored gross matrix (``clearing_run_matrix``): positions are computed from it.
MATRIX_SCHEMA = ibis.schema(
    {
        "run_id": "string",
        "insured_province": "string",
        "treatment_province": "string",
        "insured_region": "string",
        "treatment_region": "string",
        "insutype": "string",
        "fund_line": "string",
        "amount_fen": "int64",
        "line_count": "int64",
    }
)


def epoch_day(day: date) -> int:
    return (day - EPOCH).days


def day_date(day: int) -> date:
    return EPOCH + timedelta(days=day)


def local_day(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Days since 1970-01-01 of the local (UTC+8) date of a naive-UTC timestamp."""
    seconds = ts.epoch_seconds() + LOCAL_OFFSET_SECONDS
    return (seconds // 86400).cast("int32")


def fund_line_expr(fund_pay_type: ir.StringValue) -> ir.StringValue:
    """The fund line of a ``fund_pay_type`` (same rules as ``funds.fund_line_of``)."""
    branches: list[tuple[ir.BooleanValue, str]] = [
        (fund_pay_type == code, line.value) for code, line in EXACT.items()
    ]
    for prefix, line in sorted(PREFIXES, key=lambda p: -len(p[0])):
        branches.append((fund_pay_type.startswith(prefix), line.value))
    return ibis.cases(*branches, else_=FundLine.OTHER.value)


def settlement_lines(
    settlements: ir.Table,
    details: ir.Table,
    items: ir.Table | None = None,
    draws: ir.Table | None = None,
) -> ir.Table:
    """The clearing lines of the operational tables (cross-region settlements only).

    Fund lines come from ``settlement_details`` (the account row left out); the personal
    account (``account − mutual_aid``) and the mutual-aid part come
    from the settlement row, so they are right whether or not the details list them.
    Voided reverse records (undone by a 2601) are left out; a cancelled original and its
    reverse record both stay, each in its own period. With ``draws`` the mutual-aid part
    is split by the holder's region (see the module's docstring).
    """
    s = settlements.filter((settlements.cross_region != "local") & (settlements.status != "voided"))
    base = s.select(
        setl_id=s.setl_id,
        setl_day=local_day(s.setl_time),
        insured_region=s.insured_region,
        treatment_region=s.treatment_region,
        fixmedins_code=s.fixmedins_code,
        insutype=s.insutype,
        clr_type=s.clr_type,
        refd_setl_flag=ibis.ifelse(s.refd_setl_flag, 1, 0).cast("int8"),
        account=s.account - s.mutual_aid,
        mutual_aid=s.mutual_aid,
    )
    excluded = ["310200", MUTUAL_AID_FUND_PAY_TYPE]
    d = details.filter(~details.fund_pay_type.isin(excluded) & (details.paid != 0))
    d = d.group_by(d.setl_id, d.fund_pay_type).agg(amount_fen=d.paid.sum().cast("int64"))
    # the head line (see the module's docstring): the first fund line, if any
    first = d.group_by(d.setl_id).agg(first_fund=d.fund_pay_type.min())
    base = base.left_join(first, base.setl_id == first.setl_id).select(
        *base.columns, first_fund=first.first_fund
    )
    one, zero = ibis.literal(1, "int8"), ibis.literal(0, "int8")
    no_funds = base.first_fund.isnull()
    keys = [
        "setl_id",
        "setl_day",
        "insured_region",
        "treatment_region",
        "fixmedins_code",
        "insutype",
        "clr_type",
        "refd_setl_flag",
    ]
    funds = base.join(d, "setl_id").select(
        *keys,
        fund_pay_type=d.fund_pay_type,
        fund_line=fund_line_expr(d.fund_pay_type),
        amount_fen=d.amount_fen,
        head_line=ibis.ifelse(d.fund_pay_type == base.first_fund, one, zero),
    )
    accounts = base.filter(base.account != 0).select(
        *keys,
        fund_pay_type=ibis.literal("310200"),
        fund_line=ibis.literal(FundLine.ACCOUNT.value),
        amount_fen=base.account.cast("int64"),
        head_line=ibis.ifelse(no_funds, one, zero),
    )
    if draws is None:
        aid = base.filter(base.mutual_aid != 0).select(
            *keys,
            fund_pay_type=ibis.literal(MUTUAL_AID_FUND_PAY_TYPE),
            fund_line=ibis.literal(FundLine.MUTUAL_AID.value),
            amount_fen=base.mutual_aid.cast("int64"),
            head_line=ibis.ifelse(no_funds & (base.account == 0), one, zero),
        )
    else:
        aid = _aid_lines(base.filter(base.mutual_aid != 0), draws, keys)
    lines = funds.union(accounts).union(aid)
    if items is None:
        return lines.select(
            *lines.columns,
            state=ibis.null("string"),
            state_day=ibis.null("int32"),
            run_id=ibis.null("string"),
        ).select(*LINE_COLUMNS)
    joined = lines.left_join(items, lines.setl_id == items.setl_id)
    return joined.select(
        *[lines[c] for c in lines.columns],
        state=items.state,
        state_day=items.state_day,
        run_id=ibis.ifelse(
            lines.fund_line == FundLine.MUTUAL_AID.value,
            items.mulaid_run_id,
            items.cleared_run_id,
        ),
    ).select(*LINE_COLUMNS)


def _aid_lines(base: ir.Table, draws: ir.Table, keys: list[str]) -> ir.Table:
    """Mutual-aid lines: one per holder region of the settlement's draws, and the rest
    (``mutual_aid − Σ draws``) on the beneficiary's own place of insurance."""
    one, zero = ibis.literal(1, "int8"), ibis.literal(0, "int8")
    by_region = draws.group_by(draws.setl_id, draws.holder_region).agg(
        drawn=draws.amount.sum().cast("int64")
    )
    per_setl = by_region.group_by(by_region.setl_id).agg(
        drawn_total=by_region.drawn.sum().cast("int64"),
        first_region=by_region.holder_region.min(),
    )
    b = base.left_join(per_setl, base.setl_id == per_setl.setl_id).select(
        *base.columns,
        drawn_total=per_setl.drawn_total.fill_null(0),
        first_region=per_setl.first_region,
    )
    rest = b.mutual_aid - b.drawn_total
    may_head = b.first_fund.isnull() & (b.account == 0)
    own = b.filter(rest != 0).select(
        *keys,
        fund_pay_type=ibis.literal(MUTUAL_AID_FUND_PAY_TYPE),
        fund_line=ibis.literal(FundLine.MUTUAL_AID.value),
        amount_fen=rest.cast("int64"),
        head_line=ibis.ifelse(may_head, one, zero),
    )
    j = b.join(by_region, b.setl_id == by_region.setl_id).filter(by_region.drawn != 0)
    held = j.select(
        *[j[k] for k in keys if k != "insured_region"],
        insured_region=j.holder_region,
        fund_pay_type=ibis.literal(MUTUAL_AID_FUND_PAY_TYPE),
        fund_line=ibis.literal(FundLine.MUTUAL_AID.value),
        amount_fen=j.drawn,
        head_line=ibis.ifelse(
            j.first_fund.isnull()
            & (j.account == 0)
            & (j.mutual_aid == j.drawn_total)
            & (j.holder_region == j.first_region),
            one,
            zero,
        ),
    )
    return own.union(held.select(*own.columns))


def adjustment_lines(adjustments: ir.Table, settlements: ir.Table) -> ir.Table:
    """The clearing lines of supervision-case adjustments (cross-region only).

    One line per (case, fund_pay_type), negative: the hospital is paid that much less
    and the place of insurance pays that much less. Decided jointly, an adjustment needs
    no reconciliation: it is ``confirmed`` on the day of the decision (local date), which
    is also its ``setl_day``; ``run_id`` is the run that took it. ``setl_id`` is the case
    id and ``refd_setl_flag`` is 2, so a hospital's settlement count does not change.
    """
    a = adjustments.filter(adjustments.insured_region != adjustments.treatment_region)
    s = settlements.select("setl_id", "insutype", "clr_type")
    j = a.join(s, "setl_id")
    day = local_day(j.created_at)
    return j.select(
        setl_id=j.case_id,
        setl_day=day,
        insured_region=j.insured_region,
        treatment_region=j.treatment_region,
        fixmedins_code=j.fixmedins_code,
        insutype=j.insutype,
        clr_type=j.clr_type,
        fund_pay_type=j.fund_pay_type,
        fund_line=fund_line_expr(j.fund_pay_type),
        amount_fen=j.amount.cast("int64"),
        refd_setl_flag=ibis.literal(ADJUSTMENT_FLAG, "int8"),
        state=ibis.literal("confirmed", "string"),
        state_day=day,
        run_id=j.run_id,
        head_line=ibis.literal(0, "int8"),
    ).select(*LINE_COLUMNS)


def basis_day(table: ir.Table, basis: MonthBasis) -> ir.IntegerValue:
    return table.setl_day if basis is MonthBasis.SETTLEMENT else table.state_day


def eligible(table: ir.Table, end_day: int, basis: MonthBasis, run_column: str) -> ir.Table:
    """Rows that a run ending on ``end_day`` clears: confirmed by the place of insurance,
    not cleared yet, and dated (settlement or confirmation day) on or before the end.

    Works on clearing lines (``run_column="run_id"``) and on the reconciliation items
    table (``cleared_run_id`` / ``mulaid_run_id``), so marking and computing agree.
    Confirmed lines of earlier periods (a dispute resolved late) are swept into the
    first run after their confirmation: that is how disputed items carry over.
    """
    return table.filter(
        (table.state == "confirmed")
        & table[run_column].isnull()
        & (basis_day(table, basis) <= end_day)
    )


def in_fund_lines(lines: ir.Table, fund_lines: frozenset[FundLine]) -> ir.Table:
    return lines.filter(lines.fund_line.isin(sorted(f.value for f in fund_lines)))
