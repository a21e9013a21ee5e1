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
        [--or-list FILE] [--show 50]

``--or-list`` loads another OR-procedure list into medroam's scheme (one code per line),
to measure what a list changes. Exit code 0 (also when skipped), 2 on a bad argument.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from medroam.domain.drg.grouper import GroupStatus, group
from medroam.domain.drg.synthetic import random_cases
from medroam.refdata.drg import load_scheme, parse_or_procedures


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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reference", type=Path, default=os.environ.get("MEDROAM_DRG_REFERENCE"))
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--or-list", type=Path, default=None)
    ap.add_argument("--show", type=int, default=50)
    args = ap.parse_args()
    if args.n <= 0:
        print("--n must be positive", file=sys.stderr)
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
    ours = scheme.or_procedures
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
