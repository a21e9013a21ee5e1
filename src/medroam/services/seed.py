"""Seed a demo nation into a database (``medroam seed --demo``).

One call loads the packaged reference data (regions, catalogue, policies) when the
database does not hold it yet (a data set already there is left alone, uploaded policy
versions included), then writes the
plan of :mod:`medroam.sim.seed` for every chosen pooling region — institutions with their
gateway credentials, insured persons with their insurances, vouchers, accounts,
chronic-disease qualifications and filings (with their ``created`` history event) — and
the agency API's tokens, with bulk inserts, in one transaction: the database holds the
whole demo or nothing.

A run is keyed by its seed. ``demo_seed_regions`` records each region written; a second
run with the same seed writes only the regions still missing (none: a no-op), a run with
another seed — or on a database holding data the seed did not write — is refused with
:class:`SeedError`. The fixtures (:func:`fixtures`) are recomputed from the plan, which is
deterministic, so they are identical on every run with the same seed.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from faker import Faker
from sqlalchemy import Engine, Table, func, insert, select
from sqlalchemy.orm import Session

from medroam.domain.codes import INSUTYPE_EMPLOYEE, INSUTYPE_RESIDENT
from medroam.domain.money import format_yuan
from medroam.domain.policy import FilingRules
from medroam.domain.region import Region
from medroam.refdata.chronic import load_chronic_diseases
from medroam.refdata.policies import load_policy_book
from medroam.refdata.regions import RegionTable, load_regions
from medroam.services.officers import demo_code, seed_demo_officers
from medroam.services.uow import unit_of_work
from medroam.sim import seed as plan
from medroam.sim.people import CERT_TYPE_ID_CARD, FAKER_LOCALE, VOUCHER_CARD, VOUCHER_E, VOUCHER_ID
from medroam.store.filings import filing_to_record
from medroam.store.refdata_cache import version
from medroam.store.refdata_loader import CATALOGUE, POLICIES, REGIONS, load_reference_data
from medroam.store.tables import (
    AccountRow,
    AgencyTokenRow,
    ChronicQualificationRow,
    CredentialRow,
    DemoSeedRegionRow,
    FilingEventRow,
    FilingRow,
    InstitutionRow,
    InsuranceRow,
    PersonRow,
    PersonVoucherRow,
)

DEFAULT_SEED = 1
DEFAULT_SERVER = "http://127.0.0.1:8080"
INTERFACE_PATH = "/fsi/api/rsfComIfsService/callService"
AGENCY_PREFIX = "/api/v1"
_CHUNK = 2000
# Persons listed in the fixtures (per region): the filed ones and the notable unfiled ones.
SAMPLE_PROFILES = (
    *plan.FILING_PROFILES.values(),
    "migrant_worker",
    "emergency_unfiled",
    "civil_servant",
    "dialysis",
)

Progress = Callable[[str, int, int], None]  # (what, done, total)


class SeedError(Exception):
    """The demo cannot be seeded into this database; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class SeedResult:
    seed: int
    as_of: date
    written: tuple[str, ...]  # regions written by this run
    skipped: tuple[str, ...]  # regions already seeded with the same seed
    counts: dict[str, int]
    seconds: float
    fixtures: dict[str, Any] = field(repr=False)


# --- choosing regions --------------------------------------------------------------------


def choose_regions(
    table: RegionTable,
    *,
    provinces: Iterable[str] | None = None,
    regions: Iterable[str] | None = None,
) -> list[Region]:
    """The pooling regions to seed: all of them, or those of ``provinces`` (``11`` or
    ``110000``) plus ``regions`` (pooling-region codes). Unknown codes raise SeedError."""
    pooling = table.pooling_regions()
    if provinces is None and regions is None:
        return list(pooling)
    chosen: dict[str, Region] = {}
    for raw in provinces or ():
        code = raw.strip()
        prefix = code[:2]
        if not (
            (len(code) == 2 and code.isdigit()) or (len(code) == 6 and code.endswith("0000"))
        ) or not any(r.code[:2] == prefix for r in pooling):
            raise SeedError(f"--provinces: {raw!r} is not a province (e.g. 11 or 110000)")
        for r in pooling:
            if r.code[:2] == prefix:
                chosen[r.code] = r
    by_code = {r.code: r for r in pooling}
    for raw in regions or ():
        code = raw.strip()
        region = by_code.get(code)
        if region is None:
            raise SeedError(f"--regions: {raw!r} is not a pooling region (e.g. 110100)")
        chosen[code] = region
    return [r for r in pooling if r.code in chosen]


# --- planning ------------------------------------------------------------------------------


def _filing_rules(region: str, as_of: date) -> dict[str, FilingRules]:
    book = load_policy_book()
    rules: dict[str, FilingRules] = {}
    for insutype in (INSUTYPE_EMPLOYEE, INSUTYPE_RESIDENT):
        try:
            rules[insutype] = book.find(region, insutype, as_of).filing
        except LookupError as exc:
            raise SeedError(f"cannot seed region {region}: {exc}") from None
    return rules


def plan_regions(
    seed: int, regions: Sequence[Region], as_of: date, persons: int
) -> list[plan.RegionPlan]:
    table = load_regions()
    all_codes = [r.code for r in table.pooling_regions()]
    diseases = load_chronic_diseases()
    faker = Faker(FAKER_LOCALE)
    return [
        plan.plan_region(
            seed,
            region,
            as_of,
            persons=persons,
            filing_rules=_filing_rules(region.code, as_of),
            all_regions=all_codes,
            diseases=diseases,
            faker=faker,
        )
        for region in regions
    ]


def national_tokens(seed: int, regions: Iterable[Region]) -> list[plan.AgencyToken]:
    table = load_regions()
    provinces = sorted({r.province_code for r in regions})
    tokens = [plan.nation_token(seed)]
    for code in provinces:
        province = table.get(code)
        if province is not None:
            tokens.append(plan.province_token(seed, province))
    return tokens


# --- rows ------------------------------------------------------------------------------------


def _table(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


def _region_rows(region_plan: plan.RegionPlan, now: datetime) -> dict[Table, list[dict[str, Any]]]:
    rows: dict[Table, list[dict[str, Any]]] = {
        _table(m): []
        for m in (
            InstitutionRow,
            CredentialRow,
            PersonRow,
            InsuranceRow,
            PersonVoucherRow,
            AccountRow,
            ChronicQualificationRow,
            FilingRow,
            FilingEventRow,
        )
    }

    def add(model: type[Any], row: dict[str, Any]) -> None:
        rows[_table(model)].append(row)

    for inst in region_plan.institutions:
        add(
            InstitutionRow,
            {
                "fixmedins_code": inst.code,
                "name": inst.name,
                "region": inst.region,
                "level": inst.level,
                "kind": inst.kind,
                "networked": inst.networked,
                "active": True,
            },
        )
        for cred in inst.credentials:
            add(
                CredentialRow,
                {
                    "fixmedins_code": inst.code,
                    "scheme": cred.scheme,
                    "key_id": cred.key_id,
                    "secret": cred.secret,
                    "active": True,
                },
            )
    for p in region_plan.persons:
        who = p.identity
        add(
            PersonRow,
            {
                "psn_no": p.psn_no,
                "cert_type": CERT_TYPE_ID_CARD,
                "certno": who.certno,
                "name": who.name,
                "gender": who.gender,
                "birth_date": who.birth_date,
                "insured_region": p.insured_region,
                "naty": who.naty,
                "phone": who.phone,
                "address": who.address[:200],
            },
        )
        add(
            InsuranceRow,
            {
                "psn_no": p.psn_no,
                "insutype": p.insutype,
                "psn_type": p.psn_type,
                "psn_insu_stas": "1",
                "insured_region": p.insured_region,
                "cvlserv_flag": p.civil_servant,
                "emp_name": p.employer,
                "begin_date": p.insured_since,
                "pause_date": None,
                "assistance": p.assistance,
            },
        )
        for cert_type, cert_no, card_sn in (
            (VOUCHER_E, who.e_voucher, None),
            (VOUCHER_ID, who.certno, None),
            (VOUCHER_CARD, who.card_no, who.card_sn),
        ):
            add(
                PersonVoucherRow,
                {
                    "mdtrt_cert_type": cert_type,
                    "mdtrt_cert_no": cert_no,
                    "card_sn": card_sn,
                    "psn_no": p.psn_no,
                },
            )
        add(
            AccountRow,
            {
                "psn_no": p.psn_no,
                "balance": p.balance,
                "mutual_aid_balance": p.mutual_aid,
                "updated_at": now,
            },
        )
        for q in p.qualifications:
            add(
                ChronicQualificationRow,
                {
                    "trt_dcla_detl_sn": q.sn,
                    "psn_no": p.psn_no,
                    "insutype": p.insutype,
                    "opsp_dise_code": q.disease,
                    "opsp_dise_name": q.disease_name,
                    "begin_date": q.begin,
                    "end_date": None,
                    "status": "active",
                    "reviewed": True,
                    "ide_fixmedins_no": q.institution,
                    "created_at": now,
                },
            )
        f = p.filing
        if f is not None:
            add(
                FilingRow,
                {
                    "filing_id": f.filing_id,
                    "psn_no": f.psn_no,
                    "insured_region": f.insured_region,
                    "filing_type": f.filing_type.value,
                    "destination": f.destination,
                    "valid_from": f.valid_from,
                    "valid_to": f.valid_to,
                    "filed_at": f.filed_at,
                    "channel": f.channel.value,
                    "status": f.status.value,
                    "version": f.version,
                    "commitment_only": f.commitment_only,
                    "reason": f.reason,
                    "updated_at": f.filed_at,
                },
            )
            add(
                FilingEventRow,
                {
                    "filing_id": f.filing_id,
                    "version": f.version,
                    "event": "created",
                    "at": f.filed_at,
                    "channel": f.channel.value,
                    "snapshot": filing_to_record(f),
                },
            )
    return rows


def _token_row(token: plan.AgencyToken, now: datetime) -> dict[str, Any]:
    return {
        "token_hash": token.token_hash,
        "role": token.role,
        "region": token.region,
        "name": token.name,
        "active": True,
        "created_at": now,
    }


def _bulk(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), _CHUNK):
        session.execute(insert(table), list(rows[start : start + _CHUNK]))


# --- the use case ----------------------------------------------------------------------------


def _check_existing(
    session: Session, seed: int, as_of: date | None, persons: int
) -> tuple[set[str], date | None]:
    stored = session.execute(select(DemoSeedRegionRow)).scalars().all()
    if not stored:
        n_persons = session.execute(select(func.count()).select_from(PersonRow)).scalar_one()
        n_inst = session.execute(select(func.count()).select_from(InstitutionRow)).scalar_one()
        if n_persons or n_inst:
            raise SeedError(
                f"the database already holds {n_persons} person(s) and {n_inst} "
                "institution(s) that the demo seed did not write; seed a fresh database "
                "(e.g. --db sqlite:///demo.db)"
            )
        return set(), None
    seeds = Counter(row.seed for row in stored)
    other = next((s for s in seeds if s != seed), None)
    if other is not None:
        raise SeedError(
            f"the database already holds the demo nation of seed {other} "
            f"({seeds[other]} pooling region(s)); run with --seed {other} or seed a "
            "fresh database"
        )
    stored_as_of = stored[0].as_of
    if as_of is not None and as_of != stored_as_of:
        raise SeedError(
            f"the database was seeded with seed {seed} as of {stored_as_of.isoformat()}; "
            f"run with --as-of {stored_as_of.isoformat()} (or without --as-of) or seed a "
            "fresh database"
        )
    stored_persons = stored[0].persons
    if persons != stored_persons:
        raise SeedError(
            f"the database was seeded with {stored_persons} persons per region; run with "
            f"--persons {stored_persons} or seed a fresh database"
        )
    return {row.region for row in stored}, stored_as_of


def today_in_china() -> date:
    return datetime.now(plan.CHINA_TZ).date()


def seed_demo(
    engine: Engine,
    *,
    seed: int = DEFAULT_SEED,
    as_of: date | None = None,
    provinces: Iterable[str] | None = None,
    regions: Iterable[str] | None = None,
    persons_per_region: int = plan.PERSONS_PER_REGION,
    server: str = DEFAULT_SERVER,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> SeedResult:
    """Seed the demo nation (or the chosen provinces/regions) into a migrated database."""
    started = time.perf_counter()
    if persons_per_region < plan.MIN_PERSONS_PER_REGION:
        raise SeedError(
            f"--persons must be at least {plan.MIN_PERSONS_PER_REGION}, got {persons_per_region}"
        )
    at = now or datetime.now(UTC)
    table = load_regions()
    chosen = choose_regions(table, provinces=provinces, regions=regions)
    with unit_of_work(engine) as session:
        done, stored_as_of = _check_existing(session, seed, as_of, persons_per_region)
        day = stored_as_of or as_of or today_in_china()
        missing = [r for r in chosen if r.code not in done]
        if progress:
            progress("reference data", 0, 1)
        # Load only the data sets not there yet: a stored set may carry agency edits (an
        # uploaded policy version) that a re-sync with the package would undo.
        missing_sets = {
            name: version(session, name) is None for name in (REGIONS, CATALOGUE, POLICIES)
        }
        if any(missing_sets.values()):
            load_reference_data(
                session,
                regions=missing_sets[REGIONS],
                catalogue=missing_sets[CATALOGUE],
                policies=missing_sets[POLICIES],
                now=at,
            )
        if progress:
            progress("reference data", 1, 1)

        pending: dict[Table, list[dict[str, Any]]] = {}
        plans = []
        for n, region in enumerate(missing, start=1):
            (region_plan,) = plan_regions(seed, [region], day, persons_per_region)
            plans.append(region_plan)
            for tbl, rows in _region_rows(region_plan, at).items():
                pending.setdefault(tbl, []).extend(rows)
            if sum(len(v) for v in pending.values()) >= 20_000 or n == len(missing):
                _flush(session, pending)
                pending = {}
            if progress:
                progress("regions", n, len(missing))

        tokens = national_tokens(seed, [*missing, *(r for r in chosen if r.code in done)])
        tokens += [t for p in plans for t in p.tokens]
        known = set(session.execute(select(AgencyTokenRow.token_hash)).scalars())
        _bulk(
            session,
            _table(AgencyTokenRow),
            [_token_row(t, at) for t in tokens if t.token_hash not in known],
        )
        _bulk(
            session,
            _table(DemoSeedRegionRow),
            [
                {
                    "region": r.code,
                    "seed": seed,
                    "as_of": day,
                    "persons": persons_per_region,
                    "generator_version": plan.GENERATOR_VERSION,
                    "seeded_at": at,
                }
                for r in missing
            ],
        )
        seeded = set(session.execute(select(DemoSeedRegionRow.region)).scalars())
        officers = seed_demo_officers(session, sorted(seeded), at)  # console demo accounts
        counts = count_rows(session)

    all_seeded = [r for r in table.pooling_regions() if r.code in seeded]
    if progress:
        progress("fixtures", 0, 1)
    fixture = fixtures(seed, day, all_seeded, persons_per_region, server=server, counts=counts)
    fixture["officers"] = officers
    fixture["self_service"] = {
        "url": server.rstrip("/") + "/self/",
        "note": "SYNTHETIC one-time codes of the demo persons (also printed in the server log)",
        "codes": {p["certno"]: demo_code(p["psn_no"]) for p in fixture["persons"]},
    }
    if progress:
        progress("fixtures", 1, 1)
    return SeedResult(
        seed=seed,
        as_of=day,
        written=tuple(r.code for r in missing),
        skipped=tuple(r.code for r in chosen if r.code in done),
        counts=counts,
        seconds=time.perf_counter() - started,
        fixtures=fixture,
    )


def _flush(session: Session, pending: dict[Table, list[dict[str, Any]]]) -> None:
    # parents before children (foreign keys)
    for model in (
        InstitutionRow,
        CredentialRow,
        PersonRow,
        InsuranceRow,
        PersonVoucherRow,
        AccountRow,
        ChronicQualificationRow,
        FilingRow,
        FilingEventRow,
    ):
        rows = pending.get(_table(model))
        if rows:
            _bulk(session, _table(model), rows)


def count_rows(session: Session) -> dict[str, int]:
    """Row counts of what the seed writes (the whole database, not only this run)."""

    def count(model: type[Any], *where: Any) -> int:
        stmt = select(func.count()).select_from(_table(model))
        for clause in where:
            stmt = stmt.where(clause)
        return int(session.execute(stmt).scalar_one())

    counts = {
        "regions_seeded": count(DemoSeedRegionRow),
        "institutions": count(InstitutionRow),
        "credentials_tif": count(CredentialRow, CredentialRow.scheme == "tif"),
        "credentials_csb": count(CredentialRow, CredentialRow.scheme == "csb"),
        "persons": count(PersonRow),
        "insured_310": count(InsuranceRow, InsuranceRow.insutype == INSUTYPE_EMPLOYEE),
        "insured_390": count(InsuranceRow, InsuranceRow.insutype == INSUTYPE_RESIDENT),
        "civil_servants": count(InsuranceRow, InsuranceRow.cvlserv_flag.is_(True)),
        "assistance": count(InsuranceRow, InsuranceRow.assistance.is_not(None)),
        "vouchers": count(PersonVoucherRow),
        "chronic_qualifications": count(ChronicQualificationRow),
        "filings": count(FilingRow),
        "agency_tokens": count(AgencyTokenRow),
    }
    by_type = session.execute(
        select(FilingRow.filing_type, func.count()).group_by(FilingRow.filing_type)
    ).all()
    for filing_type, n in sorted(by_type):
        counts[f"filings_{filing_type}"] = int(n)
    return counts


# --- fixtures ---------------------------------------------------------------------------------


def _institution_fixture(inst: plan.SeedInstitution, names: RegionTable) -> dict[str, Any]:
    region = names.get(inst.region)
    creds = {c.scheme: c for c in inst.credentials}
    tif, csb = creds.get("tif"), creds.get("csb")
    return {
        "fixmedins_code": inst.code,
        "fixmedins_name": inst.name,
        "region": inst.region,
        "region_name": region.name if region else "",
        "level": inst.level,
        "networked": inst.networked,
        "tif": None if tif is None else {"paasid": tif.key_id, "token": tif.secret},
        "csb": None if csb is None else {"access_key": csb.key_id, "secret_key": csb.secret},
    }


def _person_fixture(p: plan.SeedPerson, names: RegionTable) -> dict[str, Any]:
    who = p.identity
    f = p.filing

    def name_of(code: str | None) -> str:
        region = names.get(code) if code else None
        return region.name if region else ""

    return {
        "psn_no": p.psn_no,
        "psn_name": who.name,
        "psn_cert_type": CERT_TYPE_ID_CARD,
        "certno": who.certno,
        "gend": who.gender,
        "brdy": who.birth_date.isoformat(),
        "insuplc_admdvs": p.insured_region,
        "insured_region_name": name_of(p.insured_region),
        "insutype": p.insutype,
        "psn_type": p.psn_type,
        "cvlserv_flag": "1" if p.civil_servant else "0",
        "assistance": p.assistance,
        "balc": format_yuan(p.balance),
        "chronic": [q.disease for q in p.qualifications],
        "profile": p.profile,
        "note": p.note,
        "filing": None
        if f is None
        else {
            "filing_id": f.filing_id,
            "filing_type": f.filing_type.value,
            "destination": f.destination,
            "destination_name": name_of(f.destination),
            "valid_from": f.valid_from.isoformat(),
            "valid_to": None if f.valid_to is None else f.valid_to.isoformat(),
            "channel": f.channel.value,
        },
        "travel": p.travel,
        "vouchers": {
            "e_voucher": {"mdtrt_cert_type": VOUCHER_E, "mdtrt_cert_no": who.e_voucher},
            "id_card": {"mdtrt_cert_type": VOUCHER_ID, "mdtrt_cert_no": who.certno},
            "social_security_card": {
                "mdtrt_cert_type": VOUCHER_CARD,
                "mdtrt_cert_no": who.card_no,
                "card_sn": who.card_sn,
            },
        },
    }


def _token_fixture(token: plan.AgencyToken) -> dict[str, Any]:
    return {"token": token.token, "role": token.role, "region": token.region, "name": token.name}


def _scenario(plans: Sequence[plan.RegionPlan], names: RegionTable) -> dict[str, Any] | None:
    """A cross-province flow that works with these fixtures: a resettled retiree and a
    三级 hospital in the region their filing names (or, on a partial seed, any hospital of
    another province)."""
    hospitals = {i.region: i for p in plans for i in p.institutions if i.level == "3"}
    fallback: dict[str, Any] | None = None
    for region_plan in plans:
        for person in region_plan.persons:
            if person.filing is None or person.profile != "retiree_resettled":
                continue
            hospital = hospitals.get(person.filing.destination)
            if hospital is not None:
                return {
                    "person": _person_fixture(person, names),
                    "hospital": _institution_fixture(hospital, names),
                }
            if fallback is None:
                other = next(
                    (i for c, i in hospitals.items() if c[:2] != person.insured_region[:2]), None
                )
                if other is not None:
                    fallback = {
                        "person": _person_fixture(person, names),
                        "hospital": _institution_fixture(other, names),
                    }
    return fallback


def fixtures(
    seed: int,
    as_of: date,
    regions: Sequence[Region],
    persons_per_region: int,
    *,
    server: str = DEFAULT_SERVER,
    counts: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Everything a caller needs to use the seeded server at once (deterministic)."""
    names = load_regions()
    plans = plan_regions(seed, regions, as_of, persons_per_region)
    tokens = national_tokens(seed, regions)
    by_role: dict[str, list[dict[str, Any]]] = {role: [] for role in plan.ROLES}
    for token in [*tokens, *(t for p in plans for t in p.tokens)]:
        by_role[token.role].append(_token_fixture(token))
    base = server.rstrip("/")
    return {
        "synthetic": True,
        "generator": "medroam seed --demo",
        "generator_version": plan.GENERATOR_VERSION,
        "seed": seed,
        "as_of": as_of.isoformat(),
        "persons_per_region": persons_per_region,
        "server": {
            "url": base,
            "interface": base + INTERFACE_PATH,
            "agency_api": base + AGENCY_PREFIX,
            "openapi": base + AGENCY_PREFIX + "/openapi.json",
            "start": "medroam serve --db <the URL you seeded>",
        },
        "counts": dict(counts or {}),
        "scenario": _scenario(plans, names),
        "agency_tokens": by_role,
        "institutions": [_institution_fixture(i, names) for p in plans for i in p.institutions],
        "persons": [
            _person_fixture(person, names)
            for p in plans
            for person in p.persons
            if person.profile in SAMPLE_PROFILES
        ],
    }
