"""Worker processes of ``medroam serve --workers N``: each binds the port itself with
``SO_REUSEPORT``, and a small supervisor replaces any that dies.

Why not uvicorn's own ``workers``: its workers share one listening socket, and whichever
process is awake when connections arrive accepts them. A HIS keeps its connections open
(keep-alive), so a burst of connections at start-up stays on one worker: measured with 16
connections on 2 workers, one worker did 95 % of the work and the other idled. With a
socket per worker and ``SO_REUSEPORT`` the kernel spreads new connections over the
workers by their addresses, so each worker gets its share from the first connection on.

The supervisor (the parent process) holds no socket. A worker that dies (``kill -9``, a
crash) is started again; one that cannot even start (the port taken, a bad database)
stops the whole server after a few quick failures instead of looping. SIGINT / SIGTERM
stop the workers gracefully (uvicorn finishes the requests in flight).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import uvicorn

APP = "medroam.gateway.asgi:app_from_env"
QUICK_FAILURE_S = 5.0  # a worker that dies this soon after its start did not start
MAX_QUICK_FAILURES = 3
STOP_GRACE_S = 30.0
PARENT_CHECK_S = 1.0  # how often a worker looks whether its supervisor is still there


def reuse_port_supported() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def listening_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """This worker's own listening socket on the shared port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def run_worker(host: str, port: int, log_level: str) -> None:
    """One worker: its own socket, the gateway app built from the environment."""
    import uvicorn

    try:
        sock = listening_socket(host, port)
    except OSError as exc:
        raise SystemExit(f"worker: cannot listen on {host}:{port}: {exc.strerror}") from None
    config = uvicorn.Config(
        APP, factory=True, log_level=log_level.lower(), access_log=False, workers=1
    )
    server = uvicorn.Server(config)
    stop_with_parent(server, os.getppid())
    server.run(sockets=[sock])


def stop_with_parent(
    server: uvicorn.Server, parent: int, every: float = PARENT_CHECK_S
) -> threading.Thread:
    """Watch, in a daemon thread, whether this process still has ``parent``; once it is
    gone (the process re-parented), ask ``server`` to stop as on SIGTERM (uvicorn's
    ``should_exit``: requests in flight are finished)."""

    def watch() -> None:
        while not server.should_exit:
            if os.getppid() != parent:
                server.should_exit = True
                return
            time.sleep(every)

    thread = threading.Thread(target=watch, name="medroam-parent-watch", daemon=True)
    thread.start()
    return thread


@dataclass
class Supervisor:
    """Keeps ``count`` workers running until asked to stop."""

    host: str
    port: int
    count: int
    log_level: str = "info"
    workers: dict[int, tuple[BaseProcess, float]] = field(default_factory=dict)
    stopping: bool = False
    quick_failures: int = 0

    def _start(self, slot: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        process = ctx.Process(
            target=run_worker,
            args=(self.host, self.port, self.log_level),
            name=f"medroam-worker-{slot}",
            daemon=False,
        )
        process.start()
        self.workers[slot] = (process, time.monotonic())

    def _stop(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def run(self) -> int:
        """Serve until SIGINT / SIGTERM; the exit code (1 if the workers cannot start)."""
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for slot in range(self.count):
                self._start(slot)
            while not self.stopping:
                time.sleep(0.2)
                for slot, (process, started) in list(self.workers.items()):
                    if process.is_alive() or self.stopping:
                        continue
                    if time.monotonic() - started < QUICK_FAILURE_S:
                        self.quick_failures += 1
                        if self.quick_failures >= MAX_QUICK_FAILURES:
                            self.stopping = True
                            return 1
                    self._start(slot)
            return 0
        finally:
            self._shutdown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _shutdown(self) -> None:
        for process, _started in self.workers.values():
            if process.is_alive() and process.pid is not None:
                process.terminate()  # SIGTERM: uvicorn finishes what is in flight
        deadline = time.monotonic() + STOP_GRACE_S
        for process, _started in self.workers.values():
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
