"""Personal-account mutual aid across provinces (个人账户跨省共济), on SQLite and PostgreSQL.

The hand-worked case (every test starts from it):

* holder 广州 employee P440100000001 (广东, 440100), personal account 2 000.00 yuan;
* beneficiary 呼和浩特 employee P150100000001 (内蒙古, 150100, filed long-term to 北京),
  own account set to 50.00 yuan and no other mutual-aid quota; the holder grants them
  200.00 yuan (relation child) on 2026-02-10;
* care in 北京 (110100, a third province) on 2026-02-10: one outpatient line outside the
  catalogue, 15.00 × 20 = 300.00 yuan, all fully self-paid (全自费), so the fund pays 0
  and the personal share is 300.00; the HIS asks for the account with mutual aid
  (acct_used_flag 2).

Own account first (policy ``mutual_aid_order`` own_first), then the grant:

    own account   min(50.00, 300.00)            =  50.00
    mutual aid    min(200.00, 300.00 − 50.00)   = 200.00   (acct_mulaid_pay)
    acct_pay      50.00 + 200.00                = 250.00
    cash          300.00 − 250.00               =  50.00
    holder        2 000.00 − 200.00             = 1 800.00
    grant used    0 + 200.00 = 200.00, remaining 0.00

Clearing and ledger: the 50.00 own-account line is owed by 呼和浩特 (150100) to 北京, the
200.00 mutual-aid line by the holder's 广州 (440100) to 北京 (``account:<holder>`` pays
it, ``payable:region:440100>110100``). A cancellation puts back 50.00 on
the beneficiary, 200.00 on the holder and 0.00 used on the grant, and its reverse record
clears −200.00 from 广州.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import pytest
from sqlalchemy import Engine, select, text, update
from sqlalchemy.exc import OperationalError

from medroam.batch.engine import fetch, operational_lines
from medroam.domain.clearing.periods import Cycle, parse_period
from medroam.services import clearing, fees, mutual_aid, settlement
from medroam.services.errors import InvalidInputError, NotFoundError, RefusedError
from medroam.services.uow import unit_of_work
from medroam.store import refdata_cache
from medroam.store.insured_place import SqlInsuredPlace, set_insurance_status
from medroam.store.mutual_aid_tables import MutualAidDrawRow, MutualAidGrantRow
from medroam.store.repositories import LedgerRepository
from medroam.store.tables import AccountRow, ClearingLegRow, LedgerLegRow
from tests.integration.test_settlement_service_support import (
    BALANCE,
    CST,
    EMPLOYEE_BJ,
    EMPLOYEE_GZ,
    EMPLOYEE_HHHT,
    H_BJ,
    RESIDENT_KM,
    account,
    assert_ledger_balanced,
    build_world,
    line,
    register,
    request,
)

pytestmark = pytest.mark.db

T = datetime(2026, 2, 10, 9, 30, tzinfo=CST)
HOLDER, BENEFICIARY = EMPLOYEE_GZ, EMPLOYEE_HHHT
OWN = 5_000  # 50.00
QUOTA = 20_000  # 200.00


@pytest.fixture
def world(engine: Engine) -> Iterator[Engine]:
    refdata_cache.clear_caches()
    build_world(engine)
    with unit_of_work(engine) as s:
        s.execute(
            update(AccountRow)
            .where(AccountRow.psn_no == BENEFICIARY)
            .values(balance=OWN, mutual_aid_balance=0)
        )
    yield engine


def _grant(engine: Engine, quota: int = QUOTA, **kw: object) -> mutual_aid.GrantView:
    with unit_of_work(engine) as s:
        return mutual_aid.grant(
            s,
            SqlInsuredPlace(s),
            T,
            holder=str(kw.get("holder", HOLDER)),
            beneficiary=str(kw.get("beneficiary", BENEFICIARY)),
            relation=str(kw.get("relation", "child")),
            quota=quota,
            on=kw.get("on"),  # type: ignore[arg-type]
        )


def _settle(engine: Engine, serial: str = "OP1") -> settlement.SettlementView:
    with unit_of_work(engine) as s:
        mdtrt_id = register(s, BENEFICIARY, serial=serial, msgid=f"M-REG-{serial}")
        lines = [line(mdtrt_id, BENEFICIARY, "NOT-IN-CATALOGUE-1", "15.00", "20")]
        fees.upload_fees(s, H_BJ, T, lines, inpatient=False, msgid=f"M-FEE-{serial}")
    with unit_of_work(engine) as s:
        return settlement.settle(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            T,
            request(mdtrt_id, BENEFICIARY, 30_000, med_type="11", account_flag="2"),
            kind="outpatient",
            msgid=f"M-SETL-{serial}",
        )


def _cancel(engine: Engine, view: settlement.SettlementView) -> settlement.SettlementView:
    assert view.setl_id is not None
    with unit_of_work(engine) as s:
        return settlement.cancel_settlement(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            T,
            mdtrt_id=view.mdtrt_id,
            setl_id=view.setl_id,
            psn_no=BENEFICIARY,
            kind="outpatient",
            msgid="M-CANCEL",
        )


def _grant_row(engine: Engine, grant_id: str) -> tuple[int, str, int | None]:
    with unit_of_work(engine) as s:
        row = s.get(MutualAidGrantRow, grant_id)
        assert row is not None
        return row.used, row.status, row.returned


def _aid_lines(engine: Engine) -> list[tuple[str, str, int, int]]:
    with engine.connect() as c:
        rows = fetch(operational_lines(), c).to_pylist()
    return sorted(
        (r["insured_region"], r["fund_line"], r["amount_fen"], r["refd_setl_flag"]) for r in rows
    )


def test_cross_province_aid_pays_and_cancel_gives_back(world: Engine) -> None:
    g = _grant(world)
    assert (g.holder_region, g.beneficiary_region, g.quota) == ("440100", "150100", QUOTA)
    with unit_of_work(world) as s:  # the quota is the beneficiary's 共济额度 now
        assert account(s, BENEFICIARY) == (OWN, QUOTA)
        assert account(s, HOLDER) == (BALANCE, 30_000)  # granting moves no money

    view = _settle(world)
    s_ = view.settlement
    assert view.cross_region.value == "inter_province"
    assert (s_.medfee, s_.fund_total, s_.personal) == (30_000, 0, 30_000)
    assert (s_.account - s_.mutual_aid, s_.mutual_aid, s_.account, s_.cash) == (
        5_000,
        20_000,
        25_000,
        5_000,
    )
    with unit_of_work(world) as s:
        assert account(s, BENEFICIARY) == (0, 0)
        assert account(s, HOLDER) == (BALANCE - 20_000, 30_000)  # 1 800.00
        draws = s.scalars(select(MutualAidDrawRow)).all()
        assert [(d.setl_id, d.grant_id, d.holder_region, d.amount) for d in draws] == [
            (view.setl_id, g.grant_id, "440100", 20_000)
        ]
        assert_ledger_balanced(s)
        assert view.setl_id is not None
        legs = {a: v for _, a, v in LedgerRepository(s).legs(view.setl_id)}
    # the ledger: the holder's account pays 200.00 and 广州 owes it to 北京
    assert legs == {
        f"account:{BENEFICIARY}": 5_000,
        f"account:{HOLDER}": 20_000,
        "payable:region:150100>110100": -5_000,
        "receivable:region:150100>110100": 5_000,
        "payable:region:440100>110100": -20_000,
        "receivable:region:440100>110100": 20_000,
        "payable:hospital:H11010000001": -25_000,
    }
    assert _grant_row(world, g.grant_id) == (20_000, "active", None)
    # clearing: the own account from 呼和浩特, the mutual aid from the holder's 广州
    assert _aid_lines(world) == [
        ("150100", "account", 5_000, 0),
        ("440100", "mutual_aid", 20_000, 0),
    ]

    rev = _cancel(world, view)
    assert (rev.settlement.account, rev.settlement.mutual_aid) == (-25_000, -20_000)
    with unit_of_work(world) as s:
        assert account(s, BENEFICIARY) == (OWN, QUOTA)
        assert account(s, HOLDER) == (BALANCE, 30_000)
        assert_ledger_balanced(s)
    assert _grant_row(world, g.grant_id) == (0, "active", None)
    assert _aid_lines(world) == [
        ("150100", "account", -5_000, 1),
        ("150100", "account", 5_000, 0),
        ("440100", "mutual_aid", -20_000, 1),
        ("440100", "mutual_aid", 20_000, 0),
    ]


def test_holder_balance_bounds_the_aid(world: Engine) -> None:
    """Holder's account down to 80.00 after granting 200.00: the grant pays 80.00.

    own 50.00; aid min(200.00 quota, 80.00 balance, 250.00 left) = 80.00;
    cash 300.00 − 130.00 = 170.00; the beneficiary keeps 200.00 − 80.00 = 120.00 quota.
    """
    g = _grant(world)
    with unit_of_work(world) as s:
        s.execute(update(AccountRow).where(AccountRow.psn_no == HOLDER).values(balance=8_000))
    s_ = _settle(world).settlement
    assert (s_.account, s_.mutual_aid, s_.cash) == (13_000, 8_000, 17_000)
    assert s_.mutual_aid_balance_after == 12_000
    with unit_of_work(world) as s:
        assert account(s, HOLDER)[0] == 0
        assert account(s, BENEFICIARY) == (0, 12_000)
    assert _grant_row(world, g.grant_id)[0] == 8_000


def test_several_holders_oldest_grant_first(world: Engine) -> None:
    """Two holders (广州 120.00 granted first, 北京 500.00): 250.00 of aid is
    120.00 from 广州 (used up) + 130.00 from 北京; cash 300.00 − 50.00 − 250.00 = 0."""
    gz = _grant(world, 12_000, on=date(2026, 1, 20))
    bj = _grant(world, 50_000, holder=EMPLOYEE_BJ, relation="10")  # GB/T 4761 10: spouse
    assert bj.relation == "spouse"
    s_ = _settle(world).settlement
    assert (s_.mutual_aid, s_.cash) == (25_000, 0)
    assert _grant_row(world, gz.grant_id)[0] == 12_000
    assert _grant_row(world, bj.grant_id)[0] == 13_000
    assert _aid_lines(world) == [
        ("110100", "mutual_aid", 13_000, 0),
        ("150100", "account", 5_000, 0),
        ("440100", "mutual_aid", 12_000, 0),
    ]


def test_ended_grant_no_longer_pays(world: Engine) -> None:
    g = _grant(world)
    with unit_of_work(world) as s:
        ended = mutual_aid.end(s, SqlInsuredPlace(s), T, grant_id=g.grant_id)
    assert (ended.status, ended.returned, ended.valid_to) == ("ended", QUOTA, T.date())
    with unit_of_work(world) as s:
        assert account(s, BENEFICIARY) == (OWN, 0)  # the unused 200.00 is no longer theirs
        assert account(s, HOLDER) == (BALANCE, 30_000)  # and never left the holder
    s_ = _settle(world).settlement
    assert (s_.account, s_.mutual_aid, s_.cash) == (5_000, 0, 25_000)
    with unit_of_work(world) as s, pytest.raises(InvalidInputError, match="already ended"):
        mutual_aid.end(s, SqlInsuredPlace(s), T, grant_id=g.grant_id)


def test_cancel_after_the_grant_ended(world: Engine) -> None:
    """Settle (grant pays 200.00), end the grant (returned 0.00: all used), cancel: the
    holder gets 200.00 back, the beneficiary's quota stays 0 (the grant has ended), and
    undoing the cancellation (2601) is refused."""
    g = _grant(world)
    view = _settle(world)
    with unit_of_work(world) as s:
        ended = mutual_aid.end(s, SqlInsuredPlace(s), T, grant_id=g.grant_id)
    assert ended.returned == 0
    rev = _cancel(world, view)
    assert rev.settlement.mutual_aid_balance_after == 0
    with unit_of_work(world) as s:
        assert account(s, HOLDER) == (BALANCE, 30_000)
        assert account(s, BENEFICIARY) == (OWN, 0)
        assert_ledger_balanced(s)
    assert _grant_row(world, g.grant_id) == (0, "ended", 0)
    with unit_of_work(world) as s:
        from medroam.store.tables import SettlementRow

        reverse_row = s.scalars(
            select(SettlementRow).where(SettlementRow.reverses_setl_id == view.setl_id)
        ).one()
        with pytest.raises(RefusedError, match="has ended since"):
            settlement.restore_cancelled(s, SqlInsuredPlace(s), H_BJ, T, reverse_row)


def test_restore_takes_the_same_draws_again(world: Engine) -> None:
    g = _grant(world)
    view = _settle(world)
    _cancel(world, view)
    with unit_of_work(world) as s:
        from medroam.store.tables import SettlementRow

        reverse_row = s.scalars(
            select(SettlementRow).where(SettlementRow.reverses_setl_id == view.setl_id)
        ).one()
        settlement.restore_cancelled(s, SqlInsuredPlace(s), H_BJ, T, reverse_row)
    with unit_of_work(world) as s:
        assert account(s, HOLDER)[0] == BALANCE - 20_000
        assert account(s, BENEFICIARY) == (0, 0)
        assert_ledger_balanced(s)
    assert _grant_row(world, g.grant_id)[0] == 20_000
    # the voided reverse record is out of clearing: only the original's lines remain
    assert _aid_lines(world) == [
        ("150100", "account", 5_000, 0),
        ("440100", "mutual_aid", 20_000, 0),
    ]


def test_bad_grants_are_refused_and_write_nothing(world: Engine) -> None:
    cases: list[tuple[dict[str, object], type[Exception], str]] = [
        ({"relation": "cousin"}, InvalidInputError, "not a close relative"),
        ({"beneficiary": HOLDER}, InvalidInputError, "cannot aid themself"),
        ({"beneficiary": "P999999999999"}, NotFoundError, "no insured person"),
        ({"holder": RESIDENT_KM, "beneficiary": EMPLOYEE_BJ}, InvalidInputError, "employee"),
        ({"on": date(2026, 1, 8)}, InvalidInputError, "across provinces"),
    ]
    for kw, error, message in cases:
        with pytest.raises(error, match=message):
            _grant(world, **kw)
    with pytest.raises(InvalidInputError, match="quota"):
        _grant(world, quota=BALANCE + 1)
    _grant(world)
    with pytest.raises(InvalidInputError, match="already aids"):
        _grant(world, 1_000)
    with unit_of_work(world) as s:
        assert len(mutual_aid.list_grants(s)) == 1
        assert account(s, BENEFICIARY) == (OWN, QUOTA)
        with pytest.raises(NotFoundError, match="grant_id"):
            mutual_aid.end(s, SqlInsuredPlace(s), T, grant_id="MA-NOPE")


def test_clearing_run_extinguishes_the_holders_payable(world: Engine) -> None:
    """Settle (aid 200.00 from 广州), reconcile and clear February 2026 monthly (scope all):
    the run clears 50.00 from 呼和浩特 and 200.00 from 广州 to 北京, and every
    ``payable:region`` / ``receivable:region`` account the settlement opened is back to 0."""
    _grant(world)
    _settle(world)
    now = datetime(2026, 3, 1, 10, 0, tzinfo=CST)
    p = clearing.propose(world, parse_period(Cycle.MONTHLY, "2026-02"), now=now)
    clearing.confirm(world, now=now, batch_id=p.batch_id)
    run = clearing.clear(world, Cycle.MONTHLY, "2026-02", as_of=date(2026, 3, 2), now=now)
    assert run.fund_lines == {"account": 5_000, "mutual_aid": 20_000}
    with unit_of_work(world) as s:
        balances: dict[str, int] = {}
        for model in (LedgerLegRow, ClearingLegRow):
            for acc, amount in s.execute(select(model.account, model.amount)):
                balances[acc] = balances.get(acc, 0) + amount
    regional = {a: v for a, v in balances.items() if a.startswith(("payable:region", "receiv"))}
    assert set(regional) == {
        "payable:region:150100>110100",
        "receivable:region:150100>110100",
        "payable:region:440100>110100",
        "receivable:region:440100>110100",
    }
    assert set(regional.values()) == {0}
    assert balances["clearing:national:440000"] == -20_000  # 广东 pays 200.00
    assert balances["clearing:national:150000"] == -5_000
    assert balances["clearing:national:110000"] == 25_000


def test_insurance_change_ends_the_grants(world: Engine) -> None:
    """The holder's insurance stops (psn_insu_stas 2): the grant ends automatically with
    its 200.00 unused quota returned; the beneficiary's quota falls to 0.00. A person whose
    insurance did not change keeps their grants."""
    g = _grant(world)
    with unit_of_work(world) as s:
        assert (
            mutual_aid.end_on_insurance_change(s, SqlInsuredPlace(s), T, psn_no=BENEFICIARY) == []
        )
        set_insurance_status(s, HOLDER, "310", "2")
    with unit_of_work(world) as s:
        ended = mutual_aid.end_on_insurance_change(s, SqlInsuredPlace(s), T, psn_no=HOLDER)
    assert [(e.grant_id, e.end_reason, e.returned) for e in ended] == [
        (g.grant_id, "insurance_changed", QUOTA)
    ]
    with unit_of_work(world) as s:
        assert account(s, BENEFICIARY) == (OWN, 0)


def test_two_people_who_aid_each_other_lock_their_accounts_in_one_order(world: Engine) -> None:
    """广州 (P440100000001) aids 呼和浩特 (P150100000001) with 200.00 and 呼和浩特 aids
    广州 with 30.00 (of its 50.00). Each one's
    settlement plan (under lock) locks both accounts, in psn_no order: P150100000001 first.

    Before, each plan locked only the *other* person's account (its holder's), then each
    settlement updated its *own* account at the end: A waited for B's own account and B
    for A's, and PostgreSQL aborted one with a deadlock. Now the second plan waits at its
    first lock (P150100000001, held by the first) until the first commits, so no cycle
    can form. Checked with a 0.3 s lock timeout: while the first transaction is open the
    second plan times out; once it has committed the same plan goes through and sees the
    balance the first left.
    """
    if world.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE): no row locks to order")
    _grant(world)  # 广州 → 呼和浩特, 200.00
    _grant(world, 3_000, holder=BENEFICIARY, beneficiary=HOLDER, relation="parent")
    with unit_of_work(world) as first:
        aid = mutual_aid.plan(first, BENEFICIARY, QUOTA, T.date(), lock=True)
        assert [s.holder for s in aid.sources] == [HOLDER]
        with unit_of_work(world) as second:
            second.execute(text("SET LOCAL lock_timeout = '300ms'"))
            with pytest.raises(OperationalError, match="lock timeout"):
                mutual_aid.plan(second, HOLDER, 3_000, T.date(), lock=True)
            second.rollback()
        first.execute(  # what the first settlement pays from its own account
            update(AccountRow).where(AccountRow.psn_no == BENEFICIARY).values(balance=1_000)
        )
    with unit_of_work(world) as second:
        aid = mutual_aid.plan(second, HOLDER, 3_000, T.date(), lock=True)
        assert [(s.holder, s.holder_balance) for s in aid.sources] == [(BENEFICIARY, 1_000)]
