"""Personal data never reaches the log, even when the database fails mid-request: SQL
parameters, PostgreSQL's DETAIL line and values quoted in a driver's message are cut,
ID numbers masked (issue 12, item 11)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import text

from medroam.store.insured_place import SqlInsuredPlace
from tests.http.conftest import PERSONS, Gateway

CARD_NO = "K44030500123456789"  # SYNTHETIC social-security card number
CARD_SN = "SN7788990011"
TOKEN = "EVT-0c1d2e3f4a5b6c7d8e9f"  # SYNTHETIC e-voucher token


@pytest.fixture
def failing_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    """Person look-up that fails in the database with the voucher as a parameter (and, on
    PostgreSQL, the value echoed in the error's DETAIL line)."""

    def find_person(self: SqlInsuredPlace, cert_type: str, cert_no: str, card_sn: str = "") -> Any:
        self.session.execute(
            text("INSERT INTO gateway_nonces (key_id, nonce, seen_at) VALUES (:a, :b, NULL)"),
            {"a": cert_no, "b": card_sn or cert_no},
        )
        raise AssertionError("the insert above must fail")

    monkeypatch.setattr(SqlInsuredPlace, "find_person", find_person)


@pytest.mark.parametrize(
    ("cert_type", "cert_no", "card_sn"),
    [("03", CARD_NO, CARD_SN), ("01", TOKEN, ""), ("02", PERSONS[0][2], "")],
)
def test_a_database_error_logs_no_voucher(
    flow_gateway: Gateway,
    failing_lookup: None,
    caplog: pytest.LogCaptureFixture,
    cert_type: str,
    cert_no: str,
    card_sn: str,
) -> None:
    client = flow_gateway.client("h1")
    caplog.set_level(logging.DEBUG, logger="medroam")
    data = {"mdtrt_cert_type": cert_type, "mdtrt_cert_no": cert_no, "card_sn": card_sn,
            "psn_cert_type": "01", "certno": "", "psn_name": ""}  # fmt: skip
    doc = client.call("1101", {"data": data})
    assert doc["infcode"] == -1
    assert doc["err_msg"].startswith("internal error (ref ")
    ref = doc["err_msg"][len("internal error (ref ") : -1]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert ref in logged and "Traceback" in logged  # the error itself is logged …
    assert cert_no not in logged  # … without the voucher
    if card_sn:
        assert card_sn not in logged
    assert "[parameters: hidden]" in logged or "parameters hidden" in logged
