"""Lenient reading of interface input nodes, strict about meaning.

HIS clients send numbers as JSON numbers or strings, empty values as ``""``, ``null`` or
the string ``"null"``, and some field names in other cases (``Vali_Flag``, ``dscgTime``).
:class:`Node` accepts all of that and refuses anything whose meaning is wrong, raising
:class:`InputError` with the field's path and the offending value, e.g.
``input.feedetail[2].cnt: quantity must not be zero``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from medroam.domain.identity import IdNumberError, validate_id_number
from medroam.domain.money import MoneyError, yuan_to_fen
from medroam.gateway.errors import InputError
from medroam.refdata.regions import is_known_region

_EMPTY = (None, "", "null", "NULL", "None")


class Node:
    """One JSON object of the request, with its path for error messages."""

    __slots__ = ("_lower", "path", "raw")

    def __init__(self, raw: Any, path: str) -> None:
        if not isinstance(raw, dict):
            raise InputError(f"{path}: must be a JSON object")
        self.raw: dict[str, Any] = raw
        self.path = path
        self._lower = {str(k).lower(): k for k in raw}

    def _get(self, key: str) -> Any:
        if key in self.raw:
            return self.raw[key]
        real = self._lower.get(key.lower())
        if real is None:
            # camelCase variants such as dscgTime for dscg_time
            real = self._lower.get(key.replace("_", "").lower())
        return None if real is None else self.raw[real]

    def has(self, key: str) -> bool:
        return self._get(key) not in _EMPTY

    def _field(self, key: str) -> str:
        return f"{self.path}.{key}"

    # --- scalars ---------------------------------------------------------------------

    def text(self, key: str, *, required: bool = True, max_len: int | None = None) -> str:
        value = self._get(key)
        if value in _EMPTY:
            if required:
                raise InputError(f"{self._field(key)}: is required (必填)")
            return ""
        if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
            raise InputError(f"{self._field(key)}: must be a string, got {value!r}")
        text = str(value).strip()
        if not text and required:  # blank ("  ") is as good as missing
            raise InputError(f"{self._field(key)}: is required (必填)")
        if max_len is not None and len(text) > max_len:
            raise InputError(f"{self._field(key)}: longer than {max_len} characters ({len(text)})")
        return text

    def code(
        self, key: str, allowed: Iterable[str], *, required: bool = True, default: str = ""
    ) -> str:
        value = self.text(key, required=required)
        if not value:
            return default
        allowed_set = set(allowed)
        if value not in allowed_set:
            shown = ", ".join(sorted(allowed_set)[:12])
            raise InputError(
                f"{self._field(key)}: unknown code {value!r} (expected one of {shown})"
            )
        return value

    def region(self, key: str, *, required: bool = True) -> str:
        value = self.text(key, required=required)
        if value and (len(value) != 6 or not value.isdigit()):
            raise InputError(f"{self._field(key)}: must be a 6-digit region code, got {value!r}")
        if value and not is_known_region(value):
            raise InputError(
                f"{self._field(key)}: unknown region code {value!r} (未知医保区划: not a "
                "province, pooling region or district of one)"
            )
        return value

    def id_number(self, key: str, *, required: bool = True) -> str:
        """An 18-character resident ID number (GB 11643: birth date and check digit
        checked), normalised to an upper-case ``X``."""
        value = self.text(key, required=required, max_len=50)
        if not value:
            return ""
        try:
            return validate_id_number(value).number
        except IdNumberError as exc:
            raise InputError(
                f"{self._field(key)}: {value!r} is not a valid resident ID number "
                f"(居民身份证号码): {exc}"
            ) from None

    def money(self, key: str, *, required: bool = True, allow_negative: bool = False) -> int:
        """An amount in yuan (≤ 2 decimals) as integer fen."""
        value = self._get(key)
        if value in _EMPTY:
            if required:
                raise InputError(f"{self._field(key)}: is required (必填)")
            return 0
        if isinstance(value, float):
            # json.loads is configured with parse_float=Decimal; a float here is a bug.
            value = Decimal(repr(value))
        try:
            fen = yuan_to_fen(value if not isinstance(value, Decimal) else str(value), field=key)
        except MoneyError as exc:
            raise InputError(f"{self._field(key)}: {str(exc).split(': ', 1)[-1]}") from None
        if fen < 0 and not allow_negative:
            raise InputError(f"{self._field(key)}: must not be negative, got {value}")
        return fen

    def decimal(self, key: str, places: int, *, required: bool = True) -> Decimal:
        value = self._get(key)
        if value in _EMPTY:
            if required:
                raise InputError(f"{self._field(key)}: is required (必填)")
            return Decimal(0)
        if isinstance(value, bool):
            raise InputError(f"{self._field(key)}: must be a number, got {value!r}")
        try:
            d = Decimal(str(value).strip())
        except InvalidOperation:
            raise InputError(f"{self._field(key)}: {value!r} is not a number") from None
        if not d.is_finite():
            raise InputError(f"{self._field(key)}: {value!r} is not a finite number")
        # N(16, places): at most 16 - places digits before the decimal point ("1e30": no)
        if d.adjusted() >= 16 - places:
            raise InputError(f"{self._field(key)}: more than {16 - places} integer digits")
        if d != d.quantize(Decimal(1).scaleb(-places)):
            raise InputError(f"{self._field(key)}: {value!r} must have at most {places} decimals")
        return d

    def integer(self, key: str, *, required: bool = True, default: int = 0) -> int:
        value = self._get(key)
        if value in _EMPTY:
            if required:
                raise InputError(f"{self._field(key)}: is required (必填)")
            return default
        text = str(value).strip()
        digits = text.removeprefix("-")
        if isinstance(value, bool) or not (digits.isascii() and digits.isdigit()):
            raise InputError(f"{self._field(key)}: must be a whole number, got {value!r}")
        if len(digits) > 9:  # the counts and serial numbers read here fit a 32-bit column
            raise InputError(f"{self._field(key)}: {text[:20]!r} has more than 9 digits")
        return int(text)

    def flag(self, key: str, *, required: bool = False, default: str = "0") -> str:
        return self.code(key, ("0", "1"), required=required, default=default)

    def day(self, key: str, *, required: bool = True) -> date | None:
        value = self.text(key, required=required)
        if not value:
            return None
        for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y%m%d"):
            try:
                return datetime.strptime(value, fmt).date()
            except ValueError:
                continue
        raise InputError(f"{self._field(key)}: must be a date yyyy-MM-dd, got {value!r}")

    def req_day(self, key: str) -> date:
        d = self.day(key)
        assert d is not None
        return d

    def timestamp(self, key: str, *, required: bool = True) -> datetime | None:
        value = self.text(key, required=required)
        if not value:
            return None
        for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y%m%d%H%M%S"):
            try:
                return datetime.strptime(value, fmt)
            except ValueError:
                continue
        raise InputError(f"{self._field(key)}: must be a time yyyy-MM-dd HH:mm:ss, got {value!r}")

    def req_timestamp(self, key: str) -> datetime:
        d = self.timestamp(key)
        assert d is not None
        return d

    # --- nested ----------------------------------------------------------------------

    def node(self, key: str) -> Node:
        value = self._get(key)
        if value in _EMPTY:
            raise InputError(f"{self._field(key)}: is required (必填)")
        if isinstance(value, list):  # a single-row node sent as a one-element array
            if len(value) != 1:
                raise InputError(f"{self._field(key)}: must be one object, got {len(value)}")
            value = value[0]
        return Node(value, self._field(key))

    def rows(self, key: str, *, required: bool = True, max_rows: int = 10_000) -> list[Node]:
        value = self._get(key)
        if value in _EMPTY:
            if required:
                raise InputError(f"{self._field(key)}: is required (必填)")
            return []
        if isinstance(value, dict):  # a multi-row node sent as one object
            value = [value]
        if not isinstance(value, list):
            raise InputError(f"{self._field(key)}: must be a JSON array")
        if required and not value:
            raise InputError(f"{self._field(key)}: must not be empty")
        if len(value) > max_rows:
            raise InputError(f"{self._field(key)}: more than {max_rows} rows")
        return [Node(v, f"{self._field(key)}[{i}]") for i, v in enumerate(value)]
