"""Settlement services against real SQLite and PostgreSQL: outpatient and inpatient
flows, cross-region classes, filings, refusals, exact cancellation, the ledger."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, update

from medroam.domain import calculator
from medroam.domain.codes import BenefitStatus
from medroam.domain.settlement import AccountState
from medroam.services import fees, persons, settlement, visits
from medroam.services import mutual_aid as mutual_aid_service
from medroam.services.errors import InvalidInputError, NotFoundError, RefusedError
from medroam.services.ports import ChronicQualification
from medroam.services.uow import unit_of_work
from medroam.store import refdata_cache
from medroam.store.insured_place import (
    SqlInsuredPlace,
    add_chronic_qualification,
    set_insurance_status,
)
from medroam.store.repositories import LedgerRepository
from medroam.store.tables import FeeLineRow, PolicyRow, SettlementRow, VisitRow
from tests.integration.test_settlement_service_support import (
    BALANCE,
    BEIJING,
    EMPLOYEE_BJ,
    EMPLOYEE_GZ,
    EMPLOYEE_HHHT,
    H_BJ,
    H_BJ2,
    H_SZ,
    MUTUAL_AID,
    NOW,
    RESIDENT_KM,
    TEMP_HHHT,
    account,
    accumulators,
    admit,
    assert_ledger_balanced,
    catalogue,
    counts,
    discharge,
    id_number,
    line,
    outpatient,
    pick,
    register,
    request,
    typical_lines,
)

pytestmark = pytest.mark.db


# --- outpatient ------------------------------------------------------------------------


def test_cross_province_outpatient_flow(world: Engine) -> None:
    psn = EMPLOYEE_HHHT
    with unit_of_work(world) as s:
        mdtrt_id = register(s, psn)
        visits.upload_visit_info(
            s,
            H_BJ,
            NOW,
            visits.VisitInfo(
                mdtrt_id=mdtrt_id,
                psn_no=psn,
                med_type="11",
                begin=NOW.replace(tzinfo=None),
                diagnoses=(visits.DiagnosisInput("1", 1, "J06.900", "上呼吸道感染"),),
            ),
        )
        lines = typical_lines(s, mdtrt_id, psn)
        results = fees.upload_fees(s, H_BJ, NOW, lines, inpatient=False, msgid="M-FEE")
        cat = catalogue(s)
        # the place of treatment's catalogue classifies every line
        for given, r in zip(lines, results, strict=True):
            item = cat.get(given.med_list_codg)
            assert r.line_id == given.feedetl_sn
            assert r.amount == r.fulamt_ownpay + r.overlmt + r.preselfpay + r.inscp
            if item is None:
                assert r.fulamt_ownpay == r.amount and r.reason == "not_in_catalogue"
            else:
                assert r.level == item.level
        medfee = sum(r.amount for r in results)
        before = counts(s)

    with unit_of_work(world) as s:
        pre = settlement.pre_settle(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            request(mdtrt_id, psn, medfee, med_type="11"),
            kind="outpatient",
        )
        assert pre.setl_id is None and pre.settlement.medfee == medfee
        assert pre.cross_region.value == "inter_province" and pre.pay_loc == "4"
        assert pre.clr_optins == BEIJING  # the place of treatment
        assert counts(s) == before  # a pre-settlement writes nothing

    with unit_of_work(world) as s:
        acc0 = accumulators(s, psn)
        view = settlement.settle(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            request(
                mdtrt_id,
                psn,
                medfee,
                med_type="11",
                fulamt_ownpay=pre.settlement.fulamt_ownpay,
                inscp=pre.settlement.inscp,
            ),
            kind="outpatient",
            msgid="M-SETL",
        )
        s_ = view.settlement
        assert view.setl_id and s_ == replace(pre.settlement)  # same as the preview
        assert s_.status is BenefitStatus.LONG_TERM
        assert not s_.identities()
        assert s_.account > 0 and s_.balance_after == BALANCE - (s_.account - s_.mutual_aid)
        assert view.medins_setl_id == "M-SETL"

    with unit_of_work(world) as s:
        acc1 = accumulators(s, psn)
        for key, delta in s_.accumulator_delta.items():
            assert acc1.get(key, 0) == acc0.get(key, 0) + delta
        assert account(s, psn) == (s_.balance_after, MUTUAL_AID - s_.mutual_aid)
        row = s.get(SettlementRow, view.setl_id)
        assert row is not None and row.status == "valid" and row.pay_loc == "4"
        settled = s.execute(select(FeeLineRow).where(FeeLineRow.mdtrt_id == mdtrt_id)).scalars()
        assert {ln.status for ln in settled} == {"settled"}
        legs = LedgerRepository(s).legs(view.setl_id)
        accounts = {a for _, a, _ in legs}
        assert "receivable:region:150100>110100" in accounts
        assert "payable:region:150100>110100" in accounts
        assert f"payable:hospital:{H_BJ.code}" in accounts
        assert f"account:{psn}" in accounts

    with unit_of_work(world) as s:
        rev = settlement.cancel_settlement(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW + timedelta(minutes=5),
            mdtrt_id=mdtrt_id,
            setl_id=view.setl_id,
            psn_no=psn,
            kind="outpatient",
            msgid="M-CANCEL",
        )
        r = rev.settlement
        assert rev.reverses_setl_id == view.setl_id and rev.setl_id != view.setl_id
        for name in ("medfee", "fund_total", "pool", "account", "cash", "personal", "inscp"):
            assert getattr(r, name) == -getattr(s_, name), name
        assert [d.paid for d in r.details] == [-d.paid for d in s_.details]

    with unit_of_work(world) as s:
        assert accumulators(s, psn) == acc0
        assert account(s, psn) == (BALANCE, MUTUAL_AID)
        original = s.get(SettlementRow, view.setl_id)
        assert original is not None and original.status == "cancelled"
        lines_now = s.execute(
            select(FeeLineRow.status).where(FeeLineRow.mdtrt_id == mdtrt_id)
        ).scalars()
        assert set(lines_now) == {"uploaded"}  # freed
        assert assert_ledger_balanced(s) == 2
        balances = LedgerRepository(s).balances()
        assert all(v == 0 for v in balances.values()), balances


def test_settlement_equals_the_pure_calculator(world: Engine) -> None:
    """The service feeds the calculator exactly the place of insurance's data."""
    psn = EMPLOYEE_HHHT
    mdtrt_id, medfee = outpatient(world, psn)
    with unit_of_work(world) as s:
        place = SqlInsuredPlace(s)
        view = settlement.pre_settle(
            s, place, H_BJ, NOW, request(mdtrt_id, psn, medfee, med_type="11"), kind="outpatient"
        )
        person = place.person(psn)
        assert person is not None
        insurance = person.insurance("310")
        assert insurance is not None
        from medroam.domain.settlement import Visit
        from medroam.store.repositories import FeeLineRepository, fee_line

        lines = [fee_line(r) for r in FeeLineRepository(s).unsettled(mdtrt_id)]
        expected = calculator.settle(
            lines,
            Visit(
                mdtrt_id, "11", H_BJ.code, "3", BEIJING, NOW.date(), NOW.date(), account_flag="1"
            ),
            person.as_domain(insurance, frozenset()),
            BenefitStatus.LONG_TERM,
            place.policy("150100", "310", NOW.date()),
            catalogue(s),
            place.benefit_state(psn, "310", 2025).ytd,
            AccountState(BALANCE, MUTUAL_AID),
        )
        assert view.settlement.medfee == expected.medfee
        assert view.settlement.pool == expected.pool
        assert view.settlement.cash == expected.cash
        assert view.settlement.details == expected.details


def test_client_totals_must_agree_naming_both_figures(world: Engine) -> None:
    psn = EMPLOYEE_HHHT
    mdtrt_id, medfee = outpatient(world, psn)
    with (
        unit_of_work(world) as s,
        pytest.raises(RefusedError, match=r"medfee_sumamt 1\.00 disagrees .* computes \d+\.\d\d"),
    ):
        settlement.settle(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            request(mdtrt_id, psn, 100, med_type="11"),
            kind="outpatient",
            msgid="X",
        )
    with (
        unit_of_work(world) as s,
        pytest.raises(RefusedError, match=r"inscp_scp_amt 0\.01 disagrees"),
    ):
        settlement.settle(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            request(mdtrt_id, psn, medfee, med_type="11", inscp=1),
            kind="outpatient",
            msgid="X",
        )
    with unit_of_work(world) as s:
        assert counts(s)["settlements"] == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"amount": "99.98"}, r"det_item_fee_sumamt 99\.98 differs from pric × cnt"),
        ({"qty": "0"}, r"cnt must not be zero"),
        ({"price": "-1.00", "amount": "-1.00"}, r"pric must not be negative"),
        ({"approval": "7"}, r"hosp_appr_flag '7' is unknown"),
    ],
)
def test_fee_lines_failing_validation_are_refused(
    world: Engine, change: dict[str, str], message: str
) -> None:
    psn = EMPLOYEE_HHHT
    with unit_of_work(world) as s:
        mdtrt_id = register(s, psn)
        code = pick(catalogue(s), "01").code
    args = {"price": "10.00", "qty": "10", "approval": "0"}
    args.update(change)
    bad = line(
        mdtrt_id,
        psn,
        code,
        args["price"],
        args["qty"],
        approval=args["approval"],
        amount=change.get("amount"),
    )
    with unit_of_work(world) as s, pytest.raises(InvalidInputError, match=message):
        fees.upload_fees(s, H_BJ, NOW, [bad], inpatient=False, msgid="M")
    with unit_of_work(world) as s:
        assert s.execute(select(FeeLineRow)).first() is None


def test_one_cent_rounding_slack_is_accepted(world: Engine) -> None:
    psn = EMPLOYEE_HHHT
    with unit_of_work(world) as s:
        mdtrt_id = register(s, psn)
        code = pick(catalogue(s), "01").code
        ok = line(mdtrt_id, psn, code, "3.333333", "3", amount="10.01")
        (r,) = fees.upload_fees(s, H_BJ, NOW, [ok], inpatient=False, msgid="M")
        assert r.amount == 1001


def test_suspended_insurance_is_refused(world: Engine) -> None:
    psn = EMPLOYEE_HHHT
    mdtrt_id, medfee = outpatient(world, psn)
    with unit_of_work(world) as s:
        set_insurance_status(s, psn, "310", "2", pause_date=NOW.date())
    with unit_of_work(world) as s:
        with pytest.raises(RefusedError, match=r"psn_insu_stas 2 \(暂停参保"):
            settlement.settle(
                s,
                SqlInsuredPlace(s),
                H_BJ,
                NOW,
                request(mdtrt_id, psn, medfee, med_type="11"),
                kind="outpatient",
                msgid="X",
            )
        check = persons.check_benefits(
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            persons.BenefitQuery(psn, "310", "11", NOW.replace(tzinfo=None)),
        )
        assert check.funds and not any(f.entitled for f in check.funds)
        assert "暂停参保" in check.funds[0].reason


def test_outpatient_batch_and_cancelled_visit(world: Engine) -> None:
    psn = EMPLOYEE_HHHT
    mdtrt_id, medfee = outpatient(world, psn)
    with unit_of_work(world) as s:
        with pytest.raises(RefusedError, match="no unsettled fee lines of chrg_bchno B9"):
            settlement.pre_settle(
                s,
                SqlInsuredPlace(s),
                H_BJ,
                NOW,
                request(mdtrt_id, psn, medfee, med_type="11", batch="B9"),
                kind="outpatient",
            )
        assert (
            fees.cancel_outpatient_fees(
                s, H_BJ, NOW, mdtrt_id=mdtrt_id, chrg_bchno="0000", psn_no=psn
            )
            == 4
        )
        visits.cancel_registration(s, H_BJ, NOW, mdtrt_id=mdtrt_id, psn_no=psn, ipt_otp_no="OP1")
    with unit_of_work(world) as s, pytest.raises(RefusedError, match="was cancelled"):
        settlement.settle(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            request(mdtrt_id, psn, medfee, med_type="11"),
            kind="outpatient",
            msgid="X",
        )


# --- inpatient -------------------------------------------------------------------------


def test_cross_province_inpatient_with_mid_stay_settlement(world: Engine) -> None:
    psn = EMPLOYEE_HHHT
    with unit_of_work(world) as s:
        acc0 = accumulators(s, psn)
        mdtrt_id = admit(s, psn)
        first = typical_lines(s, mdtrt_id, psn, scale=1)
        r1 = fees.upload_fees(s, H_BJ, NOW, first, inpatient=True, msgid="M-F1")
        medfee1 = sum(r.amount for r in r1)
    with unit_of_work(world) as s, pytest.raises(RefusedError, match="not discharged"):
        settlement.settle(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            request(mdtrt_id, psn, medfee1),
            kind="inpatient",
            msgid="X",
        )
    with unit_of_work(world) as s:
        mid = settlement.settle(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            request(mdtrt_id, psn, medfee1, mid=True),
            kind="inpatient",
            msgid="M-MID",
        )
        assert mid.settlement.medfee == medfee1 and mid.mid_settlement
        assert mid.settlement.deductible > 0
        assert mid.settlement.accumulator_delta.get("ip_admissions") == 1

    # more lines, including a refund of part of the first 乙 line (negative cnt)
    with unit_of_work(world) as s:
        b_line = first[1]
        more = typical_lines(s, mdtrt_id, psn, scale=2)
        refund = line(
            mdtrt_id, psn, b_line.med_list_codg, "35.50", "-2", refund_of=b_line.feedetl_sn
        )
        r2 = fees.upload_fees(s, H_BJ, NOW, [*more, refund], inpatient=True, msgid="M-F2")
        assert r2[-1].amount < 0 and r2[-1].inscp <= 0
        medfee2 = sum(r.amount for r in r2)
        with pytest.raises(RefusedError, match="would reach cnt 21"):
            fees.upload_fees(
                s,
                H_BJ,
                NOW,
                [
                    line(
                        mdtrt_id,
                        psn,
                        b_line.med_list_codg,
                        "35.50",
                        "-19",
                        refund_of=b_line.feedetl_sn,
                    )
                ],
                inpatient=True,
                msgid="M-F3",
            )
    with unit_of_work(world) as s:
        pre = settlement.pre_settle(
            s, SqlInsuredPlace(s), H_BJ, NOW, request(mdtrt_id, psn, medfee2), kind="inpatient"
        )
        assert pre.settlement.medfee == medfee2  # before discharge, a preview is fine
        discharge(s, mdtrt_id, psn)
    with unit_of_work(world) as s:
        final = settlement.settle(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            request(mdtrt_id, psn, medfee2),
            kind="inpatient",
            msgid="M-FINAL",
        )
        f = final.settlement
        assert f.medfee == medfee2
        # the deductible is applied once per admission, the admission counted once
        standard = (
            SqlInsuredPlace(s).policy("150100", "310", NOW.date()).inpatient.terms("3").deductible
        )
        assert mid.settlement.deductible + f.deductible <= standard
        assert "ip_admissions" not in f.accumulator_delta
        assert s.get(VisitRow, mdtrt_id).status == "settled"  # type: ignore[union-attr]
    with unit_of_work(world) as s:
        assert accumulators(s, psn)["ip_admissions"] == 1
        with pytest.raises(RefusedError, match="cancel it first"):
            settlement.cancel_settlement(
                s,
                SqlInsuredPlace(s),
                H_BJ,
                NOW,
                mdtrt_id=mdtrt_id,
                setl_id=mid.setl_id or "",
                psn_no=psn,
                kind="inpatient",
                msgid="X",
            )
    with unit_of_work(world) as s:
        with pytest.raises(
            RefusedError, match="cancel the settlement \\(2305\\) before the discharge"
        ):
            visits.cancel_discharge(s, H_BJ, NOW, mdtrt_id=mdtrt_id, psn_no=psn)
        settlement.cancel_settlement(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            mdtrt_id=mdtrt_id,
            setl_id=final.setl_id or "",
            psn_no=psn,
            kind="inpatient",
            msgid="M-C1",
        )
        assert s.get(VisitRow, mdtrt_id).status == "discharged"  # type: ignore[union-attr]
        settlement.cancel_settlement(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            mdtrt_id=mdtrt_id,
            setl_id=mid.setl_id or "",
            psn_no=psn,
            kind="inpatient",
            msgid="M-C2",
        )
    with unit_of_work(world) as s:
        assert accumulators(s, psn) == acc0
        assert account(s, psn) == (BALANCE, MUTUAL_AID)
        assert assert_ledger_balanced(s) == 4
        # settle again after the cancellations: same figures as a single final settlement
        again = settlement.settle(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            request(mdtrt_id, psn, medfee1 + medfee2),
            kind="inpatient",
            msgid="M-AGAIN",
        )
        assert (
            again.settlement.deductible == standard
            or again.settlement.deductible == again.settlement.inscp
        )


def test_chronic_disease(world: Engine) -> None:
    psn = EMPLOYEE_HHHT
    disease = "M03900"  # 高血压
    mdtrt_id, medfee = outpatient(world, psn)
    with unit_of_work(world) as s:
        visits.upload_visit_info(
            s,
            H_BJ,
            NOW,
            visits.VisitInfo(
                mdtrt_id=mdtrt_id,
                psn_no=psn,
                med_type="14",
                begin=NOW.replace(tzinfo=None),
                dise_codg=disease,
            ),
        )
    with unit_of_work(world) as s:
        with pytest.raises(
            RefusedError, match=r"not qualified \(认定\) for chronic disease 'M03900'"
        ):
            settlement.settle(
                s,
                SqlInsuredPlace(s),
                H_BJ,
                NOW,
                request(mdtrt_id, psn, medfee, med_type="14"),
                kind="outpatient",
                msgid="X",
            )
        check = persons.check_benefits(
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            persons.BenefitQuery(psn, "310", "14", NOW.replace(tzinfo=None), disease_code=disease),
        )
        assert not check.funds[0].entitled and "not qualified" in check.funds[0].reason
    with unit_of_work(world) as s:
        add_chronic_qualification(
            s,
            ChronicQualification(
                "Q1", psn, disease, NOW.date() - timedelta(days=30), None, True, "310"
            ),
            now=NOW,
        )
    with unit_of_work(world) as s:
        view = settlement.settle(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            request(mdtrt_id, psn, medfee, med_type="14"),
            kind="outpatient",
            msgid="M-CH",
        )
        assert view.settlement.kind.value == "chronic"
        assert any(
            k.startswith(f"chronic_deductible:{disease}") for k in view.settlement.accumulator_delta
        )
        assert any(
            k.startswith(f"chronic_fund:{disease}:2025") for k in view.settlement.accumulator_delta
        )
        assert view.clr_type == "11"
    with unit_of_work(world) as s:
        acc = accumulators(s, psn)
        assert acc[f"chronic_fund:{disease}:2025"] == view.settlement.pool


def test_intra_province_cross_region(world: Engine) -> None:
    psn = EMPLOYEE_GZ  # 广州 employee treated in 深圳
    mdtrt_id, medfee = outpatient(world, psn, H_SZ)
    with unit_of_work(world) as s:
        view = settlement.settle(
            s,
            SqlInsuredPlace(s),
            H_SZ,
            NOW,
            request(mdtrt_id, psn, medfee, med_type="11"),
            kind="outpatient",
            msgid="M-S",
        )
        assert view.cross_region.value == "intra_province" and view.pay_loc == "3"
        assert view.clr_optins == "440300"
        assert view.settlement.status is BenefitStatus.UNFILED
        legs = LedgerRepository(s).legs(view.setl_id or "")
        assert any(a == "receivable:region:440100>440300" for _, a, _ in legs)
        assert_ledger_balanced(s)


def test_local_care_posts_only_the_hospital_payable(world: Engine) -> None:
    psn = EMPLOYEE_BJ
    mdtrt_id, medfee = outpatient(world, psn)
    with unit_of_work(world) as s:
        view = settlement.settle(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            request(mdtrt_id, psn, medfee, med_type="11"),
            kind="outpatient",
            msgid="M-L",
        )
        assert view.pay_loc == "2" and view.settlement.status is BenefitStatus.LOCAL
        accounts = {a for _, a, _ in LedgerRepository(s).legs(view.setl_id or "")}
        assert not any(a.startswith(("payable:region", "receivable:region")) for a in accounts)
        assert f"payable:hospital:{H_BJ.code}" in accounts


def test_unfiled_and_temporary_filing_reduce_the_ratio(world: Engine) -> None:
    results = {}
    for psn in (EMPLOYEE_HHHT, TEMP_HHHT):
        with unit_of_work(world) as s:
            mdtrt_id = admit(s, psn, serial=f"IP-{psn}", msgid=f"M-A-{psn}")
            fees.upload_fees(
                s, H_BJ, NOW, typical_lines(s, mdtrt_id, psn, scale=3), inpatient=True, msgid="F"
            )
        with unit_of_work(world) as s:
            medfee = sum(
                r.amount
                for r in s.execute(
                    select(FeeLineRow).where(FeeLineRow.mdtrt_id == mdtrt_id)
                ).scalars()
            )
            results[psn] = settlement.pre_settle(
                s, SqlInsuredPlace(s), H_BJ, NOW, request(mdtrt_id, psn, medfee), kind="inpatient"
            )
    filed, temporary = results[EMPLOYEE_HHHT], results[TEMP_HHHT]
    assert filed.settlement.status is BenefitStatus.LONG_TERM
    assert temporary.settlement.status is BenefitStatus.TEMPORARY_OTHER
    with unit_of_work(world) as s:
        policy = SqlInsuredPlace(s).policy("150100", "310", NOW.date())
    ip = policy.inpatient
    temp_terms = ip.referral_terms if policy.filing.temp_base.value == "referral" else None
    base = (temp_terms or ip.terms("3")).ratio
    reduction = policy.filing.reduction(BenefitStatus.TEMPORARY_OTHER)
    assert temporary.settlement.pool_ratio == base - reduction
    assert temporary.settlement.pool_ratio < filed.settlement.pool_ratio == ip.terms("3").ratio

    psn = RESIDENT_KM  # no filing at all: unfiled, reduced ratio
    with unit_of_work(world) as s:
        mdtrt_id = admit(s, psn, serial="IP-KM", msgid="M-A-KM")
        r = fees.upload_fees(
            s, H_BJ, NOW, typical_lines(s, mdtrt_id, psn), inpatient=True, msgid="F"
        )
        discharge(s, mdtrt_id, psn)
    medfee = sum(x.amount for x in r)
    with unit_of_work(world) as s:
        view = settlement.settle(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            request(mdtrt_id, psn, medfee, account_flag="0"),
            kind="inpatient",
            msgid="M-KM",
        )
        policy = SqlInsuredPlace(s).policy("530100", "390", NOW.date())
        assert view.settlement.status is BenefitStatus.UNFILED
        ip = policy.inpatient
        temp_terms = ip.referral_terms if policy.filing.temp_base.value == "referral" else None
        base = (temp_terms or ip.terms("3")).ratio
        assert view.settlement.pool_ratio == base - policy.filing.reduction(BenefitStatus.UNFILED)
        assert view.settlement.account == 0


def test_place_of_insurance_requiring_a_filing_refuses_unfiled_care(world: Engine) -> None:
    psn = RESIDENT_KM
    mdtrt_id, medfee = outpatient(world, psn)
    with unit_of_work(world) as s:
        row = s.get(PolicyRow, ("530100", "390", NOW.date().replace(month=1, day=1)))
        assert row is not None
        doc = dict(row.document)
        doc["filing"] = {**doc["filing"], "unfiled_direct_settlement": False}
        s.execute(
            update(PolicyRow)
            .where(PolicyRow.region == "530100", PolicyRow.insutype == "390")
            .values(document=doc)
        )
        refdata_cache.touch(s, "policies")
    with unit_of_work(world) as s:
        with pytest.raises(RefusedError, match=r"requires a filing \(备案\)"):
            settlement.settle(
                s,
                SqlInsuredPlace(s),
                H_BJ,
                NOW,
                request(mdtrt_id, psn, medfee, med_type="11", account_flag="0"),
                kind="outpatient",
                msgid="X",
            )
        check = persons.check_benefits(
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            persons.BenefitQuery(psn, "390", "11", NOW.replace(tzinfo=None)),
        )
        assert not check.funds[0].entitled and "未备案" in check.funds[0].reason
        # emergency care is treated as filed (FIL-07)
        check = persons.check_benefits(
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            persons.BenefitQuery(psn, "390", "13", NOW.replace(tzinfo=None)),
        )
        assert check.funds[0].entitled


# --- security --------------------------------------------------------------------------


def test_another_institutions_visit_answers_as_unknown(world: Engine) -> None:
    psn = EMPLOYEE_HHHT
    mdtrt_id, medfee = outpatient(world, psn)
    with unit_of_work(world) as s:
        view = settlement.settle(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            request(mdtrt_id, psn, medfee, med_type="11"),
            kind="outpatient",
            msgid="M",
        )
    setl_id = view.setl_id or ""

    def message(fn) -> str:  # type: ignore[no-untyped-def]
        with unit_of_work(world) as s, pytest.raises(NotFoundError) as info:
            fn(s)
        return str(info.value)

    unknown_visit = "MD110100XXXXXXXXXXXXXXXXXXXXXX"
    unknown_setl = "ST110100XXXXXXXXXXXXXXXXXXXXXX"
    calls = [
        lambda s, m: settlement.pre_settle(
            s,
            SqlInsuredPlace(s),
            H_BJ2,
            NOW,
            request(m, psn, medfee, med_type="11"),
            kind="outpatient",
        ),
        lambda s, m: fees.upload_fees(
            s, H_BJ2, NOW, typical_lines(s, m, psn), inpatient=False, msgid="Z"
        ),
        lambda s, m: visits.cancel_registration(
            s, H_BJ2, NOW, mdtrt_id=m, psn_no=psn, ipt_otp_no=""
        ),
        lambda s, m: settlement.cancel_settlement(
            s,
            SqlInsuredPlace(s),
            H_BJ2,
            NOW,
            mdtrt_id=m,
            setl_id=setl_id,
            psn_no=psn,
            kind="outpatient",
            msgid="Z",
        ),
    ]
    for call in calls:
        theirs = message(lambda s, call=call: call(s, mdtrt_id))
        unknown = message(lambda s, call=call: call(s, unknown_visit))
        assert theirs.replace(mdtrt_id, "?") == unknown.replace(unknown_visit, "?")
    theirs = message(
        lambda s: settlement.settlement_info(s, SqlInsuredPlace(s), H_BJ2, setl_id=setl_id)
    )
    unknown = message(
        lambda s: settlement.settlement_info(s, SqlInsuredPlace(s), H_BJ2, setl_id=unknown_setl)
    )
    assert theirs.replace(setl_id, "?") == unknown.replace(unknown_setl, "?")
    with unit_of_work(world) as s:  # nothing changed
        row = s.get(SettlementRow, setl_id)
        assert row is not None and row.status == "valid"


# --- atomicity and exact restoration --------------------------------------------------------


def test_failure_in_the_middle_of_settle_leaves_nothing(
    world: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    psn = EMPLOYEE_HHHT
    mdtrt_id, medfee = outpatient(world, psn)
    with unit_of_work(world) as s:
        before = (counts(s), accumulators(s, psn), account(s, psn))

    def boom(*args: object, **kwargs: object) -> int:
        raise RuntimeError("injected failure after the settlement's rows were written")

    # after every row of the settlement was written (on PostgreSQL in one statement)
    monkeypatch.setattr(mutual_aid_service, "apply_draws", boom)
    with pytest.raises(RuntimeError, match="injected"), unit_of_work(world) as s:
        settlement.settle(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            request(mdtrt_id, psn, medfee, med_type="11"),
            kind="outpatient",
            msgid="M",
        )
    monkeypatch.undo()
    with unit_of_work(world) as s:
        assert (counts(s), accumulators(s, psn), account(s, psn)) == before
        statuses = s.execute(
            select(FeeLineRow.status).where(FeeLineRow.mdtrt_id == mdtrt_id)
        ).scalars()
        assert set(statuses) == {"uploaded"}


def test_settle_then_cancel_restores_accumulators_and_account_with_history(world: Engine) -> None:
    psn = EMPLOYEE_HHHT
    from medroam.store.insured_place import set_accumulators

    with unit_of_work(world) as s:
        set_accumulators(
            s,
            psn,
            "310",
            2025,
            {"op_deductible": 30_000, "op_fund": 12_345, "medfee": 99_999},
            now=NOW,
        )
        acc0, acct0 = accumulators(s, psn), account(s, psn)
    mdtrt_id, medfee = outpatient(world, psn)
    with unit_of_work(world) as s:
        view = settlement.settle(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            request(mdtrt_id, psn, medfee, med_type="11", account_flag="2"),
            kind="outpatient",
            msgid="M",
        )
        assert view.settlement.account > 0
    with unit_of_work(world) as s:
        assert accumulators(s, psn) != acc0
        settlement.cancel_settlement(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            mdtrt_id=mdtrt_id,
            setl_id=view.setl_id or "",
            psn_no=psn,
            kind="outpatient",
            msgid="C",
        )
    with unit_of_work(world) as s:
        assert accumulators(s, psn) == acc0
        assert account(s, psn) == acct0
        with pytest.raises(RefusedError, match="already cancelled"):
            settlement.cancel_settlement(
                s,
                SqlInsuredPlace(s),
                H_BJ,
                NOW,
                mdtrt_id=mdtrt_id,
                setl_id=view.setl_id or "",
                psn_no=psn,
                kind="outpatient",
                msgid="C2",
            )


# --- person lookup and queries -------------------------------------------------------------


def test_person_lookup_by_each_voucher(world: Engine) -> None:
    with unit_of_work(world) as s:
        place = SqlInsuredPlace(s)
        by_id = persons.person_info(place, NOW, "02", id_number(EMPLOYEE_HHHT))
        assert by_id.person.psn_no == EMPLOYEE_HHHT
        assert by_id.person.insurances[0].insured_region == "150100"
        assert by_id.balance == BALANCE and by_id.age == 45
        assert (
            persons.person_info(place, NOW, "01", f"EV-{RESIDENT_KM}").person.psn_no == RESIDENT_KM
        )
        card = persons.person_info(place, NOW, "03", f"C{EMPLOYEE_GZ}", f"SN{EMPLOYEE_GZ}")
        assert card.person.psn_no == EMPLOYEE_GZ
        with pytest.raises(NotFoundError, match=r"mdtrt_cert_no CP1501\*+0001"):
            persons.person_info(place, NOW, "03", f"C{EMPLOYEE_HHHT}", "WRONG")
        with pytest.raises(InvalidInputError, match="card_sn"):
            persons.person_info(place, NOW, "03", f"C{EMPLOYEE_HHHT}")


def test_queries_5203_and_5206(world: Engine) -> None:
    psn = EMPLOYEE_HHHT
    mdtrt_id, medfee = outpatient(world, psn)
    with unit_of_work(world) as s:
        view = settlement.settle(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            request(mdtrt_id, psn, medfee, med_type="11"),
            kind="outpatient",
            msgid="M",
        )
    with unit_of_work(world) as s:
        info = settlement.settlement_info(
            s, SqlInsuredPlace(s), H_BJ, setl_id=view.setl_id or "", mdtrt_id=mdtrt_id, psn_no=psn
        )
        assert info.settlement.fund_total == view.settlement.fund_total
        assert info.pay_loc == "4" and info.insured_region == "150100"
        rows = settlement.accumulator_info(SqlInsuredPlace(s), NOW, psn_no=psn, cum_ym="202506")
        got = {r.key: r.value for r in rows}
        assert got == {k: v for k, v in view.settlement.accumulator_delta.items() if v}
        assert {r.cum_ym for r in rows} == {"202506"}
        with pytest.raises(InvalidInputError, match="cum_ym"):
            settlement.accumulator_info(SqlInsuredPlace(s), NOW, psn_no=psn, cum_ym="2025-6")
