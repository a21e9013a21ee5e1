"""Year-to-date accumulators (累计信息) of one person, insurance type and year.

A settlement never mutates accumulators: it returns a *delta* (key → amount). Applying
the delta gives the new state; a cancellation applies the negated delta, which restores
the state exactly. Keys are plain strings so that regional accumulator types (5206
``cum_type_code``) can be added without a schema change.
"""

from __future__ import annotations

import hashlib
import re
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


# --- 5206 cum_type_code: a short code (≤ 10 characters) for every key ------------------
#
# The interface's cum_type_code is C(10) and its values are regional; one HIS reads
# Q0000 as the deductible so far and C0000 as the admission count (national-interface
# §4.12). medroam's scheme (docs/glossary.md, accumulator table): a letter for what is
# counted (C count, Q deductible, F fund paid, B basis of a tiered fund, T total, A
# account) followed by a subject: 0000 inpatient pool, 1000 outpatient pool, the first
# four digits of the fund_pay_type of a supplementary fund, or a chronic-disease code
# (and ``-MM`` for a monthly quota). A key that fits none of these gets ``X`` + 9 hex
# digits of its SHA-1, so every key has a code and codes never collide.

CUM_CODE_MAX = 10
_FIXED_CODES: dict[str, str] = {
    IP_ADMISSIONS: "C0000",
    IP_DEDUCTIBLE: "Q0000",
    POOL_FUND: "F0000",
    OP_DEDUCTIBLE: "Q1000",
    OP_FUND: "F1000",
    CIVIL_SERVANT_PAID: "F3201",
    ASSISTANCE_BASIS: "B6101",
    ASSISTANCE_PAID: "F6101",
    MEDFEE: "T0000",
    INSCP: "T0001",
    ACCOUNT_PAID: "A0000",
}
_LAYER_SUBJECTS = {"hifmi": "3902", "hifob": "3301"}  # fund_pay_type 390200 / 330100
_DISEASE = re.compile(r"[A-Za-z][0-9A-Za-z]*")
_YEAR = re.compile(r"[0-9]{4}")
_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


def cum_type_code(key: str) -> str:
    """The 5206 ``cum_type_code`` of accumulator ``key``: at most 10 characters, the same
    for the same key, different for different keys."""
    code = _FIXED_CODES.get(key) or _parametrised_code(key)
    if code is not None and len(code) <= CUM_CODE_MAX:
        return code
    return "X" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:9].upper()


def _parametrised_code(key: str) -> str | None:
    kind, _, rest = key.partition(":")
    if kind in ("layer_basis", "layer_paid"):
        subject = _LAYER_SUBJECTS.get(rest)
        return None if subject is None else ("B" if kind == "layer_basis" else "F") + subject
    if kind == "chronic_deductible" and _DISEASE.fullmatch(rest):
        return "Q" + rest
    if kind == "chronic_fund":
        disease, _, period = rest.partition(":")
        if not _DISEASE.fullmatch(disease):
            return None
        if _YEAR.fullmatch(period):
            return "F" + disease
        if _MONTH.fullmatch(period):
            return f"F{disease}-{period[5:]}"
    return None


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
