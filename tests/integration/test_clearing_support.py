"""Helpers of the clearing integration tests (no tests here): a migrated database with
the clearing tables, and cross-region settlements written straight into the
settlement tables (as the settlement service would, amounts in fen)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine, insert, select, update

from medroam.domain.region import classify_visit, pay_loc
from medroam.store.tables import (
    InstitutionRow,
    LedgerLegRow,
    LedgerPostingRow,
    PersonRow,
    SettlementDetailRow,
    SettlementRow,
    VisitRow,
)

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

BEIJING = "110100"
SHANGHAI = "310100"
GUANGZHOU = "440100"
SHENZHEN = "440300"
WUHAN = "420100"


def at(day: str, hour: int = 10) -> datetime:
    """A local (UTC+8) moment on ``day``."""
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), CST).replace(hour=hour)


class World:
    """Writes persons, hospitals, visits and settlements; remembers what it wrote."""

    def __init__(self, engine: Engine, *, ledger: bool = True) -> None:
        self.engine = engine
        self.ledger = ledger
        self.persons: set[str] = set()
        self.hospitals: set[str] = set()
        self.count = 0

    def hospital(self, code: str, region: str) -> None:
        if code in self.hospitals:
            return
        with self.engine.begin() as c:
            c.execute(
                insert(InstitutionRow).values(
                    fixmedins_code=code,
                    name=f"Hospital {code}",
                    region=region,
                    level="3",
                    kind="hospital",
                    networked=True,
                    active=True,
                )
            )
        self.hospitals.add(code)

    def person(self, psn_no: str, region: str) -> None:
        if psn_no in self.persons:
            return
        with self.engine.begin() as c:
            c.execute(insert(PersonRow).values(psn_no=psn_no, insured_region=region))
        self.persons.add(psn_no)

    def settle(
        self,
        setl_id: str,
        insured: str,
        treatment: str,
        when: datetime,
        funds: Mapping[str, int],
        *,
        account: int = 0,
        mutual_aid: int = 0,
        cash: int = 1000,
        hospital: str | None = None,
        insutype: str = "310",
        clr_type: str = "21",
    ) -> dict[str, Any]:
        self.count += 1
        code = hospital or f"H{treatment}"
        self.hospital(code, treatment)
        psn = f"P{insured}{self.count:04d}"
        self.person(psn, insured)
        mdtrt_id = f"M{setl_id}"
        fund_total = sum(funds.values())
        cross = classify_visit(insured, treatment)
        stamp = when.astimezone(UTC)
        with self.engine.begin() as c:
            c.execute(
                insert(VisitRow).values(
                    mdtrt_id=mdtrt_id,
                    psn_no=psn,
                    insutype=insutype,
                    fixmedins_code=code,
                    med_type="21",
                    kind="inpatient",
                    ipt_otp_no=f"I{setl_id}",
                    mdtrt_cert_type="02",
                    mdtrt_cert_no=psn,
                    begin_time=when.replace(tzinfo=None),
                    status="settled",
                    treatment_region=treatment,
                    insured_region=insured,
                    cross_region=cross.value,
                    institution_level="3",
                    emergency=False,
                    exp_content={},
                    extra={},
                    msgid=f"MSG{setl_id}",
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
            row = self._settlement_values(
                setl_id,
                mdtrt_id,
                psn,
                code,
                insutype,
                clr_type,
                stamp,
                funds,
                account,
                mutual_aid,
                cash,
                insured,
                treatment,
            )
            c.execute(insert(SettlementRow).values(**row))
            for seq, (fpt, paid) in enumerate(sorted(funds.items()), start=1):
                c.execute(
                    insert(SettlementDetailRow).values(
                        setl_id=setl_id,
                        seq=seq,
                        fund_pay_type=fpt,
                        inscp=paid,
                        limit_amount=paid,
                        paid=paid,
                        note="",
                    )
                )
            if self.ledger:
                self.post(c, setl_id, "settle", stamp)
        return {"setl_id": setl_id, "fund_total": fund_total, "account": account}

    def _settlement_values(
        self,
        setl_id: str,
        mdtrt_id: str,
        psn: str,
        code: str,
        insutype: str,
        clr_type: str,
        stamp: datetime,
        funds: Mapping[str, int],
        account: int,
        mutual_aid: int,
        cash: int,
        insured: str,
        treatment: str,
        *,
        sign: int = 1,
        reverses: str | None = None,
    ) -> dict[str, Any]:
        fund_total = sum(funds.values())
        personal = account + cash
        cross = classify_visit(insured, treatment)
        return {
            "setl_id": setl_id,
            "mdtrt_id": mdtrt_id,
            "psn_no": psn,
            "insutype": insutype,
            "fixmedins_code": code,
            "kind": "inpatient",
            "med_type": "21",
            "setl_time": stamp,
            "medfee": sign * (fund_total + personal),
            "fulamt_ownpay": 0,
            "overlmt_selfpay": 0,
            "preselfpay": 0,
            "inscp": sign * (fund_total + personal),
            "deductible": 0,
            "pool": sign * funds.get("310100", funds.get("390100", 0)),
            "pool_ratio": 8000,
            "civil_servant": sign * funds.get("320100", 0),
            "enterprise": 0,
            "critical_illness": sign * funds.get("390200", 0),
            "large_expense": sign * funds.get("330100", 0),
            "assistance": sign * funds.get("610100", 0),
            "other": 0,
            "fund_total": sign * fund_total,
            "personal": sign * personal,
            "account": sign * account,
            "mutual_aid": sign * mutual_aid,
            "cash": sign * cash,
            "hospital": 0,
            "balance_before": 0,
            "balance_after": 0,
            "mutual_aid_balance_after": 0,
            "benefit_status": "long_term",
            "mid_setl_flag": False,
            "status": "valid",
            "refd_setl_flag": reverses is not None,
            "reverses_setl_id": reverses,
            "medins_setl_id": f"MSG{setl_id}",
            "clr_optins": treatment,
            "clr_type": clr_type,
            "clr_way": "1",
            "insured_region": insured,
            "treatment_region": treatment,
            "cross_region": cross.value,
            "pay_loc": pay_loc(cross),
            "institution_level": "3",
            "psn_type": "1101",
            "civil_servant_flag": False,
            "mdtrt_cert_type": "02",
            "policy_region": insured,
            "policy_from": date(2026, 1, 1),
            "acc_year": 2026,
            "accumulator_delta": {},
            "invono": None,
            "dise_codg": None,
            "dise_name": None,
            "opter": None,
            "opter_name": None,
        }

    def post(self, c: Any, setl_id: str, kind: str, stamp: datetime) -> None:
        """The settlement journal's legs, as the settlement service posts them
        (``services.ledger.settlement_legs``): funds and account paid, against the
        inter-region payable / receivable and the hospital payable."""
        row = c.execute(select(SettlementRow).where(SettlementRow.setl_id == setl_id)).one()
        details = c.execute(
            select(SettlementDetailRow).where(SettlementDetailRow.setl_id == setl_id)
        ).all()
        legs: dict[str, int] = {}
        for d in details:
            key = f"fund:{row.insured_region}:{d.fund_pay_type}"
            legs[key] = legs.get(key, 0) + d.paid
        if row.account:
            legs[f"account:{row.psn_no}"] = row.account
        total = sum(legs.values())
        if row.insured_region != row.treatment_region:
            pair = f"{row.insured_region}>{row.treatment_region}"
            legs[f"payable:region:{pair}"] = -total
            legs[f"receivable:region:{pair}"] = total
        legs[f"payable:hospital:{row.fixmedins_code}"] = -total
        posting_id = c.execute(
            insert(LedgerPostingRow)
            .values(setl_id=setl_id, kind=kind, posted_at=stamp)
            .returning(LedgerPostingRow.posting_id)
        ).scalar_one()
        c.execute(
            insert(LedgerLegRow),
            [{"posting_id": posting_id, "account": a, "amount": v} for a, v in legs.items() if v],
        )

    def cancel(self, setl_id: str, new_id: str, when: datetime) -> None:
        """A cancellation (2208/2305): a reverse record with negated amounts, dated
        ``when``; the original becomes ``cancelled``."""
        with self.engine.begin() as c:
            orig = c.execute(select(SettlementRow).where(SettlementRow.setl_id == setl_id)).one()
            details = c.execute(
                select(SettlementDetailRow).where(SettlementDetailRow.setl_id == setl_id)
            ).all()
            values = {k: getattr(orig, k) for k in SettlementRow.__table__.columns.keys()}  # noqa: SIM118
            for k in (
                "medfee",
                "inscp",
                "pool",
                "civil_servant",
                "critical_illness",
                "large_expense",
                "assistance",
                "fund_total",
                "personal",
                "account",
                "mutual_aid",
                "cash",
            ):
                values[k] = -values[k]
            values.update(
                setl_id=new_id,
                setl_time=when.astimezone(UTC),
                refd_setl_flag=True,
                reverses_setl_id=setl_id,
                medins_setl_id=f"MSG{new_id}",
            )
            c.execute(insert(SettlementRow).values(**values))
            for d in details:
                c.execute(
                    insert(SettlementDetailRow).values(
                        setl_id=new_id,
                        seq=d.seq,
                        fund_pay_type=d.fund_pay_type,
                        inscp=-d.inscp,
                        limit_amount=-d.limit_amount,
                        paid=-d.paid,
                        note="",
                    )
                )
            c.execute(
                update(SettlementRow)
                .where(SettlementRow.setl_id == setl_id)
                .values(status="cancelled")
            )
            if self.ledger:
                self.post(c, new_id, "cancel", when.astimezone(UTC))
