"""Drift: has a site's quality moved down across sessions by more than chance?

Pure functions (no Flask, no database), used by the scorecards and the drift flags.

The method is an EWMA control chart (Roberts 1959; Lucas & Saccucci 1990) on one
figure of one site — its accuracy against golden or its alpha — in the order its sessions
were revealed:

- **Baseline.** The site's own first ``baseline_sessions`` sessions that have enough
  evidence give the in-control level ``mu0``: for accuracy the pooled share of golden
  labels matched, for alpha the inverse-variance weighted mean. Sessions differ in how
  hard their cases are, so each session's variance is its sampling variance plus a
  between-session variance ``tau^2`` (a setting: 2 points of accuracy, 0.03 of alpha).
  Three sessions are too few to estimate it: a baseline that happened to be ragged made
  the chart blind, one that happened to be smooth made it alarm on honest sites.
- **Chart.** For each later session ``t`` the deviation ``d_t = x_t - mu0`` is smoothed,
  ``E_t = lam * d_t + (1 - lam) * E_(t-1)`` with ``E_0 = 0``. Its standard deviation
  under "nothing changed" is exact for independent sessions: the weighted sampling
  variances of the sessions in it plus the uncertainty of ``mu0`` itself, which every
  deviation shares. ``z_t = E_t / sd(E_t)``.
- **Alarm.** The site drifts when, at its latest session, ``z <= -limit`` (a one-sided
  lower chart: a site improving is not an alarm). Because ``tau^2`` stays in every
  session's variance, a very large site is not flagged for a point's drop either.
- **Evidence.** A session counts only with at least ``min_n`` golden labels (accuracy)
  or an interval (alpha); no verdict before ``baseline_sessions`` + 1 such sessions.

``lam`` 0.4 with ``limit`` 2.8 flags an honest site at a given session well under 1% of
the time; ``benchmarks/drift.py`` measures that and how soon planted drops are named.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from calibration.evidence import _NORMAL as NORMAL
from calibration.evidence import CONFIDENCE

# Half-width of a two-sided 95% interval in standard errors.
_Z = NORMAL.inv_cdf(0.5 + CONFIDENCE / 2)

ACCURACY = "accuracy"
ALPHA = "alpha"
METRIC_NAMES = {ACCURACY: "accuracy against golden", ALPHA: "agreement (alpha)"}


@dataclass(frozen=True)
class DriftRule:
    """The chart's settings; the defaults are documented in the README."""

    baseline_sessions: int = 3
    smoothing: float = 0.4
    limit: float = 2.8
    min_n: int = 30
    accuracy_between_sd: float = 0.02
    alpha_between_sd: float = 0.03


@dataclass(frozen=True)
class Point:
    """One session's figure for one site.

    ``value`` is the accuracy (a share) or alpha; ``n`` the golden labels the accuracy
    was measured on; ``interval`` the figure's 95% interval (needed for alpha, whose
    sampling error has no closed form). ``name`` is how a sentence names the session.
    """

    session_id: int
    name: str
    value: float | None
    n: int = 0
    interval: tuple[float, float] | None = None


@dataclass
class Drift:
    """What the chart says about one site and figure, in figures and in a sentence."""

    metric: str
    drifting: bool
    sentence: str
    baseline: float | None = None
    baseline_sessions: list[int] = field(default_factory=list)
    current: float | None = None
    statistic: float | None = None
    limit: float | None = None
    drop: float | None = None
    sessions: list[int] = field(default_factory=list)
    chart: list[dict] = field(default_factory=list)
    enough_evidence: bool = False

    def to_dict(self) -> dict:
        return {
            "metric": self.metric,
            "drifting": self.drifting,
            "sentence": self.sentence,
            "baseline": self.baseline,
            "baseline_sessions": self.baseline_sessions,
            "current": self.current,
            "statistic": self.statistic,
            "limit": self.limit,
            "drop": self.drop,
            "sessions": self.sessions,
            "chart": self.chart,
            "enough_evidence": self.enough_evidence,
        }


def _usable(point: Point, metric: str, rule: DriftRule) -> bool:
    if point.value is None or not math.isfinite(point.value):
        return False
    if metric == ACCURACY:
        return point.n >= rule.min_n
    return point.interval is not None and point.interval[1] > point.interval[0]


def _percent(value: float, metric: str) -> str:
    if metric == ACCURACY:
        return f"{value:.0%}"
    return f"{value:.2f}"


def _amount(change: float, metric: str) -> str:
    if metric == ACCURACY:
        return f"{change * 100:.1f} percentage points"
    return f"{change:.2f}"


def detect(
    points: Sequence[Point], metric: str, *, subject: str, rule: DriftRule = DriftRule()
) -> Drift:
    """Run the chart over ``points`` (oldest first) and say whether ``subject`` drifts."""
    usable = [p for p in points if _usable(p, metric, rule)]
    needed = rule.baseline_sessions + 1
    name = METRIC_NAMES[metric]
    if len(usable) < needed:
        return Drift(
            metric=metric,
            drifting=False,
            sentence=(
                f"Not enough history to judge drift in {subject}'s {name}: "
                f"{len(usable)} revealed session{'s' if len(usable) != 1 else ''} with enough "
                f"evidence, {needed} needed."
            ),
        )
    baseline, later = usable[: rule.baseline_sessions], usable[rule.baseline_sessions :]

    if metric == ACCURACY:
        total = sum(p.n for p in baseline)
        mu0 = sum(p.value * p.n for p in baseline) / total
        # The sampling variance comes from the share over every session, not the baseline's:
        # a baseline that happened to run high would otherwise also shrink the variance it
        # judges later sessions by, and honest sites would alarm. Kept off 0 and 1 so a
        # perfect record does not make the first miss an alarm.
        everything = sum(p.n for p in usable)
        share = sum(p.value * p.n for p in usable) / everything
        share = min(max(share, 0.5 / everything), 1 - 0.5 / everything)

        def sampling_variance(point: Point) -> float:
            return share * (1 - share) / point.n
    else:

        def sampling_variance(point: Point) -> float:
            low, high = point.interval
            return ((high - low) / (2 * _Z)) ** 2

        weights = [1 / sampling_variance(p) for p in baseline]
        mu0 = sum(w * p.value for w, p in zip(weights, baseline, strict=True)) / sum(weights)

    variances = [sampling_variance(p) for p in baseline]
    tau2 = (rule.accuracy_between_sd if metric == ACCURACY else rule.alpha_between_sd) ** 2
    baseline_weights = [1 / (v + tau2) for v in variances]
    mu0_variance = 1 / sum(baseline_weights)
    if metric != ACCURACY:
        mu0 = sum(w * p.value for w, p in zip(baseline_weights, baseline, strict=True)) / sum(
            baseline_weights
        )

    lam = rule.smoothing
    ewma = 0.0
    own_variance = 0.0  # sum of w_i^2 v_i over the sessions in the average
    weight_sum = 0.0  # sum of w_i: how much of mu0's error the average carries
    chart = []
    z = 0.0
    for point in later:
        ewma = lam * (point.value - mu0) + (1 - lam) * ewma
        own_variance = lam**2 * (sampling_variance(point) + tau2) + (1 - lam) ** 2 * own_variance
        weight_sum = lam + (1 - lam) * weight_sum
        sd = math.sqrt(own_variance + weight_sum**2 * mu0_variance)
        z = ewma / sd if sd > 0 else 0.0
        chart.append(
            {
                "session_id": point.session_id,
                "value": point.value,
                "smoothed": mu0 + ewma,
                "lower_limit": mu0 - rule.limit * sd,
                "statistic": z,
            }
        )
    drop = -ewma
    drifting = z <= -rule.limit
    current = later[-1]
    # The sessions that pulled the average down: the latest run more than one standard
    # error below the baseline (a session a hair under it is not part of the fall).
    run = []
    for point in reversed(later):
        if point.value > mu0 - math.sqrt(sampling_variance(point) + tau2):
            break
        run.append(point)
    run.reverse()
    baseline_names = (
        f"{baseline[0].name} to {baseline[-1].name}"
        if len(baseline) > 2
        else " and ".join(p.name for p in baseline)
    )
    if drifting:
        names = " and ".join(p.name for p in run[-2:]) if run else current.name
        if len(run) > 2:
            names = f"{len(run)} sessions to {current.name}"
        sentence = (
            f"{subject}'s {name} fell from {_percent(mu0, metric)} (its baseline, "
            f"{baseline_names}) to {_percent(current.value, metric)} in {current.name}: "
            f"smoothed, {_amount(drop, metric)} below the baseline over {names}, "
            f"{abs(z):.1f} standard errors (the alarm is at {rule.limit:.1f})."
        )
    else:
        sentence = (
            f"{subject}'s {name} holds: {_percent(current.value, metric)} in {current.name} "
            f"against a baseline of {_percent(mu0, metric)} ({baseline_names}); the smoothed "
            f"change is within chance ({z:+.1f} standard errors, the alarm at "
            f"-{rule.limit:.1f})."
        )
    return Drift(
        metric=metric,
        drifting=drifting,
        sentence=sentence,
        baseline=mu0,
        baseline_sessions=[p.session_id for p in baseline],
        current=current.value,
        statistic=z,
        limit=rule.limit,
        drop=drop,
        sessions=[p.session_id for p in run],
        chart=chart,
        enough_evidence=True,
    )
