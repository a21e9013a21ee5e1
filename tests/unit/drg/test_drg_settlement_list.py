"""Settlement-list QC (4104 result) and the upload service (4101)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from medroam.domain.drg.grouper import GroupStatus
from medroam.domain.drg.scheme import Scheme
from medroam.domain.drg.settlement_list import (
    ListDiagnosis,
    ListProcedure,
    QcSeverity,
    SettlementList,
    quality_control,
)
from medroam.services.drg import (
    InMemorySettlementListStore,
    query_quality_control,
    upload_settlement_list,
)

GOOD = SettlementList(
    setl_id="S1",
    mdtrt_id="M1",
    fixmedins_code="H62010000001",
    insuplc="621000",
    treatment_region="620100",
    gend="1",
    age=66,
    adm_time=date(2025, 3, 1),
    dscg_time=date(2025, 3, 9),
    act_ipt_days=8,
    dscg_way="1",
    diagnoses=(ListDiagnosis("J18.900"), ListDiagnosis("I63.900", principal=True)),
    procedures=(),
)


def rules(sl: SettlementList, scheme: Scheme) -> list[str]:
    return [f.rule for f in quality_control(sl, scheme)]


def test_clean_list_has_no_findings(scheme: Scheme) -> None:
    assert quality_control(GOOD, scheme) == ()


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"diagnoses": (ListDiagnosis("I63.900"),)}, "QC001"),
        (
            {
                "diagnoses": (
                    ListDiagnosis("I63.900", principal=True),
                    ListDiagnosis("J18.900", principal=True),
                )
            },
            "QC002",
        ),
        ({"diagnoses": (ListDiagnosis("I63", principal=True),)}, "QC003"),
        ({"diagnoses": (ListDiagnosis("K80.100", principal=True),)}, "QC004"),
        ({"procedures": (ListProcedure("5123"),)}, "QC006"),
        ({"procedures": (ListProcedure("99.9999"),)}, "QC007"),
        ({"gend": "9"}, "QC008"),
        ({"gend": "1", "diagnoses": (ListDiagnosis("N80.000", principal=True),)}, "QC009"),
        ({"gend": "2", "diagnoses": (ListDiagnosis("C60.000", principal=True),)}, "QC009"),
        ({"age": None}, "QC010"),
        ({"age": 0}, "QC010"),
        ({"age": 0, "nwb_age_days": 5}, "QC010"),
        ({"diagnoses": (ListDiagnosis("P22.000", principal=True),)}, "QC011"),
        (
            {"gend": "2", "age": 70, "diagnoses": (ListDiagnosis("O80.000", principal=True),)},
            "QC012",
        ),
        ({"age": 0, "nwb_age_days": 5, "nwb_bir_wt": 12_000}, "QC013"),
        ({"dscg_time": date(2025, 2, 1)}, "QC014"),
        ({"act_ipt_days": 3}, "QC015"),
        ({"diagnoses": (*GOOD.diagnoses, ListDiagnosis("J18.900"))}, "QC016"),
    ],
)
def test_each_rule_fires(scheme: Scheme, change: dict[str, object], rule: str) -> None:
    assert rule in rules(replace(GOOD, **change), scheme)  # type: ignore[arg-type]


def test_principal_not_in_any_mdc_table(scheme: Scheme) -> None:
    """A code known only as a secondary (MCC/CC/CCE) cannot be the principal."""
    tables = set().union(*(m.principal_dx or () for m in scheme.mdcs))
    secondary_only = sorted(scheme.known_diagnoses - tables)[0]
    sl = replace(GOOD, diagnoses=(ListDiagnosis(secondary_only, principal=True),))
    assert "QC005" in rules(sl, scheme)


def test_upload_groups_and_stores(scheme: Scheme) -> None:
    """4101: a clean list is grouped (I63.900 + J18.900 → BR23) and stored; 4104 returns
    the same; a re-upload for the same settlement keeps its list id."""
    store = InMemorySettlementListStore()
    out = upload_settlement_list(GOOD, store, scheme)
    assert out.findings == ()
    assert out.group is not None and out.group.drg == "BR23"
    stored = query_quality_control(store, setl_list_id=out.setl_list_id)
    assert stored is not None and stored.group is not None and stored.group.drg == "BR23"
    bad = replace(GOOD, diagnoses=(ListDiagnosis("I63.900"),))
    again = upload_settlement_list(bad, store, scheme)
    assert again.setl_list_id == out.setl_list_id
    assert again.group is None  # blocked by the error
    assert [f.rule for f in again.findings] == ["QC001"]
    assert again.findings[0].severity is QcSeverity.ERROR
    by_setl = query_quality_control(store, setl_id="S1")
    assert by_setl is not None and by_setl.findings == again.findings


def test_warnings_do_not_block_grouping(scheme: Scheme) -> None:
    sl = replace(GOOD, procedures=(ListProcedure("99.9999"),), act_ipt_days=5)
    out = upload_settlement_list(sl, InMemorySettlementListStore(), scheme)
    assert {f.rule for f in out.findings} == {"QC007", "QC015"}
    assert out.group is not None and out.group.status is GroupStatus.GROUPED
