"""The cross-check cases of drg-dip.md §10.2–10.4, §5.2 and §10.6.

Each expected group was derived from the 1.1 tables and cross-checked against an
independent 1.1 grouper (OpenDRG/DRG_Python) by the document's authors; the reasoning per
case is in the document and repeated briefly in the ``why`` column. Sex is male and age 45
unless a case says otherwise.
"""

from __future__ import annotations

import pytest

from medroam.domain.drg.grouper import GroupCase, GroupStatus, Severity, group
from medroam.domain.drg.scheme import GrouperOptions, QyMode, Scheme


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


CROSS_CHECK = [
    # (principal + other diagnoses, procedures, expected DRG, why)
    (("I63.900",), (), "BR25", "脑梗死, no CC: family 1/3/5 → 5"),
    (("I63.900", "J96.000"), (), "BR21", "J96.000 MCC 表7-109 ≠ 表7-96 → 1"),
    (("I63.900", "J18.900"), (), "BR23", "J18.900 CC 表7-101 ≠ 表7-96 → 3"),
    (("J18.900",), (), "ES35", "肺炎 alone"),
    (("J18.900", "J96.000"), (), "ES31", "MCC of another table"),
    (("J18.900", "E87.100"), (), "ES33", "CC 表7-52"),
    (("S72.300",), ("77.2500x001",), "IF35", "股骨干骨折 + 股骨截骨术"),
    (("S72.300", "J96.000"), ("77.2500x001",), "IF31", "with MCC"),
    (("S72.300", "E87.100"), ("77.2500x001",), "IF33", "with CC"),
    (("S72.300",), (), "IR29", "medical, family 9"),
    (("J18.900",), ("96.7201",), "AH15", "MDCA: ventilation ≥ 96 h, family 1/5"),
    (("J18.900", "J96.000"), ("96.7201",), "AH11", "MDCA with MCC"),
    (("I42.000",), ("37.5100",), "AA19", "heart transplant: pre-MDC before MDCF"),
    (("I63.900", "I62.000"), (), "BR25", "MCC excluded: same table 表7-96"),
    (("I63.900", "I64.x00"), (), "BR25", "CC excluded: same table"),
    (("I63.900", "I62.000", "J18.900"), (), "BR23", "excluded MCC, valid CC"),
    (("J18.900", "J09.x01"), (), "ES35", "MCC excluded: 表7-101"),
    (("I63.900", "U82.100"), (), "BR21", "MCC 无: never excluded"),
    (("J18.900", "U82.100x001"), (), "ES31", "MCC 无"),
    (("S06.500", "S27.000"), (), "ZZ15", "two trauma sites → MDCZ, no OR procedure"),
    (("S06.500",), (), "BY15", "one site only → MDCB"),
    (("I63.900",), ("51.2300",), "BR25", "QY off: unrelated OR procedure falls to medical"),
    (("I48.900x003",), (), "FU25", "FU2 erratum applied"),
    (("K80.101", "I50.900"), ("51.2300",), "HC29", "cross-version case: HC2 unsplit in 1.1"),
]


@pytest.mark.parametrize(("dx", "px", "expected", "why"), CROSS_CHECK)
def test_cross_check(
    scheme: Scheme, dx: tuple[str, ...], px: tuple[str, ...], expected: str, why: str
) -> None:
    result = group(case(dx, px), scheme)
    assert result.status is GroupStatus.GROUPED, why
    assert result.drg == expected, why
    assert result.adrg == expected[:3]
    assert result.mdc == f"MDC{expected[0]}"


def test_sex_specific_mdcn(scheme: Scheme) -> None:
    """N80.000 子宫内膜异位症: female → NZ19; male → 0000 (no other MDC holds it)."""
    assert group(case(("N80.000",), sex=2), scheme).drg == "NZ19"
    male = group(case(("N80.000",), sex=1), scheme)
    assert male.drg == "0000"
    assert male.status is GroupStatus.UNGROUPABLE


def test_code_in_both_sex_mdcs_follows_sex(scheme: Scheme) -> None:
    """I86.200 is in the MDCM and MDCN tables: the sex picks the MDC."""
    assert group(case(("I86.200",), sex=1), scheme).mdc == "MDCM"
    assert group(case(("I86.200",), sex=2), scheme).mdc == "MDCN"
    assert group(case(("I86.200",), sex=9), scheme).mdc not in ("MDCM", "MDCN")


def test_neonates_by_birth_weight(scheme: Scheme) -> None:
    """Cases 24–26: 5-day-old; PS1 < 1500 g, PS4 ≥ 2500 g; P22.000 (MCC 表7-165) vs
    principal 表7-163 counts."""
    assert group(case(("P07.200",), sex=2, age=0, days=5, weight=1200), scheme).drg == "PS15"
    assert (
        group(case(("P07.200", "P22.000"), sex=2, age=0, days=5, weight=1200), scheme).drg == "PS11"
    )
    assert group(case(("P07.300x001",), age=0, days=5, weight=2600), scheme).drg == "PS45"


@pytest.mark.parametrize(
    ("weight", "adrg"),
    [(1499, "PS1"), (1500, "PS2"), (1999, "PS2"), (2000, "PS3"), (2499, "PS3"), (2500, "PS4")],
)
def test_birth_weight_band_edges(scheme: Scheme, weight: int, adrg: str) -> None:
    assert group(case(("P07.300x001",), age=0, days=5, weight=weight), scheme).adrg == adrg


def test_qy_switch(scheme: Scheme) -> None:
    """Case 27: I63.900 with 51.2300: BR25 with QY off, BQY with QY on."""
    c = case(("I63.900",), ("51.2300",))
    on = GrouperOptions(qy_mode=QyMode.ANY_OR_PROCEDURE)
    result = group(c, scheme, on)
    assert (result.drg, result.status) == ("BQY", GroupStatus.AMBIGUOUS)
    principal = GrouperOptions(qy_mode=QyMode.PRINCIPAL_OR_PROCEDURE)
    assert group(c, scheme, principal).drg == "BQY"
    # the OR procedure in second place: only "any" sees it
    c2 = case(("I63.900",), ("99.9999", "51.2300"))
    assert group(c2, scheme, principal).drg == "BR25"
    assert group(c2, scheme, on).drg == "BQY"


def test_unknown_code_fails_validation(scheme: Scheme) -> None:
    """Case 28: K80.100 is not a code of the 1.1 tables → check failed with the reason."""
    result = group(case(("K80.100",)), scheme)
    assert result.status is GroupStatus.CHECK_FAILED
    assert result.problems == ("unknown diagnosis code K80.100",)
    lenient = GrouperOptions(require_known_diagnoses=False)
    assert group(case(("K80.100",)), scheme, lenient).drg == "0000"


@pytest.mark.parametrize(
    ("c", "reason"),
    [
        (GroupCase("t", None, 45, None, None, ("I63.900",)), "missing sex"),
        (GroupCase("t", 1, None, None, None, ("I63.900",)), "missing age"),
        (GroupCase("t", 1, 0, None, 3000, ("P07.200",)), "age_days is required when age is 0"),
        (GroupCase("t", 1, 0, 5, None, ("P07.200",)), "birth weight is required for a neonate"),
        (GroupCase("t", 1, 45, None, None, ()), "missing principal diagnosis"),
        (GroupCase("t", 3, 45, None, None, ("I63.900",)), "invalid sex 3"),
    ],
)
def test_validation_failures(scheme: Scheme, c: GroupCase, reason: str) -> None:
    result = group(c, scheme)
    assert result.status is GroupStatus.CHECK_FAILED
    assert result.drg == ""
    assert any(p.startswith(reason) for p in result.problems), result.problems


def test_severity_is_reported(scheme: Scheme) -> None:
    assert group(case(("I63.900", "J96.000")), scheme).severity is Severity.MCC
    assert group(case(("S72.300",)), scheme).severity is None  # family 9: not computed


def test_trace_names_the_rules(scheme: Scheme) -> None:
    """The trace records the MDC entry, the ADRG and the code that matched, the CCE table
    and each MCC/CC with its verdict."""
    result = group(case(("I63.900", "I62.000", "J18.900")), scheme)
    steps = [(s.rule, s.subject) for s in result.trace]
    assert steps == [
        ("mdc", "MDCB"),
        ("adrg", "BR2"),
        ("cce", "I63.900"),
        ("mcc", "I62.000"),
        ("cc", "J18.900"),
        ("drg", "BR23"),
    ]
    assert result.trace[1].codes == ("I63.900",)
    assert result.trace[2].note == "表7-96"
    assert result.trace[3].note.startswith("excluded")
    assert result.trace[4].note.startswith("counts")
