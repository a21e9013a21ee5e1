"""The truth of planted anomalies: stored after a simulation, read by ``medroam audit
evaluate``. Apart from every table the audit reads (``store/sim_truth_tables.py``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine, delete, insert, select

from medroam.services.uow import unit_of_work
from medroam.sim.anomalies import Planted
from medroam.sim.driver import Books
from medroam.store.sim_truth_tables import SimTruthRow
from medroam.store.tables import SettlementRow


@dataclass(frozen=True, slots=True)
class TruthRow:
    level: str  # "visit" | "institution"
    family: str  # mechanism name, or fraud scheme for an institution
    rule_code: str
    setl_id: str | None  # the planted visit's settlement (None: refused, or an institution)
    mdtrt_id: str | None
    fixmedins_code: str
    psn_no: str
    refusal: str  # what the gateway answered if it refused the planted visit


def rows_of(planted: Sequence[Planted], books: Books, start: date) -> list[dict[str, object]]:
    """The truth rows of a run: each planted visit with the settlement the HIS booked
    for it (the original, not a cancellation) or the refusal it met."""
    settled = {s.key: s for s in books.settled if not s.reverse}
    out: list[dict[str, object]] = []
    for p in planted:
        s = settled.get(p.encounter_key) if p.encounter_key else None
        day = s.day if s is not None else start
        out.append(
            {
                "period": f"{day:%Y-%m}",
                "level": p.level,
                "family": p.family,
                "rule_code": p.rule_code,
                "encounter_key": p.encounter_key,
                "setl_id": s.setl_id if s is not None else None,
                "fixmedins_code": p.fixmedins_code,
                "psn_no": p.psn_no,
                "day": s.day if s is not None else None,
                "refusal": books.refused.get(p.encounter_key, "")[:400] if s is None else "",
            }
        )
    return out


def store(engine: Engine, rows: Iterable[Mapping[str, object]]) -> int:
    """Replace the truth of the periods these rows are in (one transaction)."""
    batch = [dict(r) for r in rows]
    periods = sorted({str(r["period"]) for r in batch})
    with unit_of_work(engine) as session:
        if periods:
            session.execute(delete(SimTruthRow).where(SimTruthRow.period.in_(periods)))
        if batch:
            session.execute(insert(SimTruthRow), batch)
    return len(batch)


def truth_for_period(engine: Engine, period: str) -> list[TruthRow]:
    """The planted truth of a month ``YYYY-MM`` (institution rows of the month too)."""
    with unit_of_work(engine) as session:
        rows = session.execute(
            select(SimTruthRow, SettlementRow.mdtrt_id)
            .outerjoin(SettlementRow, SettlementRow.setl_id == SimTruthRow.setl_id)
            .where(SimTruthRow.period == period)
            .order_by(SimTruthRow.truth_id)
        ).all()
        return [
            TruthRow(
                t.level,
                t.family,
                t.rule_code,
                t.setl_id,
                mdtrt_id,
                t.fixmedins_code,
                t.psn_no,
                t.refusal,
            )
            for t, mdtrt_id in rows
        ]
