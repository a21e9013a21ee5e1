"""Tables of personal-account mutual aid (个人账户共济), on the shared metadata of
``store/tables.py``.

* ``mutual_aid_grants``: one row per holder → beneficiary relationship (共济关系): the
  holder (an employee whose personal account pays) and their insured region, the
  beneficiary (a close relative) and theirs, the relation code, the quota (共济额度, fen)
  and what was used of it, the validity and the status. One holder may aid several
  relatives and one relative may be aided by several holders; one pair has at most one
  active grant.
* ``mutual_aid_draws``: which grant paid how much of one settlement's
  ``acct_mulaid_pay`` (a cancellation's reverse record has its own, negated rows), so a
  cancellation or reversal gives each holder back exactly what was taken and clearing
  credits the holder's place of insurance.

Created by migration ``0018_mutual_aid``.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from medroam.store.tables import Base, UtcDateTime, in_list

GRANT_STATUSES = ("active", "ended")
RELATIONS = ("spouse", "parent", "child", "sibling", "grandparent", "grandchild")
END_REASONS = ("request", "insurance_changed")


class MutualAidGrantRow(Base):
    """One mutual-aid relationship (共济关系) and its quota, fen."""

    __tablename__ = "mutual_aid_grants"
    __table_args__ = (
        CheckConstraint(in_list("status", GRANT_STATUSES), name="status"),
        CheckConstraint(in_list("relation", RELATIONS), name="relation"),
        CheckConstraint(
            f"end_reason IS NULL OR {in_list('end_reason', END_REASONS)}", name="end_reason"
        ),
        CheckConstraint("quota > 0", name="quota_positive"),
        CheckConstraint("used >= 0 AND used <= quota", name="used_within_quota"),
        CheckConstraint("holder_psn_no <> beneficiary_psn_no", name="not_self"),
        Index("ix_mutual_aid_grants_beneficiary", "beneficiary_psn_no", "status"),
        Index("ix_mutual_aid_grants_holder", "holder_psn_no", "status"),
    )

    grant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder_psn_no: Mapped[str] = mapped_column(String(30), ForeignKey("persons.psn_no"))
    holder_region: Mapped[str] = mapped_column(String(6))  # holder's 参保地
    beneficiary_psn_no: Mapped[str] = mapped_column(String(30), ForeignKey("persons.psn_no"))
    beneficiary_region: Mapped[str] = mapped_column(String(6))
    relation: Mapped[str] = mapped_column(String(12))  # Relation (the beneficiary is the …)
    quota: Mapped[int] = mapped_column(BigInteger)  # 共济额度, fen
    used: Mapped[int] = mapped_column(BigInteger)  # paid out so far, fen
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)  # the day it ended
    status: Mapped[str] = mapped_column(String(8))
    end_reason: Mapped[str | None] = mapped_column(String(20))
    returned: Mapped[int | None] = mapped_column(BigInteger)  # unused quota at the end
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class MutualAidDrawRow(Base):
    """The part of one settlement's ``acct_mulaid_pay`` paid by one grant (fen; negative
    on a cancellation's reverse record)."""

    __tablename__ = "mutual_aid_draws"
    __table_args__ = (Index("ix_mutual_aid_draws_grant", "grant_id"),)

    setl_id: Mapped[str] = mapped_column(
        String(30), ForeignKey("settlements.setl_id"), primary_key=True
    )
    grant_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("mutual_aid_grants.grant_id"), primary_key=True
    )
    holder_psn_no: Mapped[str] = mapped_column(String(30))
    holder_region: Mapped[str] = mapped_column(String(6))
    amount: Mapped[int] = mapped_column(BigInteger)
