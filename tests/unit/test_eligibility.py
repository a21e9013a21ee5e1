"""One decision on direct settlement (直接结算) for the gateway and ``medroam calc``
(issue 12 items 1 and 7): unfiled care where the policy forbids it, the per-province
intra-province filing requirement, and the effective dates of the cross-province
chronic diseases."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from medroam.cli import app
from medroam.domain.codes import BenefitStatus
from medroam.domain.eligibility import NotEligibleError, direct_settlement_refusal
from medroam.domain.filing import BenefitDecision
from medroam.domain.province import ProvinceBook, ProvinceSettings
from medroam.gateway.case_file import parse_case
from medroam.refdata.catalogue import load_catalogue
from medroam.refdata.chronic import load_chronic_diseases
from medroam.refdata.policies import load_policy_book
from medroam.services import persons
from medroam.services.calc import calculate
from tests.factories import employee_policy

DISEASES = {d.code: d for d in load_chronic_diseases()}
COPD = "M05300"  # 慢性阻塞性肺疾病, cross-province from 2024-12-01
DIABETES = "M01600"  # 糖尿病, cross-province from 2021
UNFILED = BenefitDecision(BenefitStatus.UNFILED, None, "no filing covers 440300.")
FILED = BenefitDecision(BenefitStatus.LONG_TERM, None, "long-term filing.")
EXAMPLES = resources.files("medroam") / "data" / "examples"


def _refusal(
    decision: BenefitDecision = UNFILED,
    *,
    direct: bool = True,
    required: bool = False,
    insured: str = "440100",
    treated: str = "440300",
    med_type: str = "21",
    disease: str | None = None,
    on: date | None = None,
) -> str | None:
    policy = employee_policy(
        region=insured,
        filing=replace(employee_policy().filing, unfiled_direct_settlement=direct),
    )
    return direct_settlement_refusal(
        decision,
        policy.filing,
        policy_region=policy.region,
        insured_region=insured,
        treatment_region=treated,
        province=ProvinceSettings(insured[:2] + "0000", intra_filing_required=required),
        med_type=med_type,
        disease_code=disease,
        on=on,
        cross_province_diseases=DISEASES,
    )


def test_unfiled_care_settles_where_the_policy_allows_it() -> None:
    assert _refusal() is None
    assert _refusal(treated="110105") is None


def test_unfiled_care_is_refused_where_the_policy_forbids_it() -> None:
    reason = _refusal(direct=False, treated="110105")
    assert reason is not None and "440100" in reason and "备案" in reason
    assert _refusal(FILED, direct=False, treated="110105") is None


def test_intra_province_filing_requirement_is_per_province() -> None:
    reason = _refusal(required=True)
    assert reason is not None and "省内异地就医需备案" in reason and "440300" in reason
    # the same province setting says nothing about inter-province care
    assert _refusal(required=True, treated="110105") is None
    assert _refusal(FILED, required=True) is None


@pytest.mark.parametrize(
    ("disease", "on", "refused"),
    [
        (COPD, date(2024, 11, 30), True),  # the day before the five of 2024 took effect
        (COPD, date(2024, 12, 1), False),
        (DIABETES, date(2021, 8, 31), True),
        (DIABETES, date(2024, 11, 30), False),
        ("M99999", date(2025, 6, 1), True),  # not a cross-province chronic disease
    ],
)
def test_cross_province_chronic_care_respects_the_effective_date(
    disease: str, on: date, refused: bool
) -> None:
    reason = _refusal(FILED, treated="110105", med_type="14", disease=disease, on=on)
    assert (reason is not None) is refused
    if refused:
        assert disease in reason


def test_chronic_dates_do_not_apply_within_a_province() -> None:
    """Intra-province chronic care follows the province, not the national list."""
    on = date(2024, 11, 30)
    assert _refusal(FILED, med_type="14", disease=COPD, on=on) is None


def test_the_gateway_asks_the_same_function() -> None:
    """services.persons.filing_refusal (used by 2001 and 2206/2207/2303/2304) delegates to
    the domain function with the packaged disease list."""
    policy = employee_policy(
        region="440100", filing=replace(employee_policy().filing, unfiled_direct_settlement=False)
    )
    assert persons.filing_refusal(
        UNFILED, policy, insured_region="440100", treatment_region="110105"
    ) == _refusal(direct=False, treated="110105")
    reason = persons.filing_refusal(
        FILED,
        policy,
        insured_region="440100",
        treatment_region="110105",
        med_type="14",
        disease_code=COPD,
        on=date(2024, 11, 1),
    )
    assert reason is not None and "2024-12-01" in reason


# --- calc refuses what the gateway refuses ---------------------------------------------------


def _intra_unfiled() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (EXAMPLES / "employee-intra-province-unfiled.json").read_text(encoding="utf-8")
    )
    return data


def test_calc_refuses_unfiled_intra_province_care_where_the_province_requires_a_filing() -> None:
    case = parse_case(_intra_unfiled())
    book = load_policy_book()
    calculate(case, book, load_catalogue)  # settles under the default province settings
    provinces = ProvinceBook({"440000": ProvinceSettings("440000", intra_filing_required=True)})
    with pytest.raises(NotEligibleError, match="省内异地就医需备案"):
        calculate(case, book, load_catalogue, provinces=provinces)


def test_calc_cli_refuses_unfiled_care_the_policy_forbids(tmp_path: Path) -> None:
    """Before the fix ``calc`` printed a full settlement whose own reason said the place
    of insurance "may not settle directly"."""
    source = resources.files("medroam") / "data" / "policies" / "440000.json"
    text = source.read_text(encoding="utf-8").replace(
        '"unfiled_direct_settlement": true', '"unfiled_direct_settlement": false'
    )
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "440000.json").write_text(text, encoding="utf-8")
    case = tmp_path / "case.json"
    case.write_text(json.dumps(_intra_unfiled(), ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(app, ["calc", str(case), "--json", "--policies", str(policies)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "不能直接结算" in result.stderr and "440100" in result.stderr
    assert "Traceback" not in result.output
