"""msgid idempotency over real HTTP: the same request again returns the first answer and
writes nothing; a different request under a used msgid is refused; refusals are stored
so that a retry gets the same answer; identical msgids arriving at once run once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import select

from medroam.store.tables import MessageLogRow
from tests.http.conftest import H1, Gateway
from tests.http.helpers import SIGN_IN, answer

pytestmark = pytest.mark.db


def _log_rows(gw: Gateway, msgid: str) -> list[Any]:
    with gw.engine.connect() as c:
        return list(c.execute(select(MessageLogRow).where(MessageLogRow.msgid == msgid)))


def test_same_msgid_same_request_returns_the_first_answer(gw: Gateway) -> None:
    client = gw.client("h1")
    body = client.envelope("9001", SIGN_IN)
    first = client.post(body, infno="9001")
    before = gw.counts("sign_ins", "message_log")
    # a retry: new gateway headers (new nonce), a new inf_time, same msgid and input
    body_again = {**body, "inf_time": "2030-01-01 00:00:00"}
    second = client.post(body_again, infno="9001")
    assert second.content == first.content
    assert gw.counts("sign_ins", "message_log") == before
    rows = _log_rows(gw, body["msgid"])
    assert len(rows) == 1 and rows[0].infcode == 0 and rows[0].fixmedins_code == H1[0]
    assert rows[0].response == first.content.decode()


def test_same_msgid_different_request_is_refused(gw: Gateway) -> None:
    client = gw.client("h1")
    body = client.envelope("9001", SIGN_IN)
    assert answer(client.post(body, infno="9001"))["infcode"] == 0
    before = gw.counts("sign_ins", "message_log")
    other = {**body, "input": {"signIn": {**SIGN_IN["signIn"], "ip": "10.0.0.9"}}}
    doc = answer(client.post(other, infno="9001"))
    assert doc["infcode"] == -1
    assert doc["err_msg"].startswith(
        f"msgid {body['msgid']} was already used for a different request (infno 9001, received "
    )
    assert gw.counts("sign_ins", "message_log") == before
    # under another infno too
    doc = answer(client.post({**body, "infno": "9002"}, infno="9002"))
    assert "was already used for a different request" in doc["err_msg"]


def test_the_same_msgid_of_another_institution_is_independent(gw: Gateway) -> None:
    h1, h2 = gw.client("h1"), gw.client("h2")
    msgid = "SHARED" + h1.new_msgid()[12:]
    a = h1.call("9001", SIGN_IN, msgid=msgid)
    b = h2.call("9001", SIGN_IN, msgid=msgid)
    assert a["infcode"] == b["infcode"] == 0
    assert a["output"] != b["output"]
    assert len(_log_rows(gw, msgid)) == 2


def test_a_refusal_is_stored_and_replayed(gw: Gateway) -> None:
    client = gw.client("h1")
    body = client.envelope(
        "9002", {"signOut": {"sign_no": "19990101000000000000000000", "opter_no": "1"}}
    )
    first = client.post(body, infno="9002")
    doc = answer(first)
    assert doc["infcode"] == -1 and "no sign-in 19990101000000000000000000" in doc["err_msg"]
    rows = _log_rows(gw, body["msgid"])
    assert len(rows) == 1 and rows[0].infcode == -1
    again = client.post(body, infno="9002")
    assert again.content == first.content


def test_a_refusal_rolls_back_what_the_handler_wrote(gw: Gateway) -> None:
    # 9001 with a valid signIn but an over-long mac: refused before anything is kept
    client = gw.client("h1")
    before = gw.counts("sign_ins")
    doc = client.call("9001", {"signIn": {**SIGN_IN["signIn"], "mac": "m" * 41}})
    assert doc["err_msg"] == "input.signIn.mac: longer than 40 characters (41)"
    assert gw.counts("sign_ins") == before


def test_read_only_transactions_are_not_logged(gw: Gateway) -> None:
    client = gw.client("h1")
    before = gw.count("message_log")
    body = client.envelope("1901", {"data": {"type": "insutype"}})
    assert answer(client.post(body, infno="1901"))["infcode"] == 0
    assert answer(client.post(body, infno="1901"))["infcode"] == 0
    assert gw.count("message_log") == before


def test_identical_msgids_arriving_at_once_run_once(gw: Gateway) -> None:
    client = gw.client("h1")
    body = client.envelope("9001", SIGN_IN)
    before = gw.counts("sign_ins", "message_log")
    results: list[bytes] = []
    statuses: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def send() -> None:
        barrier.wait()
        response = client.post(body, infno="9001")
        with lock:
            results.append(response.content)
            statuses.append(response.status_code)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert statuses == [200] * 6
    assert len(set(results)) == 1, {r[:200] for r in results}
    assert answer_of(results[0])["infcode"] == 0
    after = gw.counts("sign_ins", "message_log")
    assert after == {k: v + 1 for k, v in before.items()}


def answer_of(content: bytes) -> dict[str, Any]:
    import json
    from decimal import Decimal

    doc = json.loads(content, parse_float=Decimal)
    assert isinstance(doc, dict)
    return doc
