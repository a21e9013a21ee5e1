"""Regions (医保区划) and the cross-region classification of a visit.

A region code is the 6-digit administrative division code (GB/T 2260) that the
interface carries as ``insuplc_admdvs`` (place of insurance) and ``mdtrtarea_admvs``
(place of treatment). The first two digits name the province; provinces end in
``0000``. The packaged list of pooling regions (统筹区) is reference data, loaded by
``medroam.refdata.regions``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RegionLevel(StrEnum):
    PROVINCE = "province"  # 省级: 31 provinces, regions, municipalities + 兵团
    PREFECTURE = "prefecture"  # 统筹区: the pooling region a fund belongs to


class RegionKind(StrEnum):
    """What sort of administrative unit a region is."""

    PROVINCE = "province"  # 省 / 自治区
    MUNICIPALITY = "municipality"  # 直辖市 (both its province row and its one pooling region)
    PREFECTURE_CITY = "prefecture_city"  # 地级市
    AREA = "area"  # 地区
    AUTONOMOUS_PREFECTURE = "autonomous_prefecture"  # 自治州
    LEAGUE = "league"  # 盟
    COUNTY_LEVEL = "county_level"  # 省直辖县级行政单位 that pools on its own
    CORPS = "corps"  # 新疆生产建设兵团


# Which kinds each level admits.
LEVEL_KINDS: dict[RegionLevel, frozenset[RegionKind]] = {
    RegionLevel.PROVINCE: frozenset(
        {RegionKind.PROVINCE, RegionKind.MUNICIPALITY, RegionKind.CORPS}
    ),
    RegionLevel.PREFECTURE: frozenset(
        {
            RegionKind.MUNICIPALITY,
            RegionKind.PREFECTURE_CITY,
            RegionKind.AREA,
            RegionKind.AUTONOMOUS_PREFECTURE,
            RegionKind.LEAGUE,
            RegionKind.COUNTY_LEVEL,
            RegionKind.CORPS,
        }
    ),
}


@dataclass(frozen=True, slots=True)
class Region:
    """One province-level unit or pooling region."""

    code: str  # 6-digit admdvs
    name: str
    level: RegionLevel
    province_code: str  # XX0000; a province's own code for a province row
    kind: RegionKind

    @property
    def is_province(self) -> bool:
        return self.level is RegionLevel.PROVINCE


class CrossRegion(StrEnum):
    """How the place of treatment relates to the place of insurance."""

    LOCAL = "local"  # 本地就医: same pooling region
    INTRA_PROVINCE = "intra_province"  # 省内异地
    INTER_PROVINCE = "inter_province"  # 跨省异地


def is_region_code(code: str) -> bool:
    """True for exactly six ASCII digits."""
    return len(code) == 6 and code.isascii() and code.isdigit()


def _require_code(code: str, what: str) -> None:
    if not is_region_code(code):
        raise ValueError(f"{what} must be 6 digits, got {code!r}")


def province_of(code: str) -> str:
    """The province code of a region code: its first two digits + ``0000``."""
    _require_code(code, "region code")
    return code[:2] + "0000"


def classify_visit(insured_region: str, treatment_region: str) -> CrossRegion:
    """Classify a visit from the two region codes (national-interface §7.1).

    Equal codes are local; the same first two digits are intra-province; anything
    else is inter-province.
    """
    _require_code(insured_region, "insured region")
    _require_code(treatment_region, "treatment region")
    if insured_region == treatment_region:
        return CrossRegion.LOCAL
    if insured_region[:2] == treatment_region[:2]:
        return CrossRegion.INTRA_PROVINCE
    return CrossRegion.INTER_PROVINCE


# pay_loc 支付地点: 2 医疗机构, 3 省内异地, 4 跨省异地 (national-interface §6)
_PAY_LOC: dict[CrossRegion, str] = {
    CrossRegion.LOCAL: "2",
    CrossRegion.INTRA_PROVINCE: "3",
    CrossRegion.INTER_PROVINCE: "4",
}


def pay_loc(cross: CrossRegion) -> str:
    """The interface ``pay_loc`` code of a settlement with this classification."""
    return _PAY_LOC[cross]
