"""Synthetic insured persons: names, ID numbers, birth dates, vouchers.

Everything here is SYNTHETIC and deterministic: the caller hands in a seeded
``random.Random`` and a seeded Faker (``zh_CN``), and the same seeds give the same people.

ID numbers (公民身份号码, GB 11643-1999) are valid: the address code is a county-level
code of the person's pooling region (GB/T 2260 codes from Faker's ``zh_CN`` list, whose
first four digits are the region's), or the region's own code when no county of it is
known (renamed or new prefectures, 省直辖县级 units, 兵团); the birth date is the
person's; the sequence code's last digit is odd for men and even for women; the check
character is computed by :func:`medroam.domain.identity.check_digit`.
"""

from __future__ import annotations

import random
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from faker import Faker
from faker.providers.ssn.zh_CN import Provider as _ZhSsnProvider

from medroam.domain.identity import GENDER_FEMALE, GENDER_MALE, check_digit
from medroam.domain.region import RegionKind
from medroam.refdata.regions import load_regions

FAKER_LOCALE = "zh_CN"
CERT_TYPE_ID_CARD = "01"  # psn_cert_type 居民身份证
VOUCHER_E = "01"  # mdtrt_cert_type 医保电子凭证
VOUCHER_ID = "02"  # 居民身份证
VOUCHER_CARD = "03"  # 社会保障卡

# 民族 (GB 3304): most people are 汉族; some provinces have large minorities.
NATY_HAN = "01"
_MINORITIES: dict[str, tuple[tuple[str, int], ...]] = {
    "15": (("02", 18),),  # 内蒙古: 蒙古族
    "45": (("08", 30),),  # 广西: 壮族
    "52": (("06", 12), ("07", 5)),  # 贵州: 苗族, 彝族 (and others)
    "53": (("07", 11), ("06", 3)),  # 云南: 彝族, 苗族
    "54": (("04", 85),),  # 西藏: 藏族
    "63": (("04", 25), ("03", 15)),  # 青海: 藏族, 回族
    "64": (("03", 35),),  # 宁夏: 回族
    "65": (("05", 45), ("03", 5)),  # 新疆: 维吾尔族, 回族
}


@cache
def county_prefixes(region_code: str) -> tuple[str, ...]:
    """The county-level address codes that belong to a pooling region.

    For a prefecture (``XXYY00``): the codes ``XXYYZZ`` of Faker's ``zh_CN`` list other
    than ``XXYY00`` and the ``XXYY01`` 市辖区 placeholder (kept for the 直辖市, where
    ``XX0101`` is a real district). Regions without such codes — and county-level regions,
    whose own code is the county — give ``(region_code,)``.
    """
    if region_code[4:] != "00":
        return (region_code,)
    region = load_regions().get(region_code)
    municipality = region is not None and region.kind is RegionKind.MUNICIPALITY
    found = sorted(
        {
            code
            for code in _ZhSsnProvider.area_codes
            if code[:4] == region_code[:4]
            and code[4:] != "00"
            and (municipality or code[4:] != "01")
        }
    )
    return tuple(found) or (region_code,)


def make_id_number(
    rng: random.Random,
    address_code: str,
    birth: date,
    gender: str,
    taken: Collection[str] = (),
) -> str:
    """A valid 18-character ID number for the given address code, birth date and gender
    (``"1"`` male, ``"2"`` female), different from every number in ``taken``."""
    if gender not in (GENDER_MALE, GENDER_FEMALE):
        raise ValueError(f"gender must be {GENDER_MALE!r} or {GENDER_FEMALE!r}, got {gender!r}")
    for _ in range(1000):
        order = rng.randrange(0, 100)  # 派出所 / sequence
        last = rng.randrange(1, 10, 2) if gender == GENDER_MALE else rng.randrange(0, 10, 2)
        body = f"{address_code}{birth:%Y%m%d}{order:02d}{last}"
        number = body + check_digit(body)
        if number not in taken:
            return number
    raise RuntimeError(f"no free ID number for {address_code} born {birth}")  # pragma: no cover


def birth_date_for_age(rng: random.Random, reference: date, low: int, high: int) -> date:
    """A birth date giving an age in [low, high] on ``reference``."""
    latest = _years_before(reference, low)
    earliest = _years_before(reference, high + 1) + timedelta(days=1)
    return earliest + timedelta(days=rng.randrange((latest - earliest).days + 1))


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


EMPLOYERS_PER_REGION = 8
SYNTHETIC_MARK = "（模拟）"  # every synthetic institution and employer name ends with it


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a synthetic person is (the 1101 ``baseinfo`` part) and their vouchers."""

    certno: str
    name: str
    gender: str  # gend: 1 male, 2 female
    birth_date: date
    naty: str
    phone: str
    address: str
    e_voucher: str  # mdtrt_cert_type 01: the e-voucher token (医保电子凭证)
    card_no: str  # mdtrt_cert_type 03: social-security card number (社会保障卡号)
    card_sn: str  # 卡识别码


class PeopleFactory:
    """Makes the synthetic people of one pooling region.

    ``rng`` and ``faker`` must be seeded by the caller; ``taken`` collects the ID numbers
    issued so far (shared by the whole region, so that none repeats).
    """

    def __init__(
        self,
        rng: random.Random,
        faker: Faker,
        region_code: str,
        region_name: str,
    ) -> None:
        self.rng = rng
        self.faker = faker
        self.region_code = region_code
        self.region_name = region_name
        self.prefixes = county_prefixes(region_code)
        self.taken: set[str] = set()
        self._employers = 0
        self._minorities = _MINORITIES.get(region_code[:2], ())

    def _naty(self) -> str:
        roll = self.rng.randrange(100)
        for code, share in self._minorities:
            if roll < share:
                return code
            roll -= share
        return NATY_HAN

    def identity(self, index: int, birth: date, gender: str) -> Identity:
        """The ``index``-th person of the region (``index`` makes the card number
        unique within the region)."""
        rng, fake = self.rng, self.faker
        prefix = self.prefixes[rng.randrange(len(self.prefixes))]
        certno = make_id_number(rng, prefix, birth, gender, self.taken)
        self.taken.add(certno)
        first = fake.first_name_male() if gender == GENDER_MALE else fake.first_name_female()
        name = fake.last_name() + first
        address = f"{self.region_name}{fake.street_address()}"
        token = "".join(rng.choice("0123456789ABCDEF") for _ in range(32))
        card_no = (
            f"{self.region_code}{chr(ord('A') + index % 26)}{index:04d}{rng.randrange(1000):03d}"
        )
        card_sn = f"{self.region_code}D156{rng.getrandbits(88):022X}"
        return Identity(
            certno=certno,
            name=name,
            gender=gender,
            birth_date=birth,
            naty=self._naty(),
            phone=fake.phone_number(),
            address=address,
            e_voucher=f"EC{self.region_code}{token}",
            card_no=card_no,
            card_sn=card_sn,
        )

    def employer(self) -> str:
        """An obviously synthetic employer of the region, e.g. ``成都市测试第3用人单位（模拟）``
        (Faker's zh_CN company names read like real companies). Eight per region, taken in
        turn; no random draw, so the people drawn after it are unchanged."""
        self._employers += 1
        n = (self._employers - 1) % EMPLOYERS_PER_REGION + 1
        return f"{self.region_name}测试第{n}用人单位（模拟）"
