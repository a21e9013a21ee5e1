"""Fuzzing the endpoint over real HTTP with Hypothesis: random envelopes, inputs, headers
and bodies. Whatever arrives, the answer is HTTP 200 or 401 with a JSON envelope whose
infcode is 0 or -1 (or a 9102 file): never a 5xx, never an "internal error"."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medroam.client import HisClient
from medroam.gateway.registry import load_handlers, registered
from tests.http.conftest import Gateway

pytestmark = pytest.mark.db

load_handlers()
INFNOS = sorted(i for i in registered() if not i.startswith("999"))  # not the test handlers
NODE_NAMES = [
    "data",
    "signIn",
    "signOut",
    "fsUploadIn",
    "fsDownloadIn",
    "mdtrtinfo",
    "feedetail",
    "diseinfo",
    "refmedin",
    "adminfo",
    "dscginfo",
    "setlinfo",
]
FIELD_NAMES = [
    "type",
    "ver",
    "opter_no",
    "ip",
    "mac",
    "sign_no",
    "file_qury_no",
    "filename",
    "in",
    "fixmedins_code",
    "psn_no",
    "insutype",
    "clr_type",
    "setl_optins",
    "stmt_begndate",
    "stmt_enddate",
    "medfee_sumamt",
    "fund_pay_sumamt",
    "acct_pay",
    "fixmedins_setl_cnt",
    "mdtrt_id",
    "setl_id",
    "mdtrt_cert_type",
    "mdtrt_cert_no",
    "begntime",
    "admdvs",
    "date",
    "vali_flag",
    "Vali_Flag",
    "clr_appy_evt_id",
    "setlym",
    "trt_dcla_detl_sn",
    "opsp_dise_code",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
    st.text(max_size=40),
    st.sampled_from(["", "null", "0", "1", "2024-01-01", "2024-01-01 08:00:00", "440305", "AAAA"]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=8)), children, max_size=5
        ),
    ),
    max_leaves=12,
)
nodes = st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=8)
inputs = st.one_of(
    st.dictionaries(
        st.sampled_from(NODE_NAMES),
        st.one_of(nodes, st.lists(nodes, max_size=3), json_values),
        max_size=3,
    ),
    json_values,
)
envelope_overrides = st.dictionaries(
    st.sampled_from(
        [
            "infno",
            "msgid",
            "mdtrtarea_admvs",
            "insuplc_admdvs",
            "infver",
            "inf_time",
            "opter",
            "opter_name",
            "fixmedins_name",
            "sign_no",
            "recer_sys_code",
            "extra",
        ]
    ),
    json_values,
    max_size=3,
)


def _to_json(value: Any) -> str:
    return json.dumps(
        value, ensure_ascii=False, default=lambda d: str(d) if isinstance(d, Decimal) else None
    )


def _check(response: Any) -> None:
    assert response.status_code in (200, 401), (response.status_code, response.text[:300])
    if response.headers.get("content-type", "").startswith("application/octet-stream"):
        return
    doc = json.loads(response.content)
    assert doc["infcode"] in (0, -1)
    assert not str(doc.get("err_msg", "")).startswith("internal error"), doc["err_msg"]
    assert not str(doc.get("err_msg", "")).startswith("database busy"), doc["err_msg"]


def test_fuzz_envelopes_and_inputs(make_gateway: Any) -> None:
    gw: Gateway = make_gateway()
    client: HisClient = gw.client("h1")

    @settings(
        max_examples=250,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )
    @given(
        infno=st.one_of(st.sampled_from(INFNOS), st.text(max_size=8)),
        inp=inputs,
        overrides=envelope_overrides,
        content_type=st.sampled_from(
            ["application/json", "text/plain; charset=utf-8", "multipart/form-data; boundary=x"]
        ),
    )
    def run(infno: str, inp: Any, overrides: dict[str, Any], content_type: str) -> None:
        body = client.envelope(infno, {})
        body["input"] = inp
        body.update(overrides)
        response = client.post(_to_json(body).encode(), infno=infno, content_type=content_type)
        _check(response)

    run()


def test_fuzz_raw_bodies_and_headers(make_gateway: Any) -> None:
    gw: Gateway = make_gateway()
    client: HisClient = gw.client("h1")

    @settings(max_examples=120, deadline=None, database=None)
    @given(
        body=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)),
        headers=st.dictionaries(
            st.sampled_from(
                [
                    "x-tif-paasid",
                    "x-tif-timestamp",
                    "x-tif-nonce",
                    "x-tif-signature",
                    "_api_access_key",
                    "_api_name",
                    "_api_timestamp",
                    "_api_version",
                    "_api_signature",
                    "apikey",
                ]
            ),
            st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=20),
            max_size=5,
        ),
        signed=st.booleans(),
    )
    def run(body: bytes, headers: dict[str, str], signed: bool) -> None:
        all_headers = client.auth_headers("9001") if signed else headers
        _check(client.post(body, headers=all_headers))

    run()
