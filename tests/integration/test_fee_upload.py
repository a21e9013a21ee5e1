"""Fee upload (2204 / 2301) serial rules, on SQLite and PostgreSQL.

A visit's first upload reads nothing of stored lines (it has none); later uploads compare
with what is stored. The unlisted code is fully self-paid, so a line's result is its own
amount: 15.00 × 2 = 30.00 yuan (3,000 fen), 12.00 × 2 = 24.00 yuan (2,400 fen).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Engine, select

from medroam.domain.catalogue import classify_line
from medroam.services import fees
from medroam.services.errors import RefusedError
from medroam.services.uow import unit_of_work
from medroam.store.repositories import FeeLineRepository, VisitRepository, classified_values
from medroam.store.tables import FeeLineRow
from tests.integration.test_settlement_service_support import (
    EMPLOYEE_HHHT,
    H_BJ,
    NOW,
    admit,
    line,
    register,
)

pytestmark = pytest.mark.db

CODE = "NOT-IN-CATALOGUE-1"
PSN = EMPLOYEE_HHHT


def _stored(engine: Engine, mdtrt_id: str) -> list[tuple[str, int, str]]:
    with unit_of_work(engine) as s:
        rows = s.execute(
            select(FeeLineRow.feedetl_sn, FeeLineRow.amount, FeeLineRow.status)
            .where(FeeLineRow.mdtrt_id == mdtrt_id)
            .order_by(FeeLineRow.feedetl_sn)
        ).all()
    return [tuple(r) for r in rows]


def _upload(engine: Engine, lines: list[fees.FeeLineInput], inpatient: bool = False) -> list[int]:
    with unit_of_work(engine) as s:
        results = fees.upload_fees(s, H_BJ, NOW, lines, inpatient=inpatient, msgid="M-FEE")
    return [r.amount for r in results]


def test_resend_same_content_other_content_and_after_cancel(world: Engine) -> None:
    with unit_of_work(world) as s:
        mdtrt_id = register(s, PSN)
    first = [line(mdtrt_id, PSN, CODE, "15.00", "2", sn="S1")]
    assert _upload(world, first) == [3_000]
    assert _stored(world, mdtrt_id) == [("S1", 3_000, "uploaded")]
    # the same serial and content again: answered again, nothing added
    assert _upload(world, first) == [3_000]
    assert _stored(world, mdtrt_id) == [("S1", 3_000, "uploaded")]
    # other content under the same serial: refused, nothing changed
    other = [line(mdtrt_id, PSN, CODE, "12.00", "2", sn="S1")]
    with pytest.raises(RefusedError, match="already uploaded with other content"):
        _upload(world, other)
    assert _stored(world, mdtrt_id) == [("S1", 3_000, "uploaded")]
    # cancelled (2205), then sent again with the new price: the row is updated
    with unit_of_work(world) as s:
        fees.cancel_outpatient_fees(s, H_BJ, NOW, mdtrt_id=mdtrt_id, chrg_bchno="0000", psn_no=PSN)
    assert _stored(world, mdtrt_id) == [("S1", 3_000, "cancelled")]
    assert _upload(world, other) == [2_400]
    assert _stored(world, mdtrt_id) == [("S1", 2_400, "uploaded")]


def test_a_serial_stored_by_a_concurrent_upload_is_refused_not_an_error(
    world: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two uploads of one visit at once: the second waits for the visit's lock and, on
    PostgreSQL, then sees the visit's newest row but its count of stored lines as first
    read — 0, so it takes the first-upload path and does not read what is stored. Made
    here by answering that count with 0 after S1 is stored. Its S1 is then skipped by the
    insert, and the upload refused with a clear message (before: a unique-key violation
    answered "internal error"); S2 of the same upload is not written either."""
    with unit_of_work(world) as s:
        mdtrt_id = register(s, PSN)
    assert _upload(world, [line(mdtrt_id, PSN, CODE, "15.00", "2", sn="S1")]) == [3_000]
    head = VisitRepository.head_for_upload

    def stale(self: VisitRepository, code: str, visit_id: str) -> Any:
        found = head(self, code, visit_id)
        return found._replace(lines=0)  # the count as read before the other upload

    monkeypatch.setattr(VisitRepository, "head_for_upload", stale)
    both = [
        line(mdtrt_id, PSN, CODE, "15.00", "2", sn="S1"),
        line(mdtrt_id, PSN, CODE, "10.00", "1", sn="S2"),
    ]
    with pytest.raises(RefusedError, match="同时到达的另一笔上传已写入 1 条相同流水号"):
        _upload(world, both)
    assert _stored(world, mdtrt_id) == [("S1", 3_000, "uploaded")]


def test_a_refund_of_a_line_sent_in_the_same_upload(world: Engine) -> None:
    """An inpatient upload with a charge R1 (2 × 15.00 = 30.00) and, in the same call,
    a refund R2 of one of them (−1 × 15.00 = −15.00): accepted. A second upload refunding
    2 more (−30.00) would bring the refunds to −45.00, more than the 30.00 charged:
    refused, and nothing of it is stored."""
    with unit_of_work(world) as s:
        mdtrt_id = admit(s, PSN)
    charge = line(mdtrt_id, PSN, CODE, "15.00", "2", sn="R1")
    refund = line(mdtrt_id, PSN, CODE, "15.00", "-1", sn="R2", refund_of="R1")
    assert _upload(world, [charge, refund], inpatient=True) == [3_000, -1_500]
    too_much = line(mdtrt_id, PSN, CODE, "15.00", "-2", sn="R3", refund_of="R1")
    with pytest.raises(RefusedError, match="more than the charge"):
        _upload(world, [too_much], inpatient=True)
    assert _stored(world, mdtrt_id) == [("R1", 3_000, "uploaded"), ("R2", -1_500, "uploaded")]


def test_new_lines_are_stored_exactly_as_given(world: Engine) -> None:
    """Every column of a new line reads back as given: on PostgreSQL the lines go as one
    JSON document (``jsonb_populate_recordset``), on SQLite as an executemany. The line
    carries Chinese text, a JSON ``extra``, a naive local charge time and an aware upload
    time (stored as naive UTC, read back aware), NULLs and booleans."""
    with unit_of_work(world) as s:
        mdtrt_id = register(s, PSN)
    given = line(mdtrt_id, PSN, CODE, "15.00", "2", sn="J1")
    given = replace(given, bilg_dept_name="内科", extra={"备注": "值", "n": 1})
    result = classify_line(given.domain(), None)
    values = {
        **fees._line_values(given, "M-FEE", NOW),
        **classified_values(result),
        "mdtrt_id": mdtrt_id,
        "feedetl_sn": "J1",
    }
    with unit_of_work(world) as s:
        FeeLineRepository(s).insert_new([values])
    with unit_of_work(world) as s:
        row = s.execute(select(FeeLineRow).where(FeeLineRow.feedetl_sn == "J1")).scalar_one()
        stored = {key: getattr(row, key) for key in values}
    assert stored == values
    assert stored["uploaded_at"] == NOW and stored["extra"] == {"备注": "值", "n": 1}
