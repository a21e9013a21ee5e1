"""Institution scores of a period (机构画像评分), on the shared metadata of
``store/tables.py``: one row per institution and span (the ``months`` months ending
with ``period``), its peer group, features, z-scores, the detector's score, its rank and
the explanation. Created by migration ``0019_institution_scores``, ``months`` added by
``0021_score_months``; a re-run replaces the span."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from medroam.store.tables import Base


class InstitutionScoreRow(Base):
    __tablename__ = "audit_institution_scores"
    __table_args__ = (Index("ix_audit_institution_scores_period", "period"),)

    period: Mapped[str] = mapped_column(String(7), primary_key=True)  # the last month
    months: Mapped[int] = mapped_column(Integer, primary_key=True, server_default="1")
    fixmedins_code: Mapped[str] = mapped_column(String(30), primary_key=True)
    peer_group: Mapped[str] = mapped_column(String(40))
    cases: Mapped[int] = mapped_column(Integer)
    features: Mapped[dict[str, Any]] = mapped_column(JSON)
    z: Mapped[dict[str, Any]] = mapped_column(JSON)
    score: Mapped[float] = mapped_column(Float)  # higher: more unusual
    rank: Mapped[int] = mapped_column(Integer)  # 1 = most unusual
    explanation: Mapped[str] = mapped_column(Text)
