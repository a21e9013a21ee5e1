"""The truth of planted anomalies (``medroam sim --anomalies``), kept apart from every
table the audit reads: ``sim_anomaly_truth``, one row per planted visit-level violation
(family, rule, the encounter's settlement or the refusal it met) or fraudulent
institution (its scheme). Created by migration ``0014_sim_truth``."""

from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from medroam.store.tables import Base

TRUTH_LEVELS = ("visit", "institution")


class SimTruthRow(Base):
    __tablename__ = "sim_anomaly_truth"
    __table_args__ = (
        CheckConstraint("level IN ('visit', 'institution')", name="level"),
        Index("ix_sim_anomaly_truth_period", "period"),
    )

    truth_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM of the encounter (or window start)
    level: Mapped[str] = mapped_column(String(12))
    family: Mapped[str] = mapped_column(String(40))  # a mechanism name, or a fraud scheme
    rule_code: Mapped[str] = mapped_column(String(40), default="")
    encounter_key: Mapped[str] = mapped_column(String(80), default="")
    setl_id: Mapped[str | None] = mapped_column(String(30), nullable=True)
    fixmedins_code: Mapped[str] = mapped_column(String(20))
    psn_no: Mapped[str] = mapped_column(String(30), default="")
    day: Mapped[date | None] = mapped_column(Date, nullable=True)  # settlement day
    refusal: Mapped[str] = mapped_column(String(400), default="")  # met at the gateway
