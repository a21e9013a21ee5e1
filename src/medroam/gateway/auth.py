"""Gateway authentication, per institution (national-interface §2.8, §2.11).

Schemes, chosen by the headers a request carries; each institution may use the schemes
it holds credentials for (``institution_credentials``):

* ``tif``: ``x-tif-paasid``, ``x-tif-timestamp`` (Unix seconds), ``x-tif-nonce``,
  ``x-tif-signature`` = lowercase hex SHA-256 of timestamp + token + nonce + timestamp.
  The nonce may be used once within the time window (``gateway_nonces``).
* ``csb``: ``_api_access_key``, ``_api_name``, ``_api_timestamp`` (ms or s),
  ``_api_version``, ``_api_signature`` = Base64 HMAC-SHA1 (key: the SK) of the four
  parameters sorted and joined as ``k=v&…``. CSB carries no nonce, and its signature
  covers neither body nor msgid, so a header set could be replayed with another body for
  the whole window: each signature is accepted once within ``csb_window_s`` (remembered
  like a TIF nonce, as ``csb:`` + signature).
* ``apikey``: a static ``apikey`` header, matched against the credential's key id.
* ``none``: no gateway headers; only when the settings allow it (tests, local dev). The
  institution is the one the envelope names.

Verification of the headers (:func:`verify_headers`) reads only, and reads credentials
and institutions from a :class:`Directory` cached in memory (they change rarely; see its
note on invalidation). The nonce is claimed (:func:`record_nonce`, one ``INSERT … ON
CONFLICT DO NOTHING``) in the request's own transaction; a replay finds it taken. Each
failure raises :class:`AuthError` with its own message, answered with HTTP 401 as the
gateways do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from sqlalchemy import Engine, delete, event, select
from sqlalchemy.orm import Session

from medroam.gateway.errors import AuthError
from medroam.gateway.registry import Envelope, Institution
from medroam.gateway.settings import GatewaySettings
from medroam.store.tables import CredentialRow, InstitutionRow, NonceRow
from medroam.store.upsert import insert_new, table_of

K = TypeVar("K")
V = TypeVar("V")

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
CSB_NONCE_PREFIX = "csb:"  # a used CSB signature, kept with the TIF nonces


@dataclass(frozen=True, slots=True)
class Credentials:
    """Who the headers say is calling (verified), before the envelope is compared."""

    scheme: str  # tif / csb / apikey / none
    key_id: str  # paasid / access key / API key; "" for none
    fixmedins_code: str  # the credential's institution; "" for none
    nonce: str = ""  # tif only
    api_name: str = ""  # csb only


@dataclass(frozen=True, slots=True)
class Credential:
    """One row of ``institution_credentials``, as the cache keeps it."""

    scheme: str
    key_id: str
    secret: str
    fixmedins_code: str
    active: bool


@dataclass(frozen=True, slots=True)
class _Entry(Generic[V]):
    value: V
    expires: float


class _TtlMap(Generic[K, V]):
    """A thread-safe map whose entries are forgotten ``ttl`` seconds after being read
    from the database. Misses (None) are not kept: a key created a moment later (by a
    seed, in another process) is found at once."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._data: dict[K, _Entry[V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K, load: Callable[[], V]) -> V:
        now = time.monotonic()
        entry = self._data.get(key)
        if entry is not None and entry.expires > now:
            return entry.value
        value = load()
        if value is None or (isinstance(value, tuple) and value[0] is None):
            return value
        with self._lock:
            if len(self._data) > 100_000:  # bound the memory a key-spraying caller can use
                self._data.clear()
            self._data[key] = _Entry(value, now + self.ttl)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class Directory:
    """Credentials and institutions of one database, cached for ``ttl`` seconds.

    They change rarely (seeding, an agency enrolling, deactivating an institution or
    rotating its keys). A commit in this process that changed an institution or a
    credential through the ORM empties every directory of the process at once (session
    events below); another process (a second worker) sees the change within ``ttl``
    seconds (setting ``auth_cache_ttl_s``, default 10): the price of asking the database
    nothing on the hot path.
    """

    def __init__(self, engine: Engine, ttl: float) -> None:
        _directories.add(self)
        self.engine = engine
        self._credentials: _TtlMap[tuple[str, str], Credential | None] = _TtlMap(ttl)
        self._institutions: _TtlMap[str, tuple[Institution | None, bool]] = _TtlMap(ttl)

    def invalidate(self) -> None:
        self._credentials.clear()
        self._institutions.clear()

    def credential(self, scheme: str, key_id: str) -> Credential | None:
        def load() -> Credential | None:
            with Session(self.engine) as session:
                row = session.scalars(
                    select(CredentialRow).where(
                        CredentialRow.scheme == scheme, CredentialRow.key_id == key_id
                    )
                ).one_or_none()
                if row is None:
                    return None
                return Credential(
                    row.scheme, row.key_id, row.secret, row.fixmedins_code, row.active
                )

        return self._credentials.get((scheme, key_id), load)

    def institution(self, code: str) -> tuple[Institution | None, bool]:
        """The institution of ``code`` (None when unknown) and whether it is active."""

        def load() -> tuple[Institution | None, bool]:
            with Session(self.engine) as session:
                row = session.get(InstitutionRow, code)
                if row is None:
                    return None, False
                institution = Institution(
                    code=row.fixmedins_code,
                    name=row.name,
                    region=row.region,
                    level=row.level,
                    kind=row.kind,
                    networked=row.networked,
                )
                return institution, row.active

        return self._institutions.get(code, load)


_directories: weakref.WeakSet[Directory] = weakref.WeakSet()
_DIRTY = "medroam.directory_changed"


@event.listens_for(Session, "after_flush")
def _note_directory_change(session: Session, _context: object) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, (InstitutionRow, CredentialRow)) for obj in changed):
        session.info[_DIRTY] = True


@event.listens_for(Session, "after_commit")
def _invalidate_after_commit(session: Session) -> None:
    if session.info.pop(_DIRTY, False):
        for directory in list(_directories):
            directory.invalidate()


@event.listens_for(Session, "after_rollback")
def _forget_change(session: Session) -> None:
    session.info.pop(_DIRTY, None)


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
    directory: Directory, headers: Mapping[str, str], settings: GatewaySettings, now: datetime
) -> Credentials:
    """Check the gateway headers (signature, time window, known key); writes nothing.

    ``headers`` must have lower-case names (as Starlette gives them).
    """
    if any(h in headers for h in TIF_HEADERS):
        return _verify_tif(directory, headers, settings, now)
    if any(h in headers for h in CSB_HEADERS):
        return _verify_csb(directory, headers, settings, now)
    if APIKEY_HEADER in headers:
        return _verify_apikey(directory, headers)
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


def _credential(directory: Directory, scheme: str, key_id: str, label: str) -> Credential:
    row = directory.credential(scheme, key_id)
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
    directory: Directory, headers: Mapping[str, str], settings: GatewaySettings, now: datetime
) -> Credentials:
    h = _require(headers, TIF_HEADERS)
    ts = _timestamp(h["x-tif-timestamp"], "x-tif-timestamp", allow_ms=False)
    assert isinstance(ts, float)
    _check_window(ts, "x-tif-timestamp", now, settings.tif_window_s)
    nonce = h["x-tif-nonce"]
    if len(nonce) > MAX_NONCE_LEN:
        raise AuthError(f"x-tif-nonce is longer than {MAX_NONCE_LEN} characters")
    cred = _credential(directory, "tif", h["x-tif-paasid"], "paasid")
    expected = tif_signature(h["x-tif-timestamp"], cred.secret, nonce)
    if not hmac.compare_digest(expected, h["x-tif-signature"].lower()):
        raise AuthError(f"{MSG_BAD_SIGNATURE} bad signature (x-tif-signature)")
    return Credentials("tif", cred.key_id, cred.fixmedins_code, nonce=nonce)


def _verify_csb(
    directory: Directory, headers: Mapping[str, str], settings: GatewaySettings, now: datetime
) -> Credentials:
    h = _require(headers, CSB_HEADERS)
    ts = _timestamp(h["_api_timestamp"], "_api_timestamp", allow_ms=True)
    assert isinstance(ts, float)
    _check_window(ts, "_api_timestamp", now, settings.csb_window_s)
    cred = _credential(directory, "csb", h["_api_access_key"], "access key")
    params = {k: h[k] for k in CSB_HEADERS if k != "_api_signature"}
    if not hmac.compare_digest(csb_signature(cred.secret, params), h["_api_signature"]):
        raise AuthError(f"{MSG_BAD_SIGNATURE} bad signature (_api_signature)")
    return Credentials(
        "csb",
        cred.key_id,
        cred.fixmedins_code,
        nonce=CSB_NONCE_PREFIX + h["_api_signature"][:90],
        api_name=h["_api_name"],
    )


def _verify_apikey(directory: Directory, headers: Mapping[str, str]) -> Credentials:
    key = headers.get(APIKEY_HEADER, "").strip()
    if not key:
        raise AuthError(f"{MSG_MISSING} missing header apikey")
    cred = _credential(directory, "apikey", key, "apikey")
    return Credentials("apikey", cred.key_id, cred.fixmedins_code)


# --- the institution -------------------------------------------------------------------


def resolve_institution(
    directory: Directory, creds: Credentials, envelope: Envelope
) -> Institution:
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
    institution, active = directory.institution(code)
    if institution is None:
        raise AuthError(f"{MSG_UNKNOWN} unknown institution fixmedins_code {code[:30]!r}")
    if not active:
        raise AuthError(f"{MSG_UNKNOWN} institution {code} is not active")
    return institution


def record_nonce(
    session: Session, creds: Credentials, settings: GatewaySettings, now: datetime
) -> None:
    """Claim the request's TIF nonce or CSB signature in the caller's transaction; refuse
    a replay. One statement: ``INSERT … ON CONFLICT DO NOTHING``; a concurrent replay
    waits on the unique key and then finds it taken."""
    if not creds.nonce:
        return
    table = table_of(NonceRow)
    claimed = insert_new(
        session,
        table,
        {"key_id": creds.key_id, "nonce": creds.nonce, "seen_at": now},
        ("key_id", "nonce"),
        table.c.nonce_id,
    )
    if claimed is None:
        raise replay_error(creds, settings)


class SpentNonces:
    """The nonces (and CSB signatures) this worker saw committed, the newest ``size``:
    a replay of one is refused before its handler runs. The database's unique key stays
    the arbiter — a nonce spent on another worker, or pushed out of the memo, is refused
    there, after the handler (everything rolled back) — so the memo only saves work. A
    nonce is remembered only once its transaction has committed: a request that failed
    and was rolled back may be sent again with the same headers."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._lock = threading.Lock()

    def spent(self, creds: Credentials) -> bool:
        return bool(creds.nonce) and (creds.key_id, creds.nonce) in self._seen

    def spend(self, creds: Credentials) -> None:
        if not creds.nonce or self.size <= 0:
            return
        with self._lock:
            self._seen[(creds.key_id, creds.nonce)] = None
            if len(self._seen) > self.size:
                self._seen.popitem(last=False)


def replay_error(creds: Credentials, settings: GatewaySettings) -> AuthError:
    """The refusal of a request whose nonce (or CSB signature) was already used."""
    if creds.scheme == "csb":
        return AuthError(
            f"{MSG_BAD_SIGNATURE} replayed request: this _api_signature was already used "
            f"within the {settings.csb_window_s} s window; sign each request anew"
        )
    return AuthError(f"replayed nonce: x-tif-nonce {creds.nonce[:40]!r} was already used")


def forget_old_nonces(session: Session, settings: GatewaySettings, now: datetime) -> None:
    """Delete the nonces too old to be replayed. A replay must carry the original
    timestamp, valid for ``window`` around now, and the original was seen within
    ``window`` of that timestamp: 2 × the longer window of memory suffices. Called now
    and then (``nonce_prune_interval_s``), not on every request."""
    window = max(settings.tif_window_s, settings.csb_window_s)
    horizon = now - timedelta(seconds=2 * window)
    session.execute(delete(NonceRow).where(NonceRow.seen_at < horizon))
