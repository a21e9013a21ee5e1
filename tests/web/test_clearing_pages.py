"""清算与预付金 pages: propose (就医地), confirm (参保地), run and verify (国家级), the
printable statement with CSV and XLSX downloads; refusals for the wrong role."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from tests.web.conftest import Console, csrf_of

pytestmark = pytest.mark.db


def _next_month_offset(console: Console) -> tuple[str, timedelta]:
    """The current month (China time) and the clock offset that puts "now" on the 3rd of
    the next month, when the current month is closed."""
    now = console.clock()
    period = f"{now:%Y-%m}"
    first_next = (now.replace(day=28) + timedelta(days=4)).replace(day=3)
    return period, first_next - now


def test_clearing_cycle_from_proposal_to_printed_statement(console: Console) -> None:
    period, offset = _next_month_offset(console)
    with console.login("treatment_place-440100") as http:
        page = http.get("/clearing")
        token = csrf_of(page.text)
        early = http.post("/clearing/propose", data={"csrf_token": token, "period": period})
        assert early.status_code == 422 and "尚未结束" in early.text
        bad = http.post("/clearing/propose", data={"csrf_token": token, "period": "2026-13"})
        assert "清算期格式应为 YYYY-MM" in bad.text
        run = http.post("/clearing/run", data={"csrf_token": token, "period": period})
        assert run.status_code == 403  # only the nation runs a clearing
    console.clock.offset = offset  # the month is closed now (sign in again: sessions idle out)
    try:
        _cycle(console, period)
    finally:
        console.clock.offset = timedelta(0)


def _cycle(console: Console, period: str) -> None:
    with console.login("treatment_place-440100") as http:
        token = csrf_of(http.get("/clearing").text)
        done = http.post("/clearing/propose", data={"csrf_token": token, "period": period})
        assert done.status_code == 303, done.text
        assert "已上报 1 笔" in http.get(done.headers["location"]).text
    with console.login("insured_place-110100") as http:
        token = csrf_of(http.get("/clearing").text)
        confirmed = http.post("/clearing/confirm", data={"csrf_token": token})
        assert confirmed.status_code == 303
        assert "已确认" in http.get(confirmed.headers["location"]).text
    with console.login("nation") as http:
        token = csrf_of(http.get("/clearing").text)
        ran = http.post("/clearing/run", data={"csrf_token": token, "period": period})
        assert ran.status_code == 303, ran.text
        notice = http.get(ran.headers["location"]).text
        assert "核对一致" in notice
        run_id = f"monthly-{period}-all"
        assert run_id in notice or "清算批次" in notice
        runs = http.get("/clearing").text
        run_ids = [part.split("/")[0] for part in runs.split("/clearing/runs/")[1:]]
        assert run_ids, "no run listed"
        statement = http.get(f"/clearing/runs/{run_ids[0]}/statements/000000")
        assert statement.status_code == 200
        assert "经办人（签字）" in statement.text and "单位（盖章）" in statement.text
        assert "_fen" not in statement.text.split("<main>")[1]
        csv_rows = (
            http.get(f"/clearing/runs/{run_ids[0]}/statements/000000", params={"format": "csv"})
            .content.decode("utf-8-sig")
            .splitlines()
        )
        assert csv_rows[0] == "部分,项目,数值"
        xlsx = http.get(f"/clearing/runs/{run_ids[0]}/statements/000000", params={"format": "xlsx"})
        sheet = load_workbook(io.BytesIO(xlsx.content)).active
        assert sheet is not None and sheet["A1"].value == "部分"
        runs_csv = http.get("/clearing/runs.csv").content.decode("utf-8-sig").splitlines()
        assert runs_csv[0].startswith("清算批次,周期,清算期") and run_ids[0] in "\n".join(runs_csv)
        disputes = http.get("/clearing/disputes.xlsx")
        assert disputes.status_code == 200 and disputes.content[:2] == b"PK"
        assert http.get("/clearing/runs.txt").status_code == 404
    with console.login("insured_place-440100") as http:  # not its statement
        r = http.get(f"/clearing/runs/{run_ids[0]}/statements/000000")
        assert r.status_code == 404
        own = http.get(f"/clearing/runs/{run_ids[0]}/statements/440100")
        assert own.status_code == 200 and "440100 广州市" in own.text
