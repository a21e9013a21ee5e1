"""``medroam audit scores``: a score per institution and month against its peers.

1. Features per institution (``batch.institution_features``), computed on the database.
2. Peer groups: level + kind + province; a group of fewer than ``MIN_PEERS`` widens to
   level + kind across the nation, then to every institution of the month.
3. Robust z-scores of every feature within the peer group (``domain.audit.scores``).
4. An unsupervised detector over the z-scores: scikit-learn's ``IsolationForest``
   (deterministic: ``random_state`` 0, 200 trees). The score is its anomaly score
   (higher: more unusual), ranked 1 = most unusual.
5. Each score is explained by the features with the largest |z| (zh-CN text).

Institutions with fewer than ``MIN_CASES`` cases in the month get z-scores but no rank
of their own beyond the detector's (their features are noise); they are kept so that a
planted institution is never dropped from the evaluation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
from sqlalchemy import Engine, delete, insert, select

from medroam.batch.audit import tables as audit_tables
from medroam.batch.engine import fetch
from medroam.batch.institution_features import feature_tables, features
from medroam.batch.lines import epoch_day
from medroam.domain.audit.scores import FEATURE_NAMES, explain, robust_z, roc_auc
from medroam.services.audit_run import month_bounds
from medroam.services.sim_truth import truth_for_period
from medroam.services.uow import unit_of_work
from medroam.store.audit_score_tables import InstitutionScoreRow

MIN_PEERS = 5
FEATURES = tuple(FEATURE_NAMES)


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
        fine[f"{r['level']}级/{r['kind']}/{r['province']}"].append(i)
    groups: dict[str, list[int]] = defaultdict(list)
    for label, members in fine.items():
        if len(members) >= MIN_PEERS:
            groups[label] = members
            continue
        for i in members:
            r = rows[i]
            groups[f"{r['level']}级/{r['kind']}/全国"].append(i)
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


def score_rows(rows: Sequence[dict[str, Any]]) -> list[Scored]:
    """Scores of the month's institutions from their feature rows."""
    from sklearn.ensemble import IsolationForest  # type: ignore[import-untyped]

    if not rows:
        return []
    present = [f for f in FEATURES if any(r.get(f) is not None for r in rows)]
    z_rows: list[dict[str, float]] = [{} for _ in rows]
    medians_of: list[dict[str, float]] = [{} for _ in rows]
    group_of = [""] * len(rows)
    for label, members in _groups(rows).items():
        for feature in present:
            known = [i for i in members if rows[i].get(feature) is not None]
            values = [float(rows[i][feature]) for i in known]
            mid = median(values) if values else 0.0
            zs = dict(zip(known, robust_z(values), strict=True))
            for i in members:
                # an institution without that kind of care is at its peers' median
                z_rows[i][feature] = zs.get(i, 0.0)
                medians_of[i][feature] = mid
        for i in members:
            group_of[i] = label
    matrix = [[z_rows[i][f] for f in present] for i in range(len(rows))]
    if len(rows) >= 2 and present:
        forest = IsolationForest(n_estimators=200, random_state=0)
        forest.fit(matrix)
        raw = [-float(s) for s in forest.score_samples(matrix)]
    else:
        raw = [0.0] * len(rows)
    order = sorted(range(len(rows)), key=lambda i: (-raw[i], rows[i]["fixmedins_code"]))
    rank = {i: n for n, i in enumerate(order, start=1)}
    out = []
    for i, r in enumerate(rows):
        feats = {f: float(r[f]) if r.get(f) is not None else medians_of[i][f] for f in present}
        why = explain(feats, z_rows[i], medians_of[i])
        out.append(
            Scored(
                r["fixmedins_code"],
                group_of[i],
                int(r["cases"]),
                feats,
                {f: round(z, 4) for f, z in z_rows[i].items()},
                round(raw[i], 6),
                rank[i],
                "；".join(e.text() for e in why) or "与同类机构无明显差异",
            )
        )
    return sorted(out, key=lambda s: s.rank)


def compute_scores(engine: Engine, period: str) -> list[Scored]:
    """Score the month and replace its stored scores (one transaction)."""
    start, end = month_bounds(period)
    t = {**audit_tables(), **feature_tables()}
    with unit_of_work(engine) as session:
        table: pa.Table = fetch(features(t, epoch_day(start), epoch_day(end)), session.connection())
        scored = score_rows(table.to_pylist())
        session.execute(delete(InstitutionScoreRow).where(InstitutionScoreRow.period == period))
        if scored:
            session.execute(
                insert(InstitutionScoreRow),
                [
                    {
                        "period": period,
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


def stored_scores(engine: Engine, period: str) -> list[InstitutionScoreRow]:
    with unit_of_work(engine) as session:
        return list(
            session.execute(
                select(InstitutionScoreRow)
                .where(InstitutionScoreRow.period == period)
                .order_by(InstitutionScoreRow.rank)
            ).scalars()
        )


def institution_ranks(engine: Engine, period: str) -> dict[str, Any]:
    """Where the planted fraudulent institutions rank among the month's scores, and the
    ROC AUC of the scores for telling them apart."""
    scores = stored_scores(engine, period)
    planted = {
        t.fixmedins_code: t.family
        for t in truth_for_period(engine, period)
        if t.level == "institution"
    }
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
    }
