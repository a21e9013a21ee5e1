"""Every ADRG condition shape, every MDC, pre-MDC precedence and the severity families.

Hand-picked cases name codes straight from ``4_ADRG_DETAIL.txt``; the generated checks
walk the whole scheme (376 ADRGs) so that every ADRG, every MDC and every split family
is exercised.
"""

from __future__ import annotations

import pytest

from medroam.domain.drg.grouper import GroupCase, GroupStatus, group
from medroam.domain.drg.scheme import GrouperOptions, Scheme
from medroam.domain.drg.synthetic import case_for_adrg


def case(
    dx: tuple[str, ...],
    px: tuple[str, ...] = (),
    *,
    sex: int = 1,
    age: int = 45,
    days: int | None = None,
    weight: int | None = None,
) -> GroupCase:
    return GroupCase("t", sex, age, days, weight, dx, px)


# --- one hand-made case per condition shape -----------------------------------------

SHAPES = [
    # (shape, case, expected ADRG, why)
    ("pdx", case(("I63.900",)), "BR2", "包含以下主要诊断"),
    ("px0", case(("J18.900",), ("37.5100",)), "AA1", "包含以下主要手术或操作"),
    ("pdx+px0", case(("C60.000",), ("40.2400",)), "MA1", "主要诊断 and 主要手术 (MDCM)"),
    (
        "px_and_px",
        case(("J18.900",), ("55.6100", "52.8000")),
        "AC1",
        "同时包含 52.8000 和 55.6100, in any order",
    ),
    (
        "pdx+px_and_px",
        case(("A18.000x047+M49.0*",), ("03.0900x025", "03.0900x007")),
        "IB1",
        "主要诊断 and both procedure lists",
    ),
    (
        "pdx_expression",
        case(("C44.501",), ("85.5300x001", "85.4300x003")),
        "JA1",
        "JA1 alternative 1: 手术表1 + 手术表2",
    ),
    (
        "pdx_expression",
        case(("C44.501",), ("85.5300x001", "85.2100x003", "40.2100")),
        "JA1",
        "JA1 alternative 2: 手术表1 + 手术表3 + 手术表4",
    ),
    ("pdx_expression", case(("C44.502",), ("85.4300x003",)), "JA2", "JA2: 手术表1 alone"),
    (
        "pdx_expression",
        case(("C45.100",), ("67.4x00x002",), sex=2),
        "NA1",
        "NA1 (手术 N relabelled 手术表 N by the erratum)",
    ),
    (
        "pdx_expression",
        case(("C45.100",), ("54.4x00x006", "40.2900x023"), sex=2),
        "NA1",
        "NA1 alternative 2: 手术表2 + 手术表3",
    ),
    (
        "any_dx",
        case(("P07.200",), age=0, days=5, weight=1800),
        "PS2",
        "any diagnosis + weight band 1500–1999 g + neonate",
    ),
    (
        "pdx",
        case(("P22.000", "P07.300x001"), age=0, days=5, weight=2200),
        "PR1",
        "PR1 comes before PS3: table order",
    ),
    ("any_dx+or_px", case(("B20.001",), ("51.2300",)), "YC1", "HIV + an OR procedure"),
    ("or_px", case(("A01.000",), ("51.2300",)), "SB1", "全部手术 (MDCS)"),
    ("or_px", case(("F04.x00x001",), ("51.2300",)), "TB1", "全部手术 (MDCT)"),
    ("or_px", case(("B90.000",), ("51.2300",)), "XJ1", "包含全部手术 (MDCX)"),
    ("or_px", case(("T20.000",), ("51.2300",)), "WJ1", "WJ1 erratum: any OR procedure"),
    ("pdx+px0", case(("T21.300",), ("18.9x00x007",)), "WB1", "WB1 is tried before WJ1"),
    ("no_or_px", case(("S01.800x011", "S12.000")), "ZZ1", "MDCZ without OR procedure"),
    ("px0", case(("S01.800x011", "S12.000"), ("01.0900x006",)), "ZB1", "MDCZ surgical"),
    ("px0", case(("A04.000x001",), ("34.0200x003",), age=0, days=10, weight=3000), "PB1", ""),
    ("catch_all", case(("A04.000x001",), age=0, days=60, weight=None), "PV1", "29 d–1 y"),
]


@pytest.mark.parametrize(("shape", "c", "adrg", "why"), SHAPES)
def test_condition_shape(scheme: Scheme, shape: str, c: GroupCase, adrg: str, why: str) -> None:
    assert scheme.adrgs[adrg].shape == shape
    result = group(c, scheme)
    assert result.adrg == adrg, (why, result.trace)


def test_every_shape_in_the_tables_has_a_hand_made_case(scheme: Scheme) -> None:
    assert {r.shape for r in scheme.adrgs.values()} == {s[0] for s in SHAPES}


def test_shape_negatives(scheme: Scheme) -> None:
    """Each part of a rule is required."""
    # AC1 needs both lists: one alone is AD1 (pancreas) via the principal procedure
    assert group(case(("J18.900",), ("52.8000",)), scheme).adrg == "AD1"
    # JA1 alternative 2 lacking 手术表4 is not JA1 (JA2 needs its own 手术表 1)
    assert group(case(("C44.501",), ("85.5300x001", "85.2100x003")), scheme).adrg != "JA1"
    # ZZ1 refuses a case with an OR procedure anywhere
    r = group(case(("S01.800x011", "S12.000"), ("99.9999", "51.2300")), scheme)
    assert r.adrg != "ZZ1"
    # neonatal ADRG PB1 needs ≤ 28 days: a 29-day-old with the same procedure is not PB1
    old = case(("A04.000x001",), ("34.0200x003",), age=0, days=29, weight=3000)
    assert group(old, scheme).adrg != "PB1"
    # YC1 needs an OR procedure
    assert group(case(("B20.001",)), scheme).adrg != "YC1"


def test_principal_procedure_switch(scheme: Scheme) -> None:
    """By default only the first procedure is 主要手术; the switch tests any position."""
    c = case(("I63.900",), ("99.9999", "37.5100"))
    assert group(c, scheme).adrg == "BR2"
    anywhere = GrouperOptions(principal_procedure_only=False)
    assert group(c, scheme, anywhere).adrg == "AA1"


# --- pre-MDC precedence ----------------------------------------------------------------


def test_pre_mdc_precedence(scheme: Scheme) -> None:
    # MDCA before everything: a neonate on long ventilation is AH1, not PK1
    neonate = case(("P22.000",), ("96.7201",), age=0, days=3, weight=3000)
    assert group(neonate, scheme).adrg == "AH1"
    # MDCP before the body systems: P22.000 at 3 days is PR1
    assert group(case(("P22.000",), age=0, days=3, weight=3000), scheme).adrg == "PR1"
    # MDCP needs age < 1 year
    assert group(case(("P22.000",), age=1), scheme).mdc != "MDCP"
    # MDCY before MDCX: Z20.600 is in both tables
    assert group(case(("Z20.600",)), scheme).mdc == "MDCY"
    # MDCZ before MDCB when two trauma sites are coded
    assert group(case(("S06.500", "S27.000")), scheme).mdc == "MDCZ"


def test_one_code_never_makes_two_trauma_sites(scheme: Scheme) -> None:
    """S12.910 is listed under two sites; it counts for one (erratum), so alone it is not
    MDCZ, and a second code of its own site (躯干、脊柱) does not help either."""
    z = next(m for m in scheme.mdcs if m.letter == "Z")
    assert z.trauma_sites["S12.910"] == "躯干、脊柱创伤"
    assert group(case(("S12.910",)), scheme).mdc != "MDCZ"
    assert group(case(("S12.910", "S06.500")), scheme).mdc == "MDCZ"


# --- generated: every ADRG and every MDC ---------------------------------------------


def test_every_adrg_and_every_mdc_is_reached(scheme: Scheme) -> None:
    reached_adrg: set[str] = set()
    reached_mdc: set[str] = set()
    for code in scheme.adrgs:
        c = case_for_adrg(scheme, code)
        assert c is not None, f"no case groups to {code}"
        result = group(c, scheme)
        assert result.status is GroupStatus.GROUPED
        assert result.drg in scheme.adrgs[code].drgs
        reached_adrg.add(result.adrg)
        reached_mdc.add(result.mdc)
    assert len(reached_adrg) == 376
    assert reached_mdc == {f"MDC{chr(c)}" for c in range(ord("A"), ord("Z") + 1)}


# --- generated: severity families and exclusion negatives -----------------------------


def _secondaries(scheme: Scheme, table: str | None) -> dict[str, str]:
    """An MCC and a CC of another table, and an MCC and a CC of the principal's table."""
    out: dict[str, str] = {}
    for kind, lst in (("mcc", scheme.mcc), ("cc", scheme.cc)):
        for code in sorted(lst):
            t = lst[code]
            if t is not None and t != table and f"{kind}_other" not in out:
                out[f"{kind}_other"] = code
            if table is not None and t == table and f"{kind}_same" not in out:
                out[f"{kind}_same"] = code
    return out


def test_severity_families_and_exclusions(scheme: Scheme) -> None:
    """For every split ADRG: MCC → x1 (else x3, else x5), CC → x3 (else x5), none → x5;
    an MCC or CC of the principal diagnosis's own exclusion table counts as nothing."""
    checked = 0
    negatives = 0
    for code, rule in scheme.adrgs.items():
        if rule.splits == "9":
            continue
        base = case_for_adrg(scheme, code)
        assert base is not None
        pdx = base.diagnoses[0]
        sec = _secondaries(scheme, scheme.cce.get(pdx))
        digits = rule.splits
        want = {
            "mcc_other": "1" if "1" in digits else "3",
            "cc_other": "3" if "3" in digits else "5",
            "none": "5",
        }
        for kind, digit in want.items():
            dx = base.diagnoses if kind == "none" else (*base.diagnoses, sec[kind])
            got = group(
                GroupCase(
                    code,
                    base.sex,
                    base.age_years,
                    base.age_days,
                    base.weight_g,
                    dx,
                    base.procedures,
                ),
                scheme,
            )
            if got.adrg != code:  # the secondary changed the MDC (e.g. a trauma site)
                continue
            assert got.drg == code + digit, (code, kind, got.trace)
            checked += 1
        for kind in ("mcc_same", "cc_same"):
            if kind in sec:
                dx = (*base.diagnoses, sec[kind])
                got = group(
                    GroupCase(
                        code,
                        base.sex,
                        base.age_years,
                        base.age_days,
                        base.weight_g,
                        dx,
                        base.procedures,
                    ),
                    scheme,
                )
                if got.adrg == code:
                    assert got.drg == code + "5", (code, kind, got.trace)
                    negatives += 1
    assert checked >= 3 * 180
    assert negatives >= 100
