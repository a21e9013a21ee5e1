"""预付金 and 医院回款 pages: quotas with their usage and yellow/red warnings, the tracked
emergency top-up (the treating province asks, the paying province records the transfer
with its voucher, which raises the quota), the hospital payments due after a clearing run,
CSV/XLSX with the same filters, errors next to the field in Chinese, and refusals (403,
logged) and 404s outside the officer's scope. Demo data are SYNTHETIC."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from medroam.domain.clearing.periods import Cycle, parse_period
from medroam.gateway.settings import china_now
from medroam.services import clearing, prepayment
from medroam.services.uow import unit_of_work
from medroam.store.console_more_tables import PrepayTopupRow
from medroam.store.console_tables import OperationLogRow
from medroam.store.tables import PrepayQuotaRow, PrepayWarningRow, RunPaymentRow
from medroam.web import fmt
from medroam.web.prepay import parse_yuan
from tests.web.conftest import Console, csrf_of, refusals, start_console

pytestmark = pytest.mark.db

PAIR = {"level": "national", "payer": "110000", "payee": "440000"}


@pytest.fixture(scope="module")
def cleared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Console, str, str]]:
    """The console's one settlement (北京 person, 广州 hospital) cleared by the monthly run
    of its month; the 北京 → 广东 prepayment for that year set to 1 fen, so that the
    month's usage is red. Yields (console, run_id, month)."""
    path: Path = tmp_path_factory.mktemp("prepay") / "prepay.db"
    for console in start_console(f"sqlite:///{path}"):
        now = china_now()
        period = parse_period(Cycle.MONTHLY, f"{now:%Y-%m}")
        after = now + timedelta(days=(period.end - now.date()).days + 3)
        proposal = clearing.propose(console.engine, period, now=after)
        clearing.confirm(console.engine, now=after, batch_id=proposal.batch_id)
        run = clearing.clear(
            console.engine, Cycle.MONTHLY, period.label, as_of=after.date(), now=after
        )
        prepayment.set_quota(console.engine, now.year, **PAIR, amount=1, now=after)
        with unit_of_work(console.engine) as session:
            prepayment.assess_month(session, now.year, now.month, now=after)
        yield console, run.run_id, period.label


def _warning(console: Console, month: str) -> PrepayWarningRow:
    with unit_of_work(console.engine) as session:
        row = session.execute(
            select(PrepayWarningRow).where(
                PrepayWarningRow.payer == PAIR["payer"],
                PrepayWarningRow.payee == PAIR["payee"],
                PrepayWarningRow.month == month,
            )
        ).scalar_one()
        session.expunge(row)
        return row


def test_parse_yuan_takes_yuan_with_two_decimals_at_most() -> None:
    assert parse_yuan("1,234.5") == 123450
    assert parse_yuan("0.01") == 1
    assert parse_yuan("12") == 1200
    for bad in ("", "0", "0.00", "-1", "1.234", "abc", "1e3"):
        assert parse_yuan(bad) is None, bad


def test_quota_usage_shows_the_red_warning_and_exports(
    cleared: tuple[Console, str, str],
) -> None:
    """Quota 0.01 yuan, the month's cleared amount C: usage C ÷ 0.01 yuan is far above
    90 %, so the pair is red with the top-up the service computed, shown and exported."""
    console, _run, month = cleared
    warning = _warning(console, month)
    assert warning.warning == "red" and warning.cleared_fen > 0 and warning.topup_fen > 0
    params = {"year": month[:4], "month": month, "warning": "red"}
    with console.login("province-440000") as http:
        page = http.get("/clearing/prepayment", params=params).text
        assert "110000 北京市" in page and "红色预警" in page
        assert fmt.yuan(warning.topup_fen) in page and 'class="noprint topup-form"' in page
        csv_text = http.get("/clearing/prepayment.csv", params=params).content.decode("utf-8-sig")
        lines = csv_text.splitlines()
        assert lines[0].startswith("层级,付款方,收款方,年度,年度额度（元）")
        assert len(lines) == 2 and "红色预警" in lines[1] and ",0.01," in lines[1]
        book = load_workbook(
            io.BytesIO(http.get("/clearing/prepayment.xlsx", params=params).content)
        )
        assert book.active is not None and book.active.max_row == 2
        wrong = http.get("/clearing/prepayment", params={"year": "26", "month": "2026-13"})
        assert "年度应为 4 位数字" in wrong.text and "月份格式应为 YYYY-MM" in wrong.text


def test_top_up_is_requested_then_recorded_paid_and_raises_the_quota(
    cleared: tuple[Console, str, str],
) -> None:
    console, _run, month = cleared
    warning = _warning(console, month)
    base = {"csrf_token": "", **PAIR, "month": month}
    with console.login("auditor-440000") as http:  # may look, may not ask
        token = csrf_of(http.get("/clearing/prepayment").text)
        before = refusals(console, "角色或地区无权发起补足")
        r = http.post("/clearing/prepayment/topups", data={**base, "csrf_token": token})
        assert r.status_code == 403
        assert refusals(console, "角色或地区无权发起补足") == before + 1
    with console.login("province-440000") as http:
        token = csrf_of(http.get("/clearing/prepayment").text)
        bad = http.post(
            "/clearing/prepayment/topups", data={**base, "csrf_token": token, "amount": "1.234"}
        )
        assert bad.status_code == 422 and "补足金额应为大于 0 的元金额" in bad.text
        amount = fmt.yuan(warning.topup_fen)
        ok = http.post(
            "/clearing/prepayment/topups", data={**base, "csrf_token": token, "amount": amount}
        )
        assert ok.status_code == 303, ok.text[-2000:]
        assert "已发起补足申请" in http.get(ok.headers["location"]).text
        again = http.post(
            "/clearing/prepayment/topups", data={**base, "csrf_token": token, "amount": amount}
        )
        assert again.status_code == 422 and "已有待到账的补足申请" in again.text
    with unit_of_work(console.engine) as session:
        topup = session.execute(select(PrepayTopupRow)).scalar_one()
        assert (topup.state, topup.amount_fen) == ("requested", warning.topup_fen)
        assert topup.due_on == warning.topup_due
    paid_url = f"/clearing/prepayment/topups/{topup.topup_id}/paid"
    with console.login("insured_place-440100") as http:  # neither payer nor payee: 404
        token = csrf_of(http.get("/clearing/prepayment").text)
        r = http.post(paid_url, data={"csrf_token": token, "voucher": "BANK-0001"})
        assert r.status_code == 404
    with console.login("province-440000") as http:  # the payee may not record the payment
        token = csrf_of(http.get("/clearing/prepayment").text)
        r = http.post(paid_url, data={"csrf_token": token, "voucher": "BANK-0001"})
        assert r.status_code == 403
    with console.login("province-110000") as http:
        token = csrf_of(http.get("/clearing/prepayment").text)
        empty = http.post(paid_url, data={"csrf_token": token, "voucher": ""})
        assert empty.status_code == 422 and 'id="voucher-error"' in empty.text
        assert "请填写转账凭证号" in empty.text
        done = http.post(paid_url, data={"csrf_token": token, "voucher": "BANK-2026-0001"})
        assert done.status_code == 303, done.text[-2000:]
        page = http.get(done.headers["location"]).text
        assert "已登记到账" in page and "已到账" in page and "BANK-2026-0001" in page
        twice = http.post(paid_url, data={"csrf_token": token, "voucher": "BANK-2026-0002"})
        assert twice.status_code == 422 and "该补足已登记到账" in twice.text
        exported = http.get("/clearing/prepayment/topups.csv").content.decode("utf-8-sig")
        rows = exported.splitlines()
        assert rows[0].startswith("编号,层级,付款方,收款方,预警月份,金额（元）")
        assert len(rows) == 2 and "已到账" in rows[1] and rows[1].endswith(",BANK-2026-0001")
        assert fmt.yuan_plain(warning.topup_fen) in rows[1]
    with unit_of_work(console.engine) as session:
        quota = session.execute(
            select(PrepayQuotaRow.amount_fen).where(
                PrepayQuotaRow.payer == PAIR["payer"], PrepayQuotaRow.payee == PAIR["payee"]
            )
        ).scalar_one()
        assert quota == 1 + warning.topup_fen  # 1 fen + the top-up
        actions = set(
            session.execute(
                select(OperationLogRow.action).where(
                    OperationLogRow.object_type == "prepay_topup",
                    OperationLogRow.outcome == "done",
                )
            ).scalars()
        )
        assert actions == {"request", "pay"}


def test_hospital_payments_due_in_scope_with_exports(cleared: tuple[Console, str, str]) -> None:
    console, run_id, _month = cleared
    with unit_of_work(console.engine) as session:
        payment = session.execute(
            select(RunPaymentRow).where(RunPaymentRow.run_id == run_id)
        ).scalar_one()
        session.expunge(payment)
    with console.login("treatment_place-440100") as http:
        page = http.get("/clearing/payments", params={"run_id": run_id}).text
        assert payment.fixmedins_code in page and fmt.yuan(payment.amount_fen) in page
        assert payment.due_on.isoformat() in page and "共 1 家次" in page
        rows = http.get("/clearing/payments.csv", params={"run_id": run_id}).content
        lines = rows.decode("utf-8-sig").splitlines()
        assert lines[0].startswith("清算批次,定点机构编码,定点机构,就医地,应付金额（元）")
        assert len(lines) == 2 and fmt.yuan_plain(payment.amount_fen) in lines[1]
        past = http.get("/clearing/payments", params={"run_id": run_id, "due": "past"}).text
        assert "共 0 家次" in past  # paid by a day after today
        bad = http.get("/clearing/payments", params={"due": "soon"})
        assert bad.status_code == 400 and "未知的回款状态" in bad.text
    with console.login("insured_place-110100") as http:  # not the place of treatment
        page = http.get("/clearing/payments", params={"run_id": run_id}).text
        assert "共 0 家次" in page


def test_a_pair_that_cleared_money_without_a_quota_is_listed_red(
    cleared: tuple[Console, str, str],
) -> None:
    """广东 → 北京 has no quota: the assessment is red (money moved, nothing advanced);
    the list shows it with 未核定 instead of hiding it. Unassessed months list the quotas."""
    console, _run, month = cleared
    with unit_of_work(console.engine) as session:
        session.add(
            PrepayWarningRow(
                level="national", payer="440000", payee="110000", month=month, cleared_fen=500,
                quota_fen=0, rate=None, warning="red", topup_fen=0, topup_due=None,
                updated_at=china_now(),
            )
        )  # fmt: skip
    with console.login("province-440000") as http:
        params = {"year": month[:4], "month": month, "warning": "red"}
        page = http.get("/clearing/prepayment", params=params).text
        assert "未核定" in page and "440000 广东省" in page
        quiet = http.get(
            "/clearing/prepayment", params={"year": month[:4], "month": f"{month[:4]}-01"}
        ).text
        assert "110000 北京市" in quiet and "正常" in quiet  # the quota, no usage yet
        wrong = http.get("/clearing/prepayment", params={"year": "2025", "month": month})
        assert "月份应在所选年度内" in wrong.text


def test_a_dispute_of_another_regions_item_is_refused_and_logged(
    cleared: tuple[Console, str, str],
) -> None:
    """广州's place of insurance disputes a 北京 person's item: refused next to the field
    and logged as an out-of-scope attempt; an unknown id is only a field error."""
    console, _run, _month = cleared
    detail = "不在本人经办范围内的对账明细"
    with console.login("insured_place-440100") as http:
        token = csrf_of(http.get("/clearing").text)
        before = refusals(console, detail)
        r = http.post(
            "/clearing/dispute",
            data={"csrf_token": token, "setl_id": console.setl_id, "reason": "金额不符"},
        )
        assert r.status_code == 422 and "该结算不在本地区的对账明细中" in r.text
        assert refusals(console, detail) == before + 1
        r = http.post(
            "/clearing/dispute",
            data={"csrf_token": token, "setl_id": "NO-SUCH-SETL", "reason": "金额不符"},
        )
        assert r.status_code == 422 and refusals(console, detail) == before + 1
