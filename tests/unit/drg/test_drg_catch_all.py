"""The catch-all surgical ADRGs of CHS-DRG 1.1, MDC by MDC, with hand-worked cases.

What qualifies (4_ADRG_DETAIL.txt, docs/drg.md "The OR-procedure list and the catch-all
surgical ADRGs"): SB1 and TB1 ``全部手术``, XJ1 ``包含全部手术``, YC1 an HIV diagnosis
anywhere plus ``全部手术`` (erratum), each tested on the principal procedure; ZZ1 takes a
multiple-trauma case only when no procedure is an OR procedure. A diagnostic procedure is
not an OR procedure, so it leaves the case in the medical ADRG of its principal diagnosis.

Facts read by hand from the tables (line numbers of ``4_ADRG_DETAIL.txt``):

* ``51.2300`` 腹腔镜下胆囊切除术: listed by HC2 (a surgical operation group), so an OR
  procedure; no ADRG of MDCS, MDCT, MDCX or MDCY lists it, and no MDCA ADRG does.
* ``88.0400`` 腹淋巴管造影图: ICD-9-CM-3 chapter 88 诊断性放射学, a diagnostic
  procedure, listed only by surgical ADRGs outside MDCA (rule 4: not OR).
* ``45.2300`` 结肠镜检查: a diagnostic endoscopy that no ADRG lists (never OR).
* ``51.1101`` 术中胆道镜检查: filed by HL2 肝胆胰系统的诊断性操作 (K–Q); of the surgical
  range only VJ1 and ZJ1 (multi-system lists) name it: not OR (rule 5). No MDCS, MDCT,
  MDCX or MDCY group lists it.
* ``F20.000`` 偏执型精神分裂症: MDCT 主诊表 (72677) and TR1 (73201); TB1 and TR1 are
  family 9 (3_DRG.txt: TB19, TR19).
* ``Z04.800`` 为其他特指原因接受的检查和观察: MDCX 主诊表 (82026) and XS2 (83057); XJ1
  is family 3/5 (XJ13, XJ15), XS2 family 1/5 (XS21, XS25).
* ``B20.001`` 人类免疫缺陷病毒病性结核菌感染: MDCY 主诊表 (83764), YC1's diagnosis list
  (83814) and YR1's (83851); YC1 and YR1 are family 1/3/5.

No secondary diagnosis, so every family gives its last (不伴) DRG.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from medroam.domain.drg.grouper import GroupCase, group
from medroam.domain.drg.scheme import Scheme
from medroam.refdata.drg import (
    load_scheme,
    or_procedures_from_types,
    parse_operation_types,
)
from medroam.refdata.errors import ReferenceDataError

DATA = Path(__file__).resolve().parents[3] / "src" / "medroam" / "data" / "drg"

OR_PROCEDURE = "51.2300"
DIAGNOSTIC = ("88.0400", "45.2300", "51.1101")


def case(pdx: str, *px: str) -> GroupCase:
    return GroupCase("t", 1, 40, None, None, (pdx,), px)


@pytest.mark.parametrize(
    ("pdx", "surgical", "medical"),
    [
        ("A41.900", "SB15", "SR15"),  # 败血症: SB1 全部手术 / SR1
        ("F20.000", "TB19", "TR19"),  # 精神分裂症: TB1 全部手术 / TR1
        ("Z04.800", "XJ15", "XS25"),  # 检查和观察: XJ1 包含全部手术 / XS2
        ("B20.001", "YC15", "YR15"),  # HIV 结核: YC1 HIV + 全部手术 / YR1
    ],
)
def test_catch_all_takes_an_or_procedure_and_not_a_diagnostic_one(
    scheme: Scheme, pdx: str, surgical: str, medical: str
) -> None:
    """51.2300 is an OR procedure listed by no procedural ADRG of the MDC, so the MDC's
    catch-all takes the case; a case whose only procedure is diagnostic (88.0400 造影,
    45.2300 结肠镜检查, 51.1101 术中胆道镜检查) stays in the medical ADRG of its principal
    diagnosis."""
    assert OR_PROCEDURE in scheme.or_procedures
    assert group(case(pdx, OR_PROCEDURE), scheme).drg == surgical
    for dx_px in DIAGNOSTIC:
        assert dx_px not in scheme.or_procedures
        assert group(case(pdx, dx_px), scheme).drg == medical, dx_px
    assert group(case(pdx), scheme).drg == medical


def test_a_diagnostic_principal_procedure_keeps_the_case_medical_even_before_an_operation(
    scheme: Scheme,
) -> None:
    """The catch-alls test the principal (first) procedure: 88.0400 first, 51.2300
    second → TR19; the other order → TB19."""
    assert group(case("F20.000", "88.0400", OR_PROCEDURE), scheme).drg == "TR19"
    assert group(case("F20.000", OR_PROCEDURE, "88.0400"), scheme).drg == "TB19"


def test_yc1_needs_a_diagnosis_of_its_list(scheme: Scheme) -> None:
    """B20.000x001 艾滋病伴分枝杆菌感染 enters MDCY (主诊表, 83763) but is not in YC1's
    list (83813–83847), so with 51.2300 alone YC1 refuses the case → YR1 (83850), YR15.
    R75.x00x001 HIV 阳性 as a secondary diagnosis is in YC1's list (83845): → YC1, and it
    is no CC or MCC under B20.000x001 here → YC15."""
    alone = GroupCase("t", 1, 40, None, None, ("B20.000x001",), ("51.2300",))
    assert group(alone, scheme).drg == "YR15"
    with_list_dx = GroupCase("t", 1, 40, None, None, ("B20.000x001", "R75.x00x001"), ("51.2300",))
    assert group(with_list_dx, scheme).drg == "YC15"


def test_zz1_only_without_any_or_procedure(scheme: Scheme) -> None:
    """S06.500 (head) + S27.000 (chest) enter MDCZ (drg-dip §5.3 example: ZZ15 with no OR
    procedure). A diagnostic 88.0400 anywhere keeps ZZ15; 51.2300 in any position makes
    ZZ1 refuse the case."""
    dx = ("S06.500", "S27.000")
    assert group(GroupCase("t", 1, 40, None, None, dx, ()), scheme).drg == "ZZ15"
    assert group(GroupCase("t", 1, 40, None, None, dx, ("88.0400",)), scheme).drg == "ZZ15"
    r = group(GroupCase("t", 1, 40, None, None, dx, ("88.0400", "51.2300")), scheme)
    assert r.adrg != "ZZ1"


# --- an operation-type catalogue (the 医保版 ICD-9-CM-3 type column) as the OR source ---

CATALOGUE = """# code type name
51.2300 手术 腹腔镜下胆囊切除术
39.7900x043 介入治疗 经皮下肢静脉取栓术
42.3301 治疗性操作 内镜食管病损切除术
88.0400 诊断性操作 腹淋巴管造影图
"""


def test_operation_types_parse_and_select() -> None:
    types = parse_operation_types(CATALOGUE, "t.txt")
    assert types["42.3301"] == "治疗性操作"
    assert or_procedures_from_types(types) == frozenset({"51.2300", "39.7900x043"})
    assert or_procedures_from_types(types, ["手术"]) == frozenset({"51.2300"})


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("51.2300 开放手术\n", "type"),
        ("51.2300\n", "type"),
        ("5x.2300 手术\n", "code"),
        ("51.2300 手术\n51.2300 介入治疗\n", "type"),
        ("# nothing\n", "codes"),
    ],
)
def test_operation_types_refuse_bad_lines(text: str, field: str) -> None:
    with pytest.raises(ReferenceDataError) as exc:
        parse_operation_types(text, "t.txt")
    assert f"field {field}" in str(exc.value) or field in str(exc.value)
    assert "t.txt" in str(exc.value)


def _variant(tmp_path: Path, change: dict[str, object], drop: str | None = None) -> Path:
    shutil.copytree(DATA / "chs-drg-1.1", tmp_path / "chs-drg-1.1")
    manifest = json.loads((DATA / "chs-drg-1.1.scheme.json").read_text(encoding="utf-8"))
    if drop:
        manifest.pop(drop)
    manifest.update(change)
    out = tmp_path / "variant.scheme.json"
    out.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return out


def test_a_manifest_can_take_the_or_list_from_the_catalogue(tmp_path: Path) -> None:
    """With the catalogue above and OR = 手术 + 介入治疗, 42.3301 (治疗性操作) no longer
    takes A41.900 into SB1: SR15; 51.2300 still does: SB15."""
    (tmp_path / "types.txt").write_text(CATALOGUE, encoding="utf-8")
    path = _variant(tmp_path, {"operation_types": {"file": "types.txt"}}, drop="or_procedures")
    variant = load_scheme(path)
    assert variant.or_procedures == frozenset({"51.2300", "39.7900x043"})
    assert group(case("A41.900", "42.3301"), variant).drg == "SR15"
    assert group(case("A41.900", "51.2300"), variant).drg == "SB15"


def test_a_manifest_with_both_sources_is_refused(tmp_path: Path) -> None:
    (tmp_path / "types.txt").write_text(CATALOGUE, encoding="utf-8")
    path = _variant(tmp_path, {"operation_types": {"file": "types.txt", "or_types": ["手术"]}})
    with pytest.raises(ReferenceDataError, match="not both"):
        load_scheme(path)


def test_a_manifest_with_an_unknown_or_type_is_refused(tmp_path: Path) -> None:
    (tmp_path / "types.txt").write_text(CATALOGUE, encoding="utf-8")
    path = _variant(
        tmp_path,
        {"operation_types": {"file": "types.txt", "or_types": ["大手术"]}},
        drop="or_procedures",
    )
    with pytest.raises(ReferenceDataError, match="or_types"):
        load_scheme(path)
