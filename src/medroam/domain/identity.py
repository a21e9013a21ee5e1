"""Resident ID numbers (公民身份号码, GB 11643-1999) and masking for logs.

An 18-character number is a 6-digit address code (GB/T 2260), an 8-digit birth date
``YYYYMMDD``, a 3-digit sequence code whose last digit is odd for men and even for
women, and a check character from ISO 7064 MOD 11-2 (``0``–``9`` or ``X``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

ID_LENGTH = 18

# Weight of position i (1-based, left to right) is 2^(18-i) mod 11.
_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
_CHECK_CHARS = "10X98765432"  # indexed by (weighted sum mod 11)
GENDER_MALE = "1"  # gend 1 男
GENDER_FEMALE = "2"  # gend 2 女


class IdNumberError(ValueError):
    """An ID number is malformed; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class IdNumber:
    number: str  # normalised: upper-case X
    region: str  # address code, first 6 digits
    birth_date: date
    gender: str  # "1" male, "2" female (interface gend)


def _is_digits(s: str) -> bool:
    return s.isascii() and s.isdigit()


def check_digit(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits."""
    if len(first17) != ID_LENGTH - 1 or not _is_digits(first17):
        raise IdNumberError(f"check digit needs exactly 17 digits, got {first17!r}")
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def validate_id_number(s: str, as_of: date | None = None) -> IdNumber:
    """Validate an 18-character ID number and return its parts.

    ``as_of`` is the reference day for the birth-date check: a birth date after it is
    rejected. With ``None`` only the calendar validity of the date is checked (the
    domain reads no clock). A lower-case ``x`` is accepted as ``X``.
    """
    if len(s) != ID_LENGTH:
        raise IdNumberError(f"ID number must be {ID_LENGTH} characters, got {len(s)}")
    body, last = s[:17], s[17]
    if not _is_digits(body):
        bad = next(c for c in body if not (c.isascii() and c.isdigit()))
        raise IdNumberError(f"the first 17 characters must be digits, found {bad!r}")
    last = last.upper()
    if last != "X" and not _is_digits(last):
        raise IdNumberError(f"the check character must be a digit or X, got {s[17]!r}")

    birth_s = body[6:14]
    try:
        birth = date(int(birth_s[:4]), int(birth_s[4:6]), int(birth_s[6:8]))
    except ValueError:
        raise IdNumberError(f"birth date {birth_s!r} is not a valid date") from None
    if as_of is not None and birth > as_of:
        raise IdNumberError(f"birth date {birth.isoformat()} is after {as_of.isoformat()}")

    expected = check_digit(body)
    if last != expected:
        raise IdNumberError(f"check digit is {last}, expected {expected}")

    gender = GENDER_MALE if int(body[16]) % 2 == 1 else GENDER_FEMALE
    return IdNumber(number=body + last, region=body[:6], birth_date=birth, gender=gender)


def mask_id_number(s: str) -> str:
    """Keep the first 6 and last 4 characters, mask the rest with ``*`` (for logs).

    A string of 10 characters or fewer is masked entirely, so that nothing is shown
    whole.
    """
    if len(s) <= 10:
        return "*" * len(s)
    return s[:6] + "*" * (len(s) - 10) + s[-4:]


def mask_name(name: str) -> str:
    """Keep the first character of a name and mask the rest with ``*`` (for logs)."""
    return name[:1] + "*" * (len(name) - 1) if name else ""
