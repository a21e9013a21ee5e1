"""The gateway application as uvicorn's worker processes build it.

``medroam serve --workers N`` cannot hand an app object to N processes: uvicorn imports
:func:`app_from_env` in each worker, which rebuilds the app from the environment the
parent wrote (:func:`serve_environment`). Each worker has its own engine and connection
pool (``MEDROAM_POOL_SIZE`` connections) and runs at most that many requests' database
work at once, so no thread ever waits for a connection while holding the GIL's attention.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from fastapi import FastAPI

DB = "MEDROAM_DB"
ALLOW_UNAUTHENTICATED = "MEDROAM_SERVE_ALLOW_UNAUTHENTICATED"
LOG_LEVEL = "MEDROAM_SERVE_LOG_LEVEL"
PROVINCES = "MEDROAM_SERVE_PROVINCES"
POOL_SIZE = "MEDROAM_POOL_SIZE"
DEFAULT_POOL_SIZE = 8


def serve_environment(
    *,
    db: str,
    allow_unauthenticated: bool,
    log_level: str,
    provinces: Path | None,
    pool_size: int,
) -> dict[str, str]:
    """The variables :func:`app_from_env` reads, for the worker processes."""
    return {
        DB: db,
        ALLOW_UNAUTHENTICATED: "1" if allow_unauthenticated else "",
        LOG_LEVEL: log_level,
        PROVINCES: str(provinces) if provinces else "",
        POOL_SIZE: str(pool_size),
    }


def engine_options(url: str, pool_size: int) -> dict[str, object]:
    """Pool settings of a serving engine: ``pool_size`` connections per process, none
    beyond (a burst waits for a connection rather than opening more), SQL parameters
    never shown in exception texts (they hold card numbers and names)."""
    options: dict[str, object] = {"hide_parameters": True}
    if not url.startswith("sqlite"):
        options.update(pool_size=pool_size, max_overflow=0, pool_timeout=30)
    return options


def app_from_env(env: Mapping[str, str] | None = None) -> FastAPI:
    """Build the gateway app from the serve environment (one call per worker)."""
    from medroam.gateway import logging as gateway_logging
    from medroam.gateway.app import create_app
    from medroam.gateway.settings import GatewaySettings
    from medroam.refdata.provinces import load_province_book
    from medroam.store import sqlstats
    from medroam.store.db import database_url, make_engine

    env = os.environ if env is None else env
    url = database_url(env.get(DB) or None)
    pool_size = int(env.get(POOL_SIZE) or DEFAULT_POOL_SIZE)
    log_level = env.get(LOG_LEVEL) or "info"
    provinces = env.get(PROVINCES) or None
    engine = make_engine(url, **engine_options(url, pool_size))
    if sqlstats.enabled_by_env():
        sqlstats.install(engine)
    gateway_logging.configure(log_level)
    settings = GatewaySettings(
        allow_unauthenticated=bool(env.get(ALLOW_UNAUTHENTICATED)),
        log_bodies=log_level.lower() == "debug",
        provinces=load_province_book(Path(provinces) if provinces else None),
    )
    app = create_app(engine, settings, thread_limit=pool_size)
    return app
