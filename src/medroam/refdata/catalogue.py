"""Load the place-of-treatment catalogue (就医地目录, ``medroam/data/catalogue``).

``national.csv`` holds the national list; ``overrides/<region>.csv`` files change the
class, the 乙类 first self-pay ratio or the unit price cap of some items for one province
(``XX0000``) or one exact region. ``load_catalogue(region)`` applies the province's file
and then the region's own file, in that order, on top of the national list.

Every problem raises ``ReferenceDataError`` naming the file, the row (its line number, the
header being row 1, and the item code) and the field, and quoting the bad value. Prices
are exact: decimal strings with at most 6 decimals become integer micro-yuan, ratios at
most 4 decimals become ten-thousandths; no float is involved.

The packaged data is SYNTHETIC (``tools/gen_catalogue.py``); see its README for loading a
real catalogue instead.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from decimal import Decimal
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType

from medroam.domain.catalogue import PRICE_SCALE, Catalogue, CatalogueItem
from medroam.domain.codes import LEVEL_A, LEVEL_B, LEVEL_C, normalize_item_level
from medroam.domain.money import MoneyError, Ratio, parse_ratio
from medroam.domain.region import is_region_code, province_of
from medroam.refdata.errors import ReferenceDataError

NATIONAL_NAME = "national.csv"
OVERRIDES_DIR = "overrides"
_PACKAGED_LABEL = "medroam/data/catalogue"

# Code tables of national-interface §6.
KNOWN_LIST_TYPES = frozenset({"101", "102", "103", "104", "105", "106", "201", "301"})
KNOWN_CHARGE_TYPES = frozenset(f"{n:02d}" for n in range(1, 15))  # med_chrgitm_type 01–14
KNOWN_LEVELS = frozenset({LEVEL_A, LEVEL_B, LEVEL_C})

NATIONAL_REQUIRED = (
    "code",
    "name",
    "list_type",
    "charge_type",
    "level",
    "selfpay_ratio",
    "price_cap",
)
FLAG_COLUMNS = ("restricted", "essential", "negotiated", "special")
# Optional columns: typical_price, unit, the four flags (default 0) and synthetic
# (default 0: a file without the column is taken to be a real catalogue).
NATIONAL_OPTIONAL = ("typical_price", "unit", *FLAG_COLUMNS, "synthetic")
OVERRIDE_COLUMNS = ("code", "level", "selfpay_ratio", "price_cap")

_CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,49}")  # med_list_codg is C(50)
_PLAIN_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_MAX_PRICE = Decimal(10) ** 10  # N(16,6): at most 10 integer digits


# --- public API ------------------------------------------------------------------------


def load_national_catalogue(path: Path | str | None = None) -> dict[str, CatalogueItem]:
    """The national catalogue by code; ``None`` loads the packaged file (cached)."""
    if path is None:
        return dict(_packaged_national()[0])
    items, _ = parse_national_catalogue(_read(Path(path)), str(path))
    return items


def load_typical_prices(path: Path | str | None = None) -> dict[str, int]:
    """The ``typical_price`` column (micro-yuan) of the items that have one."""
    if path is None:
        return dict(_packaged_national()[1])
    _, prices = parse_national_catalogue(_read(Path(path)), str(path))
    return prices


def load_catalogue(region: str, *, base_dir: Path | str | None = None) -> Catalogue:
    """The catalogue in force at ``region`` (a 6-digit admdvs code).

    The national list, then ``overrides/<province>.csv`` (``XX0000``), then
    ``overrides/<region>.csv`` when the region is not the province itself; a missing
    override file means no change. ``base_dir`` holds ``national.csv`` and
    ``overrides/``; ``None`` uses the packaged data, cached per region.
    """
    if base_dir is None:
        _check_region(region, f"{_PACKAGED_LABEL}/{OVERRIDES_DIR}")
        return _packaged_catalogue(region)
    base = Path(base_dir)
    _check_region(region, str(base / OVERRIDES_DIR))
    national_path = base / NATIONAL_NAME
    items, _ = parse_national_catalogue(_read(national_path), str(national_path))
    overrides = []
    for code in _override_chain(region):
        path = base / OVERRIDES_DIR / f"{code}.csv"
        if path.is_file():
            overrides.append((_read(path), str(path)))
    return _build(region, items, overrides)


# --- parsing ---------------------------------------------------------------------------


def parse_national_catalogue(
    text: str, file: str
) -> tuple[dict[str, CatalogueItem], dict[str, int]]:
    """Validate a national catalogue; return the items and the typical prices by code."""
    items: dict[str, CatalogueItem] = {}
    prices: dict[str, int] = {}
    first_row: dict[str, int] = {}
    for line, rec in _records(text, file, NATIONAL_REQUIRED):
        code = _code(file, line, rec["code"])
        where = f"row {line} (code {code})"
        if code in first_row:
            raise ReferenceDataError(
                file, where, "code", f"{code!r} duplicates row {first_row[code]}"
            )
        first_row[code] = line
        name = rec["name"]
        if not name:
            raise ReferenceDataError(file, where, "name", f"must not be empty, got {name!r}")
        list_type = rec["list_type"]
        if list_type not in KNOWN_LIST_TYPES:
            raise ReferenceDataError(
                file,
                where,
                "list_type",
                f"{list_type!r} is not a known list_type ({', '.join(sorted(KNOWN_LIST_TYPES))})",
            )
        charge_type = rec["charge_type"]
        if charge_type not in KNOWN_CHARGE_TYPES:
            raise ReferenceDataError(
                file,
                where,
                "charge_type",
                f"{charge_type!r} is not a known med_chrgitm_type (01 to 14)",
            )
        level = _level(file, where, rec["level"])
        ratio = _ratio(file, where, "selfpay_ratio", rec["selfpay_ratio"])
        cap = _price(file, where, "price_cap", rec["price_cap"])
        typical = _price(file, where, "typical_price", rec.get("typical_price", ""))
        flags = {f: _flag(file, where, f, rec[f]) if f in rec else False for f in FLAG_COLUMNS}
        synthetic = (
            _flag(file, where, "synthetic", rec["synthetic"]) if "synthetic" in rec else False
        )
        items[code] = CatalogueItem(
            code=code,
            name=name,
            list_type=list_type,
            charge_type=charge_type,
            level=level,
            selfpay_ratio=ratio,
            price_cap=cap,
            restricted=flags["restricted"],
            essential=flags["essential"],
            negotiated=flags["negotiated"],
            special=flags["special"],
            synthetic=synthetic,
        )
        if typical is not None:
            prices[code] = typical
    if not items:
        raise ReferenceDataError(file, "", "rows", "the file lists no item")
    return items, prices


def apply_override(
    items: Mapping[str, CatalogueItem], text: str, file: str
) -> dict[str, CatalogueItem]:
    """A copy of ``items`` with one override file applied (blank cells keep the value)."""
    out = dict(items)
    first_row: dict[str, int] = {}
    for line, rec in _records(text, file, OVERRIDE_COLUMNS):
        code = _code(file, line, rec["code"])
        where = f"row {line} (code {code})"
        if code in first_row:
            raise ReferenceDataError(
                file, where, "code", f"{code!r} duplicates row {first_row[code]}"
            )
        first_row[code] = line
        item = out.get(code)
        if item is None:
            raise ReferenceDataError(
                file, where, "code", f"{code!r} is not in the national catalogue"
            )
        raw_level, raw_ratio, raw_cap = rec["level"], rec["selfpay_ratio"], rec["price_cap"]
        if not (raw_level or raw_ratio or raw_cap):
            raise ReferenceDataError(
                file,
                where,
                "code",
                "the row changes nothing: level, selfpay_ratio and price_cap are all blank",
            )
        cap = _price(file, where, "price_cap", raw_cap)
        out[code] = replace(
            item,
            level=_level(file, where, raw_level) if raw_level else item.level,
            selfpay_ratio=(
                _ratio(file, where, "selfpay_ratio", raw_ratio) if raw_ratio else item.selfpay_ratio
            ),
            price_cap=cap if cap is not None else item.price_cap,
        )
    return out


# --- helpers ---------------------------------------------------------------------------


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ReferenceDataError(str(path), "", "file", f"cannot be read: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ReferenceDataError(str(path), "", "file", f"is not UTF-8 text: {exc}") from exc


def _records(
    text: str, file: str, required: tuple[str, ...]
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, stripped cells by column) for each non-blank data row."""
    reader = csv.reader(io.StringIO(text))
    try:
        raw_header = next(reader, None)
        if raw_header is None:
            raise ReferenceDataError(file, "header", "columns", "the file is empty")
        header = tuple(h.strip() for h in raw_header)
        for column in required:
            if column not in header:
                raise ReferenceDataError(
                    file, "header", column, f"missing column {column!r} (header {header!r})"
                )
        seen: set[str] = set()
        for column in header:
            if column in seen:
                raise ReferenceDataError(file, "header", column, f"column {column!r} repeats")
            seen.add(column)
        for row in reader:
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise ReferenceDataError(
                    file,
                    f"row {line}",
                    "columns",
                    f"expected {len(header)} fields, got {len(row)}: {row!r}",
                )
            yield line, {c: cell.strip() for c, cell in zip(header, row, strict=True)}
    except csv.Error as exc:
        raise ReferenceDataError(file, f"row {reader.line_num}", "columns", str(exc)) from exc


def _code(file: str, line: int, code: str) -> str:
    if not _CODE.fullmatch(code):
        raise ReferenceDataError(
            file,
            f"row {line} (code {code})",
            "code",
            f"{code!r} is not a catalogue code (letters, digits, '.', '_' or '-', "
            "at most 50 characters)",
        )
    return code


def _level(file: str, where: str, raw: str) -> str:
    level = normalize_item_level(raw)
    if level not in KNOWN_LEVELS:
        raise ReferenceDataError(
            file,
            where,
            "level",
            f"{raw!r} is not a chrgitm_lv (01 甲, 02 乙, 03 丙; 1/2/3 accepted)",
        )
    return level


def _ratio(file: str, where: str, field: str, raw: str) -> Ratio:
    if raw == "":
        return 0
    try:
        return parse_ratio(raw, field=field)
    except MoneyError as exc:
        problem = str(exc).removeprefix(f"{field}: ")
        raise ReferenceDataError(file, where, field, problem) from None


def _price(file: str, where: str, field: str, raw: str) -> int | None:
    """A unit price in yuan (≤ 6 decimals, ≥ 0) as micro-yuan; blank is None."""
    if raw == "":
        return None
    if raw.startswith("-") and _PLAIN_DECIMAL.fullmatch(raw[1:]):
        raise ReferenceDataError(file, where, field, f"{raw!r} is negative")
    if not _PLAIN_DECIMAL.fullmatch(raw):
        raise ReferenceDataError(file, where, field, f"{raw!r} is not a plain decimal number")
    value = Decimal(raw)
    micro = value * PRICE_SCALE
    if micro != micro.to_integral_value():
        raise ReferenceDataError(file, where, field, f"{raw!r} has more than 6 decimals")
    if value >= _MAX_PRICE:
        raise ReferenceDataError(file, where, field, f"{raw!r} exceeds N(16,6)")
    return int(micro)


def _flag(file: str, where: str, field: str, raw: str) -> bool:
    if raw not in ("0", "1"):
        raise ReferenceDataError(file, where, field, f"{raw!r} must be 0 or 1")
    return raw == "1"


def _check_region(region: str, file: str) -> None:
    if not is_region_code(region):
        raise ReferenceDataError(
            file, f"region {region!r}", "region", f"{region!r} is not a 6-digit region code"
        )


def _override_chain(region: str) -> tuple[str, ...]:
    province = province_of(region)
    return (province,) if region == province else (province, region)


def _build(
    region: str, national: Mapping[str, CatalogueItem], overrides: list[tuple[str, str]]
) -> Catalogue:
    items: Mapping[str, CatalogueItem] = national
    for text, file in overrides:
        items = apply_override(items, text, file)
    synthetic = all(item.synthetic for item in items.values())
    proxy = items if isinstance(items, MappingProxyType) else MappingProxyType(dict(items))
    return Catalogue(region=region, items=proxy, source="synthetic" if synthetic else "reference")


# --- packaged data (cached) ------------------------------------------------------------


@lru_cache(maxsize=1)
def _packaged_national() -> tuple[Mapping[str, CatalogueItem], Mapping[str, int]]:
    resource = files("medroam").joinpath("data", "catalogue", NATIONAL_NAME)
    items, prices = parse_national_catalogue(
        resource.read_text(encoding="utf-8-sig"), f"{_PACKAGED_LABEL}/{NATIONAL_NAME}"
    )
    return MappingProxyType(items), MappingProxyType(prices)


@lru_cache(maxsize=512)
def _packaged_catalogue(region: str) -> Catalogue:
    overrides_dir = files("medroam").joinpath("data", "catalogue", OVERRIDES_DIR)
    overrides = []
    for code in _override_chain(region):
        resource = overrides_dir.joinpath(f"{code}.csv")
        if resource.is_file():
            overrides.append(
                (
                    resource.read_text(encoding="utf-8-sig"),
                    f"{_PACKAGED_LABEL}/{OVERRIDES_DIR}/{code}.csv",
                )
            )
    return _build(region, _packaged_national()[0], overrides)


__all__ = [
    "KNOWN_CHARGE_TYPES",
    "KNOWN_LEVELS",
    "KNOWN_LIST_TYPES",
    "apply_override",
    "load_catalogue",
    "load_national_catalogue",
    "load_typical_prices",
    "parse_national_catalogue",
]
