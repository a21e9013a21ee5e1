"""The gateway's settlement services and issue 12 items 1, 2 and 7: pharmacy purchases
are paid by the account only, and cross-province chronic-disease care is refused before
the disease's effective date — by the same domain decision ``medroam calc`` uses."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import Engine, update

from medroam.services import fees, persons, settlement, visits
from medroam.services.errors import RefusedError
from medroam.services.uow import unit_of_work
from medroam.store.insured_place import SqlInsuredPlace
from medroam.store.tables import VisitRow
from tests.integration.test_settlement_service_support import (
    BALANCE,
    EMPLOYEE_HHHT,
    H_BJ,
    NOW,
    register,
    request,
    typical_lines,
)

pytestmark = pytest.mark.db


def _outpatient(engine: Engine, psn_no: str) -> tuple[str, int]:
    with unit_of_work(engine) as s:
        mdtrt_id = register(s, psn_no, H_BJ)
        lines = typical_lines(s, mdtrt_id, psn_no)
        results = fees.upload_fees(s, H_BJ, NOW, lines, inpatient=False, msgid="M-FEE")
    return mdtrt_id, sum(r.amount for r in results)


def test_pharmacy_purchase_is_paid_by_the_account_only(world: Engine) -> None:
    """med_type 41 (定点药店购药), acct_used_flag 1: every fund pays 0; the account pays
    min(balance 2,000.00, personal share) and cash the rest; 2001 says the pool does not
    pay. Before: the outpatient pool paid as for med_type 11."""
    psn = EMPLOYEE_HHHT
    mdtrt_id, medfee = _outpatient(world, psn)
    with unit_of_work(world) as s:
        view = settlement.settle(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            request(mdtrt_id, psn, medfee, med_type="41"),
            kind="outpatient",
            msgid="M-41",
        )
        r = view.settlement
        assert (r.pool, r.fund_total) == (0, 0)
        assert r.personal == medfee
        assert r.account == min(BALANCE, medfee) and r.cash == medfee - r.account
        check = persons.check_benefits(
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            persons.BenefitQuery(psn, "310", "41", NOW.replace(tzinfo=None)),
        )
        assert not check.funds[0].entitled and "定点药店" in check.funds[0].reason


def test_cross_province_chronic_care_before_the_disease_date_is_refused(world: Engine) -> None:
    """慢阻肺 (M05300) settles across provinces from 2024-12-01: a 呼和浩特 employee's
    visit in 北京 that began on 2024-11-20 is refused, naming the disease and the date."""
    psn = EMPLOYEE_HHHT
    mdtrt_id, medfee = _outpatient(world, psn)
    with unit_of_work(world) as s:
        visits.upload_visit_info(
            s,
            H_BJ,
            NOW,
            visits.VisitInfo(
                mdtrt_id=mdtrt_id,
                psn_no=psn,
                med_type="14",
                begin=NOW.replace(tzinfo=None),
                dise_codg="M05300",
            ),
        )
        # the visit began before the disease's cross-province date
        s.execute(
            update(VisitRow)
            .where(VisitRow.mdtrt_id == mdtrt_id)
            .values(begin_time=datetime(2024, 11, 20, 9, 0, tzinfo=NOW.tzinfo))
        )
    with unit_of_work(world) as s, pytest.raises(RefusedError, match=r"M05300.*2024-12-01"):
        settlement.settle(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            request(mdtrt_id, psn, medfee, med_type="14"),
            kind="outpatient",
            msgid="M-CH",
        )
