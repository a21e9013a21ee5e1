"""``medroam mutual-aid grant|end|list`` end to end (SQLite and PostgreSQL), and its
one-line refusals (exit code 2, nothing written)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from medroam.cli.main import app
from medroam.store import refdata_cache
from tests.integration.test_settlement_service_support import (
    EMPLOYEE_GZ,
    EMPLOYEE_HHHT,
    RESIDENT_KM,
    build_world,
)

pytestmark = pytest.mark.db

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["mutual-aid", *args])
    return result.exit_code, result.output


def test_grant_list_end(engine: Engine) -> None:
    refdata_cache.clear_caches()
    build_world(engine)
    db = ["--db", engine.url.render_as_string(hide_password=False)]
    who = ["--holder", EMPLOYEE_GZ, "--beneficiary", EMPLOYEE_HHHT]
    refusals = [
        (["--relation", "cousin", "--quota", "200"], "relation: 'cousin' is not a close relative"),
        (["--relation", "child", "--quota", "abc"], "--quota: 'abc' is not an amount"),
        (["--relation", "child", "--quota", "-5"], "must be a positive amount"),
        (["--relation", "child", "--quota", "1e30"], "more than 10,000,000.00 yuan"),
        (["--relation", "child", "--quota", "1.001"], "at most two decimals"),
        (["--relation", "child", "--quota", "NaN"], "must be a positive amount"),
        (["--relation", "child", "--quota", "2000.01"], "exceeds the holder's personal-account"),
        (["--relation", "child", "--on", "2026-01-08"], "across provinces"),
        (["--relation", "child", "--on", "1/9/2026"], "--on: '1/9/2026' is not a date"),
    ]
    for extra, message in refusals:
        code, out = invoke("grant", *who, *extra, *db)
        assert code == 2 and message in out, (extra, out)
    code, out = invoke("grant", "--holder", EMPLOYEE_GZ, "--beneficiary", EMPLOYEE_GZ,
                       "--relation", "child", *db)  # fmt: skip
    assert code == 2 and "cannot aid themself" in out
    code, out = invoke("grant", "--holder", "NOPE", "--beneficiary", EMPLOYEE_GZ,
                       "--relation", "child", *db)  # fmt: skip
    assert code == 2 and "holder: no insured person 'NOPE'" in out
    code, out = invoke("grant", "--holder", RESIDENT_KM, "--beneficiary", EMPLOYEE_GZ,
                       "--relation", "parent", *db)  # fmt: skip
    assert code == 2 and "only an employee's personal account" in out
    code, out = invoke("list", "--json", *db)
    assert code == 0 and json.loads(out) == []  # nothing was written

    code, out = invoke("grant", *who, "--relation", "20", "--quota", "200.00", "--json", *db)
    assert code == 0, out
    g = json.loads(out)[0]
    assert (g["relation"], g["relation_name"], g["quota"], g["remaining"]) == (
        "child", "子女", "200.00", "200.00",
    )  # fmt: skip
    code, out = invoke("grant", *who, "--relation", "child", "--quota", "1.00", *db)
    assert code == 2 and "already aids" in out
    code, out = invoke("list", "--psn-no", EMPLOYEE_HHHT, *db)
    assert code == 0 and "子女 child" in out and "200.00 / 0.00 / 200.00" in out and "有效" in out
    code, out = invoke("sync", EMPLOYEE_GZ, "--json", *db)  # nothing changed: nothing ends
    assert code == 0 and json.loads(out) == []
    code, out = invoke("sync", "NOPE", *db)
    assert code == 2 and "psn_no: no insured person 'NOPE'" in out
    code, out = invoke("end", g["grant_id"], "--reason", "moved", *db)
    assert code == 2 and "reason: 'moved'" in out
    code, out = invoke("end", g["grant_id"], *db)
    assert code == 0 and "已终止" in out and "退回额度 200.00 元" in out, out
    code, out = invoke("list", "--status", "active", "--json", *db)
    assert json.loads(out) == []
    code, out = invoke("list", "--status", "gone", *db)
    assert code == 2 and "status: 'gone'" in out
