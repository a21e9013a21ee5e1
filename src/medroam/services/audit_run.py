"""``medroam audit run``: the after-settlement audit (事后) of a month.

1. The batch layer (``batch.audit``) selects, per rule in force, the candidate visits of
   the month's settlements in force — and, for the history rules, the candidate persons —
   with set computations on the database (SQLite, PostgreSQL) or on DuckDB over Parquet.
2. The candidates' bills (settlement, visit, person, settled fee lines, diagnoses) are
   read in chunks, and the domain's own checks (``domain.audit``, stage 事后) decide: the
   same findings, amounts and zh-CN text as the real-time audit.
3. The run and its findings replace the month's previous ones in one transaction.

A month is China time: settlements whose ``setl_time`` (UTC) falls in it. History rules
look back ``LOOKBACK_DAYS`` before the month (readmissions, visits in a window) but
report only on the month's settlements.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import ibis  # type: ignore[import-untyped]
import ibis.expr.types as ir  # type: ignore[import-untyped]
import pyarrow as pa  # type: ignore[import-untyped]
from sqlalchemy import Engine, delete, insert, select

from medroam.batch import audit as batch
from medroam.batch.engine import fetch
from medroam.batch.lines import day_date, epoch_day
from medroam.domain.audit.engine import RuleBook, audit_bill
from medroam.domain.audit.mechanisms import MECHANISMS, CaseMix, Kind
from medroam.domain.audit.model import (
    AuditLine,
    AuditVisit,
    Bill,
    Finding,
    Rule,
    Scenario,
    Stage,
)
from medroam.domain.audit.scores import peer_label
from medroam.domain.clearing.periods import Cycle, parse_period
from medroam.refdata.audit_rules import load_rule_book
from medroam.services.uow import unit_of_work
from medroam.store.audit_tables import AuditFindingRow, AuditRunRow

LOOKBACK_DAYS = 90  # history rules see this far back (the longest window is 30–31 days)
CHUNK = 500  # candidate visits read per query
Progress = Callable[[str, int, int], None]


class AuditRunError(ValueError):
    """A run that cannot be made as asked (bad period …); the message says why."""


def _no_progress(what: str, done: int, total: int) -> None:
    return None


@dataclass(frozen=True, slots=True)
class RunSummary:
    run_id: str
    period: str
    rules: int
    settlements: int
    candidates: int
    findings: int
    by_rule: dict[str, tuple[str, int, int]] = field(default_factory=dict)  # code → name, n, fen


def month_bounds(period: str) -> tuple[date, date]:
    """First and last day of a ``YYYY-MM`` month."""
    try:
        p = parse_period(Cycle.MONTHLY, period)
    except ValueError as exc:
        raise AuditRunError(f"--period: {exc}") from None
    if p.cycle is not Cycle.MONTHLY:
        raise AuditRunError(f"--period: {period!r} is not a month (YYYY-MM)")
    return p.start, p.end


def rules_of(book: RuleBook, start: date, end: date) -> list[Rule]:
    """Every rule version of stage 事后 in force on some day of the month."""
    return [
        r
        for r in book.rules
        if Stage.AFTER in r.meta.stages
        and r.effective_from <= end
        and (r.effective_to is None or r.effective_to > start)
    ]


Runner = Callable[[ir.Table], pa.Table]


@dataclass(frozen=True, slots=True)
class Backend:
    """Where the expressions run, and how a table is restricted to a list of ids: chunks
    of ``IN (…)`` on a database; one join with an in-memory table on DuckDB (a month can
    have hundreds of thousands of candidates)."""

    run: Runner
    chunk: int = CHUNK
    in_memory: bool = False

    def parts(self, table: ir.Table, column: str, ids: Sequence[str]) -> Iterator[ir.Table]:
        if not ids:
            return
        if self.in_memory:
            keep = ibis.memtable({column: list(ids)})
            yield table.semi_join(keep, table[column] == keep[column])
            return
        for n in range(0, len(ids), self.chunk):
            yield table.filter(table[column].isin(sorted(ids[n : n + self.chunk])))


def _age(birth: date | None, on: date) -> int:
    if birth is None:
        return 0
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _scenario(kind: str, med_type: str) -> Scenario:
    if kind == "inpatient":
        return Scenario.INPATIENT
    if med_type == batch.PHARMACY_MED_TYPE:
        return Scenario.PHARMACY
    return Scenario.OUTPATIENT


def _birth(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


@dataclass(frozen=True, slots=True)
class _Visit:
    setl_id: str
    day: date  # the settlement's China date: the rules in force that day apply
    visit: AuditVisit


def _visits(be: Backend, t: dict[str, ir.Table], base: ir.Table, ids: Sequence[str],
            key: str) -> dict[str, list[_Visit]]:  # fmt: skip
    """The settlements of ``base`` whose ``key`` (mdtrt_id or psn_no) is in ``ids``, as
    audit visits (person, place, dates, diagnoses), grouped by that key."""
    out: dict[str, list[_Visit]] = defaultdict(list)
    p, d = t["persons"], t["diagnoses"]
    run = be.run
    for rows in be.parts(base, key, ids):
        rows = rows.join(p, rows.psn_no == p.psn_no).select(
            *rows.columns, p.gender, birth=p.birth_date.cast("string")
        )
        diag = d.filter(d.valid & d.mdtrt_id.isin(rows.mdtrt_id))
        diagnoses: dict[str, list[str]] = defaultdict(list)
        for r in run(diag.select("mdtrt_id", "diag_code", "stage")).to_pylist():
            if r["diag_code"] not in diagnoses[r["mdtrt_id"]]:
                diagnoses[r["mdtrt_id"]].append(r["diag_code"])
        for r in run(rows).to_pylist():
            begin, end = day_date(r["begin_day"]), day_date(r["end_day"])
            visit = AuditVisit(
                visit_id=r["mdtrt_id"],
                psn_no=r["psn_no"],
                gender=r["gender"] or "",
                age=_age(_birth(r["birth"]), begin),
                insutype=r["insutype"],
                scenario=_scenario(r["kind"], r["med_type"] or ""),
                institution_code=r["fixmedins_code"],
                institution_level=r["institution_level"] or "9",
                treatment_region=r["treatment_region"],
                insured_region=r["insured_region"],
                begin=begin,
                end=end if r["kind"] == "inpatient" else begin,
                diagnoses=tuple(diagnoses.get(r["mdtrt_id"], ())),
                total=int(r["medfee"]),
            )
            out[r[key]].append(_Visit(r["setl_id"], day_date(r["setl_day"]), visit))
    return out


def _lines(
    be: Backend, t: dict[str, ir.Table], setl_ids: Sequence[str]
) -> dict[str, list[AuditLine]]:
    f = t["fee_lines"]
    out: dict[str, list[AuditLine]] = defaultdict(list)
    for part in be.parts(f, "setl_id", setl_ids):
        rows = part.filter(part.status == "settled").select(
            "setl_id", "feedetl_sn", "med_list_codg", "quantity", "unit_price", "amount",
            charge_day=batch.naive_day(part.fee_ocur_time),
        ).order_by("setl_id", "feedetl_sn")  # fmt: skip
        for r in be.run(rows).to_pylist():
            out[r["setl_id"]].append(
                AuditLine(
                    line_id=r["feedetl_sn"],
                    code=r["med_list_codg"],
                    quantity=int(r["quantity"]),
                    unit_price=int(r["unit_price"]),
                    amount=int(r["amount"]),
                    charge_date=day_date(r["charge_day"]),
                )
            )
    return out


@dataclass
class _Found:
    """A finding on a settlement (``visit`` set) or, from an institution rule, on an
    institution of ``region`` (no settlement, visit or person)."""

    finding: Finding
    setl_id: str
    visit: AuditVisit | None
    mechanism: str  # the rule's mechanism (the family evaluation counts by)
    region: str = ""  # an institution finding's treatment region


def audit_period(
    be: Backend,
    t: dict[str, ir.Table],
    period: str,
    book: RuleBook | None = None,
    progress: Progress = _no_progress,
) -> tuple[list[_Found], int, int, int]:
    """(findings, rules, settlements in force, candidates checked) of a month."""
    run = be.run
    start, end = month_bounds(period)
    book = book or load_rule_book()
    rules = rules_of(book, start, end)
    mechanism_of = {r.meta.code: r.mechanism for r in book.rules}
    chosen = {id(r) for r in rules}
    first, last = epoch_day(start), epoch_day(end)
    base = batch.in_force(t, first, last)
    count = int(run(base.aggregate(n=base.count())).to_pylist()[0]["n"])
    progress("candidates", 0, len(rules))
    bill_ids: set[str] = set()
    everything = False
    people: set[str] = set()
    wide = batch.in_force(t, first - LOOKBACK_DAYS, last)
    for n, rule in enumerate(rules, start=1):
        kind = MECHANISMS[rule.mechanism].kind
        if kind is Kind.BILL:
            expr = batch.candidates(rule, t, base)
            if expr is None:
                everything = True
            else:
                bill_ids.update(run(expr).column("mdtrt_id").to_pylist())
        elif kind is Kind.HISTORY:
            h = batch.history_candidates(rule, t, wide)
            if h is not None:
                found = run(h).column("psn_no").to_pylist()
                people.update(found)
        progress("candidates", n, len(rules))
    if everything:
        bill_ids = set(run(base.select("mdtrt_id").distinct()).column("mdtrt_id").to_pylist())

    out: list[_Found] = []
    visits = _visits(be, t, base, sorted(bill_ids), "mdtrt_id")
    settled = [v for vs in visits.values() for v in vs]
    lines = _lines(be, t, [v.setl_id for v in settled])
    progress("bills", 0, len(settled))
    for n, v in enumerate(settled, start=1):
        bill = Bill(v.visit, tuple(lines.get(v.setl_id, ())))
        for f in audit_bill(book, bill, Stage.AFTER, v.day):
            out.append(_Found(f, v.setl_id, v.visit, mechanism_of[f.rule.code]))
        if n % 1000 == 0:
            progress("bills", n, len(settled))
    progress("bills", len(settled), len(settled))

    in_period = {v.setl_id for v in settled}
    history = _visits(be, t, wide, sorted(people), "psn_no")
    period_setl = {
        r["setl_id"]
        for part in be.parts(base, "psn_no", sorted(people))
        for r in run(part.select("setl_id")).to_pylist()
    }
    for mine in history.values():
        mine.sort(key=lambda v: (v.visit.begin, v.setl_id))
        region = mine[-1].visit.treatment_region
        by_visit = {v.visit.visit_id: v for v in mine if v.setl_id in period_setl}
        for rule in book.in_force(region, end, Stage.AFTER, Kind.HISTORY):
            if id(rule) not in chosen:  # a version of the month (stage 事后)
                continue
            for f in MECHANISMS[rule.mechanism].check(
                rule.meta, rule.params, [v.visit for v in mine]
            ):
                hit = by_visit.get(f.visit_id)
                if hit is not None:
                    out.append(_Found(f, hit.setl_id, hit.visit, rule.mechanism))
    out.extend(_institution_findings(run, t, base, book, chosen, end))
    return out, len(rules), count, len(in_period)


def _institution_findings(
    run: Runner,
    t: dict[str, ir.Table],
    base: ir.Table,
    book: RuleBook,
    chosen: set[int],
    end: date,
) -> list[_Found]:
    """The institution rules (``drg_upcoding``) over the month's case mix: each
    institution's settlement lists grouped into a DRG, its movable lists observed and
    expected under the nation's rates of their ADRGs (every institution of the month),
    its peers — for the raw share the finding tells — the institutions of the same level,
    kind and province under the same rule (the version in force at the month's end where
    the institution is)."""
    wanted = [r for r in book.rules if id(r) in chosen]
    if not any(MECHANISMS[r.mechanism].kind is Kind.INSTITUTION for r in wanted):
        return []
    if not all(name in t for name in ("institutions", "settlement_lists")):
        return []  # Parquet files without them
    by_rule: dict[int, tuple[Rule, list[CaseMix]]] = {}
    region_of: dict[str, str] = {}
    for r in run(batch.case_mix(t, base)).to_pylist():
        code, region = r["fixmedins_code"], r["region"]
        region_of[code] = region
        mix = CaseMix(
            institution_code=code,
            peer_group=peer_label(r["level"], r["kind"], region[:2]),
            cases=int(r["cases"]),
            cc_mcc_cases=int(r["cc_mcc"]),
            movable=int(r["movable"]),
            observed=int(r["observed"]),
            expected=float(r["expected"]),
            variance=float(r["variance"]),
        )
        for rule in book.in_force(region, end, Stage.AFTER, Kind.INSTITUTION):
            if id(rule) in chosen:
                by_rule.setdefault(id(rule), (rule, []))[1].append(mix)
    out: list[_Found] = []
    for rule, mixes in by_rule.values():
        for f in MECHANISMS[rule.mechanism].check(rule.meta, rule.params, mixes):
            out.append(_Found(f, "", None, rule.mechanism, region_of[f.institution_code]))
    return out


def run_audit(
    engine: Engine,
    period: str,
    *,
    now: datetime | None = None,
    book: RuleBook | None = None,
    progress: Progress = _no_progress,
) -> RunSummary:
    """Audit a month on the operational database and store its findings (module doc)."""
    started = now or datetime.now(UTC)
    t = batch.tables()
    with unit_of_work(engine) as session:
        connection = session.connection()

        def run(expr: ir.Table) -> pa.Table:
            return fetch(expr, connection)

        found, rules, settlements, candidates = audit_period(
            Backend(run), t, period, book, progress
        )
        return store(session, period, found, rules, settlements, candidates, started)


def run_audit_parquet(
    directory: Path, period: str, *, book: RuleBook | None = None, progress: Progress = _no_progress
) -> tuple[list[_Found], int, int, int]:
    """The same audit on DuckDB over Parquet files named as the tables (``settlements
    .parquet`` …), without storing: for exported or very large months."""
    con = ibis.duckdb.connect(threads=2)
    # institutions and settlement lists are optional: without them no institution rule
    t = {name: con.read_parquet(str(directory / f"{name}.parquet"), table_name=name)
         for name in AUDIT_TABLES
         if name not in OPTIONAL_TABLES or (directory / f"{name}.parquet").exists()}  # fmt: skip

    def run(expr: ir.Table) -> pa.Table:
        return fetch(expr)

    return audit_period(Backend(run, in_memory=True), t, period, book, progress)


AUDIT_TABLES = batch.SCHEMAS
OPTIONAL_TABLES = ("institutions", "settlement_lists")  # for the institution rules only


def export_tables(engine: Engine, directory: Path, batch_rows: int = 100_000) -> dict[str, int]:
    """The columns the audit reads, one Parquet file per table (``settlements.parquet``
    …), for ``run_audit_parquet`` on DuckDB; rows written per table. Read through typed
    SQLAlchemy columns, so times are times on every database."""
    import pyarrow.parquet as pq  # type: ignore[import-untyped]
    from sqlalchemy import MetaData, Table

    directory.mkdir(parents=True, exist_ok=True)
    meta = MetaData()
    written: dict[str, int] = {}
    with unit_of_work(engine) as session:
        connection = session.connection()
        for name, schema in AUDIT_TABLES.items():
            table = Table(name, meta, autoload_with=connection)
            arrow = schema.to_pyarrow()
            stmt = select(*[table.c[c] for c in schema.names])
            rows = 0
            with pq.ParquetWriter(directory / f"{name}.parquet", arrow) as writer:
                result = connection.execution_options(yield_per=batch_rows).execute(stmt)
                for part in result.partitions():
                    batch_rows_ = [dict(zip(schema.names, r, strict=True)) for r in part]
                    writer.write_table(pa.Table.from_pylist(batch_rows_, schema=arrow))
                    rows += len(batch_rows_)
            written[name] = rows
    return written


def finding_rows(found: Iterable[_Found], period: str, run_id: str) -> list[dict[str, Any]]:
    rows = []
    seen: set[tuple[str, str, str, str]] = set()
    for x in found:
        f = x.finding
        key = (f.rule.code, x.setl_id, ",".join(f.line_ids), f.content)
        if key in seen:
            continue
        seen.add(key)
        rows.append(
            {
                "run_id": run_id,
                "period": period,
                "rule_code": f.rule.code,
                "rule_name": f.rule.name,
                "mechanism": x.mechanism,
                "result_type": f.rule.result_type.value,
                "severity": f.rule.severity.value,
                "setl_id": x.setl_id,
                "mdtrt_id": x.visit.visit_id if x.visit else "",
                "psn_no": f.psn_no,
                "fixmedins_code": x.visit.institution_code if x.visit else f.institution_code,
                "treatment_region": x.visit.treatment_region if x.visit else x.region,
                "insured_region": x.visit.insured_region if x.visit else "",
                "amount": int(f.amount),
                "content": f.content,
                "line_ids": ",".join(f.line_ids),
                "evidence": dict(f.evidence),
            }
        )
    return rows


def store(
    session: Any,
    period: str,
    found: Sequence[_Found],
    rules: int,
    settlements: int,
    candidates: int,
    started: datetime,
) -> RunSummary:
    """Replace the month's run and findings (inside the caller's transaction)."""
    run_id = f"AUD-{period}-{secrets.token_hex(4)}"
    old = select(AuditRunRow.run_id).where(AuditRunRow.period == period).scalar_subquery()
    session.execute(delete(AuditFindingRow).where(AuditFindingRow.run_id == old))
    session.execute(delete(AuditRunRow).where(AuditRunRow.period == period))
    rows = finding_rows(found, period, run_id)
    session.execute(
        insert(AuditRunRow).values(
            run_id=run_id, period=period, started_at=started, finished_at=datetime.now(UTC),
            rules=rules, settlements=settlements, candidates=candidates, findings=len(rows),
        )
    )  # fmt: skip
    if rows:
        session.execute(insert(AuditFindingRow), rows)
    by_rule: dict[str, tuple[str, int, int]] = {}
    for r in rows:
        name, n, fen = by_rule.get(r["rule_code"], (r["rule_name"], 0, 0))
        by_rule[r["rule_code"]] = (name, n + 1, fen + r["amount"])
    return RunSummary(run_id, period, rules, settlements, candidates, len(rows), by_rule)


def findings_for_period(engine: Engine, period: str) -> list[dict[str, Any]]:
    """The stored findings of a month (for evaluation, the console and exports)."""
    with unit_of_work(engine) as session:
        rows = session.execute(
            select(AuditFindingRow)
            .where(AuditFindingRow.period == period)
            .order_by(AuditFindingRow.rule_code, AuditFindingRow.setl_id)
        ).scalars()
        return [
            {c.name: getattr(r, c.name) for c in AuditFindingRow.__table__.columns} for r in rows
        ]


def found_pairs(findings: Iterable[Mapping[str, Any]]) -> set[tuple[str, str]]:
    """(mechanism, setl_id) of stored findings on a settlement: what evaluation matches
    the planted visits on (an institution rule's findings have no settlement)."""
    return {(str(f["mechanism"]), str(f["setl_id"])) for f in findings if f["setl_id"]}
