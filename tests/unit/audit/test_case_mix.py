"""The case-mix-standardised MCC/CC share (``mcc_cc_oe``, 高套病组): observed ÷ expected
lists under the nation's rates of the same ADRGs, by hand (``domain.audit.scores``) and
as the batch computes it (``batch.audit.standardised_lists``, here on DuckDB)."""

from __future__ import annotations

from math import sqrt

import ibis  # type: ignore[import-untyped]
import pyarrow as pa  # type: ignore[import-untyped]
import pytest

from medroam.batch.audit import INSTITUTIONS, case_mix, standardised_lists
from medroam.domain.audit.scores import (
    OUTLIER_Z,
    ZERO,
    Explanation,
    Standardised,
    Sums,
    adrg_rate,
    explain,
    funnel_z,
    pooled_rate,
)
from medroam.services.audit_scores import score_rows


def test_the_worked_example_of_the_module_docstring() -> None:
    """The institution: 2 movable lists, BR23 and GR11 (both MCC/CC). The nation without
    it: 100 movable lists, 12 in an MCC/CC DRG; BR2 40 lists (8 MCC/CC), GR1 4 (none).

        p̄     = 13 / 102                       = 0.127451
        p_BR2 = (8 + 10 p̄) / (40 + 10)         = 2.274510 / 50 = 0.185490
        p_GR1 = (0 + 10 p̄) / (4 + 10)          = 1.274510 / 14 = 0.091036
        E = 0.185490 + 0.091036                = 0.276527
        V = 0.185490 × 0.814510 + 0.091036 × 0.908964 = 0.151084 + 0.082749 = 0.233832
        O/E = 2 / 0.276527 = 7.23,  z = 1.723473 / 0.483562 = 3.564

    GR1 has too few lists to say its rate is 0: the prior pulls it to 9 %."""
    pooled = pooled_rate(12, 100)
    assert pooled == pytest.approx(0.127451, abs=1e-6)
    p_br2, p_gr1 = adrg_rate(8, 40, pooled), adrg_rate(0, 4, pooled)
    assert (p_br2, p_gr1) == (pytest.approx(0.185490, abs=1e-6), pytest.approx(0.091036, abs=1e-6))
    e = p_br2 + p_gr1
    v = p_br2 * (1 - p_br2) + p_gr1 * (1 - p_gr1)
    assert (e, v) == (pytest.approx(0.276527, abs=1e-6), pytest.approx(0.233832, abs=1e-6))
    s = Standardised(lists=2, observed=2, expected=e, variance=v)
    assert s.ratio == pytest.approx(7.23, abs=0.01)
    assert s.z == pytest.approx(3.564, abs=1e-3)
    assert s.z == pytest.approx((2 - e) / sqrt(v))


def test_as_expected_is_no_evidence_and_nothing_movable_is_none() -> None:
    """Lists in ADRGs that mostly carry an MCC/CC nationally, all in the MCC/CC DRG: 3 of
    3 where 0.9 each is expected, z = 0.3 / √0.27 = 0.58; a share of 100 % says little."""
    assert Standardised(3, 3, 2.7, 0.27).z == pytest.approx(0.3 / sqrt(0.27))
    none = Standardised(0, 0, 0.0, 0.0)
    assert (none.z, none.ratio) == (0.0, None)


def test_the_explanation_tells_observed_and_expected_lists() -> None:
    s = Standardised(2, 2, 0.276527, 0.233832)
    (why,) = explain({"mcc_cc_oe": 7.23}, {"mcc_cc_oe": s.z}, {"mcc_cc_oe": 1.0}, 3,
                     {"mcc_cc_oe": s})  # fmt: skip
    assert why == Explanation("mcc_cc_oe", 7.23, 1.0, s.z, s)
    assert why.text() == (
        "MCC/CC 病组占比（按病组标化）：可分级病组的 2 份结算清单中 2 份入 MCC/CC 组，"
        "高于按全国同病组比例的预期 0.28 份（实际/预期 = 7.2，z = +3.6）"
    )


def _lists(rows: list[tuple[str, str]]) -> tuple[ibis.Table, ibis.Table]:
    """Settlement lists (institution, DRG) and the settlements in force they belong to."""
    ids = [f"S{n:04d}" for n in range(len(rows))]
    codes = [code for code, _drg in rows]
    lists = pa.table({"setl_id": ids, "fixmedins_code": codes, "drg": [d for _c, d in rows]})
    visits = pa.table({"setl_id": ids, "fixmedins_code": codes})
    return ibis.memtable(lists), ibis.memtable(visits)


def test_the_batch_computes_the_worked_example() -> None:
    """The worked example as lists: H has BR23 and GR11, and lists that cannot move —
    IR29 (not split by severity), 0000 (ungroupable), BQY (歧义组) — which count neither
    as observed nor as expected. Two other institutions hold the nation's 100 movable
    lists (BR2 40 with 3 BR21 and 5 BR23; GR1 4 × GR15; ES3 56 with 4 ES33) and 10
    CW19. The batch gives H the hand's O, E and V; A's own BR2 lists leave the BR2 rate
    it is judged by."""
    nation = (
        [("A", "BR21")] * 3 + [("A", "BR23")] * 5 + [("A", "BR25")] * 32
        + [("B", "GR15")] * 4 + [("B", "ES33")] * 4 + [("B", "ES35")] * 52
        + [("B", "CW19")] * 10
    )  # fmt: skip
    own = [("H", "BR23"), ("H", "GR11"), ("H", "IR29"), ("H", "0000"), ("H", "BQY")]
    sl, visits = _lists(own + nation)
    out = standardised_lists({"settlement_lists": sl}, visits).to_pyarrow().to_pylist()
    by = {r["fixmedins_code"]: r for r in out}
    assert set(by) == {"H", "A", "B"}
    h = by["H"]
    assert (h["movable"], h["observed"]) == (2, 2)
    assert h["expected"] == pytest.approx(0.276527, abs=1e-6)
    assert h["variance"] == pytest.approx(0.233832, abs=1e-6)
    # A: 40 BR2 lists, 8 MCC/CC; the nation without A: BR2 1 list (H's BR23), 1 MCC/CC;
    # all movable 62 lists, 6 MCC/CC → p̄ = 7/64, p_BR2 = (1 + 10 p̄) / 11
    a = by["A"]
    p_br2 = (1 + 10 * 7 / 64) / 11
    assert (a["movable"], a["observed"]) == (40, 8)
    assert a["expected"] == pytest.approx(40 * p_br2)


def test_the_institution_rules_case_mix_carries_the_standardised_counts() -> None:
    """``case_mix`` (the institution rule's ``CaseMix``), the worked example's lists: H
    has 3 DRG cases (BR23, GR11, IR29; 0000 and the QY group BQY are not cases, a QY
    group being the MDC's letter + QY), 2 of them MCC/CC, and the
    hand's 2 movable lists, O = 2, E = 0.276527, V = 0.233832. ONLY has 3 cases in CW19
    (not split by severity): no movable list, so 0 of each (the left join), and it moves
    no one's rate. H's level, kind and region come from ``institutions``; the others,
    not listed there, get 9, hospital and ''."""
    nation = (
        [("A", "BR21")] * 3 + [("A", "BR23")] * 5 + [("A", "BR25")] * 32
        + [("B", "GR15")] * 4 + [("B", "ES33")] * 4 + [("B", "ES35")] * 52
        + [("B", "CW19")] * 10 + [("ONLY", "CW19")] * 3
    )  # fmt: skip
    own = [("H", "BR23"), ("H", "GR11"), ("H", "IR29"), ("H", "0000"), ("H", "BQY")]
    sl, visits = _lists(own + nation)
    inst = ibis.memtable(
        pa.table({"fixmedins_code": ["H"], "level": ["3"], "kind": ["hospital"],
                  "region": ["110000"]}),
        schema=INSTITUTIONS,
    )  # fmt: skip
    t = {"settlement_lists": sl, "institutions": inst}
    by = {r["fixmedins_code"]: r for r in case_mix(t, visits).to_pyarrow().to_pylist()}
    assert set(by) == {"H", "A", "B", "ONLY"}
    h = by["H"]
    assert (h["level"], h["kind"], h["region"]) == ("3", "hospital", "110000")
    assert (h["cases"], h["cc_mcc"], h["movable"], h["observed"]) == (3, 2, 2, 2)
    assert h["expected"] == pytest.approx(0.276527, abs=1e-6)
    assert h["variance"] == pytest.approx(0.233832, abs=1e-6)
    only = by["ONLY"]
    assert (only["level"], only["region"], only["cases"], only["cc_mcc"]) == ("9", "", 3, 0)
    assert (only["movable"], only["observed"], only["expected"], only["variance"]) == (
        0, 0, 0.0, 0.0,
    )  # fmt: skip
    assert (by["B"]["cases"], by["B"]["movable"]) == (70, 60)


def test_case_mix_is_not_up_coding_but_moved_lists_are() -> None:
    """A nation of 40 hospitals alike, each with 6 lists in BR2 (脑缺血性疾患; half of the
    hospitals have one BR23, so 20 of 240 carry a CC) and 4 in CW1 (not split); 20 of them
    also with 4 lists in ZZ1, a stand-in ADRG that mostly carries an MCC/CC (60 of 80).

    SICK treats only ZZ1 patients: 5 lists, all ZZ13. Without it, p̄ = (20 + 60 + 8 + 1)
    / (328 + 2) = 0.269697 and p_ZZ1 = (60 + 10 p̄) / 90 = 0.696633, so E = 3.483,
    V = 5 × 0.696633 × 0.303367 = 1.0567, O/E = 1.44 and z = 1.517 / 1.028 = 1.48: as
    expected, not flagged (z < 3). Its raw share of 100 % against its peers' 88 of 492 lists
    (17.9 %) is z = 0.821 / √(0.179 × 0.821 / 5) = 4.79: what ``mcc_cc_share`` said.

    UP moved its 8 BR2 lists into BR23: p̄ = 86 / 327 = 0.262997, p_BR2 = (20 + 10 p̄)
    / 250 = 0.090520, E = 0.7242, V = 0.65861, z = 7.2758 / 0.81155 = 8.97: ranked
    first, explained by its observed and expected lists."""
    rows: list[tuple[str, str]] = []
    for h in range(40):
        code = f"H{h:02d}"
        rows += [(code, "BR23" if h % 2 == 0 and n == 0 else "BR25") for n in range(6)]
        rows += [(code, "CW19")] * 4
        if h < 20:
            rows += [(code, "ZZ15" if n == 0 else "ZZ13") for n in range(4)]
    rows += [("SICK", "ZZ13")] * 5
    rows += [("UP", "BR23")] * 8 + [("UP", "CW19")] * 4
    sl, visits = _lists(rows)
    table = standardised_lists({"settlement_lists": sl}, visits).to_pyarrow().to_pylist()
    features = [
        {"fixmedins_code": r["fixmedins_code"], "level": "3", "kind": "hospital",
         "province": "11", "cases": 10, "mcc_cc_oe_n": r["movable"],
         "mcc_cc_oe_observed": r["observed"], "mcc_cc_oe_expected": r["expected"],
         "mcc_cc_oe_variance": r["variance"]}
        for r in table
    ]  # fmt: skip
    scored = {s.fixmedins_code: s for s in score_rows(features)}
    sick, up = scored["SICK"], scored["UP"]
    assert sick.features["mcc_cc_oe"] == pytest.approx(5 / 3.483, abs=1e-3)
    assert sick.z["mcc_cc_oe"] == pytest.approx(1.48, abs=0.01)
    assert up.z["mcc_cc_oe"] == pytest.approx(8.97, abs=0.01) and up.rank == 1
    assert "8 份结算清单中 8 份入 MCC/CC 组" in up.explanation
    # not flagged: below the outliers' 3 (the top 5 % of the simulated nation start at
    # scores of 4–5); among 40 identical hospitals any z of 1.5 is second, so no rank
    assert sick.z["mcc_cc_oe"] < OUTLIER_Z
    # what the raw share against its peers would have said (no national prior here)
    raw = funnel_z(Sums(5, 5, 5), Sums(492, 88, 88), ZERO, bounded=False)
    assert raw == pytest.approx(4.79, abs=0.01)
