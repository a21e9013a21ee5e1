"""The port to the place of insurance (参保地), and the values that cross it.

The place of treatment (the gateway and its services) knows visits, fee lines and
settlements. Everything the place of insurance decides — who the person is, their
insurances, filings, chronic-disease qualifications, the benefit policy, its province's
settings, the year-to-date accumulators and the personal account — is reached only through
:class:`InsuredPlace`. The in-process adapter (``store.insured_place.SqlInsuredPlace``)
reads the same database in the caller's transaction; a deployment with one node per
province replaces only the adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from medroam.domain.accumulators import Accumulators
from medroam.domain.codes import AssistanceCategory
from medroam.domain.filing import Filing
from medroam.domain.identity import IdNumberError, validate_id_number
from medroam.domain.policy import BenefitPolicy
from medroam.domain.province import ProvinceSettings
from medroam.domain.settlement import AccountState, Person

INSURED = "1"  # psn_insu_stas 1 正常参保
INSU_STATUS_NAMES = {
    "0": "未参保 (not insured)",
    "1": "正常参保 (insured)",
    "2": "暂停参保 (suspended)",
    "3": "无效参保 (invalid)",
    "4": "终止参保 (terminated)",
}


class InstitutionRef(Protocol):
    """The calling institution as the services need it (the gateway's ``Institution``)."""

    @property
    def code(self) -> str: ...  # fixmedins_code

    @property
    def region(self) -> str: ...  # place of treatment (admdvs)

    @property
    def level(self) -> str: ...  # InstitutionLevel value

    @property
    def networked(self) -> bool: ...  # may settle cross-province care


@dataclass(frozen=True, slots=True)
class Insurance:
    """One insurance of a person (1101 ``insuinfo``)."""

    insutype: str
    psn_type: str
    status: str  # psn_insu_stas
    insured_region: str  # insuplc_admdvs
    civil_servant: bool = False
    emp_name: str = ""
    begin_date: date | None = None  # psn_insu_date
    pause_date: date | None = None  # paus_insu_date
    assistance: AssistanceCategory | None = None

    @property
    def active(self) -> bool:
        return self.status == INSURED


@dataclass(frozen=True, slots=True)
class InsuredPerson:
    """A person as the place of insurance knows them (1101 ``baseinfo`` + ``insuinfo``)."""

    psn_no: str
    name: str
    cert_type: str  # psn_cert_type
    cert_no: str  # certno
    gender: str  # gend
    birth_date: date | None
    naty: str = ""
    phone: str = ""
    insurances: tuple[Insurance, ...] = ()

    def insurance(self, insutype: str) -> Insurance | None:
        for insurance in self.insurances:
            if insurance.insutype == insutype:
                return insurance
        return None

    def birth(self) -> date:
        """The birth date, from the record or else from an 18-digit ID number."""
        if self.birth_date is not None:
            return self.birth_date
        try:
            return validate_id_number(self.cert_no).birth_date
        except IdNumberError:
            raise ValueError(f"person {self.psn_no} has no known birth date") from None

    def age_on(self, day: date) -> int:
        birth = self.birth()
        years = day.year - birth.year
        if (day.month, day.day) < (birth.month, birth.day):
            years -= 1
        return years

    def as_domain(self, insurance: Insurance, chronic_diseases: frozenset[str]) -> Person:
        """The calculator's view of the person under one insurance."""
        return Person(
            psn_no=self.psn_no,
            name=self.name,
            cert_type=self.cert_type,
            cert_no=self.cert_no,
            gender=self.gender,
            birth_date=self.birth(),
            insutype=insurance.insutype,
            psn_type=insurance.psn_type,
            insured_region=insurance.insured_region,
            civil_servant=insurance.civil_servant,
            assistance=insurance.assistance,
            chronic_diseases=chronic_diseases,
        )


@dataclass(frozen=True, slots=True)
class ChronicQualification:
    """门慢门特 qualification (认定) of a person for one disease."""

    trt_dcla_detl_sn: str
    psn_no: str
    disease_code: str  # opsp_dise_code
    begin_date: date
    end_date: date | None
    active: bool
    insutype: str | None = None
    disease_name: str = ""

    def valid_on(self, day: date) -> bool:
        return (
            self.active
            and self.begin_date <= day
            and (self.end_date is None or day <= self.end_date)
        )


@dataclass(frozen=True, slots=True)
class BenefitState:
    """Year-to-date accumulators of (person, insutype, year) and the person's account."""

    ytd: Accumulators
    account: AccountState


class InsuredPlace(Protocol):
    """What the place of treatment may ask of, and tell, the place of insurance."""

    def find_person(self, cert_type: str, cert_no: str, card_sn: str = "") -> str | None:
        """The psn_no of the person a voucher (mdtrt_cert_type 01/02/03) identifies."""
        ...

    def person(self, psn_no: str) -> InsuredPerson | None:
        """The person with every insurance, or None."""
        ...

    def filings(self, psn_no: str) -> list[Filing]:
        """Every cross-region filing (备案) of the person, cancelled ones included."""
        ...

    def chronic_qualifications(self, psn_no: str) -> list[ChronicQualification]: ...

    def policy(self, region: str, insutype: str, on: date) -> BenefitPolicy:
        """The benefit policy in force; raises LookupError when there is none."""
        ...

    def province_settings(self, region: str) -> ProvinceSettings:
        """The settings of the province of ``region`` (e.g. whether intra-province care
        needs a filing)."""
        ...

    def benefit_state(self, psn_no: str, insutype: str, year: int) -> BenefitState:
        """Read accumulators and account without locking (queries, pre-settlement)."""
        ...

    def lock_benefit_state(self, psn_no: str, insutype: str, year: int) -> BenefitState:
        """Lock the person's insurance, then read accumulators and account: concurrent
        settlements of one person serialise here until the caller's transaction ends."""
        ...

    def apply_benefit_change(
        self,
        psn_no: str,
        insutype: str,
        year: int,
        delta: Mapping[str, int],
        account_delta: AccountState,
        now: datetime,
    ) -> None:
        """Add ``delta`` to the accumulators of the year and ``account_delta`` to the
        balances (negative: paid out); the state must have been locked."""
        ...
