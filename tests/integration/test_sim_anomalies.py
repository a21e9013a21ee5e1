"""Planted anomalies (``medroam sim --anomalies``): the month is made clean against the
shipped rules, violations are planted per family, the truth is exact (the audit's own
engine finds each planted family on its visit and nothing on the others), and it is
stored apart after the run — on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from medroam.domain.audit.mechanisms import MECHANISMS
from medroam.refdata.audit_rules import load_rule_book
from medroam.refdata.regions import load_regions
from medroam.services.seed import choose_regions, plan_regions
from medroam.services.sim import SimConfig, SimError, check_config, run_simulation
from medroam.services.sim_truth import truth_for_period
from medroam.services.uow import unit_of_work
from medroam.sim import anomalies
from medroam.sim.anomalies import (
    NEUTRAL_DIAGNOSIS,
    Auditor,
    Catalogues,
    PersonFacts,
    audit_visit,
    clean,
    plant,
)
from medroam.sim.behaviour import nation_cares
from medroam.sim.report import render_report
from medroam.sim.visits import (
    INPATIENT,
    OUTPATIENT,
    BillMaker,
    Diagnosis,
    Hospital,
    Shape,
    hospitals_by_region,
    plan_encounters,
)
from medroam.store.sim_truth_tables import SimTruthRow
from medroam.store.tables import SettlementRow

AS_OF = date(2026, 10, 1)
PROVINCES = ("11", "31", "44", "51")


def _nation(seed: int = 7):  # type: ignore[no-untyped-def]
    table = load_regions()
    regions = choose_regions(table, provinces=PROVINCES)
    plans = plan_regions(seed, regions, AS_OF, 40)
    persons = [p for rp in plans for p in rp.persons]
    institutions = [i for rp in plans for i in rp.institutions]
    cares = nation_cares(seed, persons, table, [r.code for r in regions])
    hospitals = hospitals_by_region(
        Hospital(i.code, i.name, i.region, i.level) for i in institutions
    )
    maker = BillMaker(Shape())
    plan = plan_encounters(seed, cares, hospitals, AS_OF, 31, volume=2.0, maker=maker)
    facts = {
        p.psn_no: PersonFacts(
            p.identity.gender, p.identity.birth_date, p.insutype, p.insured_region
        )
        for p in persons
    }
    all_hospitals = [Hospital(i.code, i.name, i.region, i.level) for i in institutions]
    return plan, facts, maker, all_hospitals


def test_cleaning_removes_what_breaks_a_rule() -> None:
    """A man admitted for a childbirth (O80, women only) gets a neutral diagnosis; a bed
    fee billed to an outpatient visit (bed fees are for stays) is dropped; the rest of
    the bills is untouched."""
    plan, facts, _maker, _h = _nation()
    auditor = Auditor(load_rule_book(), plan.start)
    stay = next(e for e in plan.encounters if e.kind == INPATIENT and plan.start <= e.day)
    visit = next(e for e in plan.encounters if e.kind == OUTPATIENT and e.lines)
    man = next(k for k, f in facts.items() if f.gender == "1")
    birth = replace(stay, psn_no=man, diagnosis=Diagnosis("O80.000", "单胎顺产", "A05", "妇产科"))
    bed = visit.lines[0].__class__(
        sn="9999", code="001109000010000", name="床位费", charge_type="", quantity=1,
        price=30_000_000, amount=3_000, approved=True,
    )  # fmt: skip
    with_bed = replace(visit, lines=(*visit.lines, bed))
    cleaned, lines_dropped, dropped = clean([birth, with_bed], facts, auditor)
    assert dropped == 0 and lines_dropped == 1
    assert cleaned[0].diagnosis == NEUTRAL_DIAGNOSIS
    assert cleaned[1].lines == visit.lines


def test_planted_truth_is_exactly_what_the_engine_finds() -> None:
    """After planting at 10 %, every family of the shipped library but 分解收费 (its items
    are not in the catalogue) is planted; re-auditing the whole month with the engine
    finds exactly the visit-level truth — nothing on the encounters left clean."""
    plan, facts, maker, hospitals = _nation()
    book = load_rule_book()
    out = plant(plan, facts, book, Catalogues(maker.listed, maker.prices), 0.10, 7, hospitals)
    visits = [p for p in out.planted if p.level == "visit"]
    families = {p.family for p in visits}
    assert "unbundled_charge" in out.not_plantable
    assert {"sex_limit", "age_limit", "price_cap", "split_admission", "frequent_visits"} <= (
        families
    )
    assert any(p.level == "institution" for p in out.planted)
    auditor = Auditor(book, plan.start)
    window = [e for e in out.plan.encounters if plan.start <= e.day <= plan.end and not e.cancel]
    by_person = defaultdict(list)
    for e in window:
        by_person[e.psn_no].append(e)
    found = set()
    for psn_no, mine in by_person.items():
        person = facts[psn_no]
        for e in mine:
            for rule, f in auditor.bill_findings(e, person):
                found.add((rule.mechanism, f.visit_id))
        for rule in auditor.history_rules(mine[0].hospital.region):
            for f in MECHANISMS[rule.mechanism].check(
                rule.meta, rule.params, [audit_visit(e, person) for e in mine]
            ):
                found.add((rule.mechanism, f.visit_id))
    assert found == {(p.family, p.encounter_key) for p in visits}


def test_a_fraudulent_hospital_changes_no_bill_of_a_person_carrying_a_violation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A person carrying a planted violation may be refused at 2304, which would take a
    fraudulent hospital's changed bill out of the data (a split stay refused for a
    charge outside it left a "split" hospital with one stay). At 30 % of encounters
    planted and a quarter of the hospitals fraudulent (every scheme used): no bill a
    scheme changed or added (as ``defraud`` returns them) belongs to a person a
    violation was planted on (as ``_plant_one`` reports them)."""
    monkeypatch.setattr(anomalies, "FRAUD_SHARE", 0.25)
    carrying: set[str] = set()
    changes: list[tuple[str, str]] = []  # (scheme, psn_no)
    plant_one, defraud = anomalies._plant_one, anomalies.defraud

    def planted_on(family: str, key: str, e: Any, *args: Any) -> bool:
        done = plant_one(family, key, e, *args)
        if done:
            carrying.add(e.psn_no)
        return done

    def defrauded(scheme: str, *args: Any, **kwargs: Any) -> list[Any]:
        out = defraud(scheme, *args, **kwargs)
        changes.extend((scheme, e.psn_no) for e in out)
        return out

    monkeypatch.setattr(anomalies, "_plant_one", planted_on)
    monkeypatch.setattr(anomalies, "defraud", defrauded)
    plan, facts, maker, hospitals = _nation()
    book = load_rule_book()
    plant(plan, facts, book, Catalogues(maker.listed, maker.prices), 0.30, 7, hospitals)
    assert len(carrying) > 100
    assert {"duplicate_charge", "phantom_admission", "split_admission"} <= {
        scheme for scheme, _p in changes
    }
    assert [c for c in changes if c[1] in carrying] == []


def test_a_fraudulent_hospital_changes_at_least_the_minimum_of_bills(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A hospital is made fraudulent only if its scheme changes at least
    ``fraud_min_bills`` of its own bills (a split stay counts once, though it becomes
    two): with the default 5, every planted hospital's scheme changed 5 or more, and some
    hospital on which a scheme would change 1–4 bills was passed over; with 1, the same
    month plants hospitals on which a scheme changes fewer than 5."""
    monkeypatch.setattr(anomalies, "FRAUD_SHARE", 0.05)
    calls: list[tuple[str, str, int]] = []  # (scheme, hospital, bills changed)
    defraud = anomalies.defraud

    def defrauded(scheme: str, encounters: Any, *args: Any, **kwargs: Any) -> list[Any]:
        out = defraud(scheme, encounters, *args, **kwargs)
        if out:
            keys = {e.key for e in encounters}
            changed = sum(1 for e in out if e.key in keys)
            calls.append((scheme, out[0].hospital.code, changed))
        return out

    monkeypatch.setattr(anomalies, "defraud", defrauded)
    plan, facts, maker, hospitals = _nation()
    book = load_rule_book()
    catalogues = Catalogues(maker.listed, maker.prices)

    def planted(minimum: int) -> list[tuple[str, int]]:
        calls.clear()
        out = plant(plan, facts, book, catalogues, 0.05, 7, hospitals, fraud_min_bills=minimum)
        frauds = {(p.family, p.fixmedins_code) for p in out.planted if p.level == "institution"}
        assert frauds
        # the scheme's last call on a planted hospital is the one applied
        applied = {(s, h): n for s, h, n in calls if (s, h) in frauds}
        assert set(applied) == frauds
        passed_over = [n for s, h, n in calls if (s, h) not in frauds]
        return [(s, applied[(s, h)]) for s, h in sorted(frauds)] + [("", n) for n in passed_over]

    with_default = planted(anomalies.FRAUD_MIN_BILLS)
    assert anomalies.FRAUD_MIN_BILLS == 5
    assert all(n >= 5 for s, n in with_default if s)
    assert any(1 <= n < 5 for s, n in with_default if not s)
    assert any(n < 5 for s, n in planted(1) if s)


def test_anomaly_rate_is_checked() -> None:
    with pytest.raises(SimError, match=r"--anomalies must be 0\.\.0\.5"):
        check_config(SimConfig(anomalies=0.9), check_port=False)


@pytest.mark.db
def test_a_simulation_stores_the_truth_apart(engine: Engine) -> None:
    """The truth of a run is in ``sim_anomaly_truth``: planted visits with their
    settlement (or the refusal they met), fraudulent institutions by scheme. Three
    provinces for 20 days have no hospital on which a scheme changes five bills, so the
    fraud's minimum is 1 here (what is stored is the point, not the scale)."""
    config = SimConfig(
        seed=3, provinces=("11", "31", "44"), days=20, anomalies=0.1, fraud_min_bills=1
    )
    result = run_simulation(engine, config)
    summary = result.summary["anomalies"]
    assert summary["visits"] > 0 and summary["institutions"]
    assert summary["fraud_min_bills"] == 1
    html = render_report(result.summary)
    assert "changes at least 1 of its bills" in html
    truth = truth_for_period(engine, "2026-10")
    visits = [t for t in truth if t.level == "visit"]
    assert len(visits) == summary["visits"]
    settled = [t for t in visits if t.setl_id]
    assert settled and all(t.mdtrt_id for t in settled)
    assert all(t.setl_id or t.refusal for t in visits)
    with unit_of_work(engine) as session:
        in_force = session.execute(
            select(func.count())
            .select_from(SettlementRow)
            .where(SettlementRow.setl_id.in_([t.setl_id for t in settled]))
        ).scalar_one()
        stored = session.execute(select(func.count()).select_from(SimTruthRow)).scalar_one()
    assert in_force == len({t.setl_id for t in settled})  # a visit may break two rules
    assert stored == len(truth)
    # the run scored its institutions and ranked the planted ones among them
    evaluation = summary["evaluation"]
    assert evaluation["institutions_scored"] > 0
    assert {i["fixmedins_code"] for i in evaluation["institutions"]} <= {
        t.fixmedins_code for t in truth if t.level == "institution"
    }
    assert all(
        1 <= i["rank"] <= evaluation["institutions_scored"] for i in evaluation["institutions"]
    )
    assert {t.family for t in truth if t.level == "institution"} <= {
        "duplicate_charge",
        "phantom_admission",
        "split_admission",
    }
