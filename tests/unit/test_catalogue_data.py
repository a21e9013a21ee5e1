"""The packaged synthetic catalogue, its generator, its overrides and the loader's checks."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from medroam.domain.catalogue import CatalogueItem
from medroam.domain.codes import LEVEL_A, LEVEL_B, LEVEL_C
from medroam.refdata.catalogue import (
    KNOWN_CHARGE_TYPES,
    load_catalogue,
    load_national_catalogue,
    load_typical_prices,
)
from medroam.refdata.errors import ReferenceDataError

ROOT = Path(__file__).resolve().parents[2]
PACKAGED = ROOT / "src" / "medroam" / "data" / "catalogue"
GENERATOR = ROOT / "tools" / "gen_catalogue.py"

HD = "003112010010000"  # 血液透析
NIFEDIPINE = "XC08CAE002A007010190001"  # 硝苯地平控释片 30mg
STENT = "C0302010010010010001"  # 药物洗脱冠脉支架(钴铬合金) 3.0×18mm
HIP = "C0601010010020010001"  # 人工全髋关节假体(陶瓷-聚乙烯) 标准
LAP_APPENDIX = "003310040020000"  # 腹腔镜下阑尾切除术
TACROLIMUS = "XL04ADE206A002010190001"  # 他克莫司胶囊 0.5mg


@pytest.fixture(scope="module")
def national() -> dict[str, CatalogueItem]:
    return load_national_catalogue()


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_catalogue", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_catalogue"] = module  # dataclasses look the module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["gen_catalogue"]
    return module


# --- size and mix ----------------------------------------------------------------------


def test_size_and_list_types(national: dict[str, CatalogueItem]) -> None:
    counts = Counter(item.list_type for item in national.values())
    assert len(national) >= 2400
    assert counts == {"101": 1020, "102": 130, "104": 50, "201": 800, "301": 400}
    drugs = counts["101"] + counts["102"] + counts["104"]
    assert drugs == 1200


def test_every_item_is_synthetic_and_the_catalogue_says_so(
    national: dict[str, CatalogueItem],
) -> None:
    assert all(item.synthetic for item in national.values())
    assert load_catalogue("310101").source == "synthetic"


def test_class_mix_within_bounds(national: dict[str, CatalogueItem]) -> None:
    levels = Counter(item.level for item in national.values())
    n = len(national)
    assert set(levels) == {LEVEL_A, LEVEL_B, LEVEL_C}
    assert 0.30 <= levels[LEVEL_A] / n <= 0.40
    assert 0.45 <= levels[LEVEL_B] / n <= 0.55
    assert 0.10 <= levels[LEVEL_C] / n <= 0.20


def test_ratios_by_class(national: dict[str, CatalogueItem]) -> None:
    b_ratios = {i.selfpay_ratio for i in national.values() if i.level == LEVEL_B}
    assert b_ratios == {500, 1000, 1500, 2000, 3000}
    assert {i.selfpay_ratio for i in national.values() if i.level == LEVEL_A} == {0}


def test_cap_shares(national: dict[str, CatalogueItem]) -> None:
    drugs = [i for i in national.values() if i.list_type in ("101", "102", "104")]
    others = [i for i in national.values() if i.list_type in ("201", "301")]
    drug_share = sum(i.price_cap is not None for i in drugs) / len(drugs)
    other_share = sum(i.price_cap is not None for i in others) / len(others)
    assert 0.07 <= drug_share <= 0.13
    assert 0.35 <= other_share <= 0.45
    assert all(i.price_cap is None for i in national.values() if i.level == LEVEL_C)


def test_charge_types_follow_list_types(national: dict[str, CatalogueItem]) -> None:
    by_list: dict[str, set[str]] = {}
    for item in national.values():
        by_list.setdefault(item.list_type, set()).add(item.charge_type)
    assert by_list["301"] == {"08"}
    assert by_list["102"] == {"10"}
    assert by_list["101"] == {"09", "11"}
    assert by_list["201"] == {"01", "02", "03", "04", "05", "06", "07", "12", "13"}
    assert set().union(*by_list.values()) <= KNOWN_CHARGE_TYPES


def test_flags_are_present_but_rare(national: dict[str, CatalogueItem]) -> None:
    n = len(national)
    for flag in ("restricted", "essential", "negotiated", "special"):
        count = sum(getattr(item, flag) for item in national.values())
        assert 0 < count < n // 5, flag
    # negotiated drugs are 乙类 in the national list
    assert all(i.level == LEVEL_B for i in national.values() if i.negotiated)


def test_code_formats(national: dict[str, CatalogueItem]) -> None:
    for code, item in national.items():
        if item.list_type == "201":
            assert len(code) == 15 and code.isdigit() and code.startswith("00"), code
        elif item.list_type == "301":
            assert len(code) == 20 and code[0] == "C" and code[1:].isdigit(), code
        elif item.list_type == "102":
            assert len(code) == 12 and code[0] == "T" and code[1:].isdigit(), code
        else:
            assert len(code) == 23 and code[0] in "XZM" and code[6] == "E", code


@pytest.mark.parametrize(
    ("code", "name", "level", "ratio", "cap"),
    [
        ("001109000010000", "普通病房床位费(三人间)", LEVEL_A, 0, 60_000_000),
        ("001202000020000", "一级护理", LEVEL_A, 0, 30_000_000),
        (HD, "血液透析", LEVEL_A, 0, 420_000_000),
        ("003112010050000", "腹膜透析", LEVEL_A, 0, 80_000_000),
        ("003310040010000", "阑尾切除术", LEVEL_A, 0, 1_000_000_000),
        (NIFEDIPINE, "硝苯地平控释片 30mg", LEVEL_B, 1000, 3_500_000),
        ("XA10BAE023A001010190001", "盐酸二甲双胍片 0.5g", LEVEL_A, 0, None),
        ("XL01XAE176A004010190001", "注射用奥沙利铂 50mg", LEVEL_B, 1000, 300_000_000),
        (TACROLIMUS, "他克莫司胶囊 0.5mg", LEVEL_B, 1000, None),
        ("XL04ADE207A010010190001", "环孢素软胶囊 25mg", LEVEL_B, 1000, None),
        ("XL04AAE208A001010190001", "吗替麦考酚酯片 0.5g", LEVEL_B, 1000, None),
        (STENT, "药物洗脱冠脉支架(钴铬合金) 3.0×18mm", LEVEL_B, 2000, 800_000_000),
        (HIP, "人工全髋关节假体(陶瓷-聚乙烯) 标准", LEVEL_B, 3000, 7_000_000_000),
        ("T02001101001", "冬虫夏草", LEVEL_C, 10_000, None),
    ],
)
def test_stable_items(
    national: dict[str, CatalogueItem],
    code: str,
    name: str,
    level: str,
    ratio: int,
    cap: int | None,
) -> None:
    item = national[code]
    assert (item.name, item.level, item.selfpay_ratio, item.price_cap) == (
        name,
        level,
        ratio,
        cap,
    )


def test_restricted_and_negotiated_anchors(national: dict[str, CatalogueItem]) -> None:
    assert national["XB05AAE167A090010190001"].restricted  # 人血白蛋白
    osimertinib = national["XL01EBE192A001010190001"]
    assert osimertinib.negotiated and osimertinib.special


def test_typical_prices() -> None:
    prices = load_typical_prices()
    assert len(prices) == 2400
    assert prices[HD] == 400_000_000  # 400.00 yuan
    assert prices["XC08CAE001A001010190001"] == 84_000  # 0.084 yuan
    assert all(p > 0 for p in prices.values())


# --- determinism -----------------------------------------------------------------------


def test_regeneration_is_byte_identical(tmp_path: Path) -> None:
    written = _generator().generate(tmp_path)
    names = sorted(p.relative_to(tmp_path).as_posix() for p in written)
    packaged = sorted(p.relative_to(PACKAGED).as_posix() for p in PACKAGED.rglob("*.csv"))
    assert names == packaged
    for rel in names:
        assert (tmp_path / rel).read_bytes() == (PACKAGED / rel).read_bytes(), rel


# --- overrides -------------------------------------------------------------------------


def test_province_override_changes_cap_only_there(national: dict[str, CatalogueItem]) -> None:
    assert national[HD].price_cap == 420_000_000
    assert load_catalogue("110000").items[HD].price_cap == 380_000_000
    assert load_catalogue("110105").items[HD].price_cap == 380_000_000  # a Beijing district
    assert load_catalogue("310101").items[HD].price_cap == 420_000_000  # Shanghai: national
    assert load_catalogue("120000").items[HD].price_cap == 420_000_000  # no file at all


def test_province_override_moves_b_to_a_only_there() -> None:
    assert load_catalogue("440100").items[NIFEDIPINE].level == LEVEL_A  # 广州
    assert load_catalogue("440100").items[NIFEDIPINE].price_cap == 3_500_000
    assert load_catalogue("510100").items[NIFEDIPINE].level == LEVEL_B  # 成都
    assert load_catalogue("420100").items[LAP_APPENDIX].level == LEVEL_A  # 武汉
    assert load_catalogue("440100").items[LAP_APPENDIX].level == LEVEL_B


def test_exact_region_override_applies_after_province() -> None:
    shenzhen = load_catalogue("440300")
    assert shenzhen.items[NIFEDIPINE].level == LEVEL_A  # from 440000.csv
    assert shenzhen.items[NIFEDIPINE].price_cap == 3_000_000  # from 440300.csv
    assert shenzhen.items[HD].price_cap == 390_000_000
    # a district of 深圳 gets the province file, not the prefecture file
    assert load_catalogue("440305").items[HD].price_cap == 420_000_000


def test_ratio_and_cap_overrides() -> None:
    assert load_catalogue("310000").items[STENT].selfpay_ratio == 1000
    assert load_catalogue("310000").items[STENT].price_cap == 700_000_000
    assert load_catalogue("510000").items[HIP].price_cap == 6_500_000_000
    # 530000.csv spells levels 1/2/3; they load normalised
    yunnan = load_catalogue("530100")
    assert yunnan.items[TACROLIMUS].selfpay_ratio == 500
    assert {item.level for item in yunnan.items.values()} == {LEVEL_A, LEVEL_B, LEVEL_C}


def test_each_province_file_changes_a_few_dozen_items(
    national: dict[str, CatalogueItem],
) -> None:
    for province in ("110000", "310000", "440000", "510000", "420000", "530000"):
        items = load_catalogue(province).items
        changed = [code for code, item in items.items() if item != national[code]]
        assert 20 <= len(changed) <= 60, province
        assert len(items) == len(national)


def test_packaged_catalogues_are_cached_and_read_only() -> None:
    first = load_catalogue("110105")
    assert load_catalogue("110105") is first
    with pytest.raises(TypeError):
        first.items[HD] = first.items[HD]  # type: ignore[index]
    copy = load_national_catalogue()
    copy.clear()
    assert len(load_national_catalogue()) == 2400


def test_bad_region_code() -> None:
    with pytest.raises(ReferenceDataError) as exc:
        load_catalogue("11010")
    assert exc.value.field == "region"
    assert "'11010'" in str(exc.value)


# --- validation ------------------------------------------------------------------------

HEADER = (
    "code,name,list_type,charge_type,level,selfpay_ratio,price_cap,typical_price,unit,"
    "restricted,essential,negotiated,special,synthetic"
)
GOOD = {
    "code": "001109000010000",
    "name": "普通病房床位费(三人间)",
    "list_type": "201",
    "charge_type": "01",
    "level": "02",
    "selfpay_ratio": "0.10",
    "price_cap": "60.00",
    "typical_price": "50.00",
    "unit": "日",
    "restricted": "0",
    "essential": "0",
    "negotiated": "0",
    "special": "0",
    "synthetic": "1",
}
OTHER = dict(GOOD, code="003112010010000", name="血液透析")


def _row(values: dict[str, str]) -> str:
    return ",".join(values[c] for c in HEADER.split(","))


def _write(path: Path, *rows: dict[str, str]) -> Path:
    path.write_text("\n".join([HEADER, *(_row(r) for r in rows)]) + "\n", encoding="utf-8")
    return path


def test_a_valid_small_file_loads(tmp_path: Path) -> None:
    items = load_national_catalogue(_write(tmp_path / "n.csv", GOOD, dict(OTHER, level="1")))
    bed = items["001109000010000"]
    assert (bed.level, bed.selfpay_ratio, bed.price_cap) == (LEVEL_B, 1000, 60_000_000)
    assert items["003112010010000"].level == LEVEL_A  # "1" normalised to "01"


def test_a_real_catalogue_without_optional_columns(tmp_path: Path) -> None:
    path = tmp_path / "real.csv"
    path.write_text(
        "\ufeffcode,name,list_type,charge_type,level,selfpay_ratio,price_cap\n"
        "XA10BAE023A001010100001,盐酸二甲双胍片,101,09,01,,\n",
        encoding="utf-8",
    )
    item = load_national_catalogue(path)["XA10BAE023A001010100001"]
    assert item.synthetic is False
    assert item.restricted is False
    assert item.price_cap is None and item.selfpay_ratio == 0


@pytest.mark.parametrize(
    ("field", "value", "phrase"),
    [
        ("price_cap", "-1.00", "negative"),
        ("price_cap", "12.3456789", "more than 6 decimals"),
        ("price_cap", "abc", "not a plain decimal"),
        ("typical_price", "0.0000001", "more than 6 decimals"),
        ("typical_price", "-0.5", "negative"),
        ("level", "04", "chrgitm_lv"),
        ("level", "甲", "chrgitm_lv"),
        ("selfpay_ratio", "1.5", "between 0 and 1"),
        ("selfpay_ratio", "-0.1", "between 0 and 1"),
        ("selfpay_ratio", "0.12345", "at most 4 decimals"),
        ("list_type", "999", "list_type"),
        ("charge_type", "15", "med_chrgitm_type"),
        ("charge_type", "1", "med_chrgitm_type"),
        ("restricted", "2", "0 or 1"),
        ("synthetic", "yes", "0 or 1"),
        ("name", "", "empty"),
    ],
)
def test_bad_value_names_file_row_code_field_and_value(
    tmp_path: Path, field: str, value: str, phrase: str
) -> None:
    path = _write(tmp_path / "bad.csv", GOOD, dict(OTHER, **{field: value}))
    with pytest.raises(ReferenceDataError) as exc:
        load_national_catalogue(path)
    err = exc.value
    assert err.file == str(path)
    assert err.where == "row 3 (code 003112010010000)"
    assert err.field == field
    assert repr(value) in err.problem
    assert phrase in err.problem
    assert str(path) in str(err) and f"'{field}'" in str(err)


def test_duplicate_code(tmp_path: Path) -> None:
    path = _write(tmp_path / "dup.csv", GOOD, OTHER, dict(GOOD, name="again"))
    with pytest.raises(ReferenceDataError) as exc:
        load_national_catalogue(path)
    assert exc.value.where == "row 4 (code 001109000010000)"
    assert exc.value.field == "code"
    assert "'001109000010000' duplicates row 2" in exc.value.problem


def test_bad_code(tmp_path: Path) -> None:
    path = _write(tmp_path / "code.csv", dict(GOOD, code="00 11"))
    with pytest.raises(ReferenceDataError) as exc:
        load_national_catalogue(path)
    assert (exc.value.field, exc.value.where) == ("code", "row 2 (code 00 11)")
    assert "'00 11'" in exc.value.problem


def test_missing_column_and_ragged_row(tmp_path: Path) -> None:
    path = tmp_path / "cols.csv"
    path.write_text("code,name,list_type,charge_type,level,selfpay_ratio\n", encoding="utf-8")
    with pytest.raises(ReferenceDataError) as exc:
        load_national_catalogue(path)
    assert (exc.value.where, exc.value.field) == ("header", "price_cap")
    path.write_text(HEADER + "\n" + _row(GOOD) + ",extra\n", encoding="utf-8")
    with pytest.raises(ReferenceDataError) as exc:
        load_national_catalogue(path)
    assert (exc.value.where, exc.value.field) == ("row 2", "columns")


def _base(tmp_path: Path, override: str, name: str = "110000") -> Path:
    _write(tmp_path / "national.csv", GOOD, OTHER)
    (tmp_path / "overrides").mkdir()
    (tmp_path / "overrides" / f"{name}.csv").write_text(
        "code,level,selfpay_ratio,price_cap\n" + override, encoding="utf-8"
    )
    return tmp_path


def test_override_from_a_directory(tmp_path: Path) -> None:
    base = _base(tmp_path, "003112010010000,,,380.00\n001109000010000,1,,\n")
    (base / "overrides" / "110105.csv").write_text(
        "code,level,selfpay_ratio,price_cap\n003112010010000,,0.05,350\n", encoding="utf-8"
    )
    province = load_catalogue("110000", base_dir=base)
    assert province.items["003112010010000"].price_cap == 380_000_000
    assert province.items["001109000010000"].level == LEVEL_A
    assert province.items["001109000010000"].price_cap == 60_000_000  # blank keeps
    district = load_catalogue("110105", base_dir=base)
    hd = district.items["003112010010000"]
    assert (hd.price_cap, hd.selfpay_ratio, hd.level) == (350_000_000, 500, LEVEL_B)
    assert load_catalogue("310000", base_dir=base).items["003112010010000"].price_cap == (
        60_000_000
    )


@pytest.mark.parametrize(
    ("line", "field", "quoted"),
    [
        ("XZ0000000000000,,,1.00", "code", "'XZ0000000000000'"),
        ("003112010010000,7,,", "level", "'7'"),
        ("003112010010000,,1.5,", "selfpay_ratio", "'1.5'"),
        ("003112010010000,,,-3", "price_cap", "'-3'"),
        ("003112010010000,,,1.1234567", "price_cap", "'1.1234567'"),
        ("003112010010000,,,", "code", "changes nothing"),
    ],
)
def test_bad_override_rows(tmp_path: Path, line: str, field: str, quoted: str) -> None:
    base = _base(tmp_path, "001109000010000,,,55.00\n" + line + "\n")
    with pytest.raises(ReferenceDataError) as exc:
        load_catalogue("110101", base_dir=base)
    err = exc.value
    assert err.file == str(base / "overrides" / "110000.csv")
    assert err.where.startswith("row 3 (code ")
    assert err.field == field
    assert quoted in err.problem


def test_override_naming_a_code_twice(tmp_path: Path) -> None:
    base = _base(tmp_path, "001109000010000,,,55.00\n001109000010000,01,,\n")
    with pytest.raises(ReferenceDataError) as exc:
        load_catalogue("110000", base_dir=base)
    assert (exc.value.field, exc.value.where) == ("code", "row 3 (code 001109000010000)")
    assert "duplicates row 2" in exc.value.problem
