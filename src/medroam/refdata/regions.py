"""Load the region list (``medroam/data/regions.csv``) into a ``RegionTable``.

Columns: ``code,name,level,province_code,kind,note``. Every row is validated; the
first problem found raises ``ReferenceDataError`` naming the file, the row (its line
number and code) and the field, and quoting the bad value.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from medroam.domain.region import (
    LEVEL_KINDS,
    Region,
    RegionKind,
    RegionLevel,
    is_region_code,
)
from medroam.refdata.errors import ReferenceDataError

COLUMNS = ("code", "name", "level", "province_code", "kind", "note")
PACKAGED_NAME = "regions.csv"


class RegionTable:
    """The province-level units and pooling regions, in file order."""

    __slots__ = ("_by_code",)

    def __init__(self, regions: Mapping[str, Region]) -> None:
        self._by_code: dict[str, Region] = dict(regions)

    def get(self, code: str) -> Region | None:
        return self._by_code.get(code)

    def provinces(self) -> tuple[Region, ...]:
        return tuple(r for r in self._by_code.values() if r.level is RegionLevel.PROVINCE)

    def pooling_regions(self) -> tuple[Region, ...]:
        return tuple(r for r in self._by_code.values() if r.level is RegionLevel.PREFECTURE)

    def pooling_regions_of(self, province_code: str) -> tuple[Region, ...]:
        return tuple(
            r
            for r in self._by_code.values()
            if r.level is RegionLevel.PREFECTURE and r.province_code == province_code
        )

    def knows(self, code: str) -> bool:
        """Whether ``code`` names a known region: a province or pooling region of the
        table, or a district/county of a pooling region (``XXXXnn`` under ``XXXX00``)."""
        return code in self._by_code or (
            len(code) == 6 and code.isdigit() and f"{code[:4]}00" in self._by_code
        )

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __len__(self) -> int:
        return len(self._by_code)

    def __iter__(self) -> Iterator[Region]:
        return iter(self._by_code.values())


def is_known_region(code: str) -> bool:
    """Whether the packaged region table knows ``code`` (see :meth:`RegionTable.knows`)."""
    return load_regions().knows(code)


def load_regions(path: Path | None = None) -> RegionTable:
    """Load and validate a region file; ``None`` loads the packaged list (cached)."""
    if path is None:
        return _load_packaged()
    return parse_regions(path.read_text(encoding="utf-8-sig"), str(path))


@lru_cache(maxsize=1)
def _load_packaged() -> RegionTable:
    resource = files("medroam").joinpath("data", PACKAGED_NAME)
    return parse_regions(resource.read_text(encoding="utf-8-sig"), f"medroam/data/{PACKAGED_NAME}")


def parse_regions(text: str, file: str) -> RegionTable:
    """Validate the CSV text of a region file; ``file`` names it in errors."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != COLUMNS:
        raise ReferenceDataError(
            file, "header", "columns", f"expected {','.join(COLUMNS)!r}, got {header!r}"
        )

    regions: dict[str, Region] = {}
    first_line: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        where = f"row {line}"
        if len(row) != len(COLUMNS):
            raise ReferenceDataError(
                file, where, "columns", f"expected {len(COLUMNS)} fields, got {len(row)}: {row!r}"
            )
        code, name, level_s, province_code, kind_s, _note = (cell.strip() for cell in row)
        if not is_region_code(code):
            raise ReferenceDataError(file, where, "code", f"must be 6 digits, got {code!r}")
        where = f"row {line} (code {code})"
        if code in regions:
            raise ReferenceDataError(
                file, where, "code", f"{code!r} duplicates row {first_line[code]}"
            )
        if not name:
            raise ReferenceDataError(file, where, "name", f"must not be empty, got {name!r}")
        try:
            level = RegionLevel(level_s)
        except ValueError:
            allowed = ", ".join(v.value for v in RegionLevel)
            raise ReferenceDataError(
                file, where, "level", f"{level_s!r} is not one of {allowed}"
            ) from None
        try:
            kind = RegionKind(kind_s)
        except ValueError:
            allowed = ", ".join(v.value for v in RegionKind)
            raise ReferenceDataError(
                file, where, "kind", f"{kind_s!r} is not one of {allowed}"
            ) from None
        if kind not in LEVEL_KINDS[level]:
            raise ReferenceDataError(
                file, where, "kind", f"{kind_s!r} is not allowed at level {level_s!r}"
            )
        if not is_region_code(province_code) or not province_code.endswith("0000"):
            raise ReferenceDataError(
                file,
                where,
                "province_code",
                f"must be 6 digits ending in 0000, got {province_code!r}",
            )
        if level is RegionLevel.PROVINCE:
            if not code.endswith("0000"):
                raise ReferenceDataError(
                    file, where, "code", f"a province code must end in 0000, got {code!r}"
                )
            if province_code != code:
                raise ReferenceDataError(
                    file,
                    where,
                    "province_code",
                    f"a province is its own province, got {province_code!r}",
                )
        else:
            if code.endswith("0000"):
                raise ReferenceDataError(
                    file, where, "code", f"a pooling region code must not end in 0000, got {code!r}"
                )
            if province_code[:2] != code[:2]:
                raise ReferenceDataError(
                    file,
                    where,
                    "province_code",
                    f"{province_code!r} does not match the code's first two digits {code[:2]!r}",
                )
        regions[code] = Region(code, name, level, province_code, kind)
        first_line[code] = line

    for code, region in regions.items():
        province = regions.get(region.province_code)
        if province is None or province.level is not RegionLevel.PROVINCE:
            raise ReferenceDataError(
                file,
                f"row {first_line[code]} (code {code})",
                "province_code",
                f"province {region.province_code!r} is not in the file",
            )
    return RegionTable(regions)
