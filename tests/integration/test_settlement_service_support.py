"""A small world for the settlement service tests (no tests here; imported by them).

Everything is SYNTHETIC: the packaged synthetic catalogue and policies (loaded into the
database with ``load_reference_data``), two hospitals in 北京 (110100), one in 深圳
(440300), and insured persons of 呼和浩特 (150100, employees), 昆明 (530100, residents),
广州 (440100, employees) and 北京 (110100, employees).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from medroam.domain.catalogue import PRICE_SCALE, QTY_SCALE, Catalogue, CatalogueItem
from medroam.domain.codes import FilingType
from medroam.domain.filing import FilingChannel, FilingRequest
from medroam.domain.money import yuan_to_fen
from medroam.domain.settlement import AccountState
from medroam.services import fees, settlement, visits
from medroam.services.filings import make_filing
from medroam.services.ports import Insurance, InsuredPerson
from medroam.services.uow import unit_of_work
from medroam.store import refdata_cache
from medroam.store.insured_place import SqlInsuredPlace, register_person
from medroam.store.refdata_loader import load_reference_data
from medroam.store.tables import (
    AccountRow,
    AccumulatorRow,
    FeeLineRow,
    InstitutionRow,
    LedgerLegRow,
    LedgerPostingRow,
    SettlementRow,
)

CST = timezone(timedelta(hours=8))
NOW = datetime(2025, 6, 10, 9, 30, tzinfo=CST)

BEIJING = "110100"
SHENZHEN = "440300"


@dataclass(frozen=True, slots=True)
class Hospital:
    """Satisfies the services' ``InstitutionRef`` (and mirrors the gateway's)."""

    code: str
    name: str
    region: str
    level: str = "3"
    kind: str = "hospital"
    networked: bool = True


H_BJ = Hospital("H11010000001", "北京合成第一医院", BEIJING)
H_BJ2 = Hospital("H11010000002", "北京合成第二医院", BEIJING)
H_SZ = Hospital("H44030000001", "深圳合成医院", SHENZHEN)

# persons: (psn_no, insured region, insutype, psn_type, ID number, birth)
EMPLOYEE_HHHT = "P150100000001"  # 呼和浩特 employee, filed long-term to 北京
RESIDENT_KM = "P530100000001"  # 昆明 resident, no filing
EMPLOYEE_GZ = "P440100000001"  # 广州 employee (intra-province at 深圳)
EMPLOYEE_BJ = "P110100000001"  # 北京 employee (local at 北京)
TEMP_HHHT = "P150100000002"  # 呼和浩特 employee with a temporary filing to 北京

_PEOPLE: dict[str, tuple[str, str, str, str, date]] = {
    EMPLOYEE_HHHT: ("150100", "310", "1101", "150102198003150010", date(1980, 3, 15)),
    RESIDENT_KM: ("530100", "390", "1501", "530102198506200025", date(1985, 6, 20)),
    EMPLOYEE_GZ: ("440100", "310", "1201", "440103195501010039", date(1955, 1, 1)),
    EMPLOYEE_BJ: ("110100", "310", "1101", "110105199001010045", date(1990, 1, 1)),
    TEMP_HHHT: ("150100", "310", "1101", "150102197001010052", date(1970, 1, 1)),
}
BALANCE = yuan_to_fen("2000.00")
MUTUAL_AID = yuan_to_fen("300.00")


def e_voucher(psn_no: str) -> str:
    return f"EV-{psn_no}"


def id_number(psn_no: str) -> str:
    return _PEOPLE[psn_no][3]


def insurance_of(psn_no: str) -> tuple[str, str]:
    """(insured region, insutype)."""
    return _PEOPLE[psn_no][0], _PEOPLE[psn_no][1]


def build_world(engine: Engine) -> None:
    with unit_of_work(engine) as s:
        load_reference_data(s)
        for h in (H_BJ, H_BJ2, H_SZ):
            s.add(
                InstitutionRow(
                    fixmedins_code=h.code,
                    name=h.name,
                    region=h.region,
                    level=h.level,
                    kind=h.kind,
                    networked=h.networked,
                    active=True,
                )
            )
        for psn_no, (region, insutype, psn_type, certno, birth) in _PEOPLE.items():
            register_person(
                s,
                InsuredPerson(
                    psn_no=psn_no,
                    name="测试" + psn_no[-2:],
                    cert_type="01",
                    cert_no=certno,
                    gender="1",
                    birth_date=birth,
                    naty="01",
                    insurances=(
                        Insurance(
                            insutype=insutype,
                            psn_type=psn_type,
                            status="1",
                            insured_region=region,
                            emp_name="合成单位" if insutype == "310" else "",
                            begin_date=date(2010, 1, 1),
                        ),
                    ),
                ),
                vouchers=[("01", e_voucher(psn_no), None), ("03", f"C{psn_no}", "SN" + psn_no)],
                account=AccountState(BALANCE, MUTUAL_AID) if insutype == "310" else None,
                now=NOW,
            )
    for psn_no, ftype in (
        (EMPLOYEE_HHHT, FilingType.LT_RESIDENT),
        (TEMP_HHHT, FilingType.TMP_OTHER),
    ):
        with unit_of_work(engine) as s:
            rules = SqlInsuredPlace(s).policy("150100", "310", NOW.date()).filing
        make_filing(
            engine,
            rules,
            FilingRequest(
                filing_id=f"F-{psn_no}",
                psn_no=psn_no,
                insured_region="150100",
                filing_type=ftype,
                destination=BEIJING,
                valid_from=date(2025, 1, 1),
                channel=FilingChannel.MINI_PROGRAM,
            ),
            NOW - timedelta(days=200),
        )


# --- catalogue picks -------------------------------------------------------------------


def catalogue(session: Session, region: str = BEIJING) -> Catalogue:
    return refdata_cache.catalogue_for(session, region)


def pick(
    cat: Catalogue, level: str, *, capped: bool = False, restricted: bool = False
) -> CatalogueItem:
    for item in sorted(cat.items.values(), key=lambda i: i.code):
        if (
            item.level == level
            and (item.price_cap is not None) == capped
            and item.restricted == restricted
            and (level != "02" or item.selfpay_ratio > 0)
        ):
            return item
    raise LookupError(f"no catalogue item of level {level}")


_serial = iter(range(1, 10**6))


def line(
    mdtrt_id: str,
    psn_no: str,
    code: str,
    price: str,
    qty: str = "1",
    *,
    sn: str | None = None,
    batch: str = "B1",
    approval: str = "0",
    refund_of: str = "",
    amount: str | None = None,
) -> fees.FeeLineInput:
    p, q = Decimal(price), Decimal(qty)
    total = amount if amount is not None else str((p * q).quantize(Decimal("0.01")))
    return fees.FeeLineInput(
        feedetl_sn=sn or str(next(_serial)),
        mdtrt_id=mdtrt_id,
        psn_no=psn_no,
        fee_ocur_time=NOW.replace(tzinfo=None),
        med_list_codg=code,
        medins_list_codg="HOSP-" + code[:10],
        amount=yuan_to_fen(total),
        quantity=int(q * QTY_SCALE),
        unit_price=int(p * PRICE_SCALE),
        hosp_appr_flag=approval,
        chrg_bchno=batch,
        init_feedetl_sn=refund_of,
    )


def typical_lines(
    session: Session, mdtrt_id: str, psn_no: str, scale: int = 1, batch: str = "B1"
) -> list[fees.FeeLineInput]:
    """A mixed bill: 甲 service, 乙 drug, 丙 item, an unlisted code."""
    cat = catalogue(session)
    a = pick(cat, "01")
    b = pick(cat, "02")
    c = pick(cat, "03")
    return [
        line(mdtrt_id, psn_no, a.code, str(1200 * scale), batch=batch),
        line(mdtrt_id, psn_no, b.code, "35.50", str(20 * scale), batch=batch),
        line(mdtrt_id, psn_no, c.code, "88.00", batch=batch),
        line(mdtrt_id, psn_no, "NOT-IN-CATALOGUE-1", "15.00", "2", batch=batch),
    ]


# --- flows -----------------------------------------------------------------------------


def register(
    s: Session, psn_no: str, hospital: Hospital = H_BJ, *, serial: str = "OP1", msgid: str = "M-REG"
) -> str:
    _, insutype = insurance_of(psn_no)
    opened = visits.register_outpatient(
        s,
        SqlInsuredPlace(s),
        hospital,
        NOW,
        visits.Registration(
            psn_no=psn_no,
            insutype=insutype,
            begin=NOW.replace(tzinfo=None),
            cert_type="01",
            cert_no=e_voucher(psn_no),
            ipt_otp_no=serial,
            dept_code="D01",
            dept_name="内科",
        ),
        msgid=msgid,
    )
    return opened.mdtrt_id


def admit(
    s: Session,
    psn_no: str,
    hospital: Hospital = H_BJ,
    *,
    serial: str = "IP1",
    msgid: str = "M-ADM",
    begin: datetime | None = None,
    med_type: str = "21",
) -> str:
    _, insutype = insurance_of(psn_no)
    opened = visits.admit(
        s,
        SqlInsuredPlace(s),
        hospital,
        NOW,
        visits.Admission(
            psn_no=psn_no,
            insutype=insutype,
            begin=(begin or NOW).replace(tzinfo=None) - timedelta(days=5),
            cert_type="02",
            cert_no=id_number(psn_no),
            med_type=med_type,
            ipt_no=serial,
            main_diag_code="K29.700",
            main_diag_name="胃炎",
            diagnoses=(visits.DiagnosisInput("1", 1, "K29.700", "胃炎", maindiag=True),),
        ),
        msgid=msgid,
    )
    return opened.mdtrt_id


def discharge(s: Session, mdtrt_id: str, psn_no: str, hospital: Hospital = H_BJ) -> None:
    visits.discharge(
        s,
        hospital,
        NOW,
        visits.Discharge(
            mdtrt_id=mdtrt_id,
            psn_no=psn_no,
            insutype=insurance_of(psn_no)[1],
            end=NOW.replace(tzinfo=None),
            dscg_way="1",
        ),
    )


def request(
    mdtrt_id: str,
    psn_no: str,
    medfee: int | None,
    *,
    med_type: str = "",
    account_flag: str = "1",
    mid: bool = False,
    batch: str = "",
    **totals: int | None,
) -> settlement.SettleRequest:
    return settlement.SettleRequest(
        mdtrt_id=mdtrt_id,
        psn_no=psn_no,
        insutype=insurance_of(psn_no)[1],
        totals=settlement.ClientTotals(medfee=medfee, **totals),
        account_flag=account_flag,
        med_type=med_type,
        chrg_bchno=batch,
        mid_settlement=mid,
    )


# --- inspection ------------------------------------------------------------------------


def accumulators(s: Session, psn_no: str, year: int = 2025) -> dict[str, int]:
    insutype = insurance_of(psn_no)[1]
    rows = s.execute(
        select(AccumulatorRow.key, AccumulatorRow.value).where(
            AccumulatorRow.psn_no == psn_no,
            AccumulatorRow.insutype == insutype,
            AccumulatorRow.year == year,
        )
    ).all()
    return {k: v for k, v in rows if v}


def account(s: Session, psn_no: str) -> tuple[int, int]:
    row = s.get(AccountRow, psn_no, populate_existing=True)
    return (0, 0) if row is None else (row.balance, row.mutual_aid_balance)


def counts(s: Session) -> dict[str, int]:
    out = {}
    for model in (SettlementRow, LedgerPostingRow, LedgerLegRow, AccumulatorRow):
        out[model.__tablename__] = s.execute(select(func.count()).select_from(model)).scalar_one()
    out["settled_lines"] = s.execute(
        select(func.count()).select_from(FeeLineRow).where(FeeLineRow.status == "settled")
    ).scalar_one()
    return out


def postings(s: Session) -> Iterator[tuple[LedgerPostingRow, list[tuple[str, int]]]]:
    for posting in s.execute(
        select(LedgerPostingRow).order_by(LedgerPostingRow.posting_id)
    ).scalars():
        legs = s.execute(
            select(LedgerLegRow.account, LedgerLegRow.amount).where(
                LedgerLegRow.posting_id == posting.posting_id
            )
        ).all()
        yield posting, [(a, v) for a, v in legs]


def assert_ledger_balanced(s: Session) -> int:
    """Every posting sums to zero and its paying legs equal fund_pay_sumamt + acct_pay of
    its settlement row (negated for a cancellation's posting of the original's legs)."""
    n = 0
    for posting, legs in postings(s):
        assert sum(v for _, v in legs) == 0, (posting.kind, legs)
        row = s.get(SettlementRow, posting.setl_id)
        assert row is not None
        paying = sum(v for a, v in legs if a.startswith(("fund:", "account:")))
        assert paying == row.fund_total + row.account, (posting.kind, legs, row.fund_total)
        n += 1
    return n


def money(value: Any) -> int:
    return yuan_to_fen(str(value))


def outpatient(
    engine: Engine, psn_no: str, hospital: Hospital = H_BJ, serial: str = "OP1"
) -> tuple[str, int]:
    """Register and upload the typical bill; (mdtrt_id, medfee)."""
    with unit_of_work(engine) as s:
        mdtrt_id = register(s, psn_no, hospital, serial=serial)
        lines = typical_lines(s, mdtrt_id, psn_no)
        results = fees.upload_fees(s, hospital, NOW, lines, inpatient=False, msgid="M-FEE")
    return mdtrt_id, sum(r.amount for r in results)
