"""Load the interface code tables (``medroam/data/code_tables.json``).

The file maps each dictionary type (``insutype``, ``med_type`` …) to
``{"label": "<中文名>", "note"?: "...", "values": [{"value", "label", "label_en",
"note"?}]}``; the values come from national-interface.md §6, where a ``note`` marks a
local extension or an unconfirmed label. One more top-level key, ``fund_field_map``,
maps ``fund_pay_type`` codes to the ``setlinfo`` amount fields. These tables serve
transaction 1901 (字典表查询).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from medroam.refdata.errors import ReferenceDataError

PACKAGED_NAME = "code_tables.json"
FUND_FIELD_MAP_KEY = "fund_field_map"

# The setlinfo amount fields a fund_pay_type may map to (national-interface §5.1).
SETLINFO_FUND_FIELDS = frozenset(
    {
        "hifp_pay",
        "cvlserv_pay",
        "hifes_pay",
        "hifmi_pay",
        "hifob_pay",
        "hifdm_pay",
        "maf_pay",
        "acct_pay",
        "oth_pay",
    }
)


@dataclass(frozen=True, slots=True)
class CodeValue:
    value: str
    label: str
    label_en: str
    note: str = ""  # e.g. "local extension (HN)", "label unconfirmed"


@dataclass(frozen=True, slots=True)
class CodeTable:
    type: str
    label: str
    values: tuple[CodeValue, ...]
    note: str = ""

    def get(self, value: str) -> CodeValue | None:
        for v in self.values:
            if v.value == value:
                return v
        return None


@dataclass(frozen=True, slots=True)
class FundFieldMap:
    """fund_pay_type → setlinfo field: exact code, then longest prefix, then default."""

    exact: Mapping[str, str]
    prefix: Mapping[str, str]
    default: str
    outside_fund_total: frozenset[str]  # fields not counted in fund_pay_sumamt

    def field_of(self, fund_pay_type: str) -> str:
        field = self.exact.get(fund_pay_type)
        if field is not None:
            return field
        best = ""
        for p in self.prefix:
            if fund_pay_type.startswith(p) and len(p) > len(best):
                best = p
        return self.prefix[best] if best else self.default


class CodeTables:
    """All code tables of one file, with the fund-field map."""

    __slots__ = ("_fund_map", "_index", "_tables")

    def __init__(self, tables: Mapping[str, CodeTable], fund_field_map: FundFieldMap) -> None:
        self._tables: dict[str, CodeTable] = dict(tables)
        self._index: dict[str, dict[str, CodeValue]] = {
            name: {v.value: v for v in t.values} for name, t in self._tables.items()
        }
        self._fund_map = fund_field_map

    def types(self) -> tuple[str, ...]:
        return tuple(self._tables)

    def table(self, type_: str) -> CodeTable:
        """The table of a type; ``KeyError`` for an unknown type."""
        return self._tables[type_]

    def values(self, type_: str) -> tuple[CodeValue, ...]:
        """The values of a type in file order; ``KeyError`` for an unknown type."""
        return self._tables[type_].values

    def label(self, type_: str, value: str) -> str | None:
        """The Chinese label of a value, or None when the value is not in the table.

        An unknown type raises ``KeyError``: that is a programming error, not data.
        """
        entry = self._index[type_].get(value)
        return entry.label if entry is not None else None

    def has(self, type_: str, value: str) -> bool:
        return value in self._index.get(type_, {})

    @property
    def fund_field_map(self) -> FundFieldMap:
        return self._fund_map

    def fund_field(self, fund_pay_type: str) -> str:
        """The setlinfo field that a fund_pay_type's amount is reported in."""
        return self._fund_map.field_of(fund_pay_type)


def load_code_tables(path: Path | None = None) -> CodeTables:
    """Load and validate a code-table file; ``None`` loads the packaged one (cached)."""
    if path is None:
        return _load_packaged()
    return parse_code_tables(path.read_text(encoding="utf-8"), str(path))


@lru_cache(maxsize=1)
def _load_packaged() -> CodeTables:
    resource = files("medroam").joinpath("data", PACKAGED_NAME)
    return parse_code_tables(resource.read_text(encoding="utf-8"), f"medroam/data/{PACKAGED_NAME}")


def parse_code_tables(text: str, file: str) -> CodeTables:
    """Validate the JSON text of a code-table file; ``file`` names it in errors."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReferenceDataError(
            file, f"line {exc.lineno} column {exc.colno}", "json", exc.msg
        ) from None
    if not isinstance(doc, dict):
        raise ReferenceDataError(file, "top level", "json", f"expected an object, got {doc!r:.60}")

    if FUND_FIELD_MAP_KEY not in doc:
        raise ReferenceDataError(file, "top level", FUND_FIELD_MAP_KEY, "is missing")
    fund_map = _parse_fund_map(file, doc[FUND_FIELD_MAP_KEY])

    tables: dict[str, CodeTable] = {}
    for name, raw in doc.items():
        if name == FUND_FIELD_MAP_KEY:
            continue
        tables[name] = _parse_table(file, name, raw)
    if not tables:
        raise ReferenceDataError(file, "top level", "tables", "the file holds no code table")
    return CodeTables(tables, fund_map)


def _text(file: str, where: str, field: str, raw: Any, *, required: bool = True) -> str:
    if not isinstance(raw, str):
        raise ReferenceDataError(file, where, field, f"must be a string, got {raw!r}")
    if required and not raw.strip():
        raise ReferenceDataError(file, where, field, f"must not be empty, got {raw!r}")
    return raw


def _check_keys(
    file: str, where: str, raw: Mapping[str, Any], required: set[str], optional: set[str]
) -> None:
    missing = sorted(required - raw.keys())
    if missing:
        raise ReferenceDataError(file, where, missing[0], "is missing")
    unknown = sorted(raw.keys() - required - optional)
    if unknown:
        allowed = ", ".join(sorted(required | optional))
        raise ReferenceDataError(
            file, where, unknown[0], f"unknown key {unknown[0]!r} (allowed: {allowed})"
        )


def _parse_table(file: str, name: str, raw: Any) -> CodeTable:
    where = f"table {name!r}"
    if not name.strip():
        raise ReferenceDataError(file, where, "type", f"a table name must not be empty: {name!r}")
    if not isinstance(raw, dict):
        raise ReferenceDataError(file, where, "table", f"expected an object, got {raw!r:.60}")
    _check_keys(file, where, raw, {"label", "values"}, {"note"})
    label = _text(file, where, "label", raw["label"])
    note = _text(file, where, "note", raw.get("note", ""), required=False)
    values_raw = raw["values"]
    if not isinstance(values_raw, list) or not values_raw:
        raise ReferenceDataError(
            file, where, "values", f"must be a non-empty list, got {values_raw!r:.60}"
        )

    values: list[CodeValue] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(values_raw, start=1):
        vwhere = f"{where} value #{i}"
        if not isinstance(item, dict):
            raise ReferenceDataError(file, vwhere, "value", f"expected an object, got {item!r:.60}")
        if isinstance(item.get("value"), str):
            vwhere = f"{vwhere} ({item['value']!r})"
        _check_keys(file, vwhere, item, {"value", "label", "label_en"}, {"note"})
        value = _text(file, vwhere, "value", item["value"])
        if value != value.strip():
            raise ReferenceDataError(
                file, vwhere, "value", f"has surrounding whitespace: {value!r}"
            )
        if value in seen:
            raise ReferenceDataError(
                file, vwhere, "value", f"{value!r} duplicates value #{seen[value]}"
            )
        seen[value] = i
        values.append(
            CodeValue(
                value=value,
                label=_text(file, vwhere, "label", item["label"]),
                label_en=_text(file, vwhere, "label_en", item["label_en"]),
                note=_text(file, vwhere, "note", item.get("note", ""), required=False),
            )
        )
    return CodeTable(type=name, label=label, values=tuple(values), note=note)


def _parse_fund_map(file: str, raw: Any) -> FundFieldMap:
    where = FUND_FIELD_MAP_KEY
    if not isinstance(raw, dict):
        raise ReferenceDataError(
            file, where, FUND_FIELD_MAP_KEY, f"expected an object, got {raw!r:.60}"
        )
    _check_keys(
        file, where, raw, {"exact", "prefix", "default"}, {"label", "note", "outside_fund_total"}
    )

    def field_name(fwhere: str, key: str, value: Any) -> str:
        text = _text(file, fwhere, key, value)
        if text not in SETLINFO_FUND_FIELDS:
            allowed = ", ".join(sorted(SETLINFO_FUND_FIELDS))
            raise ReferenceDataError(
                file, fwhere, key, f"{text!r} is not a setlinfo fund field ({allowed})"
            )
        return text

    def code_map(part: str) -> dict[str, str]:
        mapping = raw[part]
        if not isinstance(mapping, dict):
            raise ReferenceDataError(file, where, part, f"expected an object, got {mapping!r:.60}")
        out: dict[str, str] = {}
        for code, field in mapping.items():
            cwhere = f"{where}.{part} {code!r}"
            if not (code.isascii() and code.isdigit()):
                raise ReferenceDataError(
                    file, cwhere, "fund_pay_type", f"must be digits, got {code!r}"
                )
            out[code] = field_name(cwhere, "field", field)
        return out

    exact = code_map("exact")
    prefix = code_map("prefix")
    default = field_name(where, "default", raw["default"])
    outside_raw = raw.get("outside_fund_total", [])
    if not isinstance(outside_raw, list):
        raise ReferenceDataError(
            file, where, "outside_fund_total", f"must be a list, got {outside_raw!r:.60}"
        )
    outside = frozenset(field_name(where, "outside_fund_total", f) for f in outside_raw)
    return FundFieldMap(exact=exact, prefix=prefix, default=default, outside_fund_total=outside)
