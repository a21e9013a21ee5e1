"""Gateway authentication, per institution (national-interface §2.8, §2.11).

Schemes, chosen by the headers a request carries; each institution may use the schemes
it holds credentials for (``institution_credentials``):

* ``tif``: ``x-tif-paasid``, ``x-tif-timestamp`` (Unix seconds), ``x-tif-nonce``,
  ``x-tif-signature`` = lowercase hex SHA-256 of timestamp + token + nonce + timestamp.
  The nonce may be used once within the time window (``gateway_nonces``).
* ``csb``: ``_api_access_key``, ``_api_name``, ``_api_timestamp`` (ms or s),
  ``_api_version``, ``_api_signature`` = Base64 HMAC-SHA1 (key: the SK) of the four
  parameters sorted and joined as ``k=v&…``. CSB carries no nonce: replays within the
  window are caught by the msgid log, as every CSB gateway does.
* ``apikey``: a static ``apikey`` header, matched against the credential's key id.
* ``none``: no gateway headers; only when the settings allow it (tests, local dev). The
  institution is the one the envelope names.

Verification of the headers (:func:`verify_headers`) reads only; the nonce is recorded
(:func:`record_nonce`) once the request has passed every other check, so a refused
request writes nothing. Each failure raises :class:`AuthError` with its own message,
answered with HTTP 401 as the gateways do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from medroam.gateway.errors import AuthError
from medroam.gateway.registry import Envelope, Institution
from medroam.gateway.settings import GatewaySettings
from medroam.store.tables import CredentialRow, InstitutionRow, NonceRow

TIF_HEADERS = ("x-tif-paasid", "x-tif-timestamp", "x-tif-nonce", "x-tif-signature")
CSB_HEADERS = ("_api_access_key", "_api_name", "_api_timestamp", "_api_version", "_api_signature")
APIKEY_HEADER = "apikey"
MAX_NONCE_LEN = 100
_DIGITS = re.compile(r"[0-9]{1,13}")
_INFNO_LIKE = re.compile(r"[0-9]{4,6}[A-Za-z]?")

# The CSB gateway's own messages (§2.8 a), followed by the precise reason.
MSG_MISSING = "缺少服务网关的请求头!"
MSG_EXPIRED = "签名时间戳超时!"
MSG_UNKNOWN = "非法用户!"
MSG_BAD_SIGNATURE = "签名不一致!"


@dataclass(frozen=True, slots=True)
class Credentials:
    """Who the headers say is calling (verified), before the envelope is compared."""

    scheme: str  # tif / csb / apikey / none
    key_id: str  # paasid / access key / API key; "" for none
    fixmedins_code: str  # the credential's institution; "" for none
    nonce: str = ""  # tif only
    api_name: str = ""  # csb only


# --- signatures (also used by the HIS client) ------------------------------------------


def tif_signature(timestamp: str, token: str, nonce: str) -> str:
    return hashlib.sha256(f"{timestamp}{token}{nonce}{timestamp}".encode()).hexdigest()


def csb_string_to_sign(params: Mapping[str, str]) -> str:
    return "&".join(f"{k}={params[k]}" for k in sorted(params))


def csb_signature(secret: str, params: Mapping[str, str]) -> str:
    """Base64 HMAC-SHA1 over the sorted ``k=v&…`` string of ``params``."""
    digest = hmac.new(
        secret.encode("utf-8"), csb_string_to_sign(params).encode("utf-8"), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode("ascii")


# --- verification ----------------------------------------------------------------------


def verify_headers(
    session: Session, headers: Mapping[str, str], settings: GatewaySettings, now: datetime
) -> Credentials:
    """Check the gateway headers (signature, time window, known key); writes nothing.

    ``headers`` must have lower-case names (as Starlette gives them).
    """
    if any(h in headers for h in TIF_HEADERS):
        return _verify_tif(session, headers, settings, now)
    if any(h in headers for h in CSB_HEADERS):
        return _verify_csb(session, headers, settings, now)
    if APIKEY_HEADER in headers:
        return _verify_apikey(session, headers)
    if settings.allow_unauthenticated:
        return Credentials("none", "", "")
    raise AuthError(
        f"{MSG_MISSING} missing gateway authentication headers (x-tif-*, _api_* or apikey)"
    )


def _require(headers: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    missing = [n for n in names if not headers.get(n, "").strip()]
    if missing:
        raise AuthError(f"{MSG_MISSING} missing header {', '.join(missing)}")
    return {n: headers[n].strip() for n in names}


def _credential(session: Session, scheme: str, key_id: str, label: str) -> CredentialRow:
    row = session.scalars(
        select(CredentialRow).where(CredentialRow.scheme == scheme, CredentialRow.key_id == key_id)
    ).one_or_none()
    if row is None:
        raise AuthError(f"{MSG_UNKNOWN} unknown {label} {key_id[:40]!r}")
    if not row.active:
        raise AuthError(f"{MSG_UNKNOWN} {label} {key_id[:40]!r} is deactivated")
    return row


def _timestamp(value: str, header: str, *, allow_ms: bool) -> datetime | float:
    if not _DIGITS.fullmatch(value):
        raise AuthError(f"{MSG_EXPIRED} {header} must be a Unix time in digits, got {value[:20]!r}")
    number = int(value)
    if allow_ms and len(value) >= 12:  # 13-digit milliseconds (HN); 10 digits are seconds
        return number / 1000
    return float(number)


def _check_window(seconds: float, header: str, now: datetime, window_s: int) -> None:
    skew = now.timestamp() - seconds
    if abs(skew) > window_s:
        direction = "old" if skew > 0 else "in the future"
        raise AuthError(
            f"{MSG_EXPIRED} {header} is {int(abs(skew))} s {direction}, "
            f"outside the {window_s} s window"
        )


def _verify_tif(
    session: Session, headers: Mapping[str, str], settings: GatewaySettings, now: datetime
) -> Credentials:
    h = _require(headers, TIF_HEADERS)
    ts = _timestamp(h["x-tif-timestamp"], "x-tif-timestamp", allow_ms=False)
    assert isinstance(ts, float)
    _check_window(ts, "x-tif-timestamp", now, settings.tif_window_s)
    nonce = h["x-tif-nonce"]
    if len(nonce) > MAX_NONCE_LEN:
        raise AuthError(f"x-tif-nonce is longer than {MAX_NONCE_LEN} characters")
    cred = _credential(session, "tif", h["x-tif-paasid"], "paasid")
    expected = tif_signature(h["x-tif-timestamp"], cred.secret, nonce)
    if not hmac.compare_digest(expected, h["x-tif-signature"].lower()):
        raise AuthError(f"{MSG_BAD_SIGNATURE} bad signature (x-tif-signature)")
    if _nonce_seen(session, cred.key_id, nonce):
        raise AuthError(f"replayed nonce: x-tif-nonce {nonce[:40]!r} was already used")
    return Credentials("tif", cred.key_id, cred.fixmedins_code, nonce=nonce)


def _verify_csb(
    session: Session, headers: Mapping[str, str], settings: GatewaySettings, now: datetime
) -> Credentials:
    h = _require(headers, CSB_HEADERS)
    ts = _timestamp(h["_api_timestamp"], "_api_timestamp", allow_ms=True)
    assert isinstance(ts, float)
    _check_window(ts, "_api_timestamp", now, settings.csb_window_s)
    cred = _credential(session, "csb", h["_api_access_key"], "access key")
    params = {k: h[k] for k in CSB_HEADERS if k != "_api_signature"}
    if not hmac.compare_digest(csb_signature(cred.secret, params), h["_api_signature"]):
        raise AuthError(f"{MSG_BAD_SIGNATURE} bad signature (_api_signature)")
    return Credentials("csb", cred.key_id, cred.fixmedins_code, api_name=h["_api_name"])


def _verify_apikey(session: Session, headers: Mapping[str, str]) -> Credentials:
    key = headers.get(APIKEY_HEADER, "").strip()
    if not key:
        raise AuthError(f"{MSG_MISSING} missing header apikey")
    cred = _credential(session, "apikey", key, "apikey")
    return Credentials("apikey", cred.key_id, cred.fixmedins_code)


def _nonce_seen(session: Session, key_id: str, nonce: str) -> bool:
    found = session.scalar(
        select(NonceRow.nonce_id).where(NonceRow.key_id == key_id, NonceRow.nonce == nonce)
    )
    return found is not None


# --- the institution -------------------------------------------------------------------


def resolve_institution(session: Session, creds: Credentials, envelope: Envelope) -> Institution:
    """The calling institution: the credential's, which the envelope must name."""
    code = envelope.fixmedins_code
    if creds.scheme != "none" and code != creds.fixmedins_code:
        raise AuthError(
            f"institution mismatch: the credentials belong to {creds.fixmedins_code}, "
            f"the envelope's fixmedins_code is {code[:30]!r}"
        )
    if (
        creds.scheme == "csb"
        and _INFNO_LIKE.fullmatch(creds.api_name)
        and creds.api_name.upper() != envelope.infno
    ):
        raise AuthError(
            f"{MSG_BAD_SIGNATURE} _api_name {creds.api_name} does not match infno {envelope.infno}"
        )
    row = session.get(InstitutionRow, code)
    if row is None:
        raise AuthError(f"{MSG_UNKNOWN} unknown institution fixmedins_code {code[:30]!r}")
    if not row.active:
        raise AuthError(f"{MSG_UNKNOWN} institution {code} is not active")
    return Institution(
        code=row.fixmedins_code,
        name=row.name,
        region=row.region,
        level=row.level,
        kind=row.kind,
        networked=row.networked,
    )


def record_nonce(
    session: Session, creds: Credentials, settings: GatewaySettings, now: datetime
) -> None:
    """Remember a TIF nonce, forgetting those too old to be replayed; refuse a replay.

    A replay must carry the original timestamp, valid for ``window`` around now, and the
    original was seen within ``window`` of that timestamp: 2 × window of memory suffices.
    Commits nothing itself; a concurrent replay fails on the unique constraint.
    """
    if creds.scheme != "tif":
        return
    horizon = now - timedelta(seconds=2 * settings.tif_window_s)
    session.execute(delete(NonceRow).where(NonceRow.seen_at < horizon))
    session.add(NonceRow(key_id=creds.key_id, nonce=creds.nonce, seen_at=now))
    try:
        session.flush()
    except IntegrityError:
        raise AuthError(
            f"replayed nonce: x-tif-nonce {creds.nonce[:40]!r} was already used"
        ) from None
