"""A social-security card (mdtrt_cert_type 03) without ``card_sn`` on 2201/2401 (issue 12
item 5): in the national edition ``card_sn`` belongs to 1101 only, so the card number
alone identifies its holder; a wrong ``card_sn`` is named as such, and only a voucher of
another person is "就诊凭证与人员不符"."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from medroam.services import visits
from medroam.services.errors import RefusedError
from medroam.services.uow import unit_of_work
from medroam.store.insured_place import SqlInsuredPlace
from tests.integration.test_settlement_service_support import (
    EMPLOYEE_GZ,
    EMPLOYEE_HHHT,
    H_BJ,
    NOW,
    insurance_of,
)

pytestmark = pytest.mark.db


def _registration(psn_no: str, card_no: str, card_sn: str, serial: str) -> visits.Registration:
    return visits.Registration(
        psn_no=psn_no,
        insutype=insurance_of(psn_no)[1],
        begin=NOW.replace(tzinfo=None),
        cert_type="03",
        cert_no=card_no,
        card_sn=card_sn,
        ipt_otp_no=serial,
        dept_code="D01",
        dept_name="内科",
    )


def _register(engine: Engine, reg: visits.Registration, msgid: str) -> str:
    with unit_of_work(engine) as s:
        return visits.register_outpatient(
            s, SqlInsuredPlace(s), H_BJ, NOW, reg, msgid=msgid
        ).mdtrt_id


def test_registration_with_a_card_and_no_card_sn(world: Engine) -> None:
    psn = EMPLOYEE_GZ
    assert _register(world, _registration(psn, f"C{psn}", "", "OP-03"), "M-03")
    # with the right card_sn too
    assert _register(world, _registration(psn, f"C{psn}", f"SN{psn}", "OP-03b"), "M-03b")


def test_admission_with_a_card_and_no_card_sn(world: Engine) -> None:
    psn = EMPLOYEE_GZ
    with unit_of_work(world) as s:
        opened = visits.admit(
            s,
            SqlInsuredPlace(s),
            H_BJ,
            NOW,
            visits.Admission(
                psn_no=psn,
                insutype=insurance_of(psn)[1],
                begin=NOW.replace(tzinfo=None) - timedelta(days=2),
                cert_type="03",
                cert_no=f"C{psn}",
                med_type="21",
                ipt_no="IP-03",
                main_diag_code="K29.700",
                main_diag_name="胃炎",
                diagnoses=(visits.DiagnosisInput("1", 1, "K29.700", "胃炎", maindiag=True),),
            ),
            msgid="M-ADM-03",
        )
    assert opened.mdtrt_id


def test_each_refusal_names_its_own_cause(world: Engine) -> None:
    psn = EMPLOYEE_GZ
    reg = _registration(psn, f"C{psn}", "WRONG", "OP-X")
    with pytest.raises(RefusedError, match="card_sn") as wrong_sn:
        _register(world, reg, "M-X1")
    assert "与人员不符" not in str(wrong_sn.value)
    with pytest.raises(RefusedError, match="就诊凭证不存在"):
        _register(world, replace(reg, cert_no="C-NO-SUCH-CARD", card_sn=""), "M-X2")
    with pytest.raises(RefusedError, match="就诊凭证与人员不符"):
        _register(world, replace(reg, cert_no=f"C{EMPLOYEE_HHHT}", card_sn=""), "M-X3")
