"""Concurrent settlements of one person never overrun the annual cap.

Two threads, each with its own session and transaction, settle two stays of the same
person whose remaining annual cap is smaller than what both bills would take. The lock
(``SELECT … FOR UPDATE`` of the insurance row on PostgreSQL, taken with the visit's row
by the settlement's first query, or by the port's ``lock_benefit_state``; ``BEGIN
IMMEDIATE`` on SQLite) makes the second wait and read what the first wrote. A place that
sleeps after reading the accumulators widens the race window; a control without the lock
(PostgreSQL) shows that the test would catch a race.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select

from medroam.services import fees, settlement
from medroam.services.ports import BenefitState
from medroam.services.uow import unit_of_work
from medroam.store import refdata_cache
from medroam.store.insured_place import SqlInsuredPlace, set_accumulators
from medroam.store.repositories import VisitRepository
from medroam.store.tables import SettlementRow
from tests.integration.test_settlement_service_support import (
    EMPLOYEE_HHHT,
    H_BJ,
    H_BJ2,
    NOW,
    Hospital,
    accumulators,
    admit,
    build_world,
    catalogue,
    discharge,
    line,
    pick,
    request,
)

pytestmark = pytest.mark.db

REMAINING = 500_000  # fen left under the annual cap: 5,000.00


class SlowPlace(SqlInsuredPlace):
    """Sleeps after reading the accumulators and account, inside the transaction (after
    the lock: on PostgreSQL the settlement took it with the visit, on SQLite with the
    transaction)."""

    def _read(self, psn_no: str, insutype: str, year: int) -> BenefitState:
        state = super()._read(psn_no, insutype, year)
        time.sleep(0.3)
        return state


class UnlockedPlace(SlowPlace):
    """A broken adapter: reads without taking the lock (the control; the test also keeps
    the visit's query from locking the insurance row)."""

    def lock_benefit_state(self, psn_no: str, insutype: str, year: int) -> BenefitState:
        return self.benefit_state(psn_no, insutype, year)


@pytest.fixture
def capped(engine: Engine) -> Iterator[tuple[Engine, list[tuple[Hospital, str, int]]]]:
    refdata_cache.clear_caches()
    build_world(engine)
    psn = EMPLOYEE_HHHT
    stays = []
    with unit_of_work(engine) as s:
        cap = SqlInsuredPlace(s).policy("150100", "310", NOW.date()).inpatient.annual_cap
        assert cap is not None
        set_accumulators(s, psn, "310", 2025, {"pool_fund": cap - REMAINING}, now=NOW)
        code = pick(catalogue(s), "01").code
    for hospital, serial in ((H_BJ, "IP-A"), (H_BJ2, "IP-B")):
        with unit_of_work(engine) as s:
            mdtrt_id = admit(s, psn, hospital, serial=serial, msgid=f"M-{serial}")
            (r,) = fees.upload_fees(
                s, hospital, NOW, [line(mdtrt_id, psn, code, "20000.00")], inpatient=True, msgid="F"
            )
            discharge(s, mdtrt_id, psn, hospital)
            stays.append((hospital, mdtrt_id, r.amount))
    yield engine, stays


def _race(
    engine: Engine, stays: list[tuple[Hospital, str, int]], place_cls: type[SqlInsuredPlace]
) -> list[BaseException]:
    barrier = threading.Barrier(len(stays))
    errors: list[BaseException] = []

    def run(hospital: Hospital, mdtrt_id: str, medfee: int) -> None:
        try:
            barrier.wait()
            with unit_of_work(engine) as s:
                settlement.settle(
                    s,
                    place_cls(s),
                    hospital,
                    NOW,
                    request(mdtrt_id, EMPLOYEE_HHHT, medfee, account_flag="0"),
                    kind="inpatient",
                    msgid=f"M-S-{mdtrt_id}",
                )
        except BaseException as exc:  # reported to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=stay) for stay in stays]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


def test_concurrent_settlements_never_exceed_the_cap(
    capped: tuple[Engine, list[tuple[Hospital, str, int]]],
) -> None:
    engine, stays = capped
    errors = _race(engine, stays, SlowPlace)
    assert not errors, errors
    with unit_of_work(engine) as s:
        rows = list(s.execute(select(SettlementRow)).scalars())
        assert len(rows) == 2
        paid = sum(r.pool for r in rows)
        assert paid == REMAINING  # the first takes what is left, the second gets nothing
        assert sorted(r.pool for r in rows)[0] == 0
        cap = SqlInsuredPlace(s).policy("150100", "310", NOW.date()).inpatient.annual_cap
        assert accumulators(s, EMPLOYEE_HHHT)["pool_fund"] == cap
        assert accumulators(s, EMPLOYEE_HHHT)["ip_admissions"] == 2


def test_without_the_lock_the_race_is_caught(
    capped: tuple[Engine, list[tuple[Hospital, str, int]]],
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite serialises whole transactions; the control needs PostgreSQL")
    engine, stays = capped
    real = VisitRepository._visit_and_lines

    def without_insurance_lock(
        self: VisitRepository, code: str, mdtrt_id: str, batch: str | None, lock: bool, _: bool
    ) -> list[Any]:
        return real(self, code, mdtrt_id, batch, lock, False)

    monkeypatch.setattr(VisitRepository, "_visit_and_lines", without_insurance_lock)
    errors = _race(engine, stays, UnlockedPlace)
    with unit_of_work(engine) as s:
        paid = sum(r.pool for r in s.execute(select(SettlementRow)).scalars())
    # Both read the same state: either both pay what is left (the cap is overrun) or
    # their writes collide. Either way the lock is what makes the first test pass.
    assert paid > REMAINING or any("duplicate key" in str(e) for e in errors), (paid, errors)
