"""More tables of the agency console: ``prepay_topups``, the tracking of an emergency
top-up of a prepayment (预付金紧急调增) from the request after a red warning to the money
arriving. Created by migration ``0017_console_more``.

A request names the pair (level, payer → payee), the quota year, the warning month it
answers, the amount and the deadline; it is ``requested`` until the payer records the
transfer (with its bank voucher number), which posts the top-up to the quota and the
clearing journal (``services.prepayment.topup_in``) and makes it ``paid``.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from medroam.store.tables import Base, UtcDateTime, in_list

TOPUP_STATES = ("requested", "paid")


class PrepayTopupRow(Base):
    """One tracked emergency top-up of a prepayment."""

    __tablename__ = "prepay_topups"
    __table_args__ = (
        CheckConstraint(in_list("state", TOPUP_STATES), name="state"),
        CheckConstraint("amount_fen > 0", name="amount"),
        Index("ix_prepay_topups_pair", "level", "payer", "payee"),
    )

    topup_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    level: Mapped[str] = mapped_column(String(10))  # national | provincial
    payer: Mapped[str] = mapped_column(String(6))
    payee: Mapped[str] = mapped_column(String(6))
    year: Mapped[int] = mapped_column(Integer)  # the quota's year
    month: Mapped[str] = mapped_column(String(7))  # the warning month it answers (YYYY-MM)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    due_on: Mapped[date | None] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(10))
    requested_by: Mapped[str] = mapped_column(String(40))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    paid_by: Mapped[str | None] = mapped_column(String(40))
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    voucher: Mapped[str | None] = mapped_column(String(60))  # the transfer's voucher number
