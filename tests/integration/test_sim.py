"""The simulator: a deterministic nation and plan, bills from the place of treatment's
catalogue, and a simulated period through the real gateway (HTTP) whose totals
reconcile with the clearing statements to the fen — on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from medroam.domain.identity import validate_id_number
from medroam.refdata.catalogue import load_catalogue
from medroam.refdata.regions import load_regions
from medroam.services import clearing
from medroam.services.seed import choose_regions, plan_regions
from medroam.services.sim import Growth, SimConfig, SimResult, parse_cycles, run_simulation
from medroam.sim import visits as visits_module
from medroam.sim.behaviour import REASONS, Shape, nation_cares
from medroam.sim.driver import SimClock
from medroam.sim.visits import (
    INPATIENT,
    OUTPATIENT,
    Hospital,
    Plan,
    hospitals_by_region,
    line_amount,
    plan_encounters,
)

AS_OF = date(2026, 10, 1)
PROVINCES = ("11", "13", "31")  # 北京, 河北 (refers to 北京), 上海


def nation_plan(seed: int, provinces: tuple[str, ...] = PROVINCES, days: int = 20) -> Plan:
    table = load_regions()
    regions = choose_regions(table, provinces=provinces)
    plans = plan_regions(seed, regions, AS_OF, 24)
    persons = [p for rp in plans for p in rp.persons]
    cares = nation_cares(seed, persons, table, [r.code for r in regions])
    hospitals = hospitals_by_region(
        Hospital(i.code, i.name, i.region, i.level) for rp in plans for i in rp.institutions
    )
    return plan_encounters(seed, cares, hospitals, AS_OF, days, volume=3.0)


# --- the plan, without a database ---------------------------------------------------------


def test_same_seed_same_nation_and_plan_another_seed_another() -> None:
    regions = choose_regions(load_regions(), provinces=PROVINCES)
    assert plan_regions(1, regions, AS_OF, 24) == plan_regions(1, regions, AS_OF, 24)
    a, b, c = nation_plan(1), nation_plan(1), nation_plan(2)
    assert a == b
    assert len(a.encounters) > 50
    assert [e.key for e in a.encounters] != [e.key for e in c.encounters]


def test_generated_id_numbers_validate() -> None:
    regions = load_regions().pooling_regions()
    persons = [p for rp in plan_regions(1, regions, AS_OF, 24) for p in rp.persons]
    assert len(persons) == 24 * len(regions)
    for p in persons:
        who = p.identity
        parsed = validate_id_number(who.certno)
        assert parsed.birth_date == who.birth_date, who.certno
        assert parsed.gender == who.gender, who.certno
        assert who.certno[:4] == p.insured_region[:4] or who.certno[:6] == p.insured_region
    assert len({p.identity.certno for p in persons}) == len(persons)


def test_encounters_look_like_the_published_shape() -> None:
    plan = nation_plan(1, ("11", "13", "31", "44", "51", "42", "41"), days=31)
    window = plan.settled_in_window()
    stays = [e for e in window if e.kind == INPATIENT]
    visits = [e for e in window if e.kind == OUTPATIENT]
    # outpatient visits are thinned to exactly twice the stays settled in the window
    assert len(visits) == 2 * len(stays) > 100
    shape = Shape()
    mean_visit = sum(e.medfee for e in visits) / len(visits)
    mean_stay = sum(e.medfee for e in stays) / len(stays)
    assert 0.7 * shape.outpatient_mean_fen < mean_visit < 1.3 * shape.outpatient_mean_fen
    assert 0.7 * shape.inpatient_mean_fen < mean_stay < 1.3 * shape.inpatient_mean_fen
    los = [(e.day - e.admit).days for e in stays]
    assert 7 <= sum(los) / len(los) <= 13
    assert min(los) >= 2
    # stays admitted before the window and settled in it; others still open at its end
    assert any(e.admit < plan.start for e in stays)
    assert any(e.day > plan.end for e in plan.encounters)
    # every reason of the behaviour shows up somewhere
    assert {e.reason for e in window} >= {"resettled_retiree", "referral", "trip"}
    assert {e.reason for e in window} <= set(REASONS)


def test_bills_come_from_the_place_of_treatment_catalogue() -> None:
    plan = nation_plan(3, days=10)
    for e in plan.encounters:
        catalogue = load_catalogue(e.hospital.region)
        assert e.lines, e.key
        assert len({line.sn for line in e.lines}) == len(e.lines)
        for line in e.lines:
            assert line.code in catalogue.items, (e.key, line.code)
            assert line.quantity >= 1
            assert line.amount == line_amount(line.price, line.quantity)
            if e.kind == INPATIENT:
                assert 0 <= line.day_offset < (e.day - e.admit).days
        if e.kind == INPATIENT:
            charge_types = {line.charge_type for line in e.lines}
            assert "01" in charge_types  # a bed for every day
            bed = next(line for line in e.lines if line.charge_type == "01")
            assert bed.quantity == (e.day - e.admit).days


def test_the_simulated_clock() -> None:
    clock = SimClock()
    clock.set_day(date(2026, 10, 15))
    first = clock.now()
    assert first.date() == date(2026, 10, 15) and first.hour == 8
    assert clock.now() >= first and clock.timestamp() >= first.timestamp()
    clock.release()
    assert not clock.simulated and clock.now().year >= 2026


# --- through the gateway ------------------------------------------------------------------


def small_config(**kw: Any) -> SimConfig:
    base = SimConfig(
        seed=1,
        start=AS_OF,
        days=10,
        provinces=PROVINCES,
        volume=3.0,
        concurrency=4,
        cycles=parse_cycles(["all"]),
        growth=Growth(),
    )
    return replace(base, **kw)


def totals(result: SimResult) -> dict[str, Any]:
    """What must not depend on the run: counts and money (not ids or timings)."""
    s = result.summary
    return {
        "shape": s["shape"],
        "settlements": s["settlements"],
        "provinces": s["provinces"],
        "reasons": s["reasons"],
        "cleared": [(r["run_id"], r["amount_fen"], r["line_count"]) for r in s["clearing"]],
        "warnings": s["prepayment"]["warnings"],
        "whatif": s["whatif"],
        "advance": {k: v for k, v in s["advance"].items()},
    }


@pytest.fixture(scope="module")
def many_cancellations() -> Any:
    # a tenth of the settlements cancelled by the hospital: reverse records everywhere
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(visits_module, "CANCEL_RATE", 0.1)
        yield


@pytest.mark.db
def test_a_simulated_period_reconciles_with_clearing_to_the_fen(
    engine: Engine, many_cancellations: Any
) -> None:
    last: dict[str, tuple[int, int]] = {}

    def progress(what: str, done: int, total: int) -> None:
        last[what] = (done, total)

    result = run_simulation(engine, small_config(), progress=progress)
    # every progress step reaches its total (the prepayment bar once stopped at 924/950)
    assert "prepayment quotas" in last and "encounters" in last
    assert all(done == total for done, total in last.values()), last
    _check_report_is_honest(result.summary)
    s = result.summary
    settled = result.books.settled
    assert s["refusals"] == []
    assert len(settled) >= 40
    reverses = [x for x in settled if x.reverse]
    assert reverses, "the test wants reverse records"
    # every hospital statement (3201) balanced against the HIS's own totals
    recon = s["reconciliation"]
    assert recon["statements_3201"] > 5
    assert recon["balanced_3201"] == recon["statements_3201"]
    assert recon["applications_3203"].get("refused", 0) == 0
    # the clearing run holds exactly the fund and account money of the settlements
    cross = [x for x in settled if x.cross != "local"]
    assert len(cross) == len(settled)
    (run,) = s["clearing"]
    expected = sum(x.fund + x.account for x in cross)
    assert run["amount_fen"] == expected
    national = clearing.statement_for(engine, "monthly", "2026-10", "000000")
    assert national["summary"]["cleared_fen"]["fen"] == expected
    # national positions: what each province's patients cost the others, and v.v.
    net: dict[str, int] = defaultdict(int)
    for x in cross:
        if x.cross == "inter_province":
            net[x.treatment_region[:2] + "0000"] += x.fund + x.account
            net[x.insured_region[:2] + "0000"] -= x.fund + x.account
    positions = next(sec for sec in national["sections"] if sec["name"] == "positions")
    stated = {row["province"][:6]: row["net_fen"]["fen"] for row in positions["rows"]}
    assert stated == {k: v for k, v in net.items() if k in stated}
    assert sum(stated.values()) == 0 and any(stated.values())
    # every hospital's statement: its money and its settlements with money to clear
    # (a reversal counts −1; a bill the patient paid in full has nothing to clear)
    money: Counter[str] = Counter()
    people: Counter[str] = Counter()
    for x in cross:
        money[x.fixmedins_code] += x.fund + x.account
        if x.fund or x.account:
            people[x.fixmedins_code] += -1 if x.reverse else 1
    for code in money:
        statement = clearing.statement_for(engine, "monthly", "2026-10", code)
        assert statement["summary"]["amount_fen"]["fen"] == money[code], code
        assert statement["summary"]["settlements"] == people[code], code
    # both journals balance, the run reproduces, and the summary agrees with the books
    assert clearing.unbalanced_postings(engine) == []
    assert clearing.verify_run(engine, run["run_id"]) == []
    assert s["settlements"]["records"] == len(settled)
    assert s["settlements"]["fund_fen"] == sum(x.fund for x in settled)
    assert s["settlements"]["cancelled"] == len(reverses)


def test_same_seed_same_totals_on_fresh_databases(
    sqlite_url: str, tmp_path: Any, many_cancellations: Any
) -> None:
    from medroam.store.db import make_engine

    results = []
    for n in range(2):
        engine = make_engine(f"sqlite:///{tmp_path / f'run{n}.db'}")
        try:
            results.append(totals(run_simulation(engine, small_config(days=6))))
        finally:
            engine.dispose()
    assert results[0] == results[1]
    assert results[0]["settlements"]["in_force"] > 10


@pytest.mark.db
def test_a_second_simulation_of_the_same_period_is_refused(engine: Engine) -> None:
    from medroam.services.sim import SimError

    run_simulation(engine, small_config(days=2, volume=1.0))
    with pytest.raises(SimError, match="already holds"):
        run_simulation(engine, small_config(days=2, volume=1.0))
    # another period is fine
    later = run_simulation(engine, small_config(start=AS_OF + timedelta(days=90), days=2))
    assert later.summary["period"]["start"] == "2026-12-30"


def _check_report_is_honest(summary: dict[str, Any]) -> None:
    """The report (issue 12 item 16): a cut table says so, the growth text is the model
    the code uses, and the targets are not called published figures."""
    import copy

    from medroam.services.sim import Growth
    from medroam.sim.report import WARNINGS_SHOWN, WHATIF_VS_RUN, render_report

    s = copy.deepcopy(summary)
    warning = {
        "level": "national",
        "payer": "110000",
        "payee": "440000",
        "month": "2026-10",
        "cleared_fen": 100,
        "quota_fen": 100,
        "usage_rate": "100.00%",
        "warning": "red",
        "topup_fen": 0,
    }
    s["prepayment"]["warnings"] = [dict(warning) for _ in range(218)]
    html = render_report(s)
    assert f"Showing the first {WARNINGS_SHOWN} of 218 warnings" in html
    assert Growth().describe() in html
    if s["whatif"]:  # the two counts of warnings are told apart
        assert WHATIF_VS_RUN.split("'")[0] in html
    assert "published 公开" not in html and "simulator&#x27;s target" in html.replace("'", "&#x27;")
