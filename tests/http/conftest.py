"""A real gateway over real HTTP: a migrated database (a fresh SQLite file, or a fresh
PostgreSQL schema), a few institutions with credentials, uvicorn on a free port in a
background thread, and HIS clients for each institution and scheme.

PostgreSQL comes from env ``MEDROAM_TEST_PG_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); if it does not answer, the
PostgreSQL variants FAIL unless env ``MEDROAM_SKIP_PG=1``, which skips them (the approach
of ``tests/integration/conftest.py``).
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import Engine, create_engine, func, make_url, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from medroam.client import HisClient
from medroam.gateway.app import create_app
from medroam.gateway.settings import GatewaySettings, china_now
from medroam.services.uow import unit_of_work
from medroam.store.db import make_engine, upgrade
from medroam.store.tables import Base, CredentialRow, InstitutionRow

PG_DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

# Institutions (SYNTHETIC): code, name, region, level, networked, active.
H1 = ("H44030500001", "深圳市南山区测试人民医院", "440305", "3", True, True)
H2 = ("H11010500002", "北京市西城区测试医院", "110105", "2", True, True)
H3 = ("H44030500003", "深圳市已停用测试诊所", "440305", "1", False, False)
# Credentials: (institution code, scheme, key id, secret, active).
CREDENTIALS = (
    (H1[0], "tif", "paas-h1", "token-h1", True),
    (H1[0], "csb", "ak-h1", "sk-h1", True),
    (H1[0], "apikey", "apikey-h1", "-", True),
    (H1[0], "tif", "paas-h1-old", "token-h1-old", False),
    (H2[0], "tif", "paas-h2", "token-h2", True),
    (H3[0], "tif", "paas-h3", "token-h3", True),
)


class Clock:
    """The gateway's clock: real time plus an offset a test may set."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return china_now() + self.offset


@dataclass
class Gateway:
    base_url: str
    engine: Engine
    clock: Clock
    settings: GatewaySettings
    clients: dict[str, HisClient] = field(default_factory=dict)

    def client(self, name: str) -> HisClient:
        return self.clients[name]

    def shift(self, delta: timedelta) -> None:
        """Move the server's clock and the clients' clocks by ``delta`` from real time."""
        self.clock.offset = delta
        seconds = delta.total_seconds()
        for c in self.clients.values():
            c.clock = lambda: time.time() + seconds

    def count(self, table: str) -> int:
        t = Base.metadata.tables[table]
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(t)).scalar_one())

    def counts(self, *tables: str) -> dict[str, int]:
        return {t: self.count(t) for t in tables}


def seed_institutions(engine: Engine) -> None:
    with unit_of_work(engine) as session:
        for code, name, region, level, networked, active in (H1, H2, H3):
            session.add(
                InstitutionRow(
                    fixmedins_code=code,
                    name=name,
                    region=region,
                    level=level,
                    kind="hospital" if level != "1" else "clinic",
                    networked=networked,
                    active=active,
                )
            )
        session.flush()
        for code, scheme, key_id, secret, active in CREDENTIALS:
            session.add(
                CredentialRow(
                    fixmedins_code=code, scheme=scheme, key_id=key_id, secret=secret, active=active
                )
            )


def make_clients(base_url: str) -> dict[str, HisClient]:
    def client(
        inst: tuple[str, str, str, str, bool, bool], scheme: str, key: str, secret: str
    ) -> HisClient:
        return HisClient(
            base_url, inst[0], inst[1], inst[2], scheme=scheme, key_id=key, secret=secret
        )

    return {
        "h1": client(H1, "tif", "paas-h1", "token-h1"),
        "h1_csb": client(H1, "csb", "ak-h1", "sk-h1"),
        "h1_apikey": client(H1, "apikey", "apikey-h1", ""),
        "h2": client(H2, "tif", "paas-h2", "token-h2"),
        "h3": client(H3, "tif", "paas-h3", "token-h3"),
    }


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class RunningServer:
    base_url: str
    stop: Callable[[], None]


def start_server(engine: Engine, settings: GatewaySettings) -> RunningServer:
    """uvicorn with the gateway app on a free port, in a daemon thread."""
    app = create_app(engine, settings)
    sock = free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the gateway did not start")
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

    return RunningServer(f"http://127.0.0.1:{port}", stop)


# --- databases -----------------------------------------------------------------------


def _pg_admin_engine(url: str) -> Engine:
    return create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    url = os.environ.get("MEDROAM_TEST_PG_URL", PG_DEFAULT_URL)
    engine = _pg_admin_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        message = (
            f"PostgreSQL at {make_url(url).render_as_string(hide_password=True)} does not "
            f"answer ({reason}). Start it, point MEDROAM_TEST_PG_URL at one, or set "
            "MEDROAM_SKIP_PG=1 to skip the PostgreSQL tests."
        )
        if os.environ.get("MEDROAM_SKIP_PG") == "1":
            pytest.skip(message)
        pytest.fail(message, pytrace=False)
    finally:
        engine.dispose()
    return url


def _pg_schema(base_url: str) -> Iterator[str]:
    schema = f"medroam_http_{uuid.uuid4().hex[:16]}"
    admin = _pg_admin_engine(base_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text("SET LOCAL lock_timeout = '10s'"))
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _database(backend: str, tmp: Path, request: pytest.FixtureRequest) -> Iterator[Engine]:
    if backend == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{tmp / 'gateway.db'}"])
    else:
        urls = _pg_schema(request.getfixturevalue("pg_server_url"))
    url = next(urls)
    engine = make_engine(url)
    try:
        upgrade(engine)
        seed_institutions(engine)
        yield engine
    finally:
        engine.dispose()
        for _ in urls:  # run the schema's clean-up
            pass


def _gateway(
    backend: str, tmp: Path, request: pytest.FixtureRequest, **settings: object
) -> Iterator[Gateway]:
    clock = Clock()
    gateway_settings = GatewaySettings(clock=clock, **settings)  # type: ignore[arg-type]
    for engine in _database(backend, tmp, request):
        server = start_server(engine, gateway_settings)
        clients = make_clients(server.base_url)
        try:
            yield Gateway(server.base_url, engine, clock, gateway_settings, clients)
        finally:
            for c in clients.values():
                c.close()
            server.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """One server per backend and test module; tests reset ``gateway.clock.offset``."""
    yield from _gateway(request.param, tmp_path_factory.mktemp("gw"), request)


@pytest.fixture
def gw(gateway: Gateway) -> Iterator[Gateway]:
    """The module's gateway with the clock reset before and after the test."""
    gateway.shift(timedelta(0))
    yield gateway
    gateway.shift(timedelta(0))


@pytest.fixture
def make_gateway(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., Gateway]]:
    """A factory of SQLite gateways with other settings (strict sign-in, no auth …)."""
    running: list[Iterator[Gateway]] = []

    def make(**settings: object) -> Gateway:
        directory = tmp_path / f"g{len(running)}"
        directory.mkdir()
        gen = _gateway("sqlite", directory, request, **settings)
        running.append(gen)
        return next(gen)

    yield make
    for gen in running:
        for _ in gen:
            pass


# --- a gateway with reference data and insured persons (end-to-end flows) -----------------

# SYNTHETIC persons: (psn_no, name, ID number, gender, birth, insured region, insutype,
# psn_type, account balance in fen).
PERSONS = (
    (
        "P510100000001",
        "测试甲",
        "510104198001011236",
        "1",
        "1980-01-01",
        "510100",
        "310",
        "1101",
        200000,
    ),
    (
        "P510100000002",
        "测试乙",
        "51010419650505234X",
        "2",
        "1965-05-05",
        "510100",
        "310",
        "1201",
        50000,
    ),
    (
        "P440300000003",
        "测试丙",
        "440305199002023451",
        "1",
        "1990-02-02",
        "440300",
        "390",
        "1501",
        0,
    ),
)


def seed_persons(engine: Engine) -> None:
    from datetime import UTC, date

    from medroam.domain.settlement import AccountState
    from medroam.services.ports import Insurance, InsuredPerson
    from medroam.store.insured_place import register_person
    from medroam.store.refdata_loader import load_reference_data

    now = datetime.now(UTC)
    with unit_of_work(engine) as session:
        load_reference_data(session, now=now)
    with unit_of_work(engine) as session:
        for psn_no, name, certno, gend, birth, region, insutype, psn_type, balance in PERSONS:
            register_person(
                session,
                InsuredPerson(
                    psn_no=psn_no,
                    name=name,
                    cert_type="01",
                    cert_no=certno,
                    gender=gend,
                    birth_date=date.fromisoformat(birth),
                    insurances=(
                        Insurance(
                            insutype=insutype,
                            psn_type=psn_type,
                            status="1",
                            insured_region=region,
                            begin_date=date(2010, 1, 1),
                        ),
                    ),
                ),
                vouchers=[("02", certno, None)],
                account=AccountState(balance=balance),
                now=now,
            )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def flow_gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """A gateway per backend whose database also holds reference data and persons."""
    for gw in _gateway(request.param, tmp_path_factory.mktemp("flow"), request):
        seed_persons(gw.engine)
        yield gw
