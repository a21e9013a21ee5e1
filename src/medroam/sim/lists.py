"""The settlement list (医保基金结算清单, 4101) of a simulated stay, and the group the
platform gives it.

The driver sends a list after each stay's settlement (2304); the platform runs the list's
quality control and, when it finds no error, groups it with the shipped CHS-DRG 1.1
(``services.drg.upload_settlement_list``). :func:`stay_group` does the same on the
simulator's side, with the same domain functions, so that a fraudulent institution
(``sim.anomalies``, scheme ``upcoding``) is one whose lists' groups really change.

Pure: the scheme is passed in.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from medroam.domain.drg.grouper import GroupStatus, group
from medroam.domain.drg.scheme import Scheme
from medroam.domain.drg.settlement_list import (
    ListDiagnosis,
    SettlementList,
    quality_control,
)
from medroam.sim.visits import Diagnosis, Encounter

# The 4th character of a CHS-DRG: 1 with an MCC, 3 with a CC (5 without, 9 undivided).
MCC_CC_DIGITS = ("1", "3")
# What an up-coding hospital adds (高套病组), tried in this order: a complication a
# coder can write without the care changing — low potassium or sodium (CC, 表 7-52),
# then respiratory or acute kidney failure (MCC) for the ADRGs that split on an MCC only
# (e.g. GR1: GR11 / GR15). The first that the grouper counts for the stay's principal
# diagnosis (not excluded by its 表 7-n) is used.
UPCODING_DIAGNOSES: tuple[Diagnosis, ...] = (
    Diagnosis("E87.600", "低钾血症", "", ""),
    Diagnosis("E87.100", "低钠血症", "", ""),
    Diagnosis("J96.000", "急性呼吸衰竭", "", ""),
    Diagnosis("N17.900", "急性肾衰竭", "", ""),
)


def years_on(birth_date: date, day: date) -> int:
    """Age in whole years on ``day`` (the list's ``age``)."""
    years = day.year - birth_date.year
    return years - ((day.month, day.day) < (birth_date.month, birth_date.day))


def settlement_list(e: Encounter, gender: str, birth_date: date) -> SettlementList:
    """The list as the platform reads a 4101 of stay ``e`` (the identifiers are the
    platform's and do not matter to grouping): sex, age at admission, dates, the
    principal diagnosis and the others (no procedures: the simulator has none)."""
    age = years_on(birth_date, e.admit)
    return SettlementList(
        setl_id=e.key,
        mdtrt_id=e.key,
        fixmedins_code=e.hospital.code,
        insuplc="",
        treatment_region=e.hospital.region,
        gend=gender,
        age=age,
        nwb_age_days=(e.admit - birth_date).days if age == 0 else None,
        adm_time=e.admit,
        dscg_time=e.day,
        act_ipt_days=(e.day - e.admit).days,
        dscg_way="1",
        diagnoses=(
            ListDiagnosis(e.diagnosis.code, e.diagnosis.name, True),
            *(ListDiagnosis(d.code, d.name, False) for d in e.secondary),
        ),
        medfee_sumamt=e.medfee,
    )


def stay_group(e: Encounter, gender: str, birth_date: date, scheme: Scheme) -> str | None:
    """The CHS-DRG the platform gives the stay's list; None when its quality control
    finds an error (the list is stored ungrouped) or the grouper cannot group it."""
    sl = settlement_list(e, gender, birth_date)
    if any(f.blocking for f in quality_control(sl, scheme)):
        return None
    result = group(sl.to_group_case(), scheme, scheme.options)
    return result.drg if result.status is GroupStatus.GROUPED else None


def is_mcc_cc(drg: str | None) -> bool:
    """A CHS-DRG with an MCC or a CC (what the scores' ``mcc_cc_oe`` observes)."""
    return drg is not None and len(drg) == 4 and drg[3] in MCC_CC_DIGITS


def upcode(e: Encounter, gender: str, birth_date: date, scheme: Scheme) -> Encounter | None:
    """Stay ``e`` with one more other diagnosis that moves its list from a group without
    MCC/CC into one with (the first of ``UPCODING_DIAGNOSES`` that does); None when the
    list is not grouped, already has an MCC/CC, or no such diagnosis moves it (an ADRG
    not split by severity, e.g. CW1 or IR2)."""
    before = stay_group(e, gender, birth_date, scheme)
    if before is None or is_mcc_cc(before):
        return None
    have = set(e.diagnosis_codes)
    for extra in UPCODING_DIAGNOSES:
        if extra.code in have:
            continue
        changed = replace(e, secondary=(*e.secondary, extra))
        if is_mcc_cc(stay_group(changed, gender, birth_date, scheme)):
            return changed
    return None
