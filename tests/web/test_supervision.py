"""智能监管 in the console: opening a case, its steps by role, validation next to the
field, scope (404), CSRF, the operations log and the exports. The console's settlement
is a 北京 (110100) person treated in 广州 (440100): 广州 owns the case (就医地), 北京
co-reviews (参保地). Demo data are SYNTHETIC."""

from __future__ import annotations

import itertools
import re

import httpx
import pytest
from sqlalchemy import func, select

from medroam.services.uow import unit_of_work
from medroam.store.case_tables import CaseEventRow, CaseRow
from medroam.store.console_tables import OperationLogRow
from tests.integration.test_cases_support import store_finding
from tests.integration.test_clearing_support import World, at
from tests.web.conftest import Console, csrf_of

pytestmark = pytest.mark.db

OWNER = "treatment_place-440100"
CO_REVIEWER = "insured_place-110100"
CASE_LINK = re.compile(r"/supervision/cases/(CS[0-9A-Za-z]+)")
RULE_NUMBERS = itertools.count(1)


def _count(console: Console, model: type) -> int:
    with unit_of_work(console.engine) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def open_case(console: Console, http: httpx.Client, **changes: str) -> httpx.Response:
    """Open a case by the form; each on its own rule code (the console is shared by the
    tests, and a second unended case on one settlement and rule is refused)."""
    token = csrf_of(http.get("/supervision").text)
    form = {
        "csrf_token": token,
        "origin": "finding",
        "setl_id": console.setl_id,
        "rule_code": f"GZ-DEMO-{next(RULE_NUMBERS):03d}",
        "rule_name": "重复收费（演示）",
        "result_type": "suspicious",
        "amount": "10.00",
        "note": "演示疑点",
    }
    form.update(changes)
    return http.post("/supervision/cases", data=form)


def step(http: httpx.Client, case_id: str, action: str, **fields: str) -> httpx.Response:
    token = csrf_of(http.get(f"/supervision/cases/{case_id}").text)
    return http.post(
        f"/supervision/cases/{case_id}/steps",
        data={"csrf_token": token, "action": action, **fields},
    )


def new_case(console: Console, http: httpx.Client) -> str:
    r = open_case(console, http)
    assert r.status_code == 303, r.text
    found = CASE_LINK.search(r.headers["location"])
    assert found
    return found.group(1)


def test_the_owner_opens_and_works_a_case_step_by_step(console: Console) -> None:
    """广州's 就医地 officer opens a case on the settlement (待审核), starts the first
    review (初审), escalates it (复审) and withdraws it (处理决定: 撤销, no amount), then
    closes it (已结案). Every step is on the case's timeline with the officer and the
    time, and in the operations log with the state before and after."""
    with console.login(OWNER) as http:
        case_id = new_case(console, http)
        page = http.get(f"/supervision/cases/{case_id}").text
        assert "待审核" in page and "10.00" in page and "以就医地经办机构身份" in page
        for action, state in (("start", "初审"), ("escalate", "复审")):
            r = step(http, case_id, action, note=f"{action} 意见")
            assert r.status_code == 303, r.text
            assert f'<td id="state">{state}</td>' in http.get(f"/supervision/cases/{case_id}").text
        r = step(http, case_id, "decide", decision="withdrawn", note="证据不足")
        assert r.status_code == 303, r.text
        assert step(http, case_id, "close").status_code == 303
        page = http.get(f"/supervision/cases/{case_id}").text
        assert "已结案(撤销)" in page and "撤销" in page and "证据不足" in page
        timeline = page.split('id="timeline"')[1]
        assert timeline.count("<tr>") == 6  # header + 立案, 初审, 复审, 决定, 结案
        assert "就医地经办演示（440100）" in timeline
        assert "没有可办理的操作" in page
    with unit_of_work(console.engine) as session:
        events = session.execute(
            select(func.count()).where(CaseEventRow.case_id == case_id)
        ).scalar_one()
        logged = session.execute(
            select(OperationLogRow.action).where(OperationLogRow.object_id == case_id)
        ).scalars()
        assert events == 5
        assert sorted(logged) == ["close", "decide", "escalate", "open", "start"]


def test_a_bad_decision_amount_is_shown_next_to_the_field(console: Console) -> None:
    """ "12.345" has three decimals: refused with the reason by the amount field (422),
    and the case stays in 复审."""
    with console.login(OWNER) as http:
        case_id = new_case(console, http)
        step(http, case_id, "start")
        step(http, case_id, "escalate")
        r = step(http, case_id, "decide", decision="partial", amount="12.345")
        assert r.status_code == 422
        assert 'id="amount-error">金额应为元，最多两位小数' in r.text
        assert '<td id="state">复审</td>' in r.text
    with unit_of_work(console.engine) as session:
        assert session.get(CaseRow, case_id).state == "re_review"  # type: ignore[union-attr]


def test_an_upheld_decision_needs_no_amount(console: Console) -> None:
    """SW1: a 北京 person in 广州, total 60.00 元 of which the funds paid 50.00 元. A
    明确违规 case flagged 60.00 元 decided 维持 with the amount left empty recovers what
    the funds can give back, 50.00 元, and the page says why; 部分维持 still needs an
    amount. (The console's own settlement was paid from the personal account: nothing
    for an upheld decision to recover, refused next to the amount field.)"""
    World(console.engine).settle("SW1", "110100", "440100", at("2026-10-03"), {"310100": 5_000})
    with console.login(OWNER) as http:
        r = open_case(console, http, result_type="violation")
        empty = CASE_LINK.search(r.headers["location"]).group(1)  # type: ignore[union-attr]
        step(http, empty, "start")
        step(http, empty, "escalate")
        r = open_case(console, http, setl_id="SW1", result_type="violation", amount="60.00")
        found = CASE_LINK.search(r.headers["location"])
        assert found
        case_id = found.group(1)
        step(http, case_id, "start")
        step(http, case_id, "escalate")
        r = step(http, case_id, "decide", decision="partial", amount="")
        assert r.status_code == 422 and "请填写金额（元）" in r.text
        r = step(http, case_id, "decide", decision="upheld", amount="")
        assert r.status_code == 303, r.text
        page = http.get(f"/supervision/cases/{case_id}").text
        decision = page.split('<td id="decision">')[1].split("</td>")[0]
        assert decision.startswith("维持，") and "50.00" in decision
        assert decision.endswith("（疑点金额超过基金可追回金额，按可追回金额追回）")
        assert "按 50.00 元追回" in page.split('id="timeline"')[1]
        r = step(http, empty, "decide", decision="upheld", amount="")
        assert r.status_code == 422 and "可追回的金额为 0.00 元" in r.text
    with unit_of_work(console.engine) as session:
        row = session.get(CaseRow, case_id)
        assert row is not None and (row.decision, row.decided_amount) == ("upheld", 5_000)


def test_opening_form_errors_are_in_chinese_and_nothing_is_written(console: Console) -> None:
    before = _count(console, CaseRow)
    with console.login(OWNER) as http:
        r = open_case(console, http, setl_id="", rule_code="", result_type="", amount="-1")
        assert r.status_code == 422
        for text in ("请填写结算ID", "请填写规则编码", "请选择结果类型", "金额应大于 0"):
            assert text in r.text, text
        # a 协查 case is opened by the place of insurance, not by 广州
        r = open_case(console, http, origin="assist")
        assert r.status_code == 422 and "不在您可立案的经办范围内" in r.text
        # the console's settlement is 25.00 元 in all
        r = open_case(console, http, amount="25.01")
        assert r.status_code == 422 and "疑点金额 25.01 元超过结算" in r.text
    assert _count(console, CaseRow) == before
    with console.login(OWNER) as http:
        first = open_case(console, http, rule_code="GZ-TWICE")
        assert first.status_code == 303
        r = open_case(console, http, rule_code="GZ-TWICE")
        assert r.status_code == 422 and "规则 GZ-TWICE 已有未结案件 CS" in r.text
    assert _count(console, CaseRow) == before + 1


def test_the_co_reviewer_sees_the_case_but_may_not_start_it(console: Console) -> None:
    """北京's 参保地 officer sees 广州's case and may comment or refer, not review: a
    forged 开始初审 is refused (403) and logged; the case does not move."""
    with console.login(OWNER) as http:
        case_id = new_case(console, http)
    with console.login(CO_REVIEWER) as http:
        listing = http.get("/supervision").text
        assert case_id in listing
        page = http.get(f"/supervision/cases/{case_id}").text
        assert 'id="step-comment"' in page and 'id="step-start"' not in page
        r = step(http, case_id, "start")
        assert r.status_code == 403
        assert step(http, case_id, "comment", note="参保地意见").status_code == 303
    with unit_of_work(console.engine) as session:
        assert session.get(CaseRow, case_id).state == "open"  # type: ignore[union-attr]
        refused = session.execute(
            select(func.count()).where(
                OperationLogRow.object_id == case_id, OperationLogRow.outcome == "refused"
            )
        ).scalar_one()
        assert refused == 1


def test_a_case_outside_the_scope_answers_404(console: Console) -> None:
    """广州's 参保地 officer acts for people insured in 广州: 北京's person's case is
    not theirs (404, logged), and it is not in their list."""
    with console.login(OWNER) as http:
        case_id = new_case(console, http)
    with console.login("insured_place-440100") as http:
        assert http.get(f"/supervision/cases/{case_id}").status_code == 404
        assert case_id not in http.get("/supervision").text
        token = csrf_of(http.get("/supervision").text)
        r = http.post(
            f"/supervision/cases/{case_id}/steps", data={"csrf_token": token, "action": "comment"}
        )
        assert r.status_code == 404


def test_steps_need_the_csrf_token(console: Console) -> None:
    with console.login(OWNER) as http:
        case_id = new_case(console, http)
        r = http.post(f"/supervision/cases/{case_id}/steps", data={"action": "start"})
        assert r.status_code == 403 and "CSRF" in r.text
    with unit_of_work(console.engine) as session:
        assert session.get(CaseRow, case_id).state == "open"  # type: ignore[union-attr]


def test_the_case_list_exports_with_its_filters(console: Console) -> None:
    with console.login(OWNER) as http:
        case_id = new_case(console, http)
        csv_text = http.get("/supervision/cases.csv", params={"state": "open"}).content
        text = csv_text.decode("utf-8-sig")
        assert text.splitlines()[0].startswith("案件号,来源,规则编码")
        assert case_id in text and "重复收费（演示）" in text and "10.00" in text
        none = http.get("/supervision/cases.csv", params={"state": "cleared"}).content
        assert case_id not in none.decode("utf-8-sig")
        xlsx = http.get("/supervision/cases.xlsx")
        assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
        bad = http.get("/supervision", params={"state": "nonsense", "start": "2026-13-01"})
        assert "未知的案件状态" in bad.text and "日期格式应为 YYYY-MM-DD" in bad.text


def guangzhou_hospital(console: Console) -> str:
    """A tertiary hospital of 广州 (440100), the console's place of treatment."""
    return next(
        str(i["fixmedins_code"]) for i in console.fixtures["institutions"]
        if i["region"] == "440100" and i["level"] == "3"
    )  # fmt: skip


def test_a_finding_of_the_audit_becomes_a_case(console: Console) -> None:
    """A stored after-settlement finding (5.00 yuan on the console's settlement) is
    listed for both places; the place of treatment opens a case from it in one click
    (rule, amount and evidence carried over); the place of insurance may not (404). A
    second click, while that case is open, is refused naming it, writing nothing."""
    finding_id = store_finding(
        console.engine, "2099-01", rule_code="GZ10000201001000", rule_name="超限定单价",
        mechanism="price_cap", result_type="suspicious", severity="medium",
        setl_id=console.setl_id, mdtrt_id="M", psn_no="P",
        fixmedins_code=guangzhou_hospital(console), treatment_region="440100",
        insured_region="110100", amount=500, content="单价超过限定单价", line_ids="1",
        evidence={"cap": "25000000"},
    )  # fmt: skip
    with console.login(CO_REVIEWER) as http:
        page = http.get("/supervision", params={"finding_period": "2099-01"}).text
        assert "超限定单价" in page and f'id="case-from-{finding_id}"' not in page
        token = csrf_of(page)
        refused = http.post(f"/supervision/findings/{finding_id}/case", data={"csrf_token": token})
        assert refused.status_code == 404
    with console.login(OWNER) as http:
        page = http.get("/supervision", params={"finding_period": "2099-01"}).text
        assert f'id="case-from-{finding_id}"' in page and "5.00" in page
        token = csrf_of(page)
        r = http.post(f"/supervision/findings/{finding_id}/case", data={"csrf_token": token})
        assert r.status_code == 303, r.text
        case_page = http.get(r.headers["location"]).text
        assert "GZ10000201001000 超限定单价" in case_page and "5.00" in case_page
        case_id = r.headers["location"].rsplit("/", 1)[1]
        before = _count(console, CaseRow)
        again = http.post(f"/supervision/findings/{finding_id}/case", data={"csrf_token": token})
        assert again.status_code == 422
        assert f"规则 GZ10000201001000 已有未结案件 {case_id}，不能重复立案" in again.text
        assert _count(console, CaseRow) == before
    with unit_of_work(console.engine) as session:
        row = session.get(CaseRow, case_id)
        assert row is not None and row.evidence["evidence"] == {"cap": "25000000"}
        assert row.evidence["finding_id"] == str(finding_id)


def test_an_institution_finding_is_listed_without_a_settlement(console: Console) -> None:
    """A finding of the institution rule (DRG 高套病组信号: no settlement, visit, person
    or amount) is listed to the place of treatment as 机构级疑点 with no settlement link
    and no one-click 立案 (no amount), and not to the place of insurance of another
    region (the finding has none)."""
    code = guangzhou_hospital(console)
    finding_id = store_finding(
        console.engine, "2099-02", rule_code="ZB30000201001000",
        rule_name="DRG 高套病组信号（MCC/CC 占比）", mechanism="drg_upcoding",
        result_type="suspicious", severity="2", setl_id="", mdtrt_id="", psn_no="",
        fixmedins_code=code, treatment_region="440100", insured_region="", amount=0,
        content=f"机构 {code} MCC/CC 病例占比 40.00% ，同组机构 10.00%", line_ids="",
        evidence={"cases": "35"},
    )  # fmt: skip
    with console.login(OWNER) as http:
        page = http.get("/supervision", params={"finding_period": "2099-02"}).text
        row = page[page.index('<table id="findings">') :].split("</tr>")[1]
        assert "DRG 高套病组信号" in row and "机构级疑点（无单笔结算）" in row
        assert 'href="/settlements/"' not in page
        assert f'id="case-from-{finding_id}"' not in page
        assert "<td>—</td>" in row
        forged = http.post(
            f"/supervision/findings/{finding_id}/case", data={"csrf_token": csrf_of(page)}
        )
        assert forged.status_code == 422 and "是机构级疑点，没有单笔结算" in forged.text
        assert "请手工立案" in forged.text
    with console.login(CO_REVIEWER) as http:
        page = http.get("/supervision", params={"finding_period": "2099-02"}).text
        assert "DRG 高套病组信号" not in page
