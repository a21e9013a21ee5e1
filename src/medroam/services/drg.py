"""DRG use cases: group a file of cases; upload a settlement list (4101) and query its
quality-control result (4104).

Grouping (``medroam drg group``): ``group_csv(source, sink, scheme)`` reads the case CSV
(columns ``INPUT_COLUMNS``), groups every row it can and writes one output row per input
row (``OUTPUT_COLUMNS``). A row with a missing principal diagnosis, an unknown code, a
non-numeric number or the wrong number of fields is written with status ``error`` and its
reason, counted in the summary, and the rest of the file is still grouped. When the input
also has payment columns (``PAYMENT_COLUMNS``, written by ``drg synth``), they are carried
to the output after ``los`` and ``leaving_type`` (``CARRIED_COLUMNS``), so that the
groups file can be priced (``medroam drg price``); without them the output is unchanged.

Settlement list: see ``upload_settlement_list`` and ``SettlementListStore`` below; the
gateway handlers 4101/4104 (``gateway/handlers/drg.py``) reach them through
``services.settlement_lists`` with the database store ``store.settlement_lists``.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import Protocol, TextIO

from medroam.domain.drg.grouper import (
    GroupCase,
    GroupResult,
    GroupStatus,
    group,
    normalize_diagnosis,
    normalize_procedure,
    short_trace,
)
from medroam.domain.drg.scheme import GrouperOptions, Scheme
from medroam.domain.drg.settlement_list import QcFinding, SettlementList, quality_control
from medroam.domain.drg.synthetic import HistoricalCase, historical_year
from medroam.domain.money import format_yuan

INPUT_COLUMNS = (
    "id",
    "gender",
    "age",
    "age_days",
    "weight",
    "dept",
    "los",
    "leaving_type",
    "diagnoses",
    "procedures",
)
OUTPUT_COLUMNS = ("id", "status", "mdc", "adrg", "drg", "trace", "error")
# What payment needs beyond the grouping input (money in yuan, dates ISO yyyy-mm-dd).
PAYMENT_COLUMNS = (
    "person_id",
    "hospital_id",
    "hospital_level",
    "insured_region",
    "admitted",
    "discharged",
    "total_cost",
    "patient_share",
    "item_fund",
)
CARRIED_COLUMNS = ("los", "leaving_type", *PAYMENT_COLUMNS)
ERROR_STATUS = "error"


class RowError(ValueError):
    """A row that cannot become a case; the message is the reason."""


def _int(value: str, name: str, *, required: bool) -> int | None:
    v = value.strip()
    if not v:
        if required:
            raise RowError(f"{name}: missing")
        return None
    if not (v.isdigit() or (v[0] in "+-" and v[1:].isdigit())):
        raise RowError(f"{name}: {v!r} is not a whole number")
    return int(v)


def parse_row(row: dict[str, str]) -> GroupCase:
    """One CSV row (the ``INPUT_COLUMNS``) → a normalised case; raises ``RowError``."""
    gender = row.get("gender", "").strip()
    sex = _int(gender, "gender", required=False)
    dx = tuple(normalize_diagnosis(c) for c in row.get("diagnoses", "").split("|") if c.strip())
    if not dx:
        raise RowError("missing principal diagnosis")
    px = tuple(normalize_procedure(c) for c in row.get("procedures", "").split("|") if c.strip())
    return GroupCase(
        case_id=row.get("id", "").strip(),
        sex=sex,
        age_years=_int(row.get("age", ""), "age", required=True),
        age_days=_int(row.get("age_days", ""), "age_days", required=False),
        weight_g=_int(row.get("weight", ""), "weight", required=False),
        diagnoses=dx,
        procedures=px,
        dept=row.get("dept", "").strip(),
        los=_int(row.get("los", ""), "los", required=False),
        leaving_type=row.get("leaving_type", "").strip(),
    )


@dataclass(slots=True)
class GroupSummary:
    """Counts by status and by DRG, and every row that failed with its reason."""

    rows: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_mdc: Counter[str] = field(default_factory=Counter)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (id, reason)


def _output(result: GroupResult) -> dict[str, str]:
    failed = result.status is GroupStatus.CHECK_FAILED
    return {
        "id": result.case_id,
        "status": ERROR_STATUS if failed else result.status.value,
        "mdc": result.mdc,
        "adrg": result.adrg,
        "drg": result.drg,
        "trace": "" if failed else short_trace(result),
        "error": "; ".join(result.problems),
    }


def carried_columns(header: Iterable[str]) -> tuple[str, ...]:
    """The input columns copied to the output: ``CARRIED_COLUMNS`` present in the header,
    but only when it has at least one payment column (else none: the classic output)."""
    names = set(header)
    if not names & set(PAYMENT_COLUMNS):
        return ()
    return tuple(c for c in CARRIED_COLUMNS if c in names)


def _header(reader: Iterator[list[str]]) -> list[str]:
    header = next(reader, None)
    if header is None:
        raise RowError("the file is empty")
    names = [h.strip().lstrip("\ufeff") for h in header]
    missing = [c for c in INPUT_COLUMNS if c not in names]
    if missing:
        raise RowError(f"header lacks column(s) {', '.join(missing)}")
    return names


def group_rows(
    lines: Iterable[str],
    scheme: Scheme,
    options: GrouperOptions | None = None,
    summary: GroupSummary | None = None,
) -> Iterator[dict[str, str]]:
    """Group CSV text lines (header first) and yield one output row per input row
    (``OUTPUT_COLUMNS`` and the ``carried_columns`` of the header)."""
    summ = summary if summary is not None else GroupSummary()
    reader = csv.reader(iter(lines))
    names = _header(reader)
    carried = carried_columns(names)
    for fields in reader:
        if not fields or all(not f.strip() for f in fields):
            continue
        summ.rows += 1
        row_id = fields[0].strip() if fields else ""
        row: dict[str, str] = {}
        if len(fields) != len(names):
            reason = f"malformed line: expected {len(names)} fields, got {len(fields)}"
            out = _error_row(row_id or f"line {reader.line_num}", reason)
        else:
            row = dict(zip(names, fields, strict=True))
            try:
                case = parse_row(row)
            except RowError as exc:
                out = _error_row(row_id, str(exc))
            else:
                result = group(case, scheme, options)
                out = _output(result)
                summ.by_mdc[result.mdc or result.drg or ERROR_STATUS] += 1
        for c in carried:
            out[c] = row.get(c, "").strip()
        summ.by_status[out["status"]] += 1
        if out["status"] == ERROR_STATUS:
            summ.errors.append((out["id"], out["error"]))
        yield out


def _error_row(row_id: str, reason: str) -> dict[str, str]:
    return {
        "id": row_id,
        "status": ERROR_STATUS,
        "mdc": "",
        "adrg": "",
        "drg": "",
        "trace": "",
        "error": reason,
    }


def group_csv(
    source: TextIO,
    sink: TextIO,
    scheme: Scheme,
    options: GrouperOptions | None = None,
    on_row: Callable[[], None] | None = None,
) -> GroupSummary:
    """Group a whole CSV stream into ``sink``; ``on_row`` is called after each row."""
    summary = GroupSummary()
    first = source.readline()
    header = _header(csv.reader([first]))
    writer = csv.DictWriter(
        sink, fieldnames=(*OUTPUT_COLUMNS, *carried_columns(header)), lineterminator="\n"
    )
    writer.writeheader()
    for out in group_rows(chain([first], source), scheme, options, summary):
        writer.writerow(out)
        if on_row is not None:
            on_row()
    return summary


# --- settlement list (医保结算清单): upload 4101, QC result 4104 -------------------------


@dataclass(frozen=True, slots=True)
class StoredList:
    """What the store keeps per uploaded list: the list, its QC findings and its group."""

    setl_list_id: str
    settlement_list: SettlementList
    findings: tuple[QcFinding, ...]
    group: GroupResult | None


class SettlementListStore(Protocol):
    """Where uploaded lists live (``store.settlement_lists.SqlSettlementListStore`` is the
    database one)."""

    def next_id(self) -> str: ...

    def put(self, stored: StoredList) -> None: ...

    def get(self, setl_list_id: str) -> StoredList | None: ...

    def find_by_settlement(self, setl_id: str) -> StoredList | None: ...


class InMemorySettlementListStore:
    """A ``SettlementListStore`` in a dict (tests, the CLI, single-process use)."""

    def __init__(self) -> None:
        self._by_id: dict[str, StoredList] = {}
        self._by_setl: dict[str, str] = {}
        self._seq = 0

    def next_id(self) -> str:
        self._seq += 1
        return f"SL{self._seq:012d}"

    def put(self, stored: StoredList) -> None:
        self._by_id[stored.setl_list_id] = stored
        self._by_setl[stored.settlement_list.setl_id] = stored.setl_list_id

    def get(self, setl_list_id: str) -> StoredList | None:
        return self._by_id.get(setl_list_id)

    def find_by_settlement(self, setl_id: str) -> StoredList | None:
        key = self._by_setl.get(setl_id)
        return self._by_id.get(key) if key is not None else None


@dataclass(frozen=True, slots=True)
class UploadOutcome:
    setl_list_id: str  # 4101 output 清单流水号
    findings: tuple[QcFinding, ...]
    group: GroupResult | None


def upload_settlement_list(
    settlement_list: SettlementList,
    store: SettlementListStore,
    scheme: Scheme,
    options: GrouperOptions | None = None,
) -> UploadOutcome:
    """4101: run QC on the list, group it when QC finds no error, store all three.

    A re-upload for the same ``setl_id`` replaces the earlier list under the same
    ``setl_list_id`` (4101 is an upsert per settlement). The 4101 handler maps the
    interface fields to ``SettlementList`` and returns ``setl_list_id``; 4104 calls
    ``query_quality_control``.
    """
    findings = quality_control(settlement_list, scheme)
    result: GroupResult | None = None
    if not any(f.blocking for f in findings):
        result = group(settlement_list.to_group_case(), scheme, options)
    previous = store.find_by_settlement(settlement_list.setl_id)
    list_id = previous.setl_list_id if previous is not None else store.next_id()
    store.put(StoredList(list_id, settlement_list, findings, result))
    return UploadOutcome(list_id, findings, result)


def query_quality_control(
    store: SettlementListStore, *, setl_list_id: str = "", setl_id: str = ""
) -> StoredList | None:
    """4104: the stored QC result (and group) by list id or by settlement id."""
    if setl_list_id:
        return store.get(setl_list_id)
    if setl_id:
        return store.find_by_settlement(setl_id)
    return None


# --- synthetic cases in the CSV format ---------------------------------------------------


def case_to_row(case: GroupCase) -> dict[str, str]:
    """A case as an input CSV row (the inverse of ``parse_row``)."""

    def s(v: int | None) -> str:
        return "" if v is None else str(v)

    return {
        "id": case.case_id,
        "gender": s(case.sex),
        "age": s(case.age_years),
        "age_days": s(case.age_days),
        "weight": s(case.weight_g),
        "dept": case.dept,
        "los": s(case.los),
        "leaving_type": case.leaving_type or "1",
        "diagnoses": "|".join(case.diagnoses),
        "procedures": "|".join(case.procedures),
    }


def historical_to_row(h: HistoricalCase) -> dict[str, str]:
    """A synthetic stay as a CSV row: the grouping columns and ``PAYMENT_COLUMNS``
    (money in yuan: 1_234_567 fen → ``"12345.67"``)."""
    return {
        **case_to_row(h.case),
        "person_id": h.person_id,
        "hospital_id": h.hospital_id,
        "hospital_level": h.hospital_level,
        "insured_region": h.insured_region,
        "admitted": h.admitted.isoformat(),
        "discharged": h.discharged.isoformat(),
        "total_cost": format_yuan(h.total_cost),
        "patient_share": format_yuan(h.patient_share),
        "item_fund": format_yuan(h.item_fund),
    }


def write_synthetic_cases(
    sink: TextIO,
    scheme: Scheme,
    *,
    n: int,
    seed: int,
    year: int = 2025,
    insured_regions: tuple[str, ...] | None = None,
) -> None:
    """Write ``n`` SYNTHETIC stays (``domain.drg.synthetic.historical_year``) as CSV:
    ``INPUT_COLUMNS`` then ``PAYMENT_COLUMNS``. ``insured_regions``: the place of
    treatment first, then the places of insurance of cross-region patients (default:
    620100; 621000, 620500 in the province; 110100 outside)."""
    if insured_regions is None:
        stays = historical_year(scheme, seed=seed, n=n, year=year)
    else:
        stays = historical_year(
            scheme,
            seed=seed,
            n=n,
            year=year,
            treatment_region=insured_regions[0],
            insured_regions=insured_regions,
        )
    writer = csv.DictWriter(
        sink, fieldnames=(*INPUT_COLUMNS, *PAYMENT_COLUMNS), lineterminator="\n"
    )
    writer.writeheader()
    for h in stays:
        writer.writerow(historical_to_row(h))
