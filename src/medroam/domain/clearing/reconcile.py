"""Detail reconciliation (对明细账): list every difference between two sides' records.

The hospital-side 3202 and the inter-region 3260/3261 flows compare the same thing:
each side's records of ``(setl_id, medfee, fund, acct, refd flag)``. A refunded
settlement appears as two records, the positive and the negative (national-interface
§4.9), so a record is identified by ``(setl_id, refd_setl_flag)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from medroam.domain.money import Fen


class Record(NamedTuple):
    setl_id: str
    medfee: Fen  # medfee_sumamt
    fund: Fen  # fund_pay_sumamt
    acct: Fen  # acct_pay
    refd: bool  # refd_setl_flag


class MismatchKind(StrEnum):
    MISSING_OURS = "missing_ours"  # the other side has it, we do not
    MISSING_THEIRS = "missing_theirs"  # we have it, the other side does not
    AMOUNTS = "amounts"  # both have it with different amounts
    DUPLICATE_OURS = "duplicate_ours"  # we list it more than once
    DUPLICATE_THEIRS = "duplicate_theirs"


@dataclass(frozen=True, slots=True)
class Mismatch:
    setl_id: str
    refd: bool
    kind: MismatchKind
    fields: tuple[str, ...]  # the differing amounts, for AMOUNTS
    ours: Record | None
    theirs: Record | None

    def as_dict(self) -> dict[str, object]:
        return {
            "setl_id": self.setl_id,
            "refd_setl_flag": "1" if self.refd else "0",
            "kind": self.kind.value,
            "fields": list(self.fields),
            "ours": None if self.ours is None else self.ours._asdict(),
            "theirs": None if self.theirs is None else self.theirs._asdict(),
        }


_AMOUNT_FIELDS = ("medfee", "fund", "acct")


def _index(
    records: Iterable[Record], dup_kind: MismatchKind, out: list[Mismatch]
) -> dict[tuple[str, bool], Record]:
    index: dict[tuple[str, bool], Record] = {}
    for record in records:
        key = (record.setl_id, bool(record.refd))
        if key in index:
            mine = dup_kind is MismatchKind.DUPLICATE_OURS
            out.append(
                Mismatch(
                    record.setl_id,
                    key[1],
                    dup_kind,
                    (),
                    record if mine else None,
                    None if mine else record,
                )
            )
            continue
        index[key] = record
    return index


def compare(ours: Iterable[Record], theirs: Iterable[Record]) -> list[Mismatch]:
    """Every mismatch by ``setl_id`` (sorted by setl_id, then refd flag, then kind).

    An empty list means the two sides balance (对账平).
    """
    found: list[Mismatch] = []
    mine = _index(ours, MismatchKind.DUPLICATE_OURS, found)
    other = _index(theirs, MismatchKind.DUPLICATE_THEIRS, found)
    for key in mine.keys() | other.keys():
        a, b = mine.get(key), other.get(key)
        if a is None:
            found.append(Mismatch(key[0], key[1], MismatchKind.MISSING_OURS, (), None, b))
        elif b is None:
            found.append(Mismatch(key[0], key[1], MismatchKind.MISSING_THEIRS, (), a, None))
        else:
            differing = tuple(f for f in _AMOUNT_FIELDS if getattr(a, f) != getattr(b, f))
            if differing:
                found.append(Mismatch(key[0], key[1], MismatchKind.AMOUNTS, differing, a, b))
    found.sort(key=lambda m: (m.setl_id, m.refd, m.kind.value))
    return found
