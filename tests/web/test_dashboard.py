"""运行监测 over HTTP on its own seeded console: every chart has its table and its CSV,
the scope picker narrows within the officer's scope and refuses outside it, refusals
group by reason, and clearing speed and advance days come from a real clearing run.
Demo data are SYNTHETIC."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from medroam.batch.lines import epoch_day
from medroam.client import HisClient
from medroam.domain.clearing.periods import Cycle, parse_period
from medroam.gateway.settings import china_now
from medroam.services import clearing
from medroam.services.uow import unit_of_work
from medroam.store.tables import RunPaymentRow, SettlementRow
from medroam.web.dashboard import CHART_SPECS
from tests.web.conftest import Console, start_console

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Console, dict[str, str]]]:
    """A console with one settlement (北京 person, 广州 hospital), one refused 2207 and a
    monthly clearing run of the settlement's month."""
    path: Path = tmp_path_factory.mktemp("dashboard") / "dashboard.db"
    for console in start_console(f"sqlite:///{path}"):
        hospital = next(
            i
            for i in console.fixtures["institutions"]
            if i["region"] == "440100" and i["level"] == "3"
        )
        tif = hospital["tif"]
        his = HisClient(
            console.base_url, hospital["fixmedins_code"], hospital["fixmedins_name"],
            hospital["region"], scheme="tif", key_id=tif["paasid"], secret=tif["token"],
        )  # fmt: skip
        refused = his.call(
            "2207",
            {"data": {"psn_no": console.person["psn_no"], "mdtrt_id": "MD-NO-SUCH-VISIT-0001",
                      "mdtrt_cert_type": "02", "mdtrt_cert_no": console.person["certno"],
                      "med_type": "11", "medfee_sumamt": "1.00", "psn_setlway": "01",
                      "insutype": console.person["insutype"], "acct_used_flag": "0"}},
            insuplc_admdvs="110100",
        )  # fmt: skip
        his.close()
        assert refused["infcode"] == -1
        now = china_now()
        period = parse_period(Cycle.MONTHLY, f"{now:%Y-%m}")
        after = now + timedelta(days=(period.end - now.date()).days + 3)
        proposal = clearing.propose(console.engine, period, now=after)
        clearing.confirm(console.engine, now=after, batch_id=proposal.batch_id)
        run = clearing.clear(
            console.engine, Cycle.MONTHLY, period.label, as_of=after.date(), now=after
        )
        yield (
            console,
            {
                "run_id": run.run_id,
                "applied_on": run.applied_on.isoformat(),
                "due_on": run.due_on.isoformat(),
                "end": (run.due_on + timedelta(days=1)).isoformat(),
            },
        )


def _range(info: dict[str, str]) -> dict[str, str]:
    return {"start": f"{china_now().date() - timedelta(days=30)}", "end": info["end"]}


def test_every_chart_has_its_table_and_csv(board: tuple[Console, dict[str, str]]) -> None:
    console, info = board
    with console.login("nation") as http:
        page = http.get("/", params=_range(info)).text
        for key, (title, header) in CHART_SPECS.items():
            assert f'id="table-{key}"' in page and title in page, key
            csv_text = http.get(f"/dashboard/{key}.csv", params=_range(info)).content
            assert csv_text.decode("utf-8-sig").splitlines()[0] == ",".join(header), key
        kinds = http.get("/dashboard/kind.csv", params=_range(info)).content.decode("utf-8-sig")
        assert "普通门诊,1,25.00" in kinds  # the one settlement, 25.00 yuan
        institution = http.get("/dashboard/institution.csv", params=_range(info)).content
        assert ",1,25.00" in institution.decode("utf-8-sig")


def test_refusals_group_by_reason(board: tuple[Console, dict[str, str]]) -> None:
    """The refused 2207 (no such visit) is counted under its reason, without its ids."""
    console, info = board
    with console.login("nation") as http:
        rows = http.get("/dashboard/refusal.csv", params=_range(info)).content.decode("utf-8-sig")
    lines = rows.splitlines()[1:]
    assert any(line.endswith(",1,2207") and "MD-NO-SUCH" not in line for line in lines), lines


def test_clearing_speed_and_advance_days_from_the_run(
    board: tuple[Console, dict[str, str]],
) -> None:
    """One settlement of day D cleared by a run whose hospitals apply on A and are paid
    by P: the speed is A − D and P − D days; the advance days are the run's stored
    amount-weighted figure for the one hospital."""
    console, info = board
    with unit_of_work(console.engine) as session:
        setl = session.get(SettlementRow, console.setl_id)
        assert setl is not None
        day = setl.setl_time.astimezone(china_now().tzinfo).date()
        stored = session.execute(
            select(RunPaymentRow.advance_days_x100).where(RunPaymentRow.run_id == info["run_id"])
        ).scalar_one()
    applied = date.fromisoformat(info["applied_on"])
    due = date.fromisoformat(info["due_on"])
    with console.login("nation") as http:
        speed = http.get("/dashboard/clearing_speed.csv", params=_range(info))
        advance = http.get("/dashboard/advance.csv", params=_range(info))
    speed_rows = speed.content.decode("utf-8-sig").splitlines()
    expected_apply = epoch_day(applied) - epoch_day(day)
    expected_pay = epoch_day(due) - epoch_day(day)
    assert speed_rows[1] == f"{info['run_id']},{expected_apply:.1f},{expected_pay:.1f},1"
    advance_rows = advance.content.decode("utf-8-sig").splitlines()
    shown = "—" if stored is None else f"{stored / 100:.2f}"
    assert advance_rows[1].startswith(f"{info['run_id']},{shown},1,"), advance_rows


def test_the_scope_picker_narrows_and_refuses(board: tuple[Console, dict[str, str]]) -> None:
    console, info = board
    with console.login("nation") as http:
        guangdong = http.get("/dashboard/kind.csv", params={**_range(info), "scope": "440000"})
        assert "普通门诊,1" in guangdong.content.decode("utf-8-sig")
        shanghai = http.get("/dashboard/kind.csv", params={**_range(info), "scope": "310000"})
        assert shanghai.content.decode("utf-8-sig").splitlines()[1:] == []
        bad = http.get("/", params={"scope": "abc"})
        assert 'id="scope-error">范围应为 6 位行政区划代码' in bad.text
    with console.login("insured_place-110100") as http:
        outside = http.get("/", params={"scope": "440100"})
        assert 'id="scope-error">所选范围不在您的经办范围内' in outside.text
