"""How sure a figure is: intervals, one-sided p-values and false-discovery control.

Pure functions over numpy arrays and numbers (no Flask, no database), used by the
agreement engine and its flags.

- :func:`bca_interval`: the bias-corrected and accelerated (BCa) bootstrap interval of
  Efron (1987), with the acceleration from a jackknife over cases. The plain percentile
  interval is too narrow when alpha's sampling distribution is skewed, which it is at the
  small sizes calibration sessions have.
- :func:`wilson_interval` and :func:`binomial_p_below`: a proportion of independent trials
  (one rater's hits on golden cases, each case seen once by that rater).
- :func:`benjamini_hochberg`: q-values controlling the false-discovery rate across the
  many raters, labels, vendors and sites tested in one session.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np

_NORMAL = NormalDist()

# Two-sided 95% intervals everywhere.
CONFIDENCE = 0.95


def bca_interval(
    estimate: float,
    resamples: np.ndarray,
    jackknife: np.ndarray,
    *,
    confidence: float = CONFIDENCE,
) -> tuple[float, float] | None:
    """The BCa interval of ``estimate`` from its bootstrap ``resamples`` (NaN = undefined).

    ``jackknife`` holds the estimate with each case left out in turn (NaN where leaving
    the case out makes it undefined); it gives the acceleration, the skew correction.
    Returns None when no resample is defined.
    """
    defined = resamples[np.isfinite(resamples)]
    if len(defined) == 0:
        return None
    below = float((defined < estimate).sum()) + 0.5 * float((defined == estimate).sum())
    share = min(max(below / len(defined), 0.5 / len(defined)), 1 - 0.5 / len(defined))
    bias = _NORMAL.inv_cdf(share)
    jack = jackknife[np.isfinite(jackknife)]
    acceleration = 0.0
    if len(jack) > 1:
        spread = jack.mean() - jack
        squares = float((spread**2).sum())
        if squares > 0:
            acceleration = float((spread**3).sum()) / (6 * squares**1.5)
    tail = (1 - confidence) / 2
    levels = []
    for z in (_NORMAL.inv_cdf(tail), _NORMAL.inv_cdf(1 - tail)):
        shifted = bias + z
        denominator = 1 - acceleration * shifted
        # An extreme acceleration can push the corrected level off the distribution;
        # then the end of the resamples is the honest answer.
        level = _NORMAL.cdf(bias + shifted / denominator) if denominator > 0 else float(z > 0)
        levels.append(min(max(level, 0.0), 1.0))
    low, high = np.quantile(defined, levels)
    return float(min(low, estimate)), float(max(high, estimate))


def share_below(resamples: np.ndarray, threshold: float) -> float | None:
    """The bootstrap probability that the figure is below ``threshold`` (Hayes' q)."""
    defined = resamples[np.isfinite(resamples)]
    if len(defined) == 0:
        return None
    return float((defined < threshold).mean())


def bootstrap_p_meets(resamples: np.ndarray, threshold: float, *, above: bool = True) -> float:
    """One-sided bootstrap p-value of "the target is met" (figure >= threshold when
    ``above``, <= threshold otherwise), with the +1 correction so it is never 0."""
    defined = resamples[np.isfinite(resamples)]
    meets = (defined >= threshold) if above else (defined <= threshold)
    return float((1 + meets.sum()) / (1 + len(defined)))


def wilson_interval(
    hits: int, trials: int, *, confidence: float = CONFIDENCE
) -> tuple[float, float] | None:
    """Wilson's score interval of hits / trials; None without trials.

    Unlike the normal (Wald) interval it stays inside [0, 1] and keeps its coverage near
    the nominal level down to a handful of trials.
    """
    if trials <= 0:
        return None
    z = _NORMAL.inv_cdf(1 - (1 - confidence) / 2)
    share = hits / trials
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials))
    half /= 1 + z * z / trials
    return max(0.0, centre - half), min(1.0, centre + half)


def binomial_p_below(hits: int, trials: int, target: float) -> float:
    """Exact one-sided p-value of "the true share is at least ``target``": P(X <= hits).

    Summed in log space so that thousands of trials neither underflow nor overflow.
    """
    if trials <= 0:
        return 1.0
    if target <= 0:
        return 1.0 if hits >= 0 else 0.0
    if target >= 1:
        return 1.0 if hits >= trials else 0.0
    # log P(X = i) by the recurrence P(i) = P(i - 1) * (n - i + 1) / i * p / (1 - p).
    steps = np.arange(1, hits + 1, dtype=np.float64)
    log_pmf = trials * math.log1p(-target) + np.concatenate(
        [[0.0], np.cumsum(np.log((trials - steps + 1) / steps) + math.log(target / (1 - target)))]
    )
    top = log_pmf.max()
    return float(min(1.0, math.exp(top) * np.exp(log_pmf - top).sum()))


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg q-values (adjusted p-values) in the order given.

    Rejecting every hypothesis whose q-value is at most q controls the expected share of
    false findings among the findings at q, for independent or positively dependent
    tests (Benjamini & Hochberg 1995; Benjamini & Yekutieli 2001).
    """
    count = len(p_values)
    if count == 0:
        return []
    order = sorted(range(count), key=lambda position: p_values[position])
    adjusted = [1.0] * count
    running = 1.0
    for rank in range(count, 0, -1):
        position = order[rank - 1]
        running = min(running, p_values[position] * count / rank)
        adjusted[position] = min(1.0, running)
    return adjusted
