"""Monthly full clearing of mutual aid (按月全额清算) to the holder's place of insurance,
on SQLite and PostgreSQL.

Hand-worked: a 武汉 (420100, 湖北) insured person is treated in 广州 (440100, 广东) in
October 2026; the fund pays 4 123.45, the personal account 50.00 of which 20.00 is
mutual aid (acct_mulaid_pay). 15.00 of the 20.00 was paid by a grant of a 上海
(310100) holder; the other 5.00 is quota without a grant (paid, as before, by the
beneficiary's own place of insurance).

The monthly mutual-aid run (scope mutual_aid) clears 20.00 in all::

    上海 310000 pays 15.00   → net −15.00
    湖北 420000 pays  5.00   → net  −5.00
    广东 440000 receives 20.00 → net +20.00     (sum 0)

and the funds run clears the 4 123.45 of funds and 30.00 of own account from 湖北.
"""

from __future__ import annotations

from datetime import UTC, date

import pytest
from sqlalchemy import Engine, insert, select

from medroam.domain.clearing.periods import Cycle, parse_period
from medroam.services import clearing as svc
from medroam.services.uow import unit_of_work
from medroam.store.mutual_aid_tables import MutualAidDrawRow, MutualAidGrantRow
from medroam.store.tables import RunProvinceRow
from tests.integration.test_clearing_support import GUANGZHOU, NOW, SHANGHAI, WUHAN, World, at

pytestmark = pytest.mark.db

OCT = parse_period(Cycle.MONTHLY, "2026-10")
HOLDER = "P310100HOLDER"


def test_mutual_aid_is_cleared_to_the_holders_province(engine: Engine) -> None:
    world = World(engine)
    world.settle(
        "S1",
        WUHAN,
        GUANGZHOU,
        at("2026-10-15"),
        {"310100": 412_345},
        account=5_000,
        mutual_aid=2_000,
    )
    world.person(HOLDER, SHANGHAI)
    stamp = NOW.astimezone(UTC)
    with engine.begin() as c:
        c.execute(
            insert(MutualAidGrantRow).values(
                grant_id="MA1",
                holder_psn_no=HOLDER,
                holder_region=SHANGHAI,
                beneficiary_psn_no=f"P{WUHAN}0001",
                beneficiary_region=WUHAN,
                relation="parent",
                quota=1_500,
                used=1_500,
                valid_from=date(2026, 9, 1),
                status="active",
                created_at=stamp,
                updated_at=stamp,
            )
        )
        c.execute(
            insert(MutualAidDrawRow).values(
                setl_id="S1",
                grant_id="MA1",
                holder_psn_no=HOLDER,
                holder_region=SHANGHAI,
                amount=1_500,
            )
        )
    p = svc.propose(engine, OCT, now=NOW)
    svc.confirm(engine, now=NOW, batch_id=p.batch_id)
    funds = svc.clear(
        engine, Cycle.MONTHLY, "2026-10", as_of=date(2026, 11, 2), now=NOW, scope="funds"
    )
    assert funds.amount_fen == 412_345 + 3_000 and "mutual_aid" not in funds.fund_lines
    aid = svc.clear(
        engine, Cycle.MONTHLY, "2026-10", as_of=date(2026, 11, 2), now=NOW, scope="mutual_aid"
    )
    assert aid.fund_lines == {"mutual_aid": 2_000} and aid.amount_fen == 2_000
    with unit_of_work(engine) as s:
        nets = {
            r.province: r.net
            for r in s.scalars(select(RunProvinceRow).where(RunProvinceRow.run_id == aid.run_id))
        }
    assert nets == {"310000": -1_500, "420000": -500, "440000": 2_000}
