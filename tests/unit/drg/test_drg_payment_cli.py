"""``medroam drg price`` and ``medroam drg year`` on hand-made parameter files: the worked
examples of ``services/drg_payment.py`` computed by hand, malformed rows reported while
the rest is priced, clear failures; and synth → group → price end to end."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from medroam.cli.drg import app
from medroam.domain.drg.payment import CaseClass, Scope
from medroam.services.drg import PAYMENT_COLUMNS
from medroam.services.drg_payment import scope_of

HEADER = (
    "id,status,drg,los,leaving_type,person_id,hospital_id,hospital_level,insured_region,"
    "admitted,discharged,total_cost,patient_share,item_fund"
)


def rate_params(region: str = "620100") -> dict[str, Any]:
    """Base rate ¥10,000.00 (¥100.00 a point); BR23 RW 1.05, standard ¥10,500.00; level 3
    × 1.05; cross-region × 0.98; inter-province cases by item (the default)."""
    return {
        "region": region,
        "year": 2025,
        "method": "rate",
        "base_rate": "10000.00",
        "level_coefficients": {"3": "1.0500"},
        "cross_region": {"mode": "coefficient", "coefficient": "0.9800"},
        "standards": {
            "overall_mean": "12000.00",
            "groups": {"BR23": {"rw": "1.0500", "mean_cost": "10500.00"}},
        },
    }


def points_params() -> dict[str, Any]:
    """The same standards under the point method: provisional ¥98.50 a point, budget
    ¥22,050.00 with no hold-back and 85 % advances."""
    p = rate_params()
    del p["base_rate"]
    p |= {
        "method": "points",
        "point_value": "98.500000",
        "budget": {"amount": "22050.00", "holdback": "0", "advance_ratio": "0.8500"},
    }
    return p


def write(tmp: Path, params: dict[str, Any], rows: list[str]) -> tuple[Path, Path]:
    pdir = tmp / "params"
    pdir.mkdir(exist_ok=True)
    (pdir / f"{params['region']}-{params['year']}.json").write_text(
        json.dumps(params), encoding="utf-8"
    )
    cases = tmp / "groups.csv"
    cases.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return pdir, cases


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def run_json(*args: str) -> dict[str, Any]:
    code, out = run(*args, "--json", "--quiet")
    assert code == 0, out
    doc = json.loads(out, parse_float=Decimal)
    assert isinstance(doc, dict)
    return doc


# three stays at a level-3 hospital of 620100, ¥9,800.00 each, the patient paid ¥2,000.00
WORKED = [
    "loc,grouped,BR23,8,1,P1,H1,3,620100,2025-03-01,2025-03-09,9800.00,2000.00,7800.00",
    "intra,grouped,BR23,8,1,P2,H1,3,621000,2025-03-02,2025-03-10,9800.00,2000.00,7800.00",
    "inter,grouped,BR23,8,1,P3,H1,3,110100,2025-03-03,2025-03-11,9800.00,2000.00,7800.00",
]
BAD = [
    "cents,grouped,BR23,8,1,P4,H1,3,620100,2025-03-01,2025-03-09,12.345,1.00,",
    "when,grouped,BR23,8,1,P5,H1,3,620100,2025-03-01,2025-02-30,9800.00,2000.00,",
    "lastyear,grouped,BR23,8,1,P6,H1,3,620100,2024-12-01,2024-12-09,9800.00,2000.00,",
    "ungrouped,error,,8,1,P7,H1,3,620100,2025-03-01,2025-03-09,9800.00,2000.00,",
    "short,grouped,BR23,8,1,P8",
    "loc,grouped,BR23,8,1,P9,H1,3,620100,2025-05-01,2025-05-09,9800.00,2000.00,",
    "share,grouped,BR23,8,1,P10,H1,3,620100,2025-03-01,2025-03-09,100.00,200.00,",
]


def test_scope_of() -> None:
    assert scope_of("620100", "620100") is Scope.LOCAL
    assert scope_of("621000", "620100") is Scope.INTRA_PROVINCE
    assert scope_of("110100", "620100") is Scope.INTER_PROVINCE


def test_price_worked_example_and_bad_rows(tmp_path: Path) -> None:
    pdir, cases = write(tmp_path, rate_params(), WORKED + BAD)
    doc = run_json(
        "price", "--cases", str(cases), "--region", "620100", "--year", "2025",
        "--params", str(pdir),
    )  # fmt: skip
    by = {c["id"]: c for c in doc["cases"]}
    assert list(by) == ["loc", "intra", "inter"]
    assert by["loc"]["class"] == CaseClass.NORMAL.value
    assert by["loc"]["points"] == Decimal("110.2500")  # 105 × 1.05
    assert by["loc"]["amount"] == Decimal("11025.00")
    assert by["loc"]["fund_to_hospital"] == Decimal("9025.00")
    assert by["intra"]["coefficients"] == {
        "level 3": Decimal("1.0500"),
        "cross-region": Decimal("0.9800"),
    }
    assert by["intra"]["points"] == Decimal("108.0450")  # 105 × 1.05 × 0.98
    assert (by["intra"]["amount"], by["intra"]["fund_to_hospital"]) == (
        Decimal("10804.50"),
        Decimal("8804.50"),
    )
    assert by["inter"]["class"] == CaseClass.NOT_INCLUDED.value
    assert (by["inter"]["amount"], by["inter"]["fund_to_hospital"]) == (
        Decimal("9800.00"),
        Decimal("7800.00"),
    )
    reasons = {e["id"]: e["reason"] for e in doc["errors"]}
    assert reasons == {
        "cents": "total_cost: '12.345' has more than 2 decimals",
        "when": "discharged: '2025-02-30' is not a date yyyy-mm-dd",
        "lastyear": "discharged 2024-12-09 is outside 2025 (the parameters' year)",
        "ungrouped": "not grouped: status error",
        "short": "malformed line: expected 14 fields, got 6",
        "loc": "id repeated in the file",
        "share": "patient_share exceeds total_cost",
    }
    assert (doc["rows"], doc["priced"]) == (10, 3)
    assert doc["summary"]["fund_to_hospital"] == Decimal("25629.50")


def test_year_rate_method(tmp_path: Path) -> None:
    pdir, cases = write(tmp_path, rate_params(), WORKED)
    doc = run_json(
        "year", "--cases", str(cases), "--region", "620100", "--year", "2025",
        "--params", str(pdir),
    )  # fmt: skip
    assert doc["budget"] is None and doc["point_value"] == Decimal("100.000000")
    assert doc["advances"] == {"2025-03": {"H1": Decimal("21785.08")}}  # 0.85 × 25,629.50
    (h1,) = doc["hospitals"]
    assert (h1["fund_due"], h1["advances"], h1["balance"]) == (
        Decimal("25629.50"),
        Decimal("21785.08"),
        Decimal("3844.42"),
    )
    claims = {c["insured_region"]: c["claim"] for c in doc["claims"]}
    assert claims == {"110100": Decimal("7800.00"), "621000": Decimal("7800.00")}


def test_year_point_method(tmp_path: Path) -> None:
    """Two local BR23 stays (110.25 points each), one discharged in March, one in April.
    Provisional: 110.25 × 98.50 = 10,859.625 → ¥10,859.63, fund 8,859.63, advance
    0.85 × 8,859.63 = 7,530.6855 → ¥7,530.69 a month. Year end: 22,050.00 ÷ 220.5 points
    = ¥100.00 a point, fund due 2 × 9,025.00 = 18,050.00, balance 18,050.00 − 15,061.38
    = ¥2,988.62."""
    rows = [
        "a,grouped,BR23,8,1,P1,H1,3,620100,2025-03-01,2025-03-09,9800.00,2000.00,",
        "b,grouped,BR23,8,1,P2,H1,3,620100,2025-04-01,2025-04-09,9800.00,2000.00,",
    ]
    pdir, cases = write(tmp_path, points_params(), rows)
    args = ("--cases", str(cases), "--region", "620100", "--year", "2025", "--params", str(pdir))
    priced = run_json("price", *args)
    assert [c["amount"] for c in priced["cases"]] == [Decimal("10859.63")] * 2
    doc = run_json("year", *args)
    assert doc["total_points"] == Decimal("220.5000")
    assert doc["provisional_point_value"] == Decimal("98.500000")
    assert doc["point_value"] == Decimal("100.000000")
    assert doc["advances"] == {
        "2025-03": {"H1": Decimal("7530.69")},
        "2025-04": {"H1": Decimal("7530.69")},
    }
    (h1,) = doc["hospitals"]
    assert (h1["drg_amount"], h1["fund_due"], h1["advances"], h1["balance"]) == (
        Decimal("22050.00"),
        Decimal("18050.00"),
        Decimal("15061.38"),
        Decimal("2988.62"),
    )
    # --budget overrides the file's: ¥44,100.00 doubles the point value
    doubled = run_json("year", *args, "--budget", "44100.00")
    assert doubled["point_value"] == Decimal("200.000000")


def test_tables(tmp_path: Path) -> None:
    pdir, cases = write(tmp_path, rate_params(), WORKED + BAD)
    args = ("--cases", str(cases), "--region", "620100", "--year", "2025", "--params", str(pdir))
    code, out = run("price", *args, "--output", str(tmp_path / "priced.csv"))
    assert code == 0, out
    assert "3 of 10 cases priced" in out and "not_included" in out and "25629.50" in out
    assert "7 rows not priced" in out and "patient_share exceeds total_cost" in out
    with (tmp_path / "priced.csv").open(encoding="utf-8") as f:
        written = list(csv.DictReader(f))
    assert [(r["id"], r["fund_to_hospital"]) for r in written] == [
        ("loc", "9025.00"),
        ("intra", "8804.50"),
        ("inter", "7800.00"),
    ]
    code, out = run("year", *args)
    assert code == 0, out
    for text in ("2025-03", "21785.08", "3844.42", "621000", "year-end settlement"):
        assert text in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--region", "999999"), "no payment parameters for 999999 2025"),
        (("--region", "6201"), "must be a 6-digit region code"),
    ],
)
def test_unknown_region_fails_cleanly(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    _, cases = write(tmp_path, rate_params(), WORKED)
    for command in ("price", "year"):
        code, out = run(command, "--cases", str(cases), "--year", "2025", *args)
        assert code == 2 and message in out, out


def test_missing_columns_and_missing_budget(tmp_path: Path) -> None:
    pdir, _ = write(tmp_path, points_params(), [])
    bad = tmp_path / "bad.csv"
    bad.write_text("id,drg\nx,BR23\n", encoding="utf-8")
    base = ("--region", "620100", "--year", "2025", "--params", str(pdir))
    code, out = run("price", "--cases", str(bad), *base)
    assert code == 2 and "header lacks column(s) los, hospital_id" in out
    no_budget = points_params()
    del no_budget["budget"]
    pdir, cases = write(tmp_path, no_budget, WORKED)
    code, out = run("year", "--cases", str(cases), *base)
    assert code == 2 and "needs the year's budget" in out


def test_synth_group_price_round_trip(tmp_path: Path) -> None:
    """synth writes the payment columns, group carries them, price uses them."""
    cases, groups = tmp_path / "cases.csv", tmp_path / "groups.csv"
    code, out = run("synth", "--output", str(cases), "--n", "400", "--region", "440300")
    assert code == 0, out
    with cases.open(encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert tuple(header[-len(PAYMENT_COLUMNS) :]) == PAYMENT_COLUMNS
    code, out = run("group", "--input", str(cases), "--output", str(groups), "--quiet")
    assert code == 0, out
    with groups.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {r["insured_region"] for r in rows} == {"440300", "440100", "440200", "110100"}
    doc = run_json("price", "--cases", str(groups), "--region", "440300", "--year", "2025")
    assert doc["errors"] == [] and doc["priced"] == 400
    scopes = {c["scope"] for c in doc["cases"]}
    assert scopes == {"local", "intra_province", "inter_province"}
    # 440300 includes inter-province cases in DRG payment (its file says so)
    assert all(c["class"] != "not_included" for c in doc["cases"])
    year = run_json("year", "--cases", str(groups), "--region", "440300", "--year", "2025")
    assert sum(h["cases"] for h in year["hospitals"]) == 400
    for h in year["hospitals"]:
        assert h["advances"] + h["balance"] == h["fund_due"]
