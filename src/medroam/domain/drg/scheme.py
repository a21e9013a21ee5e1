"""A compiled DRG scheme: MDC entry rules, ADRG predicates, DRG subgroups, MCC/CC/CCE.

Everything here is data produced by a loader (``medroam.refdata.drg``) from a table set.
Every ADRG is one ``AdrgRule`` whose optional parts are ANDed together; the condition
shapes of the CHS-DRG 1.1 tables map onto it as follows (``shape`` records which):

==========================  =========================================================
table header(s)             fields set
==========================  =========================================================
包含以下主要诊断             ``principal_dx``
包含以下主要手术或操作       ``principal_px``
both                        ``principal_dx`` and ``principal_px``
同时包含以下手术 … 和 …      ``procedures`` = tables (A, B), alternatives ((0, 1),)
主要诊断或其他诊断中…        ``any_dx`` (+ age and birth weight from the title)
包含以下诊断 + 全部手术      ``any_dx`` and ``needs_or_procedure``
全部手术 / 包含全部手术      ``needs_or_procedure``
符合 MDCZ 主诊表，且无手术   ``no_or_procedure``
主要诊断+手术表 n …          ``principal_dx`` and ``procedures`` (OR of ANDs of tables)
title-only conditions       ``min/max_age_days``, ``min/max_weight_g``, ``catch_all``
==========================  =========================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class QyMode(StrEnum):
    """The ambiguity group (歧义组, QY) switch; a regional parameter."""

    OFF = "off"
    ANY_OR_PROCEDURE = "any_or_procedure"  # any coded procedure is an OR procedure
    PRINCIPAL_OR_PROCEDURE = "principal_or_procedure"  # the first procedure is one


@dataclass(frozen=True, slots=True)
class GrouperOptions:
    """Switches the documents leave open (defaults: the national 1.1 reference behaviour).

    * ``qy_mode``: ``off`` nationally; some regions turn QY on.
    * ``principal_procedure_only``: "主要手术或操作" is the first coded procedure (True),
      or any coded procedure (False). Also decides whether ``全部手术`` looks at the first
      procedure only.
    * ``require_known_diagnoses``: a diagnosis code absent from every table of the scheme
      fails validation (信息校验不通过) instead of being ignored.
    * ``require_newborn_weight``: a case aged ≤ ``neonate_max_days`` days without a birth
      weight fails validation.
    * ``neonate_max_days``: the neonatal limit (出生年龄＜29天 → 28).
    """

    qy_mode: QyMode = QyMode.OFF
    principal_procedure_only: bool = True
    require_known_diagnoses: bool = True
    require_newborn_weight: bool = True
    neonate_max_days: int = 28


@dataclass(frozen=True, slots=True)
class ProcedureExpression:
    """An OR of ANDs over procedure tables: each alternative lists table indices, and a
    table is satisfied when some coded procedure (any position) belongs to it."""

    tables: tuple[frozenset[str], ...]
    alternatives: tuple[tuple[int, ...], ...]


@dataclass(frozen=True, slots=True, eq=False)
class AdrgRule:
    """One ADRG: its predicate parts (ANDed) and its DRG subgroups in split order."""

    code: str
    name: str
    mdc: str  # MDC letter
    drgs: tuple[str, ...]  # e.g. ("BR21", "BR23", "BR25") or ("AA19",)
    shape: str  # the header sequence, for the trace and the coverage tests
    principal_dx: frozenset[str] | None = None
    principal_px: frozenset[str] | None = None
    any_dx: frozenset[str] | None = None
    procedures: ProcedureExpression | None = None
    needs_or_procedure: bool = False
    no_or_procedure: bool = False
    catch_all: bool = False
    min_age_days: int | None = None
    max_age_days: int | None = None
    min_weight_g: int | None = None
    max_weight_g: int | None = None

    @property
    def procedural(self) -> bool:
        """Second letter A–Q: surgical (A–J) or non-OR procedure (K–Q) groups."""
        return self.code[1] <= "Q"

    @property
    def splits(self) -> str:
        """The 4th characters of the subgroups, e.g. ``"135"``, ``"9"``."""
        return "".join(sorted(d[3] for d in self.drgs))


@dataclass(frozen=True, slots=True, eq=False)
class MdcRule:
    """One MDC: its entry condition and its ADRGs in table order (procedural first)."""

    letter: str
    name: str
    principal_dx: frozenset[str] | None  # 主诊表; None: entered by procedure (MDCA)
    procedural: tuple[AdrgRule, ...]
    medical: tuple[AdrgRule, ...]
    sex: int | None = None  # 1 male (MDCM), 2 female (MDCN)
    max_age_years: int | None = None  # MDCP: age < 1 year → 0
    min_trauma_sites: int | None = None  # MDCZ: ≥ 2 distinct sites
    trauma_sites: Mapping[str, str] = field(default_factory=dict)  # code → site
    principal_procedure_or: bool = False  # MDCA: the first procedure is an OR procedure

    @property
    def code(self) -> str:
        return f"MDC{self.letter}"


@dataclass(frozen=True, slots=True, eq=False)
class Scheme:
    """A loaded table set, e.g. CHS-DRG 1.1: everything the grouper needs."""

    name: str  # e.g. "CHS-DRG"
    version: str  # e.g. "1.1"
    mdcs: tuple[MdcRule, ...]  # in grouping order
    adrgs: Mapping[str, AdrgRule]
    drg_names: Mapping[str, str]
    mcc: Mapping[str, str | None]  # code → exclusion table (None: 无, always counts)
    cc: Mapping[str, str | None]
    cce: Mapping[str, str]  # principal diagnosis → its exclusion table
    or_procedures: frozenset[str]
    known_diagnoses: frozenset[str]
    known_procedures: frozenset[str]
    options: GrouperOptions = GrouperOptions()
    notes: tuple[str, ...] = ()  # data quirks reported by the loader (not errors)

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"
