"""DRG results of stored settlement lists (医保基金结算清单): per hospital and DRG, the
cases, the group's relative weight and what payment by disease group would pay against
what the items cost (支付方式管理 in the console).

Each grouped list is priced as ``medroam drg price`` prices a case (``domain.drg.payment
.case_points``) with the payment parameters of its place of treatment for the year of
discharge (``data/drg/payment/<region>-<year>.json``); a place without parameters shows
its cases and item cost only. The item cost is the settlement's ``medfee``; the patient
share its ``personal``; the itemised fund amount its ``fund_total``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from medroam.domain.drg.payment import PaymentCase, PaymentParams, case_points
from medroam.refdata.drg import load_payment_params
from medroam.refdata.errors import ReferenceDataError
from medroam.services.drg_payment import scope_of
from medroam.store.settlement_lists import list_from_dict
from medroam.store.tables import SettlementListRow, SettlementRow


@dataclass(slots=True)
class GroupResult:
    """One hospital's cases of one DRG."""

    fixmedins_code: str
    drg: str
    cases: int = 0
    rw: int | None = None  # ten-thousandths; None without parameters or standard
    item_cost: int = 0  # fen
    payment: int | None = None  # fen; None without parameters
    parameters: str = ""  # "440300-2025", or "" when the place has none

    @property
    def difference(self) -> int | None:
        return None if self.payment is None else self.payment - self.item_cost


class _Params:
    """Payment parameters by (region, year), read once."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, int], PaymentParams | None] = {}

    def get(self, region: str, year: int) -> PaymentParams | None:
        key = (region, year)
        if key not in self._found:
            try:
                self._found[key] = load_payment_params(region, year)[0]
            except ReferenceDataError:
                self._found[key] = None
        return self._found[key]


def _case(
    lst: SettlementListRow, setl: SettlementRow, level: str
) -> tuple[PaymentCase, date] | None:
    sl = list_from_dict(lst.document["list"])
    admitted = sl.adm_time or setl.setl_time.date()
    discharged = sl.dscg_time or setl.setl_time.date()
    los = sl.act_ipt_days if sl.act_ipt_days is not None else (discharged - admitted).days
    case = PaymentCase(
        case_id=lst.setl_list_id,
        person_id=setl.psn_no,
        hospital_id=lst.fixmedins_code,
        hospital_level=level,
        scope=scope_of(lst.insuplc, lst.treatment_region),
        insured_region=lst.insuplc,
        drg=lst.drg or "0000",
        los=max(los, 0),
        leaving_type=sl.dscg_way or "1",
        admitted=admitted,
        discharged=discharged,
        total_cost=int(setl.medfee),
        patient_share=int(setl.personal),
        item_fund=int(setl.fund_total),
    )
    return case, discharged


def group_results(
    rows: Iterable[tuple[SettlementListRow, SettlementRow, str]],
) -> list[GroupResult]:
    """(list, its settlement, the hospital's level) → results by hospital and DRG, the
    hospitals and groups with most cases first."""
    params = _Params()
    out: dict[tuple[str, str], GroupResult] = {}
    for lst, setl, level in rows:
        made = _case(lst, setl, level)
        if made is None:
            continue
        case, discharged = made
        key = (lst.fixmedins_code, case.drg)
        result = out.setdefault(key, GroupResult(lst.fixmedins_code, case.drg))
        result.cases += 1
        result.item_cost += case.total_cost
        p = params.get(lst.treatment_region, discharged.year)
        if p is None:
            continue
        result.parameters = f"{p.region}-{p.year}"
        std = p.standards.groups.get(case.drg)
        result.rw = std.rw if std is not None else result.rw
        priced = case_points(case, p)
        result.payment = (result.payment or 0) + priced.amount
    return sorted(out.values(), key=lambda r: (r.fixmedins_code, -r.cases, r.drg))
