from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medroam.domain.identity import (
    IdNumber,
    IdNumberError,
    check_digit,
    mask_id_number,
    mask_name,
    validate_id_number,
)

# The example of GB 11643-1999: 11010519491231002X.
# Weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2 against the digits
#         1 1  0 1 0 5 1 9 4 9 1 2  3 1 0 0 2 give
#         7+9+0+5+0+20+2+9+24+27+7+18+30+5+0+0+4 = 167; 167 mod 11 = 2 → check "X".
# The 17th digit 2 is even: a woman, born 1949-12-31.
KNOWN_FEMALE = "11010519491231002X"
# The standard's second example 440524188001010014:
#   28+36+0+25+16+16+2+8+48+0+0+9+0+5+0+0+2 = 195; 195 mod 11 = 8 → check "4";
#   17th digit 1 is odd: a man, born 1880-01-01.
KNOWN_MALE = "440524188001010014"


def test_known_valid_numbers() -> None:
    assert check_digit(KNOWN_FEMALE[:17]) == "X"
    assert validate_id_number(KNOWN_FEMALE) == IdNumber(
        number=KNOWN_FEMALE, region="110105", birth_date=date(1949, 12, 31), gender="2"
    )
    assert check_digit(KNOWN_MALE[:17]) == "4"
    parsed = validate_id_number(KNOWN_MALE, as_of=date(2025, 1, 1))
    assert (parsed.region, parsed.birth_date, parsed.gender) == ("440524", date(1880, 1, 1), "1")


def test_lowercase_x_is_accepted_as_x() -> None:
    parsed = validate_id_number(KNOWN_FEMALE.lower())
    assert parsed.number == KNOWN_FEMALE


def test_wrong_checksum() -> None:
    with pytest.raises(IdNumberError, match="check digit is 5, expected X"):
        validate_id_number(KNOWN_FEMALE[:17] + "5")
    with pytest.raises(IdNumberError, match="check digit is X, expected 4"):
        validate_id_number(KNOWN_MALE[:17] + "X")


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("1101051949123100", "18 characters, got 16"),
        (KNOWN_FEMALE + "1", "18 characters, got 19"),
        ("11010519491231A02X", "digits, found 'A'"),
        ("11010519491231002Y", "digit or X, got 'Y'"),
        ("110105194902300021", "birth date '19490230' is not a valid date"),
        ("110105194913010021", "birth date '19491301' is not a valid date"),
    ],
)
def test_malformed_numbers(number: str, message: str) -> None:
    with pytest.raises(IdNumberError, match=message):
        validate_id_number(number)


def test_birth_date_after_as_of_is_rejected() -> None:
    first17 = "11010520300101001"
    number = first17 + check_digit(first17)
    with pytest.raises(IdNumberError, match="birth date 2030-01-01 is after 2025-06-30"):
        validate_id_number(number, as_of=date(2025, 6, 30))
    assert validate_id_number(number, as_of=date(2030, 1, 1)).birth_date == date(2030, 1, 1)


def test_id_number_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        validate_id_number("")


def test_check_digit_needs_17_digits() -> None:
    with pytest.raises(IdNumberError):
        check_digit("1234")
    with pytest.raises(IdNumberError):
        check_digit("1101051949123100X")


def test_masking() -> None:
    assert mask_id_number(KNOWN_FEMALE) == "110105********002X"
    assert mask_id_number("1234567890") == "**********"
    assert mask_id_number("") == ""
    assert mask_name("张三丰") == "张**"
    assert mask_name("李") == "李"
    assert mask_name("") == ""


# --- properties -------------------------------------------------------------------

_AS_OF = date(2025, 12, 31)


@st.composite
def first17(draw: st.DrawFn) -> str:
    region = draw(st.text(alphabet="0123456789", min_size=6, max_size=6))
    day = draw(st.dates(min_value=date(1900, 1, 1), max_value=_AS_OF))
    seq = draw(st.text(alphabet="0123456789", min_size=3, max_size=3))
    return f"{region}{day:%Y%m%d}{seq}"


@given(first17())
def test_appending_the_check_digit_validates(body: str) -> None:
    number = body + check_digit(body)
    parsed = validate_id_number(number, as_of=_AS_OF)
    assert parsed.number == number
    assert parsed.region == body[:6]
    assert parsed.gender == ("1" if int(body[16]) % 2 else "2")


@given(first17(), st.integers(min_value=0, max_value=17), st.integers(min_value=1, max_value=10))
def test_changing_any_one_character_fails(body: str, position: int, shift: int) -> None:
    """MOD 11-2 detects every single-character substitution."""
    number = body + check_digit(body)
    alphabet = "0123456789X" if position == 17 else "0123456789"
    old = alphabet.index(number[position])
    new = alphabet[(old + shift) % len(alphabet)]
    if new == number[position]:  # shift == len(alphabet) for the digit positions
        new = alphabet[(old + 1) % len(alphabet)]
    changed = number[:position] + new + number[position + 1 :]
    assert changed != number
    with pytest.raises(IdNumberError):
        validate_id_number(changed, as_of=_AS_OF)


def test_a_birth_date_on_as_of_passes_and_the_day_after_fails() -> None:
    on, after = (f"110105{day:%Y%m%d}123" for day in (_AS_OF, _AS_OF + timedelta(days=1)))
    assert validate_id_number(on + check_digit(on), as_of=_AS_OF).birth_date == _AS_OF
    with pytest.raises(IdNumberError, match="after"):
        validate_id_number(after + check_digit(after), as_of=_AS_OF)
