"""Bad values that were accepted (issue 12 items 6 and 17): negative account balances,
unknown region codes, integers as dates in the agency API, and the unit of
``cuminfo_after``."""

from __future__ import annotations

import json
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from medroam.api.schemas import FilingChange, FilingCreate, PersonCreate
from medroam.cli import app
from medroam.domain import accumulators as acc
from medroam.domain.accumulators import Accumulators
from medroam.domain.calculator import CalculationError, settle
from medroam.domain.codes import BenefitStatus
from medroam.domain.settlement import AccountState
from medroam.gateway.case_file import cuminfo_document
from medroam.gateway.errors import InputError
from medroam.gateway.reader import Node
from medroam.refdata.regions import is_known_region
from tests.factories import A_SERVICE, employee_policy, line, make_catalogue, person, visit

EXAMPLES = resources.files("medroam") / "data" / "examples"


@pytest.mark.parametrize(
    "account",
    [AccountState(balance=-10_000), AccountState(balance=0, mutual_aid_balance=-1)],
)
def test_the_calculator_refuses_a_negative_balance(account: AccountState) -> None:
    """Before: own = min(−100.00, payable) = −100.00, so the cash exceeded the bill."""
    with pytest.raises(CalculationError, match="must not be negative"):
        settle(
            [line(A_SERVICE, "1000")],
            visit(account_flag="2"),
            person(),
            BenefitStatus.LONG_TERM,
            employee_policy(),
            make_catalogue(),
            Accumulators({}),
            account,
        )


def test_known_regions() -> None:
    for code in ("110000", "110100", "110105", "440300", "469001"):
        assert is_known_region(code), code
    for code in ("999999", "000000", "119900", "990100", "11010a"):
        assert not is_known_region(code), code


def test_the_gateway_refuses_an_unknown_region_naming_the_field() -> None:
    n = Node({"clr_optins": "999999", "insuplc_admdvs": "110105"}, "input.data")
    assert n.region("insuplc_admdvs") == "110105"
    with pytest.raises(InputError, match=r"^input\.data\.clr_optins: unknown region code '999999'"):
        n.region("clr_optins")


_FILING = {
    "psn_no": "P1",
    "filing_type": "TMP_OTHER",
    "destination": "110100",
    "channel": "counter",
}


@pytest.mark.parametrize("value", [0, 1_700_000_000, "0", "20261201", True])
def test_the_agency_api_refuses_a_number_as_a_date(value: object) -> None:
    """Before: ``valid_from: 0`` was read as a Unix timestamp, a filing from 1970-01-01."""
    with pytest.raises(ValidationError) as info:
        FilingCreate.model_validate({**_FILING, "valid_from": value})
    (error,) = info.value.errors()
    assert error["loc"] == ("valid_from",)
    assert "YYYY-MM-DD" in error["msg"]
    with pytest.raises(ValidationError, match="YYYY-MM-DD"):
        FilingChange.model_validate({"valid_from": value, "channel": "counter"})


def test_the_agency_api_still_takes_iso_dates() -> None:
    made = FilingCreate.model_validate({**_FILING, "valid_from": "2026-12-01"})
    assert made.valid_from.isoformat() == "2026-12-01"


def test_the_agency_api_refuses_a_negative_balance() -> None:
    with pytest.raises(ValidationError) as info:
        PersonCreate.model_validate(
            {
                "psn_name": "测试",
                "psn_cert_type": "01",
                "certno": "110105198003150016",
                "insuplc_admdvs": "110100",
                "insutype": "310",
                "psn_type": "1101",
                "balc": "-5.00",
            }
        )
    assert any(e["loc"] == ("balc",) for e in info.value.errors())


def test_cuminfo_document_is_in_yuan() -> None:
    doc = cuminfo_document(Accumulators({acc.POOL_FUND: 1_234_550, acc.IP_ADMISSIONS: 2}))
    assert doc == {acc.IP_ADMISSIONS: 2, acc.POOL_FUND: "12345.50"}


def test_calc_prints_cuminfo_after_in_yuan_like_cuminfo(tmp_path: Path) -> None:
    """``cuminfo_after`` = ``cuminfo`` + this settlement, in yuan with two decimals (was
    fen): pool_fund after = pool_fund before + hifp_pay; it reads back as ``cuminfo``."""
    name = "employee-inpatient-long-term.json"
    case = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    result = CliRunner().invoke(app, ["calc", str(EXAMPLES / name), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout, parse_float=Decimal)
    after = doc["cuminfo_after"]
    assert case["cuminfo"] == {}  # the example starts the year with nothing accumulated
    setlinfo = doc["setlinfo"]
    assert after["pool_fund"] == f"{setlinfo['hifp_pay']:.2f}"
    assert after["medfee"] == f"{setlinfo['medfee_sumamt']:.2f}"
    assert after["ip_admissions"] == 1
    assert all(
        isinstance(v, int) if k == acc.IP_ADMISSIONS else v.count(".") == 1
        for k, v in after.items()
    )
    # cuminfo_after is a valid cuminfo for the next case
    case["cuminfo"] = after
    path = tmp_path / "next.json"
    path.write_text(json.dumps(case, ensure_ascii=False), encoding="utf-8")
    again = CliRunner().invoke(app, ["calc", str(path), "--json"])
    assert again.exit_code == 0, again.output
