"""Benefit policy files: packaged data, generator, loader validation, lookup by date."""

from __future__ import annotations

import copy
import csv
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from medroam.domain.codes import AssistanceCategory, BenefitStatus, FilingType, ServiceKind
from medroam.domain.policy import (
    REDUCTION_BOUNDS,
    BenefitPolicy,
    ChronicMode,
    LayerBasis,
    LayerFund,
    LevelTerms,
    QuotaPeriod,
    TempBase,
    Tier,
    TierBounds,
)
from medroam.refdata.errors import ReferenceDataError
from medroam.refdata.policies import (
    PolicyBook,
    PolicyContext,
    load_policy_book,
    load_policy_file,
    packaged_context,
    policy_from_dict,
    policy_to_dict,
)

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "src" / "medroam" / "data"
POLICY_DIR = DATA / "policies"
GENERATOR = ROOT / "tools" / "gen_policies.py"
DOC_ONLY = ("region_name", "notes")


def yuan(fen: int) -> float:
    return fen / 100


def pct(ratio: int) -> float:
    return ratio / 100


def pooling_regions() -> list[dict[str, str]]:
    with (DATA / "regions.csv").open(encoding="utf-8", newline="") as handle:
        return [r for r in csv.DictReader(handle) if r["level"] == "prefecture"]


def chronic_rows() -> list[dict[str, str]]:
    with (DATA / "chronic_diseases.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def book() -> PolicyBook:
    return load_policy_book()


# --------------------------------------------------------------------------- packaged data


def test_every_pooling_region_has_both_schemes_in_force_mid_2026(book: PolicyBook) -> None:
    regions = pooling_regions()
    assert len(regions) > 300
    on = date(2026, 6, 30)
    for row in regions:
        for insutype in ("310", "390"):
            policy = book.find(row["code"], insutype, on)
            assert policy.region == row["code"]
            assert policy.insutype == insutype


def test_book_holds_exactly_the_synthetic_and_real_policies(book: PolicyBook) -> None:
    synthetic = [p for p in book if p.synthetic]
    real = [p for p in book if not p.synthetic]
    assert len(synthetic) == 2 * len(pooling_regions())
    assert sorted((p.region, p.insutype) for p in real) == [("150700", "310"), ("532900", "390")]
    assert len(book) == len(synthetic) + len(real)


def test_province_files_hold_their_own_regions_only() -> None:
    for path in sorted(POLICY_DIR.glob("[0-9]*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        assert document["synthetic"] is True
        assert document["province"] == path.stem
        provinces = {r["code"]: r["province_code"] for r in pooling_regions()}
        assert {provinces[p["region"]] for p in document["policies"]} == {path.stem}


def _in(value: float, lo: float, hi: float) -> bool:
    return lo <= value <= hi


def _check_common(p: BenefitPolicy) -> None:
    chronic_codes = {r["code"] for r in chronic_rows()}
    assert p.chronic is not None
    assert set(p.chronic.diseases) == chronic_codes
    names = {r["code"]: r for r in chronic_rows()}
    for code, terms in p.chronic.diseases.items():
        assert _in(yuan(terms.annual_deductible), 0, 600), code
        assert _in(pct(terms.ratio), 60, 90), code
        assert terms.quota is not None
        row = names[code]
        if row["quota_kind"] == "monthly":
            assert terms.quota_period is QuotaPeriod.MONTH
            assert _in(yuan(terms.quota), 5000, 9000), code
        elif "移植" in row["name"] or "恶性肿瘤" in row["name"]:
            assert terms.quota_period is QuotaPeriod.YEAR
            assert _in(yuan(terms.quota), 30000, 80000), code
        else:
            assert terms.quota_period is QuotaPeriod.YEAR
            assert _in(yuan(terms.quota), 1500, 10000), code
    assert p.assistance is not None
    cats = p.assistance.categories
    assert set(cats) == set(AssistanceCategory)
    assert cats[AssistanceCategory.EXTREME_POVERTY].threshold == 0
    assert _in(pct(cats[AssistanceCategory.EXTREME_POVERTY].ratio), 90, 100)
    assert _in(yuan(cats[AssistanceCategory.MINIMUM_LIVING].threshold), 0, 500)
    assert _in(pct(cats[AssistanceCategory.MINIMUM_LIVING].ratio), 70, 80)
    for cat in (AssistanceCategory.NEAR_MINIMUM, AssistanceCategory.RELAPSE_POVERTY):
        assert _in(yuan(cats[cat].threshold), 1000, 5000)
        assert _in(pct(cats[cat].ratio), 60, 70)
    for terms in cats.values():
        assert terms.annual_cap is not None
        assert _in(yuan(terms.annual_cap), 30000, 100000)
    f = p.filing
    assert _in(pct(f.reduction(BenefitStatus.REFERRAL)), 0, 10)
    assert _in(pct(f.reduction(BenefitStatus.EMERGENCY)), 0, 10)
    assert _in(pct(f.reduction(BenefitStatus.TEMPORARY_OTHER)), 10, 20)
    assert _in(pct(f.reduction(BenefitStatus.UNFILED)), 10, 20)
    assert f.reduction(BenefitStatus.LONG_TERM) == 0
    assert f.reduction(BenefitStatus.LOCAL) == 0
    assert f.reduction(BenefitStatus.LONG_TERM_AT_HOME) <= f.reduction(BenefitStatus.REFERRAL)
    assert f.temp_validity_months[FilingType.TMP_REFERRAL] in (3, 6)
    assert f.temp_validity_months[FilingType.TMP_EMERGENCY] == 6
    assert f.temp_validity_months[FilingType.TMP_OTHER] == 6
    assert f.change_lock_months in (3, 6)
    if f.temp_base is TempBase.REFERRAL:
        assert p.inpatient.referral_terms is not None
    assert p.effective_from >= date(2025, 1, 1)
    assert p.effective_to is None
    assert _in(p.inpatient.later_admission_factor / 10_000, 0.5, 1.0)
    assert _in(pct(p.inpatient.elderly_bonus), 0, 5)
    assert p.inpatient.elderly_age == 70
    assert len(p.layers) == 1


def test_synthetic_values_lie_in_the_documented_ranges(book: PolicyBook) -> None:
    checked = 0
    for p in book:
        if not p.synthetic:
            continue
        _check_common(p)
        lv = p.inpatient.levels
        assert p.outpatient is not None
        op = p.outpatient
        layer = p.layers[0]
        assert p.inpatient.annual_cap is not None and layer.annual_cap is not None
        assert op.annual_cap is not None
        if p.insutype == "310":
            assert _in(yuan(lv["1"].deductible), 200, 500)
            assert _in(yuan(lv["2"].deductible), 500, 900)
            assert _in(yuan(lv["3"].deductible), 800, 1500)
            assert all(_in(pct(lv[k].ratio), 85, 95) for k in "123")
            assert lv["1"].ratio >= lv["2"].ratio >= lv["3"].ratio
            assert _in(pct(p.inpatient.retired_bonus), 0, 5)
            assert _in(yuan(p.inpatient.annual_cap), 200_000, 500_000)
            assert layer.fund is LayerFund.LARGE_EXPENSE
            assert layer.fund_pay_type == "330100"
            assert layer.basis is LayerBasis.OVER_CAP
            assert layer.threshold == 0
            assert len(layer.tiers) == 1 and layer.tiers[0].upper is None
            assert _in(pct(layer.tiers[0].ratio), 80, 95)
            assert _in(yuan(layer.annual_cap), 300_000, 600_000)
            assert _in(yuan(op.annual_deductible), 200, 1000)
            assert all(_in(pct(op.ratios[k]), 50, 70) for k in "123")
            assert _in(yuan(op.annual_cap), 2000, 6000)
            assert p.account.enabled
            cs = p.civil_servant
            assert cs is not None and cs.annual_cap is not None
            assert _in(pct(cs.ratio), 50, 80)
            assert _in(yuan(cs.annual_cap), 50_000, 150_000)
            assert (p.pool_fund_type, p.outpatient_fund_type) == ("310100", "310102")
        else:
            assert p.insutype == "390"
            assert _in(yuan(lv["1"].deductible), 100, 300)
            assert _in(yuan(lv["2"].deductible), 400, 700)
            assert _in(yuan(lv["3"].deductible), 700, 1200)
            assert _in(pct(lv["1"].ratio), 80, 90)
            assert _in(pct(lv["2"].ratio), 70, 80)
            assert _in(pct(lv["3"].ratio), 55, 65)
            assert p.inpatient.retired_bonus == 0
            assert _in(yuan(p.inpatient.annual_cap), 100_000, 250_000)
            assert layer.fund is LayerFund.CRITICAL_ILLNESS
            assert layer.fund_pay_type == "390200"
            assert layer.basis is LayerBasis.PERSONAL_BURDEN
            assert _in(yuan(layer.threshold), 10_000, 20_000)
            assert layer.tiers == (
                Tier(upper=5_000_000, ratio=6000),
                Tier(upper=10_000_000, ratio=7000),
                Tier(upper=None, ratio=8000),
            )
            assert _in(yuan(layer.annual_cap), 300_000, 400_000)
            assert _in(yuan(op.annual_deductible), 0, 200)
            assert all(_in(pct(op.ratios[k]), 50, 60) for k in "123")
            assert _in(yuan(op.annual_cap), 300, 800)
            assert not p.account.enabled
            assert p.civil_servant is None
            assert (p.pool_fund_type, p.outpatient_fund_type) == ("390100", "390102")
        checked += 1
    assert checked == 2 * len(pooling_regions())


def test_synthetic_values_vary_between_regions(book: PolicyBook) -> None:
    synthetic = [p for p in book if p.synthetic and p.insutype == "310"]
    assert len({p.inpatient.levels["3"].deductible for p in synthetic}) >= 5
    assert len({p.inpatient.annual_cap for p in synthetic}) >= 10
    assert len({p.filing.reduction(BenefitStatus.UNFILED) for p in synthetic}) == 3
    assert any(p.inpatient.referral_terms is not None for p in synthetic)
    assert any(p.inpatient.referral_terms is None for p in synthetic)
    assert any(p.filing.temp_base is TempBase.REFERRAL for p in synthetic)
    months = {p.filing.temp_validity_months[FilingType.TMP_REFERRAL] for p in synthetic}
    assert months == {3, 6}
    assert {p.filing.change_lock_months for p in synthetic} == {3, 6}


def test_load_policy_book_is_cached(book: PolicyBook) -> None:
    assert load_policy_book() is book
    assert load_policy_book(POLICY_DIR) is load_policy_book(str(POLICY_DIR))


# --------------------------------------------------------------------------- generator


def _run_generator(*args: str) -> None:
    subprocess.run([sys.executable, str(GENERATOR), *args], check=True, capture_output=True)


def test_generator_is_deterministic_and_matches_the_packaged_files(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    _run_generator("--out", str(first))
    _run_generator("--out", str(second))
    generated = sorted(p.name for p in first.glob("*.json"))
    packaged = sorted(p.name for p in POLICY_DIR.glob("[0-9]*.json"))
    assert generated == packaged
    assert len(generated) == 32
    for name in generated:
        data = (first / name).read_bytes()
        assert data == (second / name).read_bytes(), name
        assert data == (POLICY_DIR / name).read_bytes(), name


def test_generator_on_a_small_regions_file(tmp_path: Path) -> None:
    regions = tmp_path / "regions.csv"
    regions.write_text(
        "code,name,level,province_code,kind,note\n"
        "990000,测试省,province,990000,province,\n"
        "990100,甲市,prefecture,990000,prefecture_city,\n"
        "990200,乙市,prefecture,990000,prefecture_city,\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    _run_generator(
        "--regions", str(regions), "--real", str(tmp_path / "none.json"), "--out", str(out)
    )
    assert [p.name for p in out.iterdir()] == ["990000.json"]
    context = PolicyContext(
        pooling_regions={"990100": "990000", "990200": "990000"},
        chronic_codes=frozenset(r["code"] for r in chronic_rows()),
    )
    policies = load_policy_file(out / "990000.json", context=context)
    assert sorted((p.region, p.insutype) for p in policies) == [
        ("990100", "310"),
        ("990100", "390"),
        ("990200", "310"),
        ("990200", "390"),
    ]
    assert all(p.effective_from == date(2025, 1, 1) for p in policies)
    # the regions draw different values
    a = next(p for p in policies if p.region == "990100" and p.insutype == "310")
    b = next(p for p in policies if p.region == "990200" and p.insutype == "310")
    assert policy_to_dict(a)["inpatient"] != policy_to_dict(b)["inpatient"]


# --------------------------------------------------------------------------- round trip


def test_round_trip_policy_dict_policy(book: PolicyBook) -> None:
    for policy in book:
        data = policy_to_dict(policy)
        again = policy_from_dict(data, context=packaged_context())
        assert again == policy
        assert policy_to_dict(again) == data


def test_round_trip_of_the_file_entries() -> None:
    for path in sorted(POLICY_DIR.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        policies = load_policy_file(path)
        assert len(policies) == len(document["policies"])
        for entry, policy in zip(document["policies"], policies, strict=True):
            expected = {k: v for k, v in entry.items() if k not in DOC_ONLY}
            expected.setdefault("synthetic", document["synthetic"])
            expected.setdefault("source", document["source"])
            assert policy_to_dict(policy) == expected, (path.name, entry["region"])


# --------------------------------------------------------------------------- real examples


def test_real_dali_example_has_exactly_the_published_numbers(book: PolicyBook) -> None:
    p = book.find("532900", "390", date(2023, 6, 1))
    assert not p.synthetic
    assert "http://www.xyxrmyy.cn/index.php/overview/service.html" in p.source
    assert (p.effective_from, p.effective_to) == (date(2023, 1, 1), date(2023, 12, 31))
    assert dict(p.inpatient.levels) == {
        "1": LevelTerms(deductible=20_000, ratio=8500),
        "2": LevelTerms(deductible=40_000, ratio=7500),
        "3": LevelTerms(deductible=70_000, ratio=6000),
    }
    assert p.inpatient.referral_terms == LevelTerms(deductible=90_000, ratio=5000)
    assert (p.inpatient.elderly_bonus, p.inpatient.elderly_age) == (500, 70)
    assert p.inpatient.annual_cap == 10_000_000
    assert p.filing.reduction(BenefitStatus.UNFILED) == 1000
    assert p.filing.reduction(BenefitStatus.TEMPORARY_OTHER) == 1000
    assert p.filing.reduction(BenefitStatus.REFERRAL) == 0
    assert p.filing.temp_base is TempBase.REFERRAL
    (layer,) = p.layers
    assert layer.fund is LayerFund.CRITICAL_ILLNESS
    assert layer.basis is LayerBasis.PERSONAL_BURDEN
    assert layer.threshold == 1_200_000
    assert layer.tier_bounds is TierBounds.CUMULATIVE
    assert layer.tiers == (
        Tier(upper=3_000_000, ratio=5500),
        Tier(upper=10_000_000, ratio=6500),
        Tier(upper=None, ratio=7500),
    )
    assert layer.annual_cap == 30_000_000
    assert not p.account.enabled
    assert p.civil_servant is None


def test_dali_lookup_by_date(book: PolicyBook) -> None:
    real = book.find("532900", "390", date(2023, 6, 1))
    later = book.find("532900", "390", date(2026, 6, 1))
    assert not real.synthetic
    assert later.synthetic
    assert later is not real
    with pytest.raises(LookupError, match=r"532900.*390.*2024-06-01"):
        book.find("532900", "390", date(2024, 6, 1))


def test_real_inner_mongolia_example(book: PolicyBook) -> None:
    p = book.find("150700", "310", date(2025, 6, 1))
    assert not p.synthetic
    assert "hjhq.gov.cn" in p.source
    assert {k: (t.deductible, t.ratio) for k, t in p.inpatient.levels.items()} == {
        k: (120_000, 8000) for k in "123"
    }
    assert p.inpatient.later_admission_factor == 5000
    assert p.inpatient.annual_cap == 30_000_000
    (layer,) = p.layers
    assert (layer.fund, layer.basis, layer.annual_cap) == (
        LayerFund.LARGE_EXPENSE,
        LayerBasis.OVER_CAP,
        30_000_000,
    )
    assert p.filing.reduction(BenefitStatus.TEMPORARY_OTHER) == 1000
    for status in (BenefitStatus.LONG_TERM, BenefitStatus.EMERGENCY, BenefitStatus.REFERRAL):
        assert p.filing.reduction(status) == 0
    assert p.account.enabled
    assert book.find("150700", "310", date(2026, 1, 1)).synthetic


# --------------------------------------------------------------------------- bad files

BASE_REGION = "530100"
WHERE = f"policy {BASE_REGION}/310 from 2025-01-01"


def _base(insutype: str = "310") -> dict[str, object]:
    document = json.loads((POLICY_DIR / "530000.json").read_text(encoding="utf-8"))
    for entry in document["policies"]:
        if entry["region"] == BASE_REGION and entry["insutype"] == insutype:
            return copy.deepcopy(entry)  # type: ignore[no-any-return]
    raise AssertionError("base policy missing")


def _write(path: Path, policies: list[dict[str, object]], **top: object) -> Path:
    document: dict[str, object] = {"synthetic": True, "source": "test", "policies": policies}
    document.update(top)
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def _expect_error(path: Path, where: str, field: str, *quotes: str) -> ReferenceDataError:
    with pytest.raises(ReferenceDataError) as info:
        load_policy_file(path)
    err = info.value
    message = str(err)
    assert err.file == str(path)
    assert err.where == where, message
    assert err.field == field, message
    assert str(path) in message and where in message and field in message
    for quote in quotes:
        assert quote in message, message
    return err


def _set(path: str, value: object) -> Callable[[dict[str, object]], None]:
    def mutate(policy: dict[str, object]) -> None:
        *parents, last = path.split(".")
        node: object = policy
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]  # type: ignore[index]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            assert isinstance(node, dict)
            node[last] = value

    return mutate


def _del(path: str) -> Callable[[dict[str, object]], None]:
    def mutate(policy: dict[str, object]) -> None:
        *parents, last = path.split(".")
        node: object = policy
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]  # type: ignore[index]
        assert isinstance(node, dict)
        del node[last]

    return mutate


BAD_310: list[tuple[str, Callable[[dict[str, object]], None], str, tuple[str, ...]]] = [
    ("missing-field", _del("inpatient.annual_cap"), "inpatient.annual_cap", ("missing",)),
    ("missing-level", _del("inpatient.levels.2"), "inpatient.levels.2", ('"3" are required',)),
    (
        "unknown-level",
        _set("inpatient.levels.4", {"deductible": "1.00", "ratio": "0.5"}),
        "inpatient.levels.4",
        ("'4'",),
    ),
    (
        "ratio-above-1",
        _set("inpatient.levels.3.ratio", "1.2"),
        "inpatient.levels.3.ratio",
        ('"1.2"', "between 0 and 1"),
    ),
    ("ratio-negative", _set("outpatient.ratios.1", "-0.1"), "outpatient.ratios.1", ('"-0.1"',)),
    (
        "ratio-5-decimals",
        _set("inpatient.levels.1.ratio", "0.85001"),
        "inpatient.levels.1.ratio",
        ('"0.85001"', "4 decimals"),
    ),
    (
        "negative-deductible",
        _set("inpatient.levels.1.deductible", "-100.00"),
        "inpatient.levels.1.deductible",
        ('"-100.00"', "negative"),
    ),
    (
        "amount-3-decimals",
        _set("outpatient.annual_deductible", "100.001"),
        "outpatient.annual_deductible",
        ('"100.001"', "2 decimals"),
    ),
    (
        "amount-not-decimal",
        _set("outpatient.annual_deductible", "1e3"),
        "outpatient.annual_deductible",
        ('"1e3"',),
    ),
    (
        "json-float-amount",
        _set("inpatient.levels.1.deductible", 1200.5),
        "inpatient.levels.1.deductible",
        ("1200.5", "floats are not allowed"),
    ),
    (
        "json-float-ratio",
        _set("inpatient.levels.2.ratio", 0.85),
        "inpatient.levels.2.ratio",
        ("0.85", "floats are not allowed"),
    ),
    (
        "json-int-amount",
        _set("inpatient.annual_cap", 300000),
        "inpatient.annual_cap",
        ("300000", "decimal string"),
    ),
    (
        "zero-cap",
        _set("inpatient.annual_cap", "0.00"),
        "inpatient.annual_cap",
        ('"0.00"', "greater than 0"),
    ),
    ("zero-layer-cap", _set("layers.0.annual_cap", "0"), "layers.0.annual_cap", ('"0"',)),
    (
        "unbounded-tier-not-last",
        _set(
            "layers.0.tiers", [{"upper": None, "ratio": "0.8"}, {"upper": "100.00", "ratio": "0.9"}]
        ),
        "layers.0.tiers.0.upper",
        ("last tier",),
    ),
    (
        "unfiled-25pp",
        _set("filing.reductions.unfiled", "25"),
        "filing.reductions.unfiled",
        ('"25"', "20 pp"),
    ),
    (
        "referral-12pp",
        _set("filing.reductions.referral", "12"),
        "filing.reductions.referral",
        ('"12"', "10 pp"),
    ),
    (
        "emergency-10.5pp",
        _set("filing.reductions.emergency", "10.5"),
        "filing.reductions.emergency",
        ('"10.5"', "10 pp"),
    ),
    (
        "temporary-20.01pp",
        _set("filing.reductions.temporary_other", "20.01"),
        "filing.reductions.temporary_other",
        ('"20.01"', "20 pp"),
    ),
    (
        "long-term-1pp",
        _set("filing.reductions.long_term", "1"),
        "filing.reductions.long_term",
        ('"1"', "bound of 0 pp"),
    ),
    (
        "pp-3-decimals",
        _set("inpatient.elderly_bonus", "2.555"),
        "inpatient.elderly_bonus",
        ('"2.555"',),
    ),
    (
        "pp-json-int",
        _set("filing.reductions.referral", 5),
        "filing.reductions.referral",
        ("JSON number 5",),
    ),
    (
        "at-home-above-referral",
        lambda p: (
            _set("filing.reductions.referral", "5")(p),
            _set("filing.reductions.long_term_at_home", "10")(p),
        ),
        "filing.reductions.long_term_at_home",
        ('"10"', "referral reduction of 5 pp"),
    ),
    (
        "unknown-status",
        _set("filing.reductions.transfer", "5"),
        "filing.reductions.transfer",
        ('"transfer"',),
    ),
    (
        "missing-unfiled",
        _del("filing.reductions.unfiled"),
        "filing.reductions.unfiled",
        ("missing",),
    ),
    (
        "change-lock-7",
        _set("filing.change_lock_months", 7),
        "filing.change_lock_months",
        ("7", "between 0 and 6"),
    ),
    (
        "validity-0",
        _set("filing.temp_validity_months.TMP_REFERRAL", 0),
        "filing.temp_validity_months.TMP_REFERRAL",
        ("0", "between 1 and 24"),
    ),
    (
        "validity-25",
        _set("filing.temp_validity_months.TMP_OTHER", 25),
        "filing.temp_validity_months.TMP_OTHER",
        ("25",),
    ),
    (
        "validity-long-term",
        _set("filing.temp_validity_months.LT_RETIRED", 6),
        "filing.temp_validity_months.LT_RETIRED",
        ("'LT_RETIRED'",),
    ),
    (
        "validity-incomplete",
        _del("filing.temp_validity_months.TMP_EMERGENCY"),
        "filing.temp_validity_months.TMP_EMERGENCY",
        ("missing",),
    ),
    (
        "unknown-chronic",
        _set(
            "chronic.diseases.M99999", {"annual_deductible": "0.00", "ratio": "0.5", "quota": None}
        ),
        "chronic.diseases.M99999",
        ("'M99999'", "unknown chronic disease"),
    ),
    (
        "quota-period",
        _set("chronic.diseases.M07801.quota_period", "week"),
        "chronic.diseases.M07801.quota_period",
        ('"week"', "month, year"),
    ),
    ("chronic-mode", _set("chronic.mode", "inpatient"), "chronic.mode", ('"inpatient"',)),
    (
        "effective-to-before-from",
        _set("effective_to", "2024-12-31"),
        "effective_to",
        ('"2024-12-31"', "before effective_from"),
    ),
    ("bad-date", _set("effective_to", "2025-02-30"), "effective_to", ('"2025-02-30"',)),
    (
        "unknown-field-typo",
        _set("inpatient.anual_cap", "1.00"),
        "inpatient.anual_cap",
        ("'anual_cap'", "unknown field"),
    ),
    ("unknown-policy-field", _set("regoin", BASE_REGION), "regoin", ("'regoin'",)),
    ("unknown-layer-field", _set("layers.0.cap", "1.00"), "layers.0.cap", ("'cap'",)),
    ("fund", _set("layers.0.fund", "hifxx"), "layers.0.fund", ('"hifxx"',)),
    ("basis", _set("layers.0.basis", "total"), "layers.0.basis", ('"total"',)),
    (
        "applies-to",
        _set("layers.0.applies_to", ["inpatient", "dental"]),
        "layers.0.applies_to.1",
        ('"dental"',),
    ),
    ("granularity", _set("filing.granularity", "county"), "filing.granularity", ('"county"',)),
    (
        "temp-base-without-referral-terms",
        lambda p: (
            _set("inpatient.referral_terms", None)(p),
            _set("filing.temp_base", "referral")(p),
        ),
        "filing.temp_base",
        ('"referral"', "referral_terms"),
    ),
    ("elderly-age", _set("inpatient.elderly_age", 170), "inpatient.elderly_age", ("170",)),
    (
        "deductible-free-from",
        _set("inpatient.deductible_free_from", 1),
        "inpatient.deductible_free_from",
        ("1",),
    ),
    (
        "later-factor-above-1",
        _set("inpatient.later_admission_factor", "1.5"),
        "inpatient.later_admission_factor",
        ('"1.5"',),
    ),
    ("account-coverage", _set("account.coverage", "all"), "account.coverage", ('"all"',)),
    (
        "assistance-category",
        _set(
            "assistance.categories.wubao", {"threshold": "0.00", "ratio": "1", "annual_cap": None}
        ),
        "assistance.categories.wubao",
        ('"wubao"',),
    ),
    (
        "assistance-ratio",
        _set("assistance.categories.tekun.ratio", "1.01"),
        "assistance.categories.tekun.ratio",
        ('"1.01"',),
    ),
    (
        "civil-servant-cap",
        _set("civil_servant.annual_cap", "-1.00"),
        "civil_servant.annual_cap",
        ('"-1.00"',),
    ),
    ("bool-as-string", _set("account.enabled", "true"), "account.enabled", ('"true"',)),
    ("fund-pay-type", _set("pool_fund_type", "3101"), "pool_fund_type", ('"3101"',)),
]


@pytest.mark.parametrize(
    ("mutate", "field", "quotes"),
    [pytest.param(m, f, q, id=name) for name, m, f, q in BAD_310],
)
def test_bad_policy_is_refused_naming_file_policy_field_and_value(
    tmp_path: Path,
    mutate: Callable[[dict[str, object]], None],
    field: str,
    quotes: tuple[str, ...],
) -> None:
    policy = _base("310")
    assert policy["inpatient"]["referral_terms"] is not None  # type: ignore[index]
    mutate(policy)
    path = _write(tmp_path / "bad.json", [policy])
    _expect_error(path, WHERE, field, *quotes)


def test_the_base_policy_of_the_negative_tests_is_valid(tmp_path: Path) -> None:
    path = _write(tmp_path / "good.json", [_base("310"), _base("390")])
    assert len(load_policy_file(path)) == 2


@pytest.mark.parametrize("status", list(BenefitStatus), ids=lambda s: str(s))
def test_every_reduction_above_its_national_bound_is_refused(
    tmp_path: Path, status: BenefitStatus
) -> None:
    bound_pp = REDUCTION_BOUNDS[status] // 100
    policy = _base("310")
    reductions = policy["filing"]["reductions"]  # type: ignore[index]
    reductions["referral"] = "10"
    reductions[status.value] = str(bound_pp + 1)
    path = _write(tmp_path / "bad.json", [policy])
    _expect_error(
        path,
        WHERE,
        f"filing.reductions.{status.value}",
        f'"{bound_pp + 1}"',
        f"national bound of {bound_pp} pp",
    )
    # and exactly at the bound is accepted (long_term_at_home ≤ referral = 10 holds)
    reductions[status.value] = str(bound_pp)
    assert (
        load_policy_file(_write(tmp_path / "ok.json", [policy]))[0].filing.reduction(status)
        == REDUCTION_BOUNDS[status]
    )


BAD_390: list[tuple[str, Callable[[dict[str, object]], None], str, tuple[str, ...]]] = [
    (
        "tiers-not-ascending",
        _set("layers.0.tiers.1.upper", "40000.00"),
        "layers.0.tiers.1.upper",
        ('"40000.00"', "greater than the previous"),
    ),
    (
        "tiers-equal",
        _set("layers.0.tiers.1.upper", "50000.00"),
        "layers.0.tiers.1.upper",
        ('"50000.00"',),
    ),
    ("tiers-empty", _set("layers.0.tiers", []), "layers.0.tiers", ("empty",)),
    (
        "cumulative-tier-below-threshold",
        lambda p: (
            _set("layers.0.tier_bounds", "cumulative")(p),
            _set("layers.0.tiers.0.upper", "5000.00")(p),
        ),
        "layers.0.tiers.0.upper",
        ('"5000.00"', "threshold"),
    ),
    (
        "civil-servant-for-residents",
        _set("civil_servant", {"ratio": "0.5", "annual_cap": None}),
        "civil_servant",
        ("'390'",),
    ),
    ("account-for-residents", _set("account.enabled", True), "account.enabled", ("'390'",)),
]


@pytest.mark.parametrize(
    ("mutate", "field", "quotes"),
    [pytest.param(m, f, q, id=name) for name, m, f, q in BAD_390],
)
def test_bad_resident_policy_is_refused(
    tmp_path: Path,
    mutate: Callable[[dict[str, object]], None],
    field: str,
    quotes: tuple[str, ...],
) -> None:
    policy = _base("390")
    mutate(policy)
    path = _write(tmp_path / "bad.json", [policy])
    _expect_error(path, f"policy {BASE_REGION}/390 from 2025-01-01", field, *quotes)


def test_unknown_region_is_refused(tmp_path: Path) -> None:
    policy = _base("310")
    policy["region"] = "999900"
    path = _write(tmp_path / "bad.json", [policy])
    _expect_error(path, "policy 999900/310 from 2025-01-01", "region", '"999900"', "regions.csv")


def test_unknown_insutype_is_refused(tmp_path: Path) -> None:
    policy = _base("310")
    policy["insutype"] = "320"
    path = _write(tmp_path / "bad.json", [policy])
    _expect_error(path, "policy 530100/320 from 2025-01-01", "insutype", '"320"', "310, 390")


def test_region_name_must_match_regions_csv(tmp_path: Path) -> None:
    policy = _base("310")
    assert policy["region_name"] == "昆明市"
    policy["region_name"] = "大理市"
    path = _write(tmp_path / "bad.json", [policy])
    _expect_error(path, WHERE, "region_name", '"大理市"', "昆明市")


def test_region_outside_the_files_province_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.json", [_base("310")], province="110000")
    _expect_error(path, WHERE, "region", '"530100"', "110000")


def test_policy_level_synthetic_must_match_the_file(tmp_path: Path) -> None:
    policy = _base("310")
    policy["synthetic"] = False
    _expect_error(_write(tmp_path / "bad.json", [policy]), WHERE, "synthetic", "false")


def test_raw_json_float_anywhere_is_refused(tmp_path: Path) -> None:
    policy = _base("310")
    policy["outpatient"]["annual_cap"] = "2000.00"  # type: ignore[index]
    text = json.dumps({"synthetic": True, "source": "t", "policies": [policy]})
    text = text.replace('"annual_cap": "2000.00"', '"annual_cap": 2000.00', 1)
    assert '"annual_cap": 2000.00,' in text
    path = tmp_path / "float.json"
    path.write_text(text, encoding="utf-8")
    _expect_error(path, WHERE, "outpatient.annual_cap", "2000.00", "floats are not allowed")


def test_duplicate_json_key_is_refused(tmp_path: Path) -> None:
    text = json.dumps({"synthetic": True, "source": "t", "policies": [_base("310")]})
    text = text.replace('"elderly_age": 70', '"elderly_age": 70, "elderly_age": 75', 1)
    path = tmp_path / "dup.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ReferenceDataError) as info:
        load_policy_file(path)
    assert info.value.field == "elderly_age"
    assert str(path) in str(info.value) and "duplicate" in str(info.value)


def test_invalid_json_is_refused_with_position(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"synthetic": true,\n "source": }', encoding="utf-8")
    with pytest.raises(ReferenceDataError, match=r"broken\.json.*line 2"):
        load_policy_file(path)


def test_unknown_top_level_field_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.json", [_base("310")], polices=[])
    with pytest.raises(ReferenceDataError) as info:
        load_policy_file(path)
    assert info.value.field == "polices"
    assert "'polices'" in str(info.value)


def test_missing_policy_identity_is_named_by_position(tmp_path: Path) -> None:
    policy = _base("310")
    del policy["insutype"]
    path = _write(tmp_path / "bad.json", [_base("390"), policy])
    _expect_error(path, "policy #2 (530100/? from 2025-01-01)", "insutype", "missing")


# --------------------------------------------------------------------------- versions


def _version(start: str, end: str | None) -> dict[str, object]:
    policy = _base("310")
    policy["effective_from"] = start
    policy["effective_to"] = end
    return policy


def test_versions_are_found_by_date_and_a_gap_raises(tmp_path: Path) -> None:
    old = _version("2023-01-01", "2023-12-31")
    old["inpatient"]["annual_cap"] = "111111.00"  # type: ignore[index]
    new = _version("2025-01-01", None)
    path = _write(tmp_path / "v.json", [new, old])
    book = PolicyBook(load_policy_file(path))
    assert book.find(BASE_REGION, "310", date(2023, 1, 1)).inpatient.annual_cap == 11_111_100
    assert book.find(BASE_REGION, "310", date(2023, 12, 31)).inpatient.annual_cap == 11_111_100
    assert book.find(BASE_REGION, "310", date(2025, 1, 1)).effective_from == date(2025, 1, 1)
    assert book.find(BASE_REGION, "310", date(2040, 1, 1)).effective_from == date(2025, 1, 1)
    assert [p.effective_from.year for p in book.versions(BASE_REGION, "310")] == [2023, 2025]
    with pytest.raises(LookupError) as info:
        book.find(BASE_REGION, "310", date(2024, 7, 15))
    message = str(info.value)
    assert BASE_REGION in message and "310" in message and "2024-07-15" in message
    with pytest.raises(LookupError, match="2022-12-31"):
        book.find(BASE_REGION, "310", date(2022, 12, 31))
    with pytest.raises(LookupError, match=r"530100, insutype 390"):
        book.find(BASE_REGION, "390", date(2025, 6, 1))


def test_overlapping_versions_in_one_file_are_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "overlap.json",
        [_version("2023-01-01", "2025-03-31"), _version("2025-01-01", None)],
    )
    err = _expect_error(path, WHERE, "effective_from", "2025-01-01..open", "2023-01-01..2025-03-31")
    assert "overlaps" in err.problem


def test_same_start_twice_is_an_overlap(tmp_path: Path) -> None:
    path = _write(tmp_path / "twice.json", [_version("2025-01-01", None)] * 2)
    _expect_error(path, WHERE, "effective_from", "overlaps")


def test_overlapping_versions_across_files_are_refused(tmp_path: Path) -> None:
    _write(tmp_path / "a.json", [_version("2024-01-01", None)])
    _write(tmp_path / "b.json", [_version("2025-01-01", "2025-12-31")])
    with pytest.raises(ReferenceDataError) as info:
        load_policy_book(tmp_path)
    err = info.value
    assert err.file == str(tmp_path / "b.json")
    assert err.field == "effective_from"
    assert str(tmp_path / "a.json") in err.problem


# --------------------------------------------------------------------------- defaults


def test_optional_fields_take_the_defaults_of_policy_py(tmp_path: Path) -> None:
    policy = _base("310")
    inpatient = policy["inpatient"]
    assert isinstance(inpatient, dict)
    for key in (
        "later_admission_factor",
        "deductible_free_from",
        "retired_bonus",
        "elderly_bonus",
        "elderly_age",
        "referral_terms",
    ):
        del inpatient[key]
    filing = policy["filing"]
    assert isinstance(filing, dict)
    policy["filing"] = {
        "reductions": {
            k: filing["reductions"][k]
            for k in ("referral", "emergency", "temporary_other", "unfiled")
        }
    }
    policy["chronic"] = {
        "diseases": {"M07801": {"annual_deductible": "0.00", "ratio": "0.8", "quota": "6000.00"}}
    }
    policy["layers"][0] = {
        k: v
        for k, v in policy["layers"][0].items()  # type: ignore[index]
        if k not in ("tier_bounds", "applies_to")
    }
    policy["account"] = {"enabled": True}
    policy["civil_servant"] = {"ratio": "0.6", "annual_cap": None}
    (loaded,) = load_policy_file(_write(tmp_path / "min.json", [policy]))
    ip = loaded.inpatient
    assert ip.later_admission_factor == 10_000
    assert (ip.deductible_free_from, ip.retired_bonus) == (None, 0)
    assert (ip.elderly_bonus, ip.elderly_age, ip.referral_terms) == (0, 70, None)
    fr = loaded.filing
    assert fr.temp_base is TempBase.SAME_LEVEL
    assert fr.temp_validity_months == {t: 6 for t in FilingType if not t.long_term}
    assert (fr.change_lock_months, fr.granularity) == (6, "city")
    assert fr.unfiled_direct_settlement and fr.retroactive_before_discharge
    assert fr.reduction_applies_to == frozenset(ServiceKind)
    assert fr.reduction(BenefitStatus.LONG_TERM_AT_HOME) == 0
    assert loaded.chronic is not None and loaded.chronic.mode is ChronicMode.OUTPATIENT_CHRONIC
    assert loaded.chronic.diseases["M07801"].quota_period is QuotaPeriod.YEAR
    assert loaded.layers[0].tier_bounds is TierBounds.CUMULATIVE
    assert loaded.layers[0].applies_to == frozenset({ServiceKind.INPATIENT, ServiceKind.CHRONIC})
    assert loaded.civil_servant is not None
    assert loaded.civil_servant.psn_types == frozenset({"1102", "1202"})
    assert loaded.source == "test" and loaded.synthetic
