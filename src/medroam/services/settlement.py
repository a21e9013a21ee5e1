"""Settlement use cases: pre-settle (2206/2303), settle (2207/2304), cancel (2208/2305),
restore a cancelled settlement (2601 of a cancellation), and the queries 5203 and 5206.

The benefit amounts come from the pure calculator (``domain.calculator.settle``) with
the place of treatment's catalogue (cached from the database), the place of insurance's
policy, filings, qualifications, accumulators and account (through the
:class:`~medroam.services.ports.InsuredPlace` port). A settlement writes, in the caller's
transaction: the settlement row and its fund rows, the lines' ``setl_id``, the
accumulator delta and account change at the place of insurance, and a balanced ledger
posting. A cancellation is its own settlement row with exactly negated amounts
(``domain.calculator.reverse``), linked to the original; it restores accumulators and
account, frees the lines and posts the negated legs.

Concurrency: the visit row is locked first, then the person's insurance (by the port),
so two settlements of one visit or one person serialise and a cap is never overrun.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from medroam.domain import calculator
from medroam.domain.audit.engine import RuleBook
from medroam.domain.audit.model import Finding, Stage
from medroam.domain.calculator import CalculationError
from medroam.domain.codes import ServiceKind, service_kind
from medroam.domain.filing import resolve_benefit_status
from medroam.domain.money import format_yuan
from medroam.domain.mutual_aid import Draw
from medroam.domain.region import CrossRegion, classify_visit, pay_loc
from medroam.domain.settlement import AccountState, Settlement, Visit
from medroam.services import audit_check, mutual_aid
from medroam.services.errors import InvalidInputError, NotFoundError, RefusedError
from medroam.services.ledger import settlement_legs
from medroam.services.persons import (
    filing_refusal,
    insurance_refusal,
    networked_refusal,
    require_person,
)
from medroam.services.ports import InstitutionRef, Insurance, InsuredPerson, InsuredPlace
from medroam.services.visits import (
    INPATIENT,
    OUTPATIENT,
    emergency_in,
    own_visit,
    own_visit_with_lines,
    require_kind,
    touch,
)
from medroam.store import refdata_cache
from medroam.store.insured_place import is_local
from medroam.store.repositories import (
    FeeLineRepository,
    LedgerRepository,
    LineLike,
    SettlementRepository,
    VisitLike,
    amounts_of,
    fee_line,
    new_id,
    settlement_of,
)
from medroam.store.settlement_write import (
    BenefitChange,
    LinesSettledMeanwhileError,
    SettlementWrite,
    record_settlement,
)
from medroam.store.tables import SettlementRow, VisitRow

CLR_TYPE_OUTPATIENT = "11"  # clr_type 门诊
CLR_TYPE_INPATIENT = "21"  # clr_type 住院
CLR_WAY_ITEMS = "1"  # clr_way 按项目
ALL_BATCHES = "0000"


@dataclass(frozen=True, slots=True)
class ClientTotals:
    """What the HIS says the bill is (fen); None: the field was not sent."""

    medfee: int | None = None  # medfee_sumamt
    fulamt_ownpay: int | None = None  # fulamt_ownpay_amt
    overlmt_selfpay: int | None = None  # overlmt_selfpay
    preselfpay: int | None = None  # preselfpay_amt
    inscp: int | None = None  # inscp_scp_amt


@dataclass(frozen=True, slots=True)
class SettleRequest:
    """2206/2207 (outpatient) or 2303/2304 (inpatient) ``data``."""

    mdtrt_id: str
    psn_no: str
    insutype: str
    totals: ClientTotals = ClientTotals()
    account_flag: str = "0"  # acct_used_flag 0 / 1 / 2
    med_type: str = ""  # outpatient: required; inpatient: the stay's own
    chrg_bchno: str = ""  # outpatient charge batch; "" or 0000: every unsettled line
    mid_settlement: bool = False  # mid_setl_flag (inpatient)
    cert_type: str = ""  # mdtrt_cert_type
    invono: str = ""
    exp_content: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SettlementView:
    """A settlement (computed, stored, or a reverse record) with what the interface shows
    alongside its amounts."""

    settlement: Settlement
    setl_id: str | None  # None for a pre-settlement
    mdtrt_id: str
    setl_time: datetime
    person: InsuredPerson
    insurance: Insurance
    fixmedins_code: str
    institution_level: str
    med_type: str
    mdtrt_cert_type: str
    insured_region: str
    treatment_region: str
    cross_region: CrossRegion
    clr_optins: str
    clr_type: str
    clr_way: str
    medins_setl_id: str
    begin: datetime
    end: datetime | None
    year: int
    status: str  # valid / cancelled / voided / preview
    reverses_setl_id: str | None = None
    mid_settlement: bool = False
    dise_codg: str = ""
    dise_name: str = ""
    invono: str = ""
    opter: str = ""
    opter_name: str = ""
    reason: str = ""  # how the filing status was decided
    findings: tuple[Finding, ...] = ()  # the real-time audit (事中): what it found

    @property
    def pay_loc(self) -> str:
        return pay_loc(self.cross_region)

    @property
    def refund(self) -> bool:
        return self.reverses_setl_id is not None


def _clr_type(kind: ServiceKind) -> str:
    return CLR_TYPE_INPATIENT if kind is ServiceKind.INPATIENT else CLR_TYPE_OUTPATIENT


# --- preparing a settlement ---------------------------------------------------------------


@dataclass(slots=True)
class _Prepared:
    visit: VisitLike
    lines: list[LineLike]
    person: InsuredPerson
    insurance: Insurance
    settlement: Settlement
    med_type: str
    cross: CrossRegion
    year: int
    reason: str
    policy_region: str
    policy_from: date
    findings: tuple[Finding, ...] = ()
    draws: list[Draw] = field(default_factory=list)  # mutual aid paid by holders' grants


def _prepare(
    session: Session,
    place: InsuredPlace,
    institution: InstitutionRef,
    now: datetime,
    req: SettleRequest,
    kind: str,
    *,
    write: bool,
    audit: RuleBook | None = None,
) -> _Prepared:
    transaction = {
        (OUTPATIENT, False): "2206 (pre-settlement)",
        (OUTPATIENT, True): "2207 (settlement)",
        (INPATIENT, False): "2303 (pre-settlement)",
        (INPATIENT, True): "2304 (settlement)",
    }[(kind, write)]
    batch = None if req.chrg_bchno in ("", ALL_BATCHES) or kind == INPATIENT else req.chrg_bchno
    visit, lines, insurance_locked = own_visit_with_lines(
        session, institution, req.mdtrt_id, req.psn_no, batch, lock=write
    )
    require_kind(visit, kind, transaction)
    if req.insutype and req.insutype != visit.insutype:
        raise RefusedError(
            f"insutype {req.insutype} differs from the visit's {visit.insutype} "
            f"(mdtrt_id {visit.mdtrt_id})"
        )
    _check_state(visit, req, write)

    med_type = visit.med_type
    if kind == OUTPATIENT:
        med_type = req.med_type or visit.med_type
        svc = service_kind(med_type)
        if svc is None or svc is ServiceKind.INPATIENT:
            raise InvalidInputError(f"med_type: {med_type!r} is not an outpatient medical category")

    if not lines:
        which = f" of chrg_bchno {batch}" if batch else ""
        raise RefusedError(
            f"mdtrt_id {visit.mdtrt_id}: no unsettled fee lines{which} to settle (upload them "
            f"with {'2204' if kind == OUTPATIENT else '2301'})"
        )

    person, insurance = require_person(place, visit.psn_no, visit.insutype)
    refusal = insurance_refusal(insurance, person.psn_no)
    if refusal:
        raise RefusedError(refusal)
    settle_day = now.date()
    year = settle_day.year
    try:
        policy = place.policy(insurance.insured_region, insurance.insutype, settle_day)
    except LookupError as exc:
        raise RefusedError(str(exc)) from None
    cross = classify_visit(insurance.insured_region, institution.region)
    refusal = networked_refusal(institution, cross)
    if refusal:
        raise RefusedError(refusal)
    begin = visit.begin_time.date()
    emergency = (
        visit.emergency
        or emergency_in(med_type, req.exp_content)
        or emergency_in(med_type, visit.exp_content or {})
    )
    decision = resolve_benefit_status(
        place.filings(person.psn_no),
        insurance.insured_region,
        institution.region,
        begin,
        settle_day,
        emergency,
        policy.filing,
    )
    # Qualifications (认定) matter only to chronic-disease care: not read otherwise.
    qualified = (
        frozenset(
            q.disease_code
            for q in place.chronic_qualifications(person.psn_no)
            if q.valid_on(begin) or q.valid_on(settle_day)
        )
        if service_kind(med_type) is ServiceKind.CHRONIC
        else frozenset()
    )
    try:
        domain_person = person.as_domain(insurance, qualified)
    except ValueError as exc:
        raise RefusedError(str(exc)) from None
    try:
        catalogue = refdata_cache.catalogue_for(session, institution.region)
    except LookupError as exc:
        raise RefusedError(str(exc)) from None

    admission_counted, deductible_applied = False, 0
    if kind == INPATIENT:
        standing = SettlementRepository(session).in_force(visit.mdtrt_id)
        admission_counted = bool(standing)
        deductible_applied = sum(s.deductible for s in standing)
    disease = visit.dise_codg or next((ln.dise_codg for ln in lines if ln.dise_codg), None)
    refusal = filing_refusal(
        decision,
        policy,
        insured_region=insurance.insured_region,
        treatment_region=institution.region,
        province=place.province_settings(insurance.insured_region),
        med_type=med_type,
        disease_code=disease,
        on=begin,
    )
    if refusal:
        raise RefusedError(refusal)
    domain_visit = Visit(
        visit_id=visit.mdtrt_id,
        med_type=med_type,
        institution_code=institution.code,
        institution_level=visit.institution_level,
        treatment_region=institution.region,
        begin=begin,
        settle_date=settle_day,
        disease_code=disease,
        account_flag=req.account_flag,
        mid_settlement=req.mid_settlement,
        admission_counted=admission_counted,
        deductible_applied=deductible_applied,
    )
    findings: tuple[Finding, ...] = ()
    if audit is not None:
        # 事中 audit before the benefit state is locked: a refusal costs no lock.
        try:
            age = person.age_on(begin)
        except ValueError:
            age = -1  # unknown birth date: age rules find nothing
        bill = audit_check.bill_of_visit(
            visit,
            lines,
            audit_check.PersonFacts(
                person.psn_no, person.gender, age, insurance.insutype, insurance.insured_region
            ),
            treatment_region=institution.region,
            med_type=med_type,
            until=settle_day,
        )
        findings = audit_check.audit(audit, bill, Stage.DURING, settle_day)
        refused = audit_check.refusals(findings)
        if write and refused:
            raise RefusedError(audit_check.refusal_text(refused))
    # the insurance row may already be locked with the visit (PostgreSQL, same session)
    state = (
        place.lock_benefit_state(person.psn_no, insurance.insutype, year)
        if write and not (insurance_locked and is_local(place, session))
        else place.benefit_state(person.psn_no, insurance.insutype, year)
    )
    fees_ = [fee_line(ln) for ln in lines]

    def calculate(account: AccountState) -> Settlement:
        try:
            return calculator.settle(
                fees_,
                domain_visit,
                domain_person,
                decision.status,
                policy,
                catalogue,
                state.ytd,
                account,
            )
        except CalculationError as exc:
            raise RefusedError(str(exc)) from None

    result = calculate(state.account)
    draws: list[Draw] = []
    if result.mutual_aid > 0:
        # Mutual aid pays (the own account did not cover the share): one query for the
        # grants and their holders' balances; a holder may hold less than the quota.
        quota = state.account.mutual_aid_balance
        aid = mutual_aid.plan(session, person.psn_no, quota, settle_day, lock=write)
        if aid.capacity < quota:
            result = calculate(AccountState(state.account.balance, aid.capacity))
            result = replace(result, mutual_aid_balance_after=quota - result.mutual_aid)
        draws = mutual_aid.allocate(aid, result.mutual_aid)
    _check_totals(req.totals, result)
    return _Prepared(
        visit=visit,
        lines=lines,
        person=person,
        insurance=insurance,
        settlement=result,
        med_type=med_type,
        cross=cross,
        year=year,
        reason=decision.reason,
        policy_region=policy.region,
        policy_from=policy.effective_from,
        findings=findings,
        draws=draws,
    )


def _check_state(visit: VisitLike, req: SettleRequest, write: bool) -> None:
    if visit.status == "cancelled":
        raise RefusedError(f"mdtrt_id {visit.mdtrt_id} was cancelled: nothing can be settled")
    if visit.kind == OUTPATIENT:
        return
    if visit.status == "settled":
        raise RefusedError(
            f"mdtrt_id {visit.mdtrt_id} already has its final settlement: cancel it (2305) "
            "before settling again"
        )
    if not write:
        return  # a pre-settlement may run before the discharge
    if req.mid_settlement and visit.status != "admitted":
        raise RefusedError(
            f"mid_setl_flag 1: mdtrt_id {visit.mdtrt_id} is already discharged; settle the "
            "stay with mid_setl_flag 0"
        )
    if not req.mid_settlement and visit.status != "discharged":
        raise RefusedError(
            f"mid_setl_flag 0: mdtrt_id {visit.mdtrt_id} is not discharged; discharge it "
            "(2402) before the final settlement, or send mid_setl_flag 1 for a mid-stay "
            "settlement"
        )


def _check_totals(totals: ClientTotals, s: Settlement) -> None:
    pairs = (
        ("medfee_sumamt", totals.medfee, s.medfee),
        ("fulamt_ownpay_amt", totals.fulamt_ownpay, s.fulamt_ownpay),
        ("overlmt_selfpay", totals.overlmt_selfpay, s.overlmt_selfpay),
        ("preselfpay_amt", totals.preselfpay, s.preselfpay),
        ("inscp_scp_amt", totals.inscp, s.inscp),
    )
    for name, sent, server in pairs:
        if sent is not None and sent != server:
            raise RefusedError(
                f"{name} {format_yuan(sent)} disagrees with the uploaded fee lines: the server "
                f"computes {format_yuan(server)} (re-read the 2204/2301 results)"
            )


def _view_of_prepared(
    p: _Prepared,
    institution: InstitutionRef,
    now: datetime,
    req: SettleRequest,
    *,
    setl_id: str | None,
    msgid: str,
    opter: str = "",
    opter_name: str = "",
) -> SettlementView:
    return SettlementView(
        settlement=p.settlement,
        setl_id=setl_id,
        mdtrt_id=p.visit.mdtrt_id,
        setl_time=now,
        person=p.person,
        insurance=p.insurance,
        fixmedins_code=institution.code,
        institution_level=p.visit.institution_level,
        med_type=p.med_type,
        mdtrt_cert_type=req.cert_type or p.visit.mdtrt_cert_type,
        insured_region=p.insurance.insured_region,
        treatment_region=institution.region,
        cross_region=p.cross,
        clr_optins=institution.region,
        clr_type=_clr_type(p.settlement.kind),
        clr_way=CLR_WAY_ITEMS,
        medins_setl_id=msgid,
        begin=p.visit.begin_time,
        end=p.visit.end_time,
        year=p.year,
        status="valid" if setl_id else "preview",
        mid_settlement=req.mid_settlement,
        dise_codg=p.visit.dise_codg or "",
        dise_name=p.visit.dise_name or "",
        invono=req.invono,
        opter=opter,
        opter_name=opter_name,
        reason=p.reason,
        findings=p.findings,
    )


# --- use cases ---------------------------------------------------------------------------


def pre_settle(
    session: Session,
    place: InsuredPlace,
    institution: InstitutionRef,
    now: datetime,
    req: SettleRequest,
    *,
    kind: str,
    msgid: str = "",
    audit: RuleBook | None = None,
) -> SettlementView:
    """2206 / 2303: what a settlement would give now. Writes nothing. With ``audit``
    (a rule book) the view carries the 事中 findings, refusing rules included."""
    p = _prepare(session, place, institution, now, req, kind, write=False, audit=audit)
    return _view_of_prepared(p, institution, now, req, setl_id=None, msgid=msgid)


def settle(
    session: Session,
    place: InsuredPlace,
    institution: InstitutionRef,
    now: datetime,
    req: SettleRequest,
    *,
    kind: str,
    msgid: str,
    opter: str = "",
    opter_name: str = "",
    audit: RuleBook | None = None,
) -> SettlementView:
    """2207 / 2304: settle the unsettled lines (an outpatient batch; for an inpatient stay
    every line uploaded so far, mid-stay or final) and record everything. With ``audit``
    (a rule book) a 事中 finding of a refusing rule refuses the settlement (nothing
    written); warning rules do not block."""
    p = _prepare(session, place, institution, now, req, kind, write=True, audit=audit)
    s = p.settlement
    now = _stamp(p.visit, now)
    setl_id = new_id("ST", institution.region, now)
    # A plain mapping, not an ORM object: the row is inserted by one Core statement.
    row = dict(
        setl_id=setl_id,
        mdtrt_id=p.visit.mdtrt_id,
        psn_no=p.person.psn_no,
        insutype=p.insurance.insutype,
        fixmedins_code=institution.code,
        kind=s.kind.value,
        med_type=p.med_type,
        setl_time=now,
        **amounts_of(s),
        benefit_status=s.status.value,
        mid_setl_flag=req.mid_settlement,
        status="valid",
        refd_setl_flag=False,
        reverses_setl_id=None,
        medins_setl_id=msgid,
        clr_optins=institution.region,
        clr_type=_clr_type(s.kind),
        clr_way=CLR_WAY_ITEMS,
        insured_region=p.insurance.insured_region,
        treatment_region=institution.region,
        cross_region=p.cross.value,
        pay_loc=pay_loc(p.cross),
        institution_level=p.visit.institution_level,
        psn_type=p.insurance.psn_type,
        civil_servant_flag=p.insurance.civil_servant,
        mdtrt_cert_type=req.cert_type or p.visit.mdtrt_cert_type,
        policy_region=p.policy_region,
        policy_from=p.policy_from,
        acc_year=p.year,
        accumulator_delta=dict(s.accumulator_delta),
        invono=req.invono or None,
        dise_codg=p.visit.dise_codg,
        dise_name=p.visit.dise_name,
        opter=opter or None,
        opter_name=opter_name or None,
    )
    own = s.account - s.mutual_aid
    write = SettlementWrite(
        row=row,
        details=s.details,
        lines=p.lines,
        benefit=BenefitChange(
            p.person.psn_no,
            p.insurance.insutype,
            p.year,
            s.accumulator_delta,
            AccountState(-own, -s.mutual_aid),
        ),
        legs=settlement_legs(
            s,
            psn_no=p.person.psn_no,
            insured_region=p.insurance.insured_region,
            treatment_region=institution.region,
            fixmedins_code=institution.code,
            draws=p.draws,
        ),
        visit=p.visit,
        visit_status="settled" if kind == INPATIENT and not req.mid_settlement else None,
        now=now,
    )
    try:
        record_settlement(session, place, write)
    except LinesSettledMeanwhileError as exc:  # a concurrent 2207/2304 of the same visit won
        raise RefusedError(
            f"mdtrt_id {exc.mdtrt_id}: 费用明细已被同时到达的另一笔结算请求结算，本次未结算"
            f"（读取的 {exc.read} 条明细中仅 {exc.settled} 条仍未结算）；请以 5203 查询结算结果。"
            " The fee lines were settled by another request meanwhile; nothing was written."
        ) from None
    mutual_aid.apply_draws(session, setl_id, p.draws, now)
    session.flush()
    return _view_of_prepared(
        p, institution, now, req, setl_id=setl_id, msgid=msgid, opter=opter, opter_name=opter_name
    )


def _stamp(visit: VisitLike, now: datetime) -> datetime:
    """``now``, or just after the visit's last change when that is not earlier: the
    settlements of a visit are strictly ordered by ``setl_time`` (cancellation goes
    newest first). Every settlement and cancellation sets the visit's ``updated_at`` to
    its own ``setl_time``, so the visit row (already read, and locked) bounds them all
    without a query."""
    latest: datetime | None = visit.updated_at
    if latest is not None and latest >= now:
        return (latest + timedelta(microseconds=1)).astimezone(now.tzinfo)
    return now


def _legs(s: Settlement, row: SettlementRow, draws: Sequence[Draw] = ()) -> list[tuple[str, int]]:
    return settlement_legs(
        s,
        psn_no=row.psn_no,
        insured_region=row.insured_region,
        treatment_region=row.treatment_region,
        fixmedins_code=row.fixmedins_code,
        draws=draws,
    )


def _stored_view(
    session: Session, place: InsuredPlace, row: SettlementRow, visit: VisitRow | None = None
) -> SettlementView:
    details = SettlementRepository(session).details(row.setl_id)
    s = settlement_of(row, details)
    person = place.person(row.psn_no)
    if person is None:  # pragma: no cover - persons are never deleted
        raise NotFoundError(f"psn_no {row.psn_no}: no insured person")
    insurance = person.insurance(row.insutype) or Insurance(
        row.insutype, row.psn_type, "", row.insured_region, row.civil_servant_flag
    )
    # The person fields as they were at settlement time.
    insurance = replace(insurance, psn_type=row.psn_type, civil_servant=row.civil_servant_flag)
    if visit is None:
        visit = session.get(VisitRow, row.mdtrt_id)
    assert visit is not None
    return SettlementView(
        settlement=s,
        setl_id=row.setl_id,
        mdtrt_id=row.mdtrt_id,
        setl_time=row.setl_time,
        person=person,
        insurance=insurance,
        fixmedins_code=row.fixmedins_code,
        institution_level=row.institution_level,
        med_type=row.med_type,
        mdtrt_cert_type=row.mdtrt_cert_type,
        insured_region=row.insured_region,
        treatment_region=row.treatment_region,
        cross_region=CrossRegion(row.cross_region),
        clr_optins=row.clr_optins,
        clr_type=row.clr_type,
        clr_way=row.clr_way,
        medins_setl_id=row.medins_setl_id,
        begin=visit.begin_time,
        end=visit.end_time,
        year=row.acc_year,
        status=row.status,
        reverses_setl_id=row.reverses_setl_id,
        mid_settlement=row.mid_setl_flag,
        dise_codg=row.dise_codg or "",
        dise_name=row.dise_name or "",
        invono=row.invono or "",
        opter=row.opter or "",
        opter_name=row.opter_name or "",
    )


def _own_settlement(
    session: Session, institution: InstitutionRef, setl_id: str, *, lock: bool
) -> SettlementRow:
    row = SettlementRepository(session).get(institution.code, setl_id, lock=lock)
    if row is None:
        raise NotFoundError(f"setl_id {setl_id}: no such settlement (结算信息不存在)")
    return row


def _refuse_later_settlements(session: Session, visit: VisitRow, row: SettlementRow) -> None:
    later = [
        s
        for s in SettlementRepository(session).in_force(visit.mdtrt_id)
        if s.setl_id != row.setl_id and (s.setl_time, s.setl_id) > (row.setl_time, row.setl_id)
    ]
    if later:
        raise RefusedError(
            f"setl_id {row.setl_id}: the later settlement {later[-1].setl_id} of mdtrt_id "
            f"{visit.mdtrt_id} stands; cancel it first (settlements of a visit are cancelled "
            "newest first)"
        )


def cancel_settlement(
    session: Session,
    place: InsuredPlace,
    institution: InstitutionRef,
    now: datetime,
    *,
    mdtrt_id: str,
    setl_id: str,
    psn_no: str,
    kind: str,
    msgid: str,
    opter: str = "",
    opter_name: str = "",
) -> SettlementView:
    """2208 / 2305: write the reverse settlement of ``setl_id``; returns it."""
    visit = own_visit(session, institution, mdtrt_id, psn_no)
    require_kind(visit, kind, "2208 (cancel settlement)" if kind == OUTPATIENT else "2305")
    row = _own_settlement(session, institution, setl_id, lock=True)
    if row.mdtrt_id != visit.mdtrt_id:
        raise RefusedError(f"setl_id {setl_id} does not belong to mdtrt_id {mdtrt_id}")
    return cancel_settlement_row(
        session, place, now, visit, row, msgid=msgid, opter=opter, opter_name=opter_name
    )


def cancel_settlement_row(
    session: Session,
    place: InsuredPlace,
    now: datetime,
    visit: VisitRow,
    row: SettlementRow,
    *,
    msgid: str,
    opter: str = "",
    opter_name: str = "",
) -> SettlementView:
    if row.refd_setl_flag:
        raise RefusedError(
            f"setl_id {row.setl_id} is the reverse record of {row.reverses_setl_id}; it cannot "
            "be cancelled"
        )
    if row.status != "valid":
        reverse = SettlementRepository(session).reverse_of(row.setl_id)
        by = f" by {reverse.setl_id}" if reverse is not None else ""
        raise RefusedError(f"setl_id {row.setl_id} is already cancelled{by}")
    _refuse_later_settlements(session, visit, row)

    original = settlement_of(row, SettlementRepository(session).details(row.setl_id))
    state = place.lock_benefit_state(row.psn_no, row.insutype, row.acc_year)
    rev = calculator.reverse(original, state.account)
    # Mutual aid goes back to each holder; a grant ended since keeps no quota for it.
    draws = mutual_aid.draws_of(session, row.setl_id, row.psn_no) if original.mutual_aid else []
    lost = sum(d.amount for d, active in draws if not active)
    if lost:
        rev = replace(rev, mutual_aid_balance_after=rev.mutual_aid_balance_after - lost)
    now = _stamp(visit, now)
    rev_id = new_id("ST", row.treatment_region, now)
    values = {c.key: getattr(row, c.key) for c in SettlementRow.__table__.columns}
    values.update(amounts_of(rev))
    values.update(
        setl_id=rev_id,
        setl_time=now,
        status="valid",
        refd_setl_flag=True,
        reverses_setl_id=row.setl_id,
        medins_setl_id=msgid,
        accumulator_delta=dict(rev.accumulator_delta),
        opter=opter or None,
        opter_name=opter_name or None,
    )
    reverse_row = SettlementRow(**values)
    SettlementRepository(session).add(reverse_row, rev.details)
    row.status = "cancelled"
    for line in FeeLineRepository(session).of_settlement(row.setl_id, "settled"):
        line.status = "uploaded"  # freed; setl_id keeps the settlement that last held it
    own = original.account - original.mutual_aid
    place.apply_benefit_change(
        row.psn_no,
        row.insutype,
        row.acc_year,
        rev.accumulator_delta,
        AccountState(own, original.mutual_aid - lost),
        now,
    )
    given_back = [replace(d, amount=-d.amount) for d, _active in draws]
    if draws:
        session.flush()  # the reverse row, which the draw rows refer to
        mutual_aid.apply_draws(session, rev_id, given_back, now)
    LedgerRepository(session).post(rev_id, "cancel", _legs(rev, reverse_row, given_back), now)
    if visit.kind == INPATIENT and visit.status == "settled" and not row.mid_setl_flag:
        visit.status = "discharged"
    touch(visit, now)
    session.flush()
    return _stored_view(session, place, reverse_row, visit)


def restore_cancelled(
    session: Session,
    place: InsuredPlace,
    institution: InstitutionRef,
    now: datetime,
    reverse_row: SettlementRow,
) -> SettlementView:
    """Undo a cancellation (2601 of a 2208/2305): the reverse record is voided, the
    original stands again, its lines, accumulators, account and ledger legs with it."""
    if reverse_row.status == "voided":
        return _stored_view(session, place, reverse_row)
    assert reverse_row.reverses_setl_id is not None
    row = _own_settlement(session, institution, reverse_row.reverses_setl_id, lock=True)
    visit = own_visit(session, institution, row.mdtrt_id, row.psn_no)
    if row.status != "cancelled":  # pragma: no cover - kept consistent by the services
        raise RefusedError(f"setl_id {row.setl_id} is not cancelled; nothing to restore")
    since = [
        s
        for s in SettlementRepository(session).in_force(visit.mdtrt_id)
        if (s.setl_time, s.setl_id) > (reverse_row.setl_time, reverse_row.setl_id)
        or (s.setl_time, s.setl_id) > (row.setl_time, row.setl_id)
    ]
    if since:
        raise RefusedError(
            f"cannot undo the cancellation of {row.setl_id}: settlement {since[-1].setl_id} "
            f"of mdtrt_id {visit.mdtrt_id} was made since; cancel it first"
        )
    if visit.kind == INPATIENT and not row.mid_setl_flag and visit.status != "discharged":
        raise RefusedError(
            f"cannot undo the cancellation of {row.setl_id}: mdtrt_id {visit.mdtrt_id} is no "
            "longer discharged"
        )
    if visit.status == "cancelled":
        raise RefusedError(
            f"cannot undo the cancellation of {row.setl_id}: mdtrt_id {visit.mdtrt_id} was "
            "cancelled"
        )
    lines = FeeLineRepository(session).of_settlement(row.setl_id, "uploaded")
    sums = (
        sum(ln.amount for ln in lines),
        sum(ln.fulamt_ownpay for ln in lines),
        sum(ln.overlmt for ln in lines),
        sum(ln.preselfpay for ln in lines),
        sum(ln.inscp for ln in lines),
    )
    if sums != (row.medfee, row.fulamt_ownpay, row.overlmt_selfpay, row.preselfpay, row.inscp):
        raise RefusedError(
            f"cannot undo the cancellation of {row.setl_id}: its fee lines were changed or "
            f"settled again since (lines now {format_yuan(sums[0])}, settlement "
            f"{format_yuan(row.medfee)})"
        )
    original = settlement_of(row, SettlementRepository(session).details(row.setl_id))
    state = place.lock_benefit_state(row.psn_no, row.insutype, row.acc_year)
    own = original.account - original.mutual_aid
    draws = mutual_aid.draws_of(session, row.setl_id, row.psn_no) if original.mutual_aid else []
    ended = [d.grant_id for d, active in draws if not active]
    if ended:
        raise RefusedError(
            f"cannot undo the cancellation of {row.setl_id}: mutual-aid grant "
            f"{', '.join(ended)} that paid part of it has ended since"
        )
    if state.account.balance < own or state.account.mutual_aid_balance < original.mutual_aid:
        raise RefusedError(
            f"cannot undo the cancellation of {row.setl_id}: the personal account now holds "
            f"{format_yuan(state.account.balance)}, the settlement took {format_yuan(own)}"
        )
    place.apply_benefit_change(
        row.psn_no,
        row.insutype,
        row.acc_year,
        original.accumulator_delta,
        AccountState(-own, -original.mutual_aid),
        now,
    )
    mutual_aid.apply_draws(session, row.setl_id, [d for d, _a in draws], now, record=False)
    reverse_row.status = "voided"
    row.status = "valid"
    for line in lines:
        line.status = "settled"
    taken = [d for d, _a in draws]
    LedgerRepository(session).post(row.setl_id, "restore", _legs(original, row, taken), now)
    if visit.kind == INPATIENT and not row.mid_setl_flag:
        visit.status = "settled"
    touch(visit, now)
    session.flush()
    return _stored_view(session, place, row, visit)


# --- queries -----------------------------------------------------------------------------


def settlement_info(
    session: Session,
    place: InsuredPlace,
    institution: InstitutionRef,
    *,
    setl_id: str,
    mdtrt_id: str = "",
    psn_no: str = "",
) -> SettlementView:
    """5203: one of the institution's settlements (or reverse records)."""
    row = _own_settlement(session, institution, setl_id, lock=False)
    if mdtrt_id and row.mdtrt_id != mdtrt_id:
        raise NotFoundError(f"setl_id {setl_id}: no such settlement of mdtrt_id {mdtrt_id}")
    if psn_no and row.psn_no != psn_no:
        raise NotFoundError(f"setl_id {setl_id}: no such settlement of psn_no {psn_no}")
    return _stored_view(session, place, row)


@dataclass(frozen=True, slots=True)
class AccumulatorLine:
    """One 5206 ``cuminfo`` row."""

    insutype: str
    year: int
    cum_ym: str  # yyyyMM
    key: str  # cum_type_code
    value: int  # fen, or a count (ip_admissions)


def accumulator_info(
    place: InsuredPlace, now: datetime, *, psn_no: str, cum_ym: str = ""
) -> list[AccumulatorLine]:
    """5206: the person's year-to-date accumulators of every insurance (the year of
    ``cum_ym``, default this year)."""
    if cum_ym and (len(cum_ym) != 6 or not cum_ym.isdigit() or not 1 <= int(cum_ym[4:]) <= 12):
        raise InvalidInputError(f"cum_ym: must be yyyyMM, got {cum_ym!r}")
    ym = cum_ym or now.strftime("%Y%m")
    year = int(ym[:4])
    person = place.person(psn_no)
    if person is None:
        raise NotFoundError(f"psn_no {psn_no}: no insured person (人员编号不存在)")
    rows: list[AccumulatorLine] = []
    for insurance in person.insurances:
        state = place.benefit_state(psn_no, insurance.insutype, year)
        for key in sorted(state.ytd):
            rows.append(AccumulatorLine(insurance.insutype, year, ym, key, state.ytd[key]))
    return rows


def accumulators_map(lines: list[AccumulatorLine]) -> Mapping[tuple[str, str], int]:
    return {(ln.insutype, ln.key): ln.value for ln in lines}
