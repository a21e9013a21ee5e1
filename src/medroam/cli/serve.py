"""``medroam serve``: run the national-interface gateway (uvicorn).

Migrates the database if needed, refuses a port that is already in use with a clear
message, and serves ``POST /fsi/api/rsfComIfsService/callService`` (and its variants,
see ``medroam.gateway.app``) until interrupted.

On PostgreSQL it runs ``--workers`` processes (default: one per core), each with its own
connection pool; message-log idempotency, nonces and visit numbers are kept by the
database's unique keys and row locks, so they hold across processes. SQLite allows one
writer at a time: it is served by one process, and says so. Each worker listens on the
port with its own ``SO_REUSEPORT`` socket, so the kernel spreads the HIS connections over
them (``gateway/workers.py``; uvicorn's shared socket left one worker doing almost all).

The port probe binds with ``SO_REUSEADDR``, as uvicorn's own listening socket does, so a
restart right after a stop or a ``kill -9`` is not refused for the connections still in
TIME_WAIT; only a live listener makes the port "in use".
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from medroam.cli.common import console, fail
from medroam.netutil import port_problem

STANDARD_PATH = "/fsi/api/rsfComIfsService/callService"


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.", min=1, max=65535)] = 8080,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Database URL (default: env MEDROAM_DB, else sqlite:///./medroam.db).",
            show_default=False,
        ),
    ] = None,
    allow_unauthenticated: Annotated[
        bool,
        typer.Option(
            "--allow-unauthenticated",
            help="Accept requests without gateway headers (local development only).",
        ),
    ] = False,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning.")] = "info",
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            help="Worker processes (PostgreSQL; default: the number of cores). SQLite: 1.",
            min=1,
            show_default=False,
        ),
    ] = None,
    pool_size: Annotated[
        int,
        typer.Option(
            "--pool-size",
            help="Database connections per worker (also its requests in progress at once).",
            min=1,
        ),
    ] = 8,
    provinces: Annotated[
        Path | None,
        typer.Option(
            "--provinces",
            help="Province settings file (format of data/provinces.json; default: packaged).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the national interface (国家医保接口) for hospital HIS clients."""

    import uvicorn
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from medroam.gateway import logging as gateway_logging
    from medroam.gateway.asgi import engine_options, serve_environment
    from medroam.gateway.workers import Supervisor, reuse_port_supported
    from medroam.refdata.errors import ReferenceDataError
    from medroam.refdata.provinces import load_province_book
    from medroam.store.db import database_url, make_engine, upgrade

    if log_level.lower() not in ("debug", "info", "warning", "error"):
        fail(f"--log-level must be debug, info, warning or error, got {log_level!r}")
    try:
        load_province_book(provinces)
    except OSError as exc:
        fail(f"--provinces: cannot read {provinces}: {exc.strerror}")
    except ReferenceDataError as exc:
        fail(f"--provinces: {exc}")
    problem = port_problem(host, port)
    if problem:
        fail(problem)
    url = database_url(db)
    sqlite = url.startswith("sqlite")
    if sqlite and workers is not None and workers > 1:
        fail(
            f"--workers {workers}: SQLite allows one writer at a time, so it is served by one "
            "process; use PostgreSQL for several workers"
        )
    n_workers = 1 if sqlite else (workers or os.cpu_count() or 1)
    try:
        engine = make_engine(url, **engine_options(url, 1))
        upgrade(engine)
        engine.dispose()
    except ArgumentError as exc:
        fail(f"--db: not a database URL: {exc}")
    except SQLAlchemyError as exc:
        fail(f"cannot open the database: {str(exc).splitlines()[0]}", code=1)
    os.environ.update(
        serve_environment(
            db=url,
            allow_unauthenticated=allow_unauthenticated,
            log_level=log_level,
            provinces=provinces,
            pool_size=pool_size,
        )
    )
    gateway_logging.configure(log_level)
    mode = (
        "SQLite: one process (single writer)"
        if sqlite
        else f"{n_workers} worker process(es), {pool_size} connections each"
    )
    console.print(
        f"medroam gateway on http://{host}:{port}{STANDARD_PATH} ({mode})", highlight=False
    )
    if n_workers > 1 and reuse_port_supported():
        # a socket per worker (SO_REUSEPORT): see gateway/workers.py for why
        code = Supervisor(host, port, n_workers, log_level).run()
        if code:
            fail("the workers could not start (their errors are above)", code=code)
        return
    uvicorn.run(
        "medroam.gateway.asgi:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=n_workers if n_workers > 1 else None,
        log_level=log_level.lower(),
        access_log=False,
    )
