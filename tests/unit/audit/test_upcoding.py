"""Up-coding (高套病组) in the simulator: a stay's other diagnoses, the settlement list the
platform groups, and the fraud scheme ``upcoding`` (``sim.lists``, ``sim.anomalies``),
checked against the shipped CHS-DRG 1.1 tables (``src/medroam/data/drg/chs-drg-1.1``)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date

import pytest

from medroam.domain.drg.scheme import Scheme
from medroam.refdata.audit_rules import load_rule_book
from medroam.refdata.drg import load_scheme
from medroam.sim.anomalies import defraud
from medroam.sim.lists import UPCODING_DIAGNOSES, is_mcc_cc, stay_group, upcode
from medroam.sim.visits import (
    INPATIENT,
    INPATIENT_DIAGNOSES,
    SECONDARY_DIAGNOSES,
    Diagnosis,
    Encounter,
    FeeItem,
    Hospital,
    secondary_diagnoses,
)

HOSPITAL = Hospital("H11010000001", "测试医院（模拟）", "110100", "3")
MAN, BORN = "1", date(1960, 5, 1)  # 66 on admission
STROKE = Diagnosis("I63.900", "脑梗死", "A03.05", "神经内科")
CATARACT = Diagnosis("H25.900", "老年性白内障", "A10", "眼科", True)


@pytest.fixture(scope="module")
def scheme() -> Scheme:
    return load_scheme()


def _stay(principal: Diagnosis, *others: Diagnosis, key: str = "P1-I") -> Encounter:
    line = FeeItem("0001", "X1", "X1", "01", 8, 5_000_000, 4_000, 0)
    return Encounter(key, "P1", "", INPATIENT, HOSPITAL, date(2026, 10, 2), date(2026, 10, 10),
                     False, principal, (line,), secondary=others)  # fmt: skip


def test_upcoding_moves_a_stroke_list_from_br25_to_br23(scheme: Scheme) -> None:
    """脑梗死 I63.900 alone groups to BR25 (BR2 脑缺血性疾患, 不伴并发症或合并症:
    3_DRG.txt BR21/BR23/BR25). The scheme adds 低钾血症 E87.600, a CC (6_CC.txt, exclusion
    表 7-52); I63.900's own exclusion table is 表 7-96 (7_CCE.txt), so the CC counts and
    the list groups to BR23 (伴并发症或合并症). Nothing else of the stay changes."""
    stay = _stay(STROKE)
    assert stay_group(stay, MAN, BORN, scheme) == "BR25"
    (upcoded,) = defraud("upcoding", [stay], frozenset(), None,
                         lambda e: upcode(e, MAN, BORN, scheme))  # fmt: skip
    assert [d.code for d in upcoded.secondary] == ["E87.600"]
    assert stay_group(upcoded, MAN, BORN, scheme) == "BR23"
    assert (upcoded.lines, upcoded.diagnosis, upcoded.key) == (stay.lines, STROKE, stay.key)


def test_upcoding_leaves_what_it_cannot_move(scheme: Scheme) -> None:
    """Nothing to gain, nothing changed: a stay already with a CC (E87.600 → BR23), an
    ADRG not split by severity (老年性白内障 H25.900 → CW19: its 4th character is 9 with
    or without a CC), and a scheme without a grouper."""
    with_cc = _stay(STROKE, UPCODING_DIAGNOSES[0])
    assert stay_group(with_cc, MAN, BORN, scheme) == "BR23"
    assert upcode(with_cc, MAN, BORN, scheme) is None
    cataract = _stay(CATARACT)
    assert stay_group(cataract, MAN, BORN, scheme) == "CW19"
    assert upcode(cataract, MAN, BORN, scheme) is None
    assert defraud("upcoding", [_stay(STROKE)], frozenset(), None) == []


def test_upcoding_takes_an_mcc_where_the_adrg_splits_on_mccs_only(scheme: Scheme) -> None:
    """胃恶性肿瘤 C16.900 groups to GR15 (GR1 has GR11 and GR15 only): low potassium or
    sodium (CC) would leave it in GR15, so the scheme writes 急性呼吸衰竭 J96.000, an MCC
    (5_MCC.txt, 表 7-109 ≠ C16.900's 表 7-22) → GR11."""
    stomach = _stay(Diagnosis("C16.900", "胃恶性肿瘤", "A04.01", "普通外科", True))
    assert stay_group(stomach, MAN, BORN, scheme) == "GR15"
    upcoded = upcode(stomach, MAN, BORN, scheme)
    assert upcoded is not None and [d.code for d in upcoded.secondary] == ["J96.000"]
    assert stay_group(upcoded, MAN, BORN, scheme) == "GR11"


def test_clean_other_diagnoses_are_known_modest_and_rule_free(scheme: Scheme) -> None:
    """The comorbidity pool: every code is known to the tables and is named by no shipped
    audit rule reading diagnoses (so clean stays stay clean). Drawn for 2,000 stays of the
    simulator's case mix: 10–25 % of the stays carry a CC or MCC (18 % measured), and
    fewer of the grouped lists land in a CC/MCC DRG (11 %: exclusion tables, ADRGs not
    split by severity), but some do; the same stream draws the same diagnoses."""
    named = {
        code
        for rule in load_rule_book().rules
        for field in ("diagnoses",)
        for code in getattr(rule.params, field, ()) or ()
    } | {
        code
        for rule in load_rule_book().rules
        if str(getattr(rule.params, "target", "")).lower().endswith("diagnosis")
        for code in rule.params.codes  # type: ignore[attr-defined]
    }
    assert named  # the library does name diagnoses
    for d in SECONDARY_DIAGNOSES:
        assert d.code in scheme.known_diagnoses, d.code
        assert not any(d.code.startswith(prefix) for prefix in named), d.code
    rng = random.Random(5)
    weights = [d.weight for d in INPATIENT_DIAGNOSES]
    seen: Counter[str] = Counter()
    for n in range(2000):
        principal = rng.choices(INPATIENT_DIAGNOSES, weights)[0]
        others = secondary_diagnoses(random.Random(f"s{n}"), principal)
        assert principal.code not in {d.code for d in others}
        seen["cc"] += any(d.code in scheme.cc or d.code in scheme.mcc for d in others)
        drg = stay_group(_stay(principal, *others), MAN, BORN, scheme)
        seen["grouped"] += drg is not None and drg != "0000"
        seen["mcc_cc"] += is_mcc_cc(drg)
    assert 0.10 <= seen["cc"] / 2000 <= 0.25, seen
    assert 0.05 <= seen["mcc_cc"] / seen["grouped"] < seen["cc"] / 2000, seen
    again = secondary_diagnoses(random.Random("s7"), STROKE)
    assert again == secondary_diagnoses(random.Random("s7"), STROKE)
