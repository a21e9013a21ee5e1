"""``medroam case`` end to end (SQLite and PostgreSQL): open, move, show, list, and clear
one-line refusals."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from medroam.cli.main import app
from tests.integration.test_cases_support import (
    institution_finding,
    settlement_finding,
    store_finding,
)
from tests.integration.test_clearing_support import World, at

pytestmark = pytest.mark.db

runner = CliRunner()
OWNER = ["--actor", "沪审核", "--role", "就医地", "--acts-for", "310100"]
HOSPITAL = ["--actor", "院方", "--role", "institution", "--acts-for", "H310100"]


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["case", *args])
    return result.exit_code, result.output


def test_case_commands(engine: Engine) -> None:
    World(engine).settle(
        "S1", "110100", "310100", at("2026-10-03"), {"310100": 800_000, "330100": 50_000}
    )
    db = ["--db", engine.url.render_as_string(hide_password=False)]
    t = ["--at", "2026-11-02T10:00:00+08:00"]
    code, out = invoke(
        "open", "--setl-id", "S1", "--rule-code", "R-DUP", "--rule-name", "重复收费",
        "--result-type", "可疑", "--amount", "1000.01", "--evidence", '{"lines": [1, 2]}',
        *OWNER, *db, *t, "--json",
    )  # fmt: skip
    assert code == 0, out
    case_id = json.loads(out)["case_id"]
    for step, who in (
        ("start", OWNER),
        ("escalate", OWNER),
        ("notify", OWNER),
        ("appeal", HOSPITAL),
    ):
        code, out = invoke("move", case_id, step, *who, *db, *t)
        assert code == 0, out
    assert "申诉截止日" in out and "2026-11-16 (10 个工作日)" in out
    code, out = invoke(
        "move", case_id, "decide", "--decision", "partial", "--amount", "850.01", *OWNER, *db, *t
    )
    assert code == 0, out
    assert "310100" in out and "-800.01" in out and "-50.00" in out and "待下次清算" in out
    code, out = invoke("show", case_id, *db)
    assert code == 0 and "院方" in out and "已申诉 → 已处理决定" in out
    code, out = invoke("list", "--region", "110100", "--json", *db)
    assert [c["case_id"] for c in json.loads(out)] == [case_id]
    assert json.loads(out)[0]["decided_amount_fen"] == 85_001
    code, out = invoke("list", *db)
    assert code == 0 and "已处理决定" in out and "1,000.01" not in out and "1000.01" in out


def test_refusals_are_one_line(engine: Engine) -> None:
    World(engine).settle("S1", "110100", "310100", at("2026-10-03"), {"310100": 1_000})
    db = ["--db", engine.url.render_as_string(hide_password=False)]
    code, out = invoke(
        "open", "--setl-id", "S1", "--rule-code", "R", "--rule-name", "n",
        "--result-type", "maybe", "--amount", "1", *OWNER, *db,
    )  # fmt: skip
    assert code == 2 and "result_type 'maybe'" in out and "Traceback" not in out
    code, out = invoke(
        "open", "--setl-id", "S1", "--rule-code", "R", "--rule-name", "n",
        "--result-type", "可疑", "--amount", "1", "--json", *OWNER, *db,
    )  # fmt: skip
    case_id = json.loads(out)["case_id"]
    code, out = invoke("move", case_id, "notify", *OWNER, *db)
    assert code == 2 and "Traceback" not in out
    assert (
        out.startswith(f"error: 案件 {case_id}：待审核状态下不能告知机构")
        and "cannot notify" in out
    )
    code, out = invoke("move", case_id, "start", *HOSPITAL, *db)
    assert code == 2 and "开始初审由就医地经办机构办理" in out and "is for 就医地经办机构" in out
    code, out = invoke("move", case_id, "fly", *OWNER, *db)
    assert code == 2 and out.startswith("error: 步骤 'fly' 应为 start（开始初审）")
    code, out = invoke("show", "NOPE", *db)
    assert code == 2 and out.startswith("error: 案件 NOPE 不存在 / case NOPE not found")
    code, out = invoke(
        "open", "--setl-id", "S1", "--rule-code", "R2", "--rule-name", "n",
        "--result-type", "可疑", "--amount", "1", *HOSPITAL, *db,
    )  # fmt: skip
    assert code == 2 and out == (
        "error: 审核发现案件由就医地经办机构立案，院方（定点医药机构）不能立案 / "
        "a 审核发现 case is opened by 就医地经办机构, not by 院方 (定点医药机构)\n"
    )
    code, out = invoke(
        "move", case_id, "start", "--role", "boss", "--actor", "x", "--acts-for", "1"
    )
    assert code == 2 and out.startswith("error: --role：'boss' 应为 treatment（就医地）")
    code, out = invoke("move", case_id, "decide", "--amount", "1.234", *OWNER, *db)
    assert code == 2 and out.startswith("error: --amount：金额应为元，最多两位小数")


def test_upheld_takes_the_flagged_amount_capped_by_the_funds(engine: Engine) -> None:
    """docs/cases.md's worked example: S1 (北京 insured, 上海 hospital), total 1,315.08
    元, funds 310100 300.00 and 330100 100.00 元 (400.00), flagged 1,223.46 元 明确违规.
    `decide --decision upheld` with no amount recovers 400.00 元 (300.00 + 100.00) and
    says why; `--amount 1223.46` is refused first, writing nothing."""
    World(engine).settle(
        "S1", "110100", "310100", at("2026-10-03"), {"310100": 30_000, "330100": 10_000},
        cash=91_508,
    )  # fmt: skip
    db = ["--db", engine.url.render_as_string(hide_password=False)]
    t = ["--at", "2026-11-02T10:00:00+08:00"]
    code, out = invoke(
        "open", "--setl-id", "S1", "--rule-code", "R-DUP", "--rule-name", "重复收费",
        "--result-type", "明确违规", "--amount", "1223.46", *OWNER, *db, *t, "--json",
    )  # fmt: skip
    assert code == 0, out
    case_id = json.loads(out)["case_id"]
    for step in ("start", "escalate"):
        assert invoke("move", case_id, step, *OWNER, *db, *t)[0] == 0
    decide = ["move", case_id, "decide", "--decision", "upheld", *OWNER, *db, *t]
    code, out = invoke(*decide, "--amount", "1223.46")
    assert code == 2 and out.startswith(
        f"error: 案件 {case_id}：维持决定按 400.00 元处理（疑点金额 1223.46 元超过基金可追回金额 "
        "400.00 元），不能认定为 1223.46 元；请不填金额，或改用部分维持 (partial) / "
    )
    code, out = invoke("show", case_id, "--json", *db)
    assert json.loads(out)["state"] == "re_review" and json.loads(out)["adjustments"] == []
    code, out = invoke(*decide, "--note", "证据充分")
    assert code == 0, out
    assert "维持（疑点金额超过基金可追回金额，按可追回金额追回）" in out
    code, out = invoke("show", case_id, "--json", *db)
    shown = json.loads(out)
    assert shown["decision"] == "upheld" and shown["decided_amount_fen"] == 40_000
    assert shown["decision_capped"] is True
    assert shown["adjustments"] == [
        {"fund_pay_type": "310100", "amount_fen": -30_000, "run_id": None},
        {"fund_pay_type": "330100", "amount_fen": -10_000, "run_id": None},
    ]
    assert shown["history"][-1]["note"] == (
        "证据充分；维持：疑点金额 1223.46 元超过基金可追回金额 400.00 元"
        "（基金为结算 S1 支付的金额减去此前处理决定已追回的部分），按 400.00 元追回"
    )


def test_open_refuses_too_much_and_a_second_unended_case(engine: Engine) -> None:
    """S1 of 1,315.08 元 in all: `--amount 99999999` is refused; a second case on R-DUP
    while the first has not ended is refused naming it; neither writes anything."""
    World(engine).settle(
        "S1", "110100", "310100", at("2026-10-03"), {"310100": 40_000}, cash=91_508
    )
    db = ["--db", engine.url.render_as_string(hide_password=False)]
    open_ = [
        "open", "--setl-id", "S1", "--rule-code", "R-DUP", "--rule-name", "重复收费",
        "--result-type", "可疑", *OWNER, *db,
    ]  # fmt: skip
    code, out = invoke(*open_, "--amount", "99999999")
    assert code == 2 and out.startswith(
        "error: 疑点金额 99999999.00 元超过结算 S1 的医疗费总额 1315.08 元，不能立案 / "
    )
    assert json.loads(invoke("list", "--json", *db)[1]) == []
    code, out = invoke(*open_, "--amount", "1315.08", "--json")
    assert code == 0, out
    first = json.loads(out)["case_id"]
    code, out = invoke(*open_, "--amount", "10.00")
    assert code == 2 and out.startswith(
        f"error: 结算 S1 的规则 R-DUP 已有未结案件 {first}，不能重复立案；请在该案件中办理 / "
    )
    assert [c["case_id"] for c in json.loads(invoke("list", "--json", *db)[1])] == [first]


def test_a_case_is_opened_from_a_finding_picked_in_the_csv(engine: Engine, tmp_path: Path) -> None:
    """`audit findings --csv` gives each finding's id and evidence; `case open --finding`
    takes the settlement, rule, result type, amount and evidence from it (the note is its
    content). Refused with one line, writing nothing: the same finding again while its
    case is open, an institution finding (no settlement), options the finding gives, an
    unknown id; a CSV path in a directory that does not exist, or a directory."""
    World(engine).settle("S1", "110100", "310100", at("2026-10-03"), {"310100": 40_000})
    on_s1 = store_finding(engine, "2026-10", **settlement_finding("S1", 1_500))
    on_hospital = store_finding(engine, "2026-10", **institution_finding())
    url = engine.url.render_as_string(hide_password=False)
    db = ["--db", url]
    audit = ["audit", "findings", "--period", "2026-10", "--db", url]
    out_file = tmp_path / "findings.csv"
    result = runner.invoke(app, [*audit, "--csv", str(out_file)])
    assert result.exit_code == 0, result.output
    with out_file.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][0] == "疑点ID" and rows[0][-1] == "证据（JSON）"
    by_id = {row[0]: row for row in rows[1:]}
    assert set(by_id) == {str(on_s1), str(on_hospital)}
    assert by_id[str(on_s1)][3] == "S1" and json.loads(by_id[str(on_s1)][-1]) == {"cap": "25000000"}
    for bad, text in (
        (tmp_path / "missing" / "f.csv", f"error: --csv：目录 {tmp_path / 'missing'} 不存在"),
        (tmp_path, f"error: --csv：{tmp_path} 是目录"),
    ):
        result = runner.invoke(app, [*audit, "--csv", str(bad)])
        assert result.exit_code == 2 and result.output.startswith(text), result.output
        assert isinstance(result.exception, SystemExit)  # a clean exit, not an OSError
    assert not (tmp_path / "missing").exists()

    code, out = invoke("open", "--finding", str(on_s1), *OWNER, *db, "--json")
    assert code == 0, out
    case = json.loads(out)
    assert (case["setl_id"], case["rule_code"], case["rule_name"]) == (
        "S1", "SH10000201001000", "超限定单价"
    )  # fmt: skip
    assert (case["result_type"], case["flagged_amount_fen"]) == ("violation", 1_500)
    assert case["evidence"]["evidence"] == {"cap": "25000000"}
    assert case["evidence"]["finding_id"] == str(on_s1)
    assert case["history"][0]["note"] == "单价超过限定单价"
    for args, text in (
        (
            ["--finding", str(on_s1)],
            f"error: 结算 S1 的规则 SH10000201001000 已有未结案件 {case['case_id']}，不能重复立案",
        ),
        (
            ["--finding", str(on_hospital)],
            f"error: 审核疑点 {on_hospital}（ZB30000201001000 DRG 高套病组信号（MCC/CC 占比））"
            "是机构级疑点，没有单笔结算，不能据此立案；请手工立案，指定结算 / ",
        ),
        (
            ["--finding", str(on_s1), "--amount", "1", "--assist"],
            "error: --finding：结算、规则、结果类型、金额和证据取自审核疑点，不能同时指定 "
            "--amount、--assist / ",
        ),
        (["--finding", "999999"], "error: 审核疑点 999999 不存在 / finding 999999 not found"),
        (
            ["--setl-id", "S1", "--amount", "1"],
            "error: 请指定 --finding 疑点ID，或手工立案时指定 --rule-code、--rule-name、"
            "--result-type / ",
        ),
    ):
        code, out = invoke("open", *args, *OWNER, *db)
        assert code == 2 and out.startswith(text), out
    assert [c["case_id"] for c in json.loads(invoke("list", "--json", *db)[1])] == [case["case_id"]]
