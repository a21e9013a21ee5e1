"""The msgid idempotency digest: the same request gives the same digest however its
JSON was laid out; any change of infno, region or input value gives another."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from medroam.gateway.dispatch import request_hash
from medroam.gateway.envelope import parse_json
from medroam.gateway.registry import Envelope

ENV = Envelope(
    infno="2207", msgid="M1", mdtrtarea_admvs="110100", insuplc_admdvs="150100",
    recer_sys_code="HIS", infver="V1.0", opter_type="1", opter="1", opter_name="张三",
    inf_time=None, fixmedins_code="H11010100001", fixmedins_name="医院", sign_no="",
)  # fmt: skip


def digest(body: str, env: Envelope = ENV) -> str:
    return request_hash(env, parse_json(body.encode()))


def test_layout_and_key_order_do_not_matter() -> None:
    a = digest('{"data": {"psn_no": "P1", "medfee_sumamt": 123.40, "名": "王"}}')
    b = digest('{"data":{"名":"王","medfee_sumamt":123.40,"psn_no":"P1"}}')
    assert a == b


def test_a_value_the_region_or_the_infno_changes_it() -> None:
    base = digest('{"data": {"psn_no": "P1", "medfee_sumamt": 123.40}}')
    assert digest('{"data": {"psn_no": "P1", "medfee_sumamt": 123.41}}') != base
    assert digest('{"data": {"psn_no": "P2", "medfee_sumamt": 123.40}}') != base
    other_region = replace(ENV, insuplc_admdvs="150200")
    assert digest('{"data": {"psn_no": "P1", "medfee_sumamt": 123.40}}', other_region) != base
    other_infno = replace(ENV, infno="2206")
    assert digest('{"data": {"psn_no": "P1", "medfee_sumamt": 123.40}}', other_infno) != base


def test_a_lone_surrogate_in_the_input_still_digests() -> None:
    """A lone surrogate (from an escaped \\ud800 in the JSON) has no UTF-8 form; the
    digest takes it as is instead of failing the request."""
    assert len(request_hash(ENV, {"data": {"x": "a\ud800"}})) == 64
    assert request_hash(ENV, {"data": {"x": Decimal("1.0")}}) != request_hash(
        ENV, {"data": {"x": Decimal("1.00")}}
    )
