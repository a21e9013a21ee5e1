"""Personal-account mutual aid (个人账户共济) across provinces: grants and settlement draws.

Money model (what "the quota returns" means here):

* A **grant** (共济关系) lets a beneficiary (a close relative) spend up to ``quota`` fen of
  the holder's personal account. Granting moves **no money**: the holder's balance stays
  where it is and keeps paying the holder's own care. The beneficiary's
  ``accounts.mutual_aid_balance`` (the calculator's 共济额度) goes up by the quota.
* A **settlement** that the beneficiary's own account cannot cover takes the rest from
  the grants (own account first, then the grants: the policy's
  ``account.mutual_aid_order``, domain-rules §3.2 step 11 and §5.6), oldest grant first.
  In the same transaction the holder's ``balance`` goes down and the grant's ``used``
  goes up by what it paid, and one ``mutual_aid_draws`` row per grant records it. What a
  grant can pay is the smaller of its unused quota and the holder's balance at that
  moment; when the holders' balances cannot cover the quota the calculator is run again
  with what they can pay.
* **Ending** a grant (on request, or automatically when either side's insurance
  changes) stops further use: the unused quota (``quota − used``) is taken off the
  beneficiary's ``mutual_aid_balance`` and recorded as ``returned``. Since the money never
  left the holder's account, "returns to the holder's account" moves nothing: the holder
  simply may spend it again for themself.
* A **cancellation** (2208/2305, or a 2601 reversal of a settlement) gives every holder
  back exactly what the draw rows say, lowers the grants' ``used`` and writes negated
  draw rows on the reverse record; a grant ended since gets its holder's money back but
  the beneficiary's quota is not restored for it. Undoing a cancellation (2601 of a
  2208/2305) takes the same amounts again, and is refused if a grant has ended or a
  holder's balance no longer covers it.
* **Clearing** (``batch.lines``): the part paid by grants is cleared to the holder's
  place of insurance (one mutual-aid line per holder region), monthly and in full.

Any part of ``mutual_aid_balance`` not backed by a grant (quota loaded before grants
existed, e.g. by the simulator) is spent after the grants and cleared, as before, to the
beneficiary's place of insurance.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from medroam.domain import mutual_aid as domain
from medroam.domain.codes import INSUTYPE_EMPLOYEE
from medroam.domain.money import format_yuan
from medroam.domain.settlement import AccountState
from medroam.services.errors import InvalidInputError, NotFoundError, RefusedError
from medroam.services.ports import InsuredPerson, InsuredPlace
from medroam.store.mutual_aid_tables import MutualAidDrawRow, MutualAidGrantRow
from medroam.store.tables import AccountRow
from medroam.store.upsert import table_of

# Relation codes accepted besides the English names: GB/T 4761 家庭关系代码 (first digit).
RELATION_CODES: dict[str, domain.Relation] = {
    "10": domain.Relation.SPOUSE,
    "20": domain.Relation.CHILD,
    "50": domain.Relation.PARENT,
    "60": domain.Relation.GRANDPARENT,
    "30": domain.Relation.GRANDCHILD,
    "70": domain.Relation.SIBLING,
}


@dataclass(frozen=True, slots=True)
class GrantView:
    grant_id: str
    holder: str
    holder_region: str
    beneficiary: str
    beneficiary_region: str
    relation: str
    quota: int
    used: int
    valid_from: date
    valid_to: date | None
    status: str
    end_reason: str | None
    returned: int | None

    @property
    def remaining(self) -> int:
        return self.quota - self.used if self.status == "active" else 0

    @property
    def relation_name(self) -> str:
        return domain.RELATION_NAMES[domain.Relation(self.relation)]


def _view(row: MutualAidGrantRow) -> GrantView:
    return GrantView(
        grant_id=row.grant_id,
        holder=row.holder_psn_no,
        holder_region=row.holder_region,
        beneficiary=row.beneficiary_psn_no,
        beneficiary_region=row.beneficiary_region,
        relation=row.relation,
        quota=row.quota,
        used=row.used,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        status=row.status,
        end_reason=row.end_reason,
        returned=row.returned,
    )


def _domain(row: MutualAidGrantRow) -> domain.Grant:
    return domain.Grant(
        grant_id=row.grant_id,
        holder=row.holder_psn_no,
        holder_region=row.holder_region,
        beneficiary=row.beneficiary_psn_no,
        beneficiary_region=row.beneficiary_region,
        relation=domain.Relation(row.relation),
        quota=row.quota,
        used=row.used,
        begin=row.valid_from,
        end=row.valid_to,
        status=domain.GrantStatus(row.status),
        end_reason=domain.EndReason(row.end_reason) if row.end_reason else None,
    )


def _insured(place: InsuredPlace, psn_no: str, who: str) -> tuple[InsuredPerson, domain.Insured]:
    person = place.person(psn_no)
    if person is None:
        raise NotFoundError(f"{who}: no insured person {psn_no!r} (人员编号不存在)")
    if not person.insurances:
        raise RefusedError(f"{who}: person {psn_no} has no insurance")
    # the employee insurance first (the holder must have it), then any in force
    ranked = sorted(
        person.insurances, key=lambda i: (i.insutype != INSUTYPE_EMPLOYEE, not i.active)
    )
    ins = ranked[0] if who == "holder" else sorted(ranked, key=lambda i: not i.active)[0]
    return person, domain.Insured(psn_no, ins.insutype, ins.insured_region, ins.active)


def parse_relation(value: str) -> domain.Relation | str:
    """A relation name (spouse …) or a GB/T 4761 code (10, 20 …); else the value itself,
    which the domain refuses naming the allowed ones."""
    v = value.strip()
    return RELATION_CODES.get(v, v.lower())


def grant(
    session: Session,
    place: InsuredPlace,
    now: datetime,
    *,
    holder: str,
    beneficiary: str,
    relation: str,
    quota: int | None = None,
    on: date | None = None,
    grant_id: str | None = None,
) -> GrantView:
    """Open a grant. ``quota`` None: the holder's balance today. Raises
    :class:`InvalidInputError` / :class:`NotFoundError` / :class:`RefusedError` naming
    the field; writes nothing then."""
    day = on or now.date()
    if holder == beneficiary:
        raise InvalidInputError("beneficiary: a holder cannot aid themself (same psn_no)")
    _h, h = _insured(place, holder, "holder")
    _b, b = _insured(place, beneficiary, "beneficiary")
    balance = place.benefit_state(holder, h.insutype, day.year).account.balance
    amount = balance if quota is None else quota
    existing = session.scalars(
        select(MutualAidGrantRow).where(
            MutualAidGrantRow.holder_psn_no == holder,
            MutualAidGrantRow.beneficiary_psn_no == beneficiary,
            MutualAidGrantRow.status == "active",
        )
    ).all()
    gid = grant_id or _next_id(session, holder, day)
    try:
        g = domain.open_grant(
            gid,
            h,
            b,
            parse_relation(relation),
            amount,
            balance,
            day,
            [_domain(r) for r in existing],
        )
    except domain.MutualAidError as exc:
        raise InvalidInputError(str(exc)) from None
    row = MutualAidGrantRow(
        grant_id=g.grant_id,
        holder_psn_no=g.holder,
        holder_region=g.holder_region,
        beneficiary_psn_no=g.beneficiary,
        beneficiary_region=g.beneficiary_region,
        relation=g.relation.value,
        quota=g.quota,
        used=0,
        valid_from=g.begin,
        valid_to=None,
        status="active",
        end_reason=None,
        returned=None,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    place.apply_benefit_change(b.psn_no, b.insutype, day.year, {}, AccountState(0, g.quota), now)
    return _view(row)


def _next_id(session: Session, holder: str, day: date) -> str:
    n = session.scalar(
        select(func.count())
        .select_from(MutualAidGrantRow)
        .where(MutualAidGrantRow.holder_psn_no == holder)
    )
    return f"MA{day:%Y%m%d}-{holder}-{int(n or 0) + 1:02d}"


def end(
    session: Session,
    place: InsuredPlace,
    now: datetime,
    *,
    grant_id: str,
    on: date | None = None,
    reason: str = "request",
) -> GrantView:
    """End a grant: no further use; the unused quota leaves the beneficiary's
    ``mutual_aid_balance`` and is recorded as ``returned`` (see the module docstring)."""
    row = session.scalars(
        select(MutualAidGrantRow).where(MutualAidGrantRow.grant_id == grant_id).with_for_update()
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"grant_id: no mutual-aid grant {grant_id!r}")
    try:
        why = domain.EndReason(reason)
    except ValueError:
        raise InvalidInputError(
            f"reason: {reason!r} is not one of {', '.join(r.value for r in domain.EndReason)}"
        ) from None
    day = on or now.date()
    try:
        ended, back = domain.end_grant(_domain(row), day, why)
    except domain.MutualAidError as exc:
        raise InvalidInputError(str(exc)) from None
    row.status, row.valid_to, row.end_reason = "ended", ended.end, why.value
    row.returned, row.updated_at = back, now
    if back:
        _b, b = _insured(place, row.beneficiary_psn_no, "beneficiary")
        place.apply_benefit_change(b.psn_no, b.insutype, day.year, {}, AccountState(0, -back), now)
    session.flush()
    return _view(row)


def end_on_insurance_change(
    session: Session, place: InsuredPlace, now: datetime, *, psn_no: str, on: date | None = None
) -> list[GrantView]:
    """End (reason ``insurance_changed``) every active grant of ``psn_no``, as holder or
    beneficiary, whose side no longer holds: insurance not in force, or insured in another
    pooling region than when granted (domain-rules §5.6: the relationship ends
    automatically). Call it after the registry changes a person's insurance; returns the
    grants it ended."""
    _p, person = _insured(place, psn_no, "psn_no")
    rows = session.scalars(
        select(MutualAidGrantRow)
        .where(
            (MutualAidGrantRow.holder_psn_no == psn_no)
            | (MutualAidGrantRow.beneficiary_psn_no == psn_no),
            MutualAidGrantRow.status == "active",
        )
        .order_by(MutualAidGrantRow.grant_id)
    ).all()
    day = on or now.date()
    changed = domain.insurance_changed([_domain(r) for r in rows], person, day)
    return [
        end(session, place, now, grant_id=g.grant_id, on=day, reason="insurance_changed")
        for g, _back in changed
    ]


def list_grants(
    session: Session, *, psn_no: str | None = None, status: str | None = None
) -> list[GrantView]:
    """Grants where ``psn_no`` is holder or beneficiary (all without it), oldest first."""
    q = select(MutualAidGrantRow)
    if psn_no:
        q = q.where(
            (MutualAidGrantRow.holder_psn_no == psn_no)
            | (MutualAidGrantRow.beneficiary_psn_no == psn_no)
        )
    if status:
        if status not in ("active", "ended"):
            raise InvalidInputError(f"status: {status!r} is not active or ended")
        q = q.where(MutualAidGrantRow.status == status)
    q = q.order_by(MutualAidGrantRow.valid_from, MutualAidGrantRow.grant_id)
    return [_view(r) for r in session.scalars(q)]


# --- settlement --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    """One active grant to the beneficiary and what its holder's account holds now."""

    grant_id: str
    holder: str
    holder_region: str
    remaining: int
    holder_balance: int


@dataclass(frozen=True, slots=True)
class Plan:
    """What the grants can pay for one beneficiary now."""

    sources: tuple[Source, ...]
    unbacked: int  # mutual_aid_balance not backed by any grant (paid after the grants)

    @property
    def capacity(self) -> int:
        """What mutual aid can pay in all: the unbacked quota plus, per grant, the smaller
        of its unused quota and its holder's balance (a holder's balance counted once)."""
        left: dict[str, int] = {}
        total = self.unbacked
        for s in self.sources:
            bal = left.setdefault(s.holder, s.holder_balance)
            take = min(s.remaining, bal)
            left[s.holder] = bal - take
            total += take
        return total


def lock_accounts(session: Session, psn_nos: Iterable[str]) -> None:
    """Lock these persons' account rows in ``psn_no`` order (PostgreSQL; SQLite already
    serialises writers). Every settlement or cancellation that touches a holder's
    account locks it together with the beneficiary's own account through here first, so
    two people who aid each other and settle at the same moment wait for one another
    instead of each holding one account and waiting for the other's (a deadlock)."""
    wanted = sorted(set(psn_nos))
    if len(wanted) > 1:
        a = AccountRow
        session.execute(
            select(a.psn_no).where(a.psn_no.in_(wanted)).order_by(a.psn_no).with_for_update()
        ).all()


def plan(session: Session, beneficiary: str, quota: int, on: date, *, lock: bool) -> Plan:
    """One query: the beneficiary's grants active on ``on`` with their holders' balances,
    oldest first. ``quota`` is the beneficiary's ``mutual_aid_balance``; the quota of
    grants not yet in effect is left out of it. With ``lock`` the grants are locked, then
    the beneficiary's and the holders' accounts in ``psn_no`` order (:func:`lock_accounts`),
    before the balances are read."""
    g, a = MutualAidGrantRow, AccountRow
    active = (g.beneficiary_psn_no == beneficiary, g.status == "active")
    if lock:
        holders = session.execute(select(g.holder_psn_no).where(*active).with_for_update())
        lock_accounts(session, [beneficiary, *holders.scalars()])
    q = (
        select(
            g.grant_id,
            g.holder_psn_no,
            g.holder_region,
            g.quota - g.used,
            a.balance,
            g.valid_from,
        )
        .join(a, a.psn_no == g.holder_psn_no)
        .where(*active)
        .order_by(g.valid_from, g.grant_id)
    )
    rows = session.execute(q).all()
    sources = tuple(
        Source(gid, holder, region, int(rem), int(bal))
        for gid, holder, region, rem, bal, begin in rows
        if begin <= on
    )
    backed = sum(int(rem) for _g, _h, _r, rem, _b, _v in rows)
    return Plan(sources, max(0, quota - backed))


def allocate(p: Plan, amount: int) -> list[domain.Draw]:
    """Spread ``amount`` (a settlement's ``acct_mulaid_pay``) over the grants, oldest
    first, each up to min(unused quota, holder's balance); what the grants cannot pay
    comes from the unbacked quota (no draw row)."""
    left: dict[str, int] = {}
    draws: list[domain.Draw] = []
    rest = amount
    for s in p.sources:
        if rest <= 0:
            break
        bal = left.setdefault(s.holder, s.holder_balance)
        take = min(rest, s.remaining, bal)
        if take > 0:
            left[s.holder] = bal - take
            draws.append(domain.Draw(s.grant_id, s.holder, s.holder_region, take))
            rest -= take
    if rest > p.unbacked:  # pragma: no cover - the calculator was given p.capacity
        raise RefusedError(
            f"acct_mulaid_pay {format_yuan(amount)} exceeds what mutual aid can pay now "
            f"({format_yuan(p.capacity)})"
        )
    return draws


def apply_draws(
    session: Session,
    setl_id: str,
    draws: Sequence[domain.Draw],
    now: datetime,
    *,
    record: bool = True,
) -> None:
    """Take (or, negative, give back) each draw from its holder's balance and its grant's
    ``used``; record the draw rows under ``setl_id`` (unless ``record`` is false: undoing
    a cancellation takes the original's recorded draws again). Guarded updates: a holder's balance
    never goes negative and ``used`` stays within the quota."""
    g, a = table_of(MutualAidGrantRow), table_of(AccountRow)
    for d in draws:
        paid = session.execute(
            update(a)
            .where(a.c.psn_no == d.holder, a.c.balance - d.amount >= 0)
            .values(balance=a.c.balance - d.amount, updated_at=now)
            .returning(a.c.psn_no)
        ).scalar_one_or_none()
        used = session.execute(
            update(g)
            .where(g.c.grant_id == d.grant_id, g.c.used + d.amount >= 0)
            .where(g.c.used + d.amount <= g.c.quota)
            .values(used=g.c.used + d.amount, updated_at=now)
            .returning(g.c.grant_id)
        ).scalar_one_or_none()
        if paid is None or used is None:
            raise RefusedError(
                f"mutual aid: grant {d.grant_id} of holder {d.holder} cannot "
                f"{'pay' if d.amount > 0 else 'take back'} {format_yuan(abs(d.amount))} "
                "(holder's balance or the grant's quota changed)"
            )
    if draws and record:
        session.execute(
            insert(MutualAidDrawRow),
            [
                {
                    "setl_id": setl_id,
                    "grant_id": d.grant_id,
                    "holder_psn_no": d.holder,
                    "holder_region": d.holder_region,
                    "amount": d.amount,
                }
                for d in draws
            ],
        )


def draws_of(session: Session, setl_id: str, beneficiary: str) -> list[tuple[domain.Draw, bool]]:
    """The draws of a settlement of ``beneficiary``, each with whether its grant is still
    active; the draws and grants are locked, then the beneficiary's and the holders'
    accounts in ``psn_no`` order (:func:`lock_accounts`)."""
    d, g = MutualAidDrawRow, MutualAidGrantRow
    rows = session.execute(
        select(d.grant_id, d.holder_psn_no, d.holder_region, d.amount, g.status)
        .join(g, g.grant_id == d.grant_id)
        .where(d.setl_id == setl_id)
        .order_by(d.grant_id)
        .with_for_update()
    ).all()
    lock_accounts(session, [beneficiary, *(holder for _g, holder, _r, _a, _s in rows)])
    return [
        (domain.Draw(gid, holder, region, int(amount)), status == "active")
        for gid, holder, region, amount, status in rows
    ]
