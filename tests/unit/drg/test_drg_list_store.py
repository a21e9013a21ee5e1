"""The JSON forms the database store keeps read back equal, and the list's QC status."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

from medroam.domain.drg.grouper import GroupStatus, group
from medroam.domain.drg.scheme import Scheme
from medroam.domain.drg.settlement_list import (
    ListDiagnosis,
    ListProcedure,
    QcStatus,
    SettlementList,
    qc_status,
    quality_control,
)
from medroam.store.settlement_lists import (
    finding_from_dict,
    finding_to_dict,
    group_detail,
    list_from_dict,
    list_to_dict,
)

SL = SettlementList(
    setl_id="S1",
    mdtrt_id="M1",
    fixmedins_code="H1",
    insuplc="621000",
    treatment_region="620100",
    gend="1",
    age=70,
    adm_time=date(2025, 3, 1),
    dscg_time=date(2025, 3, 9),
    act_ipt_days=8,
    dscg_way="1",
    diagnoses=(ListDiagnosis("I63.900", "脑梗死", True), ListDiagnosis("J96.000")),
    procedures=(ListProcedure("99.9999", "x", True, date(2025, 3, 2)), ListProcedure("51.2300")),
    medfee_sumamt=1_234_567,
    psn_selfpay=100,
)


def test_list_round_trip() -> None:
    data = json.loads(json.dumps(list_to_dict(SL)))  # through JSON text, as the column
    assert list_from_dict(data) == SL
    bare = replace(SL, age=None, adm_time=None, procedures=())
    assert list_from_dict(json.loads(json.dumps(list_to_dict(bare)))) == bare


def test_findings_and_group_round_trip(scheme: Scheme) -> None:
    findings = quality_control(SL, scheme)
    assert findings  # QC007 for 99.9999, a warning
    assert tuple(finding_from_dict(finding_to_dict(f)) for f in findings) == findings
    result = group(SL.to_group_case(), scheme)
    assert result.status is GroupStatus.GROUPED
    detail = json.loads(json.dumps(group_detail(result)))
    assert [s["rule"] for s in detail["trace"]] == [s.rule for s in result.trace]
    assert detail["severity"] == (None if result.severity is None else result.severity.value)


def test_qc_status(scheme: Scheme) -> None:
    clean = replace(SL, procedures=())
    assert qc_status(quality_control(clean, scheme)) is QcStatus.PASSED
    assert qc_status(quality_control(SL, scheme)) is QcStatus.WARNING  # QC007 only
    no_principal = replace(SL, diagnoses=(ListDiagnosis("I63.900"),))
    assert qc_status(quality_control(no_principal, scheme)) is QcStatus.FAILED
