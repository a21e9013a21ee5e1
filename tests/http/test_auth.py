"""Gateway authentication over real HTTP: TIF, CSB and API-key schemes, each failure with
its own message (HTTP 401, envelope shape plus code/message), nothing written."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.http.conftest import H1, H2, Gateway
from tests.http.helpers import DICT_QUERY, SIGN_IN, WRITABLE, answer

pytestmark = pytest.mark.db


def tif_headers(
    paasid: str, token: str, *, ts: int | None = None, nonce: str = ""
) -> dict[str, str]:
    stamp = str(int(time.time()) if ts is None else ts)
    nonce = nonce or hashlib.md5(str(time.perf_counter_ns()).encode()).hexdigest()
    signature = hashlib.sha256((stamp + token + nonce + stamp).encode()).hexdigest()
    return {
        "x-tif-paasid": paasid,
        "x-tif-timestamp": stamp,
        "x-tif-nonce": nonce,
        "x-tif-signature": signature,
    }


def csb_headers(ak: str, sk: str, name: str, *, ts: str | None = None) -> dict[str, str]:
    params = {
        "_api_access_key": ak,
        "_api_name": name,
        "_api_timestamp": ts or str(int(time.time() * 1000)),
        "_api_version": "1.0.0",
    }
    message = "&".join(f"{k}={params[k]}" for k in sorted(params))
    digest = hmac.new(sk.encode(), message.encode(), hashlib.sha1).digest()
    return {**params, "_api_signature": base64.b64encode(digest).decode()}


def test_tif_signature_known_answer() -> None:
    # sha256("1700000000" + "secret" + "n1" + "1700000000"), computed independently
    headers = tif_headers("p", "secret", ts=1700000000, nonce="n1")
    assert headers["x-tif-signature"] == hashlib.sha256(b"1700000000secretn11700000000").hexdigest()


def test_csb_string_to_sign_is_sorted_pairs() -> None:
    from medroam.gateway.auth import csb_signature, csb_string_to_sign

    params = {
        "_api_version": "1.0.0",
        "_api_name": "1101",
        "_api_timestamp": "1",
        "_api_access_key": "ak",
    }
    assert csb_string_to_sign(params) == (
        "_api_access_key=ak&_api_name=1101&_api_timestamp=1&_api_version=1.0.0"
    )
    expected = base64.b64encode(
        hmac.new(b"sk", csb_string_to_sign(params).encode(), hashlib.sha1).digest()
    ).decode()
    assert csb_signature("sk", params) == expected


@pytest.mark.parametrize("client_name", ["h1", "h1_csb", "h1_apikey", "h2"])
def test_each_scheme_signs_in(gw: Gateway, client_name: str) -> None:
    client = gw.client(client_name)
    output = client.call_ok("9001", SIGN_IN)
    assert len(output["signinoutb"]["sign_no"]) == 26


def test_csb_timestamp_in_seconds_is_accepted(gw: Gateway) -> None:
    client = gw.client("h1_csb")
    body = client.envelope("1901", DICT_QUERY)
    headers = csb_headers("ak-h1", "sk-h1", "1901", ts=str(int(time.time())))
    assert answer(client.post(body, headers=headers))["infcode"] == 0


def _refused(gw: Gateway, headers: dict[str, str], body: dict[str, Any] | None = None) -> str:
    """Send a 9001 (state-changing) with these headers; check 401 and nothing written."""
    client = gw.client("h1")
    before = gw.counts(*WRITABLE)
    response = client.post(body or client.envelope("9001", SIGN_IN), headers=headers)
    assert response.status_code == 401
    doc = answer(response)
    assert doc["infcode"] == -1 and doc["code"] == 401
    assert doc["message"] == doc["err_msg"]
    assert list(doc)[:6] == [
        "infcode",
        "inf_refmsgid",
        "refmsg_time",
        "respond_time",
        "err_msg",
        "output",
    ]
    assert gw.counts(*WRITABLE) == before, "a refused request wrote something"
    message = doc["err_msg"]
    assert isinstance(message, str)
    return message


CASES: dict[str, tuple[Callable[[], dict[str, str]], str]] = {
    "no headers": (lambda: {}, "缺少服务网关的请求头! missing gateway authentication headers"),
    "missing tif header": (
        lambda: {k: v for k, v in tif_headers("paas-h1", "token-h1").items() if k != "x-tif-nonce"},
        "缺少服务网关的请求头! missing header x-tif-nonce",
    ),
    "bad tif signature": (
        lambda: tif_headers("paas-h1", "wrong-token"),
        "签名不一致! bad signature (x-tif-signature)",
    ),
    "expired tif timestamp": (
        lambda: tif_headers("paas-h1", "token-h1", ts=int(time.time()) - 400),
        r"签名时间戳超时! x-tif-timestamp is 4[0-9][0-9] s old, outside the 300 s window",
    ),
    "future tif timestamp": (
        lambda: tif_headers("paas-h1", "token-h1", ts=int(time.time()) + 400),
        r"签名时间戳超时! x-tif-timestamp is 3[5-9][0-9] s in the future, outside the 300 s window",
    ),
    "non-numeric timestamp": (
        lambda: {**tif_headers("paas-h1", "token-h1"), "x-tif-timestamp": "soon"},
        "签名时间戳超时! x-tif-timestamp must be a Unix time in digits",
    ),
    "unknown paasid": (
        lambda: tif_headers("paas-nobody", "token-h1"),
        "非法用户! unknown paasid 'paas-nobody'",
    ),
    "deactivated paasid": (
        lambda: tif_headers("paas-h1-old", "token-h1-old"),
        "非法用户! paasid 'paas-h1-old' is deactivated",
    ),
    "other institution's credentials": (
        lambda: tif_headers("paas-h2", "token-h2"),
        f"institution mismatch: the credentials belong to {H2[0]}, "
        f"the envelope's fixmedins_code is '{H1[0]}'",
    ),
    "bad csb signature": (
        lambda: {**csb_headers("ak-h1", "sk-h1", "9001"), "_api_signature": "AAAA"},
        "签名不一致! bad signature (_api_signature)",
    ),
    "expired csb timestamp": (
        lambda: csb_headers("ak-h1", "sk-h1", "9001", ts=str(int((time.time() - 1801) * 1000))),
        r"签名时间戳超时! _api_timestamp is 18[0-9][0-9] s old, outside the 1800 s window",
    ),
    "unknown csb access key": (
        lambda: csb_headers("ak-nobody", "sk-h1", "9001"),
        "非法用户! unknown access key 'ak-nobody'",
    ),
    "csb api name of another transaction": (
        lambda: csb_headers("ak-h1", "sk-h1", "1101"),
        "签名不一致! _api_name 1101 does not match infno 9001",
    ),
    "missing csb header": (
        lambda: {
            k: v for k, v in csb_headers("ak-h1", "sk-h1", "9001").items() if k != "_api_version"
        },
        "缺少服务网关的请求头! missing header _api_version",
    ),
    "unknown api key": (lambda: {"apikey": "guess"}, "非法用户! unknown apikey 'guess'"),
}


PATTERNS = {"expired tif timestamp", "future tif timestamp", "expired csb timestamp"}


@pytest.mark.parametrize("case", list(CASES))
def test_auth_failures(gw: Gateway, case: str) -> None:
    make_headers, expected = CASES[case]
    message = _refused(gw, make_headers())
    assert re.match(expected if case in PATTERNS else re.escape(expected), message), message


def test_replayed_nonce_is_refused(gw: Gateway) -> None:
    client = gw.client("h1")
    headers = tif_headers("paas-h1", "token-h1")
    first = client.post(client.envelope("1901", DICT_QUERY), headers=headers)
    assert answer(first)["infcode"] == 0
    message = _refused(gw, headers)
    assert message == f"replayed nonce: x-tif-nonce '{headers['x-tif-nonce']}' was already used"


def test_a_replayed_nonce_on_a_state_changing_call_writes_nothing(gw: Gateway) -> None:
    """The same TIF headers sent again with a new msgid and another sign-in: refused as a
    replay, and neither a sign-in nor a message-log row is added (refused by the worker's
    memo of committed nonces; on another worker, on PostgreSQL, by the statement that
    logs the answer, after the handler ran, everything rolled back)."""
    client = gw.client("h1")
    headers = tif_headers("paas-h1", "token-h1")
    first = client.post(client.envelope("9001", SIGN_IN), headers=headers)
    assert answer(first)["infcode"] == 0
    before = gw.counts("sign_ins", "message_log", "gateway_nonces")
    other = client.envelope("9001", {"signIn": {**SIGN_IN["signIn"], "opter_no": "0003"}})
    message = _refused(gw, headers, other)
    assert message == f"replayed nonce: x-tif-nonce '{headers['x-tif-nonce']}' was already used"
    assert gw.counts("sign_ins", "message_log", "gateway_nonces") == before
    # the same body with fresh headers goes through: the refusal stored nothing
    assert answer(client.post(other))["infcode"] == 0


def test_a_replay_of_a_nonce_this_worker_committed_is_refused_before_the_database(
    gw: Gateway,
) -> None:
    """Each worker remembers the nonces it committed (``auth.SpentNonces``): a replay of
    one is refused with the same answer as the database gives, but without a statement
    (a 9001 sign-in, state-changing: before, on PostgreSQL, its handler ran and the
    insert of its log row found the nonce taken). A pipeline of its own over the same
    database, statements counted. A request refused before its transaction (an unknown
    infno) spends nothing: its headers may be sent again, and go through. A second
    worker, whose memo is empty, still refuses the replay, through the database."""
    from medroam.gateway.dispatch import Gateway as Pipeline
    from medroam.gateway.jsonfmt import dumps
    from medroam.store import sqlstats
    from medroam.store.db import make_engine

    engine = make_engine(gw.engine.url.render_as_string(hide_password=False))
    sqlstats.install(engine)
    worker, other_worker = Pipeline(engine, gw.settings), Pipeline(engine, gw.settings)
    client = gw.client("h1")

    def send(pipeline: Pipeline, headers: dict[str, str], infno: str = "9001") -> Any:
        body = dumps(client.envelope(infno, SIGN_IN)).encode()
        return pipeline.process(headers, body)

    headers = tif_headers("paas-h1", "token-h1")
    refused_early = send(worker, headers, infno="9999")  # no such transaction
    # (its one statement is the credentials' load into the worker's cache)
    assert refused_early.infcode == -1 and refused_early.sql.commits == 0
    first = send(worker, headers)  # the same headers: the nonce was not spent
    assert first.infcode == 0 and first.sql.commits == 1
    replay = message_of(send(worker, headers))
    assert replay == (
        401,
        0,
        f"replayed nonce: x-tif-nonce '{headers['x-tif-nonce']}' was already used",
    )
    assert message_of(send(other_worker, headers))[0] == 401  # through the database
    engine.dispose()


def message_of(outcome: Any) -> tuple[int, int, str]:
    """An outcome's HTTP status, statements run and err_msg."""
    import json

    return outcome.status, outcome.sql.statements, json.loads(outcome.body)["err_msg"]


def test_reused_csb_header_set_is_refused(gw: Gateway) -> None:
    """A CSB signature covers neither body nor msgid: a header set signed for one 9001 is
    refused when sent again with another body and msgid within its window."""
    client = gw.client("h1_csb")
    headers = csb_headers("ak-h1", "sk-h1", "9001")
    first = client.post(client.envelope("9001", SIGN_IN), headers=headers)
    assert answer(first)["infcode"] == 0
    other = client.envelope("9001", {"signIn": {**SIGN_IN["signIn"], "opter_no": "0002"}})
    message = _refused(gw, headers, other)
    assert message == (
        "签名不一致! replayed request: this _api_signature was already used within the "
        "1800 s window; sign each request anew"
    )


def test_inactive_institution_is_refused(gw: Gateway) -> None:
    client = gw.client("h3")
    response = client.post(client.envelope("1901", DICT_QUERY), infno="1901")
    assert response.status_code == 401
    assert answer(response)["err_msg"] == "非法用户! institution H44030500003 is not active"


def test_window_follows_the_server_clock(gw: Gateway) -> None:
    # the client's timestamp is now; the server is 10 minutes ahead: outside 300 s
    gw.clock.offset = timedelta(minutes=10)
    message = _refused(gw, tif_headers("paas-h1", "token-h1"))
    assert "签名时间戳超时! x-tif-timestamp is" in message


def test_old_nonces_are_purged(gw: Gateway) -> None:
    client = gw.client("h1")
    assert client.call("1901", DICT_QUERY)["infcode"] == 0
    assert gw.count("gateway_nonces") >= 1
    # 61 minutes later (beyond 2 × the longer window, CSB's 1,800 s) the next request
    # purges the remembered nonces (and CSB signatures)
    gw.shift(timedelta(minutes=61))
    assert client.call("1901", DICT_QUERY)["infcode"] == 0
    assert gw.count("gateway_nonces") == 1


def test_unauthenticated_mode_only_when_allowed(make_gateway: Any) -> None:
    gw = make_gateway(allow_unauthenticated=True)
    client = gw.client("h1")
    body = client.envelope("1901", DICT_QUERY)
    assert answer(client.post(body, headers={}))["infcode"] == 0
    # still: the institution must exist and be active
    body = gw.client("h3").envelope("1901", DICT_QUERY)
    response = client.post(body, headers={})
    assert response.status_code == 401
    body["fixmedins_code"] = "H00000000000"
    assert answer(client.post(body, headers={}))["err_msg"] == (
        "非法用户! unknown institution fixmedins_code 'H00000000000'"
    )
