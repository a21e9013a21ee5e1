"""Province-level settings (省级参数): rules a province sets for every pooling region in it.

One setting so far, ``intra_filing_required`` (domain-rules §2.2 FIL-01: "whether 省内异地
care needs a filing is set per province", open question 6 of §10). The values come from
``medroam/data/provinces.json`` (``refdata.provinces``); a province the file does not list
takes the defaults below.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from medroam.domain.region import province_of


@dataclass(frozen=True, slots=True)
class ProvinceSettings:
    province: str  # XX0000
    # 省内异地就医需备案: care in another pooling region of the same province settles
    # directly only when a filing covers it (emergency care counts as filed, FIL-07; a
    # filing made before the discharge settlement counts, FIL-08). False: intra-province
    # care settles directly with or without a filing; without one it is unfiled care
    # and the place of insurance's `unfiled` reduction applies.
    intra_filing_required: bool = False


class ProvinceBook(Mapping[str, ProvinceSettings]):
    """The settings of each province, by ``XX0000`` code; any region code may be asked
    (its province is used) and an unlisted province gets the defaults."""

    __slots__ = ("_by_code",)

    def __init__(self, settings: Mapping[str, ProvinceSettings] | None = None) -> None:
        self._by_code = dict(settings or {})

    def __getitem__(self, code: str) -> ProvinceSettings:
        return self._by_code[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_code)

    def __len__(self) -> int:
        return len(self._by_code)

    def of(self, region: str) -> ProvinceSettings:
        """The settings of the province of ``region`` (a 6-digit region code)."""
        province = province_of(region)
        return self._by_code.get(province) or ProvinceSettings(province)
