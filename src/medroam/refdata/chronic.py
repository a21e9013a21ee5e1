"""Load the cross-province chronic-disease list (``medroam/data/chronic_diseases.csv``).

Columns: ``code,name,name_en,cross_province_since,quota_kind,note``. Codes are the
门慢门特 病种编码 (``M`` + 5 digits); the ``note`` column says which codes are
unconfirmed against the national catalogue.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from medroam.domain.chronic import ChronicDisease, QuotaKind
from medroam.refdata.errors import ReferenceDataError

COLUMNS = ("code", "name", "name_en", "cross_province_since", "quota_kind", "note")
PACKAGED_NAME = "chronic_diseases.csv"
_CODE = re.compile(r"M[0-9]{5}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def load_chronic_diseases(path: Path | None = None) -> tuple[ChronicDisease, ...]:
    """Load and validate a disease file; ``None`` loads the packaged list (cached)."""
    if path is None:
        return _load_packaged()
    return parse_chronic_diseases(path.read_text(encoding="utf-8-sig"), str(path))


@lru_cache(maxsize=1)
def _load_packaged() -> tuple[ChronicDisease, ...]:
    resource = files("medroam").joinpath("data", PACKAGED_NAME)
    return parse_chronic_diseases(
        resource.read_text(encoding="utf-8-sig"), f"medroam/data/{PACKAGED_NAME}"
    )


def parse_chronic_diseases(text: str, file: str) -> tuple[ChronicDisease, ...]:
    """Validate the CSV text of a disease file; ``file`` names it in errors."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != COLUMNS:
        raise ReferenceDataError(
            file, "header", "columns", f"expected {','.join(COLUMNS)!r}, got {header!r}"
        )
    diseases: list[ChronicDisease] = []
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
        code, name, name_en, since_s, quota_s, _note = (cell.strip() for cell in row)
        if not _CODE.fullmatch(code):
            raise ReferenceDataError(
                file, where, "code", f"must be 'M' followed by 5 digits, got {code!r}"
            )
        where = f"row {line} (code {code})"
        if code in first_line:
            raise ReferenceDataError(
                file, where, "code", f"{code!r} duplicates row {first_line[code]}"
            )
        if not name:
            raise ReferenceDataError(file, where, "name", f"must not be empty, got {name!r}")
        if not name_en:
            raise ReferenceDataError(file, where, "name_en", f"must not be empty, got {name_en!r}")
        try:
            if not _DATE.fullmatch(since_s):
                raise ValueError(since_s)
            since = date.fromisoformat(since_s)
        except ValueError:
            raise ReferenceDataError(
                file, where, "cross_province_since", f"must be a date YYYY-MM-DD, got {since_s!r}"
            ) from None
        try:
            quota = QuotaKind(quota_s)
        except ValueError:
            allowed = ", ".join(q.value for q in QuotaKind)
            raise ReferenceDataError(
                file, where, "quota_kind", f"{quota_s!r} is not one of {allowed}"
            ) from None
        first_line[code] = line
        diseases.append(ChronicDisease(code, name, name_en, since, quota))
    if not diseases:
        raise ReferenceDataError(file, "", "rows", "the file lists no disease")
    return tuple(diseases)
