"""Load the province settings (``medroam/data/provinces.json``) into a ``ProvinceBook``.

The file::

    {"format_version": 1, "synthetic": true, "source": "...",
     "provinces": {"110000": {"name": "北京市", "intra_filing_required": false}, ...}}

Every province must be a province row of ``regions.csv`` and carry its name from there;
flags are JSON booleans; unknown and duplicate keys are refused. The first problem raises
``ReferenceDataError`` naming the file, the province and the field, quoting the value.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from medroam.domain.province import ProvinceBook, ProvinceSettings
from medroam.refdata.errors import ReferenceDataError
from medroam.refdata.regions import RegionTable, load_regions

PACKAGED_NAME = "provinces.json"
FORMAT_VERSION = 1
_TOP_REQUIRED = ("synthetic", "source", "provinces")
_TOP_KEYS = frozenset({"format_version", *_TOP_REQUIRED})
_ENTRY_KEYS = frozenset({"name", "intra_filing_required"})


def load_province_book(path: Path | None = None) -> ProvinceBook:
    """Load and validate a settings file; ``None`` loads the packaged file (cached)."""
    if path is None:
        return _load_packaged()
    return parse_province_book(path.read_text(encoding="utf-8-sig"), str(path))


@lru_cache(maxsize=1)
def _load_packaged() -> ProvinceBook:
    resource = files("medroam").joinpath("data", PACKAGED_NAME)
    return parse_province_book(
        resource.read_text(encoding="utf-8-sig"), f"medroam/data/{PACKAGED_NAME}"
    )


def _no_duplicates(file: str) -> Any:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                raise ReferenceDataError(file, "", key, "duplicate key")
            seen[key] = value
        return seen

    return hook


def parse_province_book(text: str, file: str, regions: RegionTable | None = None) -> ProvinceBook:
    """Validate the JSON text of a settings file; ``file`` names it in errors."""
    try:
        doc = json.loads(text, object_pairs_hook=_no_duplicates(file))
    except json.JSONDecodeError as exc:
        raise ReferenceDataError(file, "", "(document)", f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ReferenceDataError(file, "", "(document)", "must be a JSON object")
    for key in doc:
        if key not in _TOP_KEYS:
            raise ReferenceDataError(file, "", key, "unknown field")
    for key in _TOP_REQUIRED:
        if key not in doc:
            raise ReferenceDataError(file, "", key, "is required")
    version = doc.get("format_version", FORMAT_VERSION)
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise ReferenceDataError(file, "", "format_version", f"must be 1, got {version!r}")
    if not isinstance(doc["synthetic"], bool):
        raise ReferenceDataError(
            file, "", "synthetic", f"must be true or false, got {doc['synthetic']!r}"
        )
    if not isinstance(doc["source"], str) or not doc["source"].strip():
        raise ReferenceDataError(file, "", "source", "must be a non-empty string")
    entries = doc["provinces"]
    if not isinstance(entries, dict):
        raise ReferenceDataError(file, "", "provinces", "must be an object keyed by province")
    table = regions or load_regions()
    settings: dict[str, ProvinceSettings] = {}
    for code, entry in entries.items():
        where = f"province {code!r}"
        region = table.get(code)
        if region is None or not region.is_province:
            raise ReferenceDataError(
                file, where, "provinces", f"{code!r} is not a province code of regions.csv"
            )
        if not isinstance(entry, dict):
            raise ReferenceDataError(file, where, "provinces", "must be an object")
        for key in entry:
            if key not in _ENTRY_KEYS:
                raise ReferenceDataError(file, where, key, "unknown field")
        name = entry.get("name")
        if name != region.name:
            raise ReferenceDataError(
                file, where, "name", f"{name!r} is not the name in regions.csv ({region.name})"
            )
        flag = entry.get("intra_filing_required")
        if not isinstance(flag, bool):
            raise ReferenceDataError(
                file, where, "intra_filing_required", f"must be true or false, got {flag!r}"
            )
        settings[code] = ProvinceSettings(code, intra_filing_required=flag)
    return ProvinceBook(settings)
