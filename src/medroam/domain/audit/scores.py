"""Institution scores (机构画像): how far each institution's period stands from its peers.

Pure: sums in, z-scores, scores and explanations out (the batch computes the sums on the
database, the service runs the isolation forest). Statistics, not money: floats are fine.

**The data.** Every feature is a value per case (a settlement): its bill's logarithm, its
length of stay, 1 if it is a stay of 3 days or less … (``batch/institution_features.py``).
An institution's feature is the mean x̄ of its n cases; the batch gives n, the sum Σx and
the sum of squares Σx² per institution, feature and period.

**Why not a plain z of the means.** Most institutions of the synthetic nation settle one
to four cases a month: the mean of one bill is that bill, and a z-score of means puts the
chance of one dear bill on a par with a hospital's whole month. A mean of n cases is
judged against the spread a mean of n cases has by chance (a funnel plot, Spiegelhalter
2005):

    z = (x̄ − θ) / √(σ² / n)

with θ and σ² the mean and variance **of a case** among the institution's peers (level +
kind + province, ``PEER_GROUP``), the institution itself left out so that a large
fraudulent hospital does not move its own yardstick. A peer group is a few institutions,
so its θ and σ² are shrunk towards the same level and kind nationally (empirical Bayes:
the national figures weigh as ``PRIOR_CASES`` = 30 cases of the group), each again
without the institution (k = 30, or the national count of cases when smaller):

    θ  = (Σx_peers  + k · θ_nat)  / (n_peers + k)
    m₂ = (Σx²_peers + k · m₂_nat) / (n_peers + k)          σ² = m₂ − θ²

For a feature bounded by 0 and 1 (a share or a yes/no per case), the national figures
count two more cases, one at 0 and one at 1 (a Beta(1, 1) prior), so that an event no
peer ever had (a 3-day stay among hospitals that never had one) has a small positive
rate instead of a zero variance. An institution with no case of the feature (no stays)
gets z = 0. Worked example (``short_stay``: 1 for a stay of 3 days or less):

    the institution: 1 stay, short                     n = 1, x̄ = 1
    its peers: 40 stays, 1 short; nationally 1,000 stays (without it), 5 short
    θ_nat = m₂_nat = (5 + 1) / (1,000 + 2) = 0.005988  (yes/no: x² = x)
    θ = m₂ = (1 + 30 × 0.005988) / (40 + 30) = 0.016852
    σ² = 0.016852 − 0.016852² = 0.016568
    z = (1 − 0.016852) / √(0.016568 / 1) = 7.638

**Two passes.** Other fraudulent institutions of the same level would raise the
yardstick (a hospital billing all its visits as 3-day stays makes 3-day stays look
common among level-2 hospitals). So the z-scores are computed twice: the second pass
leaves out of every yardstick (peers and national) the institutions whose evidence on
that feature exceeded ``OUTLIER_Z`` = 3 in the first; each institution is then judged
against the others that remain.

**Evidence and score.** Some features are suspicious one way only (``DIRECTION`` +1:
dearer bills, more lines a day, more readmissions, short stays, stays and repeated
lines); the others both ways (−1 and +1 alike, e.g. the length of stay: split stays are
short, 挂床 stays long). The evidence of a feature is z or |z|; the score is

    score = max(evidence) + FOREST_WEIGHT × z_forest

where z_forest is the robust z (below) of scikit-learn's IsolationForest anomaly score
over the institution's z-scores (the whole profile: unusual in several features at
once), FOREST_WEIGHT = 0.25. The explanation names the features of largest evidence.

Robust z of a value among others (used for the forest's scores):

    z = (x − median) / (1.4826 × MAD)

MAD is the median absolute deviation (1.4826 × MAD estimates σ for normal data and is not
moved by the outliers being looked for). When MAD is 0 (over half the values share the
median) the mean absolute deviation × 1.2533 is used instead; when that is 0 too, z is 0.

**Case-mix-standardised MCC/CC share** (``mcc_cc_oe``, 高套病组). Not a mean against
peers but observed ÷ expected, as a standardised mortality ratio. Only a list grouped
into an ADRG split by severity can be up-coded: its DRG ends in 1 (MCC), 3 (CC) or 5
(neither); lists in an ADRG without the split (ending in 9), 0000 and the QY groups count
neither as observed nor as expected. Each movable list of the institution is expected to
land in its ADRG's MCC/CC DRG with that ADRG's national rate p (every institution of the
span scored, **without** the institution), shrunk towards the national rate over all ADRGs
(itself with a Beta(1, 1) prior) by ``ADRG_PRIOR_LISTS`` = 10 lists, so that an ADRG
with few lists does not carry a chance rate:

    p̄      = (M − m + 1) / (N − n + 2)                    all movable lists
    p_a    = (M_a − m_a + 10 · p̄) / (N_a − n_a + 10)      ADRG a
    O = Σ m_a     E = Σ n_a · p_a     V = Σ n_a · p_a (1 − p_a)
    z = (O − E) / √V                                      (binomial funnel z)

with n_a, m_a the institution's movable lists in ADRG a and those in its MCC/CC DRG, N_a
and M_a the same over all institutions, n, m, N, M over all ADRGs. The batch computes O,
E and V on the database with these very functions (:func:`pooled_rate`,
:func:`adrg_rate`: plain arithmetic, applied there to columns). Worked example: the
institution has 2 movable lists, both up-coded — BR2 (脑缺血性疾患) BR23 and GR1 GR11;
the nation (without it) 100 movable lists with 12 in an MCC/CC DRG: BR2 40 lists, 8 of
them BR21/BR23; GR1 4 lists, none GR11:

    p̄    = (12 + 1) / (100 + 2)                = 0.127451
    p_BR2 = (8 + 10 × 0.127451) / (40 + 10)    = 0.185490
    p_GR1 = (0 + 10 × 0.127451) / (4 + 10)     = 0.091036
    O = 2    E = 0.276527    V = 0.151084 + 0.082749 = 0.233832
    O/E = 7.23    z = (2 − 0.276527) / √0.233832 = 3.564

It replaced the first measure, the share of all the institution's lists in an MCC/CC DRG
against its peers' share (``mcc_cc_share``): that share is high for a hospital treating
patients whose ADRGs often carry an MCC or CC, and its lists that cannot move dilute the
share of one that moved all it could (measured in ``docs/audit.md``, "Up-coding").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import exp, lgamma, log, sqrt
from statistics import median

FEATURE_NAMES: Mapping[str, str] = {
    "cost_outpatient": "门诊次均费用（几何均数）",
    "cost_inpatient": "住院次均费用（几何均数）",
    "los": "平均住院日",
    "items_per_day": "日均收费明细条数",
    "drug_share": "药品费用占比",
    "exam_share": "检查检验费用占比",
    "readmit_31": "31天内再入院率",
    "short_stay": "3天及以内住院占比",
    "stay_share": "住院病例占比",
    "repeat_lines": "同日重复收费明细占比",
    "out_of_region": "异地就医占比",
    "mcc_cc_oe": "MCC/CC 病组占比（按病组标化）",
}
# +1: only a high value is suspicious; 0: either way
DIRECTION: Mapping[str, int] = {
    "cost_outpatient": 1,
    "cost_inpatient": 1,
    "los": 0,
    "items_per_day": 1,
    "drug_share": 0,
    "exam_share": 0,
    "readmit_31": 1,
    "short_stay": 1,
    "stay_share": 1,
    "repeat_lines": 1,
    "out_of_region": 0,
    "mcc_cc_oe": 1,
}
BOUNDED = frozenset(
    {
        "drug_share",
        "exam_share",
        "readmit_31",
        "short_stay",
        "stay_share",
        "repeat_lines",
        "out_of_region",
    }
)
LOG_FEATURES = frozenset({"cost_outpatient", "cost_inpatient"})  # means of ln(yuan)
# observed ÷ expected against national rates (module docstring), not means against peers
STANDARDISED = frozenset({"mcc_cc_oe"})
ADRG_PRIOR_LISTS = 10.0
PEER_GROUP = "level + kind + province"
PRIOR_CASES = 30.0
OUTLIER_Z = 3.0
FOREST_WEIGHT = 0.25
MAD_TO_SIGMA = 1.4826
MEAN_AD_TO_SIGMA = 1.2533


@dataclass(frozen=True, slots=True)
class Sums:
    """Cases, Σx and Σx² of one feature over some cases."""

    n: float
    total: float
    squares: float

    def __add__(self, other: Sums) -> Sums:
        return Sums(self.n + other.n, self.total + other.total, self.squares + other.squares)

    def __sub__(self, other: Sums) -> Sums:
        return Sums(self.n - other.n, self.total - other.total, self.squares - other.squares)

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n > 0 else None


ZERO = Sums(0.0, 0.0, 0.0)


def baseline(
    peers: Sums, national: Sums, bounded: bool, prior_cases: float = PRIOR_CASES
) -> tuple[float, float]:
    """(θ, σ²) of a case among ``peers`` shrunk towards ``national`` (module docstring);
    both exclude the institution judged. The national figures weigh as
    ``prior_cases`` cases, or as many as they rest on when fewer."""
    if bounded:
        national = national + Sums(2.0, 1.0, 1.0)  # one case at 0, one at 1
    k = min(prior_cases, national.n)
    cases = peers.n + k
    if cases <= 0:
        return 0.0, 0.0
    theta_nat = national.total / national.n if k > 0 else 0.0
    m2_nat = national.squares / national.n if k > 0 else 0.0
    theta = (peers.total + k * theta_nat) / cases
    m2 = (peers.squares + k * m2_nat) / cases
    return theta, max(0.0, m2 - theta * theta)


def funnel_z(
    own: Sums, peers: Sums, national: Sums, bounded: bool, prior_cases: float = PRIOR_CASES
) -> float:
    """The z of an institution's mean of ``own.n`` cases against its yardstick:
    ``peers`` and ``national`` are the sums of its peer group and of its level and kind
    nationally, **without** the institution (and without the outliers of the first
    pass, module docstring). 0 without cases or spread."""
    if own.n <= 0:
        return 0.0
    theta, var = baseline(peers, national, bounded, prior_cases)
    if var <= 0:
        return 0.0
    return (own.total / own.n - theta) / sqrt(var / own.n)


def peer_label(level: str, kind: str, province: str) -> str:
    """The peer group of an institution: its level, kind and province (e.g.
    ``3级/hospital/11``; ``全国`` for the province when a group is widened)."""
    return f"{level}级/{kind}/{province}"


def pooled_rate(events_elsewhere: float, lists_elsewhere: float) -> float:
    """p̄: the MCC/CC rate of the movable lists of every other institution, with a
    Beta(1, 1) prior (module docstring). Plain arithmetic: the batch applies it to
    columns."""
    return (events_elsewhere + 1.0) / (lists_elsewhere + 2.0)


def adrg_rate(
    events_elsewhere: float,
    lists_elsewhere: float,
    pooled: float,
    prior_lists: float = ADRG_PRIOR_LISTS,
) -> float:
    """p_a: an ADRG's MCC/CC rate over the other institutions' lists, shrunk towards
    ``pooled`` (p̄) as if ``prior_lists`` more lists had it (module docstring). Plain
    arithmetic: the batch applies it to columns."""
    return (events_elsewhere + prior_lists * pooled) / (lists_elsewhere + prior_lists)


def poisson_upper_tail(observed: int, mean: float) -> float:
    """P(X ≥ ``observed``) for X ~ Poisson(``mean``): how likely so many MCC/CC lists are
    by chance when ``mean`` are expected. Exact for small counts, where the funnel z
    overstates a rare event (one list where 0.05 are expected is z ≈ 4.2, yet happens 1
    time in 20). A Poisson with the expected mean has at least the variance of the sum of
    the lists' Bernoulli draws, so the tail is conservative. Summed in log space from the
    observed count upwards; terms fall once past the mean.

    Worked example: O = 3, E = 0.5: 1 − e^−0.5 (1 + 0.5 + 0.125) = 1 − 0.606531 × 1.625
    = 0.014388."""
    if observed <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    log_mean = log(mean)
    total = 0.0
    k = observed
    while True:
        term = exp(k * log_mean - mean - lgamma(k + 1))
        total += term
        if k > mean and term <= total * 1e-15:
            return min(total, 1.0)
        k += 1


@dataclass(frozen=True, slots=True)
class Standardised:
    """An institution's movable lists (``lists``), those in an MCC/CC DRG (O,
    ``observed``), the expected number E and its variance V under the national rates of
    their ADRGs (module docstring)."""

    lists: int
    observed: int
    expected: float
    variance: float

    @property
    def ratio(self) -> float | None:
        """O/E (1 = as the nation codes the same ADRGs); None without expectation."""
        return self.observed / self.expected if self.expected > 0 else None

    @property
    def tail(self) -> float:
        """P(at least O by chance) under a Poisson of mean E (:func:`poisson_upper_tail`)."""
        return poisson_upper_tail(self.observed, self.expected)

    @property
    def z(self) -> float:
        """(O − E) / √V; 0 without movable lists or spread."""
        if self.lists <= 0 or self.variance <= 0:
            return 0.0
        return (self.observed - self.expected) / sqrt(self.variance)

    def text(self, feature: str) -> str:
        name = FEATURE_NAMES.get(feature, feature)
        ratio = "—" if self.ratio is None else f"{self.ratio:.1f}"
        return (
            f"{name}：可分级病组的 {self.lists} 份结算清单中 {self.observed} 份入 MCC/CC 组，"
            f"{direction(self.z)}按全国同病组比例的预期 {self.expected:.2f} 份"
            f"（实际/预期 = {ratio}，z = {self.z:+.1f}）"
        )


def outlier(feature: str, z: float) -> bool:
    """Left out of the yardsticks in the second pass: evidence above ``OUTLIER_Z``."""
    return evidence(feature, z) > OUTLIER_Z


def evidence(feature: str, z: float) -> float:
    """How strongly ``z`` points at a scheme: z for a one-way feature, else |z|."""
    return z if DIRECTION.get(feature, 0) > 0 else abs(z)


def combined_score(z: Mapping[str, float], forest_z: float) -> float:
    """max(evidence) + FOREST_WEIGHT × the forest's robust z (module docstring)."""
    strongest = max((evidence(f, v) for f, v in z.items()), default=0.0)
    return strongest + FOREST_WEIGHT * forest_z


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
    peer_mean: float
    z: float
    standardised: Standardised | None = None  # a feature of ``STANDARDISED``

    def text(self) -> str:
        if self.standardised is not None:
            return self.standardised.text(self.feature)
        name = FEATURE_NAMES.get(self.feature, self.feature)
        return (
            f"{name} {display(self.feature, self.value)}，{direction(self.z)}同类机构 "
            f"{display(self.feature, self.peer_mean)}（z = {self.z:+.1f}）"
        )


def direction(z: float) -> str:
    """高于 / 低于 its yardstick, or 接近 when z shows as ±0.0 (a tie to one decimal)."""
    if round(z, 1) == 0:
        return "接近"
    return "高于" if z > 0 else "低于"


def display(feature: str, value: float) -> str:
    """A feature's value for people: shares in %, bills in yuan, the rest as is."""
    if feature in BOUNDED:
        return f"{value * 100:.1f}%"
    if feature in LOG_FEATURES:
        from math import exp

        return f"{exp(value):,.2f} 元"
    return f"{value:.1f}"


def explain(
    features: Mapping[str, float],
    z: Mapping[str, float],
    peer_means: Mapping[str, float],
    top: int = 3,
    standardised: Mapping[str, Standardised] | None = None,
) -> list[Explanation]:
    """The features that drive a score: the largest evidence first (ties by name); a
    feature without evidence (z 0, or pointing the harmless way) is left out. A feature
    in ``standardised`` is told by its observed and expected lists."""
    ranked = sorted(z, key=lambda f: (-evidence(f, z[f]), f))
    std = standardised or {}
    return [
        Explanation(f, features[f], peer_means[f], z[f], std.get(f))
        for f in ranked[:top]
        if evidence(f, z[f]) > 0
    ]


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
