"""Settings of the gateway: authentication windows, limits, the clock.

Every value has a default suited to production except ``allow_unauthenticated``, which
tests and local development switch on. Time comes from ``clock`` (timezone-aware), so
tests can fix it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from medroam.domain.province import ProvinceBook

# China keeps one time zone without daylight saving: UTC+8 is exact.
CHINA_TZ = timezone(timedelta(hours=8), "CST")


def china_now() -> datetime:
    return datetime.now(CHINA_TZ)


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    # Authentication (national-interface §2.8).
    tif_window_s: int = 300  # |now - x-tif-timestamp| allowed
    csb_window_s: int = 1800  # |now - _api_timestamp| allowed (CSB default: 30 minutes)
    # Credentials and institutions are cached in memory this long; a change made by
    # another process (worker) is seen within this time, one made in-process at once.
    auth_cache_ttl_s: float = 10.0
    # How often (seconds) a worker deletes nonces too old to be replayed.
    nonce_prune_interval_s: float = 60.0
    # Nonces a worker remembers having committed, newest first, so that a replay is
    # refused before its handler runs (``auth.SpentNonces``); 0: the database alone.
    nonce_memo_size: int = 100_000
    # Accept requests without gateway headers for any active institution named in the
    # envelope (mode "none"). Off in production.
    allow_unauthenticated: bool = False
    # Regions (mdtrtarea_admvs of the institution) whose institutions must send a valid
    # sign_no from 9001 with every transaction other than 9001 itself (§2.7).
    strict_sign_in_regions: frozenset[str] = frozenset()
    # The receiver's region code in inf_refmsgid; empty: the caller's own region.
    receiver_region: str = ""
    # Limits.
    max_body_bytes: int = 20 * 1024 * 1024  # 9101 uploads are the largest requests
    max_msgid_len: int = 30
    # Files (9101 / 9102): how long an uploaded or produced file can be downloaded.
    file_ttl: timedelta = timedelta(days=1)
    # Log request bodies (masked) at debug level.
    log_bodies: bool = False
    # Province settings (e.g. whether intra-province care needs a filing); None: the
    # packaged data/provinces.json.
    provinces: ProvinceBook | None = None
    # Real-time audit (事中 智能审核) at 2206/2207/2303/2304: warnings at pre-settlement,
    # refusal by refusing rules at settlement (docs/audit-realtime.md). Off: neither.
    audit_realtime: bool = True
    # The audit rule book (a ``RuleBook``); None: the packaged library.
    audit_rule_book: object | None = None
    clock: Callable[[], datetime] = field(default=china_now)
