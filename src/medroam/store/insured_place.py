"""The in-process adapter of the insured-place port, and the person registry's writes.

:class:`SqlInsuredPlace` answers :class:`~medroam.services.ports.InsuredPlace` from the
same database and session as the place of treatment. Locking: on PostgreSQL
``lock_benefit_state`` takes ``SELECT … FOR UPDATE`` on the person's ``insurances`` row
before reading the accumulators, so two settlements of one person serialise and the
second sees what the first wrote; on SQLite every transaction already starts with
``BEGIN IMMEDIATE`` (``store.db``), which serialises writers.

``register_person`` and friends fill the registry (seed data, tests, a future agency
API); they never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, literal, select, union_all, update
from sqlalchemy.orm import Session

from medroam.domain.accumulators import Accumulators
from medroam.domain.codes import AssistanceCategory
from medroam.domain.filing import Filing
from medroam.domain.policy import BenefitPolicy
from medroam.domain.province import ProvinceBook, ProvinceSettings
from medroam.domain.settlement import AccountState
from medroam.refdata.provinces import load_province_book
from medroam.services.ports import BenefitState, ChronicQualification, Insurance, InsuredPerson
from medroam.store import refdata_cache
from medroam.store.fastsql import FastQuery
from medroam.store.filings import FilingRepository
from medroam.store.tables import (
    AccountRow,
    AccumulatorRow,
    ChronicQualificationRow,
    InsuranceRow,
    PersonRow,
    PersonVoucherRow,
)
from medroam.store.upsert import insert_or_add, table_of

CERT_E_VOUCHER = "01"
CERT_ID_NUMBER = "02"
CERT_SOCIAL_CARD = "03"


_P, _I = table_of(PersonRow), table_of(InsuranceRow)
_PERSON_WITH_INSURANCES = FastQuery(
    select(
        _P.c.psn_no,
        _P.c.cert_type,
        _P.c.certno,
        _P.c.name,
        _P.c.gender,
        _P.c.birth_date,
        _P.c.naty,
        _P.c.phone,
        _I.c.insutype,
        _I.c.psn_type,
        _I.c.psn_insu_stas,
        _I.c.insured_region,
        _I.c.cvlserv_flag,
        _I.c.emp_name,
        _I.c.begin_date,
        _I.c.pause_date,
        _I.c.assistance,
    )
    .outerjoin(_I, _I.c.psn_no == _P.c.psn_no)
    .where(_P.c.psn_no == bindparam("psn_no"))
    .order_by(_I.c.insutype)
)
_V = table_of(PersonVoucherRow)
_VOUCHER = FastQuery(
    select(_V.c.card_sn, _V.c.psn_no).where(
        _V.c.mdtrt_cert_type == bindparam("cert_type"), _V.c.mdtrt_cert_no == bindparam("cert_no")
    )
)

# The account's rows in the benefit-state query, under keys no accumulator has.
_BALANCE = "#account.balance"
_MUTUAL_AID = "#account.mutual_aid"


def _benefit_state_query() -> Any:
    acc, account = table_of(AccumulatorRow), table_of(AccountRow)
    psn: Any = bindparam("psn_no")
    return union_all(
        select(acc.c.key, acc.c.value).where(
            acc.c.psn_no == psn,
            acc.c.insutype == bindparam("insutype"),
            acc.c.year == bindparam("year"),
        ),
        select(literal(_BALANCE), account.c.balance).where(account.c.psn_no == psn),
        select(literal(_MUTUAL_AID), account.c.mutual_aid_balance).where(account.c.psn_no == psn),
    )


def _change_account_statement() -> FastQuery:
    a = table_of(AccountRow)
    balance = a.c.balance + bindparam("balance", type_=a.c.balance.type)
    mutual = a.c.mutual_aid_balance + bindparam("mutual", type_=a.c.mutual_aid_balance.type)
    return FastQuery(
        update(a)
        .where(a.c.psn_no == bindparam("psn_no"), balance >= 0, mutual >= 0)
        .values(
            balance=balance,
            mutual_aid_balance=mutual,
            updated_at=bindparam("now", type_=a.c.updated_at.type),
        )
        .returning(a.c.psn_no)
    )


# The account's guarded update (never below zero): one statement, built once.
_CHANGE_ACCOUNT = _change_account_statement()

# Built once: a settlement reads it under its lock (a statement built per call costs
# more CPU than the database spends answering it).
_BENEFIT_STATE = FastQuery(_benefit_state_query())


class SqlInsuredPlace:
    """The place of insurance in the same database, inside the caller's session.

    Province settings come from ``provinces`` (default: the packaged
    ``data/provinces.json``)."""

    def __init__(self, session: Session, provinces: ProvinceBook | None = None) -> None:
        self.session = session
        self.provinces = provinces

    # --- persons ---------------------------------------------------------------------

    def find_person(self, cert_type: str, cert_no: str, card_sn: str = "") -> str | None:
        row = _VOUCHER.first(self.session, {"cert_type": cert_type, "cert_no": cert_no})
        if row is not None:
            # card_sn is checked when sent; the national edition sends it with 1101 only,
            # so a social-security card without it still identifies its holder
            if cert_type == CERT_SOCIAL_CARD and card_sn and row.card_sn not in ("", card_sn):
                return None
            return str(row.psn_no)
        if cert_type == CERT_ID_NUMBER:
            # An ID number identifies the person even without a voucher row.
            found = self.session.execute(
                select(PersonRow.psn_no).where(
                    PersonRow.certno == cert_no.upper(), PersonRow.cert_type == "01"
                )
            ).scalars()
            matches = list(found)
            if len(matches) == 1:
                return matches[0]
        return None

    def person(self, psn_no: str) -> InsuredPerson | None:
        # One query: the person with every insurance (outer join: a person without one
        # is still found), read as plain rows (no ORM entities: this is on every
        # registration and settlement).
        rows = _PERSON_WITH_INSURANCES.all(self.session, {"psn_no": psn_no})
        if not rows:
            return None
        row = rows[0]
        return InsuredPerson(
            psn_no=row.psn_no,
            name=row.name or "",
            cert_type=row.cert_type or "",
            cert_no=row.certno or "",
            gender=row.gender or "",
            birth_date=row.birth_date,
            naty=row.naty or "",
            phone=row.phone or "",
            insurances=tuple(_insurance(r) for r in rows if r.insutype is not None),
        )

    def filings(self, psn_no: str) -> list[Filing]:
        return FilingRepository(self.session).list_for_person(psn_no)

    def chronic_qualifications(self, psn_no: str) -> list[ChronicQualification]:
        rows = self.session.execute(
            select(ChronicQualificationRow)
            .where(ChronicQualificationRow.psn_no == psn_no)
            .order_by(ChronicQualificationRow.begin_date)
        ).scalars()
        return [
            ChronicQualification(
                trt_dcla_detl_sn=r.trt_dcla_detl_sn,
                psn_no=r.psn_no,
                disease_code=r.opsp_dise_code,
                begin_date=r.begin_date,
                end_date=r.end_date,
                active=r.status == "active",
                insutype=r.insutype,
                disease_name=r.opsp_dise_name or "",
            )
            for r in rows
        ]

    def policy(self, region: str, insutype: str, on: date) -> BenefitPolicy:
        return refdata_cache.policy_for(self.session, region, insutype, on)

    def province_settings(self, region: str) -> ProvinceSettings:
        return (self.provinces or load_province_book()).of(region)

    # --- accumulators and account ----------------------------------------------------

    def benefit_state(self, psn_no: str, insutype: str, year: int) -> BenefitState:
        return self._read(psn_no, insutype, year)

    def lock_benefit_state(self, psn_no: str, insutype: str, year: int) -> BenefitState:
        locked = self.session.execute(
            select(InsuranceRow.psn_no)
            .where(InsuranceRow.psn_no == psn_no, InsuranceRow.insutype == insutype)
            .with_for_update()
        ).scalar_one_or_none()
        if locked is None:
            raise LookupError(f"person {psn_no} has no insurance {insutype}")
        return self._read(psn_no, insutype, year)

    def _read(self, psn_no: str, insutype: str, year: int) -> BenefitState:
        # One prebuilt query: the year's accumulators, then the account's two balances.
        rows = _BENEFIT_STATE.all(
            self.session, {"psn_no": psn_no, "insutype": insutype, "year": year}
        )
        values = {k: v for k, v in rows}
        balance, mutual = values.pop(_BALANCE, None), values.pop(_MUTUAL_AID, None)
        state = AccountState() if balance is None else AccountState(balance, mutual or 0)
        return BenefitState(Accumulators(values), state)

    def apply_benefit_change(
        self,
        psn_no: str,
        insutype: str,
        year: int,
        delta: Mapping[str, int],
        account_delta: AccountState,
        now: datetime,
    ) -> None:
        """Add ``delta`` to the year's accumulators (one upsert for every key; rows that
        come back to 0 are removed, as if never written) and ``account_delta`` to the
        balances (one guarded update)."""
        session = self.session
        rows: list[dict[str, object]] = [
            {"psn_no": psn_no, "insutype": insutype, "year": year, "key": key,
             "value": amount, "updated_at": now}
            for key, amount in sorted(delta.items())
            if amount
        ]  # fmt: skip
        accumulators = table_of(AccumulatorRow)
        insert_or_add(
            session,
            accumulators,
            rows,
            key=("psn_no", "insutype", "year", "key"),
            add=("value",),
            replace=("updated_at",),
        )
        if any(amount < 0 for amount in delta.values()):
            c = accumulators.c
            session.execute(
                delete(accumulators).where(
                    c.psn_no == psn_no, c.insutype == insutype, c.year == year, c.value == 0
                )
            )
        if account_delta.balance or account_delta.mutual_aid_balance:
            self.change_account(psn_no, account_delta, now)

    def change_account(self, psn_no: str, change: AccountState, now: datetime) -> None:
        """Add ``change`` to the account: one guarded update; a missing row is created;
        a balance that would go negative is refused (ValueError)."""
        accounts = table_of(AccountRow)
        c = accounts.c
        params = {
            "psn_no": psn_no,
            "balance": change.balance,
            "mutual": change.mutual_aid_balance,
            "now": now,
        }
        if _CHANGE_ACCOUNT.tuples(self.session, params):
            return
        current = self.session.execute(
            select(c.balance, c.mutual_aid_balance).where(c.psn_no == psn_no)
        ).one_or_none()
        before = (0, 0) if current is None else (current[0], current[1])
        after = (before[0] + change.balance, before[1] + change.mutual_aid_balance)
        if after[0] < 0 or after[1] < 0:
            raise ValueError(
                f"account of {psn_no} would go negative (balance {after[0]}, "
                f"mutual aid {after[1]} fen)"
            )
        self.session.execute(
            insert(accounts).values(
                psn_no=psn_no, balance=after[0], mutual_aid_balance=after[1], updated_at=now
            )
        )


def is_local(place: object, session: Session) -> bool:
    """Whether ``place`` is the in-process adapter working in ``session`` (its reads and
    writes then share the caller's transaction and locks)."""
    return isinstance(place, SqlInsuredPlace) and place.session is session


def _insurance(row: Any) -> Insurance:
    """An insurance from an ``insurances`` row (an ORM entity or a plain row)."""
    return Insurance(
        insutype=row.insutype,
        psn_type=row.psn_type,
        status=row.psn_insu_stas,
        insured_region=row.insured_region,
        civil_servant=row.cvlserv_flag,
        emp_name=row.emp_name or "",
        begin_date=row.begin_date,
        pause_date=row.pause_date,
        assistance=None if row.assistance is None else AssistanceCategory(row.assistance),
    )


# --- the registry's writes ----------------------------------------------------------------


def register_person(
    session: Session,
    person: InsuredPerson,
    *,
    vouchers: Iterable[tuple[str, str, str | None]] = (),
    account: AccountState | None = None,
    now: datetime,
) -> None:
    """Create or replace a person with their insurances, vouchers
    ``(mdtrt_cert_type, mdtrt_cert_no, card_sn)`` and account. The person's own
    ``insured_region`` is that of their first insurance."""
    if not person.insurances:
        raise ValueError(f"person {person.psn_no} needs at least one insurance")
    row = session.get(PersonRow, person.psn_no)
    if row is None:
        row = PersonRow(psn_no=person.psn_no)
        session.add(row)
    row.cert_type = person.cert_type
    row.certno = person.cert_no
    row.name = person.name
    row.gender = person.gender
    row.birth_date = person.birth_date
    row.naty = person.naty or None
    row.phone = person.phone or None
    row.insured_region = person.insurances[0].insured_region
    session.flush()
    session.execute(delete(InsuranceRow).where(InsuranceRow.psn_no == person.psn_no))
    for insurance in person.insurances:
        session.add(
            InsuranceRow(
                psn_no=person.psn_no,
                insutype=insurance.insutype,
                psn_type=insurance.psn_type,
                psn_insu_stas=insurance.status,
                insured_region=insurance.insured_region,
                cvlserv_flag=insurance.civil_servant,
                emp_name=insurance.emp_name or None,
                begin_date=insurance.begin_date,
                pause_date=insurance.pause_date,
                assistance=None if insurance.assistance is None else insurance.assistance.value,
            )
        )
    for cert_type, cert_no, card_sn in vouchers:
        voucher = session.get(PersonVoucherRow, (cert_type, cert_no))
        if voucher is None:
            session.add(
                PersonVoucherRow(
                    mdtrt_cert_type=cert_type,
                    mdtrt_cert_no=cert_no,
                    card_sn=card_sn,
                    psn_no=person.psn_no,
                )
            )
        else:
            voucher.card_sn = card_sn
            voucher.psn_no = person.psn_no
    if account is not None:
        set_account(session, person.psn_no, account, now=now)
    session.flush()


def set_account(session: Session, psn_no: str, account: AccountState, *, now: datetime) -> None:
    row = session.get(AccountRow, psn_no)
    if row is None:
        session.add(
            AccountRow(
                psn_no=psn_no,
                balance=account.balance,
                mutual_aid_balance=account.mutual_aid_balance,
                updated_at=now,
            )
        )
    else:
        row.balance = account.balance
        row.mutual_aid_balance = account.mutual_aid_balance
        row.updated_at = now
    session.flush()


def set_insurance_status(
    session: Session, psn_no: str, insutype: str, status: str, *, pause_date: date | None = None
) -> None:
    row = session.get(InsuranceRow, (psn_no, insutype))
    if row is None:
        raise LookupError(f"person {psn_no} has no insurance {insutype}")
    row.psn_insu_stas = status
    row.pause_date = pause_date
    session.flush()


def set_accumulators(
    session: Session,
    psn_no: str,
    insutype: str,
    year: int,
    values: Mapping[str, int],
    *,
    now: datetime,
) -> None:
    """Replace the year's accumulators (e.g. history carried over from another system)."""
    session.execute(
        delete(AccumulatorRow).where(
            AccumulatorRow.psn_no == psn_no,
            AccumulatorRow.insutype == insutype,
            AccumulatorRow.year == year,
        )
    )
    for key, value in values.items():
        if value:
            session.add(
                AccumulatorRow(
                    psn_no=psn_no,
                    insutype=insutype,
                    year=year,
                    key=key,
                    value=value,
                    updated_at=now,
                )
            )
    session.flush()


def add_chronic_qualification(
    session: Session, qualification: ChronicQualification, *, now: datetime, reviewed: bool = True
) -> None:
    session.add(
        ChronicQualificationRow(
            trt_dcla_detl_sn=qualification.trt_dcla_detl_sn,
            psn_no=qualification.psn_no,
            insutype=qualification.insutype,
            opsp_dise_code=qualification.disease_code,
            opsp_dise_name=qualification.disease_name or None,
            begin_date=qualification.begin_date,
            end_date=qualification.end_date,
            status="active" if qualification.active else "cancelled",
            reviewed=reviewed,
            ide_fixmedins_no=None,
            created_at=now,
        )
    )
    session.flush()
