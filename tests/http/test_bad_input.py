"""Hostile values over real HTTP (issue 12 item 10): a lone surrogate or a NUL in any
text field, exponents and 40-digit numbers in amounts and quantities, a blank time
string. Each must answer HTTP 200 with a UTF-8 JSON envelope, ``infcode`` -1 and an
``err_msg`` naming the field — never ``internal error``, never a plain-text 500, and the
keep-alive connection stays usable.

The bodies are written with ``json.dumps(ensure_ascii=True)``, so a lone surrogate
travels as the JSON escape ``\\ud800`` (a raw one cannot be UTF-8 at all)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from medroam.client import HisClient
from tests.http.conftest import PERSONS, Gateway
from tests.http.test_flows import (
    CHENGDU,
    REGISTRATION,
    fee_line,
    person_lookup,
    registration_data,
)

pytestmark = pytest.mark.db

P1 = PERSONS[0]


def send(client: HisClient, infno: str, inp: dict[str, Any]) -> dict[str, Any]:
    """POST the envelope exactly as written (surrogates escaped, not replaced)."""
    body = client.envelope(infno, inp, insuplc_admdvs=CHENGDU)
    response = client.post(json.dumps(body, ensure_ascii=True).encode("ascii"), infno=infno)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    doc = json.loads(response.content.decode("utf-8"))  # strict UTF-8, no lone surrogate
    assert isinstance(doc, dict)
    return doc


def registration(client: HisClient, **changes: Any) -> dict[str, Any]:
    data = registration_data(
        client, atddr_no="DR01", dr_name="医生甲", dept_code="D01", dept_name="内科", caty="A03"
    )
    data.update(changes)
    return {"data": data}


def refused_naming(doc: dict[str, Any], field: str) -> str:
    message = str(doc["err_msg"])
    assert doc["infcode"] == -1, doc
    assert "internal error" not in message
    assert field in message, message
    return message


BAD_TEXT = [
    ("lone high surrogate", "测试\ud800"),
    ("lone low surrogate", "\udc80"),
    ("NUL", "内科\x00"),
]


@pytest.mark.parametrize("field", ["dept_name", "dr_name", "ipt_otp_no", "psn_no", "caty"])
@pytest.mark.parametrize(("what", "value"), BAD_TEXT, ids=[w for w, _ in BAD_TEXT])
def test_unstorable_characters_in_any_text_field(
    flow_gateway: Gateway, field: str, what: str, value: str
) -> None:
    client = flow_gateway.client("h1")
    doc = send(client, "2201", registration(client, **{field: value}))
    message = refused_naming(doc, f"input.data.{field}")
    assert ("NUL" in message) == (what == "NUL")


def test_a_surrogate_in_a_field_name_and_the_connection_survives(flow_gateway: Gateway) -> None:
    client = flow_gateway.client("h1")
    inp = registration(client)
    inp["data"]["bad\udfff"] = "x"
    refused_naming(send(client, "2201", inp), "field name")
    # the same keep-alive connection answers the next request
    assert person_lookup(client, P1[2])["baseinfo"]["psn_no"] == P1[0]


@pytest.mark.parametrize("value", ["   ", "\t"])
def test_a_blank_time_is_missing_not_an_internal_error(flow_gateway: Gateway, value: str) -> None:
    client = flow_gateway.client("h1")
    doc = send(client, "2201", registration(client, begntime=value))
    assert "必填" in refused_naming(doc, "input.data.begntime")


HUGE = ["1e30", "1E+30", "9" * 40, "-1e30"]


@pytest.mark.parametrize("value", HUGE)
@pytest.mark.parametrize("field", ["cnt", "pric", "det_item_fee_sumamt"])
def test_exponents_and_40_digit_numbers_in_amounts(
    flow_gateway: Gateway, field: str, value: str
) -> None:
    client = flow_gateway.client("h1")
    reg = send(client, "2201", registration(client))
    assert reg["infcode"] == 0, reg["err_msg"]
    mdtrt_id = reg["output"]["data"]["mdtrt_id"]
    line = fee_line("F1", mdtrt_id, P1[0], REGISTRATION, "10.00", "1")
    line[field] = value
    doc = send(client, "2204", {"feedetail": [line]})
    refused_naming(doc, f"input.feedetail[0].{field}")


def test_a_json_number_with_a_huge_exponent(flow_gateway: Gateway) -> None:
    client = flow_gateway.client("h1")
    reg = send(client, "2201", registration(client))
    mdtrt_id = reg["output"]["data"]["mdtrt_id"]
    line = fee_line("F1", mdtrt_id, P1[0], REGISTRATION, "10.00", "1")
    body = client.envelope("2204", {"feedetail": [line]}, insuplc_admdvs=CHENGDU)
    text = json.dumps(body, ensure_ascii=True).replace('"cnt": "1"', '"cnt": 1e30')
    assert '"cnt": 1e30' in text
    response = client.post(text.encode("ascii"), infno="2204")
    refused_naming(json.loads(response.content), "input.feedetail[0].cnt")


@pytest.mark.parametrize(
    ("raw_name", "problem"),
    [(b"bad\xff.zip", "not UTF-8"), (b"bad\x00.zip", "NUL")],
)
def test_multipart_upload_filename_with_a_bad_character(
    gw: Gateway, raw_name: bytes, problem: str
) -> None:
    """A 9101 sent as multipart carries the file's name in the part header, which no JSON
    check sees: a byte that is not UTF-8 (which the parser turns into U+FFFD) or a NUL is
    refused naming ``input.fsUploadIn.filename``, and no file is stored."""
    client = gw.client("h1")
    envelope = client.envelope("9101", {"fsUploadIn": {"fixmedins_code": client.fixmedins_code}})
    boundary = "medroamtestboundary"
    body = b"".join(
        [
            f"--{boundary}\r\n".encode(),
            b'Content-Disposition: form-data; name="jsonStr"\r\n\r\n',
            json.dumps(envelope).encode("utf-8"),
            f"\r\n--{boundary}\r\n".encode(),
            b'Content-Disposition: form-data; name="in"; filename="' + raw_name + b'"\r\n',
            b"Content-Type: application/zip\r\n\r\n",
            b"PK\x05\x06" + bytes(18),
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    before = gw.counts("gateway_files")
    response = client.post(
        body, infno="9101", content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 200, response.text
    doc = json.loads(response.content.decode("utf-8"))
    assert problem in refused_naming(doc, "input.fsUploadIn.filename")
    assert gw.counts("gateway_files") == before
