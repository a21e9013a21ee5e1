"""Read side of the agency API: rows → response bodies, inside the caller's session.

Nothing here writes. Functions return ``None`` (or empty pages) when nothing matches; the
routes turn that into 404 and check the caller's scope.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from medroam.api import schemas
from medroam.domain.catalogue import PRICE_SCALE, CatalogueItem
from medroam.domain.identity import mask_id_number
from medroam.domain.money import format_yuan, ratio_to_decimal
from medroam.domain.policy import BenefitPolicy
from medroam.refdata.policies import policy_to_dict
from medroam.store.filings import FilingRepository, filing_to_record
from medroam.store.refdata_cache import catalogue_for, policies_of
from medroam.store.refdata_loader import NATIONAL_SCOPE
from medroam.store.tables import (
    AccountRow,
    CatalogueItemRow,
    ChronicQualificationRow,
    CredentialRow,
    FilingRow,
    InstitutionRow,
    InsuranceRow,
    PersonRow,
    PersonVoucherRow,
    PolicyRow,
    SettlementDetailRow,
    SettlementRow,
)

CHINA_OFFSET = timedelta(hours=8)


@dataclass(frozen=True, slots=True)
class Window:
    limit: int
    offset: int


def _page(session: Session, stmt: Select[Any], window: Window) -> tuple[list[Any], int]:
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = list(session.execute(stmt.limit(window.limit).offset(window.offset)).scalars())
    return rows, int(total)


# --- persons ---------------------------------------------------------------------------------


def person_region(session: Session, psn_no: str) -> str | None:
    return session.execute(
        select(PersonRow.insured_region).where(PersonRow.psn_no == psn_no)
    ).scalar_one_or_none()


def person_insutype(session: Session, psn_no: str) -> str | None:
    return session.execute(
        select(InsuranceRow.insutype)
        .where(InsuranceRow.psn_no == psn_no)
        .order_by(InsuranceRow.insutype)
        .limit(1)
    ).scalar_one_or_none()


def get_person(session: Session, psn_no: str) -> schemas.PersonOut | None:
    row = session.get(PersonRow, psn_no)
    if row is None:
        return None
    insurances = session.execute(
        select(InsuranceRow).where(InsuranceRow.psn_no == psn_no).order_by(InsuranceRow.insutype)
    ).scalars()
    vouchers = session.execute(
        select(PersonVoucherRow)
        .where(PersonVoucherRow.psn_no == psn_no)
        .order_by(PersonVoucherRow.mdtrt_cert_type, PersonVoucherRow.mdtrt_cert_no)
    ).scalars()
    quals = session.execute(
        select(ChronicQualificationRow)
        .where(ChronicQualificationRow.psn_no == psn_no)
        .order_by(ChronicQualificationRow.begin_date, ChronicQualificationRow.trt_dcla_detl_sn)
    ).scalars()
    account = session.get(AccountRow, psn_no)
    return schemas.PersonOut(
        psn_no=row.psn_no,
        psn_name=row.name,
        psn_cert_type=row.cert_type,
        certno=row.certno,
        gend=row.gender,
        brdy=row.birth_date,
        naty=row.naty,
        phone=row.phone,
        address=row.address,
        insuplc_admdvs=row.insured_region,
        insurances=[
            schemas.InsuranceOut(
                insutype=i.insutype,
                psn_type=i.psn_type,
                psn_insu_stas=i.psn_insu_stas,
                insuplc_admdvs=i.insured_region,
                cvlserv_flag="1" if i.cvlserv_flag else "0",
                emp_name=i.emp_name,
                psn_insu_date=i.begin_date,
                assistance=i.assistance,
            )
            for i in insurances
        ],
        balc=format_yuan(account.balance if account else 0),
        mutual_aid_balc=format_yuan(account.mutual_aid_balance if account else 0),
        vouchers=[
            schemas.VoucherOut(
                mdtrt_cert_type=v.mdtrt_cert_type, mdtrt_cert_no=v.mdtrt_cert_no, card_sn=v.card_sn
            )
            for v in vouchers
        ],
        chronic_qualifications=[
            schemas.QualificationOut(
                trt_dcla_detl_sn=q.trt_dcla_detl_sn,
                opsp_dise_code=q.opsp_dise_code,
                opsp_dise_name=q.opsp_dise_name,
                begin_date=q.begin_date,
                end_date=q.end_date,
                status=q.status,
            )
            for q in quals
        ],
    )


def list_persons(
    session: Session, region: str, insutype: str | None, window: Window
) -> schemas.Page[schemas.PersonListItem]:
    """The persons insured in ``region`` (ID numbers masked), by psn_no."""
    first_insurance = (
        select(InsuranceRow.insutype, InsuranceRow.psn_type)
        .where(InsuranceRow.psn_no == PersonRow.psn_no)
        .order_by(InsuranceRow.insutype)
        .limit(1)
        .correlate(PersonRow)
    )
    stmt = select(PersonRow).where(PersonRow.insured_region == region)
    if insutype is not None:
        stmt = stmt.where(
            select(InsuranceRow.psn_no)
            .where(InsuranceRow.psn_no == PersonRow.psn_no, InsuranceRow.insutype == insutype)
            .exists()
        )
    rows, total = _page(session, stmt.order_by(PersonRow.psn_no), window)
    items = []
    for row in rows:
        ins = session.execute(first_insurance.where(PersonRow.psn_no == row.psn_no)).first()
        items.append(
            schemas.PersonListItem(
                psn_no=row.psn_no,
                psn_name=row.name,
                certno=None if row.certno is None else mask_id_number(row.certno),
                gend=row.gender,
                insuplc_admdvs=row.insured_region,
                insutype=None if ins is None else ins[0],
                psn_type=None if ins is None else ins[1],
            )
        )
    return schemas.Page(items=items, total=total, limit=window.limit, offset=window.offset)


def person_by_certno(session: Session, certno: str) -> str | None:
    return session.execute(
        select(PersonRow.psn_no).where(PersonRow.certno == certno).limit(1)
    ).scalar_one_or_none()


def voucher_owner(session: Session, cert_type: str, cert_no: str) -> str | None:
    return session.execute(
        select(PersonVoucherRow.psn_no).where(
            PersonVoucherRow.mdtrt_cert_type == cert_type,
            PersonVoucherRow.mdtrt_cert_no == cert_no,
        )
    ).scalar_one_or_none()


# --- filings ---------------------------------------------------------------------------------


def filing_out(record: dict[str, Any]) -> schemas.FilingOut:
    return schemas.FilingOut.model_validate(record)


def covering_areas(region: str) -> list[str]:
    """The destinations that cover ``region``: itself, its city and its province."""
    return sorted({region, region[:4] + "00", region[:2] + "0000"})


def list_filings(
    session: Session,
    *,
    psn_no: str | None,
    insured_region: str | None,
    treatment_region: str | None,
    active_only: bool,
    window: Window,
) -> schemas.Page[schemas.FilingOut]:
    stmt = select(FilingRow)
    if psn_no is not None:
        stmt = stmt.where(FilingRow.psn_no == psn_no)
    if insured_region is not None:
        stmt = stmt.where(FilingRow.insured_region == insured_region)
    if treatment_region is not None:
        stmt = stmt.where(FilingRow.destination.in_(covering_areas(treatment_region)))
    if active_only:
        stmt = stmt.where(FilingRow.status == "active")
    stmt = stmt.order_by(FilingRow.valid_from, FilingRow.filing_id)
    rows, total = _page(session, stmt, window)
    repo = FilingRepository(session)
    items = []
    for row in rows:
        filing = repo.get(row.filing_id)
        if filing is not None:
            items.append(filing_out(filing_to_record(filing)))
    return schemas.Page(items=items, total=total, limit=window.limit, offset=window.offset)


# --- institutions ----------------------------------------------------------------------------


def _institution(session: Session, row: InstitutionRow) -> schemas.InstitutionOut:
    creds = session.execute(
        select(CredentialRow)
        .where(CredentialRow.fixmedins_code == row.fixmedins_code)
        .order_by(CredentialRow.scheme, CredentialRow.credential_id)
    ).scalars()
    return schemas.InstitutionOut(
        fixmedins_code=row.fixmedins_code,
        fixmedins_name=row.name,
        region=row.region,
        level=row.level,
        kind=row.kind,
        networked=row.networked,
        active=row.active,
        credentials=[
            schemas.CredentialOut(scheme=c.scheme, key_id=c.key_id, active=c.active) for c in creds
        ],
    )


def get_institution(session: Session, code: str) -> schemas.InstitutionOut | None:
    row = session.get(InstitutionRow, code)
    return None if row is None else _institution(session, row)


def institution_region(session: Session, code: str) -> str | None:
    return session.execute(
        select(InstitutionRow.region).where(InstitutionRow.fixmedins_code == code)
    ).scalar_one_or_none()


def list_institutions(
    session: Session,
    region: str,
    *,
    level: str | None,
    active: bool | None,
    window: Window,
) -> schemas.Page[schemas.InstitutionOut]:
    stmt = select(InstitutionRow).where(InstitutionRow.region == region)
    if level is not None:
        stmt = stmt.where(InstitutionRow.level == level)
    if active is not None:
        stmt = stmt.where(InstitutionRow.active.is_(active))
    rows, total = _page(session, stmt.order_by(InstitutionRow.fixmedins_code), window)
    return schemas.Page(
        items=[_institution(session, r) for r in rows],
        total=total,
        limit=window.limit,
        offset=window.offset,
    )


# --- policies --------------------------------------------------------------------------------


def _version(row: PolicyRow) -> schemas.PolicyVersion:
    return schemas.PolicyVersion(
        region=row.region,
        insutype=row.insutype,
        effective_from=row.effective_from,
        effective_to=row.effective_to,
        synthetic=row.synthetic,
        source=row.source,
    )


def policy_versions(session: Session, region: str, insutype: str) -> list[schemas.PolicyVersion]:
    rows = session.execute(
        select(PolicyRow)
        .where(PolicyRow.region == region, PolicyRow.insutype == insutype)
        .order_by(PolicyRow.effective_from)
    ).scalars()
    return [_version(r) for r in rows]


def policy_in_force(
    session: Session, region: str, insutype: str, on: date
) -> schemas.PolicyDocument | None:
    row = session.execute(
        select(PolicyRow)
        .where(
            PolicyRow.region == region,
            PolicyRow.insutype == insutype,
            PolicyRow.effective_from <= on,
            or_(PolicyRow.effective_to.is_(None), PolicyRow.effective_to >= on),
        )
        .order_by(PolicyRow.effective_from.desc())
        .limit(1)
    ).scalar_one_or_none()
    if row is None:
        return None
    return schemas.PolicyDocument(**_version(row).model_dump(), document=row.document)


def stored_policies(session: Session, region: str, insutype: str) -> tuple[BenefitPolicy, ...]:
    """The stored versions as domain policies (validated when stored)."""
    return policies_of(session, region, insutype)


def policy_document(policy: BenefitPolicy) -> dict[str, Any]:
    return policy_to_dict(policy)


# --- catalogue -------------------------------------------------------------------------------


def _price(micro: int | None) -> str | None:
    if micro is None:
        return None
    return str((Decimal(micro) / PRICE_SCALE).quantize(Decimal("0.000001")))


def item_out(item: CatalogueItem, region: str) -> schemas.CatalogueItemOut:
    return schemas.CatalogueItemOut(
        med_list_codg=item.code,
        name=item.name,
        list_type=item.list_type,
        med_chrgitm_type=item.charge_type,
        chrgitm_lv=item.level,
        selfpay_prop=str(ratio_to_decimal(item.selfpay_ratio)),
        pric_uplmt_amt=_price(item.price_cap),
        lmt_used_flag=item.restricted,
        essential=item.essential,
        negotiated=item.negotiated,
        special=item.special,
        synthetic=item.synthetic,
        region=region,
    )


def catalogue_loaded(session: Session) -> bool:
    return (
        session.execute(
            select(CatalogueItemRow.code).where(CatalogueItemRow.scope == NATIONAL_SCOPE).limit(1)
        ).first()
        is not None
    )


def catalogue_item(session: Session, region: str, code: str) -> schemas.CatalogueItemOut | None:
    item = catalogue_for(session, region).items.get(code)
    return None if item is None else item_out(item, region)


def search_catalogue(
    session: Session, region: str, name: str, window: Window
) -> schemas.Page[schemas.CatalogueItemOut]:
    needle = name.casefold()
    items = catalogue_for(session, region).items
    found = sorted(
        (i for i in items.values() if needle in i.name.casefold()), key=lambda i: (i.name, i.code)
    )
    page = found[window.offset : window.offset + window.limit]
    return schemas.Page(
        items=[item_out(i, region) for i in page],
        total=len(found),
        limit=window.limit,
        offset=window.offset,
    )


# --- settlements -----------------------------------------------------------------------------


def _ratio(value: int) -> str:
    return str(ratio_to_decimal(value))


def settlement_out(
    row: SettlementRow, details: Sequence[SettlementDetailRow]
) -> schemas.SettlementOut:
    y = format_yuan
    return schemas.SettlementOut(
        setl_id=row.setl_id,
        mdtrt_id=row.mdtrt_id,
        psn_no=row.psn_no,
        insutype=row.insutype,
        fixmedins_code=row.fixmedins_code,
        med_type=row.med_type,
        setl_time=row.setl_time,
        status=row.status,
        refd_setl_flag="1" if row.refd_setl_flag else "0",
        reverses_setl_id=row.reverses_setl_id,
        insuplc_admdvs=row.insured_region,
        mdtrtarea_admvs=row.treatment_region,
        cross_region=row.cross_region,
        benefit_status=row.benefit_status,
        medfee_sumamt=y(row.medfee),
        fulamt_ownpay_amt=y(row.fulamt_ownpay),
        overlmt_selfpay=y(row.overlmt_selfpay),
        preselfpay_amt=y(row.preselfpay),
        inscp_scp_amt=y(row.inscp),
        act_pay_dedc=y(row.deductible),
        hifp_pay=y(row.pool),
        pool_prop_selfpay=_ratio(row.pool_ratio),
        cvlserv_pay=y(row.civil_servant),
        hifes_pay=y(row.enterprise),
        hifmi_pay=y(row.critical_illness),
        hifob_pay=y(row.large_expense),
        maf_pay=y(row.assistance),
        oth_pay=y(row.other),
        fund_pay_sumamt=y(row.fund_total),
        psn_part_amt=y(row.personal),
        acct_pay=y(row.account),
        acct_mulaid_pay=y(row.mutual_aid),
        psn_cash_pay=y(row.cash),
        hosp_part_amt=y(row.hospital),
        balc=y(row.balance_after),
        clr_optins=row.clr_optins,
        clr_type=row.clr_type,
        medins_setl_id=row.medins_setl_id,
        setldetail=[
            schemas.SettlementDetailOut(
                fund_pay_type=d.fund_pay_type,
                inscp_amt=y(d.inscp),
                crt_payb_lmt_amt=y(d.limit_amount),
                fund_payamt=y(d.paid),
                setl_proc_info=d.note,
            )
            for d in details
        ],
    )


def _with_details(session: Session, rows: Sequence[SettlementRow]) -> list[schemas.SettlementOut]:
    if not rows:
        return []
    ids = [r.setl_id for r in rows]
    by_id: dict[str, list[SettlementDetailRow]] = {i: [] for i in ids}
    for d in session.execute(
        select(SettlementDetailRow)
        .where(SettlementDetailRow.setl_id.in_(ids))
        .order_by(SettlementDetailRow.setl_id, SettlementDetailRow.seq)
    ).scalars():
        by_id[d.setl_id].append(d)
    return [settlement_out(r, by_id[r.setl_id]) for r in rows]


def get_settlement(session: Session, setl_id: str) -> schemas.SettlementOut | None:
    row = session.get(SettlementRow, setl_id)
    return None if row is None else _with_details(session, [row])[0]


def settlement_regions(session: Session, setl_id: str) -> tuple[str, str] | None:
    """(insured region, treatment region) of a settlement."""
    row = session.execute(
        select(SettlementRow.insured_region, SettlementRow.treatment_region).where(
            SettlementRow.setl_id == setl_id
        )
    ).first()
    return None if row is None else (row[0], row[1])


def _utc_bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """A date range in China time (00:00:00 of the start to 23:59:59 of the end) in UTC."""
    lo = None if start is None else datetime.combine(start, time.min, UTC) - CHINA_OFFSET
    hi = (
        None
        if end is None
        else datetime.combine(end + timedelta(days=1), time.min, UTC) - CHINA_OFFSET
    )
    return lo, hi


def list_settlements(
    session: Session,
    *,
    psn_no: str | None = None,
    fixmedins_code: str | None = None,
    treatment_region: str | None = None,
    start: date | None = None,
    end: date | None = None,
    window: Window,
) -> schemas.Page[schemas.SettlementOut]:
    stmt = select(SettlementRow)
    if psn_no is not None:
        stmt = stmt.where(SettlementRow.psn_no == psn_no)
    if fixmedins_code is not None:
        stmt = stmt.where(SettlementRow.fixmedins_code == fixmedins_code)
    if treatment_region is not None:
        stmt = stmt.where(SettlementRow.treatment_region == treatment_region)
    lo, hi = _utc_bounds(start, end)
    if lo is not None:
        stmt = stmt.where(SettlementRow.setl_time >= lo)
    if hi is not None:
        stmt = stmt.where(SettlementRow.setl_time < hi)
    rows, total = _page(
        session, stmt.order_by(SettlementRow.setl_time, SettlementRow.setl_id), window
    )
    return schemas.Page(
        items=_with_details(session, rows), total=total, limit=window.limit, offset=window.offset
    )
