"""Outpatient chronic and special diseases (门诊慢特病) settled across provinces.

The list is reference data (``medroam/data/chronic_diseases.csv``, loaded by
``medroam.refdata.chronic``): five diseases from the 2021 pilot and five more added in
December 2024 (domain-rules §3). Adding a disease is a data change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class QuotaKind(StrEnum):
    """The period a disease's payment quota (限额) runs over."""

    MONTHLY = "monthly"  # e.g. dialysis
    ANNUAL = "annual"


@dataclass(frozen=True, slots=True)
class ChronicDisease:
    code: str  # 门慢门特 病种编码, e.g. M03900
    name: str
    name_en: str
    since: date  # first day cross-province direct settlement covers it
    quota_kind: QuotaKind

    def cross_province_on(self, day: date) -> bool:
        """True when cross-province direct settlement covers the disease on ``day``."""
        return day >= self.since
