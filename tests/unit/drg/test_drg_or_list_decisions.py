"""Signed-off differences from the reference grouper, all caused by the OR-procedure list.

Differential testing (docs/drg.md §Validation): with the reference grouper's own
OR-procedure list loaded into our grouper, 70,000 random cases grouped identically; with
our derived list (every procedure of an A–J ADRG), about 0.8 % differ, all between an
"any OR procedure" ADRG (SB1, TB1, WJ1, XJ1, YC1) and a medical one. These cases pin the
two directions of that difference so a change to the list is noticed.
"""

from __future__ import annotations

from dataclasses import replace

from medroam.domain.drg.grouper import GroupCase, group
from medroam.domain.drg.scheme import Scheme


def test_procedure_listed_in_a_surgical_adrg_counts_as_or(scheme: Scheme) -> None:
    """97.6202 is listed under a surgical (A–J) ADRG, so the derived list counts it as an
    OR procedure: Z50.100x001 + 97.6202 → XJ15 (the reference, whose list omits the code,
    gives XR15)."""
    c = GroupCase("t", 1, 15, None, None, ("Z50.100x001",), ("97.6202",))
    assert "97.6202" in scheme.or_procedures
    assert group(c, scheme).drg == "XJ15"


def test_procedure_in_no_surgical_adrg_is_not_or(scheme: Scheme) -> None:
    """25.0201 is listed under no A–J ADRG: T90.200x012 + 25.0201 → XR25 (the reference
    counts it as OR: XJ15). Swapping in a list that has it gives the reference result."""
    c = GroupCase("t", 2, 68, None, None, ("T90.200x012",), ("25.0201",))
    assert group(c, scheme).drg == "XR25"
    wider = replace(scheme, or_procedures=scheme.or_procedures | {"25.0201"})
    assert group(c, wider).drg == "XJ15"
