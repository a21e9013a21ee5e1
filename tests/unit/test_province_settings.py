"""The province settings file (data/provinces.json): packaged values, defaults, and the
refusal of malformed files naming the file, the province and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from medroam.domain.province import ProvinceBook, ProvinceSettings
from medroam.refdata.errors import ReferenceDataError
from medroam.refdata.provinces import load_province_book, parse_province_book
from medroam.refdata.regions import load_regions


def test_the_packaged_file_lists_every_province_with_the_default() -> None:
    book = load_province_book()
    provinces = {r.code for r in load_regions().provinces()}
    assert set(book) == provinces and len(book) == 32
    assert not any(s.intra_filing_required for s in book.values())
    assert load_province_book() is load_province_book()  # cached


def test_any_region_code_reads_its_province_and_unlisted_ones_get_the_default() -> None:
    book = ProvinceBook({"440000": ProvinceSettings("440000", intra_filing_required=True)})
    assert book.of("440305").intra_filing_required
    assert book.of("440000") == ProvinceSettings("440000", True)
    assert book.of("510100") == ProvinceSettings("510000", intra_filing_required=False)


def _doc(**provinces: Any) -> dict[str, Any]:
    return {"format_version": 1, "synthetic": True, "source": "test", "provinces": provinces}


def _load(tmp_path: Path, doc: Any) -> ProvinceBook:
    path = tmp_path / "provinces.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc, ensure_ascii=False))
    return load_province_book(path)


def test_a_small_valid_file(tmp_path: Path) -> None:
    book = _load(tmp_path, _doc(**{"440000": {"name": "广东省", "intra_filing_required": True}}))
    assert book.of("440100").intra_filing_required and not book.of("110100").intra_filing_required


GD = {"name": "广东省", "intra_filing_required": False}


@pytest.mark.parametrize(
    ("doc", "where", "field", "quoted"),
    [
        (_doc(**{"440100": GD}), "province '440100'", "provinces", "'440100'"),
        (_doc(**{"999999": GD}), "province '999999'", "provinces", "'999999'"),
        (_doc(**{"440000": {**GD, "intra_filing_required": "false"}}), "province '440000'",
         "intra_filing_required", "'false'"),
        (_doc(**{"440000": {**GD, "intra_filing_required": 1}}), "province '440000'",
         "intra_filing_required", "1"),
        (_doc(**{"440000": {"name": "广东"}}), "province '440000'", "name", "'广东'"),
        (_doc(**{"440000": {**GD, "filing": True}}), "province '440000'", "filing", "unknown"),
        ({**_doc(), "format_version": 2}, "", "format_version", "2"),
        ({**_doc(), "extra": 1}, "", "extra", "unknown"),
        ({"synthetic": True, "provinces": {}}, "", "source", "required"),
        (
            '{"synthetic": true, "source": "x", "provinces": {"440000": {"name": "广东省", '
            '"intra_filing_required": true, "intra_filing_required": false}}}',
            "",
            "intra_filing_required",
            "duplicate",
        ),
        ("{", "", "(document)", "not valid JSON"),
    ],
)  # fmt: skip
def test_malformed_files_are_refused(
    tmp_path: Path, doc: Any, where: str, field: str, quoted: str
) -> None:
    with pytest.raises(ReferenceDataError) as info:
        _load(tmp_path, doc)
    err = info.value
    assert err.file.endswith("provinces.json")
    assert err.where == where and err.field == field
    assert quoted in err.problem


def test_parse_names_the_file_it_is_given() -> None:
    with pytest.raises(ReferenceDataError, match=r"^here\.json: field 'provinces'"):
        parse_province_book('{"synthetic": true, "source": "x", "provinces": []}', "here.json")
