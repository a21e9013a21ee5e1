"""``medroam calc`` from the outside: the shipped examples settle with every identity
holding, and every kind of bad input is refused with a message that names the field and
the value, with nothing printed as if it had settled. (``medroam demo`` is
tests/integration/test_demo.py.)"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from medroam.cli import app

EXAMPLES = resources.files("medroam") / "data" / "examples"
NAMES = sorted(p.name for p in EXAMPLES.iterdir() if p.name.endswith(".json"))
runner = CliRunner()


def _example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    return data


def _run(tmp_path: Path, case: dict[str, Any] | str, *args: str) -> Any:
    path = tmp_path / "case.json"
    path.write_text(case if isinstance(case, str) else json.dumps(case, ensure_ascii=False))
    return runner.invoke(app, ["calc", str(path), "--json", *args])


def test_at_least_five_examples_are_shipped() -> None:
    assert len(NAMES) >= 5


@pytest.mark.parametrize("name", NAMES)
def test_every_example_settles_and_its_identities_hold(name: str) -> None:
    result = runner.invoke(app, ["calc", str(EXAMPLES / name), "--json", "--trace"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout, parse_float=Decimal)
    s = doc["setlinfo"]
    fund = sum(
        s[k]
        for k in (
            "hifp_pay",
            "cvlserv_pay",
            "hifes_pay",
            "hifmi_pay",
            "hifob_pay",
            "maf_pay",
            "oth_pay",
        )
    )
    assert s["fund_pay_sumamt"] == fund
    assert s["medfee_sumamt"] == s["fund_pay_sumamt"] + s["psn_part_amt"] + s["hosp_part_amt"]
    assert s["psn_part_amt"] == s["acct_pay"] + s["psn_cash_pay"]
    assert s["medfee_sumamt"] == (
        s["fulamt_ownpay_amt"] + s["overlmt_selfpay"] + s["preselfpay_amt"] + s["inscp_scp_amt"]
    )
    lines = doc["result"]
    assert sum(r["det_item_fee_sumamt"] for r in lines) == s["medfee_sumamt"]
    assert doc["trace"], "--trace explains the amounts"
    # amounts are written with exactly two decimals
    assert '"medfee_sumamt": ' + str(s["medfee_sumamt"]) in result.stdout
    assert (
        str(s["medfee_sumamt"]).count(".") == 1 and len(str(s["medfee_sumamt"]).split(".")[1]) == 2
    )


def test_table_output_names_the_status_and_the_fields(tmp_path: Path) -> None:
    name = "employee-inpatient-long-term.json"
    result = runner.invoke(app, ["calc", str(EXAMPLES / name), "--table", "--trace"])
    assert result.exit_code == 0, result.output
    assert "long_term" in result.stdout
    assert "hifp_pay" in result.stdout and "统筹基金" in result.stdout
    assert "step  5" in result.stdout


def _mutate(path: str, value: Any) -> dict[str, Any]:
    case = copy.deepcopy(_example("employee-inpatient-long-term.json"))
    node: Any = case
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    last = keys[-1]
    if value is _DELETE:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return case


_DELETE = object()

BAD_CASES = [
    # (mutation path, value, words the message must contain)
    ("person.psn_no", _DELETE, ["person.psn_no", "required"]),
    ("person.certno", "150702195605120021", ["person.certno", "150702195605120021", "check"]),
    ("person.insutype", "abc", ["person.insutype", "abc"]),
    ("person.insuplc_admdvs", "15070", ["insuplc_admdvs", "15070"]),
    ("person.assistance_category", "poor", ["assistance_category", "poor"]),
    ("visit.med_type", "99", ["med_type", "99"]),
    ("visit.hosp_lv", "7", ["hosp_lv", "7"]),
    ("visit.begntime", "2026-13-01", ["begntime", "2026-13-01"]),
    ("visit.acct_used_flag", "5", ["acct_used_flag", "5"]),
    ("filings.0.filing_type", "LT_FOREVER", ["filing_type", "LT_FOREVER"]),
    ("feedetail.0.cnt", "0", ["feedetail[0].cnt", "zero"]),
    ("feedetail.0.pric", "-50.00", ["feedetail[0].pric", "-50"]),
    ("feedetail.0.det_item_fee_sumamt", "351.00", ["feedetail[0].det_item_fee_sumamt", "351"]),
    ("feedetail.1.hosp_appr_flag", "7", ["hosp_appr_flag", "7"]),
    ("feedetail.0.det_item_fee_sumamt", "350.001", ["det_item_fee_sumamt", "350.001"]),
    ("cuminfo", {"pool_fund": "-1.00"}, ["cuminfo.pool_fund", "-1.00"]),
    ("feedetail", [], ["feedetail", "non-empty"]),
    # issue 12 item 6: negative balances and unknown region codes
    ("person.balc", "-100.00", ["person.balc", "-100.00", "negative"]),
    ("person.mulaid_balc", "-1", ["person.mulaid_balc", "negative"]),
    ("visit.mdtrtarea_admvs", "999999", ["visit.mdtrtarea_admvs", "999999", "unknown region"]),
    ("person.insuplc_admdvs", "158800", ["person.insuplc_admdvs", "158800", "unknown region"]),
    ("filings.0.destination", "119900", ["filings[0].destination", "119900", "unknown region"]),
]


@pytest.mark.parametrize(("path", "value", "words"), BAD_CASES)
def test_bad_input_is_refused_naming_field_and_value(
    tmp_path: Path, path: str, value: Any, words: list[str]
) -> None:
    result = _run(tmp_path, _mutate(path, value))
    assert result.exit_code == 2, result.output
    assert result.stdout == "", "nothing is printed as if it had settled"
    message = " ".join(result.stderr.split())
    for word in words:
        assert word in message, (word, message)
    assert "Traceback" not in result.output


def test_json_float_amount_is_refused(tmp_path: Path) -> None:
    text = json.dumps(_example("employee-inpatient-long-term.json"), ensure_ascii=False)
    text = text.replace('"det_item_fee_sumamt": "350.00"', '"det_item_fee_sumamt": 350.5', 1)
    assert "350.5" in text
    result = _run(tmp_path, text)
    assert result.exit_code == 2
    assert "det_item_fee_sumamt" in result.stderr and "string" in result.stderr


def test_malformed_json_and_missing_file(tmp_path: Path) -> None:
    result = _run(tmp_path, "{not json")
    assert result.exit_code == 2 and "not valid JSON" in result.stderr
    missing = runner.invoke(app, ["calc", str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "cannot read" in missing.stderr


def test_unknown_place_of_insurance_is_refused(tmp_path: Path) -> None:
    result = _run(tmp_path, _mutate("person.insuplc_admdvs", "999900"))
    assert result.exit_code == 2
    assert "999900" in result.stderr
