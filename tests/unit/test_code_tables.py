from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from medroam.domain import codes
from medroam.domain.codes import PSN_TYPES_RETIRED, service_kind
from medroam.refdata.code_tables import CodeTables, load_code_tables
from medroam.refdata.errors import ReferenceDataError

REQUIRED_TYPES = {
    "insutype",
    "med_type",
    "psn_type",
    "fund_pay_type",
    "mdtrt_cert_type",
    "chrgitm_lv",
    "med_chrgitm_type",
    "list_type",
    "psn_setlway",
    "clr_type",
    "clr_way",
    "psn_cert_type",
    "gend",
    "opter_type",
    "acct_used_flag",
    "mid_setl_flag",
    "pay_loc",
    "refd_setl_flag",
    "stmt_rslt",
    "dscg_way",
    "diag_type",
    "hosp_appr_flag",
    "psn_insu_stas",
    "trt_chk_type",
}


@pytest.fixture(scope="module")
def tables() -> CodeTables:
    return load_code_tables()


def test_all_required_types_are_present(tables: CodeTables) -> None:
    assert set(tables.types()) >= REQUIRED_TYPES
    assert "fund_field_map" not in tables.types()


@pytest.mark.parametrize(
    ("type_", "value", "label"),
    [
        ("insutype", "310", "职工基本医疗保险"),
        ("insutype", "390", "城乡居民基本医疗保险"),
        ("med_type", "14", "门诊慢特病"),
        ("psn_type", "1201", "职工退休"),
        ("fund_pay_type", "330100", "大额医疗费用补助"),
        ("mdtrt_cert_type", "02", "居民身份证"),
        ("chrgitm_lv", "03", "丙类"),
        ("med_chrgitm_type", "09", "西药费"),
        ("list_type", "301", "医用耗材"),
        ("clr_way", "50", "DIP支付方式"),
        ("pay_loc", "4", "跨省异地"),
        ("acct_used_flag", "2", "使用共济人个账"),
        ("psn_insu_stas", "2", "暂停参保"),
        ("gend", "2", "女"),
    ],
)
def test_labels(tables: CodeTables, type_: str, value: str, label: str) -> None:
    assert tables.label(type_, value) == label
    assert tables.has(type_, value)


def test_unknown_value_and_type(tables: CodeTables) -> None:
    assert tables.label("insutype", "999") is None
    assert not tables.has("insutype", "999")
    assert not tables.has("no_such_type", "1")
    with pytest.raises(KeyError):
        tables.label("no_such_type", "1")
    with pytest.raises(KeyError):
        tables.values("no_such_type")


def test_values_keep_file_order_and_english_labels(tables: CodeTables) -> None:
    values = tables.values("mdtrt_cert_type")
    assert [v.value for v in values] == ["01", "02", "03"]
    assert all(v.label_en for v in values)
    assert tables.table("mdtrt_cert_type").label == "就诊凭证类型"


def test_every_table_has_unique_values_and_labels(tables: CodeTables) -> None:
    for type_ in tables.types():
        values = [v.value for v in tables.values(type_)]
        assert len(values) == len(set(values)), type_
        assert all(v.label.strip() and v.label_en.strip() for v in tables.values(type_)), type_


def test_local_extensions_are_marked(tables: CodeTables) -> None:
    hn = tables.table("clr_type").get("9987")
    assert hn is not None and "HN" in hn.note
    national = tables.table("clr_type").get("21")
    assert national is not None and national.note == ""


def test_codes_the_rules_branch_on_are_in_the_tables(tables: CodeTables) -> None:
    """The constants in medroam.domain.codes must exist in the dictionaries."""
    for med_type in (codes.MED_TYPE_EMERGENCY, codes.MED_TYPE_EMERGENCY_INPATIENT):
        assert tables.has("med_type", med_type), med_type
    settled = [v.value for v in tables.values("med_type") if service_kind(v.value) is not None]
    assert {"11", "14", "21", "41", "52"} <= set(settled)
    for psn_type in PSN_TYPES_RETIRED:
        assert tables.has("psn_type", psn_type), psn_type
    for fund in (
        codes.FUND_EMPLOYEE_POOL,
        codes.FUND_EMPLOYEE_ACCOUNT,
        codes.FUND_CIVIL_SERVANT,
        codes.FUND_LARGE_EXPENSE,
        codes.FUND_RESIDENT_POOL,
        codes.FUND_RESIDENT_CRITICAL,
        codes.FUND_MEDICAL_ASSISTANCE,
    ):
        assert tables.has("fund_pay_type", fund), fund
    for level in (codes.LEVEL_A, codes.LEVEL_B, codes.LEVEL_C):
        assert tables.has("chrgitm_lv", level)


@pytest.mark.parametrize(
    ("fund", "field"),
    [
        ("310100", "hifp_pay"),
        ("310102", "hifp_pay"),  # sub-code of 310100
        ("390101", "hifp_pay"),
        ("320100", "cvlserv_pay"),
        ("370100", "hifes_pay"),
        ("390200", "hifmi_pay"),
        ("330100", "hifob_pay"),
        ("610100", "maf_pay"),
        ("610104", "maf_pay"),
        ("310200", "acct_pay"),
        ("340100", "oth_pay"),
        ("999997", "oth_pay"),
    ],
)
def test_fund_field_map(tables: CodeTables, fund: str, field: str) -> None:
    assert tables.fund_field(fund) == field


def test_personal_account_is_outside_the_fund_total(tables: CodeTables) -> None:
    assert tables.fund_field_map.outside_fund_total == frozenset({"acct_pay"})


def test_packaged_load_is_cached() -> None:
    assert load_code_tables() is load_code_tables()


# --- malformed files -------------------------------------------------------------

FUND_MAP: dict[str, Any] = {"exact": {"310100": "hifp_pay"}, "prefix": {}, "default": "oth_pay"}


def _doc(**tables: Any) -> dict[str, Any]:
    return {**tables, "fund_field_map": FUND_MAP}


def _table(*values: dict[str, str]) -> dict[str, Any]:
    return {"label": "性别", "values": list(values)}


def _v(value: str, label: str = "男", label_en: str = "male") -> dict[str, str]:
    return {"value": value, "label": label, "label_en": label_en}


def _write(tmp_path: Path, doc: Any) -> Path:
    path = tmp_path / "code_tables.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def test_small_valid_file(tmp_path: Path) -> None:
    tables = load_code_tables(_write(tmp_path, _doc(gend=_table(_v("1"), _v("2", "女", "female")))))
    assert tables.types() == ("gend",)
    assert tables.label("gend", "2") == "女"


@pytest.mark.parametrize(
    ("doc", "where", "field", "quoted"),
    [
        (_doc(gend=_table(_v("1"), _v("1", "女"))), "table 'gend' value #2", "value", "'1'"),
        (_doc(gend=_table(_v("1", label=""))), "table 'gend' value #1", "label", "''"),
        (_doc(gend=_table(_v("1", label_en=" "))), "table 'gend' value #1", "label_en", "' '"),
        (_doc(gend=_table(_v(" 1"))), "table 'gend' value #1", "value", "' 1'"),
        (_doc(gend={"label": "", "values": [_v("1")]}), "table 'gend'", "label", "''"),
        (_doc(gend={"label": "性别", "values": []}), "table 'gend'", "values", "[]"),
        (_doc(gend=_table({"value": "1", "label": "男"})), "table 'gend' value #1", "label_en", ""),
        (
            {"gend": _table(_v("1")), "fund_field_map": {**FUND_MAP, "default": "other"}},
            "fund_field_map",
            "default",
            "'other'",
        ),
        (
            {"gend": _table(_v("1")), "fund_field_map": {**FUND_MAP, "prefix": {"61x": "maf_pay"}}},
            "fund_field_map.prefix '61x'",
            "fund_pay_type",
            "'61x'",
        ),
        ({"gend": _table(_v("1"))}, "top level", "fund_field_map", ""),
    ],
)
def test_malformed_files_name_file_record_field_and_value(
    tmp_path: Path, doc: Any, where: str, field: str, quoted: str
) -> None:
    path = _write(tmp_path, doc)
    with pytest.raises(ReferenceDataError) as info:
        load_code_tables(path)
    err = info.value
    assert err.file == str(path)
    assert err.where.startswith(where)
    assert err.field == field
    assert quoted in err.problem


def test_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "code_tables.json"
    path.write_text('{"gend": ', encoding="utf-8")
    with pytest.raises(ReferenceDataError) as info:
        load_code_tables(path)
    assert info.value.field == "json"
    assert info.value.where.startswith("line 1")
