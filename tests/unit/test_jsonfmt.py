"""The exact-decimal JSON writer used for every interface response."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from medroam.gateway.jsonfmt import dumps


def test_decimals_are_written_exactly_with_their_scale() -> None:
    text = dumps({"a": Decimal("12.50"), "b": Decimal("0.8500"), "c": [Decimal("-0.01"), 3]})
    assert text == '{"a":12.50,"b":0.8500,"c":[-0.01,3]}'
    back = json.loads(text, parse_float=Decimal)
    assert back["a"] == Decimal("12.50") and str(back["b"]) == "0.8500"


def test_strings_are_escaped_and_unicode_kept() -> None:
    text = dumps({"name": '王"秀英\\'})
    assert text == '{"name":"王\\"秀英\\\\"}'
    assert json.loads(text)["name"] == '王"秀英\\'


def test_indentation_round_trips() -> None:
    doc = {"x": {"y": [Decimal("1.00"), None, True, "s"]}, "e": {}, "l": []}
    assert json.loads(dumps(doc, indent=2), parse_float=Decimal) == doc


@pytest.mark.parametrize("bad", [1.5, Decimal("NaN"), object()])
def test_floats_non_finite_and_unknown_values_are_refused(bad: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        dumps({"v": bad})


def test_a_lone_surrogate_is_written_as_replacement_character() -> None:
    """An error message echoing a lone surrogate once failed to encode (HTTP 500)."""
    from medroam.gateway import jsonfmt

    text = jsonfmt.dumps({"err_msg": "x\ud800", "k\udc80": 1})
    assert text.encode("utf-8") == '{"err_msg":"x\ufffd","k\ufffd":1}'.encode()
