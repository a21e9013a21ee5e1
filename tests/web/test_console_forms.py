"""Every console form, sent empty (with a valid CSRF token), is refused by the server with
HTTP 422 and each error in Chinese inside the label of its own field; nothing is written
(the operations log gains no 'done' entry)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from medroam.services.uow import unit_of_work
from medroam.store.console_tables import OperationLogRow
from medroam.store.tables import FilingRow
from tests.web.conftest import Console, csrf_of

pytestmark = pytest.mark.db

FIELD_LABEL = re.compile(r'<label class="field-error">(.*?)</label>', re.S)
NAME = re.compile(r'name="([a-z_]+)"')
ERROR = re.compile(r'<span class="error"[^>]*>([^<]+)</span>')
CJK = re.compile(r"[\u4e00-\u9fff]")


def errors_by_field(html: str) -> dict[str, str]:
    """{field name: its error} for every label marked as an error."""
    found = {}
    for block in FIELD_LABEL.findall(html):
        name, error = NAME.search(block), ERROR.search(block)
        if name and error:
            found[name.group(1)] = error.group(1)
    return found


def _done(console: Console) -> int:
    with unit_of_work(console.engine) as session:
        return int(
            session.execute(
                select(func.count())
                .select_from(OperationLogRow)
                .where(OperationLogRow.outcome == "done", OperationLogRow.action != "login")
            ).scalar_one()
        )


def _active_filing(console: Console) -> str:
    with unit_of_work(console.engine) as session:
        return str(
            session.execute(
                select(FilingRow.filing_id)
                .where(FilingRow.insured_region == "110100", FilingRow.status == "active")
                .order_by(FilingRow.filing_id)
                .limit(1)
            ).scalar_one()
        )


@pytest.mark.parametrize(
    ("who", "page", "action", "fields"),
    [
        (
            "insured_place-110100",
            "/persons/{psn_no}",
            "/persons/{psn_no}/filings",
            {"filing_type", "destination", "valid_from"},
        ),
        ("insured_place-110100", "/persons/{psn_no}", "/filings/{filing}/change", {"reason"}),
        ("treatment_place-440100", "/clearing", "/clearing/propose", {"period"}),
        ("insured_place-110100", "/clearing", "/clearing/dispute", {"setl_id", "reason"}),
        ("nation", "/clearing", "/clearing/run", {"period"}),
    ],
)
def test_an_empty_form_is_refused_next_to_each_field_in_chinese(
    console: Console, who: str, page: str, action: str, fields: set[str]
) -> None:
    names = {"psn_no": console.person["psn_no"], "filing": _active_filing(console)}
    with console.login(who) as http:
        token = csrf_of(http.get(page.format(**names)).text)
        before = _done(console)
        r = http.post(action.format(**names), data={"csrf_token": token})
        assert r.status_code == 422, r.text[-1500:]
        found = errors_by_field(r.text)
        assert fields <= found.keys(), found
        for field in fields:
            assert CJK.search(found[field]), found[field]
        assert _done(console) == before  # nothing written
