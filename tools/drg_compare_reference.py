"""Compare medroam's DRG grouper with an independent CHS-DRG 1.1 grouper on random cases.

The independent grouper is OpenDRG/DRG_Python (``drg_group/chs_drg_11``, Apache-2.0), used
as an outside oracle only: it is never copied into or committed with medroam. Point
``--reference`` (or ``MEDROAM_DRG_REFERENCE``) at a checkout of it; without one the
script says so and exits 0 (skipped), so it can sit in CI unchanged.

Cases come from ``medroam.domain.drg.synthetic.random_cases`` (deterministic per seed).
Both groupers see the same case: sex 1/2, age, age in days, birth weight, diagnoses and
procedures, principal first. The DRG (or the validation failure) is compared, and every
difference is listed with the procedures whose OR status the two groupers read
differently.

    python tools/drg_compare_reference.py --reference /tmp/DRG_Python [--n 20000] [--seed 2026]
        [--or-list FILE | --operation-types FILE [--or-types 手术,介入治疗]] [--show 50]
        [--table]

``--or-list`` loads another OR-procedure list into medroam's scheme (one code per line),
``--operation-types`` a procedure catalogue's operation-type column (``code type`` per
line, the 医保版 types 手术/介入治疗/治疗性操作/诊断性操作; OR = ``--or-types``), to measure
what a list changes. ``--table`` prints every difference as a Markdown row: the case, both
groups, why (each procedure the two groupers read differently, with the ADRGs that list
it and the derivation rule), and which reading the CHS-DRG 1.1 tables support. Exit code
0 (also when skipped), 2 on a bad argument.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from medroam.domain.drg.grouper import GroupStatus, group
from medroam.domain.drg.synthetic import random_cases
from medroam.refdata.drg import (
    DEFAULT_OR_TYPES,
    H_AND,
    OPERATION_TYPES,
    Detail,
    apply_errata,
    load_scheme,
    or_procedures_from_types,
    parse_detail,
    parse_operation_types,
    parse_or_procedures,
)

DATA = Path(__file__).resolve().parents[1] / "src" / "medroam" / "data" / "drg"


def _detail() -> Detail:
    """The packaged detail file after the errata (to say which ADRGs list a code)."""
    manifest = json.loads((DATA / "chs-drg-1.1.scheme.json").read_text(encoding="utf-8"))
    name = manifest["files"]["detail"]
    detail = parse_detail((DATA / manifest["tables"] / name).read_text(encoding="utf-8"), name)
    apply_errata(detail, manifest.get("errata", []), "chs-drg-1.1.scheme.json")
    return detail


def _listings(detail: Detail) -> dict[str, list[tuple[str, str]]]:
    """Procedure code → (ADRG, how it lists it): ``op``, ``therapy`` (a 治疗 group),
    ``interv`` (the 介入操作 list of a …伴介入操作 group)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for code, sec in detail.adrgs.items():
        title = sec.title.replace("~~", "").replace(" ", "")
        therapy = "治疗" in title and "手术" not in title
        for b in sec.blocks:
            how = "therapy" if therapy else "op"
            if b.header == H_AND and "介入操作" in title:
                how = "interv"
            for p in b.codes:
                if p[:2].isdigit() and (code, how) not in out.get(p, []):
                    out.setdefault(p, []).append((code, how))
    return out


def explain(code: str, ours_or: bool, listed: list[tuple[str, str]]) -> tuple[str, str]:
    """Why medroam reads ``code`` as it does, and which reading the 1.1 tables support.

    >>> explain("51.1101", True, [("VJ1", "op")])[1][:6]
    'medroa'
    >>> explain("42.3301", True, [("GK2", "op"), ("RA2", "op")])[1][:9]
    'undecided'
    """
    surg = [a for a, how in listed if a[1] <= "J" and how == "op"]
    non_or = [a for a, _ in listed if "K" <= a[1] <= "Q"]
    if ours_or and non_or:
        return (
            f"{code} medroam OR (listed by {' '.join(surg)}, surgical part A–J; also by "
            f"{' '.join(non_or)}, non-OR part K–Q), reference non-OR",
            "undecided: the tables list it both as a surgical-ADRG operation and as a "
            "非手术室操作; the 医保版 type decides",
        )
    if ours_or:
        return (
            f"{code} medroam OR (listed by {' '.join(surg)}, surgical part A–J), reference non-OR",
            "medroam by the tables (listed as a surgical-ADRG operation); the 医保版 type "
            "(not in the tables) may say otherwise",
        )
    all_adrgs = " ".join(a for a, _ in listed) or "none"
    if surg:  # rule 4: chapter 87–99 outside MDCA
        return (
            f"{code} medroam non-OR (chapter {code[:2]}, rule 4; listed by {' '.join(surg)}), "
            "reference OR",
            "reference: a surgical operation group lists it; medroam's chapter rule is a choice "
            "of its own",
        )
    therapy = [a for a, how in listed if how == "therapy"]
    interv = [a for a, how in listed if how == "interv"]
    if therapy or interv:
        which = " ".join(therapy + interv)
        return (
            f"{code} medroam non-OR (listed by {all_adrgs}; {which}: a 治疗 group or a 介入操作 "
            "list, rules 2–3), reference OR",
            "medroam: the tables list it as a therapy or an accompanying 介入操作, not as a 手术",
        )
    return (
        f"{code} medroam non-OR (listed by {all_adrgs}: non-OR part K–Q or medical only), "
        "reference OR",
        "medroam: the tables file it under 非手术室操作 (K–Q), not under a surgical ADRG",
    )


def _reference(path: Path) -> tuple[Any, Any, frozenset[str]] | None:
    """The reference's grouping proxy, record type and OR list, or None when absent."""
    if not (path / "drg_group" / "chs_drg_11" / "GroupProxy.py").is_file():
        return None
    sys.path.insert(0, str(path))
    cwd = Path.cwd()
    os.chdir(path)
    try:
        base = importlib.import_module("drg_group.chs_drg_11.Base")
        setattr(base, "MESSAGES", 0)  # noqa: B010 - no per-case message lists
        proxy = importlib.import_module("drg_group.chs_drg_11.GroupProxy").GroupProxy()
    finally:
        os.chdir(cwd)
    return proxy, base.MedicalRecord, frozenset(base.SS_VALID)


def _order_why(ours: str | None, theirs: str) -> tuple[str, str]:
    """A difference with no procedure read differently: the order of the ADRGs tried."""
    if {ours, theirs} == {"FF1", "FF2"}:
        return (
            "no procedure read differently: the principal procedure is in FF1's list and the "
            "record also meets FF2 (同时包含…和…); the reference tries FF2 before FF1",
            "medroam: 2_ADRG.txt and 4_ADRG_DETAIL.txt put FF1 before FF2, and the table "
            "order is the grouping order",
        )
    return ("no procedure read differently", "not classified: read the two traces")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reference", type=Path, default=os.environ.get("MEDROAM_DRG_REFERENCE"))
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--or-list", type=Path, default=None)
    ap.add_argument("--operation-types", type=Path, default=None)
    ap.add_argument("--or-types", default=",".join(DEFAULT_OR_TYPES))
    ap.add_argument("--show", type=int, default=50)
    ap.add_argument("--table", action="store_true")
    args = ap.parse_args()
    if args.n <= 0:
        print("--n must be positive", file=sys.stderr)
        return 2
    or_types = [t for t in args.or_types.split(",") if t]
    if not or_types or any(t not in OPERATION_TYPES for t in or_types):
        print(f"--or-types: each must be one of {', '.join(OPERATION_TYPES)}", file=sys.stderr)
        return 2
    if args.or_list is not None and args.operation_types is not None:
        print("give --or-list or --operation-types, not both", file=sys.stderr)
        return 2
    ref = _reference(args.reference) if args.reference else None
    if ref is None:
        print("skipped: no reference grouper (give --reference or MEDROAM_DRG_REFERENCE)")
        return 0
    proxy, record_type, ref_or = ref
    scheme = load_scheme()
    label = "packaged (derived)"
    if args.or_list is not None:
        text = args.or_list.read_text(encoding="utf-8")
        or_set = parse_or_procedures(text, str(args.or_list))
        scheme = dataclasses.replace(scheme, or_procedures=or_set)
        label = str(args.or_list)
    if args.operation_types is not None:
        text = args.operation_types.read_text(encoding="utf-8")
        types = parse_operation_types(text, str(args.operation_types))
        or_set = or_procedures_from_types(types, or_types)
        scheme = dataclasses.replace(scheme, or_procedures=or_set)
        label = f"{args.operation_types} (OR = {'/'.join(or_types)})"
    ours = scheme.or_procedures
    listings = _listings(_detail()) if args.table else {}
    rows: list[str] = []
    cases = random_cases(scheme, n=args.n, seed=args.seed)
    pairs: Counter[tuple[str, str]] = Counter()
    lines: list[str] = []
    for c in cases:
        mine = group(c, scheme)
        rec = record_type(
            c.case_id, c.sex, c.age_years, c.age_days, c.weight_g, "", 1, "1",
            "|".join(c.diagnoses), "|".join(c.procedures),
        )  # fmt: skip
        theirs = proxy.group(rec)
        a = "CHECK" if mine.status is GroupStatus.CHECK_FAILED else mine.drg
        b = "CHECK" if theirs.status == "信息校验不通过" else theirs.drg
        if a == b:
            continue
        pairs[(mine.adrg or a, theirs.adrg)] += 1
        read = [f"{p}({'OR' if p in ours else 'non'}/{'OR' if p in ref_or else 'non'})"
                for p in c.procedures if (p in ours) != (p in ref_or)]  # fmt: skip
        lines.append(
            f"{c.case_id} dx={'|'.join(c.diagnoses)} px={'|'.join(c.procedures)} "
            f"medroam={a} reference={b} OR-read-differently={' '.join(read) or '-'}"
        )
        if args.table:
            # the principal procedure decides SB1/TB1/WJ1/XJ1/YC1 and the MDCA entry;
            # any procedure decides ZZ1
            differ = [p for p in dict.fromkeys(c.procedures) if (p in ours) != (p in ref_or)]
            decisive = [p for p in differ if p == c.procedures[0]] or differ
            why = [explain(p, p in ours, listings.get(p, [])) for p in decisive]
            order = _order_why(mine.adrg, theirs.adrg)
            rows.append(
                f"| {c.case_id} | {c.diagnoses[0]}; {' '.join(c.procedures)} | {a} | {b} | "
                f"{'; '.join(w for w, _ in why) or order[0]} | "
                f"{'; '.join(dict.fromkeys(r for _, r in why)) or order[1]} |"
            )
    n = len(cases)
    same = n - len(lines)
    print(f"OR list: {label}, {len(ours)} codes; reference list {len(ref_or)} codes")
    print(f"cases {n} (seed {args.seed}): agree {same}, differ {len(lines)}, "
          f"agreement {same * 100 / n:.3f} %")  # fmt: skip
    print(
        "medroam ADRG -> reference ADRG: "
        + ", ".join(f"{a}->{b} {k}" for (a, b), k in pairs.most_common())
    )
    for line in lines[: args.show]:
        print(line)
    if args.table:
        print()
        print(
            "| Case | Principal dx; procedures | medroam | Reference | Why | Per the 1.1 tables |"
        )
        print("|---|---|---|---|---|---|")
        for row in rows:
            print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
