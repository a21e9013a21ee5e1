"""The audit rule library loader: the packaged files load; each kind of bad file is
refused naming the file, the rule and the field."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from medroam.domain.audit.engine import audit_bill
from medroam.domain.audit.mechanisms import MECHANISMS, Kind, UpcodingSignal
from medroam.domain.audit.model import AuditLine, AuditVisit, Bill, Scenario, Stage
from medroam.refdata.audit_rules import load_rule_book, parse_rule_file
from medroam.refdata.errors import ReferenceDataError


def test_packaged_library_covers_every_mechanism() -> None:
    book = load_rule_book()
    assert {r.mechanism for r in book.rules} == set(MECHANISMS)
    assert all(r.synthetic for r in book.rules)


def test_local_edition_replaces_national_threshold_from_its_date() -> None:
    """深圳 sets the 协查 threshold to 100000.00 yuan from 2025-07-01 (national 200000.00):
    a cross-region stay of 150000.00 yuan is referred in July but not in June."""
    book = load_rule_book()
    v = AuditVisit(
        "V",
        "P",
        "1",
        50,
        "310",
        Scenario.INPATIENT,
        "H",
        "3",
        "440300",
        "110000",
        date(2025, 6, 1),
        date(2025, 6, 20),
        ("J18.9",),
        (),
        15_000_000,
    )
    bill = Bill(v, ())
    june = [f.rule.code for f in audit_bill(book, bill, Stage.AFTER, date(2025, 6, 30))]
    july = [f.rule.code for f in audit_bill(book, bill, Stage.AFTER, date(2025, 7, 1))]
    assert "GZ30000101001000" not in june
    assert "GZ30000101001000" in july


def test_packaged_bed_rule_refuses_two_beds_a_day() -> None:
    """Two general-ward beds on one day at 20.00 yuan each (4000 fen): the 1/day rule
    finds 1 excess unit = 2000 fen."""
    book = load_rule_book()
    v = AuditVisit(
        "V",
        "P",
        "1",
        50,
        "310",
        Scenario.INPATIENT,
        "H",
        "3",
        "440300",
        "440300",
        date(2025, 3, 1),
        date(2025, 3, 3),
        ("J18.9",),
    )
    lines = tuple(
        AuditLine(f"L{i}", "001109000010000", 10_000, 20_000_000, 2000, date(2025, 3, 1))
        for i in (1, 2)
    )
    found = {
        f.rule.code: f for f in audit_bill(book, Bill(v, lines), Stage.DURING, date(2025, 3, 3))
    }
    assert found["GZ10000201013000"].amount == 2000


def _doc(**rule_changes: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "code": "GZ10000201001000",
        "name": "超限定单价",
        "mechanism": "price_cap",
        "result_type": "明确违规",
        "window": "当次住院",
        "scenarios": ["住院"],
        "stages": ["事中"],
        "severity": "1",
        "action": "warn",
        "behaviour": "超标准收费",
        "params": {"caps": {"S1": "25.00"}},
    }
    rule.update(rule_changes)
    return {
        "format_version": 1,
        "synthetic": True,
        "source": "test",
        "region": "440300",
        "effective_from": "2025-01-01",
        "rules": [rule],
    }


def test_good_file_parses() -> None:
    (rule,) = parse_rule_file(json.dumps(_doc()), "x.json")
    assert rule.params.caps == {"S1": 25_000_000}  # type: ignore[attr-defined]
    assert MECHANISMS[rule.mechanism].kind is Kind.BILL


@pytest.mark.parametrize(
    ("changes", "where", "field"),
    [
        ({"mechanism": "magic"}, "rule GZ10000201001000", "mechanism"),
        ({"code": "GZ123"}, "rule #1", "code"),
        ({"result_type": "大概"}, "rule GZ10000201001000", "result_type"),
        ({"stages": ["事外"]}, "rule GZ10000201001000", "stages"),
        ({"insutypes": ["999"]}, "rule GZ10000201001000", "insutypes"),
        ({"params": {"caps": {"S1": "-1"}}}, "rule GZ10000201001000", "params.caps.S1"),
        ({"params": {"caps": {"S1": "1.0000001"}}}, "rule GZ10000201001000", "params.caps"),
        ({"params": {"caps": {"bad code!": "1"}}}, "rule GZ10000201001000", "params.caps"),
        ({"params": {}}, "rule GZ10000201001000", "params.caps"),
        ({"params": {"caps": {"S1": "1"}, "x": 1}}, "rule GZ10000201001000", "params.x"),
        (
            {
                "mechanism": "age_limit",
                "params": {"target": "item", "codes": ["A"], "min_age": 20, "max_age": 10},
            },
            "rule GZ10000201001000",
            "params.max_age",
        ),
        (
            {"mechanism": "split_admission", "params": {"days": 400}},
            "rule GZ10000201001000",
            "params.days",
        ),
        ({"result_type": "可疑", "action": "refuse"}, "rule GZ10000201001000", "action"),
        ({"effective_to": "2024-12-31"}, "rule GZ10000201001000", "effective_to"),
        ({"colour": "red"}, "rule GZ10000201001000", "colour"),
    ],
)
def test_bad_rule_is_refused_naming_file_rule_field(
    changes: dict[str, Any], where: str, field: str
) -> None:
    with pytest.raises(ReferenceDataError) as err:
        parse_rule_file(json.dumps(_doc(**changes)), "bad.json")
    assert err.value.file == "bad.json"
    assert err.value.where == where
    assert err.value.field == field
    assert "bad.json" in str(err.value)


def _upcoding(**params: object) -> dict[str, Any]:
    return _doc(mechanism="drg_upcoding", params={"max_ratio": "1.5", "min_cases": 30} | params)


@pytest.mark.parametrize("max_p", ["0", "1", "-0.01", "0.0000001", "p", True])
def test_a_bad_max_p_is_refused_naming_the_field(max_p: object) -> None:
    """Not strictly between 0 and 1, finer than millionths, not a number."""
    with pytest.raises(ReferenceDataError) as err:
        parse_rule_file(json.dumps(_upcoding(max_p=max_p)), "u.json")
    assert (err.value.where, err.value.field) == ("rule GZ10000201001000", "params.max_p")


def test_max_p_is_millionths_and_defaults_to_a_thousandth() -> None:
    """``max_p`` "0.01" is 10,000 millionths; a rule file without it gets 0.001."""
    (rule,) = parse_rule_file(json.dumps(_upcoding(max_p="0.01")), "u.json")
    assert rule.params == UpcodingSignal(15_000, 30, 10_000)
    (old,) = parse_rule_file(json.dumps(_upcoding()), "u.json")
    assert old.params == UpcodingSignal(15_000, 30, 1_000)


def test_float_duplicate_rule_and_bad_region_are_refused(tmp_path: Path) -> None:
    text = json.dumps(_doc()).replace('"25.00"', "25.0")
    with pytest.raises(ReferenceDataError, match="float") as err:
        parse_rule_file(text, "f.json")
    # the rule and the field are named (before: "(number)", no rule)
    assert (err.value.where, err.value.field) == ("rule GZ10000201001000", "params.caps.S1")
    assert "JSON float 25.0 refused" in str(err.value)
    doc = _doc()
    doc["rules"].append(doc["rules"][0])
    with pytest.raises(ReferenceDataError) as err:
        parse_rule_file(json.dumps(doc), "d.json")
    assert err.value.field == "code" and "duplicate" in str(err.value)
    doc = _doc()
    doc["region"] = "44"
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ReferenceDataError) as err:
        load_rule_book([path])
    assert err.value.field == "region" and str(path) in str(err.value)
