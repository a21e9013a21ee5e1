"""HisClient msgids: the interface's format (fixmedins_code + yyyyMMddHHmmss + 4-digit
sequence, 30 characters for a 12-character code) and unique across client instances of
one institution within the same second (issue 12 item 20)."""

from __future__ import annotations

import re

from medroam.client import HisClient

CODE = "H44030500001"  # SYNTHETIC institution code, 12 characters
FROZEN = 1_767_225_600.0  # 2026-01-01 08:00:00 China time; every msgid in the same second


def _client() -> HisClient:
    return HisClient("http://127.0.0.1:9", CODE, "测试医院", "440305", clock=lambda: FROZEN)


def test_msgid_format() -> None:
    with _client() as client:
        msgid = client.new_msgid()
    assert len(msgid) == 30
    assert re.fullmatch(CODE + r"20260101080000[0-9]{4}", msgid), msgid
    assert msgid[-4:] != "0000"


def test_two_clients_in_one_second_never_repeat_a_msgid() -> None:
    """Before: each client counted from 0001, so the second client's first msgid equalled
    the first client's."""
    a, b = _client(), _client()
    try:
        ids = [a.new_msgid() for _ in range(300)] + [b.new_msgid() for _ in range(300)]
    finally:
        a.close()
        b.close()
    assert len(set(ids)) == 600
