"""``medroam serve``: run the national-interface gateway (uvicorn).

Migrates the database if needed, refuses a port that is already in use with a clear
message, and serves ``POST /fsi/api/rsfComIfsService/callService`` (and its variants,
see ``medroam.gateway.app``) until interrupted.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from medroam.cli.common import console, fail
from medroam.gateway import logging as gateway_logging
from medroam.gateway.app import STANDARD_PATH, create_app
from medroam.gateway.settings import GatewaySettings
from medroam.refdata.errors import ReferenceDataError
from medroam.refdata.provinces import load_province_book
from medroam.store.db import database_url, make_engine, upgrade


def port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be served, or None when it is free."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return f"cannot resolve host {host!r}: {exc.strerror}"
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"port {port} on {host} is already in use; stop the other server or pass --port"
                )
            return f"cannot listen on {host}:{port}: {exc.strerror}"
    return None


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
    if log_level.lower() not in ("debug", "info", "warning", "error"):
        fail(f"--log-level must be debug, info, warning or error, got {log_level!r}")
    try:
        province_book = load_province_book(provinces)
    except OSError as exc:
        fail(f"--provinces: cannot read {provinces}: {exc.strerror}")
    except ReferenceDataError as exc:
        fail(f"--provinces: {exc}")
    problem = port_problem(host, port)
    if problem:
        fail(problem)
    url = database_url(db)
    try:
        engine = make_engine(url)
        upgrade(engine)
    except ArgumentError as exc:
        fail(f"--db: not a database URL: {exc}")
    except SQLAlchemyError as exc:
        fail(f"cannot open the database: {str(exc).splitlines()[0]}", code=1)
    settings = GatewaySettings(
        allow_unauthenticated=allow_unauthenticated,
        log_bodies=log_level.lower() == "debug",
        provinces=province_book,
    )
    gateway_logging.configure(log_level)
    app = create_app(engine, settings)
    console.print(f"medroam gateway on http://{host}:{port}{STANDARD_PATH}", highlight=False)
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level.lower(), access_log=False)
    finally:
        engine.dispose()
