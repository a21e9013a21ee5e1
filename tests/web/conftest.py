"""The console over real HTTP: a seeded demo database (北京 and 广州, SYNTHETIC), the
gateway app (with the console mounted) on a free port, a movable clock, and one
cross-province settlement made through the national interface."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from medroam.client import HisClient
from medroam.gateway.settings import GatewaySettings, china_now
from medroam.services.seed import seed_demo
from medroam.services.uow import unit_of_work
from medroam.store.console_tables import OperationLogRow
from medroam.store.db import make_engine, upgrade
from tests.http.conftest import Clock, start_server

REGIONS = ["110100", "440100"]
PASSWORD = "Demo-2026!"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Console:
    base_url: str
    engine: Engine
    clock: Clock
    fixtures: dict[str, Any]
    setl_id: str
    person: dict[str, Any]

    def browser(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30, follow_redirects=False)

    @contextmanager
    def login(self, username: str, password: str = PASSWORD) -> Iterator[httpx.Client]:
        """A client signed in as ``username`` (asserts success)."""
        with self.browser() as http:
            r = post_login(http, username, password)
            assert r.status_code == 303, r.text
            yield http


def refusals(console: Console, detail: str) -> int:
    """How many refusals with this detail the operations log holds."""
    with unit_of_work(console.engine) as session:
        return int(
            session.execute(
                select(func.count())
                .select_from(OperationLogRow)
                .where(OperationLogRow.outcome == "refused", OperationLogRow.detail == detail)
            ).scalar_one()
        )


def csrf_of(html: str) -> str:
    found = CSRF_FIELD.search(html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def post_login(http: httpx.Client, username: str, password: str) -> httpx.Response:
    page = http.get("/login")
    token = csrf_of(page.text)
    return http.post(
        "/login",
        data={"csrf_token": token, "username": username, "password": password, "next": "/"},
    )


def settle(base_url: str, person: dict[str, Any], hospital: dict[str, Any]) -> str:
    """An outpatient settlement (2201, 2204, 2207) of 25.00 yuan; returns its setl_id."""
    tif = hospital["tif"]
    his = HisClient(
        base_url,
        hospital["fixmedins_code"],
        hospital["fixmedins_name"],
        hospital["region"],
        scheme="tif",
        key_id=tif["paasid"],
        secret=tif["token"],
    )
    region = person["insuplc_admdvs"]
    now = china_now().strftime("%Y-%m-%d %H:%M:%S")
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
    assert his.call("2204", {"feedetail": [line]}, insuplc_admdvs=region)["infcode"] == 0
    data = {
        "psn_no": person["psn_no"],
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": person["certno"],
        "med_type": "11",
        "medfee_sumamt": "25.00",
        "psn_setlway": "01",
        "mdtrt_id": mdtrt_id,
        "chrg_bchno": "CB1",
        "insutype": person["insutype"],
        "acct_used_flag": "1",
    }
    done = his.call("2207", {"data": data}, insuplc_admdvs=region)
    assert done["infcode"] == 0, done
    his.close()
    return str(done["output"]["setlinfo"]["setl_id"])


def start_console(url: str) -> Iterator[Console]:
    engine = make_engine(url)
    upgrade(engine)
    result = seed_demo(engine, seed=1, regions=REGIONS, as_of=china_now().date())
    clock = Clock()
    server = start_server(engine, GatewaySettings(clock=clock))
    fixtures = result.fixtures
    person = next(
        p
        for p in fixtures["persons"]
        if p["insuplc_admdvs"] == "110100" and p["profile"] == "posted_worker"
    )
    hospital = next(
        i for i in fixtures["institutions"] if i["region"] == "440100" and i["level"] == "3"
    )
    try:
        setl_id = settle(server.base_url, person, hospital)
        yield Console(server.base_url, engine, clock, fixtures, setl_id, person)
    finally:
        server.stop()
        engine.dispose()


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    path: Path = tmp_path_factory.mktemp("console") / "console.db"
    yield from start_console(f"sqlite:///{path}")
