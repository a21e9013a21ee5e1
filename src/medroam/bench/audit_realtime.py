"""Benchmark: CPU per 30-line bill of the real-time audit (事中), in-process, one core.

What 2207/2304 add per settlement when ``audit_realtime`` is on: building the domain
bill from the rows the settlement path already holds (``audit_check.bill_of_visit``)
and running the shipped rule book's bill rules in force (``audit_check.audit``). Two
SYNTHETIC bills of 30 lines at 深圳 (440305), both hitting rules so the mechanisms do
their full work: an outpatient visit and a 5-day stay. Goal (issue 11 item 7): ≤ 1 ms.

    python -m medroam.bench.audit_realtime [--n 20000]
    python bench/bench_audit_realtime.py [--n 20000]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date, datetime, timedelta
from typing import Any

from medroam.domain.audit.model import Stage
from medroam.services import audit_check
from medroam.store.tables import FeeLineRow, VisitRow

REGION = "440305"
DAY = date(2026, 3, 10)
# (code, unit price yuan, quantity): catalogue drugs and services, several in rules.
OUTPATIENT_ITEMS = [
    ("001101000010001", "10.00", "1"),  # 挂号费
    ("XC10AAE041A001010190001", "0.41", "35"),  # 阿托伐他汀: 限最大开药量 28
    ("XL01FFE201A003010190001", "120.00", "1"),  # 限适应症 + 限医疗机构级别
    ("001102000010000", "30.00", "1"),  # 超限定单价 25.00
    ("250301001", "8.00", "1"),  # 重复收费 pair …
    ("250301002", "8.00", "1"),  # … with this one
]
FILLERS = [
    "XA02BCE091A004010190001",
    "XA02BCE091A011010190001",
    "XA02BCE092A008010190001",
    "XA03FAE096A001010190001",
    "XA04AAE203A003010190001",
    "XA07BCE098A023010190001",
]


def _visit(kind: str, begin: date, end: date | None) -> VisitRow:
    return VisitRow(
        mdtrt_id="MDBENCH0001",
        psn_no="P510100000001",
        insutype="310",
        fixmedins_code="H44030500001",
        med_type="21" if kind == "inpatient" else "11",
        kind=kind,
        begin_time=datetime.combine(begin, datetime.min.time()),
        end_time=datetime.combine(end, datetime.min.time()) if end else None,
        institution_level="2",
        main_diag_code="N80.0",  # a man: 诊断与性别不符 (refuse)
        dise_codg="K29.700",
    )


def _lines(kind: str, begin: date) -> list[FeeLineRow]:
    items = list(OUTPATIENT_ITEMS)
    if kind == "inpatient":
        items += [("001109000010000", "45.00", "2")]  # 床位费 twice a day, above the cap
    k = 0
    while len(items) < 30:
        items.append((FILLERS[k % len(FILLERS)], "3.50", "2"))
        k += 1
    rows = []
    for n, (code, price, cnt) in enumerate(items):
        qty = int(cnt) * 10_000
        micro = int(price.replace(".", "")) * 10_000
        rows.append(
            FeeLineRow(
                feedetl_sn=f"F{n:03d}",
                med_list_codg=code,
                quantity=qty,
                unit_price=micro,
                amount=micro * qty // 100_000_000,
                fee_ocur_time=datetime.combine(begin + timedelta(days=n % 5), datetime.min.time()),
                dise_codg=None,
            )
        )
    return rows


def _measure(kind: str, n: int) -> dict[str, Any]:
    begin = DAY - timedelta(days=4) if kind == "inpatient" else DAY
    visit = _visit(kind, begin, DAY if kind == "inpatient" else None)
    lines = _lines(kind, begin)
    person = audit_check.PersonFacts("P510100000001", "1", 46, "310", "510100")
    book = audit_check.rule_book()

    def once() -> int:
        bill = audit_check.bill_of_visit(
            visit, lines, person, treatment_region=REGION, med_type=visit.med_type, until=DAY
        )
        return len(audit_check.audit(book, bill, Stage.DURING, DAY))

    found = once()  # warm the rule book's selection cache
    rules = len(book.in_force(REGION, DAY, Stage.DURING, audit_check.BILL))
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for _ in range(n):
            once()
        best = min(best, time.process_time() - started)
    return {
        "lines": len(lines),
        "rules_in_force": rules,
        "findings": found,
        "cpu_ms_per_bill": round(best * 1000 / n, 4),
    }


def run(n: int = 20_000) -> dict[str, Any]:
    return {
        "benchmark": "audit-realtime",
        "n": n,
        "goal_ms": 1.0,
        "outpatient": _measure("outpatient", n),
        "inpatient": _measure("inpatient", n),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000, help="bills per timing (best of 3)")
    args = ap.parse_args()
    print(json.dumps(run(args.n), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
