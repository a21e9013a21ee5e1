"""A second ``medroam demo`` in the same folder must not replace ``var/demo.db`` under a
running one (issue 12 item 15)."""

from __future__ import annotations

from pathlib import Path

import pytest

from medroam.services.demo import DemoConfig, acquire_lock, release_lock, run_demo
from medroam.services.sim import SimConfig, SimError


def test_a_second_demo_is_refused_and_leaves_the_database_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first = acquire_lock()  # the running demo (serving var/demo.db)
    db = tmp_path / "var" / "demo.db"
    db.write_bytes(b"the running demo's database")
    try:
        with pytest.raises(SimError, match=r"another medroam demo \(pid \d+\).*--db"):
            run_demo(DemoConfig(SimConfig()))
        assert db.read_bytes() == b"the running demo's database"
    finally:
        release_lock(first)
    # once the first has stopped, the lock is free again
    release_lock(acquire_lock())
