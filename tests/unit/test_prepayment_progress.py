"""The prepayment step's progress reaches its total (issue 12 item 18: it stopped at
924/950 because pairs with nothing cleared were counted in the total but skipped)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from medroam.services import sim


def test_issue_quotas_progress_reaches_its_total(monkeypatch: pytest.MonkeyPatch) -> None:
    basis = {
        ("national", "110000", "440000"): 1_000_00,
        ("national", "310000", "440000"): 0,  # nothing cleared: no quota
        ("provincial", "440100", "440300"): 500_00,
    }
    set_quotas: list[tuple[Any, ...]] = []
    monkeypatch.setattr(sim, "quota_basis", lambda books: basis)
    monkeypatch.setattr(
        sim.prepayment, "set_quota", lambda *args, **kwargs: set_quotas.append(args)
    )
    calls: list[tuple[int, int]] = []
    quotas = sim.issue_quotas(
        None,  # type: ignore[arg-type]  # never touched: set_quota is replaced
        None,  # type: ignore[arg-type]
        date(2026, 10, 1),
        date(2026, 10, 31),
        sim.SimConfig(),
        now=datetime(2026, 11, 1),
        progress=lambda what, done, total: calls.append((done, total)),
    )
    assert len(quotas) == 2 and len(set_quotas) == 2
    assert calls[0] == (0, 2) and calls[-1] == (2, 2)
