"""Exact money and ratio arithmetic.

Amounts are integer fen (1 yuan = 100 fen). Ratios are integer ten-thousandths
(1.0 = 10_000), the precision of the interface's N(5,4) ratio fields, so every product
is an integer division with one explicit rounding rule: half away from zero
(``ROUND_HALF_UP`` in ``decimal`` terms), applied once per computed amount.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

Fen = int
Ratio = int  # ten-thousandths: 8500 == 85 %

RATIO_ONE: Ratio = 10_000
_CENT = Decimal("0.01")
# The interface's amounts are N(16,2): at most 14 digits before the decimal point.
MAX_YUAN_DIGITS = 14
_RATIO_STEP = Decimal("0.0001")


class MoneyError(ValueError):
    """A value that cannot be an exact amount or ratio."""


def div_round(numerator: int, denominator: int) -> int:
    """Integer division rounded half away from zero (the platform's one rounding rule)."""
    if denominator <= 0:
        raise MoneyError("denominator must be positive")
    q, r = divmod(abs(numerator), denominator)
    if 2 * r >= denominator:
        q += 1
    return q if numerator >= 0 else -q


def apply_ratio(amount: Fen, ratio: Ratio) -> Fen:
    """``amount × ratio`` rounded half away from zero to the fen."""
    return div_round(amount * ratio, RATIO_ONE)


class RoundingMode(StrEnum):
    """How a computed amount is rounded to its step (domain-rules §10 question 15)."""

    HALF_UP = "half_up"  # half away from zero (ROUND_HALF_UP): the default
    HALF_EVEN = "half_even"  # banker's rounding (ROUND_HALF_EVEN)
    DOWN = "down"  # toward zero, i.e. drop the remainder (ROUND_DOWN)


ROUNDING_STEPS: dict[str, Fen] = {"0.01": 1, "0.1": 10, "1": 100}  # yuan → fen


@dataclass(frozen=True, slots=True)
class RoundingRule:
    """The rounding of every computed fund amount: one rounding per computed amount, to a
    multiple of ``step`` fen, by ``mode``. The default is 0.01 yuan, half away from zero
    (docs/architecture.md, "Money and rounding")."""

    step: Fen = 1  # 1 (0.01 yuan), 10 (0.1 yuan) or 100 (1 yuan)
    mode: RoundingMode = RoundingMode.HALF_UP

    def __post_init__(self) -> None:
        if self.step not in ROUNDING_STEPS.values():
            raise MoneyError(f"rounding step must be 1, 10 or 100 fen, got {self.step!r}")

    def div(self, numerator: int, denominator: int) -> int:
        """``numerator / denominator`` rounded once to a multiple of ``step`` by ``mode``."""
        if denominator <= 0:
            raise MoneyError("denominator must be positive")
        unit = denominator * self.step
        q, r = divmod(abs(numerator), unit)
        if self.mode is RoundingMode.HALF_UP:
            q += 2 * r >= unit
        elif self.mode is RoundingMode.HALF_EVEN:
            q += 2 * r > unit or (2 * r == unit and q % 2 == 1)
        value = q * self.step
        return value if numerator >= 0 else -value

    def apply_ratio(self, amount: Fen, ratio: Ratio) -> Fen:
        """``amount × ratio`` rounded once by this rule."""
        return self.div(amount * ratio, RATIO_ONE)


DEFAULT_ROUNDING = RoundingRule()


def yuan_to_fen(value: str | int | Decimal, *, field: str = "amount") -> Fen:
    """Parse a yuan amount with at most 2 decimals into fen; refuse anything inexact."""
    if isinstance(value, (bool, float)):
        raise MoneyError(f"{field}: amounts must be exact decimals, not {type(value).__name__}")
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise MoneyError(f"{field}: {value!r} is not a number") from exc
    if not d.is_finite():
        raise MoneyError(f"{field}: {value!r} is not a finite number")
    if d.adjusted() >= MAX_YUAN_DIGITS:  # 1e30, or 40 digits: no amount is that large
        raise MoneyError(f"{field}: more than {MAX_YUAN_DIGITS} integer digits")
    if d != d.quantize(_CENT):
        raise MoneyError(f"{field}: {value!r} has more than 2 decimals")
    return int(d * 100)


def fen_to_yuan(amount: Fen) -> Decimal:
    """Fen as a 2-decimal ``Decimal`` for output (exact)."""
    return (Decimal(amount) / 100).quantize(_CENT)


def format_yuan(amount: Fen) -> str:
    """Fen as a plain string with 2 decimals, e.g. ``-1234.50``."""
    sign = "-" if amount < 0 else ""
    q, r = divmod(abs(amount), 100)
    return f"{sign}{q}.{r:02d}"


def parse_ratio(value: str | int | Decimal, *, field: str = "ratio") -> Ratio:
    """Parse a ratio such as ``0.85`` into ten-thousandths; at most 4 decimals, 0..1."""
    if isinstance(value, (bool, float)):
        raise MoneyError(f"{field}: ratios must be exact decimals, not {type(value).__name__}")
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise MoneyError(f"{field}: {value!r} is not a number") from exc
    if not d.is_finite() or d != d.quantize(_RATIO_STEP):
        raise MoneyError(f"{field}: {value!r} must have at most 4 decimals")
    if d < 0 or d > 1:
        raise MoneyError(f"{field}: {value!r} must lie between 0 and 1")
    return int(d * RATIO_ONE)


def ratio_to_decimal(ratio: Ratio) -> Decimal:
    """Ten-thousandths as a 4-decimal ``Decimal`` (e.g. 8500 → 0.8500)."""
    return (Decimal(ratio) / RATIO_ONE).quantize(_RATIO_STEP)


def pp_to_ratio(points: int | Decimal) -> Ratio:
    """Percentage points to ten-thousandths (10 pp → 1000)."""
    return int(Decimal(points) * 100)
