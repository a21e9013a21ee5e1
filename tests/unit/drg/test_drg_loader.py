"""The CHS-DRG 1.1 loader: counts, errata, data quirks, errors, variants."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from tools.drg_derive_or_procedures import render

from medroam.domain.drg.grouper import GroupCase, group
from medroam.domain.drg.scheme import QyMode, Scheme
from medroam.refdata.drg import compile_scheme, load_scheme, parse_cc_list, parse_cce, parse_detail
from medroam.refdata.errors import ReferenceDataError

DATA = Path(__file__).resolve().parents[3] / "src" / "medroam" / "data" / "drg"
TABLES = DATA / "chs-drg-1.1"
MANIFEST = DATA / "chs-drg-1.1.scheme.json"


def test_counts(scheme: Scheme) -> None:
    """SOURCE.md §3: 26 MDC, 376 ADRG, 628 DRG; 4,678 MCC, 16,568 CC; 223 CCE tables
    with 28,302 codes; MCC and CC disjoint."""
    assert len(scheme.mdcs) == 26
    assert len(scheme.adrgs) == 376
    assert len(scheme.drg_names) == 628
    assert len(scheme.mcc) == 4678
    assert len(scheme.cc) == 16568
    assert len(scheme.cce) == 28302
    assert len(set(scheme.cce.values())) == 223
    assert not set(scheme.mcc) & set(scheme.cc)
    assert sum(1 for t in scheme.mcc.values() if t is None) == 35
    assert sum(1 for t in scheme.cc.values() if t is None) == 133


def test_split_families(scheme: Scheme) -> None:
    """3_DRG.txt: 192 ADRGs unsplit (9), 68 split 1/3/5, 61 split 3/5, 55 split 1/5."""
    assert Counter(r.splits for r in scheme.adrgs.values()) == {
        "9": 192,
        "135": 68,
        "35": 61,
        "15": 55,
    }


def test_mdc_order_and_entry_conditions(scheme: Scheme) -> None:
    assert "".join(m.letter for m in scheme.mdcs) == "APYZMNBCDEFGHIJKLOQRSTUVWX"
    by = {m.letter: m for m in scheme.mdcs}
    assert by["A"].principal_dx is None and by["A"].principal_procedure_or
    assert (by["M"].sex, by["N"].sex, by["P"].max_age_years) == (1, 2, 0)
    assert by["Z"].min_trauma_sites == 2
    assert len(set(by["Z"].trauma_sites.values())) == 9
    assert len(by["Z"].trauma_sites) == 999


def test_errata_applied(scheme: Scheme) -> None:
    fu2 = scheme.adrgs["FU2"]
    assert fu2.principal_dx is not None and "I48.900x003" in fu2.principal_dx
    assert scheme.adrgs["WJ1"].needs_or_procedure
    assert scheme.adrgs["YC1"].needs_or_procedure
    na1 = scheme.adrgs["NA1"].procedures
    assert na1 is not None and na1.alternatives == ((0,), (1, 2))


def test_data_quirks_are_notes_not_errors(scheme: Scheme) -> None:
    """drg-dip.md §10.1: 154 主诊表 codes reach no medical ADRG after the FU2 erratum, and
    180 medical-ADRG codes lie outside their MDC's 主诊表."""
    gaps = sum(int(n.split(": ")[1].split()[0]) for n in scheme.notes if "reach no" in n)
    outside = sum(int(n.split(": ")[1].split()[0]) for n in scheme.notes if "outside" in n)
    assert (gaps, outside) == (154, 180)


def test_mdc_dat_files_agree_with_the_detail_file(scheme: Scheme) -> None:
    """MDC/*.dat repeat each 主诊表 (MDCZ comments out one S12.910 line)."""
    for m in scheme.mdcs:
        (path,) = TABLES.glob(f"MDC/MDC{m.letter}_*.dat")
        codes = {
            line.split(" ")[0]
            for line in path.read_text(encoding="utf-8").splitlines()
            if line and line[0].isalnum() and not line.startswith("包含")
        }
        codes = {c for c in codes if not c.endswith("创伤")}
        assert codes == set(m.principal_dx or ()), m.code


def test_token_parsers_survive_pdf_artefacts() -> None:
    """Run-on lines, page headers and page numbers, wrapped names, glued codes."""
    mcc = parse_cc_list(
        "疾病编码 疾病名称 排除内容\nA01.100 副伤寒甲 表 7-1\n12 疾病编码 疾病名称 排除内容 "
        "A02.000 沙门菌\n肠炎 表 7-1 U82.100 耐甲氧西林抗生素 无\n",
        "x",
    )
    assert mcc == {"A01.100": "表7-1", "A02.000": "表7-1", "U82.100": None}
    cce = parse_cce(
        "表 7-1\n包含以下主要诊断：\nA00.900 霍乱\n3\n…其他特指 的J63.800x001 尘肺 "
        "表 7-2 包含以下主要诊断： B12.000 维生素 B12 缺乏\n",
        "x",
    )
    assert cce == {"A00.900": "表7-1", "J63.800x001": "表7-1", "B12.000": "表7-2"}


TINY = {
    "1_MDC.txt": "MDCB 神经系统\n",
    "2_ADRG.txt": "BR2 脑缺血\n",
    "3_DRG.txt": "BR21 x\nBR23 y\nBR25 z\n",
    "4_ADRG_DETAIL.txt": (
        "MDCB 神经系统\nMDCB 主诊表\n包含以下主要诊断：\nI63.900 脑梗死\n"
        "BR2 脑缺血\n包含以下主要诊断：\nI63.900 脑梗死\n"
    ),
    "5_MCC.txt": "J96.000 急性呼吸衰竭 表 7-2\n",
    "6_CC.txt": "J18.900 肺炎 无\n",
    "7_CCE.txt": (
        "表 7-1\n包含以下主要诊断：\nI63.900 脑梗死\n表 7-2\n包含以下主要诊断：\nJ96.000 x\n"
    ),
}
TINY_MANIFEST = {
    "scheme": "TINY",
    "version": "0",
    "files": {
        "mdc": "1_MDC.txt",
        "adrg": "2_ADRG.txt",
        "drg": "3_DRG.txt",
        "detail": "4_ADRG_DETAIL.txt",
        "mcc": "5_MCC.txt",
        "cc": "6_CC.txt",
        "cce": "7_CCE.txt",
    },
    "mdc_order": ["B"],
}


def test_a_tiny_scheme_compiles_and_groups() -> None:
    """A hand-made one-ADRG table set: the loader is not tied to 1.1's counts."""
    tiny = compile_scheme(TINY_MANIFEST, TINY.__getitem__, "m.json", "t")
    assert tiny.label == "TINY 0"
    c = GroupCase("t", 1, 45, None, None, ("I63.900", "J96.000"), ())
    assert group(c, tiny).drg == "BR21"
    c = GroupCase("t", 1, 45, None, None, ("I63.900", "J18.900"), ())
    assert group(c, tiny).drg == "BR23"


def test_unknown_header_names_file_and_record() -> None:
    files = {
        **TINY,
        "4_ADRG_DETAIL.txt": TINY["4_ADRG_DETAIL.txt"].replace(
            "BR2 脑缺血\n包含以下主要诊断：", "BR2 脑缺血\n奇怪的条件："
        ),
    }
    with pytest.raises(ReferenceDataError, match=r"m.json: ADRG BR2 \(line 5\): field 'header'"):
        compile_scheme(TINY_MANIFEST, files.__getitem__, "m.json", "t")


def test_unsupported_split_names_the_drg_file() -> None:
    files = {**TINY, "3_DRG.txt": "BR21 x\nBR22 y\n"}
    with pytest.raises(ReferenceDataError, match=r"t/3_DRG.txt: ADRG BR2: field 'subgroups'"):
        compile_scheme(TINY_MANIFEST, files.__getitem__, "m.json", "t")


def test_code_line_outside_a_list_is_an_error() -> None:
    with pytest.raises(ReferenceDataError, match=r"d\.txt: line 2: field 'code'"):
        parse_detail("MDCB 神经\nI63.900 脑梗死\n", "d.txt")


def _variant(tmp_path: Path, change: dict[str, object]) -> Path:
    shutil.copytree(TABLES, tmp_path / "chs-drg-1.1")
    shutil.copy(DATA / "chs-drg-1.1.or-procedures.txt", tmp_path)
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    manifest.update(change)
    out = tmp_path / "variant.scheme.json"
    out.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return out


def test_a_regional_variant_loads_the_same_way(tmp_path: Path) -> None:
    """A variant is a manifest beside its tables: here QY on by default."""
    path = _variant(tmp_path, {"defaults": {"qy_mode": "any_or_procedure"}})
    variant = load_scheme(path)
    assert variant.options.qy_mode is QyMode.ANY_OR_PROCEDURE
    c = GroupCase("t", 1, 45, None, None, ("I63.900",), ("51.2300",))
    assert group(c, variant).drg == "BQY"


def test_erratum_that_no_longer_applies_is_an_error(tmp_path: Path) -> None:
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    again = {**manifest["errata"][0], "id": "x"}  # FU2 gains I48.900x003 a second time
    path = _variant(tmp_path, {"errata": [*manifest["errata"], again]})
    with pytest.raises(ReferenceDataError, match="erratum x: field 'code'"):
        load_scheme(path)


def test_checksum_mismatch_is_an_error(tmp_path: Path) -> None:
    path = _variant(tmp_path, {})
    target = tmp_path / "chs-drg-1.1" / "3_DRG.txt"
    target.chmod(0o644)
    target.write_text(target.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    with pytest.raises(ReferenceDataError, match=r"3_DRG\.txt: field 'sha256'"):
        load_scheme(path)


def test_expected_count_mismatch_is_an_error(tmp_path: Path) -> None:
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    counts = {**manifest["expected_counts"], "mcc": 4679}
    path = _variant(tmp_path, {"expected_counts": counts})
    with pytest.raises(ReferenceDataError, match="expected_counts: field 'mcc'"):
        load_scheme(path)


def test_or_procedure_list_is_the_derivation(scheme: Scheme) -> None:
    """The packaged list is exactly what the tool derives (8,895 codes), and the tool is
    deterministic; one code per rule of the derivation."""
    text = render(MANIFEST)
    assert (DATA / "chs-drg-1.1.or-procedures.txt").read_text(encoding="utf-8") == text
    assert render(MANIFEST) == text
    assert len(scheme.or_procedures) == 8895
    assert "51.2300" in scheme.or_procedures  # HC2 and others: surgical operation groups
    assert "96.7201" in scheme.or_procedures  # AH1: chapter 96, but MDCA lists it
    assert "96.7101" not in scheme.or_procedures  # only in PK1 (K–Q, non-OR)
    assert "54.9701" not in scheme.or_procedures  # only in RE1, a 治疗 group
    assert "00.6000x001" not in scheme.or_procedures  # only in FF2's 介入操作 list
    assert "88.0400" not in scheme.or_procedures  # chapter 88, surgical ADRGs only
    assert "42.3301" not in scheme.or_procedures  # GK2 (K–Q) and only RA2–RA4 (rule 5)


def test_or_procedure_list_is_replaceable(tmp_path: Path) -> None:
    path = _variant(tmp_path, {})
    (tmp_path / "chs-drg-1.1.or-procedures.txt").write_text("# tiny\n51.2300\n96.7201\n")
    variant = load_scheme(path)
    assert variant.or_procedures == frozenset({"51.2300", "96.7201"})
