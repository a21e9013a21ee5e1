"""The agency REST API over real HTTP (uvicorn on a free port), on SQLite and PostgreSQL.

The database holds a seeded demo subset (``medroam.services.seed``); the server is the
gateway's application, which mounts the agency API under ``/api/v1``. For each resource:
what each role may and may not do (403 outside its region), validation errors that name
the field, and that the settlement queries read what the national interface wrote.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from medroam.api import schemas
from medroam.client import HisClient
from medroam.domain.identity import check_digit
from medroam.gateway.settings import GatewaySettings, china_now
from medroam.services.seed import seed_demo
from medroam.store.db import make_engine, upgrade
from tests.http.conftest import _pg_schema, start_server

pytestmark = pytest.mark.db

# 北京, 上海, 广州 and 深圳 (one province), 海口; the demo's persons, hospitals and tokens.
REGIONS = ["110100", "310100", "440100", "440300", "460100"]
API = "/api/v1"
CHINA_MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\+08:00")
MASKED = re.compile(r"^[0-9]{6}\*{8}[0-9X]{4}$")


@dataclass
class Agency:
    base_url: str
    engine: Engine
    fixtures: dict[str, Any]
    http: httpx.Client

    def token(self, role: str, region: str | None = None) -> str:
        for t in self.fixtures["agency_tokens"][role]:
            if t["region"] == region:
                return str(t["token"])
        raise KeyError((role, region))

    def call(
        self, method: str, path: str, role: str | None, region: str | None = None, **kw: Any
    ) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if role is not None:
            headers["Authorization"] = f"Bearer {self.token(role, region)}"
        return self.http.request(method, API + path, headers=headers, **kw)

    def person(self, region: str, profile: str) -> dict[str, Any]:
        return next(
            p
            for p in self.fixtures["persons"]
            if p["insuplc_admdvs"] == region and p["profile"] == profile
        )

    def hospital(self, region: str, level: str = "3") -> dict[str, Any]:
        return next(
            i
            for i in self.fixtures["institutions"]
            if i["region"] == region and i["level"] == level
        )

    def his(self, hospital: dict[str, Any], **kw: Any) -> HisClient:
        tif = hospital.get("tif") or {}
        return HisClient(
            self.base_url,
            hospital["fixmedins_code"],
            hospital["fixmedins_name"],
            hospital["region"],
            scheme="tif",
            key_id=kw.get("key_id", tif.get("paasid", "")),
            secret=kw.get("secret", tif.get("token", "")),
        )


def start_agency(url: str, regions: list[str] = REGIONS) -> Iterator[Agency]:
    """A migrated, seeded database at ``url`` and the gateway (with the agency API)."""
    engine = make_engine(url)
    upgrade(engine)
    result = seed_demo(engine, seed=1, regions=regions, as_of=china_now().date())
    server = start_server(engine, GatewaySettings())
    http = httpx.Client(base_url=server.base_url, timeout=30)
    try:
        yield Agency(server.base_url, engine, result.fixtures, http)
    finally:
        http.close()
        server.stop()
        engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def agency(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Agency]:
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("agency") / "agency.db"
        yield from start_agency(f"sqlite:///{path}")
        return
    schema = _pg_schema(request.getfixturevalue("pg_server_url"))
    url = next(schema)
    try:
        yield from start_agency(url)
    finally:
        for _ in schema:  # drop the schema
            pass


def _error(response: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["error"] and body["message"]
    for word in words:
        assert word in body["message"], body
    assert "Traceback" not in response.text
    return body


# --- authentication --------------------------------------------------------------------------


def test_a_token_is_required(agency: Agency) -> None:
    r = agency.call("GET", "/persons", None)
    body = _error(r, 401, "bearer token")
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert body["error"] == "unauthorized"
    _error(
        agency.call("GET", "/persons", None, headers={"Authorization": "Bearer nope"}),
        401,
        "unknown agency token",
    )
    _error(agency.call("GET", "/persons", None, headers={"Authorization": "Basic YTpi"}), 401)


def test_unknown_paths_and_methods_answer_json(agency: Agency) -> None:
    _error(agency.call("GET", "/nothing", "nation"), 404)
    for path in ("/api/v1", "/api/v1/", "/api/v1x", "/api", "/api/v1/settlements/a/b"):
        r = agency.http.get(agency.base_url + path)
        assert _error(r, 404) == {
            "status": 404,
            "error": "not_found",
            "message": "no such resource",
        }
    _error(agency.call("DELETE", "/persons", "nation"), 405)
    r = agency.http.post(
        API + "/persons",
        content=b"{not json",
        headers={
            "Authorization": f"Bearer {agency.token('nation')}",
            "Content-Type": "application/json",
        },
    )
    _error(r, 400, "not valid JSON")


def test_openapi_documents_every_operation(agency: Agency) -> None:
    doc = agency.http.get(API + "/openapi.json").json()
    assert doc["info"]["title"] == "medroam agency API"
    assert "agencyToken" in doc["components"]["securitySchemes"]
    operations = [op for path in doc["paths"].values() for op in path.values()]
    assert len(operations) >= 20
    assert all(op.get("summary") for op in operations)
    assert doc["components"]["schemas"]["PersonCreate"]["examples"]
    # every operation documents the errors any request may get, with the real error body
    error_body = {"$ref": "#/components/schemas/ErrorBody"}
    for op in operations:
        for status in ("400", "401", "403", "404", "422"):
            documented = op["responses"][status]["content"]["application/json"]["schema"]
            assert documented == error_body, (op["summary"], status)
    assert "HTTPValidationError" not in str(doc)
    assert agency.http.get(API + "/docs").status_code == 200
    # idempotent creates answer 201 the first time and 200 after: both are documented
    for path in ("/reconciliation/proposals", "/clearing/runs", "/prepayment/quotas"):
        responses = doc["paths"][path]["post"]["responses"]
        assert {"200", "201"} <= set(responses), path
        assert responses["200"]["content"] == responses["201"]["content"], path


# --- persons ---------------------------------------------------------------------------------


def test_persons_by_role(agency: Agency) -> None:
    beijing = agency.person("110100", "retiree_resettled")
    shenzhen = agency.person("440300", "retiree_resettled")
    path = f"/persons/{beijing['psn_no']}"

    r = agency.call("GET", path, "insured_place", "110100")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["certno"] == beijing["certno"] and body["psn_name"] == beijing["psn_name"]
    assert body["insurances"][0]["insutype"] == beijing["insutype"]
    assert {v["mdtrt_cert_type"] for v in body["vouchers"]} == {"01", "02", "03"}
    assert agency.call("GET", path, "nation").status_code == 200

    _error(agency.call("GET", path, "insured_place", "310100"), 403, "outside its region")
    _error(agency.call("GET", path, "treatment_place", "110100"), 403, "may not read persons")
    _error(agency.call("GET", path, "province", "440000"), 403, "outside its region")
    assert agency.call("GET", f"/persons/{shenzhen['psn_no']}", "province", "440000").is_success
    _error(agency.call("GET", "/persons/00000000", "nation"), 404, "no insured person")
    _error(agency.call("GET", "/persons/bad*no", "nation"), 422)


def test_lists_mask_the_id_numbers(agency: Agency) -> None:
    r = agency.call("GET", "/persons", "insured_place", "110100", params={"limit": 30})
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] == 24 and len(page["items"]) == 24
    assert all(MASKED.match(p["certno"]) for p in page["items"])
    assert {p["insutype"] for p in page["items"]} == {"310", "390"}
    employees = agency.call(
        "GET", "/persons", "nation", params={"region": "110100", "insutype": "310"}
    ).json()
    assert employees["total"] == 12
    _error(agency.call("GET", "/persons", "nation"), 400, "region is required")
    _error(
        agency.call("GET", "/persons", "insured_place", "110100", params={"region": "310100"}),
        403,
        "outside its region",
    )
    _error(agency.call("GET", "/persons", "nation", params={"region": "999900"}), 404)
    _error(agency.call("GET", "/persons", "nation", params={"region": "1101"}), 422, "region")
    _error(agency.call("GET", "/persons", "nation", params={"region": "110100", "limit": 0}), 422)


def _new_certno(seq: int, gender_odd: bool = True) -> str:
    body = f"11010519800101{seq:02d}{1 if gender_odd else 2}"
    return body + check_digit(body)


def test_register_a_person(agency: Agency) -> None:
    certno = _new_certno(71)
    body = {
        "psn_name": "测试甲",
        "certno": certno,
        "insuplc_admdvs": "110100",
        "insutype": "310",
        "psn_type": "1101",
        "emp_name": "北京测试有限公司",
        "balc": "1234.50",
        "e_voucher": "ECTEST0000000001",
        "card_no": "110100T0000001",
        "card_sn": "110100D156000000000000000000TEST",
    }
    r = agency.call("POST", "/persons", "insured_place", "110100", json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["gend"] == "1" and created["brdy"] == "1980-01-01"
    assert created["balc"] == "1234.50" and len(created["vouchers"]) == 3
    assert created["insuplc_admdvs"] == "110100"
    # the person is found by the national interface at once (1101 by e-voucher)
    answer = agency.his(agency.hospital("440100")).call(
        "1101", {"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": "ECTEST0000000001"}}
    )
    assert answer["infcode"] == 0, answer
    assert answer["output"]["baseinfo"]["psn_no"] == created["psn_no"]

    _error(agency.call("POST", "/persons", "insured_place", "110100", json=body), 409, "certno")
    dup_psn = {**body, "psn_no": created["psn_no"], "certno": _new_certno(72)}
    _error(agency.call("POST", "/persons", "nation", json=dup_psn), 409, "already exists")

    bad = {**body, "certno": certno[:-1] + ("0" if certno[-1] != "0" else "1")}
    err = _error(agency.call("POST", "/persons", "nation", json=bad), 422, "check digit")
    assert err["details"][0]["field"] == "certno"
    err = _error(
        agency.call(
            "POST", "/persons", "nation", json={**body, "certno": _new_certno(73), "gend": "2"}
        ),
        422,
    )
    assert err["details"][0]["field"] == "gend"
    err = _error(
        agency.call(
            "POST",
            "/persons",
            "nation",
            json={**body, "certno": _new_certno(74), "psn_type": "1501"},
        ),
        422,
        "psn_type",
    )
    missing = {k: v for k, v in body.items() if k != "psn_name"}
    err = _error(agency.call("POST", "/persons", "nation", json=missing), 422, "psn_name")
    assert err["details"][0]["field"] == "psn_name"
    _error(agency.call("POST", "/persons", "nation", json={**body, "extra": 1}), 422, "extra")
    _error(agency.call("POST", "/persons", "nation", json={**body, "balc": 1.5}), 422, "balc")

    other = {**body, "certno": _new_certno(75), "insuplc_admdvs": "310100"}
    _error(agency.call("POST", "/persons", "insured_place", "110100", json=other), 403)
    _error(agency.call("POST", "/persons", "treatment_place", "110100", json=body), 403)
    _error(
        agency.call("POST", "/persons", "nation", json={**other, "insuplc_admdvs": "999900"}),
        404,
        "pooling region",
    )


# --- filings ---------------------------------------------------------------------------------


def test_filing_lifecycle_records_the_channels(agency: Agency) -> None:
    worker = agency.person("110100", "migrant_worker")
    start = china_now().date()
    r = agency.call(
        "POST",
        "/filings",
        "insured_place",
        "110100",
        json={
            "psn_no": worker["psn_no"],
            "filing_type": "TMP_OTHER",
            "destination": "440100",
            "valid_from": start.isoformat(),
            "channel": "mini_program",
            "reason": "外出务工期间就医",
        },
    )
    assert r.status_code == 201, r.text
    filing = r.json()
    fid = filing["filing_id"]
    assert filing["insured_region"] == "110100" and filing["channel"] == "mini_program"
    assert filing["valid_to"] is not None and filing["version"] == 1

    # the treatment place named by the filing may read it; another may not
    assert agency.call("GET", f"/filings/{fid}", "treatment_place", "440100").is_success
    _error(agency.call("GET", f"/filings/{fid}", "treatment_place", "310100"), 403)
    listed = agency.call(
        "GET", "/filings", "treatment_place", "440100", params={"treatment_region": "440100"}
    ).json()
    assert fid in {f["filing_id"] for f in listed["items"]}
    _error(
        agency.call(
            "GET", "/filings", "treatment_place", "440100", params={"treatment_region": "310100"}
        ),
        403,
    )
    _error(agency.call("GET", "/filings", "nation"), 400, "exactly one")
    mine = agency.call(
        "GET", "/filings", "insured_place", "110100", params={"psn_no": worker["psn_no"]}
    ).json()
    assert [f["filing_id"] for f in mine["items"]] == [fid]

    changed = agency.call(
        "PATCH",
        f"/filings/{fid}",
        "insured_place",
        "110100",
        json={"channel": "national_app", "destination": "310100", "reason": "改去上海"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["destination"] == "310100" and changed.json()["version"] == 2
    _error(
        agency.call(
            "PATCH",
            f"/filings/{fid}",
            "treatment_place",
            "310100",
            json={"channel": "counter", "destination": "440100"},
        ),
        403,
    )

    cancelled = agency.call(
        "POST",
        f"/filings/{fid}/cancel",
        "province",
        "110000",
        json={"channel": "counter", "reason": "回京"},
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"

    history = agency.call("GET", f"/filings/{fid}/history", "insured_place", "110100").json()
    assert [(e["event"], e["channel"], e["version"]) for e in history] == [
        ("created", "mini_program", 1),
        ("changed", "national_app", 2),
        ("cancelled", "counter", 3),
    ]
    assert history[1]["filing"]["destination"] == "310100"
    # moments are China time with the offset written out, as on the console and the CLI
    for event in history:
        assert CHINA_MOMENT.fullmatch(event["at"]), event["at"]
        assert CHINA_MOMENT.fullmatch(event["filing"]["filed_at"]), event["filing"]

    _error(
        agency.call(
            "PATCH",
            f"/filings/{fid}",
            "insured_place",
            "110100",
            json={"channel": "counter", "destination": "440100"},
        ),
        409,
        "cancelled",
    )
    _error(
        agency.call(
            "POST", f"/filings/{fid}/cancel", "insured_place", "110100", json={"reason": "again"}
        ),
        409,
        "already cancelled",
    )


def test_filings_that_the_rules_refuse(agency: Agency) -> None:
    retiree = agency.person("110100", "retiree_resettled")  # already has a long-term filing
    base = {
        "psn_no": retiree["psn_no"],
        "filing_type": "LT_RESIDENT",
        "destination": "310100",
        "valid_from": china_now().date().isoformat(),
        "channel": "national_app",
    }
    _error(agency.call("POST", "/filings", "nation", json=base), 409, "already has an active")
    own = {**base, "filing_type": "TMP_OTHER", "destination": "110100"}
    _error(agency.call("POST", "/filings", "nation", json=own), 400, "insured region")
    _error(agency.call("POST", "/filings", "nation", json={**base, "psn_no": "0"}), 404)
    _error(agency.call("POST", "/filings", "nation", json={**base, "filing_type": "LT_X"}), 422)
    _error(agency.call("POST", "/filings", "nation", json={**base, "channel": "fax"}), 422)
    _error(agency.call("POST", "/filings", "insured_place", "310100", json=base), 403)
    _error(agency.call("POST", "/filings", "treatment_place", "110100", json=base), 403)
    assert agency.call(
        "GET", f"/filings/{retiree['filing']['filing_id']}", "insured_place", "110100"
    ).is_success
    # a long-term filing stands 6 months before it may be cancelled (FIL-04)
    servant = agency.person("110100", "civil_servant")
    made = agency.call(
        "POST", "/filings", "insured_place", "110100", json={**base, "psn_no": servant["psn_no"]}
    )
    assert made.status_code == 201, made.text
    _error(
        agency.call(
            "POST", f"/filings/{made.json()['filing_id']}/cancel", "nation", json={"reason": "test"}
        ),
        409,
        "FIL-04",
    )
    _error(agency.call("GET", "/filings/NOSUCH", "nation"), 404)


# --- institutions ----------------------------------------------------------------------------


def test_institutions_and_credentials(agency: Agency) -> None:
    listed = agency.call("GET", "/institutions", "treatment_place", "440100").json()
    assert listed["total"] >= 3 and {i["level"] for i in listed["items"]} >= {"1", "2", "3"}
    assert all("secret" not in c for i in listed["items"] for c in i["credentials"])
    _error(
        agency.call(
            "GET", "/institutions", "treatment_place", "440100", params={"region": "310100"}
        ),
        403,
    )
    code = agency.hospital("310100")["fixmedins_code"]
    _error(agency.call("GET", f"/institutions/{code}", "treatment_place", "440100"), 403)
    assert agency.call("GET", f"/institutions/{code}", "nation").json()["region"] == "310100"
    _error(agency.call("GET", "/institutions/H99999999999", "nation"), 404)
    _error(agency.call("GET", "/institutions/xyz", "nation"), 422)

    new = {
        "fixmedins_name": "广州市测试第九医院",
        "region": "440100",
        "level": "2",
        "schemes": ["tif", "csb"],
    }
    _error(agency.call("POST", "/institutions", "insured_place", "440100", json=new), 403)
    _error(agency.call("POST", "/institutions", "treatment_place", "310100", json=new), 403)
    r = agency.call("POST", "/institutions", "treatment_place", "440100", json=new)
    assert r.status_code == 201, r.text
    created = r.json()
    code = created["fixmedins_code"]
    assert code.startswith("H440100") and created["active"]
    secrets = {s["scheme"]: s for s in created["secrets"]}
    assert set(secrets) == {"tif", "csb"}

    # the new credentials work at the gateway at once
    hospital = {"fixmedins_code": code, "fixmedins_name": new["fixmedins_name"], "region": "440100"}
    person = agency.person("110100", "posted_worker")
    lookup = {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": person["certno"]}}
    old = agency.his(hospital, key_id=secrets["tif"]["key_id"], secret=secrets["tif"]["secret"])
    assert old.call("1101", lookup)["infcode"] == 0

    rotated = agency.call(
        "POST",
        f"/institutions/{code}/credentials/rotate",
        "province",
        "440000",
        json={"scheme": "tif"},
    )
    assert rotated.status_code == 200, rotated.text
    fresh = rotated.json()
    assert fresh["secret"] != secrets["tif"]["secret"]
    assert old.call("1101", lookup).get("code") == 401  # the old paasid is retired
    client = agency.his(hospital, key_id=fresh["key_id"], secret=fresh["secret"])
    assert client.call("1101", lookup)["infcode"] == 0

    _error(
        agency.call(
            "POST",
            f"/institutions/{code}/credentials/rotate",
            "treatment_place",
            "440100",
            json={"scheme": "sm2"},
        ),
        422,
        "scheme",
    )
    deactivated = agency.call(
        "POST", f"/institutions/{code}/deactivate", "treatment_place", "440100"
    )
    assert deactivated.status_code == 200 and deactivated.json()["active"] is False
    assert client.call("1101", lookup).get("infcode") != 0  # refused from now on
    _error(
        agency.call("POST", f"/institutions/{code}/deactivate", "nation"), 409, "already inactive"
    )
    _error(
        agency.call("POST", "/institutions", "nation", json={**new, "fixmedins_code": code}),
        409,
        "already exists",
    )


# --- policies --------------------------------------------------------------------------------


def test_policies(agency: Agency) -> None:
    versions = agency.call("GET", "/policies/440300/390", "insured_place", "440300").json()
    assert len(versions) == 1 and versions[0]["effective_to"] is None
    current = agency.call("GET", "/policies/440300/390/in-force", "treatment_place", "440300")
    assert current.status_code == 200, current.text
    document = current.json()["document"]
    _error(agency.call("GET", "/policies/440300/390", "insured_place", "110100"), 403)
    _error(
        agency.call("GET", "/policies/440300/390/in-force", "nation", params={"on": "2001-01-01"}),
        404,
        "in force",
    )
    _error(agency.call("GET", "/policies/440300/320", "nation"), 422)

    next_year = date(china_now().year + 1, 1, 1)
    new = copy.deepcopy(document)
    new["effective_from"] = next_year.isoformat()
    new["source"] = "upload test (synthetic)"
    path = "/policies/440300/390"
    _error(agency.call("POST", path, "treatment_place", "440300", json=new), 403)
    _error(agency.call("POST", path, "insured_place", "440100", json=new), 403)

    bad = copy.deepcopy(new)
    level = next(iter(bad["inpatient"]["levels"]))
    bad["inpatient"]["levels"][level]["ratio"] = "1.5"
    err = _error(agency.call("POST", path, "insured_place", "440300", json=bad), 422)
    assert err["details"][0]["field"] == f"inpatient.levels.{level}.ratio"
    floats = copy.deepcopy(new)
    floats["inpatient"]["levels"][level]["ratio"] = 0.5
    _error(agency.call("POST", path, "insured_place", "440300", json=floats), 422, "ratio")
    _error(
        agency.call("POST", path, "insured_place", "440300", json={**new, "region": "440100"}),
        422,
        "region",
    )
    _error(agency.call("POST", path, "insured_place", "440300", json=[1]), 422)

    r = agency.call("POST", path, "insured_place", "440300", json=new)
    assert r.status_code == 201, r.text
    assert r.json()["effective_from"] == next_year.isoformat()
    versions = agency.call("GET", path, "province", "440000").json()
    assert [v["effective_from"] for v in versions] == [
        versions[0]["effective_from"],
        next_year.isoformat(),
    ]
    assert versions[0]["effective_to"] == (next_year - timedelta(days=1)).isoformat()
    future = agency.call("GET", path + "/in-force", "nation", params={"on": next_year.isoformat()})
    assert future.json()["source"] == "upload test (synthetic)"
    _error(agency.call("POST", path, "insured_place", "440300", json=new), 409, "already has")
    # seeding again (same seed) leaves the uploaded version alone
    assert seed_demo(agency.engine, seed=1, regions=REGIONS).written == ()
    assert len(agency.call("GET", path, "nation").json()) == 2


# --- catalogue -------------------------------------------------------------------------------


def test_catalogue(agency: Agency) -> None:
    item = agency.call(
        "GET", "/catalogue/440100/items/001102000010000", "treatment_place", "440100"
    )
    assert item.status_code == 200, item.text
    assert item.json()["chrgitm_lv"] in ("01", "02", "03") and item.json()["region"] == "440100"
    _error(agency.call("GET", "/catalogue/440100/items/NOPE", "nation"), 404, "no item")
    _error(
        agency.call("GET", "/catalogue/440100/items/001102000010000", "treatment_place", "310100"),
        403,
    )
    found = agency.call(
        "GET",
        "/catalogue/440100/items",
        "insured_place",
        "440100",
        params={"name": "阿莫西林", "limit": 5},
    ).json()
    assert found["total"] > 0 and all("阿莫西林" in i["name"] for i in found["items"])
    _error(agency.call("GET", "/catalogue/440100/items", "nation"), 422, "name")


# --- settlements -----------------------------------------------------------------------------


def _settle(agency: Agency) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """One cross-province outpatient settlement (2201 → 2204 → 2207) at a 广州 hospital
    for a 北京 employee; returns (setl_id, person, hospital)."""
    person = agency.person("110100", "posted_worker")
    hospital = agency.hospital("440100")
    his = agency.his(hospital)
    now = china_now().strftime("%Y-%m-%d %H:%M:%S")
    reg = his.call(
        "2201",
        {
            "data": {
                "psn_no": person["psn_no"],
                "insutype": "310",
                "begntime": now,
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": person["certno"],
                "ipt_otp_no": f"MZ{china_now():%H%M%S%f}",
            }
        },
        insuplc_admdvs="110100",
    )
    assert reg["infcode"] == 0, reg
    mdtrt_id = reg["output"]["data"]["mdtrt_id"]
    line = {
        "feedetl_sn": "1",
        "mdtrt_id": mdtrt_id,
        "psn_no": person["psn_no"],
        "chrg_bchno": "CB1",
        "fee_ocur_time": now,
        "med_list_codg": "001102000010000",
        "det_item_fee_sumamt": "25.00",
        "cnt": "1",
        "pric": "25.00",
    }
    assert his.call("2204", {"feedetail": [line]}, insuplc_admdvs="110100")["infcode"] == 0
    data = {
        "psn_no": person["psn_no"],
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": person["certno"],
        "med_type": "11",
        "medfee_sumamt": "25.00",
        "psn_setlway": "01",
        "mdtrt_id": mdtrt_id,
        "chrg_bchno": "CB1",
        "insutype": "310",
        "acct_used_flag": "1",
    }
    done = his.call("2207", {"data": data}, insuplc_admdvs="110100")
    assert done["infcode"] == 0, done
    return str(done["output"]["setlinfo"]["setl_id"]), person, hospital


def test_settlement_queries_by_role(agency: Agency) -> None:
    setl_id, person, hospital = _settle(agency)
    path = f"/settlements/{setl_id}"
    r = agency.call("GET", path, "insured_place", "110100")
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["psn_no"] == person["psn_no"] and s["medfee_sumamt"] == "25.00"
    assert s["cross_region"] == "inter_province" and s["status"] == "valid"
    assert s["setldetail"] is not None
    # setl_time in China time: the settlement was made "now", so its China date and hour
    # are the China clock's (within the minute that the test takes)
    assert CHINA_MOMENT.fullmatch(s["setl_time"]), s["setl_time"]
    shown = datetime.fromisoformat(s["setl_time"])
    assert abs((datetime.now(UTC) - shown).total_seconds()) < 600
    for role, region in (
        ("treatment_place", "440100"),
        ("province", "440000"),
        ("province", "110000"),
        ("nation", None),
    ):
        assert agency.call("GET", path, role, region).status_code == 200, (role, region)
    for role, region in (
        ("insured_place", "310100"),
        ("treatment_place", "110100"),
        ("insured_place", "440100"),
        ("province", "310000"),
    ):
        # another region's settlement is answered exactly as a missing one: no probing
        other = agency.call("GET", path, role, region)
        body = _error(other, 404)
        assert body == {"status": 404, "error": "not_found", "message": f"no settlement {setl_id}"}
    missing = _error(agency.call("GET", "/settlements/NOSUCH", "nation"), 404)
    assert missing == {"status": 404, "error": "not_found", "message": "no settlement NOSUCH"}

    mine = agency.call("GET", f"/persons/{person['psn_no']}/settlements", "insured_place", "110100")
    assert setl_id in {x["setl_id"] for x in mine.json()["items"]}
    _error(
        agency.call("GET", f"/persons/{person['psn_no']}/settlements", "treatment_place", "440100"),
        403,
    )

    today = china_now().date()
    code = hospital["fixmedins_code"]
    period = {"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()}
    theirs = agency.call(
        "GET", f"/institutions/{code}/settlements", "treatment_place", "440100", params=period
    )
    assert setl_id in {x["setl_id"] for x in theirs.json()["items"]}
    empty = agency.call(
        "GET",
        f"/institutions/{code}/settlements",
        "nation",
        params={"from": "2000-01-01", "to": "2000-01-31"},
    ).json()
    assert empty["total"] == 0
    _error(
        agency.call(
            "GET",
            f"/institutions/{code}/settlements",
            "nation",
            params={"from": today.isoformat(), "to": "2000-01-01"},
        ),
        400,
    )
    _error(agency.call("GET", f"/institutions/{code}/settlements", "insured_place", "440100"), 403)


def test_the_documented_examples_are_valid() -> None:
    for model in (
        schemas.PersonCreate,
        schemas.PersonOut,
        schemas.FilingCreate,
        schemas.FilingChange,
        schemas.FilingCancel,
        schemas.FilingOut,
        schemas.InstitutionCreate,
        schemas.InstitutionOut,
        schemas.Rotate,
        schemas.CatalogueItemOut,
    ):
        extra = model.model_config.get("json_schema_extra")
        assert isinstance(extra, dict) and extra["examples"], model
        for example in extra["examples"]:
            model.model_validate(example)
