"""No personal data in logged database errors (issue 12 item 11): a forced constraint
violation whose statement carries a social-security card number, an e-voucher token, an
ID number and a name is logged as an internal error; the log shows none of them."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import Column, Engine, MetaData, String, Table, insert

from medroam.gateway.logging import log_internal_error

pytestmark = pytest.mark.db

# SYNTHETIC values, each distinctive enough to be found in any log text
CARD_SN = "510100D15600ABCDEF0123456789AB"
E_VOUCHER = "EC5101009F8E7D6C5B4A39281706F5E4D3C2"
CERTNO = "510104198001011236"
NAME = "测试甲乙"


def test_a_database_error_logs_no_personal_data(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    table = Table(
        "privacy_probe",
        MetaData(),
        Column("card_sn", String(40), primary_key=True),
        Column("token", String(60)),
        Column("certno", String(18)),
        Column("name", String(20)),
    )
    table.create(engine)
    row = {"card_sn": CARD_SN, "token": E_VOUCHER, "certno": CERTNO, "name": NAME}
    with engine.begin() as connection:
        connection.execute(insert(table), row)
    caplog.set_level(logging.ERROR, logger="medroam.gateway")
    try:
        with engine.begin() as connection:
            connection.execute(insert(table), row)  # duplicate key: the database refuses
    except Exception:
        log_internal_error("REF123", infno="2201", msgid="M1")
    else:
        pytest.fail("the duplicate was not refused")
    text = caplog.text
    assert "REF123" in text and "IntegrityError" in text  # the error is logged …
    for secret in (CARD_SN, E_VOUCHER, CERTNO, NAME, CERTNO[6:14]):
        assert secret not in text, secret  # … but none of the data
