"""Year-to-date accumulators (累计信息) of one person, insurance type and year.

A settlement never mutates accumulators: it returns a *delta* (key → amount). Applying
the delta gives the new state; a cancellation applies the negated delta, which restores
the state exactly. Keys are plain strings so that regional accumulator types (5206
``cum_type_code``) can be added without a schema change.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date

# Inpatient
IP_ADMISSIONS = "ip_admissions"  # number of admissions this year (count, not fen)
IP_DEDUCTIBLE = "ip_deductible"  # deductible borne on admissions
POOL_FUND = "pool_fund"  # pooled-fund payments against the annual cap (inpatient + chronic)
# General outpatient
OP_DEDUCTIBLE = "op_deductible"
OP_FUND = "op_fund"
# Totals (informative; 5206)
MEDFEE = "medfee"
INSCP = "inscp"
ACCOUNT_PAID = "account_paid"
CIVIL_SERVANT_PAID = "cvlserv_paid"
ASSISTANCE_BASIS = "maf_basis"
ASSISTANCE_PAID = "maf_paid"


def chronic_deductible_key(disease: str) -> str:
    return f"chronic_deductible:{disease}"


def chronic_quota_key(disease: str, on: date, monthly: bool) -> str:
    period = f"{on.year:04d}-{on.month:02d}" if monthly else f"{on.year:04d}"
    return f"chronic_fund:{disease}:{period}"


def layer_basis_key(fund: str) -> str:
    return f"layer_basis:{fund}"


def layer_paid_key(fund: str) -> str:
    return f"layer_paid:{fund}"


class Accumulators(Mapping[str, int]):
    """An immutable map of accumulator key → value (fen, or a count); missing keys are 0."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, int] | None = None) -> None:
        self._values: dict[str, int] = {k: v for k, v in (values or {}).items() if v != 0}

    def __getitem__(self, key: str) -> int:
        return self._values.get(key, 0)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Accumulators):
            return self._values == other._values
        if isinstance(other, Mapping):
            return self._values == {k: v for k, v in other.items() if v != 0}
        return NotImplemented

    def __hash__(self) -> int:
        return hash(frozenset(self._values.items()))

    def __repr__(self) -> str:
        return f"Accumulators({self._values!r})"

    def apply(self, delta: Mapping[str, int], sign: int = 1) -> Accumulators:
        """The state after adding ``sign × delta``."""
        values = dict(self._values)
        for key, amount in delta.items():
            values[key] = values.get(key, 0) + sign * amount
        return Accumulators(values)
