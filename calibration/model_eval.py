"""AI raters measured against the human ceiling: verdicts, error direction, comparisons, gate.

Pure, like :mod:`calibration.agreement` and :mod:`calibration.findings`: the standard
library and numpy, with the interval machinery of :mod:`calibration.evidence`; no Flask,
no database. The session's pages, report and API hand it plain mappings (case → label).

- :func:`evaluate_version`: one model version in one session. Its agreement with golden
  and with the human majority, each a Wilson interval (one label per case: independent
  trials); the *human band* — every calibrated human's agreement with golden and with the
  majority of the *other* humans, so the humans are measured the way the model is — and a
  verdict in words that respects the evidence rules (:data:`VERDICTS`).
- :func:`error_profile`: errors split by the direction of enforcement (a label ordered
  above golden is over-enforcement, below it under-enforcement) with severity-weighted
  rates, and per label precision, recall, false-positive and false-negative rates with
  intervals: Wilson for one rater, a BCa bootstrap over cases for a vendor's pooled
  raters (several labels per case are not independent trials).
- :func:`compare_versions`: two versions on the same golden cases; accuracy and per-label
  FNR/FPR differences with the exact McNemar test on the discordant cases, the labels'
  p-values held to the false-discovery rate by Benjamini–Hochberg, and the cases where the
  versions differ.
- :func:`version_trend`: a version (or model) across sessions.
- :func:`model_gate`: the graduation gate a policy version can require.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from statistics import median
from typing import Any

import numpy as np

from calibration.evidence import bca_interval, benjamini_hochberg, wilson_interval
from calibration.findings import Minimums

SIGNIFICANCE = 0.05

# The verdict keys, and how people read them.
VERDICTS = {
    "inside": "Inside the human band",
    "below": "Below the weakest human",
    "above": "Above the human median",
    "insufficient": "Not enough evidence to place it",
}

# Fewest calibrated humans (each with enough golden cases) that make a band.
MIN_BAND_HUMANS = 2

# Resamples of cases for a vendor's pooled rates.
BOOTSTRAP = 1000


@dataclass(frozen=True)
class LabelOption:
    """A label as the evaluation reads it.

    ``severity`` is the harm weight the policy version sets (0 for no harm); ``enforcement``
    the order of enforcement (0 no action, higher stronger). A label given above the golden
    label's order over-enforces, one below it under-enforces; two labels of equal order
    confused are a lateral error.
    """

    key: str
    name: str
    severity: float = 1.0
    enforcement: int = 0

    @classmethod
    def from_option(cls, option: Mapping[str, Any], position: int = 0) -> LabelOption:
        """Read a stored label option; without an order, the option's position is used."""
        return cls(
            key=option["key"],
            name=option.get("name") or option["key"],
            severity=float(option.get("severity", 1.0) or 0.0),
            enforcement=int(option.get("enforcement", position)),
        )


@dataclass
class Share:
    """``hits`` of ``n``, the share and its 95% interval (None without trials)."""

    hits: int
    n: int
    value: float | None
    interval: tuple[float, float] | None

    @classmethod
    def wilson(cls, hits: int, n: int) -> Share:
        """A share of independent trials, with Wilson's interval."""
        return cls(hits, n, hits / n if n else None, wilson_interval(hits, n))


@dataclass
class HumanFigures:
    """One human rater of the session: agreement with golden and with the other humans."""

    rater: str
    golden: Share
    others: Share
    calibrated: bool


@dataclass
class Band:
    """The spread of the calibrated humans on one measure (golden or the others)."""

    n_humans: int
    low: float | None
    median: float | None
    high: float | None


@dataclass
class Verdict:
    """Where the model stands against the human band, in words, with the reason."""

    key: str
    text: str
    reason: str


@dataclass
class LabelErrors:
    """Per label: precision, recall and the false-positive and false-negative rates."""

    label: str
    name: str
    severity: float
    enforcement: int
    n_golden: int
    precision: Share
    recall: Share
    fpr: Share
    fnr: Share
    evidence: str


@dataclass
class ErrorProfile:
    """Errors split by direction of enforcement, raw and severity-weighted, and by label.

    ``over`` and ``under`` count errors whose label is ordered above and below golden,
    ``lateral`` those of equal order; each share is of the ``n`` judged ratings.
    ``over_weighted`` and ``under_weighted`` sum each error's harm weight — the given
    label's severity for an over-enforcement (the action wrongly taken), the golden
    label's for an under-enforcement (the harm left up) — over ``n`` times the largest
    severity, so 1 is the worst possible.
    """

    n: int
    n_cases: int
    correct: Share
    over: Share
    under: Share
    lateral: Share
    over_weighted: float | None
    over_weighted_interval: tuple[float, float] | None
    under_weighted: float | None
    under_weighted_interval: tuple[float, float] | None
    labels: list[LabelErrors]

    def label(self, key: str) -> LabelErrors | None:
        """The figures of one label."""
        return next((entry for entry in self.labels if entry.label == key), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return _plain(asdict(self))


@dataclass
class VersionEvaluation:
    """One model version in one session, against golden and against the humans."""

    rater: str
    n_labelled: int
    golden: Share
    majority: Share
    humans: list[HumanFigures]
    band_golden: Band
    band_majority: Band
    verdict_golden: Verdict
    verdict_majority: Verdict
    errors: ErrorProfile
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures (tuples become lists)."""
        return _plain(asdict(self))


@dataclass
class LabelComparison:
    """One label's FNR and FPR for two versions on the same cases, and the paired tests."""

    label: str
    name: str
    fnr_a: float | None
    fnr_b: float | None
    fnr_discordant: tuple[int, int]
    fnr_p: float | None
    fnr_q: float | None
    fnr_change: str
    fpr_a: float | None
    fpr_b: float | None
    fpr_discordant: tuple[int, int]
    fpr_p: float | None
    fpr_q: float | None
    fpr_change: str


@dataclass
class DifferingCase:
    """A case the two versions labelled differently."""

    case: str
    golden: str | None
    label_a: str
    label_b: str


@dataclass
class Comparison:
    """Version A against version B on the golden cases both labelled.

    ``a_only`` counts cases A got right and B wrong, ``b_only`` the reverse; ``p_value`` is
    the exact two-sided McNemar test of "equally accurate" on those discordant cases.
    ``change`` reads "better", "worse" or "no clear difference" for B against A.
    """

    version_a: str
    version_b: str
    n: int
    accuracy_a: float | None
    accuracy_b: float | None
    difference: float | None
    a_only: int
    b_only: int
    p_value: float | None
    change: str
    labels: list[LabelComparison]
    differing: list[DifferingCase]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return _plain(asdict(self))


@dataclass
class TrendPoint:
    """A version's agreement with golden in one session."""

    session: str
    version: str
    golden: Share
    verdict: str


@dataclass
class Trend:
    """Sessions in time order; ``direction`` says whether the last moved beyond chance."""

    points: list[TrendPoint]
    direction: str


@dataclass
class GateCheck:
    """One condition of the model gate, with its figure and whether it holds."""

    label: str | None
    what: str
    value: float | None
    limit: float | None
    n: int
    passes: bool
    reason: str


@dataclass
class ModelGate:
    """The graduation gate: passes only when every check passes, with reasons in words."""

    passes: bool
    checks: list[GateCheck]

    @property
    def reasons(self) -> list[str]:
        """The sentences of the checks that fail."""
        return [check.reason for check in self.checks if not check.passes]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return _plain({"passes": self.passes, "checks": [asdict(c) for c in self.checks]})


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, np.floating | np.integer):
        return value.item()
    return value


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _interval_text(interval: tuple[float, float] | None) -> str:
    if interval is None:
        return "no interval"
    return f"95% interval {_percent(interval[0])}–{_percent(interval[1])}"


def majority_of(labels: Sequence[str]) -> str | None:
    """The single most frequent label, or None on a tie or without labels."""
    if not labels:
        return None
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    top = max(counts.values())
    winners = [label for label, count in counts.items() if count == top]
    return winners[0] if len(winners) == 1 else None


def mcnemar_p(first_only: int, second_only: int) -> float | None:
    """Exact two-sided McNemar p-value on the discordant pairs; None without any.

    Under "equally accurate" each discordant case is a fair coin, so the count of one
    side is binomial(n, 1/2); the p-value doubles the smaller tail.
    """
    n = first_only + second_only
    if n == 0:
        return None
    smaller = min(first_only, second_only)
    tail = sum(math.comb(n, i) for i in range(smaller + 1)) / 2**n
    return min(1.0, 2 * tail)


def _ratio_share(numerators: np.ndarray, denominators: np.ndarray, seed: int) -> Share:
    """A share pooled over cases; Wilson when each case is one trial, else BCa over cases."""
    hits, n = int(numerators.sum()), int(denominators.sum())
    if n == 0:
        return Share(0, 0, None, None)
    if denominators.max() <= 1:
        return Share.wilson(hits, n)
    estimate = hits / n
    used = denominators > 0
    nums, dens = numerators[used], denominators[used]
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(nums), np.full(len(nums), 1 / len(nums)), size=BOOTSTRAP)
    totals = weights @ dens
    with np.errstate(invalid="ignore", divide="ignore"):
        resamples = np.where(totals > 0, (weights @ nums) / totals, np.nan)
        jackknife = (hits - nums) / (n - dens)
    jackknife = np.where(n - dens > 0, jackknife, np.nan)
    return Share(hits, n, estimate, bca_interval(estimate, resamples, jackknife))


# ---------------------------------------------------------------------------------------
# Errors by direction and severity
# ---------------------------------------------------------------------------------------


def error_profile(
    ratings: Sequence[tuple[str, str, str]],
    options: Sequence[LabelOption],
    *,
    minimums: Minimums | None = None,
    seed: int = 0,
) -> ErrorProfile:
    """Errors of ``ratings`` — (case, golden label, given label) triples — by direction.

    One rater's ratings have one per case; a vendor's pooled ratings may have several per
    case, and their intervals then come from a bootstrap over cases.
    """
    minimums = minimums or Minimums()
    by_key = {option.key: option for option in options}
    cases = sorted({case for case, _, _ in ratings})
    position = {case: index for index, case in enumerate(cases)}
    n_cases = len(cases)
    max_severity = max((option.severity for option in options), default=0.0)

    def per_case() -> np.ndarray:
        return np.zeros(n_cases)

    judged, correct, over, under, lateral = (per_case() for _ in range(5))
    over_harm, under_harm = per_case(), per_case()
    for case, golden, given in ratings:
        at = position[case]
        judged[at] += 1
        if given == golden:
            correct[at] += 1
            continue
        golden_order, given_order = by_key[golden].enforcement, by_key[given].enforcement
        if given_order > golden_order:
            over[at] += 1
            over_harm[at] += by_key[given].severity
        elif given_order < golden_order:
            under[at] += 1
            under_harm[at] += by_key[golden].severity
        else:
            lateral[at] += 1

    def weighted(harm: np.ndarray, salt: int) -> tuple[float | None, tuple[float, float] | None]:
        # Harm weights are not whole trials, so the interval always resamples cases.
        total = judged.sum()
        if total == 0 or max_severity <= 0:
            return None, None
        scaled = harm / max_severity
        estimate = float(scaled.sum() / total)
        rng = np.random.default_rng(seed + salt)
        weights = rng.multinomial(n_cases, np.full(n_cases, 1 / n_cases), size=BOOTSTRAP)
        resamples = (weights @ scaled) / (weights @ judged)
        with np.errstate(invalid="ignore", divide="ignore"):
            jackknife = np.where(
                total - judged > 0, (scaled.sum() - scaled) / (total - judged), np.nan
            )
        return estimate, bca_interval(estimate, resamples, jackknife)

    over_weighted, over_interval = weighted(over_harm, 1)
    under_weighted, under_interval = weighted(under_harm, 2)

    labels = []
    for index, option in enumerate(options):
        key = option.key
        tp, given_it, golden_it, fp, not_golden = (per_case() for _ in range(5))
        for case, golden, given in ratings:
            at = position[case]
            if given == key:
                given_it[at] += 1
            if golden == key:
                golden_it[at] += 1
                tp[at] += given == key
            else:
                not_golden[at] += 1
                fp[at] += given == key
        salt = 10 + 4 * index
        recall = _ratio_share(tp, golden_it, seed + salt)
        fpr = _ratio_share(fp, not_golden, seed + salt + 1)
        n_golden_cases = int((golden_it > 0).sum())
        labels.append(
            LabelErrors(
                label=key,
                name=option.name,
                severity=option.severity,
                enforcement=option.enforcement,
                n_golden=n_golden_cases,
                precision=_ratio_share(tp, given_it, seed + salt + 2),
                recall=recall,
                fpr=fpr,
                fnr=_complement(recall),
                evidence=(
                    "sufficient"
                    if n_golden_cases >= minimums.label_golden_cases
                    else "insufficient"
                ),
            )
        )
    return ErrorProfile(
        n=int(judged.sum()),
        n_cases=n_cases,
        correct=_ratio_share(correct, judged, seed + 3),
        over=_ratio_share(over, judged, seed + 4),
        under=_ratio_share(under, judged, seed + 5),
        lateral=_ratio_share(lateral, judged, seed + 6),
        over_weighted=over_weighted,
        over_weighted_interval=over_interval,
        under_weighted=under_weighted,
        under_weighted_interval=under_interval,
        labels=labels,
    )


def _complement(share: Share) -> Share:
    """1 − share (a miss rate from a hit rate), its interval mirrored."""
    if share.value is None:
        return Share(0, share.n, None, None)
    interval = None if share.interval is None else (1 - share.interval[1], 1 - share.interval[0])
    return Share(share.n - share.hits, share.n, 1 - share.value, interval)


# ---------------------------------------------------------------------------------------
# One version against the human ceiling
# ---------------------------------------------------------------------------------------


def _band(values: list[float]) -> Band:
    if not values:
        return Band(0, None, None, None)
    return Band(len(values), min(values), float(median(values)), max(values))


def _verdict(share: Share, band: Band, *, measure: str, enough: int) -> Verdict:
    """Place a model's share against the band: only what its interval shows is claimed.

    "Below the weakest human" needs the whole 95% interval under the weakest calibrated
    human; "above the human median" needs it wholly above the median. Otherwise the model
    is inside the band. With too few cases or calibrated humans, nothing is claimed.
    """
    if share.n < enough or share.interval is None:
        return Verdict(
            "insufficient",
            VERDICTS["insufficient"],
            f"The model has {share.n} cases to compare with {measure}; at least {enough} "
            "are needed.",
        )
    if band.n_humans < MIN_BAND_HUMANS:
        return Verdict(
            "insufficient",
            VERDICTS["insufficient"],
            f"{band.n_humans} calibrated humans labelled enough cases; a band needs at least "
            f"{MIN_BAND_HUMANS}.",
        )
    shown = f"{_percent(share.value)} of {share.n} ({_interval_text(share.interval)})"
    low, high = share.interval
    if high < band.low:
        return Verdict(
            "below",
            VERDICTS["below"],
            f"It agrees with {measure} on {shown}, wholly below the weakest human's "
            f"{_percent(band.low)}.",
        )
    if low > band.median:
        return Verdict(
            "above",
            VERDICTS["above"],
            f"It agrees with {measure} on {shown}, wholly above the human median of "
            f"{_percent(band.median)}.",
        )
    return Verdict(
        "inside",
        VERDICTS["inside"],
        f"It agrees with {measure} on {shown}; the humans range from {_percent(band.low)} to "
        f"{_percent(band.high)} (median {_percent(band.median)}).",
    )


def evaluate_version(
    rater: str,
    model_labels: Mapping[str, str],
    human_labels: Mapping[str, Mapping[str, str]],
    golden: Mapping[str, str],
    options: Sequence[LabelOption],
    *,
    minimums: Minimums | None = None,
    seed: int = 0,
) -> VersionEvaluation:
    """Measure one model version (``model_labels``: case → label) against the humans.

    ``human_labels`` maps each human rater to their labels; ``golden`` the golden answers.
    A human is *calibrated* when they labelled at least ``minimums.rater_golden_cases``
    golden cases; only calibrated humans form the band. A human's agreement with the
    others is with the majority of the other humans, so a human and the model are
    measured the same way.
    """
    minimums = minimums or Minimums()
    enough = minimums.rater_golden_cases
    notes: list[str] = []
    known = {option.key for option in options}
    unknown = sorted({label for label in model_labels.values() if label not in known})
    if unknown:
        raise ValueError(f"Labels not among the session's options: {', '.join(unknown)}")

    def majority_without(case: str, excluded: str | None) -> str | None:
        return majority_of(
            [
                labels[case]
                for name, labels in human_labels.items()
                if name != excluded and case in labels
            ]
        )

    hits = sum(1 for case, label in model_labels.items() if golden.get(case) == label)
    n_golden = sum(1 for case in model_labels if case in golden)
    golden_share = Share.wilson(hits, n_golden)
    agreed = judged = 0
    for case, label in model_labels.items():
        reference = majority_without(case, None)
        if reference is not None:
            judged += 1
            agreed += reference == label
    majority_share = Share.wilson(agreed, judged)

    humans = []
    for name, labels in sorted(human_labels.items()):
        h_hits = sum(1 for case, label in labels.items() if golden.get(case) == label)
        h_n = sum(1 for case in labels if case in golden)
        o_agree = o_n = 0
        for case, label in labels.items():
            reference = majority_without(case, name)
            if reference is not None:
                o_n += 1
                o_agree += reference == label
        calibrated = h_n >= enough if golden else o_n >= enough
        humans.append(
            HumanFigures(name, Share.wilson(h_hits, h_n), Share.wilson(o_agree, o_n), calibrated)
        )
    calibrated_humans = [human for human in humans if human.calibrated]
    band_golden = _band([h.golden.value for h in calibrated_humans if h.golden.value is not None])
    band_majority = _band([h.others.value for h in calibrated_humans if h.others.value is not None])
    if not golden:
        notes.append("The session has no golden answers, so only agreement with humans is shown.")
    errors = error_profile(
        [(case, golden[case], label) for case, label in model_labels.items() if case in golden],
        options,
        minimums=minimums,
        seed=seed,
    )
    return VersionEvaluation(
        rater=rater,
        n_labelled=len(model_labels),
        golden=golden_share,
        majority=majority_share,
        humans=humans,
        band_golden=band_golden,
        band_majority=band_majority,
        verdict_golden=_verdict(golden_share, band_golden, measure="golden", enough=enough),
        verdict_majority=_verdict(
            majority_share, band_majority, measure="the human majority", enough=enough
        ),
        errors=errors,
        notes=notes,
    )


# ---------------------------------------------------------------------------------------
# Two versions side by side, and a version over time
# ---------------------------------------------------------------------------------------


def _change(first_only: int, second_only: int, q: float | None, *, lower_is_better: bool) -> str:
    """ "better" / "worse" for the second against the first, or "no clear difference"."""
    if q is None or q > SIGNIFICANCE:
        return "no clear difference"
    # first_only: cases where only the first version has the event (a miss or a false alarm).
    second_has_fewer = second_only < first_only
    return "better" if second_has_fewer == lower_is_better else "worse"


def compare_versions(
    version_a: str,
    labels_a: Mapping[str, str],
    version_b: str,
    labels_b: Mapping[str, str],
    golden: Mapping[str, str],
    options: Sequence[LabelOption],
) -> Comparison:
    """Version B against version A on the golden cases both labelled (a paired design).

    Accuracy differs "beyond chance" when McNemar's exact test on the discordant cases
    gives p ≤ 5%. Per label, the FNR is compared on the cases whose golden answer is the
    label (discordant: one version missed it, the other did not) and the FPR on the cases
    whose golden answer is another label; the labels' p-values are adjusted together by
    Benjamini–Hochberg so that a long label list does not invent differences.
    """
    shared = sorted(case for case in labels_a if case in labels_b and case in golden)
    a_right = {case: labels_a[case] == golden[case] for case in shared}
    b_right = {case: labels_b[case] == golden[case] for case in shared}
    a_only = sum(1 for case in shared if a_right[case] and not b_right[case])
    b_only = sum(1 for case in shared if b_right[case] and not a_right[case])
    n = len(shared)
    accuracy_a = sum(a_right.values()) / n if n else None
    accuracy_b = sum(b_right.values()) / n if n else None
    p_value = mcnemar_p(a_only, b_only)
    raw: list[tuple[str, Any]] = []
    for option in options:
        key = option.key
        positives = [case for case in shared if golden[case] == key]
        negatives = [case for case in shared if golden[case] != key]
        miss_a = {case: labels_a[case] != key for case in positives}
        miss_b = {case: labels_b[case] != key for case in positives}
        alarm_a = {case: labels_a[case] == key for case in negatives}
        alarm_b = {case: labels_b[case] == key for case in negatives}
        fnr_disc = (
            sum(1 for c in positives if miss_a[c] and not miss_b[c]),
            sum(1 for c in positives if miss_b[c] and not miss_a[c]),
        )
        fpr_disc = (
            sum(1 for c in negatives if alarm_a[c] and not alarm_b[c]),
            sum(1 for c in negatives if alarm_b[c] and not alarm_a[c]),
        )
        raw.append((option, miss_a, miss_b, alarm_a, alarm_b, fnr_disc, fpr_disc))
    p_values = []
    for entry in raw:
        p_values += [mcnemar_p(*entry[5]), mcnemar_p(*entry[6])]
    tested = [p for p in p_values if p is not None]
    adjusted = iter(benjamini_hochberg(tested))
    q_values = [next(adjusted) if p is not None else None for p in p_values]

    def rate(flags: Mapping[str, bool]) -> float | None:
        return sum(flags.values()) / len(flags) if flags else None

    comparisons = []
    for index, (option, miss_a, miss_b, alarm_a, alarm_b, fnr_disc, fpr_disc) in enumerate(raw):
        fnr_q, fpr_q = q_values[2 * index], q_values[2 * index + 1]
        comparisons.append(
            LabelComparison(
                label=option.key,
                name=option.name,
                fnr_a=rate(miss_a),
                fnr_b=rate(miss_b),
                fnr_discordant=fnr_disc,
                fnr_p=p_values[2 * index],
                fnr_q=fnr_q,
                fnr_change=_change(*fnr_disc, fnr_q, lower_is_better=True),
                fpr_a=rate(alarm_a),
                fpr_b=rate(alarm_b),
                fpr_discordant=fpr_disc,
                fpr_p=p_values[2 * index + 1],
                fpr_q=fpr_q,
                fpr_change=_change(*fpr_disc, fpr_q, lower_is_better=True),
            )
        )
    # Accuracy: the event is "right", so more is better.
    if p_value is None or p_value > SIGNIFICANCE:
        change = "no clear difference"
    else:
        change = "better" if b_only > a_only else "worse"
    differing = [
        DifferingCase(case, golden.get(case), labels_a[case], labels_b[case])
        for case in sorted(set(labels_a) & set(labels_b))
        if labels_a[case] != labels_b[case]
    ]
    return Comparison(
        version_a=version_a,
        version_b=version_b,
        n=n,
        accuracy_a=accuracy_a,
        accuracy_b=accuracy_b,
        difference=None if n == 0 else accuracy_b - accuracy_a,
        a_only=a_only,
        b_only=b_only,
        p_value=p_value,
        change=change,
        labels=comparisons,
        differing=differing,
    )


def version_trend(points: Sequence[TrendPoint]) -> Trend:
    """A version across sessions (oldest first); the direction compares the last two.

    "Improving" or "declining" only when the two latest intervals do not overlap;
    "steady" otherwise, and "too few sessions" with fewer than two.
    """
    measured = [p for p in points if p.golden.interval is not None]
    if len(measured) < 2:
        return Trend(list(points), "too few sessions")
    previous, last = measured[-2].golden.interval, measured[-1].golden.interval
    if last[0] > previous[1]:
        direction = "improving"
    elif last[1] < previous[0]:
        direction = "declining"
    else:
        direction = "steady"
    return Trend(list(points), direction)


# ---------------------------------------------------------------------------------------
# The graduation gate
# ---------------------------------------------------------------------------------------


def model_gate(
    evaluation: VersionEvaluation | Mapping[str, Any],
    *,
    min_severity: float,
    fnr_target: float,
    minimums: Minimums | None = None,
) -> ModelGate:
    """The graduation gate of one evaluated version (or its stored ``to_dict()`` figures).

    It passes when, on every label whose severity is at least ``min_severity``, the upper
    end of the 95% interval of the false-negative rate is below ``fnr_target`` (with at
    least ``minimums.label_golden_cases`` golden cases of the label), and agreement with
    golden is not below the human band (verdict other than "below the weakest human", and
    placed at all: too little evidence fails the gate with what is missing).
    """
    minimums = minimums or Minimums()
    figures = evaluation.to_dict() if isinstance(evaluation, VersionEvaluation) else evaluation
    checks = []
    for label in figures["errors"]["labels"]:
        if label["severity"] < min_severity:
            continue
        name, n_golden, fnr = label["name"], label["n_golden"], label["fnr"]
        interval = tuple(fnr["interval"]) if fnr["interval"] else None
        upper = interval[1] if interval else None
        if n_golden < minimums.label_golden_cases:
            checks.append(
                GateCheck(
                    label["label"],
                    "fnr",
                    upper,
                    fnr_target,
                    n_golden,
                    False,
                    f"{name}: {n_golden} golden cases; the false-negative rate needs at least "
                    f"{minimums.label_golden_cases} to be judged.",
                )
            )
            continue
        passes = upper is not None and upper < fnr_target
        shown = f"{_percent(fnr['value'])} ({_interval_text(interval)})"
        checks.append(
            GateCheck(
                label["label"],
                "fnr",
                upper,
                fnr_target,
                n_golden,
                passes,
                f"{name}: misses {shown} of {n_golden} golden cases; the upper end must be "
                f"below {_percent(fnr_target)}."
                if not passes
                else f"{name}: misses {shown}, below {_percent(fnr_target)}.",
            )
        )
    verdict = figures["verdict_golden"]
    checks.append(
        GateCheck(
            None,
            "band",
            figures["golden"]["value"],
            figures["band_golden"]["low"],
            figures["golden"]["n"],
            verdict["key"] in ("inside", "above"),
            f"{verdict['text']}: {verdict['reason']}",
        )
    )
    return ModelGate(all(check.passes for check in checks), checks)
