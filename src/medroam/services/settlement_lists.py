"""Settlement lists in the database: 4101 upload and 4104 QC-result query for one
institution (domain-rules DRG-07; national-interface §4.11).

``upload`` checks that the list belongs to the caller's own inpatient stay and to a
settlement of that stay in force, completes it from the stay (place of insurance, place of
treatment, total cost), then runs ``services.drg.upload_settlement_list``: QC, grouping
when QC found no error, and the upsert under one ``setl_list_id`` per settlement.
``query`` returns the stored lists by list id, settlement id or stay.

Refusals are ``NotFoundError`` (an id unknown or another institution's: the same answer),
``RefusedError`` (a business rule) and ``InvalidInputError`` (a field), each naming the
interface field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from medroam.domain.drg.scheme import Scheme
from medroam.domain.drg.settlement_list import SettlementList
from medroam.services.drg import UploadOutcome, upload_settlement_list
from medroam.services.errors import InvalidInputError, NotFoundError, RefusedError
from medroam.services.ports import InstitutionRef
from medroam.store.repositories import SettlementRepository, VisitRepository
from medroam.store.settlement_lists import ListRecord, SqlSettlementListStore

INPATIENT = "inpatient"


def _scheme(scheme: Scheme | None) -> Scheme:
    if scheme is not None:
        return scheme
    from medroam.refdata.drg import load_scheme

    return load_scheme()


@dataclass(frozen=True, slots=True)
class Uploaded:
    outcome: UploadOutcome
    record: ListRecord


def upload(
    session: Session,
    institution: InstitutionRef,
    now: datetime,
    settlement_list: SettlementList,
    *,
    msgid: str,
    nodes: Mapping[str, Any] | None = None,
    scheme: Scheme | None = None,
) -> Uploaded:
    """4101 for the caller's own stay and settlement; returns the outcome and the row.

    The list's ``insuplc`` must be empty or the stay's place of insurance; the place of
    treatment is the stay's; ``medfee_sumamt`` 0 (no ``iteminfo``) becomes the
    settlement's total. QC errors do not refuse the upload: the list is stored with its
    findings and left ungrouped (4104 reports them).
    """
    sl = settlement_list
    if sl.fixmedins_code and sl.fixmedins_code != institution.code:
        raise RefusedError(
            f"setlinfo.fixmedins_code: {sl.fixmedins_code} is not the calling institution "
            f"{institution.code}"
        )
    visit = VisitRepository(session).get(institution.code, sl.mdtrt_id, lock=True)
    if visit is None:
        raise NotFoundError(f"setlinfo.mdtrt_id: {sl.mdtrt_id}: no such stay (就诊信息不存在)")
    if visit.kind != INPATIENT:
        raise RefusedError(
            f"setlinfo.mdtrt_id: {sl.mdtrt_id} is an outpatient visit; the settlement list "
            "(4101) is grouped for inpatient stays"
        )
    setl = SettlementRepository(session).get(institution.code, sl.setl_id)
    if setl is None or setl.mdtrt_id != visit.mdtrt_id:
        raise NotFoundError(
            f"setlinfo.setl_id: {sl.setl_id}: no settlement of stay {sl.mdtrt_id} (结算信息不存在)"
        )
    if setl.refd_setl_flag or setl.status != "valid":
        raise RefusedError(
            f"setlinfo.setl_id: settlement {sl.setl_id} is "
            f"{'a reverse record' if setl.refd_setl_flag else setl.status}; upload the list "
            "of a settlement in force"
        )
    if sl.insuplc and sl.insuplc != visit.insured_region:
        raise InvalidInputError(
            f"setlinfo.insuplc: {sl.insuplc} is not the stay's place of insurance "
            f"{visit.insured_region}"
        )
    sl = replace(
        sl,
        fixmedins_code=institution.code,
        insuplc=visit.insured_region,
        treatment_region=visit.treatment_region,
        medfee_sumamt=sl.medfee_sumamt or setl.medfee,
    )
    grouping = _scheme(scheme)
    store = SqlSettlementListStore(
        session,
        institution.code,
        region=visit.treatment_region,
        now=now,
        msgid=msgid,
        scheme=grouping.label,
        nodes=nodes,
    )
    outcome = upload_settlement_list(sl, store, grouping, grouping.options)
    record = store.record(outcome.setl_list_id)
    assert record is not None  # just written in this transaction
    return Uploaded(outcome, record)


def query(
    session: Session,
    institution: InstitutionRef,
    *,
    setl_list_id: str = "",
    mdtrt_id: str = "",
    setl_id: str = "",
) -> Sequence[ListRecord]:
    """4104: the caller's lists by ``setl_list_id``, else ``setl_id``, else every list of
    the stay ``mdtrt_id``; a key that finds nothing is refused. When several keys are
    given they must agree (a list id of another stay is not found)."""
    store = SqlSettlementListStore(session, institution.code)
    if setl_list_id:
        record = store.record(setl_list_id)
        if record is None or not _matches(record, mdtrt_id, setl_id):
            raise NotFoundError(f"setl_list_id {setl_list_id}: no such settlement list")
        return [record]
    if setl_id:
        record = store.record_by_settlement(setl_id)
        if record is None or not _matches(record, mdtrt_id, ""):
            raise NotFoundError(f"setl_id {setl_id}: no settlement list uploaded")
        return [record]
    if mdtrt_id:
        records = store.records_of_visit(mdtrt_id)
        if not records:
            raise NotFoundError(f"mdtrt_id {mdtrt_id}: no settlement list uploaded")
        return records
    raise InvalidInputError("input.data: one of setl_list_id, setl_id or mdtrt_id is required")


def _matches(record: ListRecord, mdtrt_id: str, setl_id: str) -> bool:
    sl = record.stored.settlement_list
    return (not mdtrt_id or sl.mdtrt_id == mdtrt_id) and (not setl_id or sl.setl_id == setl_id)
