from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from medroam.domain.chronic import ChronicDisease, QuotaKind
from medroam.refdata.chronic import load_chronic_diseases
from medroam.refdata.errors import ReferenceDataError

HEADER = "code,name,name_en,cross_province_since,quota_kind,note\n"

FIRST_FIVE = {"高血压", "糖尿病", "恶性肿瘤门诊放化疗", "尿毒症透析", "器官移植术后抗排异治疗"}
ADDED_2024 = {"慢性阻塞性肺疾病", "病毒性肝炎", "冠心病", "类风湿关节炎", "强直性脊柱炎"}


def test_the_ten_diseases() -> None:
    diseases = load_chronic_diseases()
    by_name = {d.name: d for d in diseases}
    assert set(by_name) == FIRST_FIVE | ADDED_2024
    assert len({d.code for d in diseases}) == 10
    assert all(d.since.year == 2021 for n, d in by_name.items() if n in FIRST_FIVE)
    assert all(d.since == date(2024, 12, 1) for n, d in by_name.items() if n in ADDED_2024)
    assert by_name["高血压"].code == "M03900"
    assert by_name["糖尿病"].code == "M01600"


def test_quota_kind_is_monthly_only_for_dialysis() -> None:
    kinds = {d.name: d.quota_kind for d in load_chronic_diseases()}
    assert kinds.pop("尿毒症透析") is QuotaKind.MONTHLY
    assert set(kinds.values()) == {QuotaKind.ANNUAL}


def test_cross_province_on() -> None:
    copd = next(d for d in load_chronic_diseases() if d.name == "慢性阻塞性肺疾病")
    assert not copd.cross_province_on(date(2024, 11, 30))
    assert copd.cross_province_on(date(2024, 12, 1))


def test_packaged_load_is_cached() -> None:
    assert load_chronic_diseases() is load_chronic_diseases()


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "chronic.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


GOOD = "M03900,高血压,hypertension,2021-09-01,annual,\n"


def test_more_diseases_are_data(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD + "M05400,支气管哮喘,asthma,2026-01-01,annual,example\n")
    diseases = load_chronic_diseases(path)
    assert diseases[1] == ChronicDisease(
        "M05400", "支气管哮喘", "asthma", date(2026, 1, 1), QuotaKind.ANNUAL
    )


@pytest.mark.parametrize(
    ("body", "field", "quoted"),
    [
        ("X03900,高血压,hypertension,2021-09-01,annual,\n", "code", "'X03900'"),
        ("M0390,高血压,hypertension,2021-09-01,annual,\n", "code", "'M0390'"),
        ("M03900,高血压,hypertension,2021-09-01,annual,\n", "code", "'M03900'"),  # duplicate
        ("M01600,,diabetes,2021-09-01,annual,\n", "name", "''"),
        ("M01600,糖尿病,,2021-09-01,annual,\n", "name_en", "''"),
        ("M01600,糖尿病,diabetes,2021-13-01,annual,\n", "cross_province_since", "'2021-13-01'"),
        ("M01600,糖尿病,diabetes,20210901,annual,\n", "cross_province_since", "'20210901'"),
        ("M01600,糖尿病,diabetes,2021-09-01,weekly,\n", "quota_kind", "'weekly'"),
        ("M01600,糖尿病,diabetes,2021-09-01\n", "columns", "'M01600'"),
    ],
)
def test_malformed_rows(tmp_path: Path, body: str, field: str, quoted: str) -> None:
    path = _write(tmp_path, GOOD + body)
    with pytest.raises(ReferenceDataError) as info:
        load_chronic_diseases(path)
    err = info.value
    assert err.file == str(path)
    assert err.where.startswith("row 3")
    assert err.field == field
    assert quoted in err.problem


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(ReferenceDataError, match="no disease"):
        load_chronic_diseases(_write(tmp_path, ""))
