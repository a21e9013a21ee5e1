"""``medroam audit scores``: a score per institution and period against its peers.

1. Sums per institution and feature (cases, Σx, Σx²), computed on the database
   (``batch.institution_features``) over the ``months`` months ending with the period
   (default ``DEFAULT_MONTHS`` = 3: a quarter, 规则库's 每季度, three times the cases of
   a month; on a database holding one month it is that month).
2. Peer groups: level + kind + province; a group of fewer than ``MIN_PEERS`` widens to
   level + kind across the nation, then to every institution of the period.
3. z of every feature's mean against the case-level spread of the peers, shrunk towards
   the same level and kind nationally (``domain.audit.scores``: worked example there);
   twice, the second time without the first pass's outliers in the yardsticks. The
   case-mix-standardised MCC/CC share instead: the funnel z of its observed ÷ expected
   lists, the expectation from the nation's rates of the same ADRGs (computed by the
   batch, without the institution; its value is O/E).
4. An unsupervised detector over the z-scores: scikit-learn's ``IsolationForest``
   (deterministic: ``random_state`` 0, 200 trees, rows in the order of the institution
   codes); its anomaly score as a robust z.
5. Score = the strongest evidence of a feature + 0.25 × the forest's z; ranked
   1 = most unusual, explained by the features of largest evidence (zh-CN text).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
from sqlalchemy import Engine, delete, insert, select

from medroam.batch.audit import tables as audit_tables
from medroam.batch.engine import fetch
from medroam.batch.institution_features import FEATURES, feature_tables, features
from medroam.batch.lines import epoch_day
from medroam.domain.audit.scores import (
    BOUNDED,
    STANDARDISED,
    ZERO,
    Standardised,
    Sums,
    baseline,
    combined_score,
    explain,
    funnel_z,
    outlier,
    peer_label,
    robust_z,
    roc_auc,
)
from medroam.services.audit_run import AuditRunError, month_bounds
from medroam.services.uow import unit_of_work
from medroam.store.audit_score_tables import InstitutionScoreRow
from medroam.store.sim_truth_tables import SimTruthRow

MIN_PEERS = 5
DEFAULT_MONTHS = 3
MAX_MONTHS = 12


@dataclass(frozen=True, slots=True)
class Scored:
    fixmedins_code: str
    peer_group: str
    cases: int
    features: dict[str, float]
    z: dict[str, float]
    score: float
    rank: int
    explanation: str


def _groups(rows: Sequence[dict[str, Any]]) -> dict[str, list[int]]:
    """Peer group label → row indexes, widened when too small (module docstring)."""
    fine: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        fine[peer_label(r["level"], r["kind"], r["province"])].append(i)
    groups: dict[str, list[int]] = defaultdict(list)
    for label, members in fine.items():
        if len(members) >= MIN_PEERS:
            groups[label] = members
            continue
        for i in members:
            r = rows[i]
            groups[peer_label(r["level"], r["kind"], "全国")].append(i)
    out: dict[str, list[int]] = {}
    rest: list[int] = []
    for label, members in groups.items():
        if len(members) >= MIN_PEERS or label.count("/全国") == 0:
            out[label] = members
        else:
            rest.extend(members)
    if rest:
        out["全部机构"] = rest
    return out


def _sums(row: dict[str, Any], feature: str) -> Sums:
    return Sums(
        float(row[f"{feature}_n"] or 0),
        float(row[f"{feature}_sum"] or 0.0),
        float(row[f"{feature}_sq"] or 0.0),
    )


def _standardised(row: dict[str, Any], feature: str) -> Standardised:
    return Standardised(
        int(row.get(f"{feature}_n") or 0),
        int(row.get(f"{feature}_observed") or 0),
        float(row.get(f"{feature}_expected") or 0.0),
        float(row.get(f"{feature}_variance") or 0.0),
    )


def _forest_z(matrix: list[list[float]]) -> list[float]:
    """The robust z of the isolation forest's anomaly score of every row."""
    from sklearn.ensemble import IsolationForest  # type: ignore[import-untyped]

    if len(matrix) < 2 or not matrix[0]:
        return [0.0] * len(matrix)
    forest = IsolationForest(n_estimators=200, random_state=0)
    forest.fit(matrix)
    return robust_z([-float(s) for s in forest.score_samples(matrix)])


def _yardsticks(
    rows: Sequence[dict[str, Any]],
    sums: Sequence[dict[str, Sums]],
    groups: dict[str, list[int]],
    present: Sequence[str],
    left_out: Callable[[int, str], bool],
) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """z and the peers' mean per institution and feature, every yardstick without the
    institution and without those ``left_out`` says (module docstring)."""
    national: dict[tuple[str, str], dict[str, Sums]] = defaultdict(
        lambda: dict.fromkeys(present, ZERO)
    )
    for i, r in enumerate(rows):
        totals = national[(r["level"], r["kind"])]
        for f in present:
            if not left_out(i, f):
                totals[f] = totals[f] + sums[i][f]
    z_rows: list[dict[str, float]] = [{} for _ in rows]
    peer_means: list[dict[str, float]] = [{} for _ in rows]
    for members in groups.values():
        for f in present:
            group = ZERO
            for i in members:
                if not left_out(i, f):
                    group = group + sums[i][f]
            for i in members:
                own = ZERO if left_out(i, f) else sums[i][f]
                peers = group - own
                nat = national[(rows[i]["level"], rows[i]["kind"])][f] - own
                z_rows[i][f] = funnel_z(sums[i][f], peers, nat, f in BOUNDED)
                peer_means[i][f] = baseline(peers, nat, f in BOUNDED)[0]
    return z_rows, peer_means


def score_rows(rows: Sequence[dict[str, Any]]) -> list[Scored]:
    """Scores of the period's institutions from their per-feature sums (module
    docstring)."""
    if not rows:
        return []
    # One fixed order: the forest draws its samples by position, and a GROUP BY returns
    # its rows in any order (SQLite and PostgreSQL differ, so do two runs of one seed).
    rows = sorted(rows, key=lambda r: str(r["fixmedins_code"]))
    present = [f for f in FEATURES if any((r.get(f"{f}_n") or 0) > 0 for r in rows)]
    sums = [{f: _sums(r, f) for f in present} for r in rows]
    groups = _groups(rows)
    first, _means = _yardsticks(rows, sums, groups, present, lambda i, f: False)
    z_rows, peer_means = _yardsticks(
        rows, sums, groups, present, lambda i, f: outlier(f, first[i][f])
    )
    # observed ÷ expected against the nation's rates (already without the institution)
    standard = [f for f in sorted(STANDARDISED) if any(r.get(f"{f}_n") for r in rows)]
    std = [{f: _standardised(r, f) for f in standard} for r in rows]
    for i in range(len(rows)):
        for f in standard:
            z_rows[i][f] = std[i][f].z
    present = present + standard
    group_of = [""] * len(rows)
    for label, members in groups.items():
        for i in members:
            group_of[i] = label
    forest = _forest_z([[z_rows[i][f] for f in present] for i in range(len(rows))])
    raw = [combined_score(z_rows[i], forest[i]) for i in range(len(rows))]
    order = sorted(range(len(rows)), key=lambda i: (-raw[i], rows[i]["fixmedins_code"]))
    rank = {i: n for n, i in enumerate(order, start=1)}
    out = []
    for i, r in enumerate(rows):
        means = {f: m for f in present if f in sums[i] and (m := sums[i][f].mean) is not None}
        means |= {f: o_e for f, m in std[i].items() if (o_e := m.ratio) is not None}
        shown = {f: means.get(f, peer_means[i].get(f, 1.0)) for f in present}
        why = explain(shown, z_rows[i], peer_means[i] | dict.fromkeys(standard, 1.0), 3, std[i])
        out.append(
            Scored(
                r["fixmedins_code"],
                group_of[i],
                int(r["cases"]),
                {f: round(v, 6) for f, v in means.items()},
                {f: round(z, 4) for f, z in z_rows[i].items()},
                round(raw[i], 6),
                rank[i],
                "；".join(e.text() for e in why) or "与同类机构无明显差异",
            )
        )
    return sorted(out, key=lambda s: s.rank)


def span(period: str, months: int = DEFAULT_MONTHS) -> tuple[date, date]:
    """First and last day of the ``months`` months ending with ``period`` (YYYY-MM)."""
    if not 1 <= months <= MAX_MONTHS:
        raise AuditRunError(f"--months: {months} is not between 1 and {MAX_MONTHS}")
    start, end = month_bounds(period)
    index = start.year * 12 + start.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1), end


def compute_scores(engine: Engine, period: str, months: int = DEFAULT_MONTHS) -> list[Scored]:
    """Score the ``months`` months ending with ``period`` and replace the stored scores
    of that span (one transaction)."""
    start, end = span(period, months)
    t = {**audit_tables(), **feature_tables()}
    with unit_of_work(engine) as session:
        table: pa.Table = fetch(features(t, epoch_day(start), epoch_day(end)), session.connection())
        scored = score_rows(table.to_pylist())
        session.execute(
            delete(InstitutionScoreRow).where(
                (InstitutionScoreRow.period == period) & (InstitutionScoreRow.months == months)
            )
        )
        if scored:
            session.execute(
                insert(InstitutionScoreRow),
                [
                    {
                        "period": period,
                        "months": months,
                        "fixmedins_code": s.fixmedins_code,
                        "peer_group": s.peer_group,
                        "cases": s.cases,
                        "features": s.features,
                        "z": s.z,
                        "score": s.score,
                        "rank": s.rank,
                        "explanation": s.explanation,
                    }
                    for s in scored
                ],
            )
    return scored


def stored_scores(
    engine: Engine, period: str, months: int = DEFAULT_MONTHS
) -> list[InstitutionScoreRow]:
    with unit_of_work(engine) as session:
        return list(
            session.execute(
                select(InstitutionScoreRow)
                .where(
                    (InstitutionScoreRow.period == period) & (InstitutionScoreRow.months == months)
                )
                .order_by(InstitutionScoreRow.rank)
            ).scalars()
        )


def institution_ranks(engine: Engine, period: str, months: int = DEFAULT_MONTHS) -> dict[str, Any]:
    """Where the planted fraudulent institutions rank among the scores, and the ROC AUC
    of the scores for telling them apart. A simulated hospital is fraudulent for the
    whole run, and its truth row is stored under the run's first month: the institution
    rows of every month up to the end of the span count."""
    scores = stored_scores(engine, period, months)
    with unit_of_work(engine) as session:
        planted = dict(
            session.execute(
                select(SimTruthRow.fixmedins_code, SimTruthRow.family)
                .where((SimTruthRow.level == "institution") & (SimTruthRow.period <= period))
                .order_by(SimTruthRow.period, SimTruthRow.truth_id)
            ).all()
        )
    total = len(scores)
    rows = [
        {
            "fixmedins_code": s.fixmedins_code,
            "scheme": planted[s.fixmedins_code],
            "rank": s.rank,
            "score": f"{s.score:.3f}",
            "percentile": f"{100 * s.rank / total:.1f}%",
            "explanation": s.explanation,
        }
        for s in scores
        if s.fixmedins_code in planted
    ]
    auc = roc_auc([s.score for s in scores], [s.fixmedins_code in planted for s in scores])
    top = max(1, round(0.05 * total))
    return {
        "institutions": rows,
        "scored": total,
        "auc": "—" if auc is None else f"{auc:.3f}",
        "in_top_5_percent": sum(1 for s in scores if s.fixmedins_code in planted and s.rank <= top),
        "planted": len(planted),
        "planted_scored": len(rows),
        "months": months,
    }
