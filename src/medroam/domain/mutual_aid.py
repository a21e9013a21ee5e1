"""Personal-account mutual aid (个人账户共济), across provinces since 2026-01-09.

Rules (domain-rules §5.6; notice of 2026-01-09):

* An insured **employee** (the holder, whose personal account pays) may aid **close
  relatives**: spouse, parents, children, siblings, grandparents, grandchildren. The
  beneficiary must be insured too, in either scheme.
* One holder may aid several relatives, and one relative may be aided by several holders:
  each pair is its own grant (共济关系) with its own quota (共济额度).
* Across provinces only from ``MutualAidRules.cross_province_from`` (2026-01-09); before,
  holder and beneficiary must be insured in the same province.
* A grant ends on request of either side, or automatically when either side's insurance
  relationship changes (termination, transfer to another pooling region). **Unused quota
  returns to the holder's personal account** when the grant ends (the trigger of the
  return is a parameter: ``MutualAidRules.return_on``).
* Mutual-aid spending is cleared **monthly and in full** (按月全额清算), on its own pair
  matrix: the holder's province pays the beneficiary's province of treatment.

Pure: the functions take the grants and return new values; the caller stores them.
Amounts in fen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from medroam.domain.codes import INSUTYPE_EMPLOYEE
from medroam.domain.money import Fen, format_yuan
from medroam.domain.region import province_of

CROSS_PROVINCE_FROM = date(2026, 1, 9)  # 个人账户跨省共济 (notice of 2026-01-09)


class MutualAidError(ValueError):
    """A grant, draw or end that the rules refuse; the message names the field."""


class Relation(StrEnum):
    """近亲属 who may be aided (the beneficiary's relation to the holder)."""

    SPOUSE = "spouse"  # 配偶
    PARENT = "parent"  # 父母
    CHILD = "child"  # 子女
    SIBLING = "sibling"  # 兄弟姐妹
    GRANDPARENT = "grandparent"  # 祖父母、外祖父母
    GRANDCHILD = "grandchild"  # 孙子女、外孙子女


RELATION_NAMES: Mapping[Relation, str] = {
    Relation.SPOUSE: "配偶",
    Relation.PARENT: "父母",
    Relation.CHILD: "子女",
    Relation.SIBLING: "兄弟姐妹",
    Relation.GRANDPARENT: "祖父母、外祖父母",
    Relation.GRANDCHILD: "孙子女、外孙子女",
}


class ReturnOn(StrEnum):
    """When unused quota goes back to the holder's account (domain-rules §10 q. 11)."""

    END = "end"  # when the grant ends (default: the notice's "unused quota returns")
    YEAR_END = "year_end"  # also at each year end (the grant then starts from 0)


class GrantStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


class EndReason(StrEnum):
    REQUEST = "request"  # either side ended it (voluntary)
    INSURANCE_CHANGED = "insurance_changed"  # automatic: terminated or transferred


@dataclass(frozen=True, slots=True)
class MutualAidRules:
    cross_province_from: date = CROSS_PROVINCE_FROM
    return_on: ReturnOn = ReturnOn.END


@dataclass(frozen=True, slots=True)
class Insured:
    """One side of a grant as the registry knows it on the day."""

    psn_no: str
    insutype: str  # 310 employee, 390 resident
    insured_region: str  # pooling region (admdvs)
    in_force: bool


@dataclass(frozen=True, slots=True)
class Grant:
    """One holder → beneficiary mutual-aid relationship (共济关系) and its quota."""

    grant_id: str
    holder: str  # psn_no of the account holder (employee)
    holder_region: str
    beneficiary: str  # psn_no of the aided relative
    beneficiary_region: str
    relation: Relation
    quota: Fen  # 共济额度 granted: a ceiling on what the holder's account pays for them
    used: Fen  # spent by the beneficiary so far
    begin: date
    end: date | None = None
    status: GrantStatus = GrantStatus.ACTIVE
    end_reason: EndReason | None = None

    @property
    def remaining(self) -> Fen:
        return self.quota - self.used if self.status is GrantStatus.ACTIVE else 0

    @property
    def cross_province(self) -> bool:
        return province_of(self.holder_region) != province_of(self.beneficiary_region)


def open_grant(
    grant_id: str,
    holder: Insured,
    beneficiary: Insured,
    relation: Relation | str,
    quota: Fen,
    holder_balance: Fen,
    on: date,
    existing: Iterable[Grant] = (),
    rules: MutualAidRules = MutualAidRules(),
) -> Grant:
    """A new grant, or :class:`MutualAidError` naming what is wrong.

    The quota must not exceed ``holder_balance`` when granted. It is a ceiling, not a
    transfer: the holder's account pays at each settlement (``services.mutual_aid``), and
    the unused quota "returns" when the grant ends by no longer being usable.
    """
    try:
        rel = Relation(relation)
    except ValueError:
        allowed = ", ".join(f"{r.value} {RELATION_NAMES[r]}" for r in Relation)
        raise MutualAidError(
            f"relation: {relation!r} is not a close relative (近亲属: {allowed})"
        ) from None
    if holder.psn_no == beneficiary.psn_no:
        raise MutualAidError("beneficiary: a holder cannot aid themself")
    if holder.insutype != INSUTYPE_EMPLOYEE:
        raise MutualAidError(
            f"holder: only an employee's personal account (insutype {INSUTYPE_EMPLOYEE}) can "
            f"aid relatives, not insutype {holder.insutype}"
        )
    for who, side in (("holder", holder), ("beneficiary", beneficiary)):
        if not side.in_force:
            raise MutualAidError(f"{who}: the insurance of {side.psn_no} is not in force")
    if quota <= 0:
        raise MutualAidError(f"quota: must be positive, got {format_yuan(quota)} yuan")
    if quota > holder_balance:
        raise MutualAidError(
            f"quota: {format_yuan(quota)} yuan exceeds the holder's personal-account balance "
            f"{format_yuan(holder_balance)} yuan"
        )
    if province_of(holder.insured_region) != province_of(beneficiary.insured_region) and (
        on < rules.cross_province_from
    ):
        raise MutualAidError(
            f"beneficiary: mutual aid across provinces ({holder.insured_region} → "
            f"{beneficiary.insured_region}) starts on {rules.cross_province_from.isoformat()}"
        )
    for g in existing:
        if (
            g.status is GrantStatus.ACTIVE
            and g.holder == holder.psn_no
            and g.beneficiary == beneficiary.psn_no
        ):
            raise MutualAidError(
                f"beneficiary: {holder.psn_no} already aids {beneficiary.psn_no} "
                f"(grant {g.grant_id}); change its quota instead"
            )
    return Grant(
        grant_id=grant_id,
        holder=holder.psn_no,
        holder_region=holder.insured_region,
        beneficiary=beneficiary.psn_no,
        beneficiary_region=beneficiary.insured_region,
        relation=rel,
        quota=quota,
        used=0,
        begin=on,
    )


def end_grant(grant: Grant, on: date, reason: EndReason) -> tuple[Grant, Fen]:
    """End a grant; returns the ended grant and its unused quota (``quota − used``),
    which the beneficiary can no longer spend (it was never moved out of the holder's
    account, so nothing else moves)."""
    if grant.status is not GrantStatus.ACTIVE:
        raise MutualAidError(f"grant {grant.grant_id}: already ended on {grant.end}")
    if on < grant.begin:
        raise MutualAidError(f"end: {on} is before the grant began on {grant.begin}")
    back = grant.quota - grant.used
    ended = replace(grant, status=GrantStatus.ENDED, end=on, end_reason=reason)
    return ended, back


def year_end_returns(
    grants: Iterable[Grant], year_end: date, rules: MutualAidRules = MutualAidRules()
) -> list[tuple[Grant, Fen]]:
    """With ``return_on = year_end``: every active grant gives its unused quota back to
    the holder at the year end and stands on with nothing left (quota = used) until the
    holder grants again. With the default (``end``) nothing happens at the year end."""
    if rules.return_on is not ReturnOn.YEAR_END:
        return []
    if (year_end.month, year_end.day) != (12, 31):
        raise MutualAidError(f"year_end: {year_end} is not the 31 December")
    return [
        (replace(g, quota=g.used), g.quota - g.used)
        for g in grants
        if g.status is GrantStatus.ACTIVE and g.quota > g.used
    ]


def insurance_changed(
    grants: Iterable[Grant], person: Insured, on: date
) -> list[tuple[Grant, Fen]]:
    """The grants that end automatically because ``person``'s insurance changed (no longer
    in force, or now insured in another pooling region), each with the quota returned."""
    out: list[tuple[Grant, Fen]] = []
    for g in grants:
        if g.status is not GrantStatus.ACTIVE:
            continue
        if g.holder == person.psn_no:
            changed = not person.in_force or person.insured_region != g.holder_region
        elif g.beneficiary == person.psn_no:
            changed = not person.in_force or person.insured_region != g.beneficiary_region
        else:
            continue
        if changed:
            out.append(end_grant(g, on, EndReason.INSURANCE_CHANGED))
    return out


def available(grants: Iterable[Grant], beneficiary: str) -> Fen:
    """The beneficiary's mutual-aid quota (the calculator's ``mutual_aid_balance``): the
    unused quota of every active grant to them, whoever the holders."""
    return sum(g.remaining for g in grants if g.beneficiary == beneficiary)


@dataclass(frozen=True, slots=True)
class Draw:
    """The part of one settlement's ``acct_mulaid_pay`` taken from one grant."""

    grant_id: str
    holder: str
    holder_region: str
    amount: Fen


def draw(grants: Sequence[Grant], beneficiary: str, amount: Fen) -> tuple[list[Grant], list[Draw]]:
    """Spread ``amount`` (a settlement's ``acct_mulaid_pay``) over the beneficiary's active
    grants, oldest first (then by grant id); returns the updated grants and the draws.
    A negative amount (a reversal) gives back to the newest grants first."""
    mine = sorted(
        (g for g in grants if g.beneficiary == beneficiary and g.status is GrantStatus.ACTIVE),
        key=lambda g: (g.begin, g.grant_id),
    )
    if amount > sum(g.remaining for g in mine):
        raise MutualAidError(
            f"acct_mulaid_pay: {format_yuan(amount)} yuan exceeds the mutual-aid quota of "
            f"{beneficiary} ({format_yuan(sum(g.remaining for g in mine))} yuan)"
        )
    updated = {g.grant_id: g for g in grants}
    draws: list[Draw] = []
    left = amount
    for g in mine if amount >= 0 else reversed(mine):
        if left == 0:
            break
        take = min(left, g.remaining) if amount > 0 else max(left, -g.used)
        if take:
            updated[g.grant_id] = replace(g, used=g.used + take)
            draws.append(Draw(g.grant_id, g.holder, g.holder_region, take))
            left -= take
    if left:
        raise MutualAidError(
            f"acct_mulaid_pay: {format_yuan(amount)} yuan cannot be given back in full"
        )
    return [updated[g.grant_id] for g in grants], draws


def clearing_pairs(
    draws: Iterable[tuple[Draw, str]],
) -> dict[tuple[str, str], Fen]:
    """Monthly full clearing of mutual aid (按月全额清算): the month's draws, each with
    the region where the care took place, summed by (holder's province, province of
    treatment): what the holder's province pays the province of treatment."""
    pairs: dict[tuple[str, str], Fen] = {}
    for d, treatment_region in draws:
        key = (province_of(d.holder_region), province_of(treatment_region))
        pairs[key] = pairs.get(key, 0) + d.amount
    return {k: v for k, v in sorted(pairs.items()) if v}
