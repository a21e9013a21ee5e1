"""Tables of the agency console (经办管理系统) and the self-service pages.

* ``officers``: an officer (经办人员) with a role and a region scope, an Argon2 password
  hash, a failure counter and a lock-out time;
* ``officer_sessions``: a signed-in browser (cookie token and CSRF token kept as SHA-256 /
  plain random text), with its expiry;
* ``operation_log``: every change made through the console (操作日志): who, when, what,
  on which object, the state before and after, and refusals (CSRF, out of scope);
* ``self_codes``: one-time sign-in codes of the insured self-service pages (hash only).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from medroam.store.tables import Base, UtcDateTime, in_list

OFFICER_ROLES = ("insured_place", "treatment_place", "province", "nation", "auditor")


class OfficerRow(Base):
    """An officer account of the console."""

    __tablename__ = "officers"
    __table_args__ = (CheckConstraint(in_list("role", OFFICER_ROLES), name="role"),)

    username: Mapped[str] = mapped_column(String(40), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(60))
    role: Mapped[str] = mapped_column(String(20))
    region: Mapped[str | None] = mapped_column(String(6))  # None for the nation
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean)
    failed_logins: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class OfficerSessionRow(Base):
    """A signed-in session: the cookie holds a random token, the table its SHA-256."""

    __tablename__ = "officer_sessions"
    __table_args__ = (Index("ix_officer_sessions_subject", "subject"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # officer | insured
    subject: Mapped[str] = mapped_column(String(40))  # username or psn_no
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class OperationLogRow(Base):
    """One entry of the operations log (操作日志)."""

    __tablename__ = "operation_log"
    __table_args__ = (
        Index("ix_operation_log_at", "at"),
        Index("ix_operation_log_actor", "actor"),
    )

    log_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(40))  # username, psn_no or "-"
    role: Mapped[str] = mapped_column(String(20))
    region: Mapped[str | None] = mapped_column(String(6))
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str] = mapped_column(String(30))
    object_id: Mapped[str] = mapped_column(String(60))
    outcome: Mapped[str] = mapped_column(String(10))  # done | refused
    detail: Mapped[str] = mapped_column(Text)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class SelfCodeRow(Base):
    """A one-time sign-in code sent to an insured person (hash, expiry, used flag)."""

    __tablename__ = "self_codes"

    psn_no: Mapped[str] = mapped_column(String(30), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer)
