"""``medroam demo``: the whole platform on a fresh machine, in a few minutes.

Seeds the synthetic nation into an embedded SQLite file (``var/demo.db``, recreated on
every run; or ``--db``), starts the gateway in-process, simulates a month of national
cross-region care through it (``services.sim``), reconciles and clears it, writes the
HTML report (``var/demo-report.html``) and the fixtures for calling the server
(``var/demo-fixtures.json``), and — unless told not to — leaves the server running.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, make_url
from sqlalchemy.exc import ArgumentError

from medroam.netutil import port_problem
from medroam.services.seed import AGENCY_PREFIX, INTERFACE_PATH
from medroam.services.sim import (
    Progress,
    SimConfig,
    SimError,
    SimResult,
    check_config,
    no_progress,
    run_simulation,
)
from medroam.sim.report import render_report
from medroam.store.db import make_engine

VAR = Path("var")
DEFAULT_DB_FILE = VAR / "demo.db"
DEFAULT_REPORT = VAR / "demo-report.html"
# The demo plants known violations in 2 % of the encounters (and makes a few hospitals
# fraudulent) so that its report can measure the audit against a truth (sim.anomalies).
DEMO_ANOMALIES = 0.02
DEFAULT_FIXTURES = VAR / "demo-fixtures.json"
LOCK_FILE = VAR / "demo.lock"  # held while a demo uses (or serves) var/demo.db
DEFAULT_PORT = 8080
FULL_PERSONS = 96  # --full: four times the default population of every pooling region


@dataclass(frozen=True, slots=True)
class DemoConfig:
    sim: SimConfig
    db: str | None = None  # None: a fresh sqlite:///var/demo.db
    report: Path = DEFAULT_REPORT
    fixtures: Path = DEFAULT_FIXTURES
    serve: bool = True


@dataclass(slots=True)
class DemoResult:
    sim: SimResult
    db_url: str
    report: Path
    fixtures: Path
    urls: dict[str, str]
    engine: Engine  # the caller disposes of it once the server has stopped
    lock: IO[str] | None = field(default=None, repr=False)

    def release(self) -> None:
        """Let another demo use ``var/demo.db`` (call once the server has stopped)."""
        release_lock(self.lock)
        self.lock = None


def acquire_lock(path: Path = LOCK_FILE) -> IO[str]:
    """The demo's lock on ``var/demo.db``; refused while another demo in this checkout
    holds it (the lock goes with its process, however that process ends)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise SimError(
            f"another medroam demo (pid {holder}) is using {DEFAULT_DB_FILE} in this folder "
            "and may still be serving it: stop it first (Ctrl-C), or give this run its own "
            "database with --db sqlite:///var/other.db"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def release_lock(handle: IO[str] | None) -> None:
    if handle is not None and not handle.closed:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def default_db_url() -> str:
    return f"sqlite:///{DEFAULT_DB_FILE}"


def choose_port(host: str, requested: int | None) -> int:
    """The port to serve on: the one asked for (refused when busy), else 8080 if free,
    else any free port (0)."""
    if requested is not None:
        problem = port_problem(host, requested)
        if problem:
            raise SimError(problem)
        return requested
    return DEFAULT_PORT if port_problem(host, DEFAULT_PORT) is None else 0


def _check_writable(path: Path, what: str) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise SimError(f"{what}: {parent} is not a directory")
    if path.exists() and path.is_dir():
        raise SimError(f"{what}: {path} is a directory")


def prepare(config: DemoConfig) -> tuple[DemoConfig, str, IO[str] | None]:
    """Check everything before any work; the database URL to use. A default demo
    database is removed so the run starts fresh, under :func:`acquire_lock` (returned;
    the caller releases it)."""
    check_config(config.sim)
    _check_writable(config.report, "--report")
    _check_writable(config.fixtures, "--fixtures")
    url = config.db or default_db_url()
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SimError(
            f"--db: {url!r} is not a database URL (e.g. sqlite:///var/demo.db)"
        ) from None
    lock = None
    if config.db is None:
        lock = acquire_lock()  # after every check: a refused run writes nothing
        DEFAULT_DB_FILE.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{DEFAULT_DB_FILE}{suffix}").unlink(missing_ok=True)
    elif parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return config, url, lock


def run_demo(
    config: DemoConfig, *, progress: Progress = no_progress, engine: Engine | None = None
) -> DemoResult:
    """Seed, serve, simulate, clear, report (module docstring). With ``config.serve``
    the gateway is still running in ``result.sim.server`` (the caller stops it)."""
    config, url, lock = prepare(config)
    own_engine = engine is None
    engine = engine or make_engine(url)
    try:
        sim = run_simulation(engine, config.sim, progress=progress, keep_server=config.serve)
    except BaseException:
        release_lock(lock)
        if own_engine:
            engine.dispose()
        raise
    if sim.server is None:  # nothing serves the database any more
        release_lock(lock)
        lock = None
    base = (
        sim.server.url if sim.server is not None else f"http://{config.sim.host}:{config.sim.port}"
    )
    urls = {
        "server": base,
        "interface": base + INTERFACE_PATH,
        "agency_api": base + AGENCY_PREFIX,
        "agency_docs": base + AGENCY_PREFIX + "/docs",
        "openapi": base + AGENCY_PREFIX + "/openapi.json",
    }
    fixtures: dict[str, Any] = dict(sim.seed_result.fixtures)
    fixtures["server"] = {
        **fixtures.get("server", {}),
        **urls,
        "start": f"medroam serve --db {url}",
    }
    fixtures["generator"] = "medroam demo"
    config.fixtures.parent.mkdir(parents=True, exist_ok=True)
    config.fixtures.write_text(json.dumps(fixtures, ensure_ascii=False, indent=1) + "\n", "utf-8")
    config.report.parent.mkdir(parents=True, exist_ok=True)
    config.report.write_text(render_report(sim.summary), "utf-8")
    return DemoResult(sim, url, config.report, config.fixtures, urls, engine, lock)


def full(config: SimConfig) -> SimConfig:
    """``--full``: every pooling region with four times the people."""
    return replace(config, provinces=None, regions=None, persons=FULL_PERSONS)
