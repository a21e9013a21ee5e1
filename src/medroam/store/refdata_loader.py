"""Copy the packaged reference data (regions, catalogue, policies) into the database.

``load_reference_data(session)`` fills ``regions``, ``catalogue_items`` and ``policies``
from the packaged, validated files and records each data set's content hash in
``refdata_versions``. It is idempotent: when the stored hash equals the packaged data's,
the data set is skipped, so a second run reads one row per data set and writes nothing.
When they differ, the rows are synchronised by primary key (bulk inserts, updates of
changed rows only, deletes of rows no longer packaged) and the version is replaced, which
also invalidates the readers' caches (``store.refdata_cache``).

Catalogue layout: scope ``national`` holds the national list; scope ``XX0000`` (province)
or a region code holds, for each item that the scope's override file changes, the item
as it stands at that scope (so a region row already includes its province's override).
A reader builds the catalogue of region R as national ← province(R) ← R.

The session's transaction is the caller's: nothing here commits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from importlib.resources import files
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select, tuple_, update
from sqlalchemy.orm import Session

from medroam.domain.catalogue import CatalogueItem
from medroam.domain.region import is_region_code
from medroam.refdata.catalogue import load_catalogue, load_national_catalogue, load_typical_prices
from medroam.refdata.policies import load_policy_book, policy_to_dict
from medroam.refdata.regions import load_regions
from medroam.store.tables import Base, CatalogueItemRow, PolicyRow, RefdataVersionRow, RegionRow

NATIONAL_SCOPE = "national"
REGIONS = "regions"
CATALOGUE = "catalogue"
POLICIES = "policies"
_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What one data set's load did."""

    name: str
    version: str
    skipped: bool  # the stored version was already the packaged one
    inserted: int = 0
    updated: int = 0
    deleted: int = 0


def load_reference_data(
    session: Session,
    *,
    regions: bool = True,
    catalogue: bool = True,
    policies: bool = True,
    now: datetime | None = None,
) -> list[LoadResult]:
    """Load the chosen packaged data sets into the database (idempotent)."""
    at = now or datetime.now(UTC)
    results: list[LoadResult] = []
    if regions:
        results.append(_sync(session, REGIONS, RegionRow, *_packaged(REGIONS), at))
    if catalogue:
        results.append(_sync(session, CATALOGUE, CatalogueItemRow, *_packaged(CATALOGUE), at))
    if policies:
        results.append(_sync(session, POLICIES, PolicyRow, *_packaged(POLICIES), at))
    return results


@cache
def _packaged(name: str) -> tuple[tuple[dict[str, Any], ...], str]:
    """The rows of a packaged data set and their hash (the package does not change while
    the process runs). Callers must not mutate the rows."""
    make = {REGIONS: region_rows, CATALOGUE: catalogue_rows, POLICIES: policy_rows}[name]
    rows = tuple(make())
    return rows, content_hash(rows)


# --- rows of the packaged data -----------------------------------------------------------


def region_rows() -> list[dict[str, Any]]:
    return [
        {
            "code": r.code,
            "name": r.name,
            "level": r.level.value,
            "province_code": r.province_code,
            "kind": r.kind.value,
        }
        for r in load_regions()
    ]


def item_row(scope: str, item: CatalogueItem, typical_price: int | None) -> dict[str, Any]:
    return {
        "scope": scope,
        "code": item.code,
        "name": item.name,
        "list_type": item.list_type,
        "charge_type": item.charge_type,
        "level": item.level,
        "selfpay_ratio": item.selfpay_ratio,
        "price_cap": item.price_cap,
        "typical_price": typical_price,
        "restricted": item.restricted,
        "essential": item.essential,
        "negotiated": item.negotiated,
        "special": item.special,
        "synthetic": item.synthetic,
    }


def _override_scopes() -> list[str]:
    directory = files("medroam").joinpath("data", "catalogue", "overrides")
    if not directory.is_dir():
        return []
    scopes = [n.name.removesuffix(".csv") for n in directory.iterdir() if n.name.endswith(".csv")]
    # provinces first, so that a region's parent is known when it is compared
    return sorted((s for s in scopes if is_region_code(s)), key=lambda s: (s[2:] != "0000", s))


def catalogue_rows() -> list[dict[str, Any]]:
    national = load_national_catalogue()
    prices = load_typical_prices()
    rows = [item_row(NATIONAL_SCOPE, item, prices.get(code)) for code, item in national.items()]
    for scope in _override_scopes():
        items = load_catalogue(scope).items
        province = scope[:2] + "0000"
        parent: Mapping[str, CatalogueItem] = (
            national if scope == province else load_catalogue(province).items
        )
        for code, item in items.items():
            if parent.get(code) != item:
                rows.append(item_row(scope, item, prices.get(code)))
    return rows


def policy_rows() -> list[dict[str, Any]]:
    return [
        {
            "region": p.region,
            "insutype": p.insutype,
            "effective_from": p.effective_from,
            "effective_to": p.effective_to,
            "document": policy_to_dict(p),
            "synthetic": p.synthetic,
            "source": p.source[:200],
        }
        for p in load_policy_book()
    ]


# --- synchronisation ---------------------------------------------------------------------


def content_hash(rows: Iterable[Mapping[str, Any]]) -> str:
    digest = hashlib.sha256()
    for row in sorted(
        json.dumps(r, sort_keys=True, ensure_ascii=False, default=_plain) for r in rows
    ):
        digest.update(row.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def _plain(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot hash {type(value).__name__}")


class _Generation:
    """Bumped whenever this process writes a data-set version: the version readers of
    ``refdata_cache`` forget what they cached (another process sees the new version once
    its cached one expires)."""

    value = 0


generation = _Generation()


def set_version(session: Session, name: str, version: str, at: datetime) -> None:
    generation.value += 1
    row = session.get(RefdataVersionRow, name)
    if row is None:
        session.add(RefdataVersionRow(name=name, version=version, loaded_at=at))
    else:
        row.version = version
        row.loaded_at = at
    session.flush()


def _sync(
    session: Session,
    name: str,
    model: type[Base],
    rows: Sequence[dict[str, Any]],
    version: str,
    at: datetime,
) -> LoadResult:
    stored = session.get(RefdataVersionRow, name)
    if stored is not None and stored.version == version:
        return LoadResult(name, version, skipped=True)

    table = cast(Table, model.__table__)
    pk = [c.name for c in table.primary_key.columns]
    columns = [c.name for c in table.columns]
    existing: dict[tuple[Any, ...], dict[str, Any]] = {}
    for rec in session.execute(select(table)).mappings():
        existing[tuple(rec[k] for k in pk)] = dict(rec)

    wanted = {tuple(r[k] for k in pk): r for r in rows}
    to_insert = [dict(r) for key, r in wanted.items() if key not in existing]
    to_update = [
        dict(r)
        for key, r in wanted.items()
        if key in existing and any(existing[key][c] != r[c] for c in columns)
    ]
    to_delete = [key for key in existing if key not in wanted]

    for chunk in _chunks(to_delete):
        session.execute(delete(table).where(tuple_(*(table.c[k] for k in pk)).in_(chunk)))
    for chunk in _chunks(to_insert):
        session.execute(insert(table), chunk)
    if to_update:
        session.execute(update(model), to_update)  # ORM bulk update by primary key
    set_version(session, name, version, at)
    return LoadResult(
        name,
        version,
        skipped=False,
        inserted=len(to_insert),
        updated=len(to_update),
        deleted=len(to_delete),
    )


def _chunks(items: Sequence[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield list(items[start : start + _CHUNK])


__all__ = [
    "CATALOGUE",
    "NATIONAL_SCOPE",
    "POLICIES",
    "REGIONS",
    "LoadResult",
    "catalogue_rows",
    "content_hash",
    "load_reference_data",
    "policy_rows",
    "region_rows",
    "set_version",
]
