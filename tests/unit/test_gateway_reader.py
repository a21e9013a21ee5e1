"""``gateway/reader.py``: lenient about form (numbers as strings, empty values, case
variants, single rows sent as arrays), strict about meaning, and every refusal names the
field's path and the value."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medroam.gateway.errors import InputError
from medroam.gateway.reader import Node


def node(**fields: Any) -> Node:
    return Node(dict(fields), "input.data")


def test_a_node_must_be_an_object() -> None:
    with pytest.raises(InputError, match=r"^input: must be a JSON object$"):
        Node([1, 2], "input")


# --- text and codes ---------------------------------------------------------------------


@pytest.mark.parametrize("empty", [None, "", "null", "NULL", "None"])
def test_empty_values_are_missing(empty: Any) -> None:
    n = node(psn_no=empty)
    assert not n.has("psn_no")
    assert n.text("psn_no", required=False) == ""
    with pytest.raises(InputError, match=r"^input\.data\.psn_no: is required \(必填\)$"):
        n.text("psn_no")


def test_text_is_stripped_and_numbers_become_text() -> None:
    n = node(psn_no="  P1 ", ipt_otp_no=12345, amount=Decimal("1.50"))
    assert n.text("psn_no") == "P1"
    assert n.text("ipt_otp_no") == "12345"
    assert n.text("amount") == "1.50"


def test_text_refuses_objects_booleans_and_overlong_values() -> None:
    with pytest.raises(InputError, match=r"input\.data\.x: must be a string, got True"):
        node(x=True).text("x")
    with pytest.raises(InputError, match=r"input\.data\.x: must be a string, got \{'a': 1\}"):
        node(x={"a": 1}).text("x")
    with pytest.raises(InputError, match=r"input\.data\.x: longer than 3 characters \(4\)"):
        node(x="abcd").text("x", max_len=3)


def test_field_names_are_matched_case_insensitively_and_camel_case() -> None:
    n = node(Vali_Flag="1", dscgTime="2025-06-10", MED_TYPE="21")
    assert n.text("vali_flag") == "1"
    assert n.text("med_type") == "21"
    assert n.day("dscg_time") == date(2025, 6, 10)
    assert n.has("dscg_time")


def test_exact_name_wins_over_a_case_variant() -> None:
    assert node(vali_flag="1", VALI_FLAG="0").text("vali_flag") == "1"


def test_codes() -> None:
    n = node(t="02", empty="")
    assert n.code("t", ("01", "02")) == "02"
    assert n.code("empty", ("01",), required=False, default="01") == "01"
    with pytest.raises(
        InputError, match=r"input\.data\.t: unknown code '02' \(expected one of 01, 03\)"
    ):
        n.code("t", ("01", "03"))
    assert node(f="1").flag("f") == "1"
    assert node().flag("f") == "0"
    with pytest.raises(InputError, match=r"input\.data\.f: unknown code '2'"):
        node(f="2").flag("f")


def test_regions() -> None:
    assert node(r="110100").region("r") == "110100"
    assert node(r="").region("r", required=False) == ""
    for bad in ("11010", "11010a", "1101000"):
        with pytest.raises(
            InputError, match=rf"input\.data\.r: must be a 6-digit region code, got '{bad}'"
        ):
            node(r=bad).region("r")


# --- numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "fen"),
    [("12.34", 1234), (12, 1200), (Decimal("0.10"), 10), ("0", 0), ("1.5", 150), (" 7 ", 700)],
)
def test_money_in_every_form(raw: Any, fen: int) -> None:
    assert node(a=raw).money("a") == fen


def test_money_refusals_name_the_field_and_value() -> None:
    with pytest.raises(InputError, match=r"input\.data\.a: .*more than 2 decimals"):
        node(a="1.234").money("a")
    with pytest.raises(InputError, match=r"input\.data\.a: .*not a number"):
        node(a="abc").money("a")
    with pytest.raises(InputError, match=r"input\.data\.a: must not be negative, got -1\.00"):
        node(a="-1.00").money("a")
    assert node(a="-1.00").money("a", allow_negative=True) == -100
    assert node().money("a", required=False) == 0
    with pytest.raises(InputError, match=r"input\.data\.a: is required"):
        node(a="").money("a")


def test_money_of_a_stray_float_is_exact_from_its_repr() -> None:
    assert node(a=0.1).money("a") == 10  # repr 0.1, never 0.1000000000000000055…


def test_decimals_with_a_scale() -> None:
    assert node(c="2.5000").decimal("c", 4) == Decimal("2.5")
    assert node(c=3).decimal("c", 4) == 3
    assert node().decimal("c", 4, required=False) == 0
    with pytest.raises(
        InputError, match=r"input\.data\.c: '1\.00001' must have at most 4 decimals"
    ):
        node(c="1.00001").decimal("c", 4)
    with pytest.raises(InputError, match=r"input\.data\.c: 'x' is not a number"):
        node(c="x").decimal("c", 4)
    with pytest.raises(InputError, match=r"input\.data\.c: must be a number, got True"):
        node(c=True).decimal("c", 4)
    with pytest.raises(InputError, match=r"input\.data\.p: 'NaN' is not a finite number"):
        node(p="NaN").decimal("p", 6)
    with pytest.raises(InputError, match=r"input\.data\.p: more than 10 integer digits"):
        node(p="1e30").decimal("p", 6)


def test_integers() -> None:
    assert node(n="12").integer("n") == 12
    assert node(n=-3).integer("n") == -3
    assert node().integer("n", required=False, default=7) == 7
    for bad in ("1.5", "x", True):
        with pytest.raises(InputError, match=r"input\.data\.n: must be a whole number"):
            node(n=bad).integer("n")


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_money_round_trips_every_amount(fen: int) -> None:
    sign = "-" if fen < 0 else ""
    text = f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"
    assert node(a=text).money("a", allow_negative=True) == fen
    assert node(a=Decimal(text)).money("a", allow_negative=True) == fen


# --- dates and times ---------------------------------------------------------------------


def test_dates_and_timestamps() -> None:
    assert node(d="2025-06-10").day("d") == date(2025, 6, 10)
    assert node(d="2025-06-10 08:00:00").day("d") == date(2025, 6, 10)
    assert node(d="20250610").day("d") == date(2025, 6, 10)
    assert node().day("d", required=False) is None
    assert node(t="2025-06-10 08:01:02").req_timestamp("t") == datetime(2025, 6, 10, 8, 1, 2)
    assert node(t="2025-06-10 08:01").timestamp("t") == datetime(2025, 6, 10, 8, 1)
    assert node(t="2025-06-10").timestamp("t") == datetime(2025, 6, 10)
    assert node(t="20250610080102").timestamp("t") == datetime(2025, 6, 10, 8, 1, 2)
    with pytest.raises(
        InputError, match=r"input\.data\.d: must be a date yyyy-MM-dd, got '2025-13-01'"
    ):
        node(d="2025-13-01").day("d")
    with pytest.raises(
        InputError, match=r"input\.data\.t: must be a time yyyy-MM-dd HH:mm:ss, got '10/06/2025'"
    ):
        node(t="10/06/2025").timestamp("t")


# --- nested nodes -----------------------------------------------------------------------


def test_single_row_nodes_accept_a_one_element_array() -> None:
    inp = Node({"data": [{"psn_no": "P1"}], "mdtrtinfo": {"x": "1"}}, "input")
    assert inp.node("data").text("psn_no") == "P1"
    assert inp.node("data").path == "input.data"
    assert inp.node("mdtrtinfo").text("x") == "1"
    with pytest.raises(InputError, match=r"input\.data: must be one object, got 2"):
        Node({"data": [{}, {}]}, "input").node("data")
    with pytest.raises(InputError, match=r"input\.data: is required"):
        Node({}, "input").node("data")
    with pytest.raises(InputError, match=r"input\.data: must be a JSON object"):
        Node({"data": "x"}, "input").node("data")


def test_multi_row_nodes() -> None:
    inp = Node({"feedetail": [{"cnt": "1"}, {"cnt": "0"}], "one": {"a": 1}}, "input")
    rows = inp.rows("feedetail")
    assert [r.path for r in rows] == ["input.feedetail[0]", "input.feedetail[1]"]
    assert [r.path for r in inp.rows("one")] == ["input.one[0]"]  # one object as one row
    assert inp.rows("missing", required=False) == []
    with pytest.raises(InputError, match=r"input\.missing: is required"):
        inp.rows("missing")
    with pytest.raises(InputError, match=r"input\.empty: must not be empty"):
        Node({"empty": []}, "input").rows("empty")
    assert Node({"empty": []}, "input").rows("empty", required=False) == []
    with pytest.raises(InputError, match=r"input\.feedetail: more than 1 rows"):
        inp.rows("feedetail", max_rows=1)
    with pytest.raises(InputError, match=r"input\.x: must be a JSON array"):
        Node({"x": "abc"}, "input").rows("x")
    with pytest.raises(InputError, match=r"input\.feedetail\[1\]: must be a JSON object"):
        Node({"feedetail": [{}, 5]}, "input").rows("feedetail")


def test_errors_inside_rows_carry_the_row_path() -> None:
    rows = Node({"feedetail": [{"pric": "1"}, {"pric": "abc"}]}, "input").rows("feedetail")
    rows[0].decimal("pric", 6)
    with pytest.raises(InputError, match=r"^input\.feedetail\[1\]\.pric: 'abc' is not a number$"):
        rows[1].decimal("pric", 6)
