"""The catch-all surgical ADRGs and the derived OR-procedure list, case by case.

CHS-DRG 1.1 lets SB1, TB1 and WJ1 (``全部手术``), XJ1 (``包含全部手术``) and YC1 (HIV
diagnosis + an OR procedure) take a case whose principal procedure is an OR procedure
(手术室手术) that no earlier ADRG of the MDC lists. The tables name no OR attribute, so
``derive_or_procedures`` reads it from them (docs/drg.md, "The OR-procedure list"):
listed by an A–J ADRG that is an operation group, not in the 介入操作 list of FE1/FF2,
outside ICD-9-CM-3 chapter 87–99 unless MDCA lists it, not filed by a K–Q group while only
the multi-system groups (PJ1, QJ1, RA1–RA4, VJ1, ZJ1) list it in the surgical range.

Every expected value below was read by hand from ``4_ADRG_DETAIL.txt``:

* ``A41.900`` 败血症 is in the MDCS 主诊表 and in SR1's principal-diagnosis list; MDCS
  has one procedural ADRG, SB1 (``全部手术``, family 1/3/5).
* ``51.2300`` 腹腔镜胆囊切除术 is listed by HC2, PC1, QJ1, RA1, RA3, VJ1, ZJ1 (HC2 is a
  surgical operation group) and by no MDCA ADRG.
* ``54.9701`` is listed only by RE1 (恶性增生性疾患的化学治疗和／或其他治疗), a 治疗
  group of the surgical letter range.
* ``00.6000x001`` is listed only in FF2 (外周血管手术伴介入操作), after ``和``: the
  介入操作 list.
* ``88.0400`` is in chapter 88 (诊断性放射学), listed only by surgical ADRGs.
* ``96.7201`` 呼吸机治疗[大于等于 96 小时] is chapter 96 and listed by AH1 (MDCA).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from medroam.domain.drg.grouper import GroupCase, group
from medroam.domain.drg.scheme import Scheme


def sepsis(*px: str) -> GroupCase:
    return GroupCase("t", 2, 40, None, None, ("A41.900",), px)


def test_an_operation_makes_the_mdcs_case_surgical(scheme: Scheme) -> None:
    """A41.900 + 51.2300: the principal procedure is an OR procedure that MDCA does not
    list, MDCS's only procedural ADRG is SB1, no secondary diagnosis → SB15."""
    assert "51.2300" in scheme.or_procedures
    assert group(sepsis("51.2300"), scheme).drg == "SB15"


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("54.9701", "listed only by RE1, a 治疗 group"),
        ("00.6000x001", "only in FF2's 介入操作 list"),
        ("88.0400", "chapter 88, 诊断性放射学"),
    ],
)
def test_a_non_or_procedure_keeps_the_case_medical(scheme: Scheme, code: str, why: str) -> None:
    """Each code is not an OR procedure under the derivation, so SB1 does not take the
    case and SR1 (principal diagnosis A41.900) does."""
    assert code not in scheme.or_procedures, why
    r = group(sepsis(code), scheme)
    assert (r.mdc, r.adrg) == ("MDCS", "SR1"), why


def test_only_the_principal_procedure_decides(scheme: Scheme) -> None:
    """主要手术 is the first procedure: 88.0400 then 51.2300 stays SR1; swapped, SB1."""
    assert group(sepsis("88.0400", "51.2300"), scheme).adrg == "SR1"
    assert group(sepsis("51.2300", "88.0400"), scheme).adrg == "SB1"


def test_mdca_procedures_stay_or_whatever_their_chapter(scheme: Scheme) -> None:
    """96.7201 is chapter 96 but AH1 lists it: MDCA is entered and AH1 takes the case."""
    assert "96.7201" in scheme.or_procedures
    r = group(sepsis("96.7201"), scheme)
    assert (r.mdc, r.adrg) == ("MDCA", "AH1")


def test_the_list_is_data(scheme: Scheme) -> None:
    """Swapping the list changes the decision: with 88.0400 added, the case is SB15."""
    wider = replace(scheme, or_procedures=scheme.or_procedures | {"88.0400"})
    assert group(sepsis("88.0400"), wider).drg == "SB15"


def test_known_difference_with_the_reference_interventional_codes(scheme: Scheme) -> None:
    """A signed-off difference (docs/drg.md, differential testing): 39.7900x053 经皮食管
    动脉栓塞术 is listed only by FN1, a K–Q group (非手术室操作), so it is not an OR
    procedure here: T90.200x012 + 39.7900x053 → an MDCX medical ADRG; the reference,
    whose list counts 介入治疗 as OR, gives XJ1."""
    assert "39.7900x053" not in scheme.or_procedures
    c = GroupCase("t", 2, 68, None, None, ("T90.200x012",), ("39.7900x053",))
    r = group(c, scheme)
    assert r.mdc == "MDCX"
    assert r.adrg != "XJ1"


def test_rule_5_a_non_or_part_code_that_only_multi_system_groups_list(scheme: Scheme) -> None:
    """Rule 5 (formerly a difference with the reference): 42.3301 内镜食管病损切除术 is
    filed by GK2 胃镜治疗操作 (K–Q, 非手术室操作), and of the surgical range only RA2–RA4
    (淋巴瘤等伴其他手术: multi-system lists) name it, so it is not an OR procedure:
    A31.001 (MDCS 主诊表, SZ1's list at line 72084) + 42.3301 → SZ15, as the reference.
    51.1101 术中胆道镜检查 (HL2 肝胆胰系统的诊断性操作; VJ1, ZJ1) likewise: A41.900 →
    SR15."""
    assert "42.3301" not in scheme.or_procedures
    c = GroupCase("t", 2, 19, None, None, ("A31.001",), ("42.3301",))
    assert group(c, scheme).drg == "SZ15"
    assert "51.1101" not in scheme.or_procedures
    assert group(sepsis("51.1101"), scheme).drg == "SR15"
    # a code only VJ1 lists and no K–Q group files stays OR (rule 5 needs both)
    assert "37.7300" in scheme.or_procedures
    assert group(sepsis("37.7300"), scheme).drg == "SB15"


def test_known_difference_ff1_is_tried_before_ff2(scheme: Scheme) -> None:
    """The one difference with the reference that is no OR attribute (seed 7, R7-003164):
    39.2900x002 大隐静脉-股动脉搭桥术 is in FF1's principal-procedure list (line 23880)
    and in FF2's first list (24123); 39.7200x001 颈静脉支架置入术 is in FF2's 介入操作
    list after ``和`` (24378). The tables put FF1 before FF2 (2_ADRG.txt, 4_ADRG_DETAIL.txt),
    so with 39.2900x002 first the case is FF19 (FF1 has no split); the reference tries FF2
    first (FF2x). With 39.7200x001 first, FF1 does not match and FF2 takes it (FF25)."""
    dx = ("I72.400x230",)  # 胫动脉夹层, MDCF 主诊表
    assert (
        group(GroupCase("t", 1, 50, None, None, dx, ("39.2900x002", "39.7200x001")), scheme).drg
        == "FF19"
    )
    assert (
        group(GroupCase("t", 1, 50, None, None, dx, ("39.7200x001", "39.2900x002")), scheme).drg
        == "FF25"
    )
