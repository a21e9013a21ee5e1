"""The settlement path's audit service (services/audit_check.py): the bill it builds from
the rows already loaded, the stage's rules, and the texts an operator reads."""

from __future__ import annotations

from datetime import date, datetime

from medroam.domain.audit.model import Scenario, Stage
from medroam.services import audit_check
from medroam.store.tables import FeeLineRow, VisitRow

STATIN = "XC10AAE041A001010190001"
DAY = date(2026, 3, 10)
MAN = audit_check.PersonFacts("P1", "1", 46, "310", "510100")


def visit(kind: str = "outpatient", end: datetime | None = None) -> VisitRow:
    return VisitRow(
        mdtrt_id="MD1",
        psn_no="P1",
        fixmedins_code="H44030500001",
        kind=kind,
        med_type="11" if kind == "outpatient" else "21",
        begin_time=datetime(2026, 3, 6, 9, 30),
        end_time=end,
        institution_level="3",
        main_diag_code="N80.0",
        dise_codg="K29.700",
    )


def line(sn: str, code: str, qty: int, price_micro: int, day: int = 6) -> FeeLineRow:
    return FeeLineRow(
        feedetl_sn=sn,
        med_list_codg=code,
        quantity=qty * 10_000,
        unit_price=price_micro,
        amount=qty * price_micro // 10_000,
        fee_ocur_time=datetime(2026, 3, day, 10, 0),
        dise_codg="N80.0",
    )


def test_bill_of_visit_reads_the_rows() -> None:
    lines = [line("F1", STATIN, 35, 410_000), line("F2", "001101000010001", 1, 10_000_000)]
    bill = audit_check.bill_of_visit(
        visit(), lines, MAN, treatment_region="440305", med_type="11", until=DAY
    )
    v = bill.visit
    assert (v.visit_id, v.psn_no, v.gender, v.age, v.insutype) == ("MD1", "P1", "1", 46, "310")
    assert v.scenario is Scenario.OUTPATIENT
    assert v.cross_region and v.institution_level == "3"
    assert v.begin == v.end == date(2026, 3, 6)  # an outpatient visit is one day
    assert v.diagnoses == ("N80.0", "K29.700")  # main first, duplicates once
    assert v.total == 1435 + 1000
    assert [(li.line_id, li.quantity, li.amount) for li in bill.lines] == [
        ("F1", 350_000, 1435),
        ("F2", 10_000, 1000),
    ]


def test_a_stay_without_discharge_ends_on_the_settlement_day() -> None:
    bill = audit_check.bill_of_visit(
        visit("inpatient"), [], MAN, treatment_region="440305", med_type="21", until=DAY
    )
    assert bill.visit.scenario is Scenario.INPATIENT
    assert (bill.visit.begin, bill.visit.end) == (date(2026, 3, 6), DAY)
    assert audit_check.scenario_of("outpatient", "41") is Scenario.PHARMACY


def test_findings_texts_and_ids() -> None:
    """A man with N80.0 (refuse) and 35 statins against 28 (warn): two findings, in
    rule-code order; the refusal names the refusing rule only."""
    lines = [line("F1", STATIN, 35, 410_000)]
    bill = audit_check.bill_of_visit(
        visit(), lines, MAN, treatment_region="440305", med_type="11", until=DAY
    )
    found = audit_check.audit(audit_check.rule_book(), bill, Stage.DURING, DAY)
    assert [f.rule.code for f in found] == ["GZ10000101008000", "GZ10000801003001"]
    refusing = audit_check.refusals(found)
    assert [f.rule.code for f in refusing] == ["GZ10000801003001"]
    assert audit_check.refusal_text(refusing) == (
        "智能审核拒绝结算：GZ10000801003001 诊断与性别不符（女性限定诊断）："
        "男性患者出现限女性的诊断：N80.0（涉及金额 0.00 元）"
    )
    assert audit_check.warning_text(found) == (
        "智能审核提醒：GZ10000101008000 限最大开药量：XC10AAE041A001010190001 本次就诊数量 35 "
        "超过限定 28（涉及金额 2.87 元）；【结算时将拒绝】GZ10000801003001 诊断与性别不符"
        "（女性限定诊断）：男性患者出现限女性的诊断：N80.0（涉及金额 0.00 元）"
    )
    more = audit_check.refusal_text([refusing[0], refusing[0]])
    assert more.endswith("；另有 1 条拒绝结算的审核结果")
    ids = [audit_check.jr_id(f) for f in found]
    assert ids == [audit_check.jr_id(f) for f in found]  # deterministic
    assert ids[0].startswith("GZ10000101008000-") and len(ids[0].split("-")[1]) == 12
    assert len(set(ids)) == 2


def test_before_stage_leaves_out_during_only_rules() -> None:
    """超限定单价 (GZ10000201001000) is 事中/事后 only."""
    lines = [line("F1", "001102000010000", 1, 30_000_000)]
    bill = audit_check.bill_of_visit(
        visit(), lines, audit_check.PersonFacts("P1", "2", 46, "310", "510100"),
        treatment_region="440305", med_type="11", until=DAY,
    )  # fmt: skip
    book = audit_check.rule_book()
    assert [f.rule.code for f in audit_check.audit(book, bill, Stage.DURING, DAY)] == [
        "GZ10000201001000"
    ]
    assert audit_check.audit(book, bill, Stage.BEFORE, DAY) == ()
