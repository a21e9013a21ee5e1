"""Officer accounts, sessions, CSRF tokens, lock-out and the operations log.

* Passwords are hashed with Argon2id (argon2-cffi); a wrong password counts a failure,
  ``max_failures`` failures in a row lock the account for ``lockout_minutes``.
* A session is a random cookie token whose SHA-256 is stored with its expiry and its CSRF
  token; every POST form carries the CSRF token and is refused (and logged) otherwise.
* Every change and every refusal is written to ``operation_log``.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from medroam.services.officers import password_hasher
from medroam.services.uow import unit_of_work
from medroam.store.console_tables import (
    OfficerRow,
    OfficerSessionRow,
    OperationLogRow,
)

log = logging.getLogger("medroam.web")

NATION = "nation"
PROVINCE = "province"
AUDITOR = "auditor"
OFFICER = "officer"
INSURED = "insured"


@dataclass(frozen=True, slots=True)
class WebSettings:
    session_minutes: int = 30
    secure_cookie: bool = False
    max_failures: int = 5
    lockout_minutes: int = 15
    code_minutes: int = 10


@dataclass(frozen=True, slots=True)
class Officer:
    """A signed-in officer and their scope (region None: the whole nation)."""

    username: str
    display_name: str
    role: str
    region: str | None

    def covers(self, region: str | None) -> bool:
        """Whether a region (pooling region or province) lies in the officer's scope."""
        if self.role == NATION:
            return True
        if region is None or self.region is None:
            return False
        if self.role == PROVINCE or self.region.endswith("0000"):
            return region[:2] == self.region[:2]
        return region == self.region

    def covers_any(self, *regions: str | None) -> bool:
        return any(self.covers(r) for r in regions)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class LoginError(Exception):
    """Why a sign-in failed, in Chinese (never says whether the user exists)."""


def authenticate(
    engine: Engine, username: str, password: str, now: datetime, settings: WebSettings
) -> Officer:
    """The officer, or :class:`LoginError`; counts failures and locks the account.

    The failure count and the log entry are committed before the error is raised."""
    locked = f"连续登录失败次数过多，账户已锁定，请于 {settings.lockout_minutes} 分钟后再试"
    error: str | None = None
    officer: Officer | None = None
    with unit_of_work(engine) as session:
        row = session.get(OfficerRow, username, with_for_update=True)

        def log_login(outcome: str, detail: str) -> None:
            # Every attempt is logged; an unknown user is logged without a role or region.
            if row is not None and row.active:
                actor, role, region = username, row.role, row.region
            else:
                actor, role, region = "-", "-", None
            _write_log(
                session, now, actor, role, region, "login", "officer", username, outcome, detail
            )

        if row is None or not row.active:
            error = "用户名或密码错误"
            log_login("refused", "未知用户或已停用")
        elif row.locked_until is not None and row.locked_until > now:
            error = locked
            log_login("refused", "账户已锁定")
        else:
            ok: bool
            try:
                ok = password_hasher.verify(row.password_hash, password)
            except (VerificationError, InvalidHashError):
                ok = False
            if ok:
                row.failed_logins = 0
                row.locked_until = None
                officer = Officer(row.username, row.display_name, row.role, row.region)
                log_login("done", "登录")
            else:
                row.failed_logins += 1
                detail = f"密码错误（连续第 {row.failed_logins} 次）"
                error = "用户名或密码错误"
                if row.failed_logins >= settings.max_failures:
                    row.locked_until = now + timedelta(minutes=settings.lockout_minutes)
                    row.failed_logins = 0
                    detail += "，账户锁定"
                    error = locked
                log_login("refused", detail)
    if officer is None:
        raise LoginError(error or "用户名或密码错误")
    return officer


def open_session(
    engine: Engine, kind: str, subject: str, now: datetime, settings: WebSettings
) -> tuple[str, str]:
    """A new session: (cookie token, CSRF token)."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with unit_of_work(engine) as session:
        session.execute(delete(OfficerSessionRow).where(OfficerSessionRow.expires_at < now))
        session.add(
            OfficerSessionRow(
                token_hash=sha256(token),
                kind=kind,
                subject=subject,
                csrf_token=csrf,
                created_at=now,
                expires_at=now + timedelta(minutes=settings.session_minutes),
            )
        )
    return token, csrf


@dataclass(frozen=True, slots=True)
class SessionInfo:
    kind: str
    subject: str
    csrf: str
    officer: Officer | None


def load_session(
    engine: Engine, token: str | None, kind: str, now: datetime, settings: WebSettings
) -> SessionInfo | None:
    """The live session of a cookie token (sliding expiry), or None."""
    if not token or len(token) > 100:
        return None
    with unit_of_work(engine) as session:
        row = session.get(OfficerSessionRow, sha256(token))
        if row is None or row.kind != kind:
            return None
        if row.expires_at <= now:
            session.delete(row)
            return None
        row.expires_at = now + timedelta(minutes=settings.session_minutes)
        officer = None
        if kind == OFFICER:
            o = session.get(OfficerRow, row.subject)
            if o is None or not o.active:
                return None
            officer = Officer(o.username, o.display_name, o.role, o.region)
        return SessionInfo(row.kind, row.subject, row.csrf_token, officer)


def close_session(engine: Engine, token: str | None) -> None:
    if not token:
        return
    with unit_of_work(engine) as session:
        session.execute(
            delete(OfficerSessionRow).where(OfficerSessionRow.token_hash == sha256(token))
        )


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and secrets.compare_digest(expected.encode(), (given or "").encode())


def _write_log(
    session: Session,
    now: datetime,
    actor: str,
    role: str,
    region: str | None,
    action: str,
    object_type: str,
    object_id: str,
    outcome: str,
    detail: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    session.add(
        OperationLogRow(
            at=now,
            actor=actor[:40],
            role=role[:20],
            region=region,
            action=action[:40],
            object_type=object_type[:30],
            object_id=object_id[:60],
            outcome=outcome,
            detail=detail,
            before=before,
            after=after,
        )
    )
    if outcome == "refused":
        log.warning("refused %s %s %s by %s: %s", action, object_type, object_id, actor, detail)


def record(
    session: Session,
    now: datetime,
    who: Officer | None,
    action: str,
    object_type: str,
    object_id: str,
    *,
    outcome: str = "done",
    detail: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    actor: str | None = None,
) -> None:
    """Write one operations-log entry inside the caller's unit of work."""
    _write_log(
        session,
        now,
        actor or (who.username if who else "-"),
        who.role if who else INSURED,
        who.region if who else None,
        action,
        object_type,
        object_id,
        outcome,
        detail,
        before,
        after,
    )


def record_now(
    engine: Engine,
    now: datetime,
    who: Officer | None,
    action: str,
    object_type: str,
    object_id: str,
    **kw: Any,
) -> None:
    """:func:`record` in its own unit of work (refusals: nothing else is written)."""
    with unit_of_work(engine) as session:
        record(session, now, who, action, object_type, object_id, **kw)
