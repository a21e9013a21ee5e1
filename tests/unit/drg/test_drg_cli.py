"""``medroam drg group`` and the CSV service: bad rows are reported, the rest grouped."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from typer.testing import CliRunner

from medroam.cli.drg import app
from medroam.domain.drg.scheme import Scheme
from medroam.services.drg import INPUT_COLUMNS, OUTPUT_COLUMNS, group_csv

HEADER = ",".join(INPUT_COLUMNS)
ROWS = [
    "c1,1,70,,,神经内科,8,1,I63.900|J96.000,",
    "c2,1,45,,,,5,1,S06.500|S27.000,",
    "c3,2,0,5,1200,,20,1,P07.200|P22.000,",
    "bad-age,1,abc,,,,3,1,I63.900,",
    "bad-pdx,1,45,,,,3,1,,51.2300",
    "bad-line,1,45",
    "bad-code,1,45,,,,3,1,K80.100,",
    "c4,2,30,,,,4,1,n80.000,",
]


def run(scheme: Scheme, lines: list[str]) -> tuple[list[dict[str, str]], object]:
    out = io.StringIO()
    summary = group_csv(io.StringIO("\n".join([HEADER, *lines]) + "\n"), out, scheme)
    out.seek(0)
    return list(csv.DictReader(out)), summary


def test_groups_and_reports_bad_rows(scheme: Scheme) -> None:
    rows, summary = run(scheme, ROWS)
    by = {r["id"]: r for r in rows}
    assert list(rows[0]) == list(OUTPUT_COLUMNS)
    assert [r["id"] for r in rows] == [
        "c1",
        "c2",
        "c3",
        "bad-age",
        "bad-pdx",
        "bad-line",
        "bad-code",
        "c4",
    ]
    assert (by["c1"]["mdc"], by["c1"]["adrg"], by["c1"]["drg"]) == ("MDCB", "BR2", "BR21")
    assert by["c1"]["trace"] == "MDCB[I63.900] > BR2[I63.900] > CCE 表7-96 > MCC+J96.000 > =BR21"
    assert by["c2"]["drg"] == "ZZ15"
    assert by["c3"]["drg"] == "PS11"
    assert by["c4"]["drg"] == "NZ19"  # normalised to N80.000
    assert by["bad-age"]["error"] == "age: 'abc' is not a whole number"
    assert by["bad-pdx"]["error"] == "missing principal diagnosis"
    assert by["bad-line"]["error"] == "malformed line: expected 10 fields, got 3"
    assert by["bad-code"]["error"] == "unknown diagnosis code K80.100"
    assert {r["status"] for r in rows if r["id"].startswith("bad")} == {"error"}
    assert summary.rows == 8  # type: ignore[attr-defined]
    assert summary.by_status == {"grouped": 4, "error": 4}  # type: ignore[attr-defined]
    assert [e[0] for e in summary.errors] == [  # type: ignore[attr-defined]
        "bad-age",
        "bad-pdx",
        "bad-line",
        "bad-code",
    ]


def test_cli_group(tmp_path: Path) -> None:
    src = tmp_path / "cases.csv"
    dst = tmp_path / "groups.csv"
    src.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["group", "--input", str(src), "--output", str(dst)])
    assert result.exit_code == 0, result.output
    assert "bad-code" in result.output
    with dst.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8
    assert rows[0]["drg"] == "BR21"


def test_cli_qy_switch(tmp_path: Path) -> None:
    src = tmp_path / "cases.csv"
    dst = tmp_path / "groups.csv"
    src.write_text(HEADER + "\nq,1,60,,,,5,1,I63.900,51.2300\n", encoding="utf-8")
    args = ["group", "--input", str(src), "--output", str(dst), "--quiet"]
    assert CliRunner().invoke(app, [*args, "--qy", "any_or_procedure"]).exit_code == 0
    assert "BQY" in dst.read_text(encoding="utf-8")


def test_cli_missing_column_fails_cleanly(tmp_path: Path) -> None:
    src = tmp_path / "cases.csv"
    src.write_text("id,gender\n1,1\n", encoding="utf-8")
    args = ["group", "--input", str(src), "--output", str(tmp_path / "o.csv")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "header lacks column(s) age" in result.output


def test_synth_then_group_round_trip(tmp_path: Path) -> None:
    """Synthetic cases written by ``synth`` all group (none fails validation)."""
    cases = tmp_path / "cases.csv"
    out = tmp_path / "groups.csv"
    runner = CliRunner()
    assert runner.invoke(app, ["synth", "--output", str(cases), "--n", "300"]).exit_code == 0
    r = runner.invoke(app, ["group", "--input", str(cases), "--output", str(out), "--quiet"])
    assert r.exit_code == 0
    with out.open(encoding="utf-8") as f:
        statuses = {row["status"] for row in csv.DictReader(f)}
    assert statuses == {"grouped"}
