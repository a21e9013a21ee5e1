"""``medroam sim``: simulate a period of national cross-region care through the real
gateway, then reconcile and clear it.

One call (:func:`run_simulation`):

1. checks every parameter before any work (:func:`check_config`);
2. seeds the demo nation (``services.seed.seed_demo``: regions, institutions, people,
   filings) unless the database already holds it with the same seed;
3. plans the period (``sim.behaviour`` + ``sim.visits``: who is treated where, and the
   bills, from the place of treatment's catalogue);
4. starts the gateway in-process (``sim.driver.GatewayServer``) on the simulated clock
   and drives it over HTTP as every hospital at once (``sim.driver.Driver``);
5. after the period: every hospital reconciles (3201) and applies for clearing (3203);
   the places of treatment propose the month and the places of insurance confirm it
   (``services.clearing.propose`` / ``confirm``); prepayment quotas are issued
   (``services.prepayment.set_quota``) and each month is cleared
   (``services.clearing.clear``);
6. summarises: the achieved shape against the published figures, volumes by province,
   fund payment ratio, net positions, prepayment warnings, hospital advance days, and —
   for the cycles asked for — the what-if comparison (``sim.whatif``).

The simulated clock is the gateway's and the HIS clients' clock; the services of step 5
are given the same "now" (the first working day after the period).
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import Engine, func, select

from medroam.batch.engine import fetch, operational_lines
from medroam.batch.lines import day_date, epoch_day
from medroam.domain.clearing.params import ClearingParams, PrepayParams, QuotaBasis
from medroam.domain.clearing.periods import ClearingError, Cycle, Period, months_of, parse_cycle
from medroam.domain.money import RATIO_ONE, div_round
from medroam.netutil import port_problem
from medroam.refdata.audit_rules import load_rule_book
from medroam.refdata.drg import load_scheme
from medroam.refdata.regions import load_regions
from medroam.services import clearing, prepayment, sim_truth
from medroam.services.audit_eval import evaluate
from medroam.services.audit_run import run_audit
from medroam.services.audit_scores import compute_scores, institution_ranks
from medroam.services.seed import (
    DEFAULT_SEED,
    SeedError,
    SeedResult,
    choose_regions,
    plan_regions,
    seed_demo,
)
from medroam.services.uow import unit_of_work
from medroam.sim import seed as plan
from medroam.sim.anomalies import FRAUD_MIN_BILLS, Catalogues, Outcome, PersonFacts, plant
from medroam.sim.behaviour import REASONS, Shape, nation_cares
from medroam.sim.driver import (
    Books,
    Driver,
    GatewayServer,
    SimClock,
    Who,
    apply_for_clearing,
    reconcile,
)
from medroam.sim.seed import SeedInstitution, SeedPerson
from medroam.sim.visits import (
    INPATIENT,
    MAX_STAY_DAYS,
    OUTPATIENT,
    BillMaker,
    Hospital,
    Plan,
    hospitals_by_region,
    plan_encounters,
)
from medroam.sim.whatif import DayAmount, compare_cycles
from medroam.store.tables import DemoSeedRegionRow, RunPaymentRow, VisitRow

DEFAULT_START = date(2026, 10, 1)  # October 2026: a whole month, with the National Day week
DEFAULT_DAYS = 31
MAX_DAYS = 366
MAX_CONCURRENCY = 64


@dataclass(frozen=True, slots=True)
class Growth:
    """Year-on-year growth of cross-region settlement by province pair: last year's
    amounts, on which this year's prepayment quotas rest, are this year's ÷ (1 + growth).
    Most pairs grow about as the nation (2024: fund payments +26.7 %, person-times
    +84.7 %, domain-rules §8) — normal(``mean``, ``sd``), not below 0; a ``tail_share`` of
    pairs (new routes, a new agreement) grow anywhere in ``tail``. With quotas of two
    months, usage ≈ (1 + growth) ÷ 2: yellow from +40 %, red from +80 %."""

    mean: float = 0.25
    sd: float = 0.12
    tail_share: float = 0.10
    tail: tuple[float, float] = (0.4, 1.2)

    def __post_init__(self) -> None:
        if self.sd < 0 or not 0 <= self.tail_share <= 1 or not 0 <= self.tail[0] <= self.tail[1]:
            raise ValueError(f"impossible growth model {self}")

    def describe(self) -> str:
        """The model in words, for the report (e.g. ``normal(25 %, sd 12 %) …``)."""
        lo, hi = self.tail
        return (
            f"normal(mean {self.mean:.0%}, sd {self.sd:.0%}) per province pair, not below 0, "
            f"and for {self.tail_share:.0%} of pairs uniform {lo:.0%}–{hi:.0%}"
        )

    def of(self, seed: int, pair: str) -> Fraction:
        """The growth of one pair (deterministic), as an exact fraction (0.1 % steps)."""
        rng = random.Random(f"medroam-sim:growth:{seed}:{pair}")
        if rng.random() < self.tail_share:
            g = rng.uniform(*self.tail)
        else:
            g = max(0.0, rng.gauss(self.mean, self.sd))
        return Fraction(round(g * 1000), 1000)


Progress = Callable[[str, int, int], None]


def no_progress(what: str, done: int, total: int) -> None:
    return None


class SimError(Exception):
    """The simulation cannot run as asked; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class SimConfig:
    seed: int = DEFAULT_SEED
    start: date | None = None  # default: the day the database was seeded for, else Oct 2026
    days: int = DEFAULT_DAYS
    provinces: tuple[str, ...] | None = None
    regions: tuple[str, ...] | None = None
    persons: int = plan.PERSONS_PER_REGION
    volume: float = 1.0
    concurrency: int = 2
    cycles: tuple[Cycle, ...] = (Cycle.MONTHLY,)
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port
    shape: Shape = field(default_factory=Shape)
    growth: Growth = field(default_factory=Growth)
    anomalies: float = 0.0  # share of encounters with a planted violation (0: none)
    fraud_min_bills: int = FRAUD_MIN_BILLS  # bills a fraudulent hospital's scheme changes


def parse_cycles(values: Iterable[str]) -> tuple[Cycle, ...]:
    """``daily,monthly`` / repeated / ``all`` → cycles in their natural order."""
    chosen: set[Cycle] = set()
    for value in values:
        for word in value.split(","):
            word = word.strip().lower()
            if not word:
                continue
            if word == "all":
                chosen.update(Cycle)
                continue
            try:
                chosen.add(parse_cycle(word))
            except ClearingError as exc:
                raise SimError(f"--clearing-cycle: {exc} (or all)") from None
    if not chosen:
        raise SimError("--clearing-cycle: name at least one cycle (daily, monthly, …, or all)")
    return tuple(c for c in Cycle if c in chosen)


def check_config(config: SimConfig, *, check_port: bool = True) -> None:
    """Refuse impossible parameters with a clear message, before any work."""
    if config.days <= 0:
        raise SimError(f"--days must be at least 1, got {config.days}")
    if config.days > MAX_DAYS:
        raise SimError(f"--days must be at most {MAX_DAYS}, got {config.days}")
    if config.persons < plan.MIN_PERSONS_PER_REGION:
        raise SimError(
            f"--persons must be at least {plan.MIN_PERSONS_PER_REGION} per pooling region "
            f"(one of each kind of person), got {config.persons}"
        )
    if not config.volume > 0:
        raise SimError(f"--volume must be positive, got {config.volume}")
    if not 1 <= config.concurrency <= MAX_CONCURRENCY:
        raise SimError(f"--concurrency must be 1..{MAX_CONCURRENCY}, got {config.concurrency}")
    if not config.cycles:
        raise SimError("--clearing-cycle: name at least one cycle")
    if not 0 <= config.anomalies <= MAX_ANOMALY_RATE:
        raise SimError(
            f"--anomalies must be 0..{MAX_ANOMALY_RATE} (a share of the encounters, e.g. "
            f"0.02), got {config.anomalies}"
        )
    if config.fraud_min_bills < 1:
        raise SimError(f"--fraud-min-bills must be at least 1, got {config.fraud_min_bills}")
    if not 0 <= config.port <= 65535:
        raise SimError(f"--port must be 0..65535, got {config.port}")
    try:
        choose_regions(load_regions(), provinces=config.provinces, regions=config.regions)
    except SeedError as exc:
        raise SimError(str(exc)) from None
    if check_port and config.port:
        problem = port_problem(config.host, config.port)
        if problem:
            raise SimError(problem)


# --- helpers ---------------------------------------------------------------------------------


def stored_seed(engine: Engine) -> tuple[int, date, int] | None:
    """(seed, as_of, persons per region) of the demo nation in the database, if any."""
    with unit_of_work(engine) as session:
        row = session.execute(select(DemoSeedRegionRow).limit(1)).scalar_one_or_none()
        return None if row is None else (row.seed, row.as_of, row.persons)


def _visits_between(engine: Engine, start: date, end: date) -> int:
    """Visits and stays begun in ``[start, end]`` (local days): a simulation was there.
    (``begin_time`` is the naive local begntime.)"""
    lo = datetime(start.year, start.month, start.day)
    hi = datetime(end.year, end.month, end.day) + timedelta(days=1)
    with unit_of_work(engine) as session:
        return int(
            session.execute(
                select(func.count())
                .select_from(VisitRow)
                .where(VisitRow.begin_time >= lo, VisitRow.begin_time < hi)
            ).scalar_one()
        )


def _ratio(numerator: int, denominator: int) -> str | None:
    """numerator ÷ denominator as a percentage with 2 decimals (exact rounding)."""
    if denominator == 0:
        return None
    return f"{Decimal(div_round(numerator * RATIO_ONE, denominator)) / 100:.2f}%"


def _times(numerator: int, denominator: int) -> str | None:
    if denominator == 0:
        return None
    return f"{Decimal(div_round(numerator * 100, denominator)) / 100:.2f}"


def _first_workday_after(day: date, params: ClearingParams) -> date:
    return params.calendar.add_working_days(day, 1)


@dataclass(slots=True)
class SimResult:
    """Everything the run produced, JSON-ready (``summary``), and the live handles."""

    summary: dict[str, Any]
    seed_result: SeedResult
    books: Books  # what the simulated hospitals recorded, settlement by settlement
    server: GatewayServer | None = None  # still running when asked to keep it
    clock: SimClock | None = None


# --- the run ---------------------------------------------------------------------------------


def run_simulation(
    engine: Engine,
    config: SimConfig,
    *,
    progress: Progress = no_progress,
    keep_server: bool = False,
    server_url: str | None = None,
) -> SimResult:
    """Seed (if needed), simulate, reconcile, clear and summarise (module docstring).

    With ``keep_server`` the gateway keeps running on real time afterwards
    (``result.server``; the caller stops it)."""
    check_config(config)
    from medroam.store.db import upgrade

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    upgrade(engine)
    stored = stored_seed(engine)
    same_seed = stored is not None and stored[0] == config.seed
    start = config.start or (stored[1] if stored and same_seed else DEFAULT_START)
    end = start + timedelta(days=config.days - 1)
    already = _visits_between(engine, start - timedelta(days=MAX_STAY_DAYS), end)
    if already:
        raise SimError(
            f"the database already holds {already} visit(s) around {start} … {end} (a "
            "previous simulation?): simulate into a fresh database (--db) or another period"
        )
    clock = SimClock()
    server = GatewayServer(engine, clock, host=config.host, port=config.port)
    try:
        seeded = seed_demo(
            engine,
            seed=config.seed,
            as_of=None if same_seed else start,  # a seeded nation keeps its day
            provinces=config.provinces,
            regions=config.regions,
            persons_per_region=config.persons,
            server=server_url or server.url,
            progress=progress,
        )
    except SeedError as exc:
        raise SimError(str(exc)) from None
    timings["seed"] = time.perf_counter() - t0

    # --- plan --------------------------------------------------------------------------
    t0 = time.perf_counter()
    table = load_regions()
    regions = [r for r in table.pooling_regions() if r.code in set(seeded.written + seeded.skipped)]
    if not regions:
        raise SimError("no pooling region is seeded: choose provinces or regions that exist")
    progress("planning", 0, 1)
    plans = plan_regions(config.seed, regions, seeded.as_of, config.persons)
    persons = [p for rp in plans for p in rp.persons]
    institutions = [i for rp in plans for i in rp.institutions]
    seeded_codes = [r.code for r in regions]
    cares = nation_cares(config.seed, persons, table, seeded_codes)
    hospitals = hospitals_by_region(
        Hospital(i.code, i.name, i.region, i.level) for i in institutions
    )
    maker = BillMaker(config.shape)
    sim_plan = plan_encounters(
        config.seed,
        cares,
        hospitals,
        start,
        config.days,
        shape=config.shape,
        volume=config.volume,
        maker=maker,
    )
    anomalies = None
    if config.anomalies:
        anomalies = plant_anomalies(config, sim_plan, persons, institutions, maker)
        sim_plan = anomalies.plan
    progress("planning", 1, 1)
    timings["plan"] = time.perf_counter() - t0

    # --- drive -------------------------------------------------------------------------
    t0 = time.perf_counter()
    server.start()
    driver = Driver(
        server.url,
        clock,
        institutions,
        {p.psn_no: Who.of(p) for p in persons},
        seed=config.seed,
        concurrency=config.concurrency,
    )
    try:
        books = driver.run(sim_plan.encounters, end, progress)
        timings["drive"] = time.perf_counter() - t0

        # --- reconcile and apply for clearing ----------------------------------------
        t0 = time.perf_counter()
        params = ClearingParams()
        months = months_of_window(start, end)
        last_month_end = months[-1].end
        applied_on = _first_workday_after(last_month_end, params)
        clock.set_day(applied_on)
        statements = reconcile(driver, start, end, progress)
        applications = apply_for_clearing(
            driver, [(max(m.start, start), min(m.end, end)) for m in months], progress
        )
        timings["reconcile"] = time.perf_counter() - t0
    finally:
        driver.close()
        if not keep_server:
            server.stop()

    # --- regions reconcile, quotas, clearing --------------------------------------------
    t0 = time.perf_counter()
    now = clock.now()
    proposals = []
    confirmed = 0
    for month in months:
        proposal = clearing.propose(engine, month, now=now)
        proposals.append(proposal.as_dict())
        confirmed += clearing.confirm(engine, now=now, batch_id=proposal.batch_id)
    quotas = issue_quotas(engine, books, start, end, config, now=now, progress=progress)
    runs = []
    for n, month in enumerate(months, start=1):
        progress("clearing", n - 1, len(months))
        runs.append(clearing.clear(engine, Cycle.MONTHLY, month.label, as_of=applied_on, now=now))
    progress("clearing", len(months), len(months))
    timings["clear"] = time.perf_counter() - t0

    # --- what if -----------------------------------------------------------------------
    t0 = time.perf_counter()
    national = {(k[1], k[2]): v for k, v in quotas.items() if k[0] == "national"}
    whatif = compare_cycles(
        day_amounts(engine, start, end), start, config.days, national, config.cycles, params
    )
    timings["whatif"] = time.perf_counter() - t0

    truth: dict[str, Any] | None = None
    if anomalies is not None:
        stored_rows = sim_truth.rows_of(anomalies.planted, books, start)
        sim_truth.store(engine, stored_rows)
        truth = anomaly_summary(config, anomalies, stored_rows)
        # the after-settlement audit of the simulated months, measured against the truth
        t0 = time.perf_counter()
        labels = [f"{m.start:%Y-%m}" for m in months]
        for n, label in enumerate(labels):
            progress("audit", n, len(labels))
            run_audit(engine, label)
        progress("audit", len(labels), len(labels))
        truth["evaluation"] = evaluate(engine, *labels)
        # institution scores of the last month against the planted fraudulent hospitals
        compute_scores(engine, labels[-1])
        ranks = institution_ranks(engine, labels[-1])
        truth["evaluation"]["institutions"] = ranks["institutions"]
        truth["evaluation"]["institution_auc"] = ranks["auc"]
        truth["evaluation"]["institutions_in_top_5_percent"] = ranks["in_top_5_percent"]
        truth["evaluation"]["institutions_scored"] = ranks["scored"]
        timings["audit"] = time.perf_counter() - t0

    if keep_server:
        clock.release()
    summary = summarise(
        engine,
        config,
        seeded,
        sim_plan_info={
            "start": start.isoformat(),
            "end": end.isoformat(),
            "days": config.days,
            "encounters_planned": len(sim_plan.encounters),
            "outpatient_drawn": sim_plan.drawn_outpatient,
            "outpatient_kept_share": round(sim_plan.kept_share, 4),
            "persons_with_cross_region_care": len(cares),
            "persons": len(persons),
            "hospitals": len(institutions),
        },
        books=books,
        statements=statements,
        applications=applications,
        proposals=proposals,
        confirmed=confirmed,
        runs=[r.as_dict() for r in runs],
        quotas=quotas,
        whatif=[w.as_dict() for w in whatif],
        timings=timings,
        hospital_names={i.code: i.name for i in institutions},
    )
    if truth is not None:
        summary["anomalies"] = truth
    return SimResult(summary, seeded, books, server if keep_server else None, clock)


MAX_ANOMALY_RATE = 0.5


def plant_anomalies(
    config: SimConfig,
    sim_plan: Plan,
    persons: Sequence[SeedPerson],
    institutions: Sequence[SeedInstitution],
    maker: BillMaker,
) -> Outcome:
    """Clean the planned month and plant violations in it (``sim.anomalies``)."""
    facts = {
        p.psn_no: PersonFacts(
            p.identity.gender, p.identity.birth_date, p.insutype, p.insured_region
        )
        for p in persons
    }
    return plant(
        sim_plan,
        facts,
        load_rule_book(),
        Catalogues(maker.listed, maker.prices),
        config.anomalies,
        config.seed,
        [Hospital(i.code, i.name, i.region, i.level) for i in institutions],
        load_scheme(),
        config.fraud_min_bills,
    )


def anomaly_summary(
    config: SimConfig, outcome: Outcome, rows: Sequence[Mapping[str, object]]
) -> dict[str, Any]:
    """What was planted, by family, and how much of it the gateway refused outright."""
    visits = [r for r in rows if r["level"] == "visit"]
    by_family: dict[str, dict[str, int]] = {}
    for r in visits:
        entry = by_family.setdefault(str(r["family"]), {"planted": 0, "refused": 0})
        entry["planted"] += 1
        entry["refused"] += 1 if r["refusal"] else 0
    return {
        "rate": config.anomalies,
        "fraud_min_bills": config.fraud_min_bills,
        "visits": len(visits),
        "by_family": dict(sorted(by_family.items())),
        "institutions": [
            {"fixmedins_code": r["fixmedins_code"], "scheme": r["family"]}
            for r in rows
            if r["level"] == "institution"
        ],
        "not_plantable": list(outcome.not_plantable),
        "cleaned_lines": outcome.cleaned_lines,
        "cleaned_encounters": outcome.cleaned_encounters,
    }


def months_of_window(start: date, end: date) -> list[Period]:
    """The calendar months the window touches."""
    return months_of(Period(start, end, Cycle.MONTHLY))


# --- prepayment quotas -----------------------------------------------------------------------


def quota_basis(books: Books) -> dict[tuple[str, str, str], int]:
    """Per (level, payer, payee), the amounts the quotas rest on — everything cleared
    (fund payments and personal accounts, ``QuotaBasis.CLEARED``, the amounts usage is
    measured on): national — inter-province settlements by (insuring, treating)
    province; provincial — what a pooling region owes other provinces."""
    out: dict[tuple[str, str, str], int] = defaultdict(int)
    for s in books.settled:
        if s.cross != "inter_province":
            continue
        payer, payee = s.insured_region[:2] + "0000", s.treatment_region[:2] + "0000"
        out[("national", payer, payee)] += s.fund + s.account
        out[("provincial", s.insured_region, payer)] += s.fund + s.account
    return dict(out)


def issue_quotas(
    engine: Engine,
    books: Books,
    start: date,
    end: date,
    config: SimConfig,
    *,
    now: datetime,
    progress: Progress = no_progress,
) -> dict[tuple[str, str, str], int]:
    """Issue this year's prepayment quotas: ``months`` (2) × last year's monthly average,
    last year being the simulated daily average over a year ÷ (1 + the pair's growth)."""
    prepay = PrepayParams(basis=QuotaBasis.CLEARED)
    days = (end - start).days + 1
    basis = quota_basis(books)
    quotas: dict[tuple[str, str, str], int] = {}
    years = sorted({start.year, end.year})
    items = [(key, amount) for key, amount in sorted(basis.items()) if amount > 0]
    progress("prepayment quotas", 0, len(items) * len(years))  # reaches its total
    done = 0
    for year in years:
        for (level, payer, payee), amount in items:
            growth = config.growth.of(config.seed, f"{level}:{payer}>{payee}")
            yearly = Fraction(amount * 365, days) / (1 + growth)
            quota = div_round(
                (yearly * prepay.months).numerator, (yearly * prepay.months).denominator * 12
            )
            if year == start.year:
                quotas[(level, payer, payee)] = quota
            prepayment.set_quota(
                engine,
                year,
                level,
                payer,
                payee,
                quota,
                now=now,
                reason=f"simulated: {prepay.months} months of last year's average "
                f"(growth {float(growth):.0%})",
                params=prepay,
            )
            done += 1
            progress("prepayment quotas", done, len(items) * len(years))
    return quotas


# --- what-if input ---------------------------------------------------------------------------


def day_amounts(engine: Engine, start: date, end: date) -> list[DayAmount]:
    """The cleared lines of the window by day, hospital and region pair, from the
    operational database (the clearing lines view)."""
    with unit_of_work(engine) as session:
        lines = operational_lines()
        lines = lines.filter(
            (lines.setl_day >= epoch_day(start)) & (lines.setl_day <= epoch_day(end))
        )
        expr = lines.group_by(
            "setl_day", "fixmedins_code", "insured_region", "treatment_region"
        ).agg(amount_fen=lines.amount_fen.sum().cast("int64"))
        rows = fetch(expr, session.connection()).to_pylist()
    return [
        DayAmount(
            day_date(int(r["setl_day"])),
            str(r["fixmedins_code"]),
            str(r["insured_region"]),
            str(r["treatment_region"]),
            int(r["amount_fen"]),
        )
        for r in rows
    ]


# --- the summary -----------------------------------------------------------------------------


def _advance(engine: Engine, run_ids: Sequence[str]) -> dict[str, Any]:
    """Hospital payments of the runs with their advance days (垫支天数)."""
    with unit_of_work(engine) as session:
        rows = (
            session.execute(select(RunPaymentRow).where(RunPaymentRow.run_id.in_(list(run_ids))))
            .scalars()
            .all()
        )
    weighted = sum(int(r.amount_fen) * int(r.advance_days_x100 or 0) for r in rows)
    amount = sum(int(r.amount_fen) for r in rows if r.advance_days_x100 is not None)
    days = sorted(int(r.advance_days_x100) for r in rows if r.advance_days_x100 is not None)

    def text(x100: int | None) -> str | None:
        return None if x100 is None else f"{Decimal(x100) / 100:.2f}"

    payments = [
        {
            "fixmedins_code": r.fixmedins_code,
            "treatment_region": r.treatment_region,
            "amount_fen": int(r.amount_fen),
            "settlements": int(r.settlements),
            "applied_on": r.applied_on.isoformat(),
            "due_on": r.due_on.isoformat(),
            "advance_days": text(r.advance_days_x100),
        }
        for r in rows
    ]
    return {
        "hospitals": len(rows),
        "amount_fen": sum(int(r.amount_fen) for r in rows),
        "advance_days_weighted": text(div_round(weighted, amount)) if amount > 0 else None,
        "advance_days_median": text(days[len(days) // 2]) if days else None,
        "advance_days_max": text(days[-1]) if days else None,
        "payments": sorted(payments, key=lambda p: (-int(p["amount_fen"]), p["fixmedins_code"])),
    }


def summarise(
    engine: Engine,
    config: SimConfig,
    seeded: SeedResult,
    *,
    sim_plan_info: dict[str, Any],
    books: Books,
    statements: Sequence[Any],
    applications: dict[str, int],
    proposals: list[dict[str, Any]],
    confirmed: int,
    runs: list[dict[str, Any]],
    quotas: dict[tuple[str, str, str], int],
    whatif: list[dict[str, Any]],
    timings: dict[str, float],
    hospital_names: dict[str, str],
) -> dict[str, Any]:
    table = load_regions()

    def name(code: str) -> str:
        r = table.get(code)
        return r.name if r else code

    settled = books.settled
    cancelled = {s.reverses for s in settled if s.reverse}
    in_force = [s for s in settled if not s.reverse and s.setl_id not in cancelled]
    net = settled  # originals and reverse records: the money
    by_kind: dict[str, dict[str, int]] = {}
    for kind in (OUTPATIENT, INPATIENT):
        count = sum(1 for s in in_force if s.kind == kind)
        medfee = sum(s.medfee for s in net if s.kind == kind)
        fund = sum(s.fund for s in net if s.kind == kind)
        account = sum(s.account for s in net if s.kind == kind)
        by_kind[kind] = {"count": count, "medfee": medfee, "fund": fund, "account": account}
    o, i = by_kind[OUTPATIENT], by_kind[INPATIENT]
    medfee = o["medfee"] + i["medfee"]
    fund = o["fund"] + i["fund"]
    account = o["account"] + i["account"]
    shape = config.shape
    mean_o = div_round(o["medfee"], o["count"]) if o["count"] else 0
    mean_i = div_round(i["medfee"], i["count"]) if i["count"] else 0
    shape_rows = {
        "outpatient_person_times": o["count"],
        "inpatient_person_times": i["count"],
        "outpatient_per_inpatient": _times(o["count"], i["count"]),
        "outpatient_per_inpatient_target": f"{float(shape.outpatient_per_inpatient):.2f}",
        "outpatient_mean_fen": mean_o,
        "outpatient_mean_target_fen": shape.outpatient_mean_fen,
        "inpatient_mean_fen": mean_i,
        "inpatient_mean_target_fen": shape.inpatient_mean_fen,
        "inpatient_per_outpatient_cost_per_visit": _times(mean_i, mean_o),
        "inpatient_per_outpatient_cost_per_visit_target": _times(
            shape.inpatient_mean_fen, shape.outpatient_mean_fen
        ),
        "inpatient_per_outpatient_total_cost": _times(i["medfee"], o["medfee"]),
        "fund_ratio": _ratio(fund, medfee),
        "fund_ratio_target": f"{Decimal(shape.fund_ratio) / 100:.2f}%",
        "fund_ratio_inpatient": _ratio(i["fund"], i["medfee"]),
        "fund_ratio_outpatient": _ratio(o["fund"], o["medfee"]),
        "fund_and_account_ratio": _ratio(fund + account, medfee),
        "fund_and_account_ratio_outpatient": _ratio(o["fund"] + o["account"], o["medfee"]),
    }
    reasons = []
    for key, reason in REASONS.items():
        mine = [s for s in net if s.reason == key]
        reasons.append(
            {
                "reason": key,
                "label": reason.label,
                "english": reason.english,
                "outpatient": sum(1 for s in in_force if s.reason == key and s.kind == OUTPATIENT),
                "inpatient": sum(1 for s in in_force if s.reason == key and s.kind == INPATIENT),
                "medfee_fen": sum(s.medfee for s in mine),
                "fund_fen": sum(s.fund for s in mine),
                "fund_ratio": _ratio(sum(s.fund for s in mine), sum(s.medfee for s in mine)),
            }
        )
    provinces: dict[str, dict[str, Any]] = {}

    def prov(code: str) -> dict[str, Any]:
        key = code[:2] + "0000"
        return provinces.setdefault(
            key,
            {
                "province": key,
                "name": name(key),
                "treated_outpatient": 0,
                "treated_inpatient": 0,
                "treated_medfee_fen": 0,
                "treated_fund_fen": 0,
                "insured_outpatient": 0,
                "insured_inpatient": 0,
                "insured_fund_fen": 0,
                "net_fen": 0,
                "payable_fen": 0,
                "receivable_fen": 0,
            },
        )

    for s in in_force:
        kind = "outpatient" if s.kind == OUTPATIENT else "inpatient"
        prov(s.treatment_region)[f"treated_{kind}"] += 1
        prov(s.insured_region)[f"insured_{kind}"] += 1
    for s in net:
        prov(s.treatment_region)["treated_medfee_fen"] += s.medfee
        prov(s.treatment_region)["treated_fund_fen"] += s.fund
        prov(s.insured_region)["insured_fund_fen"] += s.fund
    for run in runs:
        for p in run["provinces"]:
            row = prov(p["province"])
            row["net_fen"] += p["net_fen"]
            row["payable_fen"] += p["payable_fen"]
            row["receivable_fen"] += p["receivable_fen"]
    cross = Counter(s.cross for s in in_force)
    latencies = sorted(books.latencies)
    calls = sum(books.calls.values())
    warnings = [w for run in runs for w in run["prepayment_warnings"]]
    advance = _advance(engine, [r["run_id"] for r in runs])
    balanced = sum(1 for s in statements if s.balanced)
    names: dict[str, str] = {}
    for w in warnings:
        names[w["payer"]] = name(w["payer"])
        names[w["payee"]] = name(w["payee"])
    for p in advance["payments"]:
        names[p["fixmedins_code"]] = hospital_names.get(p["fixmedins_code"], p["fixmedins_code"])
        names[p["treatment_region"]] = name(p["treatment_region"])
    return {
        "synthetic": True,
        "seed": config.seed,
        "period": sim_plan_info,
        "nation": {
            "regions": len(seeded.written) + len(seeded.skipped),
            "provinces": len({c[:2] for c in (*seeded.written, *seeded.skipped)}),
            "as_of": seeded.as_of.isoformat(),
            "counts": seeded.counts,
        },
        "shape": shape_rows,
        "settlements": {
            "in_force": len(in_force),
            "records": len(settled),
            "cancelled": len(cancelled),
            "inter_province": cross.get("inter_province", 0),
            "intra_province": cross.get("intra_province", 0),
            "medfee_fen": medfee,
            "fund_fen": fund,
            "account_fen": account,
            "cash_fen": sum(s.cash for s in net),
            "open_stays": books.open_stays,
        },
        "refusals": [
            {"infno": k[0], "reason": k[1], "count": v, "example": books.examples[k]}
            for k, v in books.refusals.most_common()
        ],
        "reasons": reasons,
        "provinces": sorted(provinces.values(), key=lambda r: r["province"]),
        "reconciliation": {
            "statements_3201": len(statements),
            "balanced_3201": balanced,
            "unbalanced_3201": [
                {"fixmedins_code": s.fixmedins_code, "text": s.text}
                for s in statements
                if not s.balanced
            ],
            "applications_3203": applications,
            "proposals": proposals,
            "confirmed_items": confirmed,
        },
        "clearing": runs,
        "prepayment": {
            "quotas": len(quotas),
            "national_quota_fen": sum(v for k, v in quotas.items() if k[0] == "national"),
            "warnings": warnings,
            "growth_model": config.growth.describe(),
        },
        "advance": advance,
        "whatif": whatif,
        "gateway": {
            "calls": calls,
            "by_infno": dict(sorted(books.calls.items())),
            "calls_per_second": round(calls / timings["drive"], 1) if timings["drive"] else None,
            "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1) if latencies else None,
            "p99_ms": round(latencies[max(int(len(latencies) * 0.99) - 1, 0)] * 1000, 1)
            if latencies
            else None,
            "concurrency": config.concurrency,
        },
        "timings": {k: round(v, 2) for k, v in timings.items()},
        "names": dict(sorted(names.items())),
    }
