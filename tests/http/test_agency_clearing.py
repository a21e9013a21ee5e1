"""Clearing through the agency API over real HTTP, on SQLite and PostgreSQL.

Seven outpatient settlements are made through the national interface (2201 → 2204 →
2207) at hospitals of 广州, 上海 and 北京 for persons insured in 北京, 上海, 海口 and 深圳;
then the server's clock moves into the next month and everything else goes through
``/api/v1``: the places of treatment propose the month, the places of insurance confirm
(and dispute one item), the nation sets prepayment quotas at the edges of the warning
thresholds and runs the monthly clearing; statements come as JSON, CSV and HTML. Each
role outside its rights gets 403, each bad input its status with the field named, and a
refused request posts nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from medroam.client import HisClient
from medroam.domain.calendar import DEFAULT_CALENDAR
from medroam.gateway.settings import CHINA_TZ, GatewaySettings, china_now
from medroam.services import clearing as svc
from medroam.services.seed import seed_demo
from medroam.store.db import make_engine, upgrade
from medroam.store.tables import (
    ClearingLegRow,
    ClearingPostingRow,
    ClearingRunRow,
    PrepayQuotaRow,
)
from tests.http.conftest import Clock, _pg_schema, start_server
from tests.http.test_agency_api import REGIONS, Agency
from tests.http.test_agency_api_fuzz import ALLOWED, steer

pytestmark = pytest.mark.db

GUANGZHOU_H = "H44010000001"  # 三级, 广州
GUANGZHOU_H2 = "H44010000004"  # another 三级 of 广州
SHANGHAI_H = "H31010000001"
BEIJING_H = "H11010000001"

# (name, insured region, profile, hospital, count of the 25-yuan registration item)
VISITS = (
    ("a1", "110100", "civil_servant", GUANGZHOU_H, 4),  # 北京 → 广东
    ("a2", "110100", "dialysis", GUANGZHOU_H, 2),  # 北京 → 广东
    ("b", "310100", "posted_worker", GUANGZHOU_H, 3),  # 上海 → 广东
    ("c", "460100", "emergency_unfiled", GUANGZHOU_H2, 2),  # 海南 → 广东
    ("d", "110100", "emergency_unfiled", SHANGHAI_H, 5),  # 北京 → 上海
    ("intra", "440300", "civil_servant", GUANGZHOU_H, 6),  # 深圳 → 广州 (one province)
    ("x", "310100", "civil_servant", BEIJING_H, 1),  # 上海 → 北京: disputed
)


@dataclass
class World:
    agency: Agency
    clock: Clock
    setl: dict[str, str]  # visit name → setl_id
    month: date  # first day of the settled month
    today: date  # the server's date after the clock moved
    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # setl_id → confirmed item
    quotas: dict[tuple[str, str], int] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)
    batches: dict[str, str] = field(default_factory=dict)

    @property
    def period(self) -> str:
        return f"{self.month:%Y-%m}"

    @property
    def run_id(self) -> str:
        return f"CLR-monthly-{self.period}-all"

    def call(
        self, method: str, path: str, role: str | None, region: str | None = None, **kw: Any
    ) -> httpx.Response:
        return self.agency.call(method, path, role, region, **kw)

    def ok(self, method: str, path: str, role: str, region: str | None = None, **kw: Any) -> Any:
        response = self.call(method, path, role, region, **kw)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def count(self, model: Any) -> int:
        with self.agency.engine.connect() as c:
            return int(c.execute(select(func.count()).select_from(model)).scalar_one())


def refused(response: httpx.Response, status: int, *words: str, field: str | None = None) -> None:
    """An error answer: the status, JSON of the documented shape, the words, the field."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status"] == status and body["error"] and body["message"], body
    for word in words:
        assert word in body["message"], body
    if field is not None:
        assert field in body["message"], body
        assert field in {d["field"] for d in body.get("details") or []}, body
    assert "Traceback" not in response.text


# --- the world: settlements through the gateway, then the next month ------------------------


def settle(his: HisClient, person: dict[str, Any], count: int) -> str:
    """One outpatient settlement (2201 → 2204 → 2207); its setl_id."""
    now = china_now().strftime("%Y-%m-%d %H:%M:%S")
    region = person["insuplc_admdvs"]
    reg = his.call(
        "2201",
        {
            "data": {
                "psn_no": person["psn_no"],
                "insutype": person["insutype"],
                "begntime": now,
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": person["certno"],
                "ipt_otp_no": f"MZ{china_now():%H%M%S%f}",
            }
        },
        insuplc_admdvs=region,
    )
    assert reg["infcode"] == 0, reg
    mdtrt_id = reg["output"]["data"]["mdtrt_id"]
    total = f"{25 * count}.00"
    line = {
        "feedetl_sn": "1",
        "mdtrt_id": mdtrt_id,
        "psn_no": person["psn_no"],
        "chrg_bchno": "CB1",
        "fee_ocur_time": now,
        "med_list_codg": "001102000010000",
        "det_item_fee_sumamt": total,
        "cnt": str(count),
        "pric": "25.00",
    }
    assert his.call("2204", {"feedetail": [line]}, insuplc_admdvs=region)["infcode"] == 0
    data = {
        "psn_no": person["psn_no"],
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": person["certno"],
        "med_type": "11",
        "medfee_sumamt": total,
        "psn_setlway": "01",
        "mdtrt_id": mdtrt_id,
        "chrg_bchno": "CB1",
        "insutype": person["insutype"],
        "acct_used_flag": "1",
    }
    done = his.call("2207", {"data": data}, insuplc_admdvs=region)
    assert done["infcode"] == 0, done
    return str(done["output"]["setlinfo"]["setl_id"])


def build_world(url: str) -> Iterator[World]:
    engine = make_engine(url)
    upgrade(engine)
    result = seed_demo(engine, seed=1, regions=REGIONS, as_of=china_now().date())
    clock = Clock()
    server = start_server(engine, GatewaySettings(clock=clock))
    http = httpx.Client(base_url=server.base_url, timeout=60)
    agency = Agency(server.base_url, engine, result.fixtures, http)
    clients: dict[str, HisClient] = {}
    try:
        setl: dict[str, str] = {}
        days: set[date] = set()
        for name, region, profile, code, count in VISITS:
            hospital = next(
                i for i in agency.fixtures["institutions"] if i["fixmedins_code"] == code
            )
            his = clients.setdefault(code, agency.his(hospital))
            setl[name] = settle(his, agency.person(region, profile), count)
            days.add(china_now().date())
        assert len({d.replace(day=1) for d in days}) == 1, "settled across a month boundary"
        month = min(days).replace(day=1)
        # the server moves to the 2nd of the next month, 10:00: the month has closed
        nxt = (month + timedelta(days=32)).replace(day=2)
        clock.offset = datetime(nxt.year, nxt.month, nxt.day, 10, tzinfo=CHINA_TZ) - china_now()
        yield World(agency, clock, setl, month, nxt)
    finally:
        for c in clients.values():
            c.close()
        http.close()
        server.stop()
        engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("agency-clearing") / "clearing.db"
        yield from build_world(f"sqlite:///{path}")
        return
    schema = _pg_schema(request.getfixturevalue("pg_server_url"))
    url = next(schema)
    try:
        yield from build_world(url)
    finally:
        for _ in schema:  # drop the schema
            pass


def amount(item: dict[str, Any]) -> int:
    """What clearing moves for an item: fund payments and the personal account."""
    return int(item["fund_fen"]) + int(item["acct_fen"])


def province(region: str) -> str:
    return region[:2] + "0000"


def pair_totals(w: World) -> dict[tuple[str, str], int]:
    """Cleared fen per (insuring province, treating province), inter-province only."""
    out: dict[tuple[str, str], int] = {}
    for item in w.items.values():
        key = (province(item["insured_region"]), province(item["treatment_region"]))
        if key[0] != key[1]:
            out[key] = out.get(key, 0) + amount(item)
    return out


# Quotas at the edges of the thresholds (usage = cleared ÷ quota; yellow ≥ 70 %, red ≥ 90 %).
EDGES = {
    ("110000", "440000"): ("yellow", lambda a: a * 10 // 7),  # ≥ 70.00 %, the largest quota
    ("310000", "440000"): ("none", lambda a: a * 10 // 7 + 1),  # just under 70 %
    ("460000", "440000"): ("red", lambda a: a * 10 // 9),  # ≥ 90.00 %
    ("110000", "310000"): ("yellow", lambda a: a * 10 // 9 + 1),  # just under 90 %
}


@pytest.fixture(scope="module")
def cleared(world: World) -> World:
    """Propose, confirm, dispute, set quotas and run the month: every step via the API."""
    w = world
    s = w.setl
    body = {"cycle": "monthly", "period": w.period}
    # the places of treatment propose: 广州 its region, 上海's province, the nation the rest
    gz = w.ok("POST", "/reconciliation/proposals", "treatment_place", "440100", json=body)
    assert (gz["treatment_scope"], gz["proposed"], gz["created"]) == ("440100", 5, True)
    sh = w.ok(
        "POST", "/reconciliation/proposals", "province", "310000", json=body
    )  # default scope: its province
    assert (sh["treatment_scope"], sh["proposed"]) == ("310000", 1)
    rest = w.ok("POST", "/reconciliation/proposals", "nation", json=body)
    assert (rest["treatment_scope"], rest["proposed"]) == ("000000", 1)  # x, at 北京
    again = w.call("POST", "/reconciliation/proposals", "treatment_place", "440100", json=body)
    assert again.status_code == 200 and again.json()["proposed"] == 0  # idempotent
    assert again.json()["fund_fen"] == gz["fund_fen"]
    w.batches = {"440100": gz["batch_id"], "310000": sh["batch_id"], "000000": rest["batch_id"]}

    # 上海 disputes x; then the places of insurance confirm their own items
    disputed = w.ok(
        "POST",
        "/reconciliation/disputes",
        "insured_place",
        "310100",
        json={"setl_ids": [s["x"]], "reason": "金额与参保地记录不符"},
    )
    assert disputed["count"] == 1 and disputed["items"][0]["state"] == "disputed"
    # 北京 confirms 广州's batch: only its own two items of it (the batch has five)
    bj = w.ok(
        "POST",
        "/reconciliation/confirmations",
        "insured_place",
        "110100",
        json={"batch_id": gz["batch_id"]},
    )
    assert bj["count"] == 2 and bj["items"] is None
    sh_ok = w.ok(
        "POST",
        "/reconciliation/confirmations",
        "insured_place",
        "310100",
        json={"setl_ids": [s["b"]]},
    )
    assert sh_ok["count"] == 1 and sh_ok["items"][0]["state"] == "confirmed"
    gd = w.ok(
        "POST",
        "/reconciliation/confirmations",
        "province",
        "440000",
        json={"batch_id": gz["batch_id"]},
    )
    assert gd["count"] == 1  # 深圳's item; the others of the batch are not its province's
    hn = w.ok(
        "POST",
        "/reconciliation/confirmations",
        "province",
        "460000",
        json={"insured_region": "460100"},
    )
    assert hn["count"] == 1
    nat = w.ok("POST", "/reconciliation/confirmations", "nation", json={"setl_ids": [s["d"]]})
    assert nat["count"] == 1

    confirmed = w.ok(
        "GET", "/reconciliation/items", "nation", params={"state": "confirmed", "limit": 500}
    )
    w.items = {i["setl_id"]: i for i in confirmed["items"]}
    assert set(w.items) == {s[k] for k in ("a1", "a2", "b", "c", "d", "intra")}
    assert all(amount(i) > 0 for i in w.items.values())

    # quotas for the month's year at the edges of the thresholds (nation)
    totals = pair_totals(w)
    assert set(totals) == set(EDGES)
    for (payer, payee), (_colour, quota_of) in EDGES.items():
        quota = quota_of(totals[(payer, payee)])
        w.quotas[(payer, payee)] = quota
        r = w.call(
            "POST",
            "/prepayment/quotas",
            "nation",
            json={
                "year": w.month.year,
                "level": "national",
                "payer": payer,
                "payee": payee,
                "amount": f"{quota // 100}.{quota % 100:02d}",
            },
        )
        assert r.status_code == 201, r.text
        assert r.json()["quota_fen"] == quota

    r = w.call("POST", "/clearing/runs", "nation", json={**body, "verify": True})
    assert r.status_code == 201, r.text
    w.run = r.json()
    return w


# --- reconciliation ------------------------------------------------------------------------


def test_open_items_are_the_disputed_ones_by_role(cleared: World) -> None:
    w = cleared
    x = w.setl["x"]
    for role, region in (
        ("nation", None),
        ("insured_place", "310100"),  # insured there
        ("treatment_place", "110100"),  # treated there
        ("province", "110000"),
        ("province", "310000"),
    ):
        page = w.ok("GET", "/reconciliation/items", role, region)
        assert [i["setl_id"] for i in page["items"]] == [x], (role, region)
        assert page["items"][0]["reason"] == "金额与参保地记录不符"
        assert page["items"][0]["cleared_run_id"] is None
    for role, region in (
        ("insured_place", "110100"),
        ("treatment_place", "440100"),
        ("province", "440000"),
    ):
        assert w.ok("GET", "/reconciliation/items", role, region)["total"] == 0, (role, region)
    # 广州 sees what it treated, with the run that cleared each
    mine = w.ok(
        "GET", "/reconciliation/items", "treatment_place", "440100", params={"state": "confirmed"}
    )
    assert mine["total"] == 5
    assert {i["cleared_run_id"] for i in mine["items"]} == {w.run_id}
    by_insured = w.ok(
        "GET",
        "/reconciliation/items",
        "province",
        "440000",
        params={"state": "confirmed", "insured_region": "110100"},
    )
    assert {i["setl_id"] for i in by_insured["items"]} == {w.setl["a1"], w.setl["a2"]}


def test_a_cleared_item_cannot_be_disputed_and_a_disputed_one_clears_later(cleared: World) -> None:
    w = cleared
    before = w.count(ClearingPostingRow)
    refused(
        w.call(
            "POST",
            "/reconciliation/disputes",
            "insured_place",
            "110100",
            json={"setl_ids": [w.setl["a1"]], "reason": "too late"},
        ),
        409,
        "already cleared",
        field="setl_ids",
    )
    assert w.count(ClearingPostingRow) == before


# --- the run -------------------------------------------------------------------------------


def test_the_monthly_run_clears_the_confirmed_items_to_the_fen(cleared: World) -> None:
    w = cleared
    run = w.run
    assert run["run_id"] == w.run_id and run["created"] and run["view"] == "national"
    assert run["verified"] is True and run["differences"] == []
    assert run["amount_fen"] == sum(amount(i) for i in w.items.values())
    assert run["amount_yuan"] == f"{run['amount_fen'] // 100}.{run['amount_fen'] % 100:02d}"
    assert sum(run["fund_lines"].values()) == run["amount_fen"]
    # net positions: receives − pays by province, summing to zero
    expected: dict[str, int] = {}
    for (payer, payee), total in pair_totals(w).items():
        expected[payer] = expected.get(payer, 0) - total
        expected[payee] = expected.get(payee, 0) + total
    nets = {p["province"]: p["net_fen"] for p in run["provinces"]}
    assert {k: v for k, v in nets.items() if v} == expected
    assert sum(nets.values()) == 0
    # the provincial tier: 深圳 pays 广州 inside 广东
    regions = {r["region"]: r for r in run["regions"]}
    intra = amount(w.items[w.setl["intra"]])
    assert regions["440300"]["intra_payable_fen"] == intra
    assert regions["440100"]["intra_receivable_fen"] == intra
    assert sum(r["net_fen"] for r in run["regions"]) == 0
    # the hospitals apply on the first working day after the month and are paid in 30
    month_end = (w.month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    applied = DEFAULT_CALENDAR.add_working_days(month_end, 1)
    assert run["hospitals_apply_on"] == applied.isoformat()
    assert run["hospitals_paid_by"] == DEFAULT_CALENDAR.add_working_days(applied, 30).isoformat()


def test_running_again_changes_nothing(cleared: World) -> None:
    w = cleared
    counts = [w.count(m) for m in (ClearingRunRow, ClearingPostingRow, ClearingLegRow)]
    r = w.call("POST", "/clearing/runs", "nation", json={"cycle": "monthly", "period": w.period})
    assert r.status_code == 200, r.text
    again = r.json()
    assert again["created"] is False
    assert again | {"created": True, "verified": True, "differences": []} == w.run
    assert [w.count(m) for m in (ClearingRunRow, ClearingPostingRow, ClearingLegRow)] == counts
    listed = w.ok("GET", "/clearing/runs", "treatment_place", "440100")
    assert [(x["run_id"], x["amount_fen"]) for x in listed["items"]] == [
        (w.run_id, w.run["amount_fen"])
    ]
    assert w.ok("GET", "/clearing/runs", "nation", params={"cycle": "daily"})["total"] == 0


def test_a_province_sees_only_its_own_positions(cleared: World) -> None:
    w = cleared
    whole = w.ok("GET", f"/clearing/runs/{w.run_id}", "nation")
    assert whole["provinces"] == w.run["provinces"] and whole["created"] is False
    gd = w.ok("GET", f"/clearing/runs/{w.run_id}", "province", "440000")
    assert gd["view"] == "province 440000"
    assert [p["province"] for p in gd["provinces"]] == ["440000"]
    assert gd["provinces"][0] == next(p for p in w.run["provinces"] if p["province"] == "440000")
    assert {r["region"] for r in gd["regions"]} == {"440100", "440300"}
    national = {
        (x["payer"], x["payee"]) for x in gd["prepayment_warnings"] if x["level"] == "national"
    }
    assert national == {("110000", "440000"), ("460000", "440000")}  # not 北京 → 上海
    assert all("440000" in (x["payer"][:2] + "0000", x["payee"]) for x in gd["prepayment_warnings"])
    check = w.ok("GET", f"/clearing/runs/{w.run_id}/verification", "province", "440000")
    assert check == {"run_id": w.run_id, "verified": True, "differences": []}


# --- statements ----------------------------------------------------------------------------


def statement(
    w: World, party: str, role: str, region: str | None = None, **kw: Any
) -> httpx.Response:
    return w.call("GET", f"/clearing/runs/{w.run_id}/statements/{party}", role, region, **kw)


def test_the_national_statement_nets_to_zero(cleared: World) -> None:
    w = cleared
    r = statement(w, "000000", "nation")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    doc = r.json()
    assert doc["party_kind"] == "national" and doc["run_id"] == w.run_id
    positions = next(s for s in doc["sections"] if s["name"] == "positions")
    nets = {row["province"].split()[0]: row["net_fen"]["fen"] for row in positions["rows"]}
    assert sum(nets.values()) == 0
    assert nets == {p["province"]: p["net_fen"] for p in w.run["provinces"]}
    transfers = next(s for s in doc["sections"] if s["name"] == "transfers")["rows"]
    paid_out = sum(t["amount_fen"]["fen"] for t in transfers if t["payer"] == "000000")
    assert paid_out == sum(v for v in nets.values() if v > 0)


def test_a_region_statement_as_csv(cleared: World) -> None:
    w = cleared
    r = statement(w, "440100", "treatment_place", "440100", params={"format": "csv"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert f"{w.run_id}-region-440100.csv" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["section", "key", "value"]
    summary = {row[1]: row[2] for row in rows if row and row[0] == "summary"}
    assert summary["run_id"] == w.run_id
    header = next(row for row in rows if row[:2] == ["section", "fixmedins_code"])
    hospitals = {
        row[1]: dict(zip(header[1:], row[1:], strict=True))
        for row in rows
        if row and row[0] == "hospitals"
    }
    assert set(hospitals) == {GUANGZHOU_H, GUANGZHOU_H2}
    own = sum(amount(i) for i in w.items.values() if i["fixmedins_code"] == GUANGZHOU_H)
    assert hospitals[GUANGZHOU_H]["amount_fen"] == f"{own // 100}.{own % 100:02d}"
    assert hospitals[GUANGZHOU_H]["settlements"] == "4"
    # the same from the Accept header, for the region's insured_place and its province
    for role, region in (("insured_place", "440100"), ("province", "440000")):
        again = statement(w, "440100", role, region, headers={"Accept": "text/csv"})
        assert again.status_code == 200 and again.text == r.text, (role, region)


def test_a_hospital_statement_as_html(cleared: World) -> None:
    w = cleared
    own = sum(amount(i) for i in w.items.values() if i["fixmedins_code"] == GUANGZHOU_H)
    yuan = f"{own // 100}.{own % 100:02d}"
    r = statement(
        w,
        GUANGZHOU_H,
        "treatment_place",
        "440100",
        headers={"Accept": "application/xml;q=0.9, text/html, text/csv;q=0.5"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    page = r.text
    assert page.startswith("<!DOCTYPE html>") and "<table>" in page
    assert GUANGZHOU_H in page and yuan in page and w.period in page
    doc = statement(w, GUANGZHOU_H, "province", "440000", params={"format": "json"}).json()
    assert doc["party_kind"] == "hospital" and doc["summary"]["amount_fen"]["fen"] == own
    assert doc["summary"]["due_on"] == w.run["hospitals_paid_by"]
    assert float(doc["summary"]["advance_days"]) > 30
    # ?format wins over Accept
    forced = statement(
        w, GUANGZHOU_H, "nation", params={"format": "json"}, headers={"Accept": "text/html"}
    )
    assert forced.headers["content-type"].startswith("application/json")


def test_hospital_cash_flow_per_cycle(cleared: World) -> None:
    w = cleared
    month_end = (w.month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    params = {"from": w.month.isoformat(), "to": month_end.isoformat()}
    rows = w.ok(
        "GET",
        f"/clearing/hospitals/{GUANGZHOU_H}/cashflow",
        "treatment_place",
        "440100",
        params=params,
    )
    assert [r["cycle"] for r in rows] == ["daily", "monthly", "quarterly", "annual"]
    own = sum(amount(i) for i in w.items.values() if i["fixmedins_code"] == GUANGZHOU_H)
    assert {r["amount_fen"] for r in rows} == {own}
    days = [float(r["advance_days"]) for r in rows]
    assert days == sorted(days) and days[0] < days[-1]  # longer cycles, longer advances
    empty = w.ok(
        "GET",
        f"/clearing/hospitals/{GUANGZHOU_H}/cashflow",
        "nation",
        params={"from": "2001-01-01", "to": "2001-01-31"},
    )
    assert empty == []


# --- prepayment ----------------------------------------------------------------------------


def test_prepayment_warnings_have_the_colour_of_their_usage(cleared: World) -> None:
    w = cleared
    totals = pair_totals(w)
    month_end = (w.month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    shown = {
        (x["payer"], x["payee"]): x
        for x in w.ok("GET", "/prepayment/warnings", "nation", params={"month": w.period})["items"]
        if x["level"] == "national"
    }
    coloured = {pair for pair, (colour, _) in EDGES.items() if colour != "none"}
    assert set(shown) == coloured  # "none" is not a warning
    usage = w.ok(
        "GET",
        "/prepayment/warnings",
        "nation",
        params={"month": w.period, "all": "true", "level": "national"},
    )["items"]
    assert {(x["payer"], x["payee"]): x["warning"] for x in usage} == {
        pair: colour for pair, (colour, _) in EDGES.items()
    }
    for x in usage:
        pair = (x["payer"], x["payee"])
        assert x["cleared_fen"] == totals[pair] and x["quota_fen"] == w.quotas[pair]
        rate = x["cleared_fen"] * 10_000 / x["quota_fen"]
        colour = "red" if rate >= 9000 else "yellow" if rate >= 7000 else "none"
        assert x["warning"] == colour, x
        if colour == "red":
            target = -(-x["cleared_fen"] * 10_000 // 7_000)  # back to 70 %
            assert x["topup_fen"] == target - x["quota_fen"] > 0
            assert x["topup_due"] == DEFAULT_CALENDAR.add_working_days(month_end, 10).isoformat()
        else:
            assert x["topup_fen"] == 0 and x["topup_due"] is None
    # the run's summary carries the same warnings
    in_run = {(x["payer"], x["payee"]): x["warning"] for x in w.run["prepayment_warnings"]}
    assert {p: in_run[p] for p in coloured} == {p: EDGES[p][0] for p in coloured}
    # 广东 sees the warnings of the pairs it receives, not 北京 → 上海
    gd = w.ok("GET", "/prepayment/warnings", "province", "440000", params={"level": "national"})
    assert {(x["payer"], x["payee"]) for x in gd["items"]} == {
        ("110000", "440000"),
        ("460000", "440000"),
    }


def test_the_emergency_top_up_follows_the_red_warning(cleared: World) -> None:
    w = cleared
    pair = ("460000", "440000")
    red = next(
        x
        for x in w.ok("GET", "/prepayment/warnings", "nation", params={"month": w.period})["items"]
        if (x["payer"], x["payee"]) == pair
    )
    body = {"year": w.month.year, "level": "national", "payer": pair[0], "payee": pair[1]}
    refused(w.call("POST", "/prepayment/quotas/topups", "province", "440000", json=body), 403)
    topped = w.ok("POST", "/prepayment/quotas/topups", "nation", json=body)
    assert topped["quota_fen"] == w.quotas[pair] + red["topup_fen"]
    w.quotas[pair] = topped["quota_fen"]
    listed = w.ok("GET", "/prepayment/quotas", "province", "460000", params={"year": w.month.year})
    assert [(q["payer"], q["payee"], q["quota_fen"]) for q in listed["items"]] == [
        (*pair, topped["quota_fen"])
    ]


def test_quota_writes_and_refusals(cleared: World) -> None:
    w = cleared
    year = w.month.year + 1
    before = (w.count(ClearingPostingRow), w.count(PrepayQuotaRow))
    base = {"year": year, "level": "national", "payer": "110000", "payee": "440000"}
    # a negative prepayment is refused and nothing is posted
    refused(
        w.call("POST", "/prepayment/quotas", "nation", json={**base, "amount": "-0.01"}),
        422,
        "negative",
        field="amount",
    )
    refused(
        w.call("POST", "/prepayment/quotas", "nation", json={**base, "amount": 100}), 422, "amount"
    )
    refused(
        w.call(
            "POST", "/prepayment/quotas", "nation", json={**base, "payer": "990000", "amount": "1"}
        ),
        404,
        field="payer",
    )
    refused(
        w.call(
            "POST", "/prepayment/quotas", "nation", json={**base, "payer": "110100", "amount": "1"}
        ),
        422,
        field="payer",
    )
    refused(
        w.call(
            "POST",
            "/prepayment/quotas/adjustments",
            "nation",
            json={**base, "delta": "10.00", "reason": "x"},
        ),
        404,
        "issue it first",
    )
    refused(
        w.call("POST", "/prepayment/quotas/topups", "nation", json={**base, "amount": "0"}),
        422,
        field="amount",
    )
    assert (w.count(ClearingPostingRow), w.count(PrepayQuotaRow)) == before

    issued = w.call("POST", "/prepayment/quotas", "nation", json={**base, "amount": "1000.00"})
    assert issued.status_code == 201 and issued.json()["quota_yuan"] == "1000.00"
    reset = w.call("POST", "/prepayment/quotas", "nation", json={**base, "amount": "1200.50"})
    assert reset.status_code == 200 and reset.json()["quota_fen"] == 120_050
    postings = w.count(ClearingPostingRow)
    refused(
        w.call(
            "POST",
            "/prepayment/quotas/adjustments",
            "nation",
            json={**base, "delta": "-1200.51", "reason": "too much"},
        ),
        409,
        "negative",
        field="delta",
    )
    assert w.count(ClearingPostingRow) == postings
    refund = w.ok(
        "POST",
        "/prepayment/quotas/adjustments",
        "nation",
        json={**base, "delta": "-200.50", "reason": "退还"},
    )
    assert refund["quota_fen"] == 100_000 and w.count(ClearingPostingRow) == postings + 1

    # a province sets its own regions' provincial quotas, and nothing else
    own = {
        "year": year,
        "level": "provincial",
        "payer": "440300",
        "payee": "440000",
        "amount": "50.00",
    }
    made = w.call("POST", "/prepayment/quotas", "province", "440000", json=own)
    assert made.status_code == 201, made.text
    refused(
        w.call("POST", "/prepayment/quotas", "province", "440000", json={**base, "amount": "1"}),
        403,
        "only the nation",
    )
    other = {**own, "payer": "110100", "payee": "110000"}
    refused(
        w.call("POST", "/prepayment/quotas", "province", "440000", json=other),
        403,
        "outside its region",
    )
    refused(
        w.call("POST", "/prepayment/quotas", "nation", json={**own, "payee": "110000"}),
        422,
        field="payee",
    )
    mine = w.ok("GET", "/prepayment/quotas", "province", "440000", params={"year": year})
    assert {(q["level"], q["payer"], q["payee"]) for q in mine["items"]} == {
        ("national", "110000", "440000"),
        ("provincial", "440300", "440000"),
    }
    bj = w.ok("GET", "/prepayment/quotas", "province", "110000", params={"year": year})
    assert {(q["payer"], q["payee"]) for q in bj["items"]} == {("110000", "440000")}


def test_quotas_computed_from_the_previous_year(cleared: World) -> None:
    w = cleared
    year = w.month.year + 1  # the run's year is the prior year
    totals = pair_totals(w)
    dry = w.ok("POST", "/prepayment/quotas/compute", "nation", json={"year": year, "dry_run": True})
    national = {(q["payer"], q["payee"]): q for q in dry if q["level"] == "national"}
    # fund payments only (the default basis): the personal accounts are left out
    funds = {
        pair: sum(
            int(i["fund_fen"])
            for i in w.items.values()
            if (province(i["insured_region"]), province(i["treatment_region"])) == pair
        )
        for pair in totals
    }
    assert {p: q["total_fen"] for p, q in national.items() if q["total_fen"]} == {
        p: v for p, v in funds.items() if v
    }
    for q in national.values():
        assert q["quota_fen"] == (q["total_fen"] * 2 * 2 + 12) // 24  # ÷ 12 × 2, half up
        assert q["applied"] is False
    # 北京's pooling region paid other provinces: 北京 sets that provincial quota itself
    provincial = w.ok(
        "POST", "/prepayment/quotas/compute", "province", "110000", json={"year": year}
    )
    assert [(q["level"], q["payer"], q["payee"], q["applied"]) for q in provincial] == [
        ("provincial", "110100", "110000", True)
    ]
    stored = w.ok(
        "GET",
        "/prepayment/quotas",
        "province",
        "110000",
        params={"year": year, "level": "provincial"},
    )
    assert [q["quota_fen"] for q in stored["items"]] == [provincial[0]["quota_fen"]]
    refused(
        w.call(
            "POST", "/prepayment/quotas/compute", "treatment_place", "440100", json={"year": year}
        ),
        403,
    )


# --- roles and bad input -------------------------------------------------------------------


def test_each_forbidden_role_gets_403(cleared: World) -> None:
    w = cleared
    s = w.setl
    body = {"cycle": "monthly", "period": w.period}
    run = f"/clearing/runs/{w.run_id}"
    quota = {
        "year": w.month.year,
        "level": "national",
        "payer": "110000",
        "payee": "440000",
        "amount": "1.00",
    }
    adjust = {k: v for k, v in quota.items() if k != "amount"} | {"delta": "1.00", "reason": "r"}
    cases: list[tuple[str, str, str, str | None, dict[str, Any]]] = [
        ("POST", "/reconciliation/proposals", "insured_place", "440100", {"json": body}),
        (
            "POST",
            "/reconciliation/proposals",
            "treatment_place",
            "310100",
            {"json": {**body, "treatment_region": "440100"}},
        ),
        (
            "POST",
            "/reconciliation/proposals",
            "province",
            "110000",
            {"json": {**body, "treatment_region": "440100"}},
        ),
        (
            "POST",
            "/reconciliation/proposals",
            "treatment_place",
            "440100",
            {"json": {**body, "treatment_region": "000000"}},
        ),
        (
            "POST",
            "/reconciliation/confirmations",
            "treatment_place",
            "440100",
            {"json": {"setl_ids": [s["b"]]}},
        ),
        (
            "POST",
            "/reconciliation/confirmations",
            "insured_place",
            "310100",
            {"json": {"setl_ids": [s["a1"]]}},
        ),
        (
            "POST",
            "/reconciliation/confirmations",
            "insured_place",
            "110100",
            {"json": {"insured_region": "310100"}},
        ),
        (
            "POST",
            "/reconciliation/confirmations",
            "province",
            "440000",
            {"json": {"insured_region": "000000"}},
        ),
        (
            "POST",
            "/reconciliation/disputes",
            "treatment_place",
            "110100",
            {"json": {"setl_ids": [s["x"]], "reason": "r"}},
        ),
        (
            "POST",
            "/reconciliation/disputes",
            "insured_place",
            "110100",
            {"json": {"setl_ids": [s["x"]], "reason": "r"}},
        ),
        (
            "GET",
            "/reconciliation/items",
            "insured_place",
            "110100",
            {"params": {"insured_region": "310100"}},
        ),
        ("POST", "/clearing/runs", "province", "440000", {"json": body}),
        ("POST", "/clearing/runs", "insured_place", "110100", {"json": body}),
        ("POST", "/clearing/runs", "treatment_place", "440100", {"json": body}),
        ("GET", run, "insured_place", "440100", {}),
        ("GET", run, "treatment_place", "440100", {}),
        ("GET", run + "/verification", "treatment_place", "440100", {}),
        ("GET", run + "/statements/000000", "province", "440000", {}),
        ("GET", run + "/statements/440000", "province", "110000", {}),
        ("GET", run + "/statements/440000", "treatment_place", "440100", {}),
        ("GET", run + "/statements/440100", "insured_place", "110100", {}),
        ("GET", run + "/statements/440100", "province", "310000", {}),
        ("GET", run + f"/statements/{GUANGZHOU_H}", "insured_place", "440100", {}),
        ("GET", run + f"/statements/{GUANGZHOU_H}", "treatment_place", "310100", {}),
        ("GET", run + f"/statements/{GUANGZHOU_H}", "province", "110000", {}),
        (
            "GET",
            f"/clearing/hospitals/{GUANGZHOU_H}/cashflow",
            "insured_place",
            "440100",
            {"params": {"from": "2026-01-01", "to": "2026-01-31"}},
        ),
        (
            "GET",
            f"/clearing/hospitals/{GUANGZHOU_H}/cashflow",
            "treatment_place",
            "310100",
            {"params": {"from": "2026-01-01", "to": "2026-01-31"}},
        ),
        ("GET", "/prepayment/quotas", "insured_place", "110100", {}),
        ("GET", "/prepayment/quotas", "treatment_place", "440100", {}),
        ("GET", "/prepayment/warnings", "treatment_place", "440100", {}),
        ("POST", "/prepayment/quotas", "province", "110000", {"json": quota}),
        ("POST", "/prepayment/quotas", "insured_place", "110100", {"json": quota}),
        ("POST", "/prepayment/quotas/adjustments", "province", "440000", {"json": adjust}),
    ]
    before = [w.count(m) for m in (ClearingRunRow, ClearingPostingRow, PrepayQuotaRow)]
    states = w.ok("GET", "/reconciliation/items", "nation", params={"state": "confirmed"})
    for method, path, role, region, kw in cases:
        r = w.call(method, path, role, region, **kw)
        refused(r, 403)
        assert "may not" in r.json()["message"], (method, path, role, region, r.text)
    assert [w.count(m) for m in (ClearingRunRow, ClearingPostingRow, PrepayQuotaRow)] == before
    assert w.ok("GET", "/reconciliation/items", "nation", params={"state": "confirmed"}) == states
    refused(w.call("GET", "/clearing/runs", None), 401, "bearer token")


def test_each_bad_input_gets_its_status_and_names_the_field(cleared: World) -> None:
    w = cleared
    open_month = f"{w.today:%Y-%m}"
    run = f"/clearing/runs/{w.run_id}"
    cases: list[tuple[str, str, dict[str, Any], int, str | None, str]] = [
        (
            "POST",
            "/clearing/runs",
            {"json": {"cycle": "monthly", "period": open_month}},
            409,
            "period",
            "still open",
        ),
        (
            "POST",
            "/clearing/runs",
            {"json": {"cycle": "daily", "period": w.today.isoformat()}},
            409,
            "period",
            "still open",
        ),
        (
            "POST",
            "/clearing/runs",
            {"json": {"cycle": "monthly", "period": "2026-13"}},
            422,
            "period",
            "not a valid",
        ),
        (
            "POST",
            "/clearing/runs",
            {"json": {"cycle": "monthly", "period": "2026Q4"}},
            422,
            "period",
            "not a monthly",
        ),
        (
            "POST",
            "/clearing/runs",
            {"json": {"cycle": "annual", "period": "1999"}},
            422,
            "period",
            "2000",
        ),
        (
            "POST",
            "/clearing/runs",
            {"json": {"cycle": "weekly", "period": "2026-10"}},
            422,
            "cycle",
            "",
        ),
        (
            "POST",
            "/clearing/runs",
            {"json": {"cycle": "quarterly", "period": "2025Q4", "scope": "all"}},
            422,
            "scope",
            "monthly",
        ),
        ("POST", "/clearing/runs", {"json": {"period": "2026-10", "extra": 1}}, 422, "extra", ""),
        (
            "POST",
            "/reconciliation/proposals",
            {"json": {"period": open_month}},
            409,
            "period",
            "still open",
        ),
        (
            "POST",
            "/reconciliation/proposals",
            {"json": {"period": "2025-01", "treatment_region": "999900"}},
            404,
            "treatment_region",
            "not a known region",
        ),
        ("POST", "/reconciliation/confirmations", {"json": {}}, 400, None, "name the items"),
        (
            "POST",
            "/reconciliation/confirmations",
            {"json": {"setl_ids": ["NOPE"]}},
            404,
            "setl_ids",
            "not proposed",
        ),
        ("POST", "/reconciliation/confirmations", {"json": {"setl_ids": []}}, 422, "setl_ids", ""),
        (
            "POST",
            "/reconciliation/confirmations",
            {"json": {"batch_id": "REC-NOPE"}},
            404,
            "batch_id",
            "no reconciliation batch",
        ),
        (
            "POST",
            "/reconciliation/confirmations",
            {"json": {"insured_region": "999900"}},
            404,
            "insured_region",
            "not a known region",
        ),
        (
            "POST",
            "/reconciliation/disputes",
            {"json": {"setl_ids": [w.setl["x"]], "reason": ""}},
            422,
            "reason",
            "",
        ),
        (
            "POST",
            "/reconciliation/disputes",
            {"json": {"setl_ids": [w.setl["x"]], "reason": "   "}},
            422,
            "reason",
            "needs a reason",
        ),
        ("GET", "/reconciliation/items", {"params": {"state": "lost"}}, 422, "state", ""),
        ("GET", "/clearing/runs/CLR-monthly-2020-01-all", {}, 404, None, "has not run"),
        (
            "GET",
            "/clearing/runs/CLR-monthly-2020-01-all/statements/000000",
            {},
            404,
            None,
            "has not run",
        ),
        ("GET", "/clearing/runs/nonsense", {}, 422, "run_id", ""),
        ("GET", run + "/statements/999900", {}, 404, "party", "not a known region"),
        ("GET", run + "/statements/120100", {}, 404, "party", "no statement"),
        ("GET", run + "/statements/H99999999999", {}, 404, "party", "no institution"),
        ("GET", run + "/statements/000000", {"params": {"format": "pdf"}}, 422, "format", ""),
        (
            "GET",
            f"/clearing/hospitals/{GUANGZHOU_H}/cashflow",
            {"params": {"from": "2026-02-01", "to": "2026-01-01"}},
            400,
            "to",
            "before",
        ),
        (
            "GET",
            f"/clearing/hospitals/{GUANGZHOU_H}/cashflow",
            {"params": {"from": "2026-02-01"}},
            422,
            "to",
            "",
        ),
        (
            "GET",
            "/clearing/hospitals/H99999999999/cashflow",
            {"params": {"from": "2026-01-01", "to": "2026-01-31"}},
            404,
            "fixmedins_code",
            "no institution",
        ),
        ("GET", "/prepayment/warnings", {"params": {"month": "2026-13"}}, 422, "month", ""),
        ("GET", "/prepayment/quotas", {"params": {"year": 1999}}, 422, "year", ""),
    ]
    before = [w.count(m) for m in (ClearingRunRow, ClearingPostingRow, PrepayQuotaRow)]
    for method, path, kw, status, field_name, word in cases:
        r = w.call(method, path, "nation", **kw)
        refused(r, status, word, field=field_name)
    assert [w.count(m) for m in (ClearingRunRow, ClearingPostingRow, PrepayQuotaRow)] == before


def test_the_clearing_operations_are_documented(cleared: World) -> None:
    doc = cleared.agency.http.get("/api/v1/openapi.json").json()
    paths = doc["paths"]
    for path in (
        "/reconciliation/proposals",
        "/reconciliation/confirmations",
        "/reconciliation/disputes",
        "/reconciliation/items",
        "/clearing/runs",
        "/clearing/runs/{run_id}",
        "/clearing/runs/{run_id}/verification",
        "/clearing/runs/{run_id}/statements/{party}",
        "/clearing/hospitals/{fixmedins_code}/cashflow",
        "/prepayment/quotas",
        "/prepayment/quotas/adjustments",
        "/prepayment/quotas/topups",
        "/prepayment/quotas/compute",
        "/prepayment/warnings",
    ):
        assert path in paths, path
        assert all(op.get("summary") for op in paths[path].values()), path
    content = paths["/clearing/runs/{run_id}/statements/{party}"]["get"]["responses"]["200"][
        "content"
    ]
    assert {"application/json", "text/csv", "text/html"} <= set(content)
    assert "Synchronous" in paths["/clearing/runs"]["post"]["description"]
    assert {t["name"] for t in doc["tags"]} >= {
        "reconciliation",
        "clearing",
        "statements",
        "prepayment",
    }


# --- last: fuzzing with the values of this world (it changes the world) ----------------------


def test_fuzzing_the_clearing_operations_never_answers_5xx(cleared: World) -> None:
    """schemathesis cases for the clearing operations, steered towards the run, parties,
    items, batches and pairs that exist, so that they get past the 404s."""
    w = cleared
    raw = w.agency.http.get("/api/v1/openapi.json").json()
    schema = schemathesis.openapi.from_dict(raw)
    base = w.agency.base_url + "/api/v1"
    tokens = [
        w.agency.token("nation"),
        w.agency.token("province", "440000"),
        w.agency.token("insured_place", "110100"),
        w.agency.token("treatment_place", "440100"),
    ]
    regions = ["000000", "110000", "110100", "440000", "440100", "440300", "310100"]
    known: dict[str, list[Any]] = {
        "run_id": [w.run_id, "CLR-monthly-2020-01-all"],
        "party": ["000000", "440000", "440100", "110100", GUANGZHOU_H, GUANGZHOU_H2],
        "fixmedins_code": [GUANGZHOU_H, SHANGHAI_H],
        "payer": ["110000", "110100", "440300", "460000"],
        "payee": ["440000", "110000", "310000"],
        "setl_ids": [[w.setl["x"]], [w.setl["a1"], w.setl["b"]], list(w.setl.values())],
        "batch_id": list(w.batches.values()),
        "treatment_region": regions,
        "insured_region": regions,
        "period": [w.period, f"{w.today:%Y-%m}", "2025-01"],
        "year": [w.month.year, w.month.year + 1],
        "month": [w.period],
    }
    operations = [
        r.ok()
        for r in schema.get_all_operations()
        if r.ok().path.startswith(("/clearing", "/reconciliation", "/prepayment"))
    ]
    assert len(operations) == 16
    problems: list[str] = []
    for operation in operations:

        @settings(
            max_examples=20,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(), token=st.sampled_from(tokens), data=st.data())
        def run(case: Any, token: str, data: st.DataObject) -> None:
            steer(case, data, known)
            response = case.call(base_url=base, headers={"Authorization": f"Bearer {token}"})
            where = f"{case.method} {case.formatted_path}"
            if response.status_code not in ALLOWED:
                problems.append(f"{where}: HTTP {response.status_code}: {response.text[:300]}")
            elif response.status_code >= 400 and response.json().get("status") != (
                response.status_code
            ):
                problems.append(f"{where}: error body {response.text[:300]}")

        run()
    assert not problems, "\n".join(problems[:10])
    assert svc.unbalanced_postings(w.agency.engine) == []
