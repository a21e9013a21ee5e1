"""The interface's hot path runs ``Gateway.process`` on the app's own thread pool
(``GatewayApp.executor``): at most ``thread_limit`` calls at once, every request still
answered, the pool closed when the app's lifespan ends."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from medroam.gateway.app import STANDARD_PATH, create_app
from medroam.gateway.dispatch import Outcome
from medroam.store.db import make_engine, upgrade


def test_at_most_thread_limit_calls_run_at_once_and_all_are_answered(tmp_path: Path) -> None:
    """12 requests sent at once to an app with ``thread_limit`` 2, each call held 50 ms
    inside ``Gateway.process``: never more than 2 inside at a time, both threads used,
    all 12 answered (HTTP 401: the requests carry no credentials), and the pool is gone
    after the lifespan."""
    engine = make_engine(f"sqlite:///{tmp_path / 'gw.db'}")
    upgrade(engine)
    app = create_app(engine, thread_limit=2)
    process = app.gateway.process
    lock = threading.Lock()
    inside = 0
    most = 0
    threads: set[str] = set()

    def held(*args: Any, **kwargs: Any) -> Outcome:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
            threads.add(threading.current_thread().name)
        try:
            time.sleep(0.05)
            return process(*args, **kwargs)
        finally:
            with lock:
                inside -= 1

    app.gateway.process = held  # type: ignore[method-assign]

    async def run() -> list[httpx.Response]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                calls = [client.post(STANDARD_PATH, content=b"{}") for _ in range(12)]
                answers = await asyncio.gather(*calls)
            assert app._executor is not None
        return list(answers)

    try:
        # a loop of its own in a thread of its own: an earlier test (Playwright's sync
        # API) may leave an event loop running in this thread, and asyncio.run refuses
        with ThreadPoolExecutor(1) as one:
            answers = one.submit(asyncio.run, run()).result()
    finally:
        engine.dispose()
    assert [a.status_code for a in answers] == [401] * 12
    assert all(a.headers["content-type"] == "application/json;charset=utf-8" for a in answers)
    assert all(a.json()["infcode"] == -1 for a in answers)
    assert most == 2
    assert len(threads) == 2 and all(t.startswith("gateway") for t in threads)
    assert app._executor is None  # closed with the lifespan
