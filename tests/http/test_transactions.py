"""The gateway's own transactions over real HTTP: 9001/9002, 1901, catalogue downloads
(1301/1305/1306 → 9102), 9101/9102 files, sign_no checks, and masked logs."""

from __future__ import annotations

import base64
import json
import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from medroam.client import CallError
from medroam.gateway.logging import mask
from medroam.refdata.catalogue import load_catalogue
from medroam.refdata.code_tables import load_code_tables
from medroam.store.tables import SignInRow
from tests.http.conftest import H1, Gateway
from tests.http.helpers import DICT_QUERY, SIGN_IN, WRITABLE, make_zip, unzip_rows

pytestmark = pytest.mark.db


# --- 9001 / 9002 -------------------------------------------------------------------------


def test_sign_in_and_sign_out(gw: Gateway) -> None:
    client = gw.client("h1")
    output = client.call_ok("9001", SIGN_IN)
    sign_no = output["signinoutb"]["sign_no"]
    assert len(sign_no) == 26 and sign_no.isdigit()
    with gw.engine.connect() as c:
        row = c.execute(select(SignInRow).where(SignInRow.sign_no == sign_no)).one()
    assert row.fixmedins_code == H1[0] and row.ip == "10.0.0.8" and row.signed_out_at is None

    out = client.call_ok("9002", {"signOut": {"sign_no": sign_no, "opter_no": "0001"}})
    assert out["signoutoutb"]["sign_time"][:4].isdigit()
    with gw.engine.connect() as c:
        assert (
            c.execute(
                select(SignInRow.signed_out_at).where(SignInRow.sign_no == sign_no)
            ).scalar_one()
            is not None
        )

    again = client.call("9002", {"signOut": {"sign_no": sign_no, "opter_no": "0001"}})
    assert again["infcode"] == -1
    assert again["err_msg"].startswith(f"sign-in {sign_no} was already signed out at ")


def test_sign_in_field_errors(gw: Gateway) -> None:
    client = gw.client("h1")
    assert client.call("9001", {})["err_msg"] == "input.signIn: is required (必填)"
    doc = client.call("9001", {"signIn": {"opter_no": "0001"}})
    assert doc["err_msg"] == "input.signIn.ip: is required (必填)"
    doc = client.call("9001", {"signIn": {"opter_no": "0" * 31, "ip": "1.1.1.1"}})
    assert doc["err_msg"] == "input.signIn.opter_no: longer than 30 characters (31)"


def test_sign_out_refusals(gw: Gateway) -> None:
    h1, h2 = gw.client("h1"), gw.client("h2")
    sign_no = h1.call_ok("9001", SIGN_IN)["signinoutb"]["sign_no"]
    # another institution's sign-in: nothing revealed
    doc = h2.call("9002", {"signOut": {"sign_no": sign_no, "opter_no": "0001"}})
    assert doc["err_msg"] == f"input.signOut.sign_no: no sign-in {sign_no} of this institution"
    doc = h1.call("9002", {"signOut": {"sign_no": sign_no, "opter_no": "0002"}})
    assert doc["err_msg"] == (
        f"input.signOut.opter_no: sign-in {sign_no} belongs to operator 0001, not 0002"
    )
    # the next day: only allowed on the day of the sign-in
    gw.shift(timedelta(days=1))
    doc = h1.call("9002", {"signOut": {"sign_no": sign_no, "opter_no": "0001"}})
    assert "sign-out is only allowed on the day of the sign-in" in doc["err_msg"]


def test_strict_region_requires_a_valid_sign_no(make_gateway: Any) -> None:
    gw = make_gateway(strict_sign_in_regions=frozenset({"440305"}))
    client = gw.client("h1")
    doc = client.call("1901", DICT_QUERY)
    assert doc["err_msg"] == "sign_no: is required here: sign in with 9001 first"
    client.sign_no = "20200101000000123456789012"
    assert client.call("1901", DICT_QUERY)["err_msg"] == (
        "sign_no 20200101000000123456789012 is unknown: sign in with 9001"
    )
    sign_no = client.sign_in()
    assert client.call("1901", DICT_QUERY)["infcode"] == 0
    client.call_ok("9002", {"signOut": {"sign_no": sign_no, "opter_no": "0001"}})
    assert client.call("1901", DICT_QUERY)["err_msg"] == (
        f"sign_no {sign_no} was signed out: sign in again with 9001"
    )
    # another region is not strict
    assert gw.client("h2").call("1901", DICT_QUERY)["infcode"] == 0


def test_bad_sign_no_outside_strict_regions_is_a_warning(gw: Gateway) -> None:
    client = gw.client("h2")
    client.sign_no = "nope"
    try:
        doc = client.call("1901", DICT_QUERY)
    finally:
        client.sign_no = ""
    assert doc["infcode"] == 0
    assert doc["warn_msg"] == "sign_no nope is unknown: sign in with 9001"


# --- 1901 ------------------------------------------------------------------------------


def test_dictionary_query(gw: Gateway) -> None:
    client = gw.client("h1")
    out = client.call_ok(
        "1901",
        {"data": {"type": "med_type", "admdvs": "440305", "date": "2024-06-01", "vali_flag": "1"}},
    )
    rows = out["list"]
    expected = load_code_tables().values("med_type")
    assert [r["value"] for r in rows] == [v.value for v in expected]
    first = rows[0]
    assert first["type"] == "med_type" and first["label"] == expected[0].label
    assert first["sort"] == 1 and first["vali_flag"] == "1" and first["valiFlag"] == "1"
    assert {
        "parent_value",
        "parentValue",
        "create_user",
        "createUser",
        "create_date",
        "createDate",
        "version",
    } <= set(first)


def test_dictionary_refusals(gw: Gateway) -> None:
    client = gw.client("h1")
    doc = client.call("1901", {"data": {"type": "colour"}})
    assert doc["err_msg"].startswith(
        "input.data.type: unknown dictionary type 'colour' (known types include insutype"
    )
    assert client.call("1901", {"data": {"type": "fund_field_map"}})["infcode"] == -1
    doc = client.call("1901", {"data": {"type": "insutype", "admdvs": "44"}})
    assert doc["err_msg"] == "input.data.admdvs: must be a 6-digit region code, got '44'"
    doc = client.call("1901", {"data": {"type": "insutype", "date": "June"}})
    assert doc["err_msg"] == "input.data.date: must be a date yyyy-MM-dd, got 'June'"
    assert client.call("1901", {"data": {"type": "insutype", "vali_flag": "0"}})["output"] == {
        "list": []
    }


# --- catalogue downloads via 9102 -------------------------------------------------------


@pytest.mark.parametrize(
    ("infno", "list_type"), [("1301", "101"), ("1305", "201"), ("1306", "301")]
)
def test_catalogue_download(gw: Gateway, infno: str, list_type: str) -> None:
    client = gw.client("h1")
    out = client.call_ok(infno, {"data": {"ver": "0"}})
    assert set(out) >= {"file_qury_no", "filename", "dld_endtime"}
    content = client.download(out["file_qury_no"], out["filename"], fixmedins_code="plc")
    rows = unzip_rows(content)
    catalogue = load_catalogue("440305")
    expected = {c: i for c, i in catalogue.items.items() if i.list_type == list_type}
    assert len(rows) == len(expected) == out["data_cnt"] > 0
    assert all(len(r) == 13 for r in rows)
    for row in rows[:50]:
        item = expected[row[0]]
        assert row[1] == item.name and row[2] == list_type and row[4] == item.level
        assert Decimal(row[5]) * 10000 == item.selfpay_ratio
        if item.price_cap is None:
            assert row[6] == "null"
        else:
            assert Decimal(row[6]) * 1_000_000 == item.price_cap
        assert row[12] == out["ver"]
    # another institution may download a catalogue file too
    assert (
        gw.client("h2").download(out["file_qury_no"], out["filename"], fixmedins_code="plc")
        == content
    )
    # the current version asked again: nothing newer
    again = client.call_ok(infno, {"data": {"ver": out["ver"]}})
    assert again["data_cnt"] == 0
    assert (
        unzip_rows(client.download(again["file_qury_no"], again["filename"], fixmedins_code="plc"))
        == []
    )


def test_catalogue_reflects_the_regions_overrides(gw: Gateway) -> None:
    # H1 is in 440305 (Guangdong has overrides), H2 in 110105 (Beijing has its own)
    o1 = gw.client("h1").call_ok("1301", {"data": {"ver": "0"}})
    o2 = gw.client("h2").call_ok("1301", {"data": {"ver": "0"}})
    assert o1["ver"] != o2["ver"]


def test_download_refusals(gw: Gateway) -> None:
    client = gw.client("h1")
    business = [t for t in WRITABLE if t != "gateway_nonces"]  # the nonce is spent
    before = gw.counts(*business)
    with pytest.raises(CallError) as info:
        client.download("440305000000000000000000000000", "x.zip")
    assert info.value.response is not None
    assert info.value.response["err_msg"] == (
        "input.fsDownloadIn.file_qury_no: no file '440305000000000000000000000000' "
        "for this institution"
    )
    with pytest.raises(CallError) as info:
        client.download("x", "x.zip", fixmedins_code="H11010500002")
    assert info.value.response is not None
    assert info.value.response["err_msg"] == (
        "input.fsDownloadIn.fixmedins_code: 'H11010500002' is not this institution (H44030500001)"
    )
    assert gw.counts(*business) == before


# --- 9101 / 9102 ------------------------------------------------------------------------


def test_upload_as_base64_byte_array_and_multipart(gw: Gateway) -> None:
    client = gw.client("h1")
    content = make_zip("detail.txt", ["a\tb\tc", "d\te\tnull"])
    out = client.upload("detail.zip", content)
    assert out["filename"] == "detail.zip" and out["fixmedins_code"] == H1[0]
    assert len(out["file_qury_no"]) == 30
    assert client.download(out["file_qury_no"], "detail.zip") == content

    as_array = client.call_ok(
        "9101",
        {
            "fsUploadIn": {
                "in": [b - 256 if b > 127 else b for b in content],
                "filename": "a.zip",
                "fixmedins_code": H1[0],
            }
        },
    )
    assert client.download(as_array["file_qury_no"], "a.zip") == content

    multi = client.upload_multipart("m.zip", content)
    assert client.download(multi["file_qury_no"], "m.zip") == content

    # the uploader's file is not another institution's to read
    with pytest.raises(CallError) as info:
        gw.client("h2").download(out["file_qury_no"], "detail.zip")
    assert info.value.response is not None
    assert "no file" in info.value.response["err_msg"]
    # the filename must match
    with pytest.raises(CallError) as info:
        client.download(out["file_qury_no"], "other.zip")
    assert info.value.response is not None
    assert info.value.response["err_msg"] == (
        f"input.fsDownloadIn.filename: file {out['file_qury_no']} is named 'detail.zip', "
        "not 'other.zip'"
    )


def test_upload_refusals(gw: Gateway) -> None:
    client = gw.client("h1")
    before = gw.counts("gateway_files")

    def err(node: dict[str, Any]) -> str:
        message = client.call("9101", {"fsUploadIn": node})["err_msg"]
        assert isinstance(message, str)
        return message

    assert err({"filename": "a.zip"}) == "input.fsUploadIn.in: is required (必填): the file content"
    assert (
        err({"filename": "a.zip", "in": "***"})
        == "input.fsUploadIn.in: is neither Base64 nor an array of bytes"
    )
    assert (
        err({"filename": "a.zip", "in": [1, 300]})
        == "input.fsUploadIn.in[1]: must be a byte value (0 to 255), got 300"
    )
    assert err({"in": "AAAA"}) == "input.fsUploadIn.filename: is required (必填)"
    assert err({"in": "AAAA", "filename": "a.zip", "fixmedins_code": "H11010500002"}) == (
        "input.fsUploadIn.fixmedins_code: 'H11010500002' is not this institution (H44030500001)"
    )
    assert gw.counts("gateway_files") == before


def test_expired_file_is_refused(gw: Gateway) -> None:
    client = gw.client("h1")
    out = client.upload("late.zip", b"PK\x05\x06" + b"\x00" * 18)
    gw.shift(timedelta(days=2))
    with pytest.raises(CallError) as info:
        client.download(out["file_qury_no"], "late.zip")
    assert info.value.response is not None
    assert "expired at" in info.value.response["err_msg"]


# --- logs ------------------------------------------------------------------------------


def test_mask_hides_names_and_id_numbers() -> None:
    masked = mask(
        {
            "baseinfo": {"psn_name": "张三丰", "certno": "110101199003071234"},
            "rows": [{"mdtrt_cert_no": "110101199003071234", "memo": "身份证110101199003071234"}],
            "fixmedins_name": "某医院",
        }
    )
    assert masked == {
        "baseinfo": {"psn_name": "张**", "certno": "110101********1234"},
        "rows": [{"mdtrt_cert_no": "110101********1234", "memo": "身份证110101********1234"}],
        "fixmedins_name": "某医院",
    }


def test_request_bodies_are_logged_masked(
    make_gateway: Any, caplog: pytest.LogCaptureFixture
) -> None:
    gw = make_gateway(log_bodies=True)
    client = gw.client("h1")
    caplog.set_level(logging.DEBUG, logger="medroam.gateway")
    query = {"data": {"type": "insutype", "psn_name": "李四光", "certno": "44030519900307123X"}}
    assert client.call("1901", query)["infcode"] == 0
    lines = [r.getMessage() for r in caplog.records if r.name == "medroam.gateway"]
    text = "\n".join(lines)
    assert "44030519900307123X" not in text and "李四光" not in text
    assert "440305********123X" in text and "李**" in text
    request_lines = [json.loads(line) for line in lines if '"event":"request"' in line]
    assert request_lines and request_lines[-1]["infno"] == "1901"
    assert request_lines[-1]["infcode"] == 0 and request_lines[-1]["fixmedins_code"] == H1[0]
    assert isinstance(request_lines[-1]["ms"], float)
    assert any('"event":"response"' in line for line in lines)


def test_raw_base64_upload_roundtrip_large(gw: Gateway) -> None:
    client = gw.client("h1")
    blob = bytes(range(256)) * 4000  # 1 MB
    out = client.call_ok(
        "9101", {"fsUploadIn": {"in": base64.b64encode(blob).decode(), "filename": "big.bin"}}
    )
    assert client.download(out["file_qury_no"], "big.bin") == blob
    response = client.post(
        client.envelope(
            "9102",
            {
                "fsDownloadIn": {
                    "file_qury_no": out["file_qury_no"],
                    "filename": "big.bin",
                    "fixmedins_code": H1[0],
                }
            },
        ),
        infno="9102",
    )
    assert response.headers["content-type"] == "application/octet-stream"
    assert "big.bin" in response.headers["content-disposition"]


def test_a_missing_sign_in_is_not_stored_under_the_msgid(make_gateway: Any) -> None:
    gw = make_gateway(strict_sign_in_regions=frozenset({"440305"}))
    client = gw.client("h1")
    body = client.envelope("9101", {"fsUploadIn": {"in": "AAAA", "filename": "a.bin"}})
    doc = client.call(
        "9101", {"fsUploadIn": {"in": "AAAA", "filename": "a.bin"}}, msgid=body["msgid"]
    )
    assert doc["err_msg"] == "sign_no: is required here: sign in with 9001 first"
    assert gw.count("message_log") == 0
    client.sign_in()
    out = client.call_ok("9101", body["input"], msgid=body["msgid"])  # the same msgid again
    assert out["filename"] == "a.bin"
