"""Fee lines: upload (2204 outpatient, 2301 inpatient, refund lines included) and cancel
(2205, 2302). Each line is classified by the place of treatment's catalogue (就医地目录)
and the classification is returned as the ``result`` rows and stored on the line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from sqlalchemy.orm import Session

from medroam.domain.catalogue import PRICE_SCALE, QTY_SCALE, FeeLine, LineResult, classify_line
from medroam.domain.money import div_round, format_yuan
from medroam.services.errors import InvalidInputError, NotFoundError, RefusedError
from medroam.services.ports import InstitutionRef
from medroam.services.visits import (
    INPATIENT,
    OUTPATIENT,
    own_visit,
    own_visit_for_upload,
    require_kind,
    require_status,
)
from medroam.store import refdata_cache
from medroam.store.repositories import (
    FeeLineRepository,
    classified_values,
    fee_line,
    line_result,
)
from medroam.store.tables import FeeLineRow

APPROVAL_FLAGS = ("0", "1", "2")  # hosp_appr_flag
ALL_LINES = "0000"  # chrg_bchno / feedetl_sn meaning "every unsettled line"
_PRICE_QTY_TO_FEN = PRICE_SCALE * QTY_SCALE // 100


@dataclass(frozen=True, slots=True)
class FeeLineInput:
    """One ``feedetail`` row: amount in fen, quantity in ten-thousandths, unit price in
    micro-yuan (negative quantity and amount: an inpatient refund line)."""

    feedetl_sn: str
    mdtrt_id: str
    psn_no: str
    fee_ocur_time: datetime
    med_list_codg: str
    medins_list_codg: str
    amount: int
    quantity: int
    unit_price: int
    hosp_appr_flag: str = "0"
    chrg_bchno: str = ""
    init_feedetl_sn: str = ""
    med_type: str = ""
    dise_codg: str = ""
    rxno: str = ""
    drord_no: str = ""
    bilg_dept_codg: str = ""
    bilg_dept_name: str = ""
    bilg_dr_codg: str = ""
    bilg_dr_name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def domain(self) -> FeeLine:
        return FeeLine(
            line_id=self.feedetl_sn,
            list_code=self.med_list_codg,
            amount=self.amount,
            quantity=self.quantity,
            unit_price=self.unit_price,
            hosp_approval=self.hosp_appr_flag,
            hospital_code=self.medins_list_codg,
            refund_of=self.init_feedetl_sn or None,
        )


def _qty(units: int) -> str:
    return str(Decimal(units) / QTY_SCALE)


def _price(micro: int) -> str:
    return str(Decimal(micro) / PRICE_SCALE)


def check_line(line: FeeLineInput, *, refunds_allowed: bool) -> None:
    """Refuse a line whose figures are inconsistent (names the field and the value)."""
    sn = line.feedetl_sn
    if not sn:
        raise InvalidInputError("feedetl_sn: is required (费用明细流水号)")
    if line.quantity == 0:
        raise InvalidInputError(f"feedetl_sn {sn}: cnt must not be zero")
    if line.unit_price < 0:
        raise InvalidInputError(
            f"feedetl_sn {sn}: pric must not be negative, got {_price(line.unit_price)}"
        )
    if line.hosp_appr_flag not in APPROVAL_FLAGS:
        raise InvalidInputError(
            f"feedetl_sn {sn}: hosp_appr_flag {line.hosp_appr_flag!r} is unknown "
            "(0 无须审批, 1 审批通过, 2 审批不通过)"
        )
    if line.quantity < 0 or line.amount < 0:
        if not refunds_allowed:
            raise InvalidInputError(
                f"feedetl_sn {sn}: cnt {_qty(line.quantity)} and det_item_fee_sumamt "
                f"{format_yuan(line.amount)} must be positive (refund lines are an inpatient "
                "2301 feature; cancel outpatient lines with 2205)"
            )
        if line.quantity > 0 or line.amount > 0:
            raise InvalidInputError(
                f"feedetl_sn {sn}: det_item_fee_sumamt {format_yuan(line.amount)} and cnt "
                f"{_qty(line.quantity)} must have the same sign (a refund line has both negative)"
            )
        if not line.init_feedetl_sn:
            raise InvalidInputError(
                f"feedetl_sn {sn}: a refund line (negative cnt) needs init_feedetl_sn, the "
                "serial of the refunded line"
            )
    expected = div_round(line.quantity * line.unit_price, _PRICE_QTY_TO_FEN)
    if abs(expected - line.amount) > 1:
        raise InvalidInputError(
            f"feedetl_sn {sn}: det_item_fee_sumamt {format_yuan(line.amount)} differs from "
            f"pric × cnt = {_price(line.unit_price)} × {_qty(line.quantity)} = "
            f"{format_yuan(expected)} by more than 0.01"
        )


def _same(row: FeeLineRow, line: FeeLineInput) -> bool:
    return (
        row.med_list_codg == line.med_list_codg
        and row.amount == line.amount
        and row.quantity == line.quantity
        and row.unit_price == line.unit_price
        and row.hosp_appr_flag == line.hosp_appr_flag
        and (row.init_feedetl_sn or "") == line.init_feedetl_sn
        and (row.chrg_bchno or "") == line.chrg_bchno
    )


def upload_fees(
    session: Session,
    institution: InstitutionRef,
    now: datetime,
    lines: Sequence[FeeLineInput],
    *,
    inpatient: bool,
    msgid: str,
) -> list[LineResult]:
    """2204 / 2301: store the lines of one visit and classify them (one result per line).

    A serial already uploaded with the same content is answered again unchanged; with
    different content, or already settled, it is refused; a cancelled serial may be sent
    again.
    """
    if not lines:
        raise InvalidInputError("feedetail: must not be empty")
    mdtrt_id, psn_no = lines[0].mdtrt_id, lines[0].psn_no
    for line in lines:
        if line.mdtrt_id != mdtrt_id:
            raise InvalidInputError(
                f"feedetl_sn {line.feedetl_sn}: mdtrt_id {line.mdtrt_id} differs from the first "
                f"line's {mdtrt_id}: upload one visit's lines per call"
            )
        if line.psn_no != psn_no:
            raise InvalidInputError(
                f"feedetl_sn {line.feedetl_sn}: psn_no {line.psn_no} differs from the first "
                f"line's {psn_no}"
            )
        check_line(line, refunds_allowed=inpatient)
    seen: set[str] = set()
    for line in lines:
        if line.feedetl_sn in seen:
            raise InvalidInputError(f"feedetl_sn {line.feedetl_sn}: appears twice in the upload")
        seen.add(line.feedetl_sn)

    visit = own_visit_for_upload(session, institution, mdtrt_id, psn_no)
    if inpatient:
        require_kind(visit, INPATIENT, "2301 (inpatient fee upload)")
        require_status(visit, ("admitted", "discharged"), "upload fee lines")
    else:
        require_kind(visit, OUTPATIENT, "2204 (outpatient fee upload)")
        require_status(visit, ("registered",), "upload fee lines")
    try:
        catalogue = refdata_cache.catalogue_for(session, institution.region)
    except LookupError as exc:
        raise RefusedError(str(exc)) from None

    repo = FeeLineRepository(session)
    # a visit's first upload (the usual case) has nothing stored to compare with
    stored: dict[str, Any] = repo.by_serial(mdtrt_id) if visit.lines else {}
    refunded: dict[str, tuple[int, int]] = {}  # original sn → (quantity, amount) refunded
    for old in stored.values():
        if old.init_feedetl_sn and old.status != "cancelled":
            q, a = refunded.get(old.init_feedetl_sn, (0, 0))
            refunded[old.init_feedetl_sn] = (q - old.quantity, a - old.amount)

    results: list[LineResult] = []
    new: list[dict[str, Any]] = []
    for line in lines:
        row = stored.get(line.feedetl_sn)
        if row is not None and row.status != "cancelled":
            if row.status == "settled":
                raise RefusedError(
                    f"feedetl_sn {line.feedetl_sn} is already settled (setl_id {row.setl_id})"
                )
            if not _same(row, line):
                raise RefusedError(
                    f"feedetl_sn {line.feedetl_sn} is already uploaded with other content: "
                    "cancel it (2205/2302) before sending it again"
                )
            results.append(line_result(row))
            continue
        if line.quantity < 0:
            _check_refund(line, stored, refunded)
        result = classify_line(line.domain(), catalogue.get(line.med_list_codg))
        values = {**_line_values(line, msgid, now), **classified_values(result)}
        if row is None:  # new: inserted below as plain values, no ORM object
            values.update(mdtrt_id=mdtrt_id, feedetl_sn=line.feedetl_sn)
            new.append(values)
            stored[line.feedetl_sn] = SimpleNamespace(**values)  # a later refund's original
        else:  # sent again after a cancel: the stored row is updated
            for key, value in values.items():
                setattr(row, key, value)
        results.append(result)
    inserted = repo.insert_new(new)  # one statement
    if inserted != len(new):  # the caller's transaction is rolled back: nothing written
        raise RefusedError(
            f"mdtrt_id {mdtrt_id}: 同时到达的另一笔上传已写入 {len(new) - inserted} 条相同流水号"
            "（feedetl_sn）的明细，本次未写入，请重新发送本次上传。 Lines with the same "
            "feedetl_sn were uploaded by a concurrent request; nothing was written: send "
            "this upload again."
        )
    session.flush()
    return results


def _check_refund(
    line: FeeLineInput, stored: dict[str, FeeLineRow], refunded: dict[str, tuple[int, int]]
) -> None:
    original = stored.get(line.init_feedetl_sn)
    if original is None or original.status == "cancelled" or original.quantity < 0:
        raise RefusedError(
            f"feedetl_sn {line.feedetl_sn}: init_feedetl_sn {line.init_feedetl_sn} is not an "
            "uploaded charge of this visit"
        )
    if original.med_list_codg != line.med_list_codg:
        raise RefusedError(
            f"feedetl_sn {line.feedetl_sn}: med_list_codg {line.med_list_codg} differs from "
            f"the refunded line's {original.med_list_codg}"
        )
    q, a = refunded.get(line.init_feedetl_sn, (0, 0))
    q, a = q - line.quantity, a - line.amount
    if q > original.quantity or a > original.amount:
        raise RefusedError(
            f"feedetl_sn {line.feedetl_sn}: refunds of {line.init_feedetl_sn} would reach cnt "
            f"{_qty(q)} / {format_yuan(a)} yuan, more than the charge (cnt "
            f"{_qty(original.quantity)}, {format_yuan(original.amount)} yuan)"
        )
    refunded[line.init_feedetl_sn] = (q, a)


def _line_values(line: FeeLineInput, msgid: str, now: datetime) -> dict[str, Any]:
    """The stored columns of an uploaded line, apart from its keys and classification."""
    return {
        "psn_no": line.psn_no,
        "chrg_bchno": line.chrg_bchno or None,
        "init_feedetl_sn": line.init_feedetl_sn or None,
        "med_type": line.med_type or None,
        "fee_ocur_time": line.fee_ocur_time,
        "med_list_codg": line.med_list_codg,
        "medins_list_codg": line.medins_list_codg,
        "amount": line.amount,
        "quantity": line.quantity,
        "unit_price": line.unit_price,
        "hosp_appr_flag": line.hosp_appr_flag,
        "dise_codg": line.dise_codg or None,
        "rxno": line.rxno or None,
        "drord_no": line.drord_no or None,
        "bilg_dept_codg": line.bilg_dept_codg or None,
        "bilg_dept_name": line.bilg_dept_name or None,
        "bilg_dr_codg": line.bilg_dr_codg or None,
        "bilg_dr_name": line.bilg_dr_name or None,
        "extra": line.extra,
        "status": "uploaded",
        "setl_id": None,
        "msgid": msgid,
        "uploaded_at": now,
        "cancelled_at": None,
    }


def cancel_outpatient_fees(
    session: Session,
    institution: InstitutionRef,
    now: datetime,
    *,
    mdtrt_id: str,
    chrg_bchno: str,
    psn_no: str,
) -> int:
    """2205: cancel the unsettled lines of a charge batch (``0000``: every unsettled line).
    Settled lines cannot be cancelled. Returns the number of lines cancelled."""
    visit = own_visit(session, institution, mdtrt_id, psn_no)
    require_kind(visit, OUTPATIENT, "2205 (cancel outpatient fee lines)")
    repo = FeeLineRepository(session)
    if chrg_bchno == ALL_LINES:
        lines = repo.unsettled(mdtrt_id)
    else:
        batch = [r for r in repo.by_serial(mdtrt_id).values() if r.chrg_bchno == chrg_bchno]
        settled = [r.feedetl_sn for r in batch if r.status == "settled"]
        if settled:
            raise RefusedError(
                f"chrg_bchno {chrg_bchno}: lines {', '.join(settled[:5])} are settled and cannot "
                "be cancelled (cancel the settlement with 2208 first)"
            )
        lines = [r for r in batch if r.status == "uploaded"]
        if not lines:
            raise NotFoundError(f"chrg_bchno {chrg_bchno}: no unsettled fee lines of {mdtrt_id}")
    _cancel(repo, lines, now)
    return len(lines)


def cancel_inpatient_fees(
    session: Session,
    institution: InstitutionRef,
    now: datetime,
    items: Sequence[tuple[str, str, str]],
) -> int:
    """2302: cancel lines given as (feedetl_sn, mdtrt_id, psn_no); feedetl_sn ``0000``
    cancels every unsettled line of the stay. Returns the number of lines cancelled."""
    if not items:
        raise InvalidInputError("data: must list at least one line")
    total = 0
    repo = FeeLineRepository(session)
    checked: dict[str, dict[str, FeeLineRow]] = {}
    for sn, mdtrt_id, psn_no in items:
        if mdtrt_id not in checked:
            visit = own_visit(session, institution, mdtrt_id, psn_no)
            require_kind(visit, INPATIENT, "2302 (cancel inpatient fee lines)")
            checked[mdtrt_id] = repo.by_serial(mdtrt_id)
        rows = checked[mdtrt_id]
        if sn == ALL_LINES:
            lines = [r for r in rows.values() if r.status == "uploaded"]
        else:
            row = rows.get(sn)
            if row is None or row.status == "cancelled":
                raise NotFoundError(f"feedetl_sn {sn}: no uploaded fee line of {mdtrt_id}")
            if row.status == "settled":
                raise RefusedError(
                    f"feedetl_sn {sn} is settled (setl_id {row.setl_id}) and cannot be "
                    "cancelled (cancel the settlement with 2305 first)"
                )
            refunds = [
                r.feedetl_sn
                for r in rows.values()
                if r.init_feedetl_sn == sn and r.status != "cancelled"
            ]
            if refunds and not all(any(s == x for s, _, _ in items) for x in refunds):
                raise RefusedError(
                    f"feedetl_sn {sn}: refund lines {', '.join(refunds)} refer to it; cancel "
                    "them too"
                )
            lines = [row]
        _cancel(repo, lines, now)
        total += len(lines)
    return total


def _cancel(repo: FeeLineRepository, lines: Sequence[FeeLineRow], now: datetime) -> None:
    for row in lines:
        row.status = "cancelled"
        row.cancelled_at = now
    repo.session.flush()


__all__ = [
    "ALL_LINES",
    "FeeLineInput",
    "cancel_inpatient_fees",
    "cancel_outpatient_fees",
    "check_line",
    "fee_line",
    "upload_fees",
]
