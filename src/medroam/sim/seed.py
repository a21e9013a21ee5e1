"""The demo nation: institutions, insured persons, filings and agency tokens, in memory.

:func:`plan_region` builds everything that belongs to one pooling region from
``(seed, region, as_of)`` alone, with its own random stream, so a region comes out the
same whether it is seeded alone or with the whole nation, and a second seed run can add
regions to a first. Nothing here touches a database (``medroam.services.seed`` writes the
plan); everything is SYNTHETIC.

Per pooling region:

* institutions: a 三级 ``<region>测试第一人民医院（模拟）``, a 二级
  ``<region>测试第二人民医院（模拟）`` and a 一级 ``<region>测试社区卫生服务中心（模拟）``
  (codes ``H`` + region + 5 digits), all networked for
  cross-province settlement, each with TIF credentials (paasid + token); the 三级 and 二级
  ones also with a CSB access key and secret. The referral centres 北京, 上海, 广州, 成都 and
  武汉 have two more 三级 hospitals.
* persons (24 by default, both insurance types): one of each filing type (异地安置退休,
  长期居住, 常驻工作, 转诊 to a national centre, 急诊抢救, 其他临时外出) and unfiled people
  (a migrant worker, an emergency on a journey, local people); civil servants
  (psn_type 1102/1202), medical-assistance categories (特困, 低保, 低保边缘, 返贫致贫),
  chronic-disease qualifications (dialysis, diabetes, …), personal-account balances for
  employees, and three vouchers each (e-voucher, ID card, social-security card).
* agency tokens: 参保地经办 (``insured_place``) and 就医地经办 (``treatment_place``) of the
  region; one ``province`` token per province and one ``nation`` token.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from faker import Faker

from medroam.domain.chronic import ChronicDisease
from medroam.domain.codes import (
    INSUTYPE_EMPLOYEE,
    INSUTYPE_RESIDENT,
    AssistanceCategory,
    FilingType,
)
from medroam.domain.filing import Filing, FilingChannel, FilingRequest, new_filing
from medroam.domain.identity import GENDER_FEMALE, GENDER_MALE
from medroam.domain.policy import FilingRules
from medroam.domain.region import Region
from medroam.sim.people import (
    FAKER_LOCALE,
    SYNTHETIC_MARK,
    Identity,
    PeopleFactory,
    age_on,
    birth_date_for_age,
)

GENERATOR_VERSION = 1  # bump when a change makes the same seed give other data
PERSONS_PER_REGION = 24
MIN_PERSONS_PER_REGION = 20
CHINA_TZ = timezone(timedelta(hours=8), "CST")
# Ages are computed on this day, so that people do not change with --as-of.
REFERENCE_DAY = date(2026, 1, 1)

ROLE_INSURED_PLACE = "insured_place"  # 参保地经办
ROLE_TREATMENT_PLACE = "treatment_place"  # 就医地经办
ROLE_PROVINCE = "province"  # 省级经办
ROLE_NATION = "nation"  # 国家级
ROLES = (ROLE_INSURED_PLACE, ROLE_TREATMENT_PLACE, ROLE_PROVINCE, ROLE_NATION)

# National referral centres (转诊): 北京, 上海, 广州, 成都, 武汉, by province (first two digits).
CENTRES = {
    "beijing": "110100",
    "shanghai": "310100",
    "guangzhou": "440100",
    "chengdu": "510100",
    "wuhan": "420100",
}
_CENTRE_OF_PROVINCE = {
    **dict.fromkeys(
        ("11", "12", "13", "14", "15", "21", "22", "23", "61", "62", "63", "64", "65", "66"),
        "110100",
    ),
    **dict.fromkeys(("31", "32", "33", "34", "35", "36", "37"), "310100"),
    **dict.fromkeys(("44", "45", "46"), "440100"),
    **dict.fromkeys(("50", "51", "52", "53", "54"), "510100"),
    **dict.fromkeys(("41", "42", "43"), "420100"),
}
# Where retirees resettle and where people are posted to work.
RETIREMENT_CITIES = (
    "110100", "310100", "440100", "440300", "460200", "460100", "530100", "510100",
    "330100", "210200", "370200", "350200", "320100", "120100", "500100", "420100",
)  # fmt: skip
WORK_CITIES = ("110100", "310100", "440300", "440100", "330100", "320500", "320100", "500100")
CHANNELS = (
    FilingChannel.NATIONAL_APP,
    FilingChannel.NATIONAL_APP,
    FilingChannel.MINI_PROGRAM,
    FilingChannel.MINI_PROGRAM,
    FilingChannel.GOV_APP,
    FilingChannel.COUNTER,
    FilingChannel.PHONE,
)


@dataclass(frozen=True, slots=True)
class Profile:
    """A kind of demo person: what they are insured for and what brings them elsewhere."""

    key: str
    insutype: str
    psn_types: tuple[str, ...]
    ages: tuple[int, int]
    filing: FilingType | None = None
    assistance: AssistanceCategory | None = None
    chronic: tuple[str, ...] = ()  # disease codes
    note: str = ""


_DIALYSIS = "M07801"
PROFILES: tuple[Profile, ...] = (
    Profile("retiree_resettled", INSUTYPE_EMPLOYEE, ("1201",), (60, 82), FilingType.LT_RETIRED,
            chronic=("M03900",), note="retired, resettled to a big city (异地安置)"),
    Profile("long_term_resident", INSUTYPE_RESIDENT, ("1501",), (55, 78), FilingType.LT_RESIDENT,
            note="lives with a child in another province (异地长期居住)"),
    Profile("posted_worker", INSUTYPE_EMPLOYEE, ("1101",), (25, 50), FilingType.LT_WORKER,
            note="employer posted them to another province (常驻异地工作)"),
    Profile("referral", INSUTYPE_RESIDENT, ("1501",), (30, 70), FilingType.TMP_REFERRAL,
            assistance=AssistanceCategory.MINIMUM_LIVING,
            note="referred to a national centre (异地转诊)"),
    Profile("emergency_filed", INSUTYPE_EMPLOYEE, ("1101",), (28, 58), FilingType.TMP_EMERGENCY,
            note="emergency on a business trip, filed afterwards (异地急诊抢救)"),
    Profile("temporary_other", INSUTYPE_RESIDENT, ("1501",), (20, 65), FilingType.TMP_OTHER,
            note="other temporary care elsewhere (其他临时外出就医)"),
    Profile("civil_servant_retired", INSUTYPE_EMPLOYEE, ("1202",), (60, 80),
            chronic=("M04600",), note="retired civil servant (公务员医疗补助)"),
    Profile("civil_servant", INSUTYPE_EMPLOYEE, ("1102",), (26, 58),
            note="civil servant (公务员医疗补助)"),
    Profile("dialysis", INSUTYPE_RESIDENT, ("1501",), (35, 75), chronic=(_DIALYSIS,),
            assistance=AssistanceCategory.MINIMUM_LIVING,
            note="uraemia on dialysis, 低保 (门诊慢特病 + 医疗救助)"),
    Profile("tekun", INSUTYPE_RESIDENT, ("1501",), (50, 85),
            assistance=AssistanceCategory.EXTREME_POVERTY, note="特困人员"),
    Profile("migrant_worker", INSUTYPE_RESIDENT, ("1501",), (20, 50),
            note="migrant worker in another province, not filed (外出务工, 未备案)"),
    Profile("emergency_unfiled", INSUTYPE_EMPLOYEE, ("1101",), (22, 60),
            note="on a journey, not filed: an emergency counts as filed (视同备案)"),
    Profile("employee", INSUTYPE_EMPLOYEE, ("1101",), (22, 59)),
    Profile("employee_diabetic", INSUTYPE_EMPLOYEE, ("1101",), (40, 59), chronic=("M01600",)),
    Profile("retiree", INSUTYPE_EMPLOYEE, ("1201", "1203"), (60, 88), chronic=("M05300",)),
    Profile("flexible_worker", INSUTYPE_EMPLOYEE, ("1103",), (25, 55)),
    Profile("student", INSUTYPE_RESIDENT, ("1403",), (7, 17)),
    Profile("child", INSUTYPE_RESIDENT, ("1402",), (1, 5)),
    Profile("university_student", INSUTYPE_RESIDENT, ("1404",), (18, 22)),
    Profile("resident_edge", INSUTYPE_RESIDENT, ("1501",), (40, 80),
            assistance=AssistanceCategory.NEAR_MINIMUM),
    Profile("resident_fanpin", INSUTYPE_RESIDENT, ("1501",), (30, 70),
            assistance=AssistanceCategory.RELAPSE_POVERTY, chronic=("M00500",)),
    Profile("employee_young", INSUTYPE_EMPLOYEE, ("1101",), (22, 35)),
    Profile("resident", INSUTYPE_RESIDENT, ("1501",), (18, 80)),
    Profile("retiree_transplant", INSUTYPE_EMPLOYEE, ("1201",), (55, 75), chronic=("M08300",)),
)  # fmt: skip
FILING_PROFILES = {p.filing: p.key for p in PROFILES if p.filing is not None}


@dataclass(frozen=True, slots=True)
class SeedCredential:
    scheme: str  # tif / csb
    key_id: str  # paasid / access key
    secret: str  # token / secret key


@dataclass(frozen=True, slots=True)
class SeedInstitution:
    code: str
    name: str
    region: str
    level: str
    kind: str
    networked: bool
    credentials: tuple[SeedCredential, ...]


@dataclass(frozen=True, slots=True)
class SeedQualification:
    sn: str  # trt_dcla_detl_sn
    disease: str
    disease_name: str
    begin: date
    institution: str  # ide_fixmedins_no


@dataclass(frozen=True, slots=True)
class SeedPerson:
    psn_no: str
    identity: Identity
    insured_region: str
    insutype: str
    psn_type: str
    civil_servant: bool
    employer: str | None
    insured_since: date
    assistance: str | None
    balance: int  # personal account, fen
    mutual_aid: int  # family mutual-aid quota, fen
    profile: str
    note: str
    filing: Filing | None
    qualifications: tuple[SeedQualification, ...]
    travel: str | None  # unfiled people: where they are likely to be treated


@dataclass(frozen=True, slots=True)
class AgencyToken:
    token: str  # the bearer token (only its SHA-256 is stored)
    role: str
    region: str | None  # pooling region / province; None for the nation
    name: str

    @property
    def token_hash(self) -> str:
        return hash_token(self.token)


@dataclass(frozen=True, slots=True)
class RegionPlan:
    region: Region
    institutions: tuple[SeedInstitution, ...]
    persons: tuple[SeedPerson, ...]
    tokens: tuple[AgencyToken, ...]


@dataclass(frozen=True, slots=True)
class NationPlan:
    seed: int
    as_of: date
    regions: tuple[RegionPlan, ...]
    tokens: tuple[AgencyToken, ...] = field(default=())  # nation and province tokens


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _rng(seed: int, *parts: str) -> random.Random:
    return random.Random(":".join(("medroam-demo", str(GENERATOR_VERSION), str(seed), *parts)))


def _hex(rng: random.Random, n: int) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


def _alnum(rng: random.Random, n: int) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
    return "".join(rng.choice(alphabet) for _ in range(n))


# --- institutions -------------------------------------------------------------------------


def _institution_names(region: Region) -> list[tuple[str, str]]:
    name = region.name
    # Obviously synthetic: "测试" in the name and "（模拟）" at its end, so no name can be
    # mistaken for a real hospital's.
    names = [
        ("3", f"{name}测试第一人民医院"),
        ("2", f"{name}测试第二人民医院"),
        ("1", f"{name}测试社区卫生服务中心"),
    ]
    if region.code in CENTRES.values():
        short = name.removesuffix("市")
        names += [("3", f"{short}测试医科大学附属医院"), ("3", f"{name}测试肿瘤医院")]
    return [(level, f"{n}{SYNTHETIC_MARK}") for level, n in names]


def plan_institutions(seed: int, region: Region) -> tuple[SeedInstitution, ...]:
    rng = _rng(seed, "institutions", region.code)
    out: list[SeedInstitution] = []
    for n, (level, name) in enumerate(_institution_names(region), start=1):
        code = f"H{region.code}{n:05d}"
        creds = [SeedCredential("tif", f"paas{code}", _hex(rng, 32))]
        if level in ("3", "2"):
            creds.append(SeedCredential("csb", f"AK{code}", _alnum(rng, 32)))
        out.append(
            SeedInstitution(
                code=code,
                name=name,
                region=region.code,
                level=level,
                kind="hospital",
                networked=True,
                credentials=tuple(creds),
            )
        )
    return tuple(out)


# --- persons -------------------------------------------------------------------------------


def _other_province(codes: Sequence[str], region: Region, rng: random.Random) -> str:
    candidates = [c for c in codes if c[:2] != region.code[:2]]
    return candidates[rng.randrange(len(candidates))]


def _destination(
    profile: Profile,
    region: Region,
    rng: random.Random,
    all_regions: Sequence[str],
    rules: FilingRules,
) -> str:
    filing = profile.filing
    if filing is FilingType.LT_RETIRED:
        dest = _other_province(RETIREMENT_CITIES, region, rng)
    elif filing is FilingType.LT_WORKER:
        dest = _other_province(WORK_CITIES, region, rng)
    elif filing is FilingType.TMP_REFERRAL:
        dest = _CENTRE_OF_PROVINCE.get(region.code[:2], "110100")
        if dest[:2] == region.code[:2]:
            dest = "310100" if region.code[:2] == "11" else "110100"
    else:
        dest = _other_province(all_regions, region, rng)
    if rules.granularity == "province":
        dest = dest[:2] + "0000"
    return dest


def _filing_dates(
    filing_type: FilingType, as_of: date, rng: random.Random
) -> tuple[date, datetime]:
    if filing_type.long_term:
        valid_from = as_of - timedelta(days=rng.randrange(200, 1200))
    elif filing_type is FilingType.TMP_EMERGENCY:
        valid_from = as_of - timedelta(days=rng.randrange(0, 20))
    else:
        valid_from = as_of - timedelta(days=rng.randrange(0, 60))
    filed_day = valid_from - timedelta(days=rng.randrange(0, 8))
    if filing_type is FilingType.TMP_EMERGENCY:
        filed_day = valid_from + timedelta(days=rng.randrange(0, 3))
    filed_day = min(filed_day, as_of)
    at = datetime.combine(
        filed_day, time(rng.randrange(8, 18), rng.randrange(60), rng.randrange(60)), CHINA_TZ
    )
    return valid_from, at


def plan_persons(
    seed: int,
    region: Region,
    as_of: date,
    *,
    count: int,
    institutions: Sequence[SeedInstitution],
    filing_rules: dict[str, FilingRules],
    all_regions: Sequence[str],
    diseases: dict[str, ChronicDisease],
    faker: Faker | None = None,
) -> tuple[SeedPerson, ...]:
    """The ``count`` persons of ``region``; ``filing_rules`` maps insutype → the rules of
    the region's policy in force on ``as_of``."""
    if count < MIN_PERSONS_PER_REGION:
        raise ValueError(f"persons per region must be at least {MIN_PERSONS_PER_REGION}")
    rng = _rng(seed, "persons", region.code)
    fake = faker if faker is not None else Faker(FAKER_LOCALE)
    fake.seed_instance(rng.getrandbits(64))
    factory = PeopleFactory(rng, fake, region.code, region.name)
    qualifier = next((i.code for i in institutions if i.level == "3"), institutions[0].code)
    out: list[SeedPerson] = []
    serial = rng.randrange(10**5, 10**6)
    for index in range(count):
        profile = PROFILES[index % len(PROFILES)]
        psn_type = profile.psn_types[rng.randrange(len(profile.psn_types))]
        gender = GENDER_MALE if rng.random() < 0.5 else GENDER_FEMALE
        if psn_type in ("1201", "1202", "1203") and gender == GENDER_FEMALE:
            ages = (max(profile.ages[0], 55), profile.ages[1])
        elif psn_type in ("1201", "1202", "1203"):
            ages = (max(profile.ages[0], 60), max(profile.ages[1], 61))
        else:
            ages = profile.ages
        birth = birth_date_for_age(rng, REFERENCE_DAY, *ages)
        who = factory.identity(index, birth, gender)
        psn_no = f"{region.code}{serial}{index:04d}"
        employee = profile.insutype == INSUTYPE_EMPLOYEE
        age = age_on(birth, REFERENCE_DAY)
        start_age = 22 if employee else 0
        first_year = max(birth.year + start_age, 1998 if employee else 2008)
        insured_since = date(rng.randrange(first_year, 2025) if first_year < 2025 else 2025, 1, 1)
        if employee:
            retired = psn_type.startswith("12")
            balance = rng.randrange(
                800_00 if retired else 200_00, 30_000_00 if retired else 18_000_00
            )
            mutual_aid = rng.randrange(500_00, 3_000_00) if rng.random() < 0.25 else 0
        else:
            balance = 0
            mutual_aid = 0
        filing: Filing | None = None
        travel: str | None = None
        if profile.filing is not None:
            rules = filing_rules[profile.insutype]
            destination = _destination(profile, region, rng, all_regions, rules)
            valid_from, at = _filing_dates(profile.filing, as_of, rng)
            request = FilingRequest(
                filing_id=f"F{psn_no}01",
                psn_no=psn_no,
                insured_region=region.code,
                filing_type=profile.filing,
                destination=destination,
                valid_from=valid_from,
                channel=CHANNELS[rng.randrange(len(CHANNELS))],
                commitment_only=profile.filing.long_term and rng.random() < 0.3,
                reason=profile.note,
            )
            filing = new_filing(rules, request, at)
        elif profile.key == "migrant_worker":
            travel = _other_province(WORK_CITIES, region, rng)
        elif profile.key == "emergency_unfiled":
            travel = _other_province(all_regions, region, rng)
        quals = tuple(
            SeedQualification(
                sn=f"MB{psn_no}{k}",
                disease=code,
                disease_name=diseases[code].name,
                begin=max(diseases[code].since, as_of - timedelta(days=rng.randrange(60, 900))),
                institution=qualifier,
            )
            for k, code in enumerate(profile.chronic, start=1)
            if code in diseases and age >= 18
        )
        out.append(
            SeedPerson(
                psn_no=psn_no,
                identity=who,
                insured_region=region.code,
                insutype=profile.insutype,
                psn_type=psn_type,
                civil_servant=psn_type in ("1102", "1202"),
                employer=factory.employer() if employee else None,
                insured_since=insured_since,
                assistance=None if profile.assistance is None else profile.assistance.value,
                balance=balance,
                mutual_aid=mutual_aid,
                profile=profile.key,
                note=profile.note,
                filing=filing,
                qualifications=quals,
                travel=travel,
            )
        )
    return tuple(out)


# --- tokens --------------------------------------------------------------------------------


def region_tokens(seed: int, region: Region) -> tuple[AgencyToken, ...]:
    rng = _rng(seed, "tokens", region.code)
    return (
        AgencyToken(
            f"ins-{region.code}-{_hex(rng, 32)}",
            ROLE_INSURED_PLACE,
            region.code,
            f"{region.name}医保经办机构 (参保地)",
        ),
        AgencyToken(
            f"trt-{region.code}-{_hex(rng, 32)}",
            ROLE_TREATMENT_PLACE,
            region.code,
            f"{region.name}医保经办机构 (就医地)",
        ),
    )


def province_token(seed: int, province: Region) -> AgencyToken:
    rng = _rng(seed, "tokens", province.code)
    return AgencyToken(
        f"prv-{province.code}-{_hex(rng, 32)}",
        ROLE_PROVINCE,
        province.code,
        f"{province.name}医疗保障局",
    )


def nation_token(seed: int) -> AgencyToken:
    rng = _rng(seed, "tokens", "nation")
    return AgencyToken(f"nat-{_hex(rng, 40)}", ROLE_NATION, None, "国家医疗保障局")


# --- regions -------------------------------------------------------------------------------


def plan_region(
    seed: int,
    region: Region,
    as_of: date,
    *,
    persons: int = PERSONS_PER_REGION,
    filing_rules: dict[str, FilingRules],
    all_regions: Sequence[str],
    diseases: Iterable[ChronicDisease],
    faker: Faker | None = None,
) -> RegionPlan:
    institutions = plan_institutions(seed, region)
    people = plan_persons(
        seed,
        region,
        as_of,
        count=persons,
        institutions=institutions,
        filing_rules=filing_rules,
        all_regions=all_regions,
        diseases={d.code: d for d in diseases},
        faker=faker,
    )
    return RegionPlan(region, institutions, people, region_tokens(seed, region))
