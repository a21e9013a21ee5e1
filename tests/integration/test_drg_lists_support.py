"""Helpers of the up-coding tests (no tests here): a month's grouped settlement lists read
from the raw rows, and an institution's case-mix-standardised MCC/CC counts recomputed
from them in plain Python with the domain's rates (``pooled_rate``, ``adrg_rate``), to
compare with what the batch computed on the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from medroam.domain.audit.scores import adrg_rate, pooled_rate
from medroam.domain.cases import CHINA
from medroam.store.tables import SettlementListRow, SettlementRow

Lists = list[tuple[str, str]]  # (fixmedins_code, drg)


def month_lists(engine: Engine, year: int, month: int) -> Lists:
    """The DRG of every grouped settlement list of the settlements in force settled in
    the month, China time (a cancelled settlement's list stays; a simulated run also
    settles the month before as history)."""
    first = datetime(year, month, 1, tzinfo=CHINA)
    after = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=CHINA)
    with engine.connect() as c:
        rows = c.execute(
            select(SettlementListRow.fixmedins_code, SettlementListRow.drg)
            .join(SettlementRow, SettlementRow.setl_id == SettlementListRow.setl_id)
            .where(
                SettlementListRow.drg.is_not(None),
                SettlementRow.status == "valid",
                SettlementRow.refd_setl_flag.is_(False),
                SettlementRow.setl_time >= first,
                SettlementRow.setl_time < after,
            )
        ).all()
    return [(code, drg) for code, drg in rows]


def movable(lists: Lists) -> Lists:
    """Lists in an ADRG split by severity: the DRG ends in 1 (MCC), 3 (CC) or 5."""
    return [(code, drg) for code, drg in lists if drg[3:] in ("1", "3", "5")]


def mcc_cc(drg: str) -> bool:
    return drg[3] in "13"


@dataclass(frozen=True)
class Standardised:
    lists: int  # the institution's movable lists
    observed: int  # of them in an MCC/CC DRG
    expected: float  # Σ the other institutions' rate of each list's ADRG


def standardised(lists: Lists, code: str) -> Standardised:
    """O and E of ``code`` over the movable ``lists``, against every other institution."""
    moving = movable(lists)
    own = [d for c, d in moving if c == code]
    others = [d for c, d in moving if c != code]
    pooled = pooled_rate(sum(mcc_cc(d) for d in others), len(others))
    expected = 0.0
    for d in own:
        same = [o for o in others if o[:3] == d[:3]]
        expected += adrg_rate(sum(mcc_cc(o) for o in same), len(same), pooled)
    return Standardised(len(own), sum(mcc_cc(d) for d in own), expected)
