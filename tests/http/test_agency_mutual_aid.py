"""The agency API's mutual-aid grants over real HTTP (SQLite and PostgreSQL): grant,
list, end; roles and regions; bad input is 400 naming the field and writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.http.conftest import _pg_schema
from tests.http.test_agency_api import Agency, start_agency

pytestmark = pytest.mark.db


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def agency(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Agency]:
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("agency-ma") / "agency.db"
        yield from start_agency(f"sqlite:///{path}")
        return
    schema = _pg_schema(request.getfixturevalue("pg_server_url"))
    url = next(schema)
    try:
        yield from start_agency(url)
    finally:
        next(schema, None)


def _employee(agency: Agency, region: str) -> dict[str, Any]:
    return next(
        p
        for p in agency.fixtures["persons"]
        if p["insuplc_admdvs"] == region and p["insutype"] == "310" and Decimal(p["balc"]) >= 100
    )


def test_grant_list_end(agency: Agency) -> None:
    holder = _employee(agency, "110100")
    beneficiary = _employee(agency, "440100")
    body = {
        "holder_psn_no": holder["psn_no"],
        "beneficiary_psn_no": beneficiary["psn_no"],
        "relation": "spouse",
        "quota": "50.00",
    }
    bad = [
        ({**body, "relation": "friend"}, 400, "relation: 'friend' is not a close relative"),
        ({**body, "beneficiary_psn_no": holder["psn_no"]}, 400, "cannot aid themself"),
        ({**body, "beneficiary_psn_no": "P000000000000"}, 404, "no insured person"),
        ({**body, "valid_from": "2026-01-08"}, 400, "across provinces"),
        ({**body, "quota": "0"}, 400, "quota"),
        ({**body, "valid_from": 0}, 422, ""),
    ]
    for sent, code, text in bad:
        r = agency.call("POST", "/mutual-aid/grants", "insured_place", "110100", json=sent)
        assert r.status_code == code and text in r.text, (sent, r.status_code, r.text)
    # the holder's region grants; another region may not
    r = agency.call("POST", "/mutual-aid/grants", "insured_place", "440100", json=body)
    assert r.status_code == 403, r.text
    r = agency.call("POST", "/mutual-aid/grants", "insured_place", "110100", json=body)
    assert r.status_code == 201, r.text
    g = r.json()
    assert (g["quota"], g["remaining"], g["relation_name"], g["status"]) == (
        "50.00",
        "50.00",
        "配偶",
        "active",
    )
    r = agency.call("POST", "/mutual-aid/grants", "insured_place", "110100", json=body)
    assert r.status_code == 400 and "already aids" in r.text
    # the beneficiary's region reads and may end it
    path = f"/mutual-aid/grants?psn_no={beneficiary['psn_no']}"
    r = agency.call("GET", path, "insured_place", "440100")
    assert r.status_code == 200 and [x["grant_id"] for x in r.json()] == [g["grant_id"]]
    assert agency.call("GET", path, "insured_place", "310100").status_code == 403
    end = f"/mutual-aid/grants/{g['grant_id']}/end"
    assert agency.call("POST", end, "insured_place", "310100", json={}).status_code == 404
    r = agency.call("POST", end, "insured_place", "440100", json={"reason": "request"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["returned"], r.json()["remaining"]) == (
        "ended",
        "50.00",
        "0.00",
    )
    r = agency.call("POST", end, "insured_place", "440100", json={})
    assert r.status_code == 400 and "already ended" in r.text
