"""Institution scores (机构画像): how far each institution's month stands from its peers.

Pure: features in, robust z-scores and explanations out (the unsupervised detector runs
in the service, on these z-scores). Statistics, not money: floats are fine here.

Robust z of a value among its peer group (the institutions of the same level, kind and
province, or wider when the group is too small):

    z = (x − median) / (1.4826 × MAD)

MAD is the median absolute deviation (1.4826 × MAD estimates σ for normal data and is not
moved by the outliers being looked for). When MAD is 0 (over half the peers share the
median) the mean absolute deviation × 1.2533 is used instead; when that is 0 too, z is 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import median

FEATURE_NAMES: Mapping[str, str] = {
    "cost_outpatient": "门诊次均费用",
    "cost_inpatient": "住院次均费用",
    "los": "平均住院日",
    "items_per_day": "日均收费项目数",
    "drug_share": "药品费用占比",
    "exam_share": "检查检验费用占比",
    "readmit_31": "31天内再入院率",
    "short_stay": "3天及以内住院占比",
    "stay_share": "住院病例占比",
    "repeat_lines": "同日重复收费明细占比",
    "out_of_region": "异地就医占比",
    "mcc_cc_share": "MCC/CC 病组占比",
}
MAD_TO_SIGMA = 1.4826
MEAN_AD_TO_SIGMA = 1.2533


def robust_z(values: Sequence[float]) -> list[float]:
    """The robust z of every value among ``values`` (module docstring)."""
    if not values:
        return []
    mid = median(values)
    deviations = [abs(v - mid) for v in values]
    scale = MAD_TO_SIGMA * median(deviations)
    if scale == 0:
        scale = MEAN_AD_TO_SIGMA * sum(deviations) / len(deviations)
    if scale == 0:
        return [0.0 for _ in values]
    return [(v - mid) / scale for v in values]


@dataclass(frozen=True, slots=True)
class Explanation:
    feature: str
    value: float
    peer_median: float
    z: float

    def text(self) -> str:
        name = FEATURE_NAMES.get(self.feature, self.feature)
        direction = "高于" if self.z > 0 else "低于"
        return (
            f"{name} {_fmt(self.feature, self.value)}，{direction}同类机构中位数 "
            f"{_fmt(self.feature, self.peer_median)}（z = {self.z:+.1f}）"
        )


def _fmt(feature: str, value: float) -> str:
    if feature.endswith(("share", "_stay", "_lines")) or feature in ("readmit_31", "out_of_region"):
        return f"{value * 100:.1f}%"
    if feature.startswith("cost_"):
        return f"{value / 100:,.2f} 元"
    return f"{value:.1f}"


def explain(
    features: Mapping[str, float],
    z: Mapping[str, float],
    medians: Mapping[str, float],
    top: int = 3,
) -> list[Explanation]:
    """The features that drive a score: the largest |z| first (ties by feature name)."""
    ranked = sorted(z, key=lambda f: (-abs(z[f]), f))
    return [Explanation(f, features[f], medians[f], z[f]) for f in ranked[:top] if abs(z[f]) > 0]


def roc_auc(scores: Sequence[float], positives: Sequence[bool]) -> float | None:
    """Area under the ROC curve: the chance that a random positive scores above a random
    negative (ties count half). None without both classes."""
    pos = [s for s, p in zip(scores, positives, strict=True) if p]
    neg = [s for s, p in zip(scores, positives, strict=True) if not p]
    if not pos or not neg:
        return None
    wins = 0.0
    for a in pos:
        for b in neg:
            wins += 1.0 if a > b else 0.5 if a == b else 0.0
    return wins / (len(pos) * len(neg))
