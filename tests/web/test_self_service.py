"""个人服务 (/self/): sign-in with ID number and one-time code, filing and cancelling,
institutions by region and service, own settlements with the explanation, CSRF."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from medroam.services.officers import demo_code
from tests.web.conftest import Console, csrf_of

pytestmark = pytest.mark.db


@contextmanager
def self_login(console: Console, certno: str, code: str | None = None) -> Iterator[httpx.Client]:
    with console.browser() as http:
        yield _signed_in(console, http, certno, code)


def _signed_in(console: Console, http: httpx.Client, certno: str, code: str | None) -> httpx.Client:
    token = csrf_of(http.get("/self/").text)
    sent = http.post("/self/code", data={"csrf_token": token, "certno": certno})
    assert sent.status_code == 200 and "验证码" in sent.text
    token = csrf_of(sent.text)
    r = http.post(
        "/self/login",
        data={"csrf_token": token, "certno": certno, "code": code or demo_code_of(console, certno)},
    )
    assert r.status_code == 303, r.text
    return http


def demo_code_of(console: Console, certno: str) -> str:
    codes = console.fixtures["self_service"]["codes"]
    return str(codes[certno])


def test_the_fixtures_list_the_synthetic_codes(console: Console) -> None:
    codes = console.fixtures["self_service"]["codes"]
    person = console.person
    assert codes[person["certno"]] == demo_code(person["psn_no"])
    assert re.fullmatch(r"[0-9]{6}", codes[person["certno"]])
    assert "SYNTHETIC" in console.fixtures["self_service"]["note"]


def test_sign_in_refuses_a_wrong_code_and_a_bad_id_number(console: Console) -> None:
    with console.browser() as http:
        token = csrf_of(http.get("/self/").text)
        bad = http.post("/self/code", data={"csrf_token": token, "certno": "12345"})
        assert bad.status_code == 422 and "请输入 18 位居民身份证号码" in bad.text
        certno = console.person["certno"]
        sent = http.post("/self/code", data={"csrf_token": csrf_of(bad.text), "certno": certno})
        wrong = "000000" if demo_code_of(console, certno) != "000000" else "111111"
        r = http.post(
            "/self/login", data={"csrf_token": csrf_of(sent.text), "certno": certno, "code": wrong}
        )
        assert r.status_code == 422 and "验证码错误或已过期" in r.text
        forged = http.post("/self/code", data={"csrf_token": "forged", "certno": certno})
        assert forged.status_code == 403


def test_insured_sees_own_settlement_with_explanation(console: Console) -> None:
    with self_login(console, console.person["certno"]) as http:
        home = http.get("/self/")
        assert "我的参保" in home.text and "310 职工基本医疗保险" in home.text
        mine = http.get("/self/settlements")
        assert console.setl_id in mine.text and "费用 25.00 元" in mine.text
        page = http.get(f"/self/settlements/{console.setl_id}")
        assert "与医疗费用总额一致" in page.text
    other = next(
        p
        for p in console.fixtures["persons"]
        if p["insuplc_admdvs"] == "440100" and p["psn_no"] != console.person["psn_no"]
    )
    with self_login(console, other["certno"]) as http:
        assert http.get(f"/self/settlements/{console.setl_id}").status_code == 404


def test_insured_files_and_cancels(console: Console) -> None:
    person = next(
        p
        for p in console.fixtures["persons"]
        if p["insuplc_admdvs"] == "440100" and p["filing"] is None
    )
    with self_login(console, person["certno"]) as http:
        token = csrf_of(http.get("/self/").text)
        bad = http.post(
            "/self/filings",
            data={"csrf_token": token, "filing_type": "TMP_OTHER", "destination": "440100"},
        )
        assert bad.status_code == 422
        assert "就医地不能与参保地相同" in bad.text and "或阅读并勾选个人承诺书" in bad.text
        ok = http.post(
            "/self/filings",
            data={
                "csrf_token": token,
                "filing_type": "TMP_OTHER",
                "destination": "110100",
                "commitment": "1",
            },
        )
        assert ok.status_code == 303, ok.text
        home = http.get(ok.headers["location"]).text
        assert "备案成功，即时生效" in home and "当前有效备案" in home and "110100 北京市" in home
        filing_id = re.search(r"/self/filings/([A-Z0-9]+)/cancel", home)
        assert filing_id
        done = http.post(f"/self/filings/{filing_id.group(1)}/cancel", data={"csrf_token": token})
        assert done.status_code == 303
        assert "备案已取消" in http.get(done.headers["location"]).text


def test_networked_institutions_by_region_and_service(console: Console) -> None:
    with self_login(console, console.person["certno"]) as http:
        r = http.get("/self/institutions", params={"region": "440100", "service": "inpatient"})
        assert "广州市测试第一人民医院（模拟）" in r.text and "跨省联网" in r.text
        bad = http.get("/self/institutions", params={"region": "99"})
        assert "请输入 6 位地区代码" in bad.text
        assert http.get("/self/cash").status_code == 200


def test_self_service_checks_dates_services_and_suggests_places(console: Console) -> None:
    """A malformed start date and an unknown service are refused next to their fields;
    the destination and region fields suggest places by name (广州市 → 440100)."""
    person = [
        p
        for p in console.fixtures["persons"]
        if p["insuplc_admdvs"] == "440100" and p["filing"] is None
    ][-1]
    with self_login(console, person["certno"]) as http:
        home = http.get("/self/")
        assert '<option value="440100">广州市</option>' in home.text
        token = csrf_of(home.text)
        bad = http.post(
            "/self/filings",
            data={
                "csrf_token": token,
                "filing_type": "TMP_OTHER",
                "destination": "110100",
                "valid_from": "2026-02-30",
                "commitment": "1",
            },
        )
        assert bad.status_code == 422 and 'id="valid_from-error"' in bad.text
        assert "开始日期格式应为 YYYY-MM-DD" in bad.text
        assert "当前有效备案" not in bad.text  # nothing was filed
        r = http.get("/self/institutions", params={"region": "440100", "service": "dental"})
        assert 'id="service-error"' in r.text and "请选择就医服务类型" in r.text
        assert 'id="institutions"' not in r.text


def test_a_filing_with_documents_instead_of_the_commitment(console: Console) -> None:
    """The filing form takes documents (证明材料) instead of the personal commitment: a
    text file named .pdf is refused next to the field and nothing is written; a real PDF
    (recognised by its %PDF- header) files without the commitment, the filing is not
    commitment-only and the document is stored with its size and SHA-256."""
    import hashlib

    from sqlalchemy import select

    from medroam.services.uow import unit_of_work
    from medroam.store.filing_document_tables import FilingDocumentRow
    from medroam.store.tables import FilingRow

    person = next(
        p
        for p in console.fixtures["persons"]
        if p["insuplc_admdvs"] == "440100"
        and p["filing"] is None
        and p["psn_no"] != console.person["psn_no"]
    )
    pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    fields = {"filing_type": "TMP_OTHER", "destination": "310100"}
    with self_login(console, person["certno"]) as http:
        token = csrf_of(http.get("/self/").text)
        before = _count(console, FilingRow)
        fake = http.post(
            "/self/filings",
            data={"csrf_token": token, **fields},
            files={"documents": ("证明.pdf", b"just text", "application/pdf")},
        )
        assert fake.status_code == 422
        assert 'id="documents-error">证明.pdf 不是 PDF、JPG 或 PNG 文件' in fake.text
        assert _count(console, FilingRow) == before
        ok = http.post(
            "/self/filings",
            data={"csrf_token": token, **fields},
            files={"documents": ("在职证明.pdf", pdf, "application/pdf")},
        )
        assert ok.status_code == 303, ok.text
    with unit_of_work(console.engine) as session:
        filing = session.execute(
            select(FilingRow).where(
                FilingRow.psn_no == person["psn_no"], FilingRow.destination == "310100"
            )
        ).scalar_one()
        doc = session.execute(
            select(FilingDocumentRow).where(FilingDocumentRow.filing_id == filing.filing_id)
        ).scalar_one()
        assert filing.commitment_only is False
        assert (doc.filename, doc.content_type, doc.size) == (
            "在职证明.pdf",
            "application/pdf",
            len(pdf),
        )
        assert doc.sha256 == hashlib.sha256(pdf).hexdigest()


def _count(console: Console, model: type) -> int:
    from sqlalchemy import func, select

    from medroam.services.uow import unit_of_work

    with unit_of_work(console.engine) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())
