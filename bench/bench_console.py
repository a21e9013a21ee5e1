"""Benchmark: how long each console and self-service page takes to render on the demo
nation (goal: < 300 ms per page).

Build the demo nation first (``medroam demo --no-serve --db sqlite:///var/demo.db``, or
any database ``medroam demo`` has filled), then::

    .venv/bin/python bench/bench_console.py --db sqlite:///var/demo.db [--repeat 5]

Each page is requested in-process (the gateway app with the console mounted, over
Starlette's test client, so no network time) ``--repeat`` times after one warm-up; the
table shows the median and the slowest time per page. A page over 300 ms is marked.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime

from sqlalchemy import func, select
from starlette.testclient import TestClient

from medroam.gateway.app import create_app
from medroam.services.officers import DEMO_PASSWORD, demo_code, seed_demo_officers
from medroam.services.uow import unit_of_work
from medroam.store.db import make_engine, upgrade
from medroam.store.tables import (
    ClearingRunRow,
    DemoSeedRegionRow,
    PersonRow,
    SettlementRow,
)

GOAL_MS = 300.0


def _csrf(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite:///var/demo.db", help="a medroam demo database")
    parser.add_argument("--repeat", type=int, default=5, help="timed requests per page")
    args = parser.parse_args()
    engine = make_engine(args.db)
    upgrade(engine)  # adds the console tables to a database made before them
    with unit_of_work(engine) as session:
        regions = sorted(session.execute(select(DemoSeedRegionRow.region)).scalars())
        settlements = int(
            session.execute(select(func.count()).select_from(SettlementRow)).scalar_one()
        )
        if not regions or not settlements:
            sys.exit(f"{args.db} has no demo nation: run `medroam demo --no-serve --db {args.db}`")
        seed_demo_officers(session, regions, datetime.now(UTC))
        busy = session.execute(
            select(SettlementRow.psn_no, func.count())
            .where(SettlementRow.insured_region == regions[0])
            .group_by(SettlementRow.psn_no)
            .order_by(func.count().desc())
            .limit(1)
        ).first()
        if busy is None:
            sys.exit(f"no settlements of region {regions[0]} in {args.db}")
        psn_no = busy[0]
        person = session.get(PersonRow, psn_no)
        assert person is not None and person.certno is not None
        certno = person.certno
        setl_id = session.execute(
            select(SettlementRow.setl_id).where(SettlementRow.psn_no == psn_no).limit(1)
        ).scalar_one()
        run_id = session.execute(select(ClearingRunRow.run_id).limit(1)).scalar()
    region = regions[0]
    province = region[:2] + "0000"
    app = create_app(engine)
    month = "start=2026-10-01&end=2026-10-31"
    pages: list[tuple[str, str, str]] = []  # (who, label, path)
    for who in ("nation", f"province-{province}", f"insured_place-{region}"):
        pages += [
            (who, "运行监测（默认期间）", "/"),
            (who, "运行监测（2026-10）", f"/?{month}"),
            (who, "运行监测 CSV（拒付原因）", f"/dashboard/refusal.csv?{month}"),
            (who, "参保人查询", f"/persons?q={certno}"),
            (who, "参保人（备案台）", f"/persons/{psn_no}"),
            (who, "结算查询（身份证号）", f"/settlements?certno={certno}"),
            (who, "结算查询（日期，第 1 页）", f"/settlements?{month}"),
            (who, "结算查询（日期，第 50 页）", f"/settlements?{month}&page=50"),
            (who, "结算导出 CSV（身份证号）", f"/settlements.csv?certno={certno}"),
            (who, "结算详情", f"/settlements/{setl_id}"),
            (who, "清算与预付金", "/clearing"),
            (who, "预付金额度与预警", "/clearing/prepayment?year=2026"),
            (who, "预付金（红色预警）", "/clearing/prepayment?year=2026&warning=red"),
            (who, "预付金导出 CSV", "/clearing/prepayment.csv?year=2026"),
            (who, "医院回款", "/clearing/payments"),
            (who, "医院回款（第 20 页）", "/clearing/payments?page=20"),
            (who, "医院回款导出 CSV", "/clearing/payments.csv"),
            (who, "支付方式管理", f"/payment?{month}"),
            (who, "智能监管", "/supervision"),
            (who, "报表中心", "/reports"),
            (who, "操作日志", "/oplog"),
        ]
    if run_id:
        pages.append(("nation", "全国清算单", f"/clearing/runs/{run_id}/statements/000000"))
        pages.append(
            (
                f"province-{province}",
                "省级清算单",
                f"/clearing/runs/{run_id}/statements/{province}",
            )
        )
        pages.append(
            (
                f"insured_place-{region}",
                "统筹区清算单",
                f"/clearing/runs/{run_id}/statements/{region}",
            )
        )
    pages += [
        ("anonymous", "登录页", "/login"),
        ("self", "个人服务首页", "/self/"),
        ("self", "我的结算", "/self/settlements"),
        ("self", "结算说明", f"/self/settlements/{setl_id}"),
        ("self", "找定点机构", f"/self/institutions?region={region}&service=inpatient"),
        ("self", "现金支付后怎么办", "/self/cash"),
    ]
    clients: dict[str, TestClient] = {}

    def client(who: str) -> TestClient:
        if who not in clients:
            c = TestClient(app, base_url="http://127.0.0.1")
            if who == "anonymous":
                pass
            elif who == "self":
                token = _csrf(c.get("/self/").text)
                sent = c.post("/self/code", data={"csrf_token": token, "certno": certno})
                c.post(
                    "/self/login",
                    data={
                        "csrf_token": _csrf(sent.text),
                        "certno": certno,
                        "code": demo_code(psn_no),
                    },
                    follow_redirects=False,
                )
            else:
                token = _csrf(c.get("/login").text)
                c.post(
                    "/login",
                    data={"csrf_token": token, "username": who, "password": DEMO_PASSWORD},
                    follow_redirects=False,
                )
            clients[who] = c
        return clients[who]

    print(f"demo nation: {len(regions)} regions, {settlements} settlements ({args.db})")
    print(f"{'who':<24} {'page':<28} {'median ms':>10} {'max ms':>8}")
    worst = 0.0
    for who, label, path in pages:
        c = client(who)
        first = c.get(path, follow_redirects=False)
        if first.status_code != 200:
            print(f"{who:<24} {label:<28} HTTP {first.status_code} for {path}")
            continue
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            c.get(path, follow_redirects=False)
            times.append((time.perf_counter() - t0) * 1000)
        median, top = statistics.median(times), max(times)
        worst = max(worst, median)
        flag = "  > 300 ms" if median > GOAL_MS else ""
        print(f"{who:<24} {label:<28} {median:>10.1f} {top:>8.1f}{flag}")
    print(f"slowest median: {worst:.1f} ms (goal < {GOAL_MS:.0f} ms)")


if __name__ == "__main__":
    main()
