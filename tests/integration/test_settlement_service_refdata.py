"""Reference data in the database: the loader is idempotent and faithful, and the
settlement path's cache follows the stored version."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, delete, event, func, select, update

from medroam.refdata.catalogue import load_catalogue
from medroam.refdata.policies import load_policy_book, policy_to_dict
from medroam.refdata.regions import load_regions
from medroam.services.uow import unit_of_work
from medroam.store import refdata_cache
from medroam.store.refdata_loader import load_reference_data
from medroam.store.tables import CatalogueItemRow, PolicyRow, RegionRow

pytestmark = pytest.mark.db


def test_load_is_idempotent(engine: Engine) -> None:
    with unit_of_work(engine) as s:
        first = load_reference_data(s)
    assert [r.skipped for r in first] == [False, False, False]
    assert first[0].inserted == len(load_regions())
    statements: list[str] = []

    def record(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        statements.append(statement.strip().split()[0].upper())

    event.listen(engine, "before_cursor_execute", record)
    try:
        with unit_of_work(engine) as s:
            second = load_reference_data(s)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert all(r.skipped for r in second)
    assert [r.version for r in second] == [r.version for r in first]
    assert not {"INSERT", "UPDATE", "DELETE"} & set(statements)


@pytest.mark.parametrize("region", ["110100", "440300", "440100", "150100"])
def test_catalogue_from_the_database_equals_the_packaged_one(engine: Engine, region: str) -> None:
    refdata_cache.clear_caches()
    with unit_of_work(engine) as s:
        load_reference_data(s, policies=False, regions=False)
        stored = refdata_cache.catalogue_for(s, region)
    packaged = load_catalogue(region)
    assert dict(stored.items) == dict(packaged.items)


def test_policies_from_the_database_equal_the_packaged_ones(engine: Engine) -> None:
    refdata_cache.clear_caches()
    book = load_policy_book()
    with unit_of_work(engine) as s:
        load_reference_data(s, catalogue=False)
        assert s.execute(select(func.count()).select_from(PolicyRow)).scalar_one() == len(book)
        for region, insutype in (("150100", "310"), ("530100", "390"), ("440300", "310")):
            day = date(2025, 6, 1)
            assert policy_to_dict(refdata_cache.policy_for(s, region, insutype, day)) == (
                policy_to_dict(book.find(region, insutype, day))
            )
        with pytest.raises(LookupError, match="no benefit policy"):
            refdata_cache.policy_for(s, "150100", "310", date(1990, 1, 1))


def test_changed_rows_are_synchronised_and_the_cache_follows(engine: Engine) -> None:
    refdata_cache.clear_caches()
    with unit_of_work(engine) as s:
        load_reference_data(s)
        before = refdata_cache.catalogue_for(s, "150100")
        code = sorted(before.items)[0]
        s.execute(
            update(CatalogueItemRow)
            .where(CatalogueItemRow.scope == "national", CatalogueItemRow.code == code)
            .values(level="03")
        )
        s.execute(delete(RegionRow).where(RegionRow.code == "150100"))
        refdata_cache.touch(s, "catalogue")
        refdata_cache.touch(s, "regions")
    with unit_of_work(engine) as s:
        assert refdata_cache.catalogue_for(s, "150100").items[code].level == "03"
        results = {r.name: r for r in load_reference_data(s)}
    assert results["catalogue"].updated == 1 and results["catalogue"].inserted == 0
    assert results["regions"].inserted == 1
    assert results["policies"].skipped
    with unit_of_work(engine) as s:
        assert refdata_cache.catalogue_for(s, "150100").items[code] == before.items[code]


def test_missing_reference_data_is_a_clear_error(engine: Engine) -> None:
    refdata_cache.clear_caches()
    with (
        unit_of_work(engine) as s,
        pytest.raises(refdata_cache.ReferenceDataMissingError, match="load_reference_data"),
    ):
        refdata_cache.catalogue_for(s, "110100")
