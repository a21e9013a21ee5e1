"""Reconciliation and clearing (national-interface §4.9, §7.4): 3201 totals, 3202
details, 3203 clearing application, 3204 its cancellation.

The centre's side of every comparison is the caller's settlements (and their reverse
records) whose ``setl_time`` lies in the window, local dates from 00:00:00 of the first
day to 23:59:59 of the last, filtered by ``clr_type`` and by ``setl_optins`` (the
``clr_optins`` each settlement returned). Voided reverse records (undone by 2601) never
count; an original and its reverse record both count, so their amounts net out.

``refd_setl_flag`` (退费结算标志) of 3201/3202: ``1`` (the default) — the institution's
figures include refund and reversal records; ``0`` — they do not, and the centre leaves
its reverse records out too.

A settlement reversed by 2601 and the reverse record the 2601 wrote are void for 3201/3202
under either flag: the HIS drops a reversed settlement from its book (the reversal makes
it as if it never happened), whereas a 2208/2305 cancellation is a refund it keeps.

3203 is checked against the same figures: an application that does not match the
centre's settlements of its period is refused, naming each differing figure, and so is a
second application in force for the same month and ``clr_type``.
"""

from __future__ import annotations

import calendar
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, not_, select
from sqlalchemy.orm import Session, aliased

from medroam.domain.money import fen_to_yuan
from medroam.gateway.errors import BusinessError, ForbiddenError, InputError
from medroam.gateway.handlers.files import (
    file_info,
    load_file,
    read_zip_table,
    store_file,
    zip_table,
)
from medroam.gateway.reader import Node
from medroam.gateway.registry import RequestContext, handler
from medroam.gateway.settings import CHINA_TZ
from medroam.refdata.code_tables import load_code_tables
from medroam.store.tables import (
    CLEARING_OPEN,
    ClearingApplicationRow,
    MessageLogRow,
    SettlementRow,
)

COUNTED_STATUSES = ("valid", "cancelled")
MAX_FEN = 10**16  # N(16,2): at most 14 integer digits
DETAIL_COLUMNS = (
    "setl_id",
    "mdtrt_id",
    "psn_no",
    "medfee_sumamt",
    "fund_pay_sumamt",
    "acct_pay",
    "refd_setl_flag",
)
RESULT_COLUMNS = (
    "psn_no",
    "mdtrt_id",
    "setl_id",
    "msgid",
    "stmt_rslt",
    "refd_setl_flag",
    "memo",
    "medfee_sumamt",
    "fund_pay_sumamt",
    "acct_pay",
)
BALANCED, UNBALANCED = "0", "1"


def _amount(node: Node, key: str, *, allow_negative: bool = True) -> int:
    fen = node.money(key, allow_negative=allow_negative)
    if abs(fen) >= MAX_FEN:
        raise InputError(f"{node.path}.{key}: more than 14 integer digits")
    return fen


def _count(node: Node, key: str, digits: int) -> int:
    value = node.integer(key)
    if not 0 <= value < 10**digits:
        raise InputError(f"{node.path}.{key}: must be a count of 0 to {10**digits - 1}")
    return value


def _code(node: Node, key: str, table: str, *, required: bool = True) -> str:
    return node.code(key, (v.value for v in load_code_tables().values(table)), required=required)


def _utc_window(begin: date, end: date) -> tuple[datetime, datetime]:
    """[begin 00:00:00, end + 1 day 00:00:00) local time, as aware datetimes."""
    lo = datetime.combine(begin, time.min, CHINA_TZ)
    hi = datetime.combine(end + timedelta(days=1), time.min, CHINA_TZ)
    return lo, hi


def _window(node: Node, begin_key: str, end_key: str) -> tuple[date, date]:
    begin = node.req_day(begin_key)
    end = node.req_day(end_key)
    if end < begin:
        raise InputError(f"{node.path}.{end_key}: {end} is before {begin_key} {begin}")
    if (end - begin).days > 366:
        raise InputError(f"{node.path}.{end_key}: the window is longer than a year")
    return begin, end


def _yuan(fen: int) -> str:
    return str(fen_to_yuan(fen))


def _scope(
    ctx: RequestContext,
    *,
    clr_type: str,
    setl_optins: str,
    begin: date,
    end: date,
    with_reversals: bool,
    insutype: str | None = None,
) -> ColumnElement[bool]:
    lo, hi = _utc_window(begin, end)
    conditions = [
        SettlementRow.fixmedins_code == ctx.institution.code,
        SettlementRow.clr_type == clr_type,
        SettlementRow.clr_optins == setl_optins,
        SettlementRow.setl_time >= lo,
        SettlementRow.setl_time < hi,
        SettlementRow.status.in_(COUNTED_STATUSES),
    ]
    if insutype is not None:
        conditions.append(SettlementRow.insutype == insutype)
    conditions.append(not_(_reversed_by_2601(ctx.institution.code)))
    if not with_reversals:
        conditions.append(SettlementRow.refd_setl_flag.is_(False))
    return and_(*conditions)


REVERSAL = "2601"


def _reversal_msgids(fixmedins_code: str) -> Any:
    """The msgids of the institution's 2601 reversals (the reverse records they wrote
    carry them as ``medins_setl_id``)."""
    return select(MessageLogRow.msgid).where(
        MessageLogRow.fixmedins_code == fixmedins_code, MessageLogRow.infno == REVERSAL
    )


def _reversed_by_2601(fixmedins_code: str) -> ColumnElement[bool]:
    """A settlement reversed by 2601, or the reverse record a 2601 wrote: void for 3201/
    3202 under either ``refd_setl_flag``, since the HIS drops the reversed settlement from
    its book (a reversal means "as if it never happened"), unlike a 2208/2305 refund."""
    reverse = aliased(SettlementRow)
    msgids = _reversal_msgids(fixmedins_code)
    return (
        SettlementRow.refd_setl_flag.is_(True) & SettlementRow.medins_setl_id.in_(msgids)
    ) | SettlementRow.setl_id.in_(
        select(reverse.reverses_setl_id).where(
            reverse.fixmedins_code == fixmedins_code,
            reverse.refd_setl_flag.is_(True),
            reverse.medins_setl_id.in_(msgids),
        )
    )


def reversal_of(session: Session, fixmedins_code: str, setl_id: str) -> tuple[str, str] | None:
    """(reverse record's setl_id, the infno that wrote it: 2601, 2208 or 2305) of a
    cancelled settlement, or ``None``."""
    row = session.execute(
        select(SettlementRow.setl_id, MessageLogRow.infno)
        .join(
            MessageLogRow,
            and_(
                MessageLogRow.fixmedins_code == SettlementRow.fixmedins_code,
                MessageLogRow.msgid == SettlementRow.medins_setl_id,
            ),
            isouter=True,
        )
        .where(
            SettlementRow.fixmedins_code == fixmedins_code,
            SettlementRow.reverses_setl_id == setl_id,
            SettlementRow.status == "valid",
        )
    ).first()
    return None if row is None else (str(row[0]), str(row[1] or ""))


@dataclass(frozen=True, slots=True)
class Totals:
    count: int
    medfee: int
    fund: int
    account: int
    cash: int
    personal: int
    in_force: int  # settlements in force: originals not cancelled


def _totals(ctx: RequestContext, where: ColumnElement[bool]) -> Totals:
    row = ctx.session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(SettlementRow.medfee), 0),
            func.coalesce(func.sum(SettlementRow.fund_total), 0),
            func.coalesce(func.sum(SettlementRow.account), 0),
            func.coalesce(func.sum(SettlementRow.cash), 0),
            func.coalesce(func.sum(SettlementRow.personal), 0),
            func.coalesce(
                func.sum(
                    case(
                        (
                            and_(
                                SettlementRow.status == "valid",
                                SettlementRow.refd_setl_flag.is_(False),
                            ),
                            1,
                        ),
                        else_=0,
                    )
                ),
                0,
            ),
        ).where(where)
    ).one()
    return Totals(*(int(v) for v in row))


def _differences(pairs: Sequence[tuple[str, int, int, bool]]) -> list[str]:
    """``name theirs vs centre ours`` for each differing figure (money when flagged)."""
    out = []
    for name, theirs, ours, money in pairs:
        if theirs != ours:
            shown = (_yuan(theirs), _yuan(ours)) if money else (str(theirs), str(ours))
            out.append(f"{name} {shown[0]} vs centre {shown[1]}")
    return out


# --- 3201 --------------------------------------------------------------------------------


@handler("3201", "医药机构费用结算对总账", state_changing=False)
def total_reconciliation(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    data = inp.node("data")
    insutype = _code(data, "insutype", "insutype")
    clr_type = _code(data, "clr_type", "clr_type")
    setl_optins = data.region("setl_optins")
    begin, end = _window(data, "stmt_begndate", "stmt_enddate")
    medfee = _amount(data, "medfee_sumamt")
    fund = _amount(data, "fund_pay_sumamt")
    account = _amount(data, "acct_pay")
    count = _count(data, "fixmedins_setl_cnt", 10)
    with_reversals = data.flag("refd_setl_flag", default="1") == "1"
    data.flag("fixmedins_refd_setl_flag")
    centre = _totals(
        ctx,
        _scope(
            ctx,
            clr_type=clr_type,
            setl_optins=setl_optins,
            begin=begin,
            end=end,
            with_reversals=with_reversals,
            insutype=insutype,
        ),
    )
    diffs = _differences(
        [
            ("medfee_sumamt", medfee, centre.medfee, True),
            ("fund_pay_sumamt", fund, centre.fund, True),
            ("acct_pay", account, centre.account, True),
            ("fixmedins_setl_cnt", count, centre.count, False),
        ]
    )
    if diffs:
        result, text = UNBALANCED, "不平 (not balanced): " + "; ".join(diffs)
    else:
        result = BALANCED
        text = (
            f"平 (balanced): {centre.count} settlements, medfee_sumamt {_yuan(centre.medfee)}, "
            f"fund_pay_sumamt {_yuan(centre.fund)}, acct_pay {_yuan(centre.account)}"
        )
    return {
        "stmtinfo": {
            "setl_optins": setl_optins,
            "stmt_rslt": result,
            "stmt_rslt_dscr": text[:200],
        }
    }


# --- 3202 --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Line:
    setl_id: str
    mdtrt_id: str
    psn_no: str
    medfee: int
    fund: int
    account: int
    refunded: str  # "0" / "1"


def _parse_amount(cell: str, where: str) -> int:
    try:
        d = Decimal(cell)
    except InvalidOperation:
        raise InputError(f"{where}: {cell[:20]!r} is not an amount") from None
    if not d.is_finite() or d != d.quantize(Decimal("0.01")) or abs(d) >= MAX_FEN / 100:
        raise InputError(f"{where}: {cell[:20]!r} is not an amount with at most 2 decimals")
    return int(d * 100)


def _parse_lines(rows: list[list[str]], what: str) -> list[_Line]:
    lines = []
    for number, cells in enumerate(rows, start=1):
        where = f"{what} row {number}"
        if len(cells) < len(DETAIL_COLUMNS):
            raise InputError(
                f"{where}: {len(cells)} columns, expected {len(DETAIL_COLUMNS)} "
                f"({', '.join(DETAIL_COLUMNS)})"
            )
        setl_id, mdtrt_id, psn_no = cells[0], cells[1], cells[2]
        if not setl_id:
            raise InputError(f"{where}: setl_id is empty")
        flag = cells[6] or "0"
        if flag not in ("0", "1"):
            raise InputError(f"{where}: refd_setl_flag must be 0 or 1, got {flag[:10]!r}")
        lines.append(
            _Line(
                setl_id=setl_id[:30],
                mdtrt_id=mdtrt_id[:30],
                psn_no=psn_no[:30],
                medfee=_parse_amount(cells[3], f"{where}: medfee_sumamt"),
                fund=_parse_amount(cells[4], f"{where}: fund_pay_sumamt"),
                account=_parse_amount(cells[5], f"{where}: acct_pay"),
                refunded=flag,
            )
        )
    return lines


def _centre_row(s: SettlementRow, memo: str, result: str) -> list[Any]:
    return [
        s.psn_no,
        s.mdtrt_id,
        s.setl_id,
        s.medins_setl_id,
        result,
        "1" if s.refd_setl_flag else "0",
        memo,
        _yuan(s.medfee),
        _yuan(s.fund_total),
        _yuan(s.account),
    ]


@handler("3202", "医药机构费用结算对明细账", state_changing=True)
def detail_reconciliation(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    data = inp.node("data")
    setl_optins = data.region("setl_optins")
    file_qury_no = data.text("file_qury_no", max_len=40)
    begin, end = _window(data, "stmt_begndate", "stmt_enddate")
    _amount(data, "medfee_sumamt")
    _amount(data, "fund_pay_sumamt")
    _amount(data, "cash_payamt")
    _count(data, "fixmedins_setl_cnt", 10)
    clr_type = _code(data, "clr_type", "clr_type")
    with_reversals = data.flag("refd_setl_flag", default="1") == "1"
    data.flag("fixmedins_refd_setl_flag")

    uploaded = load_file(ctx, file_qury_no, f"{data.path}.file_qury_no")
    what = f"file {file_qury_no}"
    lines = _parse_lines(read_zip_table(uploaded.content, what), what)

    centre = list(
        ctx.session.scalars(
            select(SettlementRow)
            .where(
                _scope(
                    ctx,
                    clr_type=clr_type,
                    setl_optins=setl_optins,
                    begin=begin,
                    end=end,
                    with_reversals=with_reversals,
                )
            )
            .order_by(SettlementRow.setl_time, SettlementRow.setl_id)
        )
    )
    # A reverse record is found by its own setl_id or by the original's (the HIS sends a
    # refund as the original's setl_id with refd_setl_flag 1).
    by_key: dict[tuple[str, str], list[SettlementRow]] = {}
    for s in centre:
        flag = "1" if s.refd_setl_flag else "0"
        by_key.setdefault((s.setl_id, flag), []).append(s)
        if s.refd_setl_flag and s.reverses_setl_id:
            by_key.setdefault((s.reverses_setl_id, "1"), []).append(s)

    out: list[list[Any]] = []
    seen: set[str] = set()
    seen_keys: set[tuple[str, str]] = set()
    differing = 0
    for line in lines:
        key = (line.setl_id, line.refunded)
        candidates = [s for s in by_key.get(key, []) if s.setl_id not in seen]
        if key in seen_keys and not candidates:
            differing += 1
            out.append(_line_row(line, UNBALANCED, "duplicate row of the file"))
            continue
        seen_keys.add(key)
        if not candidates:
            differing += 1
            out.append(_line_row(line, UNBALANCED, "the centre holds no such settlement"))
            continue
        s = candidates[0]
        seen.add(s.setl_id)
        diffs = _differences(
            [
                ("medfee_sumamt", line.medfee, s.medfee, True),
                ("fund_pay_sumamt", line.fund, s.fund_total, True),
                ("acct_pay", line.account, s.account, True),
            ]
        )
        if line.mdtrt_id and line.mdtrt_id != s.mdtrt_id:
            diffs.append(f"mdtrt_id {line.mdtrt_id} vs centre {s.mdtrt_id}")
        if line.psn_no and line.psn_no != s.psn_no:
            diffs.append(f"psn_no {line.psn_no} vs centre {s.psn_no}")
        if diffs:
            differing += 1
        out.append(_centre_row(s, "; ".join(diffs), UNBALANCED if diffs else BALANCED))
    for s in centre:
        if s.setl_id not in seen:
            differing += 1
            out.append(_centre_row(s, "not in the institution's file", UNBALANCED))

    local = ctx.now.astimezone(CHINA_TZ)
    name = f"3202_{ctx.institution.code}_{local:%Y%m%d%H%M%S}"
    stored = store_file(ctx, f"{name}.zip", zip_table(f"{name}.txt", out), ctx.institution.code)
    summary = (
        f"平 (balanced): {len(out)} rows"
        if differing == 0
        else f"不平 (not balanced): {differing} of {len(out)} rows differ"
    )
    return {
        "fileinfo": file_info(stored),
        "stmtinfo": {
            "setl_optins": setl_optins,
            "stmt_rslt": BALANCED if differing == 0 else UNBALANCED,
            "stmt_rslt_dscr": summary,
        },
    }


def _line_row(line: _Line, result: str, memo: str) -> list[Any]:
    return [
        line.psn_no,
        line.mdtrt_id,
        line.setl_id,
        "",
        result,
        line.refunded,
        memo,
        _yuan(line.medfee),
        _yuan(line.fund),
        _yuan(line.account),
    ]


# --- 3203 / 3204 -------------------------------------------------------------------------


def _month(node: Node, key: str) -> tuple[date, date]:
    text = node.text(key, max_len=6)
    if len(text) != 6 or not text.isdigit() or not 1 <= int(text[4:]) <= 12:
        raise InputError(f"{node.path}.{key}: must be a month yyyyMM, got {text!r}")
    year, month = int(text[:4]), int(text[4:])
    if year < 1900:
        raise InputError(f"{node.path}.{key}: must be a month yyyyMM, got {text!r}")
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def new_event_id(ctx: RequestContext) -> str:
    local = ctx.now.astimezone(CHINA_TZ)
    return f"{ctx.institution.region}{local:%Y%m%d%H%M%S}{secrets.randbelow(10**10):010d}"


@handler("3203", "清算申请", state_changing=True)
def clearing_application(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    data = inp.node("data")
    clr_type = _code(data, "clr_type", "clr_type")
    clr_way = _code(data, "clr_way", "clr_way", required=False)
    setlym = data.text("setlym", max_len=6)
    first, last = _month(data, "setlym")
    psntime = _count(data, "psntime", 6)
    medfee = _amount(data, "medfee_sumamt", allow_negative=False)
    med_sumfee = _amount(data, "med_sumfee", allow_negative=False)
    fund = _amount(data, "fund_appy_sum", allow_negative=False)
    cash = _amount(data, "cash_payamt", allow_negative=False)
    account = _amount(data, "acct_pay", allow_negative=False)
    begin, end = _window(data, "begndate", "enddate")
    clr_optins = data.region("clr_optins", required=False) or ctx.institution.region
    if begin < first or end > last:
        raise InputError(
            f"{data.path}.begndate: the period {begin}..{end} is not inside setlym {setlym} "
            f"({first}..{last})"
        )
    today = ctx.now.astimezone(CHINA_TZ).date()
    if end >= today:
        raise BusinessError(
            f"{data.path}.enddate: the period must be over before clearing is applied for "
            f"(enddate {end}, today {today})"
        )
    open_row = ctx.session.scalars(
        select(ClearingApplicationRow).where(
            ClearingApplicationRow.fixmedins_code == ctx.institution.code,
            ClearingApplicationRow.clr_type == clr_type,
            ClearingApplicationRow.setlym == setlym,
            ClearingApplicationRow.open_key == CLEARING_OPEN,
        )
    ).one_or_none()
    if open_row is not None:
        raise BusinessError(
            f"clearing for clr_type {clr_type} in {setlym} was already applied for "
            f"(clr_appy_evt_id {open_row.clr_appy_evt_id}); cancel it with 3204 first"
        )
    centre = _totals(
        ctx,
        _scope(
            ctx,
            clr_type=clr_type,
            setl_optins=clr_optins,
            begin=begin,
            end=end,
            with_reversals=True,
        ),
    )
    diffs = _differences(
        [
            ("psntime", psntime, centre.in_force, False),
            ("medfee_sumamt", medfee, centre.medfee, True),
            ("fund_appy_sum", fund, centre.fund, True),
            ("acct_pay", account, centre.account, True),
            ("cash_payamt", cash, centre.cash, True),
        ]
    )
    if med_sumfee not in (centre.medfee, centre.fund + centre.personal):
        diffs.append(f"med_sumfee {_yuan(med_sumfee)} vs centre {_yuan(centre.medfee)}")
    if diffs:
        raise BusinessError(
            f"the application does not match the centre's settlements of clr_type {clr_type} "
            f"from {begin} to {end}: " + "; ".join(diffs) + "; reconcile with 3201/3202 first"
        )
    event_id = new_event_id(ctx)
    ctx.session.add(
        ClearingApplicationRow(
            clr_appy_evt_id=event_id,
            fixmedins_code=ctx.institution.code,
            clr_type=clr_type,
            clr_way=clr_way,
            setlym=setlym,
            clr_optins=clr_optins,
            begndate=begin,
            enddate=end,
            psntime=psntime,
            medfee_sumamt=medfee,
            med_sumfee=med_sumfee,
            fund_appy_sum=fund,
            cash_payamt=cash,
            acct_pay=account,
            status="applied",
            open_key=CLEARING_OPEN,
            msgid=ctx.envelope.msgid,
            applied_at=ctx.now,
            cancelled_at=None,
        )
    )
    ctx.session.flush()
    return {"result": {"clr_appy_evt_id": event_id}}


@handler("3204", "清算申请撤销", state_changing=True)
def cancel_clearing_application(ctx: RequestContext, inp: Node) -> None:
    data = inp.node("data")
    key = "clr_appy_evt_id" if data.has("clr_appy_evt_id") else "clr_apply_evt_id"
    event_id = data.text(key, max_len=30) if data.has(key) else data.text("clr_appy_evt_id")
    data.region("clr_optins", required=False)
    row = ctx.session.get(ClearingApplicationRow, event_id, with_for_update=True)
    if row is None or row.fixmedins_code != ctx.institution.code:
        raise ForbiddenError(
            f"{data.path}.{key}: no clearing application {event_id} of this institution"
        )
    if row.status == "cancelled":
        raise BusinessError(f"clearing application {event_id} is already cancelled")
    if row.status == "cleared":
        raise BusinessError(
            f"clearing application {event_id} has been cleared and can no longer be cancelled"
        )
    row.status = "cancelled"
    row.open_key = event_id
    row.cancelled_at = ctx.now
    return None
