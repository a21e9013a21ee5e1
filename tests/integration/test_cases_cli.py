"""``medroam case`` end to end (SQLite and PostgreSQL): open, move, show, list, and clear
one-line refusals."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from medroam.cli.main import app
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
