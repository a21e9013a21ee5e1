"""The endpoint over real HTTP: paths, content types, the response envelope, refusals of
malformed requests (nothing written), unexpected errors, and a fuzz test (no 5xx)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from medroam.gateway.app import JILIN_PATH, STANDARD_PATH
from medroam.gateway.errors import GatewayError
from medroam.gateway.reader import Node
from medroam.gateway.registry import RequestContext, handler
from tests.http.conftest import Gateway
from tests.http.helpers import DICT_QUERY, SIGN_IN, WRITABLE, answer

pytestmark = pytest.mark.db

ENVELOPE_KEYS = ["infcode", "inf_refmsgid", "refmsg_time", "respond_time", "err_msg", "output"]


@handler("9990", "测试: unexpected exception", state_changing=True)
def _explode(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    raise RuntimeError("boom: certno 110101199003071234")


@handler("9991", "测试: refusal subclass", state_changing=False)
def _refuse(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    raise GatewayError("refused on purpose")


def test_success_envelope_has_the_documented_shape(gw: Gateway) -> None:
    client = gw.client("h1")
    response = client.post(client.envelope("1901", DICT_QUERY), infno="1901")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    doc = answer(response)
    assert list(doc)[:6] == ENVELOPE_KEYS
    assert doc["infcode"] == 0 and isinstance(doc["infcode"], int)
    assert re.fullmatch(r"440305[0-9]{24}", doc["inf_refmsgid"])
    assert re.fullmatch(r"[0-9]{17}", doc["refmsg_time"])
    assert re.fullmatch(r"[0-9]{17}", doc["respond_time"])
    assert doc["respond_time"] >= doc["refmsg_time"]
    assert doc["err_msg"] == ""
    # the answer is compact JSON with "infcode":0 as a number
    assert b'"infcode":0,' in response.content


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json;charset=utf-8", "text/plain; charset=utf-8", ""],
)
def test_content_types_are_accepted(gw: Gateway, content_type: str) -> None:
    client = gw.client("h1")
    response = client.post(
        client.envelope("1901", DICT_QUERY), infno="1901", content_type=content_type
    )
    assert answer(response)["infcode"] == 0


def test_jilin_path_and_path_with_infno(gw: Gateway) -> None:
    client = gw.client("h1")
    assert (
        answer(client.post(client.envelope("1901", DICT_QUERY), infno="1901", path=JILIN_PATH))[
            "infcode"
        ]
        == 0
    )
    ok = client.post(
        client.envelope("1901", DICT_QUERY), infno="1901", path=STANDARD_PATH + "/1901"
    )
    assert answer(ok)["infcode"] == 0
    # the path stands in for a missing infno
    body = client.envelope("1901", DICT_QUERY)
    del body["infno"]
    assert answer(client.post(body, infno="1901", path=STANDARD_PATH + "/1901"))["infcode"] == 0


def test_per_transaction_paths(gw: Gateway) -> None:
    client = gw.client("h1")
    path = "/fsi/api/signInSignOutService/signIn"
    body = client.envelope("9001", SIGN_IN)
    del body["infno"]
    doc = answer(client.post(body, infno="9001", path=path))
    assert doc["infcode"] == 0 and "signinoutb" in doc["output"]
    doc = answer(client.post(client.envelope("1901", DICT_QUERY), infno="1901", path=path))
    assert doc["err_msg"] == "infno: the path names 9001 but the envelope's infno is 1901"
    # the 4101 path reaches the settlement-list handler, which validates its input
    doc = answer(
        client.post(client.envelope("4101", {}), path="/fsi/api/medinfoupload/setllistinfoupld")
    )
    assert doc["infcode"] == -1 and doc["err_msg"].startswith("input.setlinfo")


def test_path_and_envelope_must_agree(gw: Gateway) -> None:
    client = gw.client("h1")
    before = gw.counts(*WRITABLE)
    response = client.post(
        client.envelope("9001", SIGN_IN), infno="9001", path=STANDARD_PATH + "/1101"
    )
    doc = answer(response)
    assert response.status_code == 200 and doc["infcode"] == -1
    assert doc["err_msg"] == "infno: the path names 1101 but the envelope's infno is 9001"
    assert doc["output"] is None
    assert gw.counts(*WRITABLE) == before


def _refusal(gw: Gateway, body: bytes | str | dict[str, Any], infno: str = "9001") -> str:
    client = gw.client("h1")
    before = gw.counts(*WRITABLE)
    response = client.post(body, infno=infno)
    assert response.status_code == 200
    doc = answer(response)
    assert doc["infcode"] == -1 and doc["output"] is None
    assert list(doc)[:6] == ENVELOPE_KEYS
    assert gw.counts(*WRITABLE) == before, "a refused request wrote something"
    message = doc["err_msg"]
    assert isinstance(message, str)
    return message


def test_malformed_json_is_refused(gw: Gateway) -> None:
    message = _refusal(gw, b'{"infno": "9001", "msgid": ')
    assert message.startswith("request body is not valid JSON: Expecting value at line 1")
    assert _refusal(gw, b"") == "request body is empty: expected the JSON envelope"
    assert _refusal(gw, b"\xff\xfe{}").startswith("request body is not UTF-8")
    assert _refusal(gw, b"[1, 2]").startswith("request body must be a JSON object")
    assert "NaN is not a number" in _refusal(gw, b'{"infno": NaN}')


def _envelope(gw: Gateway, *, base: str = "9001", **changes: Any) -> dict[str, Any]:
    body = gw.client("h1").envelope(base, SIGN_IN)
    for key, value in changes.items():
        if value is ...:
            del body[key]
        else:
            body[key] = value
    return body


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"infno": ...}, "infno: is required (必填)"),
        ({"msgid": ...}, "msgid: is required (必填)"),
        ({"msgid": "null"}, "msgid: is required (必填)"),
        ({"fixmedins_code": ...}, "fixmedins_code: is required (必填)"),
        ({"input": ...}, "input: is required (必填): the transaction's input object"),
        ({"input": [1]}, "input: must be a JSON object, got [1]"),
        ({"input": "U2FsdGVk"}, "input: must be a JSON object; encrypted input"),
        ({"infno": "9999"}, "infno: unknown transaction 9999 (交易编号不存在)"),
        ({"infno": "1234567"}, "infno: longer than 6 characters (7)"),
        ({"infno": "ab12"}, "infno: 'ab12' is not a transaction code"),
        ({"infno": True}, "infno: must be a string, got true"),
        ({"msgid": "M" * 31}, "msgid: longer than 30 characters (31)"),
        ({"msgid": "a b"}, "msgid: must not contain spaces"),
        ({"mdtrtarea_admvs": "4403"}, "mdtrtarea_admvs: must be a 6-digit region code or empty"),
        ({"inf_time": "yesterday"}, "inf_time: must be a time yyyy-MM-dd HH:mm:ss"),
        ({"opter_name": "x" * 51}, "opter_name: longer than 50 characters (51)"),
        ({"fixmedins_name": {"a": 1}}, 'fixmedins_name: must be a string, got {"a": 1}'),
    ],
)
def test_envelope_field_refusals(gw: Gateway, changes: dict[str, Any], expected: str) -> None:
    assert _refusal(gw, _envelope(gw, **changes)).startswith(expected)


def test_lenient_envelope_values_are_accepted(gw: Gateway) -> None:
    client = gw.client("h1")
    body = _envelope(
        gw,
        base="1901",
        infver="1.0.0",
        recer_sys_code="MBS_LOCAL",
        mdtrtarea_admvs="",
        insuplc_admdvs="null",
        sign_no="null",
        cainfo="null",
        dev_no=None,
        inf_time="20240601120000",
        msgid="0123456789abcdef0123456789abcd",  # 30 hex characters
        fixmedins_soft_fcty="某软件公司",
        enc_type="",
        input=DICT_QUERY,
    )
    del body["opter_type"]
    doc = answer(client.post(body, infno="1901"))
    assert doc["infcode"] == 0, doc["err_msg"]
    # input node names in other cases are tolerated (Vali_Flag)
    body = client.envelope("1901", {"data": {"type": "insutype", "Vali_Flag": "1"}})
    assert answer(client.post(body, infno="1901"))["infcode"] == 0


def test_unexpected_exception_is_answered_with_a_reference_and_not_stored(
    gw: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    client = gw.client("h1")
    before = gw.counts(*WRITABLE)
    body = client.envelope("9990", {})
    response = client.post(body, infno="9990")
    assert response.status_code == 200
    doc = answer(response)
    assert doc["infcode"] == -1
    match = re.fullmatch(r"internal error \(ref ([0-9a-f]{12})\)", doc["err_msg"])
    assert match, doc["err_msg"]
    ref = match.group(1)
    errors = [r.getMessage() for r in caplog.records if r.name == "medroam.gateway"]
    logged = [m for m in errors if ref in m]
    assert logged and "RuntimeError: boom" in logged[0]  # with the traceback
    assert "110101********1234" in logged[0] and "110101199003071234" not in logged[0]
    # not stored: the retry runs again (and gets a new reference), only the nonce is kept
    after = gw.counts(*WRITABLE)
    assert after["message_log"] == before["message_log"]
    again = answer(client.post(body, infno="9990"))
    assert again["err_msg"] != doc["err_msg"] and again["err_msg"].startswith("internal error")


def test_a_generic_refusal_is_infcode_minus_one(gw: Gateway) -> None:
    client = gw.client("h1")
    doc = client.call("9991", {})
    assert doc["infcode"] == -1 and doc["err_msg"] == "refused on purpose"


def test_body_too_large_is_refused(make_gateway: Any) -> None:
    gw = make_gateway(max_body_bytes=2000)
    client = gw.client("h1")
    body = client.envelope("1901", {"data": {"type": "insutype", "pad": "x" * 3000}})
    doc = answer(client.post(body, infno="1901"))
    assert doc["infcode"] == -1
    assert doc["err_msg"] == "request body larger than 2000 bytes"


def test_get_is_not_allowed_and_health_answers(gw: Gateway) -> None:
    with httpx.Client() as http:
        assert http.get(gw.base_url + STANDARD_PATH).status_code == 405
        assert http.get(gw.base_url + "/health").json()["status"] == "ok"
