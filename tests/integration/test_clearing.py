"""Clearing on real SQLite and real PostgreSQL: reconciliation, runs, netting, ledger,
prepayment warnings, bad input, statements."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, insert, select, text
from sqlalchemy.exc import DBAPIError

from medroam.domain.clearing.params import ClearingParams, MonthBasis
from medroam.domain.clearing.periods import ClearingError, Cycle, parse_period
from medroam.refdata.regions import load_regions
from medroam.services import clearing as svc
from medroam.services import prepayment as prepay
from medroam.services.uow import unit_of_work
from medroam.store.tables import (
    ClearingApplicationRow,
    ClearingLegRow,
    ClearingPostingRow,
    ClearingRunRow,
    LedgerLegRow,
    RunMatrixRow,
    RunPaymentRow,
    RunProvinceRow,
    RunRegionRow,
)
from tests.integration.test_clearing_support import (
    BEIJING,
    GUANGZHOU,
    NOW,
    SHANGHAI,
    SHENZHEN,
    WUHAN,
    World,
    at,
)

pytestmark = pytest.mark.db

OCT = parse_period(Cycle.MONTHLY, "2026-10")
NOV = parse_period(Cycle.MONTHLY, "2026-11")


@pytest.fixture
def cengine(engine: Engine) -> Iterator[Engine]:
    """A migrated database (with the clearing tables of 0005)."""
    yield engine


@pytest.fixture
def world(cengine: Engine) -> World:
    return World(cengine)


def count(engine: Engine, model: Any) -> int:
    with engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(model)).scalar_one())


def october(world: World) -> list[dict[str, Any]]:
    """Cross-province, intra-province and local settlements in October 2026."""
    s = [
        world.settle(
            "S1",
            BEIJING,
            SHANGHAI,
            at("2026-10-03"),
            {"310100": 800_000, "330100": 50_000},
            account=20_000,
        ),
        world.settle(
            "S2",
            SHANGHAI,
            BEIJING,
            at("2026-10-08"),
            {"390100": 300_000, "390200": 120_000, "610100": 7_500},
        ),
        world.settle(
            "S3",
            WUHAN,
            GUANGZHOU,
            at("2026-10-15"),
            {"310100": 412_345},
            account=5_000,
            mutual_aid=2_000,
        ),
        world.settle("S4", SHENZHEN, GUANGZHOU, at("2026-10-20"), {"310100": 99_999}),  # intra
        world.settle(
            "S5", BEIJING, GUANGZHOU, at("2026-10-31", 23), {"310100": 10_001, "320100": 3_333}
        ),
    ]
    world.settle("L1", GUANGZHOU, GUANGZHOU, at("2026-10-05"), {"310100": 777})  # local
    return s


def propose_and_confirm(engine: Engine, period: Any = OCT) -> svc.Proposal:
    p = svc.propose(engine, period, now=NOW)
    svc.confirm(engine, now=NOW, batch_id=p.batch_id)
    return p


def test_month_clears_to_the_fen_and_nets_to_zero(cengine: Engine, world: World) -> None:
    made = october(world)
    p = propose_and_confirm(cengine)
    assert p.proposed == 5 and p.created  # the local settlement is not cross-region
    run = svc.clear(cengine, Cycle.MONTHLY, "2026-10", as_of=date(2026, 11, 2), now=NOW)
    assert run.created and run.scope == "all"

    # total cleared = fund payments + personal accounts of the confirmed settlements
    assert run.amount_fen == sum(m["fund_total"] + m["account"] for m in made)
    fund_lines = run.fund_lines
    assert fund_lines["critical"] == 120_000 and fund_lines["assistance"] == 7_500
    assert fund_lines["mutual_aid"] == 2_000 and fund_lines["account"] == 23_000
    assert fund_lines["large_expense"] == 50_000 and fund_lines["civil_servant"] == 3_333
    fund_payments = sum(v for k, v in fund_lines.items() if k not in ("account", "mutual_aid"))
    assert fund_payments == sum(m["fund_total"] for m in made)

    with unit_of_work(cengine) as session:
        provinces = session.execute(select(RunProvinceRow)).scalars().all()
        regions = session.execute(select(RunRegionRow)).scalars().all()
        payments = session.execute(select(RunPaymentRow)).scalars().all()
    nets = {p.province: p.net for p in provinces}
    assert sum(nets.values()) == 0
    assert nets == {
        "110000": 427_500 - 870_000 - 13_334,
        "310000": 870_000 - 427_500,
        "420000": -417_345,
        "440000": 417_345 + 13_334,
    }
    assert sum(r.net for r in regions) == 0
    for province, net in nets.items():
        assert sum(r.inter_net for r in regions if r.province == province) == net
        assert sum(r.intra_net for r in regions if r.province == province) == 0
    shenzhen = next(r for r in regions if r.region == SHENZHEN)
    assert (shenzhen.intra_payable, shenzhen.inter_payable) == (99_999, 0)
    # hospitals: one payment each, due 30 working days after applying on 2 Nov
    assert {p.fixmedins_code: p.amount_fen for p in payments} == {
        "H310100": 870_000,
        "H110100": 427_500,
        "H440100": 417_345 + 99_999 + 13_334,
    }
    assert {p.due_on for p in payments} == {date(2026, 12, 14)}
    assert run.applied_on == date(2026, 11, 2)

    # the run reproduces from its lines; the ledger balances; hubs hold the net positions
    assert svc.verify_run(cengine, run.run_id) == []
    assert svc.unbalanced_postings(cengine) == []
    balances = svc.account_balances(cengine, "clearing:national:")
    assert {k.rsplit(":", 1)[1]: v for k, v in balances.items()} == nets
    # the settlement journal's inter-region payables and receivables are cleared out
    assert svc.account_balances(cengine, "payable:region:") == {}
    assert svc.account_balances(cengine, "receivable:region:") == {}
    # what remains: funds and accounts paid, hospitals to be paid, nets at the hubs
    hospitals = svc.account_balances(cengine, "payable:hospital:")
    assert hospitals["payable:hospital:H440100"] == -(417_345 + 99_999 + 13_334 + 777)


def test_rerun_changes_nothing(cengine: Engine, world: World) -> None:
    october(world)
    propose_and_confirm(cengine)
    first = svc.clear(cengine, "monthly", "2026-10", as_of=date(2026, 11, 2), now=NOW)
    before = [
        count(cengine, m)
        for m in (ClearingRunRow, RunMatrixRow, ClearingPostingRow, ClearingLegRow)
    ]
    again = svc.clear(cengine, "monthly", "2026-10", as_of=date(2026, 12, 20), now=NOW)
    after = [
        count(cengine, m)
        for m in (ClearingRunRow, RunMatrixRow, ClearingPostingRow, ClearingLegRow)
    ]
    assert not again.created and before == after
    assert again.as_dict() | {"created": True} == first.as_dict()
    # a settlement confirmed later does not change the stored run either
    world.settle("S9", BEIJING, SHANGHAI, at("2026-10-30"), {"310100": 5})
    propose_and_confirm(cengine)
    assert (
        svc.clear(cengine, "monthly", "2026-10", as_of=date(2026, 12, 20), now=NOW).amount_fen
        == first.amount_fen
    )


def test_cancellation_in_a_later_month_nets_in_that_month(cengine: Engine, world: World) -> None:
    october(world)
    propose_and_confirm(cengine)
    oct_run = svc.clear(cengine, "monthly", "2026-10", as_of=date(2026, 11, 2), now=NOW)
    world.cancel("S1", "S1R", at("2026-11-05"))
    world.settle("S6", BEIJING, SHANGHAI, at("2026-11-10"), {"310100": 100_000})
    propose_and_confirm(cengine, NOV)
    nov_run = svc.clear(cengine, "monthly", "2026-11", as_of=date(2026, 12, 1), now=NOW)
    assert nov_run.amount_fen == 100_000 - 870_000
    nov = {p["province"]: p["net_fen"] for p in nov_run.provinces}
    assert nov == {"110000": 770_000, "310000": -770_000}
    # October is closed and unchanged
    assert svc.get_run(cengine, "monthly", "2026-10").as_dict() == oct_run.as_dict() | {
        "created": False
    }
    assert (
        svc.verify_run(cengine, oct_run.run_id) == []
        and svc.verify_run(cengine, nov_run.run_id) == []
    )
    # over both months Beijing→Shanghai was settled S1 − S1 + S6 and cleared the same:
    # the settlement journal's payable and receivable are extinguished
    for account in ("receivable:region:110100>310100", "payable:region:110100>310100"):
        assert svc.account_balances(cengine, account) == {}
    assert svc.unbalanced_postings(cengine) == []


def test_disputed_item_carries_over_and_clears_once_confirmed(
    cengine: Engine, world: World
) -> None:
    october(world)
    p = svc.propose(cengine, OCT, now=NOW)
    assert svc.dispute(cengine, ["S2"], "amount differs from our record", now=NOW) == 1
    svc.confirm(cengine, now=NOW, batch_id=p.batch_id)  # confirms the rest; S2 stays disputed?
    # confirm by batch also confirms disputed items: re-dispute S2 to model the answer
    svc.dispute(cengine, ["S2"], "amount differs from our record", now=NOW)
    oct_run = svc.clear(cengine, "monthly", "2026-10", as_of=date(2026, 11, 2), now=NOW)
    assert oct_run.amount_fen == 870_000 + 417_345 + 99_999 + 13_334
    nov_p = svc.propose(cengine, NOV, now=NOW)
    assert nov_p.carried == 1
    assert [i["setl_id"] for i in svc.open_items(cengine)] == ["S2"]
    assert svc.confirm(cengine, now=NOW, setl_ids=["S2"]) == 1
    nov_run = svc.clear(cengine, "monthly", "2026-11", as_of=date(2026, 12, 1), now=NOW)
    assert nov_run.amount_fen == 427_500
    assert {p["province"]: p["net_fen"] for p in nov_run.provinces} == {
        "110000": 427_500,
        "310000": -427_500,
    }
    assert svc.open_items(cengine) == []


def test_unconfirmed_items_are_held_and_rollback_reopens(cengine: Engine, world: World) -> None:
    october(world)
    p = svc.propose(cengine, OCT, now=NOW)
    svc.confirm(cengine, now=NOW, setl_ids=["S1"])
    assert svc.rollback(cengine, now=NOW, batch_id=p.batch_id) == 1
    svc.confirm(cengine, now=NOW, setl_ids=["S3"])
    run = svc.clear(cengine, "monthly", "2026-10", as_of=date(2026, 11, 2), now=NOW)
    assert run.amount_fen == 412_345 + 5_000


def test_confirmation_month_basis(cengine: Engine, world: World) -> None:
    october(world)
    p = svc.propose(cengine, OCT, now=NOW)  # NOW is in December: confirmed in December
    svc.confirm(cengine, now=NOW, batch_id=p.batch_id)
    params = ClearingParams(month_basis=MonthBasis.CONFIRMATION)
    run = svc.clear(cengine, "monthly", "2026-10", as_of=date(2026, 11, 2), now=NOW, params=params)
    assert run.amount_fen == 0  # confirmed after October: cleared in December's run


def test_mutual_aid_is_cleared_monthly(cengine: Engine, world: World) -> None:
    october(world)
    propose_and_confirm(cengine)
    with pytest.raises(ClearingError, match="monthly"):
        svc.clear(cengine, "quarterly", "2026Q4", as_of=date(2027, 1, 5), now=NOW, scope="all")
    q = svc.clear(cengine, "quarterly", "2026Q4", as_of=date(2027, 1, 5), now=NOW)
    assert q.scope == "funds" and "mutual_aid" not in q.fund_lines
    m = svc.clear(
        cengine, "monthly", "2026-10", as_of=date(2026, 11, 2), now=NOW, scope="mutual_aid"
    )
    assert m.fund_lines == {"mutual_aid": 2_000} and m.amount_fen == 2_000
    # S3 (GUANGZHOU hospital, fund, account and mutual-aid lines) counts once: in the
    # quarterly run that cleared its fund lines, not again in the mutual-aid run
    with unit_of_work(cengine) as session:
        counted = dict(
            session.execute(
                select(RunPaymentRow.run_id, func.sum(RunPaymentRow.settlements)).group_by(
                    RunPaymentRow.run_id
                )
            ).all()
        )
    assert counted == {q.run_id: 5, m.run_id: 0}, counted  # S1 … S5 (S4 intra-province)


def test_daily_cycle(cengine: Engine, world: World) -> None:
    october(world)
    propose_and_confirm(cengine)
    d = svc.clear(cengine, "daily", "2026-10-08", as_of=date(2026, 10, 9), now=NOW)
    assert d.amount_fen == 870_000 + 427_500  # S1 (3 Oct) and S2 (8 Oct)
    # Saturday 10 October 2026 is a working day (National Day make-up): 19 November
    assert d.applied_on == date(2026, 10, 9) and d.due_on == date(2026, 11, 19)


def test_bad_input_is_refused_and_nothing_is_posted(
    cengine: Engine, world: World, tmp_path: Path
) -> None:
    october(world)
    propose_and_confirm(cengine)
    runs, postings = count(cengine, ClearingRunRow), count(cengine, ClearingPostingRow)
    with pytest.raises(ClearingError, match="still open"):
        svc.clear(cengine, "monthly", "2026-10", as_of=date(2026, 10, 31), now=NOW)
    with pytest.raises(ClearingError, match="not a monthly period"):
        svc.clear(cengine, "monthly", "2026-13x", as_of=date(2027, 1, 1), now=NOW)
    with pytest.raises(ClearingError, match="unknown clearing cycle"):
        svc.clear(cengine, "weekly", "2026-10", as_of=date(2027, 1, 1), now=NOW)
    with pytest.raises(ClearingError, match="unknown treatment region"):
        svc.propose(cengine, NOV, now=NOW, treatment_scope="999999")
    with pytest.raises(ClearingError, match="unknown insured region"):
        svc.confirm(cengine, now=NOW, insured_region="123456")
    with pytest.raises(ClearingError, match="no clearing run"):
        svc.write_statements(cengine, "monthly", "2026-09", tmp_path)
    with pytest.raises(ClearingError, match="negative"):
        prepay.set_quota(cengine, 2026, "national", "110000", "310000", -1, now=NOW)
    with pytest.raises(ClearingError, match="unknown payer"):
        prepay.set_quota(cengine, 2026, "national", "990000", "310000", 1, now=NOW)
    assert (count(cengine, ClearingRunRow), count(cengine, ClearingPostingRow)) == (runs, postings)


def test_prepayment_quota_and_warnings(cengine: Engine, world: World) -> None:
    # quota 20,000,000 fen; month clears 14,500,000 (72.5 %: yellow)
    prepay.set_quota(cengine, 2026, "national", "110000", "310000", 20_000_000, now=NOW)
    prepay.set_quota(cengine, 2026, "national", "310000", "110000", 20_000_000, now=NOW)
    world.settle("Y1", BEIJING, SHANGHAI, at("2026-10-03"), {"310100": 14_500_000})
    world.settle("R1", SHANGHAI, BEIJING, at("2026-10-04"), {"310100": 18_200_000})
    propose_and_confirm(cengine)
    run = svc.clear(cengine, "monthly", "2026-10", as_of=date(2026, 11, 2), now=NOW)
    warned = {(w["payer"], w["payee"]): w for w in run.warnings if w["level"] == "national"}
    assert warned[("110000", "310000")]["warning"] == "yellow"
    assert warned[("110000", "310000")]["usage_rate"] == "72.50%"
    red = warned[("310000", "110000")]
    assert red["warning"] == "red" and red["usage_rate"] == "91.00%"
    # top-up brings usage back to 70 %: ceil(18,200,000 / 0.7) − 20,000,000
    assert red["topup_fen"] == 26_000_000 - 20_000_000
    assert red["topup_due"] == "2026-11-13"  # 10 working days after 31 October
    assert [
        w["warning"] for w in prepay.warnings(cengine, month="2026-10") if w["level"] == "national"
    ] == ["yellow", "red"]
    q = prepay.topup(cengine, 2026, "national", "310000", "110000", now=NOW)
    assert q["quota_fen"] == 26_000_000
    balances = svc.account_balances(cengine, "prepay")
    assert balances["prepay:national:310000>110000"] == 26_000_000
    assert balances["prepay-held:national:310000>110000"] == -26_000_000
    assert svc.unbalanced_postings(cengine) == []
    # the provincial level is assessed too (no quota: red when money moved)
    assert any(w["level"] == "provincial" for w in run.warnings)


def test_quota_from_the_prior_year(cengine: Engine, world: World) -> None:
    world.settle("A1", BEIJING, SHANGHAI, at("2026-10-03"), {"310100": 1_200_000}, account=999)
    world.settle("A2", BEIJING, SHANGHAI, at("2026-10-04"), {"310100": 1_200_001})
    propose_and_confirm(cengine)
    svc.clear(cengine, "monthly", "2026-10", as_of=date(2026, 11, 2), now=NOW)
    quotas = prepay.compute_quotas(cengine, 2027, now=NOW)
    national = [q for q in quotas if q["level"] == "national"]
    assert national == [
        {
            "level": "national",
            "payer": "110000",
            "payee": "310000",
            "total_fen": 2_400_001,
            "year": 2027,
            "quota_fen": 400_000,
        }
    ]
    assert prepay.list_quotas(cengine, 2027)[0]["quota_fen"] in (400_000,)
    again = prepay.compute_quotas(cengine, 2027, now=NOW)  # idempotent: no further postings
    assert again == quotas
    assert (
        svc.account_balances(cengine, "prepay:national:")["prepay:national:110000>310000"]
        == 400_000
    )


def _unbalanced_clearing_posting(c: Connection) -> None:
    pid = c.execute(
        text(
            "INSERT INTO clearing_postings (kind, ref, memo, closed, posted_at) "
            "VALUES ('clear', 'x', 'x', false, '2026-01-01 00:00:00') RETURNING posting_id"
        )
    ).scalar_one()
    c.execute(
        text("INSERT INTO clearing_legs (posting_id, account, amount) VALUES (:p, 'a', 5)"),
        {"p": pid},
    )
    c.execute(text("UPDATE clearing_postings SET closed = true WHERE posting_id = :p"), {"p": pid})


def _unbalanced_settlement_posting(c: Connection) -> None:
    pid = c.execute(
        text(
            "INSERT INTO ledger_postings (setl_id, kind, posted_at) "
            "VALUES ('S1', 'settle', '2026-10-03 02:00:00') RETURNING posting_id"
        )
    ).scalar_one()
    c.execute(
        text(
            "INSERT INTO ledger_legs (posting_id, account, amount) "
            "VALUES (:p, 'payable:hospital:H', -5), (:p, 'fund:110100:310100', 4)"
        ),
        {"p": pid},
    )


def test_the_database_refuses_an_unbalanced_posting(cengine: Engine, world: World) -> None:
    world.settle("S1", BEIJING, SHANGHAI, at("2026-10-03"), {"310100": 5})
    with pytest.raises(DBAPIError, match="balance"), cengine.begin() as c:
        _unbalanced_clearing_posting(c)
    assert count(cengine, ClearingPostingRow) == 0
    if cengine.dialect.name == "postgresql":  # the settlement journal too, at commit
        with pytest.raises(DBAPIError, match="does not balance"), cengine.begin() as c:
            _unbalanced_settlement_posting(c)
        assert count(cengine, LedgerLegRow) == 4  # only the settlement's own legs
    else:  # SQLite: legs are append-only, and the check query finds an unbalanced posting
        with cengine.begin() as c:
            _unbalanced_settlement_posting(c)
        assert [p["sum"] for p in svc.unbalanced_postings(cengine)] == [-1]
        with pytest.raises(DBAPIError, match="append-only"), cengine.begin() as c:
            c.execute(text("DELETE FROM ledger_legs"))


def test_statements_for_every_party(cengine: Engine, world: World, tmp_path: Path) -> None:
    october(world)
    propose_and_confirm(cengine)
    run = svc.clear(cengine, "monthly", "2026-10", as_of=date(2026, 11, 2), now=NOW)
    steps: list[int] = []
    written = svc.write_statements(
        cengine, "monthly", "2026-10", tmp_path, progress=lambda _s, done, _t: steps.append(done)
    )
    names = {p.name for p in written}
    for stem in ("national-000000", "province-440000", "region-440300", "hospital-H440100"):
        assert {f"{stem}.csv", f"{stem}.json", f"{stem}.html"} <= names
    assert steps[-1] == len(written) // 3
    national = json.loads((tmp_path / run.run_id / "national-000000.json").read_text("utf-8"))
    nets = {r["province"].split()[0]: r["net_fen"]["fen"] for r in national["sections"][0]["rows"]}
    assert sum(nets.values()) == 0
    transfers = national["sections"][2]["rows"]
    assert sum(t["amount_fen"]["fen"] for t in transfers if t["payer"] == "000000") == sum(
        v for v in nets.values() if v > 0
    )
    html = (tmp_path / run.run_id / "hospital-H440100.html").read_text("utf-8")
    assert "<table>" in html and "5306.78" in html
    hospital = svc.statement_for(cengine, "monthly", "2026-10", "H440100")
    assert hospital["summary"]["amount_fen"]["fen"] == 530_678
    # one party's statement alone is the one of the full list, for every party
    with unit_of_work(cengine) as session:
        stored = session.get(ClearingRunRow, run.run_id)
        assert stored is not None
        full = svc.build_statements(session, stored, load_regions())
        for statement in full:
            alone = svc.build_statements(
                session, stored, load_regions(), (statement.party_kind, statement.party)
            )
            assert alone == [statement], statement.file_stem
    assert {s.party_kind for s in full} == {"national", "province", "region", "hospital"}


def test_hospital_cash_flow_compares_cycles(cengine: Engine, world: World) -> None:
    october(world)
    propose_and_confirm(cengine)
    flows = svc.hospital_cash_flow(cengine, date(2026, 10, 1), date(2026, 10, 31))
    overall = {f["cycle"]: f["advance_days"] for f in flows if f["fixmedins_code"] == "*"}
    assert set(overall) == {"daily", "monthly", "quarterly", "annual"}
    days = [float(overall[c]) for c in ("daily", "monthly", "quarterly", "annual")]
    assert days == sorted(days)  # longer cycles, longer advances


def test_a_hospital_paid_from_its_own_clearing_application(cengine: Engine, world: World) -> None:
    october(world)
    propose_and_confirm(cengine)
    with cengine.begin() as c:
        c.execute(
            insert(ClearingApplicationRow).values(
                clr_appy_evt_id="A1",
                fixmedins_code="H440100",
                clr_type="21",
                clr_way="1",
                setlym="202610",
                clr_optins=GUANGZHOU,
                begndate=date(2026, 10, 1),
                enddate=date(2026, 10, 31),
                psntime=3,
                medfee_sumamt=0,
                med_sumfee=0,
                fund_appy_sum=0,
                cash_payamt=0,
                acct_pay=0,
                status="applied",
                open_key="open",
                msgid="M-A1",
                applied_at=at("2026-11-05", 10),
            )
        )
    svc.clear(cengine, "monthly", "2026-10", as_of=date(2026, 11, 2), now=NOW)
    with unit_of_work(cengine) as session:
        payments = {p.fixmedins_code: p for p in session.execute(select(RunPaymentRow)).scalars()}
    own = payments["H440100"]
    assert (own.applied_on, own.due_on) == (date(2026, 11, 5), date(2026, 12, 17))
    assert payments["H310100"].due_on == date(2026, 12, 14)
    # S3 (15 Oct, 419,345 fen incl. account), S4 (20 Oct), S5 (31 Oct) paid on 17 Dec
    weighted = 417_345 * 63 + 99_999 * 58 + 13_334 * 47
    assert own.advance_days_x100 == round(weighted * 100 / (417_345 + 99_999 + 13_334))


def test_scopes_of_proposal_and_confirmation(cengine: Engine, world: World) -> None:
    october(world)
    guangzhou = svc.propose(cengine, OCT, now=NOW, treatment_scope=GUANGZHOU)
    assert guangzhou.proposed == 3  # S3, S4, S5 treated in 440100
    rest = svc.propose(cengine, OCT, now=NOW, treatment_scope="310000")
    assert rest.proposed == 1  # S1, treated in Shanghai
    assert svc.propose(cengine, OCT, now=NOW).proposed == 1  # S2, the one left
    again = svc.propose(cengine, OCT, now=NOW)
    assert (again.created, again.proposed, again.carried) == (False, 0, 0)
    assert svc.confirm(cengine, now=NOW, insured_region="440000") == 1  # S4 (深圳)
    assert svc.confirm(cengine, now=NOW, insured_region="000000") == 4
    with pytest.raises(ClearingError, match="name the items"):
        svc.confirm(cengine, now=NOW)
    with pytest.raises(ClearingError, match="not proposed"):
        svc.dispute(cengine, ["NOPE"], "x", now=NOW)
    run = svc.clear(cengine, "monthly", "2026-10", as_of=date(2026, 11, 2), now=NOW)
    assert run.amount_fen == 870_000 + 417_345 + 99_999 + 13_334 + 427_500
