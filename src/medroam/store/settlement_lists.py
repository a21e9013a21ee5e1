"""Settlement lists (4101) in the database: a ``SettlementListStore`` scoped to one
institution, and the JSON forms of the list, its QC findings and its group result.

The store sees only the institution's own lists: another institution's ``setl_list_id``
or ``setl_id`` is indistinguishable from an unknown one. Every value written is read back
equal (``list_from_dict(list_to_dict(x)) == x``, the same for findings and groups), so the
4104 answer is exactly what 4101 computed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medroam.domain.drg.grouper import GroupResult, GroupStatus, Severity, TraceStep
from medroam.domain.drg.settlement_list import (
    ListDiagnosis,
    ListProcedure,
    QcFinding,
    QcSeverity,
    QcStatus,
    SettlementList,
    qc_status,
)
from medroam.services.drg import StoredList
from medroam.store.repositories import new_id
from medroam.store.tables import SettlementListRow

LIST_ID_PREFIX = "SL"

# --- JSON forms ----------------------------------------------------------------------


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_day(value: Any) -> date | None:
    return None if value in (None, "") else date.fromisoformat(str(value))


def list_to_dict(sl: SettlementList) -> dict[str, Any]:
    """The list as JSON-safe data (dates ISO, amounts fen)."""
    return {
        "setl_id": sl.setl_id,
        "mdtrt_id": sl.mdtrt_id,
        "fixmedins_code": sl.fixmedins_code,
        "insuplc": sl.insuplc,
        "treatment_region": sl.treatment_region,
        "gend": sl.gend,
        "age": sl.age,
        "nwb_age_days": sl.nwb_age_days,
        "nwb_bir_wt": sl.nwb_bir_wt,
        "adm_time": _day(sl.adm_time),
        "dscg_time": _day(sl.dscg_time),
        "act_ipt_days": sl.act_ipt_days,
        "dscg_way": sl.dscg_way,
        "diagnoses": [
            {"code": d.code, "name": d.name, "principal": d.principal} for d in sl.diagnoses
        ],
        "procedures": [
            {"code": p.code, "name": p.name, "principal": p.principal, "day": _day(p.day)}
            for p in sl.procedures
        ],
        "medfee_sumamt": sl.medfee_sumamt,
        "psn_selfpay": sl.psn_selfpay,
        "psn_ownpay": sl.psn_ownpay,
    }


def list_from_dict(d: Mapping[str, Any]) -> SettlementList:
    return SettlementList(
        setl_id=str(d["setl_id"]),
        mdtrt_id=str(d["mdtrt_id"]),
        fixmedins_code=str(d["fixmedins_code"]),
        insuplc=str(d["insuplc"]),
        treatment_region=str(d["treatment_region"]),
        gend=str(d["gend"]),
        age=d["age"],
        nwb_age_days=d["nwb_age_days"],
        nwb_bir_wt=d["nwb_bir_wt"],
        adm_time=_parse_day(d["adm_time"]),
        dscg_time=_parse_day(d["dscg_time"]),
        act_ipt_days=d["act_ipt_days"],
        dscg_way=str(d["dscg_way"]),
        diagnoses=tuple(
            ListDiagnosis(str(x["code"]), str(x["name"]), bool(x["principal"]))
            for x in d["diagnoses"]
        ),
        procedures=tuple(
            ListProcedure(
                str(x["code"]), str(x["name"]), bool(x["principal"]), _parse_day(x["day"])
            )
            for x in d["procedures"]
        ),
        medfee_sumamt=int(d["medfee_sumamt"]),
        psn_selfpay=int(d["psn_selfpay"]),
        psn_ownpay=int(d["psn_ownpay"]),
    )


def finding_to_dict(f: QcFinding) -> dict[str, str]:
    return {
        "rule": f.rule,
        "severity": f.severity.value,
        "field": f.field,
        "message": f.message,
        "code": f.code,
    }


def finding_from_dict(d: Mapping[str, Any]) -> QcFinding:
    return QcFinding(
        str(d["rule"]),
        QcSeverity(d["severity"]),
        str(d["field"]),
        str(d["message"]),
        str(d.get("code", "")),
    )


def group_detail(result: GroupResult) -> dict[str, Any]:
    """What the columns ``group_status``/``mdc``/``adrg``/``drg`` do not hold."""
    return {
        "case_id": result.case_id,
        "severity": None if result.severity is None else result.severity.value,
        "trace": [
            {"rule": s.rule, "subject": s.subject, "codes": list(s.codes), "note": s.note}
            for s in result.trace
        ],
        "problems": list(result.problems),
    }


def group_from_row(row: SettlementListRow) -> GroupResult | None:
    if row.group_status is None:
        return None
    detail = row.group_detail or {}
    severity = detail.get("severity")
    return GroupResult(
        case_id=str(detail.get("case_id", row.setl_id)),
        status=GroupStatus(row.group_status),
        mdc=row.mdc or "",
        adrg=row.adrg or "",
        drg=row.drg or "",
        severity=None if severity is None else Severity(severity),
        trace=tuple(
            TraceStep(str(s["rule"]), str(s["subject"]), tuple(s["codes"]), str(s["note"]))
            for s in detail.get("trace", [])
        ),
        problems=tuple(str(p) for p in detail.get("problems", [])),
    )


# --- the store -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListRecord:
    """A stored list with what the row adds: status, counts, scheme, upload times."""

    stored: StoredList
    qc_status: QcStatus
    scheme: str
    uploads: int
    first_uploaded_at: datetime
    uploaded_at: datetime
    nodes: Mapping[str, Any]


def _record(row: SettlementListRow) -> ListRecord:
    stored = StoredList(
        row.setl_list_id,
        list_from_dict(row.document["list"]),
        tuple(finding_from_dict(f) for f in row.findings),
        group_from_row(row),
    )
    return ListRecord(
        stored,
        QcStatus(row.qc_status),
        row.scheme,
        row.uploads,
        row.first_uploaded_at,
        row.uploaded_at,
        row.document.get("nodes", {}),
    )


class SqlSettlementListStore:
    """A ``SettlementListStore`` over ``settlement_lists`` for one institution.

    ``put`` inserts or replaces (same ``setl_list_id``), stamping ``now`` and ``msgid`` and
    keeping ``nodes`` (the other 4101 nodes, JSON-safe) in the document. Never commits.
    """

    def __init__(
        self,
        session: Session,
        fixmedins_code: str,
        *,
        region: str = "",
        now: datetime | None = None,
        msgid: str = "",
        scheme: str = "",
        nodes: Mapping[str, Any] | None = None,
    ) -> None:
        self.session = session
        self.fixmedins_code = fixmedins_code
        self.region = region
        self.now = now
        self.msgid = msgid
        self.scheme = scheme
        self.nodes = dict(nodes or {})

    def _stamp(self) -> datetime:
        if self.now is None:
            raise ValueError("a store that writes needs the time (now=)")
        return self.now

    def next_id(self) -> str:
        return new_id(LIST_ID_PREFIX, self.region, self._stamp())

    def _row(self, setl_list_id: str) -> SettlementListRow | None:
        return self.session.execute(
            select(SettlementListRow).where(
                SettlementListRow.setl_list_id == setl_list_id,
                SettlementListRow.fixmedins_code == self.fixmedins_code,
            )
        ).scalar_one_or_none()

    def put(self, stored: StoredList) -> None:
        sl = stored.settlement_list
        if sl.fixmedins_code != self.fixmedins_code:
            raise ValueError(f"list of {sl.fixmedins_code} put into the store of another")
        findings = stored.findings
        status = qc_status(findings)
        group = stored.group
        row = self.session.get(SettlementListRow, stored.setl_list_id)
        if row is None:
            row = SettlementListRow(
                setl_list_id=stored.setl_list_id,
                uploads=0,
                first_uploaded_at=self._stamp(),
            )
            self.session.add(row)
        elif row.fixmedins_code != self.fixmedins_code:
            raise ValueError(f"{stored.setl_list_id} belongs to another institution")
        row.mdtrt_id = sl.mdtrt_id
        row.setl_id = sl.setl_id
        row.fixmedins_code = sl.fixmedins_code
        row.insuplc = sl.insuplc
        row.treatment_region = sl.treatment_region
        row.document = {"list": list_to_dict(sl), "nodes": self.nodes}
        row.qc_status = status.value
        row.qc_errors = sum(1 for f in findings if f.blocking)
        row.qc_warnings = sum(1 for f in findings if not f.blocking)
        row.findings = [finding_to_dict(f) for f in findings]
        row.scheme = self.scheme
        row.group_status = None if group is None else group.status.value
        row.mdc = None if group is None else group.mdc
        row.adrg = None if group is None else group.adrg
        row.drg = None if group is None else group.drg
        row.group_detail = None if group is None else group_detail(group)
        row.uploads += 1
        row.msgid = self.msgid
        row.uploaded_at = self._stamp()
        self.session.flush()

    def get(self, setl_list_id: str) -> StoredList | None:
        row = self._row(setl_list_id)
        return None if row is None else _record(row).stored

    def find_by_settlement(self, setl_id: str) -> StoredList | None:
        record = self.record_by_settlement(setl_id)
        return None if record is None else record.stored

    # --- records (the row's extra columns too) ---------------------------------------

    def record(self, setl_list_id: str) -> ListRecord | None:
        row = self._row(setl_list_id)
        return None if row is None else _record(row)

    def record_by_settlement(self, setl_id: str) -> ListRecord | None:
        row = self.session.execute(
            select(SettlementListRow).where(
                SettlementListRow.setl_id == setl_id,
                SettlementListRow.fixmedins_code == self.fixmedins_code,
            )
        ).scalar_one_or_none()
        return None if row is None else _record(row)

    def records_of_visit(self, mdtrt_id: str) -> Sequence[ListRecord]:
        """Every list of the stay (one per settlement), oldest first."""
        rows = self.session.execute(
            select(SettlementListRow)
            .where(
                SettlementListRow.mdtrt_id == mdtrt_id,
                SettlementListRow.fixmedins_code == self.fixmedins_code,
            )
            .order_by(SettlementListRow.first_uploaded_at, SettlementListRow.setl_list_id)
        ).scalars()
        return [_record(r) for r in rows]
