"""Readers of the reference data in the database, cached in memory by version.

The settlement path asks for the place of treatment's catalogue and the place of
insurance's policy on every request. Both are read from ``catalogue_items`` and
``policies`` once per (data-set version, key) and then served from memory. The version
row itself is read at most once every :data:`VERSION_TTL_S` seconds per engine, so the
hot path asks the database nothing. Loading new data (``refdata_loader``) or calling
:func:`touch` replaces the version: this process sees it at once, another process (a
second server worker) within :data:`VERSION_TTL_S` seconds.
"""

from __future__ import annotations

import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from medroam.domain.catalogue import Catalogue, CatalogueItem
from medroam.domain.policy import BenefitPolicy
from medroam.domain.region import is_region_code, province_of
from medroam.refdata.policies import PolicyContext, policy_from_dict
from medroam.store.refdata_loader import (
    CATALOGUE,
    NATIONAL_SCOPE,
    POLICIES,
    generation,
    set_version,
)
from medroam.store.tables import CatalogueItemRow, PolicyRow, RefdataVersionRow

K = TypeVar("K")
V = TypeVar("V")


class ReferenceDataMissingError(LookupError):
    """A data set is not in the database (run ``load_reference_data``)."""


class PolicyNotFoundError(LookupError):
    """No policy of a place of insurance is in force on a day."""


class _Lru(Generic[K, V]):
    """A small thread-safe LRU map."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = make()  # outside the lock: may query the database
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


_national: _Lru[str, Mapping[str, CatalogueItem]] = _Lru(4)
_catalogues: _Lru[tuple[str, str], Catalogue] = _Lru(512)
_policies: _Lru[tuple[str, str, str], tuple[BenefitPolicy, ...]] = _Lru(2048)
# Policies in the database were validated when loaded; re-reading them checks their
# structure but not the region list (which may be newer than the package).
_CONTEXT = PolicyContext()


VERSION_TTL_S = 5.0
# engine → {data-set name: (version, read at (monotonic), loader generation)}
_versions: weakref.WeakKeyDictionary[Engine, dict[str, tuple[str | None, float, int]]] = (
    weakref.WeakKeyDictionary()
)
_versions_lock = threading.Lock()


def version(session: Session, name: str) -> str | None:
    """The stored version of a data set, or None when it was never loaded (cached for
    :data:`VERSION_TTL_S` seconds; a missing data set is asked for every time)."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    now = time.monotonic()
    with _versions_lock:
        cached = _versions.get(engine, {}).get(name)
    if cached is not None and cached[1] > now - VERSION_TTL_S and cached[2] == generation.value:
        return cached[0]
    value = session.execute(
        select(RefdataVersionRow.version).where(RefdataVersionRow.name == name)
    ).scalar_one_or_none()
    if value is not None:
        with _versions_lock:
            _versions.setdefault(engine, {})[name] = (value, now, generation.value)
    return value


def touch(session: Session, name: str, now: datetime | None = None) -> str:
    """Give a data set a new version after changing its rows by hand (cache refresh)."""
    token = "manual-" + uuid.uuid4().hex
    set_version(session, name, token, now or datetime.now(UTC))
    return token


def clear_caches() -> None:
    with _versions_lock:
        _versions.clear()
    _national.clear()
    _catalogues.clear()
    _policies.clear()


def _require(session: Session, name: str) -> str:
    v = version(session, name)
    if v is None:
        raise ReferenceDataMissingError(
            f"reference data {name!r} is not loaded into the database "
            "(run medroam.store.refdata_loader.load_reference_data)"
        )
    return v


def _item(rec: Mapping[Any, Any]) -> CatalogueItem:
    return CatalogueItem(
        code=rec["code"],
        name=rec["name"],
        list_type=rec["list_type"],
        charge_type=rec["charge_type"],
        level=rec["level"],
        selfpay_ratio=rec["selfpay_ratio"],
        price_cap=rec["price_cap"],
        restricted=bool(rec["restricted"]),
        essential=bool(rec["essential"]),
        negotiated=bool(rec["negotiated"]),
        special=bool(rec["special"]),
        synthetic=bool(rec["synthetic"]),
    )


def _scope_items(session: Session, scope: str) -> dict[str, CatalogueItem]:
    table = CatalogueItemRow.__table__
    rows = session.execute(select(table).where(table.c.scope == scope)).mappings()
    return {rec["code"]: _item(rec) for rec in rows}


def catalogue_for(session: Session, region: str) -> Catalogue:
    """The catalogue in force at the place of treatment ``region`` (national list, then
    the province's override rows, then the region's own)."""
    if not is_region_code(region):
        raise ValueError(f"region {region!r} is not a 6-digit region code")
    v = _require(session, CATALOGUE)

    def make() -> Catalogue:
        national = _national.get_or_make(
            v, lambda: MappingProxyType(_scope_items(session, NATIONAL_SCOPE))
        )
        items = dict(national)
        province = province_of(region)
        for scope in (province,) if region == province else (province, region):
            items.update(_scope_items(session, scope))
        synthetic = all(item.synthetic for item in items.values())
        return Catalogue(
            region=region,
            items=MappingProxyType(items),
            source="synthetic" if synthetic else "reference",
        )

    return _catalogues.get_or_make((v, region), make)


def policies_of(session: Session, region: str, insutype: str) -> tuple[BenefitPolicy, ...]:
    """Every version of the policy of ``region`` for ``insutype``, oldest first."""
    v = _require(session, POLICIES)

    def make() -> tuple[BenefitPolicy, ...]:
        rows = session.execute(
            select(PolicyRow.document)
            .where(PolicyRow.region == region, PolicyRow.insutype == insutype)
            .order_by(PolicyRow.effective_from)
        ).scalars()
        return tuple(
            policy_from_dict(doc, file=f"policies table ({region}/{insutype})", context=_CONTEXT)
            for doc in rows
        )

    return _policies.get_or_make((v, region, insutype), make)


def policy_for(session: Session, region: str, insutype: str, on: date) -> BenefitPolicy:
    """The policy of ``region`` for ``insutype`` in force on ``on``."""
    versions = policies_of(session, region, insutype)
    for policy in versions:
        if policy.in_force(on):
            return policy
    raise PolicyNotFoundError(
        f"no benefit policy of the place of insurance {region} for insutype {insutype} is "
        f"in force on {on.isoformat()} ({len(versions)} version(s) stored)"
    )
