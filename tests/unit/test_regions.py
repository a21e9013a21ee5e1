from __future__ import annotations

from pathlib import Path

import pytest

from medroam.domain.region import (
    CrossRegion,
    Region,
    RegionKind,
    RegionLevel,
    classify_visit,
    pay_loc,
    province_of,
)
from medroam.refdata.errors import ReferenceDataError
from medroam.refdata.regions import RegionTable, load_regions

HEADER = "code,name,level,province_code,kind,note\n"


@pytest.fixture(scope="module")
def table() -> RegionTable:
    return load_regions()


# --- the packaged list ---------------------------------------------------------------


def test_counts(table: RegionTable) -> None:
    provinces = table.provinces()
    pooling = table.pooling_regions()
    assert len(provinces) == 32
    assert 330 <= len(pooling) <= 370
    assert len(table) == len(provinces) + len(pooling)


def test_the_333_prefecture_level_units_by_kind(table: RegionTable) -> None:
    kinds = [r.kind for r in table.pooling_regions()]
    assert kinds.count(RegionKind.PREFECTURE_CITY) == 293
    assert kinds.count(RegionKind.AREA) == 7
    assert kinds.count(RegionKind.AUTONOMOUS_PREFECTURE) == 30
    assert kinds.count(RegionKind.LEAGUE) == 3
    assert kinds.count(RegionKind.MUNICIPALITY) == 4


@pytest.mark.parametrize(
    ("code", "name", "kind"),
    [
        ("130100", "石家庄市", RegionKind.PREFECTURE_CITY),
        ("440300", "深圳市", RegionKind.PREFECTURE_CITY),
        ("532900", "大理白族自治州", RegionKind.AUTONOMOUS_PREFECTURE),
        ("150700", "呼伦贝尔市", RegionKind.PREFECTURE_CITY),
        ("510100", "成都市", RegionKind.PREFECTURE_CITY),
        ("420100", "武汉市", RegionKind.PREFECTURE_CITY),
        ("652900", "阿克苏地区", RegionKind.AREA),
        ("152900", "阿拉善盟", RegionKind.LEAGUE),
        ("630200", "海东市", RegionKind.PREFECTURE_CITY),
        ("650400", "吐鲁番市", RegionKind.PREFECTURE_CITY),
        ("650500", "哈密市", RegionKind.PREFECTURE_CITY),
        ("540200", "日喀则市", RegionKind.PREFECTURE_CITY),
        ("540300", "昌都市", RegionKind.PREFECTURE_CITY),
        ("540400", "林芝市", RegionKind.PREFECTURE_CITY),
        ("540500", "山南市", RegionKind.PREFECTURE_CITY),
        ("540600", "那曲市", RegionKind.PREFECTURE_CITY),
        ("520500", "毕节市", RegionKind.PREFECTURE_CITY),
        ("520600", "铜仁市", RegionKind.PREFECTURE_CITY),
        ("419001", "济源市", RegionKind.COUNTY_LEVEL),
        ("429004", "仙桃市", RegionKind.COUNTY_LEVEL),
        ("429021", "神农架林区", RegionKind.COUNTY_LEVEL),
        ("469001", "五指山市", RegionKind.COUNTY_LEVEL),
        ("659001", "石河子市", RegionKind.COUNTY_LEVEL),
        ("110100", "北京市", RegionKind.MUNICIPALITY),
        ("500100", "重庆市", RegionKind.MUNICIPALITY),
        ("660100", "新疆生产建设兵团", RegionKind.CORPS),
    ],
)
def test_real_codes(table: RegionTable, code: str, name: str, kind: RegionKind) -> None:
    region = table.get(code)
    assert region is not None, code
    assert region.name == name
    assert region.kind is kind
    assert region.level is RegionLevel.PREFECTURE
    assert region.province_code == code[:2] + "0000"


@pytest.mark.parametrize("code", ["371200", "341400", "500200", "522400", "710000", "810000"])
def test_abolished_or_excluded_codes_are_absent(table: RegionTable, code: str) -> None:
    assert code not in table
    assert table.get(code) is None


def test_provinces_include_the_corps_and_the_municipalities(table: RegionTable) -> None:
    codes = {r.code: r for r in table.provinces()}
    assert codes["660000"].kind is RegionKind.CORPS
    assert {c for c, r in codes.items() if r.kind is RegionKind.MUNICIPALITY} == {
        "110000",
        "120000",
        "310000",
        "500000",
    }
    assert all(c.endswith("0000") for c in codes)


def test_no_orphans_and_every_province_pools(table: RegionTable) -> None:
    province_codes = {r.code for r in table.provinces()}
    for region in table.pooling_regions():
        assert region.province_code in province_codes, region
        assert province_of(region.code) == region.province_code
    for code in province_codes:
        assert table.pooling_regions_of(code), code


def test_pooling_regions_of_a_province(table: RegionTable) -> None:
    hubei = {r.code for r in table.pooling_regions_of("420000")}
    assert len(hubei) == 17  # 12 cities, 恩施州 and 4 province-administered units
    assert {"420100", "422800", "429004", "429005", "429006", "429021"} <= hubei
    assert [r.code for r in table.pooling_regions_of("110000")] == ["110100"]
    assert table.pooling_regions_of("990000") == ()


def test_packaged_load_is_cached() -> None:
    assert load_regions() is load_regions()


# --- malformed files -------------------------------------------------------------


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "regions.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


GOOD = (
    "130000,河北省,province,130000,province,\n130100,石家庄市,prefecture,130000,prefecture_city,\n"
)


def test_small_valid_file(tmp_path: Path) -> None:
    table = load_regions(_write(tmp_path, GOOD))
    assert len(table) == 2
    assert table.get("130100") == Region(
        "130100", "石家庄市", RegionLevel.PREFECTURE, "130000", RegionKind.PREFECTURE_CITY
    )


@pytest.mark.parametrize(
    ("body", "row", "field", "quoted"),
    [
        (GOOD + "13010,短码,prefecture,130000,prefecture_city,\n", "row 4", "code", "'13010'"),
        (GOOD + "13O200,唐山市,prefecture,130000,prefecture_city,\n", "row 4", "code", "'13O200'"),
        (GOOD + "130100,重复,prefecture,130000,prefecture_city,\n", "row 4", "code", "'130100'"),
        (GOOD + "130200,,prefecture,130000,prefecture_city,\n", "row 4", "name", "''"),
        (GOOD + "130200,唐山市,city,130000,prefecture_city,\n", "row 4", "level", "'city'"),
        (GOOD + "130200,唐山市,prefecture,130000,town,\n", "row 4", "kind", "'town'"),
        (GOOD + "130200,唐山市,prefecture,130000,province,\n", "row 4", "kind", "'province'"),
        (
            GOOD + "130200,唐山市,prefecture,130100,prefecture_city,\n",
            "row 4",
            "province_code",
            "'130100'",
        ),
        (
            GOOD + "140100,太原市,prefecture,140000,prefecture_city,\n",
            "row 4",
            "province_code",
            "'140000'",
        ),
        (
            GOOD + "140100,太原市,prefecture,130000,prefecture_city,\n",
            "row 4",
            "province_code",
            "'130000'",
        ),
        (GOOD + "140100,山西省,province,140000,province,\n", "row 4", "code", "'140100'"),
        (GOOD + "140000,山西省,province,140000\n", "row 4", "columns", "'140000'"),
    ],
)
def test_malformed_rows_name_file_row_field_and_value(
    tmp_path: Path, body: str, row: str, field: str, quoted: str
) -> None:
    path = _write(tmp_path, body)
    with pytest.raises(ReferenceDataError) as info:
        load_regions(path)
    err = info.value
    assert err.file == str(path)
    assert err.where.startswith(row)
    assert err.field == field
    assert quoted in err.problem
    assert str(path) in str(err) and field in str(err)


def test_bad_header(tmp_path: Path) -> None:
    path = tmp_path / "regions.csv"
    path.write_text("code,name\n130000,河北省\n", encoding="utf-8")
    with pytest.raises(ReferenceDataError) as info:
        load_regions(path)
    assert info.value.field == "columns"


# --- classification --------------------------------------------------------------


@pytest.mark.parametrize(
    ("insured", "treated", "expected", "loc"),
    [
        ("440300", "440300", CrossRegion.LOCAL, "2"),
        ("440300", "440100", CrossRegion.INTRA_PROVINCE, "3"),
        ("429004", "420100", CrossRegion.INTRA_PROVINCE, "3"),
        ("440300", "110100", CrossRegion.INTER_PROVINCE, "4"),
        ("660100", "650100", CrossRegion.INTER_PROVINCE, "4"),
        ("659001", "650100", CrossRegion.INTRA_PROVINCE, "3"),
    ],
)
def test_classify_visit(insured: str, treated: str, expected: CrossRegion, loc: str) -> None:
    assert classify_visit(insured, treated) is expected
    assert pay_loc(classify_visit(insured, treated)) == loc


def test_classify_visit_rejects_malformed_codes() -> None:
    with pytest.raises(ValueError, match="6 digits"):
        classify_visit("4403", "440300")
    with pytest.raises(ValueError, match="6 digits"):
        classify_visit("440300", "44030X")


def test_province_of() -> None:
    assert province_of("532900") == "530000"
    assert province_of("110000") == "110000"
    with pytest.raises(ValueError):
        province_of("53290")
