"""Mounting the console on the gateway's FastAPI application."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from medroam.web.console import build_router
from medroam.web.security import WebSettings
from medroam.web.selfservice import build_self_router

STATIC_DIR = Path(__file__).parent / "static"
STATIC_URL = "/static"


def settings_from_env() -> WebSettings:
    """``MEDROAM_COOKIE_SECURE=1`` marks cookies Secure (behind HTTPS);
    ``MEDROAM_SESSION_MINUTES`` sets the idle expiry of a session."""
    minutes = os.environ.get("MEDROAM_SESSION_MINUTES", "")
    return WebSettings(
        secure_cookie=os.environ.get("MEDROAM_COOKIE_SECURE", "") in {"1", "true", "yes"},
        session_minutes=int(minutes) if minutes.isdigit() and int(minutes) > 0 else 30,
    )


def _utc_now() -> datetime:
    return datetime.now(UTC)


def mount_web(
    app: FastAPI,
    engine: Engine,
    *,
    clock: Callable[[], datetime] | None = None,
    settings: WebSettings | None = None,
) -> None:
    """Serve the console at ``/``, the self-service pages at ``/self/`` and the bundled
    assets at ``/static`` on ``app``."""
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="static")
    chosen = settings or settings_from_env()
    app.include_router(build_router(engine, clock or _utc_now, chosen))
    app.include_router(build_self_router(engine, clock or _utc_now, chosen))
