"""``medroam seed --demo``: the synthetic demo nation.

The plan (``medroam.sim``) is checked without a database: valid ID numbers of the
person's own region, determinism, independence of a region from the others seeded with
it. The seed itself runs on SQLite and PostgreSQL for a subset of regions (idempotent for
the same seed, refused for another), and once for the whole nation on SQLite.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from medroam.cli.main import app
from medroam.domain.codes import INSUTYPE_EMPLOYEE, INSUTYPE_RESIDENT, FilingType
from medroam.domain.filing import FilingChannel, FilingRequest, region_covers
from medroam.domain.identity import validate_id_number
from medroam.domain.policy import FilingRules
from medroam.domain.region import Region
from medroam.refdata.regions import load_regions
from medroam.services import filings as filing_service
from medroam.services.seed import SeedError, choose_regions, plan_regions, seed_demo
from medroam.services.uow import unit_of_work
from medroam.sim import seed as plan
from medroam.sim.people import age_on, county_prefixes
from medroam.store.db import make_engine, upgrade
from medroam.store.tables import (
    AccountRow,
    CredentialRow,
    FilingEventRow,
    FilingRow,
    InstitutionRow,
    InsuranceRow,
    PersonRow,
    PersonVoucherRow,
)

AS_OF = date(2026, 11, 20)
# A municipality, a big city, a resettlement destination, an autonomous prefecture, a
# province-administered county-level city, and 兵团.
SUBSET = ["110100", "310100", "440100", "460100", "532900", "419001", "660100"]
RETIRED_TYPES = {"1201", "1202", "1203"}


def _regions(codes: list[str]) -> list[Region]:
    return choose_regions(load_regions(), regions=codes)


def _persons(plans: list[plan.RegionPlan]) -> list[plan.SeedPerson]:
    return [p for region_plan in plans for p in region_plan.persons]


# --- the plan (no database) ------------------------------------------------------------------


def test_id_numbers_are_valid_and_belong_to_the_persons_region() -> None:
    plans = plan_regions(1, _regions(SUBSET), AS_OF, plan.PERSONS_PER_REGION)
    seen: set[str] = set()
    for person in _persons(plans):
        who = person.identity
        parsed = validate_id_number(who.certno, as_of=AS_OF)
        assert parsed.birth_date == who.birth_date
        assert parsed.gender == who.gender  # odd sequence digit for men, even for women
        region = person.insured_region
        assert parsed.region in county_prefixes(region)
        if parsed.region != region:
            assert parsed.region[:4] == region[:4] and parsed.region[4:] != "00"
        assert who.certno not in seen
        seen.add(who.certno)


def test_county_prefixes() -> None:
    assert "110108" in county_prefixes("110100")
    assert "440301" not in county_prefixes("440300")  # 市辖区 placeholder
    assert set(county_prefixes("440300")) <= {f"4403{n:02d}" for n in range(2, 100)}
    assert county_prefixes("419001") == ("419001",)  # county-level: its own code
    assert county_prefixes("660100") == ("660100",)  # no county list: the region's code


def test_people_are_consistent_with_their_insurance() -> None:
    plans = plan_regions(1, _regions(SUBSET), AS_OF, plan.PERSONS_PER_REGION)
    for person in _persons(plans):
        age = age_on(person.identity.birth_date, plan.REFERENCE_DAY)
        if person.psn_type in RETIRED_TYPES:
            assert age >= (60 if person.identity.gender == "1" else 55)
        if person.insutype == INSUTYPE_EMPLOYEE:
            assert person.psn_type[:2] in ("11", "12", "13") and person.employer
            assert person.balance > 0
        else:
            assert person.psn_type[:2] in ("14", "15") and person.balance == 0
        assert person.civil_servant == (person.psn_type in ("1102", "1202"))
        for q in person.qualifications:
            assert q.begin <= AS_OF


def test_filings_are_valid_on_the_as_of_day_and_name_another_place() -> None:
    plans = plan_regions(1, _regions(SUBSET), AS_OF, plan.PERSONS_PER_REGION)
    centres = set(plan.CENTRES.values())
    types: Counter[FilingType] = Counter()
    for person in _persons(plans):
        f = person.filing
        if f is None:
            continue
        types[f.filing_type] += 1
        assert f.valid_on(AS_OF)
        assert not region_covers(f.destination, f.insured_region)
        assert f.destination[:2] != f.insured_region[:2]  # the demo's filings cross provinces
        if f.filing_type is FilingType.TMP_REFERRAL:
            assert f.destination in centres
    assert set(types) == set(FilingType)


def test_the_plan_is_deterministic_and_depends_on_the_seed() -> None:
    regions = _regions(SUBSET[:3])
    first = plan_regions(7, regions, AS_OF, 20)
    assert first == plan_regions(7, regions, AS_OF, 20)
    other = plan_regions(8, regions, AS_OF, 20)
    a = {p.identity.certno for p in _persons(first)}
    b = {p.identity.certno for p in _persons(other)}
    assert not a & b
    assert {p.psn_no for p in _persons(first)}.isdisjoint(p.psn_no for p in _persons(other))


def test_a_region_comes_out_the_same_alone_or_with_others() -> None:
    alone = plan_regions(3, _regions(["460100"]), AS_OF, 24)
    together = plan_regions(3, _regions(["110100", "460100"]), AS_OF, 24)
    assert alone[0] == together[1]


def test_unknown_regions_are_refused() -> None:
    with pytest.raises(SeedError, match="--provinces"):
        choose_regions(load_regions(), provinces=["99"])
    with pytest.raises(SeedError, match="--regions"):
        choose_regions(load_regions(), regions=["110000"])  # a province, not a pooling region


# --- the seed in a database ------------------------------------------------------------------


def _count(engine: Engine, model: type[object], *where: object) -> int:
    with unit_of_work(engine) as session:
        stmt = select(func.count()).select_from(model)  # type: ignore[arg-type]
        for clause in where:
            stmt = stmt.where(clause)  # type: ignore[arg-type]
        return int(session.execute(stmt).scalar_one())


def check_nation(engine: Engine, regions: list[str], persons_per_region: int) -> None:
    """Every region: ≥ 3 networked institutions of levels 1-3 with TIF credentials, ≥ 20
    persons of both insurance types; nationally every filing type; valid ID numbers."""
    with unit_of_work(engine) as session:
        inst = session.execute(select(InstitutionRow)).scalars().all()
        by_region: dict[str, set[str]] = {}
        for row in inst:
            assert row.networked and row.active
            assert row.fixmedins_code == f"H{row.region}{row.fixmedins_code[7:]}"
            by_region.setdefault(row.region, set()).add(row.level)
        assert set(by_region) == set(regions)
        assert all({"1", "2", "3"} <= levels for levels in by_region.values())
        tif = set(
            session.execute(
                select(CredentialRow.fixmedins_code).where(CredentialRow.scheme == "tif")
            ).scalars()
        )
        assert tif == {row.fixmedins_code for row in inst}
        insurance = session.execute(
            select(InsuranceRow.insured_region, InsuranceRow.insutype, func.count()).group_by(
                InsuranceRow.insured_region, InsuranceRow.insutype
            )
        ).all()
        per = Counter[tuple[str, str]]({(r, t): n for r, t, n in insurance})
        for region in regions:
            assert per[(region, INSUTYPE_EMPLOYEE)] >= 1
            assert per[(region, INSUTYPE_RESIDENT)] >= 1
            assert per[(region, INSUTYPE_EMPLOYEE)] + per[(region, INSUTYPE_RESIDENT)] >= 20
        for certno, gender, birth in session.execute(
            select(PersonRow.certno, PersonRow.gender, PersonRow.birth_date)
        ):
            parsed = validate_id_number(certno)
            assert (parsed.gender, parsed.birth_date) == (gender, birth)
        types = set(session.execute(select(FilingRow.filing_type).distinct()).scalars())
        assert types == {t.value for t in FilingType}
    n_persons = len(regions) * persons_per_region
    assert _count(engine, PersonRow) == n_persons
    assert _count(engine, PersonVoucherRow) == 3 * n_persons
    assert _count(engine, AccountRow) == n_persons
    assert _count(engine, FilingEventRow) == _count(engine, FilingRow) == 6 * len(regions)


@pytest.mark.db
def test_seed_a_subset_idempotently(engine: Engine) -> None:
    result = seed_demo(engine, seed=1, regions=SUBSET, as_of=AS_OF)
    assert sorted(result.written) == sorted(SUBSET) and result.skipped == ()
    check_nation(engine, SUBSET, plan.PERSONS_PER_REGION)
    assert result.counts["persons"] == len(SUBSET) * plan.PERSONS_PER_REGION
    assert result.counts["institutions"] >= 3 * len(SUBSET) + 6  # + 2 per referral centre
    for t in FilingType:
        assert result.counts[f"filings_{t.value}"] == len(SUBSET)

    # the filings are ordinary filings: the filing service reads them, history included
    person = next(p for p in result.fixtures["persons"] if p["filing"])
    filing = filing_service.get_filing(engine, person["filing"]["filing_id"])
    assert filing.psn_no == person["psn_no"]
    assert filing.channel.value == person["filing"]["channel"]
    [event] = filing_service.filing_history(engine, filing.filing_id)
    assert event.snapshot == filing

    again = seed_demo(engine, seed=1, regions=SUBSET)
    assert again.written == () and sorted(again.skipped) == sorted(SUBSET)
    assert again.counts == result.counts
    assert again.fixtures == result.fixtures
    assert again.as_of == AS_OF  # the stored day, not today

    with pytest.raises(SeedError, match="seed 1"):
        seed_demo(engine, seed=2, regions=SUBSET)
    with pytest.raises(SeedError, match="as of 2026-11-20"):
        seed_demo(engine, seed=1, regions=SUBSET, as_of=date(2026, 12, 1))

    # more regions with the same seed: only those are written
    more = seed_demo(engine, seed=1, regions=[*SUBSET, "420100"])
    assert more.written == ("420100",)
    check_nation(engine, [*SUBSET, "420100"], plan.PERSONS_PER_REGION)


@pytest.mark.db
def test_seed_refuses_a_database_with_other_data(engine: Engine) -> None:
    filing_service.make_filing(
        engine,
        FilingRules(reductions={}),
        FilingRequest(
            filing_id="F1",
            psn_no="P1",
            insured_region="150700",
            filing_type=FilingType.LT_RETIRED,
            destination="110100",
            valid_from=date(2026, 1, 1),
            channel=FilingChannel.NATIONAL_APP,
        ),
        datetime.fromisoformat("2026-01-02T10:00:00+08:00"),
    )
    with pytest.raises(SeedError, match="did not write"):
        seed_demo(engine, seed=1, regions=["110100"], as_of=AS_OF)


def _fresh(tmp_path: Path, name: str) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / name}")
    upgrade(engine)
    return engine


def test_same_seed_same_fixtures_different_seed_different_people(tmp_path: Path) -> None:
    regions = ["110100", "510100"]
    engines = [_fresh(tmp_path, f"{n}.db") for n in ("a", "b", "c")]
    try:
        a = seed_demo(engines[0], seed=5, regions=regions, as_of=AS_OF)
        b = seed_demo(engines[1], seed=5, regions=regions, as_of=AS_OF)
        c = seed_demo(engines[2], seed=6, regions=regions, as_of=AS_OF)
    finally:
        for engine in engines:
            engine.dispose()
    assert json.dumps(a.fixtures, sort_keys=True) == json.dumps(b.fixtures, sort_keys=True)
    assert a.counts == b.counts == c.counts
    people = {p["certno"] for p in a.fixtures["persons"]}
    assert people.isdisjoint(p["certno"] for p in c.fixtures["persons"])
    assert a.fixtures["agency_tokens"] != c.fixtures["agency_tokens"]


def test_fixtures_hold_what_a_caller_needs(tmp_path: Path) -> None:
    engine = _fresh(tmp_path, "f.db")
    try:
        fx = seed_demo(engine, seed=1, regions=["110100", "460100"], as_of=AS_OF).fixtures
    finally:
        engine.dispose()
    assert fx["synthetic"] is True and fx["seed"] == 1 and fx["as_of"] == "2026-11-20"
    assert fx["server"]["interface"].endswith("/fsi/api/rsfComIfsService/callService")
    assert {"nation", "province", "insured_place", "treatment_place"} <= set(fx["agency_tokens"])
    inst = fx["institutions"][0]
    assert inst["tif"]["paasid"] and inst["tif"]["token"] and inst["csb"]["secret_key"]
    person = fx["persons"][0]
    assert set(person["vouchers"]) == {"e_voucher", "id_card", "social_security_card"}
    assert person["vouchers"]["social_security_card"]["card_sn"]
    scenario = fx["scenario"]
    # a retiree of 北京 filed to a region whose hospital is in the fixtures (or any other)
    assert scenario["person"]["filing"]["filing_type"] == "LT_RETIRED"
    assert scenario["hospital"]["region"][:2] != scenario["person"]["insuplc_admdvs"][:2]


def test_the_whole_nation_on_sqlite(tmp_path: Path) -> None:
    # Speed is measured by benchmarks, not asserted here (a busy CI machine must not fail it).
    engine = _fresh(tmp_path, "nation.db")
    try:
        result = seed_demo(engine, seed=1, as_of=AS_OF)
        regions = [r.code for r in load_regions().pooling_regions()]
        assert len(regions) == 370 and len(result.written) == 370
        check_nation(engine, regions, plan.PERSONS_PER_REGION)
    finally:
        engine.dispose()
    scenario = result.fixtures["scenario"]
    destination = scenario["person"]["filing"]["destination"]
    assert region_covers(destination, scenario["hospital"]["region"])


# --- the command -----------------------------------------------------------------------------


def test_cli_seed(tmp_path: Path) -> None:
    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    out = tmp_path / "fx.json"
    args = ["seed", "--demo", "--db", db, "--regions", "110100,310100", "--as-of", "2026-11-20"]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    fixtures = json.loads(out.read_text(encoding="utf-8"))
    assert fixtures["counts"]["persons"] == 48 and "persons" in result.output

    again = runner.invoke(app, [*args, "--out", str(tmp_path / "fx2.json")])
    assert again.exit_code == 0
    assert (tmp_path / "fx2.json").read_text(encoding="utf-8") == out.read_text(encoding="utf-8")

    other = runner.invoke(app, ["seed", "--demo", "--db", db, "--seed", "9", "--out", str(out)])
    assert other.exit_code == 2
    assert "already holds the demo nation of seed 1" in other.output

    assert runner.invoke(app, ["seed", "--db", db]).exit_code == 2  # --demo is required
    bad = runner.invoke(app, ["seed", "--demo", "--db", db, "--provinces", "xx"])
    assert bad.exit_code == 2 and "--provinces" in bad.output


def test_institution_and_employer_names_are_obviously_synthetic() -> None:
    """Faker's zh_CN company names and ``<city>第一人民医院`` read like real bodies: every
    synthetic institution and employer name says 测试 and ends with （模拟） (issue 12 item 19)."""
    plans = plan_regions(1, _regions(SUBSET), AS_OF, plan.PERSONS_PER_REGION)
    institutions = [i.name for p in plans for i in p.institutions]
    employers = {p.employer for p in _persons(plans) if p.employer}
    assert institutions and employers
    for name in institutions + sorted(employers):
        assert "测试" in name and name.endswith("（模拟）"), name
