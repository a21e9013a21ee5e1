"""3103 feedback (事前事中服务反馈): what the HIS did with a real-time audit finding.

One row per feedback sent (a later feedback on the same ``jr_id`` is a new row; the
newest is the one in force). ``jr_id`` is the id 3101/3102 answered (rule code + '-' +
12 hex); ``rule_id`` is its rule code. Created by migration ``0016_audit_feedback``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from medroam.store.tables import Base, UtcDateTime

# dspo_way 处理方式: 1 继续执行 (keep the order), 2 返回修改 (change it), 3 转自费 (self-pay)
DISPOSALS = {"1": "继续执行医嘱", "2": "返回修改医嘱", "3": "转自费"}


class AuditFeedbackRow(Base):
    __tablename__ = "audit_feedback"
    __table_args__ = (
        CheckConstraint("dspo_way IN ('1', '2', '3')", name="dspo_way"),
        Index("ix_audit_feedback_fixmedins_code_jr_id", "fixmedins_code", "jr_id"),
    )

    feedback_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fixmedins_code: Mapped[str] = mapped_column(String(30))  # the caller (its own data only)
    jr_id: Mapped[str] = mapped_column(String(40))  # warn_rslt_id
    rule_id: Mapped[str] = mapped_column(String(20))
    warn_type: Mapped[str] = mapped_column(String(3))  # 1 事前, 2 事中
    dspo_way: Mapped[str] = mapped_column(String(3))
    dspo_way_rea: Mapped[str] = mapped_column(String(500), default="")  # reason, free text
    mdtrt_id: Mapped[str] = mapped_column(String(30), default="")
    psn_no: Mapped[str] = mapped_column(String(30), default="")
    msgid: Mapped[str] = mapped_column(String(40))  # of the 3103 that sent it
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
