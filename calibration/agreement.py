"""The agreement engine: how far raters agree, and who and what drives disagreement.

Inputs
------
- ``ratings``: (case, rater, label) triples (:class:`Rating`), at most one per case and
  rater; a case needs labels from two raters before it tells us anything about agreement.
- ``categories``: the ordered label domain. Every label and golden label must be in it.
  The order matters for the ordinal level; the interval and ratio levels read the labels
  as numbers.
- ``level``: the level of measurement, one of :data:`LEVELS`.
- ``golden``: optionally, the golden (expected) label per case.
- ``rater_groups`` and ``rater_sites``: optionally, the vendor and the site of each rater.

Public API: :func:`compute_report` for the whole report; :func:`coincidence_alpha`,
:func:`bootstrap_alphas`, :func:`resampled_alphas`, :func:`resample_indices` and
:func:`label_values` for alpha alone.

Output
------
One :class:`AgreementReport` (plain dataclasses) holding Krippendorff's alpha with a 95%
bootstrap interval over cases, percent agreement, Fleiss' kappa, Gwet's AC1, pairwise
Cohen's kappas, figures per rater, label, vendor (``groups``), site and case, the flags a
partner operations manager should act on, and notes explaining every undefined (``None``)
figure. :meth:`AgreementReport.to_dict` gives the JSON form that ``rollcal agreement
--json`` prints and that the database keeps as a snapshot;
:meth:`AgreementReport.from_dict` reads it back.

How it stays fast
-----------------
Alpha depends on the data only through the coincidence matrix, which is a sum of one
small matrix per case. The engine therefore builds per-case contributions once and gets
every other alpha it needs (bootstrap resamples, each rater left out, each label against
the rest, each vendor and site) from sums of them with numpy, instead of calling
``krippendorff.alpha`` again and again. The headline alpha itself comes from the
``krippendorff`` package, and the tests hold the two paths equal to 1e-9.

This module is pure: numpy, krippendorff and the standard library; no Flask, no database.
"""

from __future__ import annotations

import dataclasses
import math
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from statistics import NormalDist
from typing import Any, NamedTuple

import krippendorff
import numpy as np

from calibration.evidence import bca_interval, bootstrap_p_meets, share_below, wilson_interval
from calibration.findings import (
    MISREAD_MIN_EXCESS,
    MISREAD_MIN_SHARE,
    SEVERITIES,
    Flag,
    FlagInputs,
    Minimums,
    Misread,
    build_flags,
)

LEVELS = ("nominal", "ordinal", "interval", "ratio")

__all__ = ["SEVERITIES", "Flag", "Minimums"]

# Per-resample work is a (resamples x cases) count matrix; cap its size so the 50,000-case
# bootstrap stays within a few tens of megabytes per chunk instead of gigabytes.
_CHUNK_ENTRIES = 2_000_000


class Rating(NamedTuple):
    """One label given by one rater to one case.

    A named tuple rather than a dataclass: sessions hand the engine tens of thousands of
    ratings, and tuples are several times cheaper to build.
    """

    case: str
    rater: str
    label: str


class AgreementInputError(ValueError):
    """The ratings, categories or options cannot be analysed (empty, unknown labels...)."""


@dataclass
class RaterFigures:
    """How one rater labels, compared with the others and with golden.

    ``n`` cases labelled; ``agreement`` the share of (this rater, other rater) pairs on
    shared cases that gave the same label; ``accuracy`` (with its Wilson 95% interval
    ``accuracy_ci`` over ``n_golden`` cases) and ``kappa_vs_golden`` (Cohen's) on the
    rater's cases that have a golden label; ``alpha_without`` alpha with this rater left
    out, and ``loo_delta = alpha_without - alpha``: large and positive means the rater
    pulls agreement down. ``loo_delta_ci`` is its bootstrap interval, given for raters
    whose ``loo_delta`` reaches the flag threshold. ``model`` marks an automated rater.
    """

    rater: str
    group: str | None
    site: str | None
    n: int
    agreement: float | None
    accuracy: float | None
    kappa_vs_golden: float | None
    alpha_without: float | None
    loo_delta: float | None
    n_golden: int = 0
    accuracy_ci: tuple[float, float] | None = None
    loo_delta_ci: tuple[float, float] | None = None
    model: bool = False


@dataclass
class LabelFigures:
    """How consistently one label is used, and how well it matches golden.

    ``support`` ratings that gave this label, ``n_golden`` cases whose golden label it is;
    ``alpha_one_vs_rest`` nominal alpha of "this label or not". Precision, recall, F1 and
    the false-positive and false-negative rates pool every rating on a golden case.
    ``alpha_one_vs_rest_ci`` and ``recall_ci`` are BCa bootstrap intervals over cases.
    """

    label: str
    support: int
    n_golden: int
    alpha_one_vs_rest: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    fpr: float | None
    fnr: float | None
    alpha_one_vs_rest_ci: tuple[float, float] | None = None
    recall_ci: tuple[float, float] | None = None


@dataclass
class GroupFigures:
    """Agreement among the raters of one vendor, and how the vendor compares to the rest.

    ``alpha``, ``alpha_ci`` and ``percent_agreement`` use only the vendor's own raters;
    ``accuracy`` pools their ratings on golden cases; ``majority_deviation`` is the share
    of cases where the vendor's most frequent label differs from that of everyone
    outside it, among cases where both sides have one (a tie is no majority).

    ``n_pairable`` cases two of its raters labelled and ``n_golden`` golden cases it
    labelled; ``accuracy_ci`` a BCa interval over cases; ``p_below_threshold`` the
    bootstrap probability that alpha is below the threshold. ``evidence`` is
    ``sufficient`` or ``insufficient`` by the documented minimums, and ``evidence_missing``
    says what is missing. ``explained_by`` names the flagged raters without whom the
    group meets its targets (it is then not flagged itself). ``confusion`` counts its
    ratings by golden label (rows) and label given (columns).
    """

    group: str
    n_raters: int
    n_items: int
    alpha: float | None
    alpha_ci: tuple[float, float] | None
    percent_agreement: float | None
    accuracy: float | None
    majority_deviation: float | None
    n_pairable: int = 0
    n_golden: int = 0
    accuracy_ci: tuple[float, float] | None = None
    p_below_threshold: float | None = None
    evidence: str = "insufficient"
    evidence_missing: list[str] = field(default_factory=list)
    explained_by: list[str] | None = None
    confusion: list[list[int]] | None = None


@dataclass
class SiteFigures:
    """The same figures as :class:`GroupFigures`, for the raters of one site.

    Rollout readiness gates each site on ``alpha`` (or the lower end of ``alpha_ci``),
    ``accuracy`` and ``evidence``.
    """

    site: str
    n_raters: int
    n_items: int
    alpha: float | None
    alpha_ci: tuple[float, float] | None
    percent_agreement: float | None
    accuracy: float | None
    majority_deviation: float | None
    n_pairable: int = 0
    n_golden: int = 0
    accuracy_ci: tuple[float, float] | None = None
    p_below_threshold: float | None = None
    evidence: str = "insufficient"
    evidence_missing: list[str] = field(default_factory=list)
    explained_by: list[str] | None = None
    confusion: list[list[int]] | None = None


@dataclass
class CaseFigures:
    """How split the labels on one case are; ``item`` is the case as given in the ratings.

    ``labels`` counts each label given (domain order, labels given only); ``majority`` is
    the single most frequent label (None on a tie) and ``majority_share`` the share of
    the top label; ``entropy`` is the label entropy divided by log(number of labels in
    the domain): 0 when everyone agreed, 1 when labels spread evenly over every option.
    """

    item: str
    n: int
    labels: dict[str, int]
    majority: str | None
    majority_share: float
    entropy: float
    golden: str | None


@dataclass
class PairKappa:
    """Cohen's kappa between two raters on the cases both labelled."""

    rater_a: str
    rater_b: str
    n: int
    kappa: float | None


@dataclass
class AgreementReport:
    """Everything the engine found; ``to_dict`` gives the JSON snapshot.

    ``n_pairable_items`` counts cases labelled by two or more raters, the only ones that
    enter alpha and the kappas. ``alpha_ci`` is the 95% BCa interval (``interval_method``)
    from ``bootstrap`` resamples of cases drawn with ``seed``, withheld (None, with a note)
    on fewer than the minimum cases; ``undefined_resamples`` counts resamples whose alpha
    was undefined. ``p_below_threshold`` is the bootstrap probability that alpha is below
    the threshold. ``percent_agreement`` is the mean, over pairable cases, of the share of
    rater pairs that agree, and ``expected_agreement`` the share of pairs that would agree
    by chance given how often each label was used. ``confusion`` has golden labels as rows
    and rater labels as columns, both in ``categories`` order. Raters come most
    disagreement-driving first, labels in domain order, vendors and sites by name, cases
    most contested first, flags most severe first. Every None has a note saying why.
    """

    n_items: int
    n_pairable_items: int
    n_raters: int
    n_labels: int
    level: str
    categories: list[str]
    alpha: float | None
    alpha_ci: tuple[float, float] | None
    bootstrap: int
    seed: int | None
    percent_agreement: float | None
    fleiss_kappa: float | None
    gwet_ac1: float | None
    mean_cohen_kappa: float | None
    cohen_kappa: list[PairKappa]
    raters: list[RaterFigures]
    labels: list[LabelFigures]
    confusion: list[list[int]] | None
    groups: list[GroupFigures]
    sites: list[SiteFigures]
    items: list[CaseFigures]
    flags: list[Flag]
    notes: list[str] = field(default_factory=list)
    expected_agreement: float | None = None
    p_below_threshold: float | None = None
    interval_method: str = "bca"
    undefined_resamples: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data (lists, dicts, str, int, float, None)."""
        return _plain(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AgreementReport:
        """Rebuild a report from :meth:`to_dict` output (e.g. a stored JSON snapshot).

        Keys added since a snapshot was stored take their defaults, so older snapshots
        still read.
        """
        nested = {
            "cohen_kappa": PairKappa,
            "raters": RaterFigures,
            "labels": LabelFigures,
            "groups": GroupFigures,
            "sites": SiteFigures,
            "items": CaseFigures,
            "flags": Flag,
        }
        values: dict[str, Any] = {}
        for report_field in dataclasses.fields(cls):
            if report_field.name not in data:
                continue
            value = data[report_field.name]
            if report_field.name in nested:
                value = [_from_plain(nested[report_field.name], entry) for entry in value]
            elif report_field.name == "alpha_ci":
                value = _interval(value)
            values[report_field.name] = value
        return cls(**values)

    def rater(self, name: str) -> RaterFigures | None:
        """Return the figures of the rater called ``name``, if they labelled anything."""
        return next((entry for entry in self.raters if entry.rater == name), None)

    def group(self, name: str) -> GroupFigures | None:
        """Return the figures of the vendor called ``name``, if it has raters."""
        return next((entry for entry in self.groups if entry.group == name), None)

    def site(self, name: str) -> SiteFigures | None:
        """Return the figures of the site called ``name``, if it has raters."""
        return next((entry for entry in self.sites if entry.site == name), None)


def _plain(value: Any) -> Any:
    """Turn dataclasses, tuples and numpy scalars into JSON-ready Python values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _from_plain(cls: type, data: Mapping[str, Any]) -> Any:
    """Build one list entry of a report from its JSON form (missing keys: defaults)."""
    values = {f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data}
    for name in values:
        if name.endswith("_ci") or name == "interval":
            values[name] = _interval(values[name])
    if "labels" in values:
        values["labels"] = dict(values["labels"])
    return cls(**values)


def _interval(value: Sequence[float] | None) -> tuple[float, float] | None:
    return None if value is None else (value[0], value[1])


def _number(value: Any) -> float | None:
    """A Python float, or None for NaN and infinities: the report never holds a NaN."""
    number = float(value)
    return number if math.isfinite(number) else None


# ---------------------------------------------------------------------------------------
# Building blocks: coincidence matrices and alpha
# ---------------------------------------------------------------------------------------


def label_values(categories: Sequence[str], level: str) -> np.ndarray:
    """Return the numbers alpha's distance works on for each category.

    Nominal and ordinal labels only need their position; interval and ratio labels must
    be numbers, because those distances are differences and ratios of the values.
    """
    _check_level(level)
    if level in ("nominal", "ordinal"):
        return np.arange(len(categories), dtype=np.float64)
    values = []
    for category in categories:
        number = _as_number(category)
        if number is None:
            raise AgreementInputError(
                f"label {category!r} is not a number; the {level} level needs numeric labels"
            )
        values.append(number)
    if len(set(values)) != len(values):
        raise AgreementInputError(f"two labels stand for the same number in {list(categories)}")
    return np.asarray(values, dtype=np.float64)


def coincidence_matrix(value_counts: np.ndarray) -> np.ndarray:
    """Return Krippendorff's coincidence matrix of value counts (cases x labels).

    Works on stacks too: shape (..., cases, labels) gives (..., labels, labels). A case
    labelled by fewer than two raters contributes nothing, as in Krippendorff's method.
    """
    value_counts = np.asarray(value_counts, dtype=np.float64)
    per_case = _row_sums(value_counts)
    weight = np.divide(1.0, per_case - 1, out=np.zeros_like(per_case), where=per_case >= 2)
    weighted = value_counts * weight[..., None]
    coincidences = np.swapaxes(weighted, -1, -2) @ value_counts
    diagonal = np.arange(value_counts.shape[-1])
    coincidences[..., diagonal, diagonal] -= weighted.sum(-2)
    return coincidences


def coincidence_alpha(value_counts: np.ndarray, *, values: np.ndarray, level: str) -> float | None:
    """Krippendorff's alpha from value counts (cases x labels), or None when undefined.

    ``values`` comes from :func:`label_values`. Alpha is undefined when no case has two
    labels or when every pairable label is the same (nothing to tell from chance).
    """
    _check_level(level)
    alpha = _alpha_from_coincidences(coincidence_matrix(value_counts), values, level)
    return _number(alpha)


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise AgreementInputError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")


def _fixed_distances(values: np.ndarray, level: str) -> np.ndarray:
    """Squared distances between labels for the levels whose metric ignores frequencies."""
    if level == "nominal":
        return 1.0 - np.eye(len(values))
    difference = values[:, None] - values[None, :]
    if level == "interval":
        return difference**2
    total = values[:, None] + values[None, :]
    return np.divide(difference, total, out=np.zeros_like(difference), where=total != 0) ** 2


def _ordinal_distances(label_totals: np.ndarray) -> np.ndarray:
    """Ordinal distances, which depend on how often each label was used (..., V) -> (..., V, V).

    Krippendorff's ordinal metric: the number of pairable values from one label to the
    other, inclusive, minus half of the two end labels' own counts, squared.
    """
    n_labels = label_totals.shape[-1]
    leading = np.zeros((*label_totals.shape[:-1], 1))
    cumulative = np.concatenate([leading, np.cumsum(label_totals, axis=-1)], axis=-1)
    positions = np.arange(n_labels)
    low = np.minimum.outer(positions, positions)
    high = np.maximum.outer(positions, positions)
    between = cumulative[..., high + 1] - cumulative[..., low]
    ends = (label_totals[..., :, None] + label_totals[..., None, :]) / 2
    return (between - ends) ** 2


def _alpha_from_totals(
    observed: np.ndarray, label_totals: np.ndarray, distances: np.ndarray
) -> np.ndarray:
    """Alpha from summed observed disagreement and label totals; NaN where undefined.

    alpha = 1 - (n - 1) * sum(o * d) / (n' d n), which is Krippendorff's
    1 - D_observed / D_expected with the expected coincidences written out.
    """
    total = label_totals.sum(-1)
    spread = (np.matmul(label_totals[..., None, :], distances)[..., 0, :] * label_totals).sum(-1)
    # Label totals are integer counts (of pairable values), so > 0.5 means "used".
    defined = ((label_totals > 0.5).sum(-1) >= 2) & (spread > 0)
    ratio = np.divide(
        observed * (total - 1), spread, out=np.full(np.shape(spread), np.nan), where=defined
    )
    return 1.0 - ratio


def _alpha_from_coincidences(coincidences: np.ndarray, values: np.ndarray, level: str) -> Any:
    """Alpha from coincidence matrices (..., V, V); NaN where undefined."""
    label_totals = coincidences.sum(-1)
    if level == "ordinal":
        distances = _ordinal_distances(label_totals)
    else:
        distances = _fixed_distances(values, level)
    observed = (coincidences * distances).sum((-2, -1))
    return _alpha_from_totals(observed, label_totals, distances)


# ---------------------------------------------------------------------------------------
# Bootstrap over cases
# ---------------------------------------------------------------------------------------
#
# The bootstrap resamples cases, not single labels: the labels on one case are not
# independent (every rater saw the same content, and a hard case is hard for everyone),
# and what we want to generalise to is other cases of the same policy. Resampling whole
# cases keeps that dependence intact. Because alpha only depends on the sum of per-case
# coincidence contributions, a resample is a vector of case counts and its alpha follows
# from counts @ contributions, so 1,000 resamples cost one matrix product.


def resample_indices(n_cases: int, n_resamples: int, seed: int | None = None) -> np.ndarray:
    """Draw ``n_resamples`` resamples of ``n_cases`` case positions with replacement.

    Returns an (n_resamples, n_cases) array. :func:`compute_report` draws the same
    indices, chunk by chunk, from the same seed.
    """
    rng = np.random.default_rng(seed)
    return rng.integers(0, n_cases, size=(n_resamples, n_cases))


def bootstrap_alphas(
    value_counts: np.ndarray, indices: np.ndarray, *, values: np.ndarray, level: str
) -> np.ndarray:
    """Alpha of each resample of cases, vectorised; NaN where a resample has no variation.

    ``value_counts`` is (cases x labels); row b of ``indices`` lists the case positions
    of resample b. Gives the same numbers as calling ``krippendorff.alpha`` on
    ``value_counts[indices[b]]`` for every b.
    """
    _check_level(level)
    value_counts = np.asarray(value_counts, dtype=np.float64)
    indices = np.asarray(indices)
    contributions = _case_contributions(value_counts, values, level)
    chunk = _chunk_size(indices.shape[0], value_counts.shape[0])
    sums = np.concatenate(
        [
            _case_counts(indices[start : start + chunk], value_counts.shape[0]) @ contributions
            for start in range(0, indices.shape[0], chunk)
        ]
    )
    return _alpha_from_contribution_sums(sums, values, level)


def resampled_alphas(
    value_counts: np.ndarray,
    *,
    n_resamples: int,
    seed: int | None,
    values: np.ndarray,
    level: str,
) -> np.ndarray:
    """Alpha of ``n_resamples`` resamples of cases drawn from ``seed``; NaN where undefined.

    The same draws as :func:`resample_indices` with that seed, but made chunk by chunk, so
    memory stays bounded however many cases there are (the report's own bootstrap).
    """
    _check_level(level)
    value_counts = np.asarray(value_counts, dtype=np.float64)
    contributions = _case_contributions(value_counts, values, level)
    sums = _bootstrap_sums(contributions, n_resamples, np.random.default_rng(seed))
    return _alpha_from_contribution_sums(sums, values, level)


def _chunk_size(n_resamples: int, n_cases: int) -> int:
    return max(1, min(n_resamples, _CHUNK_ENTRIES // max(n_cases, 1)))


def _case_counts(indices: np.ndarray, n_cases: int) -> np.ndarray:
    """How many times each case appears in each resample: (resamples, cases) floats."""
    n_resamples = indices.shape[0]
    if n_cases < 256:
        # Few cases: one bincount over all resamples, offset so each gets its own bins.
        offsets = (np.arange(n_resamples) * n_cases)[:, None]
        counts = np.bincount((indices + offsets).ravel(), minlength=n_resamples * n_cases)
        return counts.reshape(n_resamples, n_cases).astype(np.float64)
    # Many cases: one bincount per resample keeps the counting inside the CPU cache, where
    # a single bincount over all resamples would scatter across megabytes.
    counts = np.empty(indices.shape, dtype=np.float64)
    for row, resample in enumerate(indices):
        counts[row] = np.bincount(resample, minlength=n_cases)
    return counts


def _case_contributions(value_counts: np.ndarray, values: np.ndarray, level: str) -> np.ndarray:
    """What each case adds to the sums alpha needs, one row per case.

    For nominal, interval and ratio the distances are fixed, so a case only adds its
    pairable label counts and one disagreement number (V + 1 columns). The ordinal
    distances depend on the label totals of the resample itself, so there a case adds its
    whole (symmetric) coincidence matrix, upper triangle only.
    """
    n_labels = value_counts.shape[-1]
    per_case = value_counts.sum(-1)
    pairable = per_case >= 2
    weight = np.divide(1.0, per_case - 1, out=np.zeros_like(per_case), where=pairable)
    if level == "ordinal":
        upper = np.triu_indices(n_labels)
        coincidences = value_counts[:, :, None] * value_counts[:, None, :]
        diagonal = np.arange(n_labels)
        coincidences[:, diagonal, diagonal] -= value_counts
        return coincidences[:, upper[0], upper[1]] * weight[:, None]
    distances = _fixed_distances(values, level)
    disagreement = ((value_counts @ distances) * value_counts).sum(-1) * weight
    return np.column_stack([value_counts * pairable[:, None], disagreement])


def _alpha_from_contribution_sums(sums: np.ndarray, values: np.ndarray, level: str) -> np.ndarray:
    """Alpha for each row of summed case contributions (see :func:`_case_contributions`)."""
    n_labels = len(values)
    if level == "ordinal":
        upper = np.triu_indices(n_labels)
        coincidences = np.zeros((sums.shape[0], n_labels, n_labels))
        coincidences[:, upper[0], upper[1]] = sums
        coincidences[:, upper[1], upper[0]] = sums
        return _alpha_from_coincidences(coincidences, values, level)
    return _alpha_from_totals(
        sums[:, n_labels], sums[:, :n_labels], _fixed_distances(values, level)
    )


def _bootstrap_sums(
    contributions: np.ndarray, n_resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """Summed case contributions for each resample, drawn and multiplied chunk by chunk."""
    n_cases = contributions.shape[0]
    chunk = _chunk_size(n_resamples, n_cases)
    sums = np.empty((n_resamples, contributions.shape[1]))
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        indices = rng.integers(0, n_cases, size=(size, n_cases))
        sums[start : start + size] = _case_counts(indices, n_cases) @ contributions
    return sums


# ---------------------------------------------------------------------------------------
# Other agreement coefficients
# ---------------------------------------------------------------------------------------


def _percent_agreement(value_counts: np.ndarray) -> float | None:
    """Mean, over cases with two or more labels, of the share of rater pairs that agree."""
    return _number(_percent_agreements(value_counts))


def _percent_agreements(value_counts: np.ndarray) -> np.ndarray:
    """:func:`_percent_agreement` over a stack (..., cases, labels); NaN where undefined."""
    per_case = _row_sums(value_counts)
    pairable = per_case >= 2
    pairs = per_case * (per_case - 1)
    agreeing = _row_sums(value_counts * (value_counts - 1))
    shares = np.divide(agreeing, pairs, out=np.zeros_like(pairs), where=pairable)
    n_pairable = pairable.sum(-1)
    return np.divide(
        shares.sum(-1),
        n_pairable,
        out=np.full(np.shape(n_pairable), np.nan),
        where=n_pairable > 0,
    )


def _label_shares(value_counts: np.ndarray) -> np.ndarray:
    """Gwet's pi_k: the share of each label within a case, averaged over labelled cases."""
    per_case = value_counts.sum(-1)
    labelled = per_case >= 1
    return (value_counts[labelled] / per_case[labelled, None]).mean(0)


def _fleiss_kappa(value_counts: np.ndarray, agreement: float | None) -> float | None:
    """Fleiss' kappa for a varying number of raters per case, as Gwet (2014) generalises it.

    Chance agreement is sum(pi_k^2), pi_k as in :func:`_label_shares`; undefined when
    chance agreement is 1 (one label everywhere).
    """
    if agreement is None:
        return None
    chance = float((_label_shares(value_counts) ** 2).sum())
    if chance >= 1 - 1e-12:
        return None
    return (agreement - chance) / (1 - chance)


def _gwet_ac1(
    value_counts: np.ndarray, agreement: float | None, golden_only: int = 0
) -> float | None:
    """Gwet's AC1 with missing ratings (Gwet 2014): chance = sum(pi_k (1 - pi_k)) / (q - 1).

    q is the number of labels in the domain, less those that appear only as golden
    answers: a label no rater could be seen choosing is not a category of their scale.
    """
    n_labels = value_counts.shape[-1] - golden_only
    if agreement is None or n_labels < 2:
        return None
    shares = _label_shares(value_counts)
    chance = float((shares * (1 - shares)).sum() / (n_labels - 1))
    return (agreement - chance) / (1 - chance)


def _cohen_kappas(tables: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cohen's kappa of contingency tables (..., V, V); returns (kappa with NaN, n)."""
    total = tables.sum((-2, -1))
    safe_total = np.where(total > 0, total, 1)
    observed = np.trace(tables, axis1=-2, axis2=-1) / safe_total
    chance = (tables.sum(-1) * tables.sum(-2)).sum(-1) / safe_total**2
    defined = (total > 0) & (chance < 1 - 1e-12)
    kappa = np.divide(
        observed - chance, 1 - chance, out=np.full(np.shape(total), np.nan), where=defined
    )
    return kappa, total


def _majorities(value_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per case, the index of the single most frequent label and its count.

    The index is -1 where the top count is tied or the case has no labels. Works on
    stacks (..., cases, labels) too.
    """
    # Walk the few label columns rather than reduce over a tiny last axis: numpy's
    # max/argmax over an axis of 6 costs a loop per case, which dominates at 50,000 cases.
    columns = np.ascontiguousarray(np.moveaxis(value_counts, -1, 0))
    top = columns[0].copy()
    best = np.zeros(top.shape, dtype=np.int64)
    for position in range(1, len(columns)):
        best[columns[position] > top] = position
        np.maximum(top, columns[position], out=top)
    winners = np.zeros(top.shape, dtype=np.int64)
    for column in columns:
        winners += column == top
    return np.where((top > 0) & (winners == 1), best, -1), top


def _row_sums(values: np.ndarray) -> np.ndarray:
    """Sum over the last (label) axis.

    einsum's own loop is three times faster than .sum(-1) on an axis of a few labels, and
    unlike a product with ones it stays off the multithreaded BLAS, which stalls when
    other processes hold the cores.
    """
    return np.einsum("...v->...", values)


@dataclass
class _SampleSize:
    """How many cases a stable alpha needs, and the rarest label that drives it."""

    needed: int
    rarest_label: str
    rarest_share: float


def _sample_size(
    label_totals: np.ndarray, categories: list[str], alpha_min: float, significance: float
) -> _SampleSize | None:
    """Cases needed to tell whether alpha clears ``alpha_min``; None without variation.

    Krippendorff's rule (Content Analysis, 2019), after Bloch & Kraemer (1989):
    N = z^2 ((1 + a)(3 - a) / (4 p (1 - p)(1 - a)) - a), with a = ``alpha_min``, z the
    one-sided normal quantile of ``significance`` and p the share of the rarest label in
    use. Rare labels need many cases, because each must turn up often enough to be
    agreed on. The rule is written for two raters, so with more it errs on the safe side.
    """
    used = np.flatnonzero(label_totals > 0.5)
    if len(used) < 2:
        return None
    rarest = used[np.argmin(label_totals[used])]
    share = float(label_totals[rarest] / label_totals.sum())
    z = NormalDist().inv_cdf(1 - significance)
    needed = z**2 * (
        (1 + alpha_min) * (3 - alpha_min) / (4 * share * (1 - share) * (1 - alpha_min)) - alpha_min
    )
    return _SampleSize(math.ceil(needed), categories[rarest], share)


# ---------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------


@dataclass
class _Subset:
    """A vendor or site: its raters, the cases they labelled and their figures.

    Everything per case is kept only for the subset's own cases (``cases`` holds their
    global positions), so memory follows the number of labels, not cases x subsets.
    """

    name: str
    rater_positions: np.ndarray
    cases: np.ndarray
    value_counts: np.ndarray  # (len(cases), labels): the subset's own labels
    outside: np.ndarray  # (len(cases), labels): everyone else's labels on those cases
    hits: np.ndarray  # per case: the subset's labels that match golden
    judged: np.ndarray  # per case: the subset's labels on a golden case
    confusion: np.ndarray  # golden x given, the subset's ratings
    figures: dict[str, Any]
    ties: int
    misreads: list[Misread] = field(default_factory=list)


def compute_report(
    ratings: Iterable[Rating],
    *,
    categories: Sequence[str],
    level: str = "nominal",
    golden: Mapping[str, str] | None = None,
    rater_groups: Mapping[str, str] | None = None,
    rater_sites: Mapping[str, str] | None = None,
    bootstrap: int = 1000,
    seed: int | None = None,
    accuracy_target: float = 0.90,
    alpha_threshold: float = 0.667,
    alpha_reliable: float = 0.800,
    loo_threshold: float = 0.05,
    min_shared_cases: int = 5,
    significance: float = 0.05,
    label_names: Mapping[str, str] | None = None,
    model_raters: Iterable[str] = (),
    minimums: Minimums | None = None,
) -> AgreementReport:
    """Analyse who labelled which case how, and return the full :class:`AgreementReport`.

    ``categories`` is the ordered label domain; ``golden`` maps cases to their golden
    label; ``rater_groups`` and ``rater_sites`` map raters to their vendor and site.
    ``bootstrap`` resamples of cases (0 disables) give the 95% interval of every alpha;
    ``seed`` (0 or more) makes them repeatable. Thresholds: alpha below ``alpha_threshold``
    is misaligned, below ``alpha_reliable`` tentative; accuracy and recall below
    ``accuracy_target`` are flagged, and so is a rater whose removal raises alpha by
    ``loo_threshold`` or more, each only when the evidence shows it (see
    :mod:`calibration.findings`); ``significance`` is the false-discovery rate.
    Cohen's kappa needs ``min_shared_cases`` shared cases. ``label_names`` gives the
    labels' names for messages; ``model_raters`` names the automated raters.

    Raises :class:`AgreementInputError` for empty input, unknown labels, a rater labelling
    a case twice, an unknown level, a negative seed, or non-numeric labels at the interval
    or ratio level (and negative ones at the ratio level).
    """
    categories = list(categories)
    values = _check_categories(categories, level)
    if bootstrap < 0:
        raise AgreementInputError("bootstrap must be 0 or more resamples")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise AgreementInputError(f"seed must be a whole number 0 or more, not {seed!r}")
    minimums = minimums or Minimums()
    data = _ReliabilityData.build(ratings, categories, golden or {})
    notes: list[str] = []
    _check_label_spelling(categories, data, notes)
    rater_groups = rater_groups or {}
    rater_sites = rater_sites or {}
    value_counts = data.value_counts
    per_case = value_counts.sum(-1)
    pairable = per_case >= 2
    n_pairable = int(pairable.sum())

    alpha = _headline_alpha(value_counts[pairable], categories, values, level, notes)
    label_totals = value_counts[pairable].sum(0)

    groups = _subsets(data, rater_groups, values, level)
    sites = _subsets(data, rater_sites, values, level)
    raters = _rater_figures(
        data, alpha, values, level, rater_groups, rater_sites, set(model_raters)
    )
    labels, confusion = _label_figures(data, pairable, notes)

    resampling = _Resampling(len(data.cases))
    headline = resampling.alpha(value_counts, None, values, level)
    statistics = _resampled_figures(
        resampling, data, headline, groups + sites, raters, labels, values, level, loo_threshold
    )
    undefined = 0
    if bootstrap:
        resampling.run(bootstrap, np.random.default_rng(seed))
        undefined = resampling.undefined(headline)
    alpha_ci = _alpha_interval(
        resampling, headline, alpha, n_pairable, bootstrap, minimums, notes, "alpha"
    )
    p_below = resampling.share_below(headline, alpha_threshold) if alpha_ci else None
    for subset in groups + sites:
        figures = subset.figures
        stat = statistics[("alpha", subset.name, id(subset))]
        figures["alpha_ci"] = _alpha_interval(
            resampling, stat, figures["alpha"], figures["n_pairable"], bootstrap, minimums
        )
        figures["p_below_threshold"] = (
            resampling.share_below(stat, alpha_threshold) if figures["alpha_ci"] else None
        )
        if figures["n_golden"] >= minimums.golden_cases and figures["accuracy"] is not None:
            figures["accuracy_ci"] = resampling.interval(
                statistics[("accuracy", subset.name, id(subset))]
            )
        for misread in subset.misreads:
            misread.interval = resampling.interval(misread.share_stat)
            if misread.excess_stat is not None and resampling.ran:
                misread.p_value = resampling.p_meets(misread.excess_stat, 0.0, above=False)
    for rater in raters:
        stat = statistics.get(("loo", rater.rater, 0))
        if stat is not None and n_pairable >= minimums.shared_cases:
            rater.loo_delta_ci = resampling.interval(stat)
    for label in labels:
        if n_pairable >= minimums.shared_cases and label.alpha_one_vs_rest is not None:
            label.alpha_one_vs_rest_ci = resampling.interval(
                statistics[("one_vs_rest", label.label, 0)]
            )
        if label.recall is not None and label.n_golden >= minimums.label_golden_cases:
            label.recall_ci = resampling.interval(statistics[("recall", label.label, 0)])

    percent_agreement = _percent_agreement(value_counts)
    fleiss = _fleiss_kappa(value_counts, percent_agreement)
    ac1 = _gwet_ac1(value_counts, percent_agreement, _golden_only(data))
    _explain_chance_corrected(percent_agreement, fleiss, ac1, len(categories), notes)
    expected = _expected_agreement(label_totals)
    _explain_prevalence(
        percent_agreement, alpha, alpha_threshold, label_totals, categories, label_names, notes
    )

    pair_kappas = _pair_kappas(data, min_shared_cases, notes)
    defined_kappas = [pair.kappa for pair in pair_kappas if pair.kappa is not None]
    mean_kappa = float(np.mean(defined_kappas)) if defined_kappas else None

    for subset in groups + sites:
        subset.figures["evidence_missing"] = _missing_evidence(
            subset, data.has_golden, minimums, label="vendor" if subset in groups else "site"
        )
        subset.figures["evidence"] = (
            "insufficient" if subset.figures["evidence_missing"] else "sufficient"
        )
    group_figures = [GroupFigures(group=s.name, **s.figures) for s in groups]
    site_figures = [SiteFigures(site=s.name, **s.figures) for s in sites]
    items = _case_figures(data)

    _explain(data, pairable, raters, pair_kappas, items, groups, sites, level, notes)
    if bootstrap and undefined:
        notes.append(
            f"{undefined} of {bootstrap} bootstrap resamples had no variation, so their alpha "
            "is undefined; intervals use the others."
        )
    flags = build_flags(
        FlagInputs(
            alpha=alpha,
            alpha_ci=alpha_ci,
            alpha_p_meets=(resampling.p_meets(headline, alpha_threshold) if alpha_ci else None),
            alpha_reliable_p_meets=(
                resampling.p_meets(headline, alpha_reliable) if alpha_ci else None
            ),
            n_pairable=n_pairable,
            sample_size=_sample_size(label_totals, categories, alpha_threshold, significance),
            raters=raters,
            labels=labels,
            groups=[(g, s) for g, s in zip(group_figures, groups, strict=True)],
            sites=[(f, s) for f, s in zip(site_figures, sites, strict=True)],
            resampling=resampling,
            statistics=statistics,
            without=lambda subset, names: _subset_without(subset, data, names, values, level),
            session_without=lambda names: _session_without(data, names, values, level),
            label_without=lambda excluded: _labels_without(data, excluded),
            rater_accuracy_without=lambda name, golden_labels: _rater_accuracy_without(
                data, name, golden_labels
            ),
            n_categories_used=int((label_totals > 0.5).sum()),
            label_names=dict(label_names or {}),
            accuracy_target=accuracy_target,
            alpha_threshold=alpha_threshold,
            alpha_reliable=alpha_reliable,
            loo_threshold=loo_threshold,
            significance=significance,
            minimums=minimums,
        )
    )
    return AgreementReport(
        n_items=len(data.cases),
        n_pairable_items=n_pairable,
        n_raters=len(data.raters),
        n_labels=len(categories),
        level=level,
        categories=categories,
        alpha=alpha,
        alpha_ci=alpha_ci,
        bootstrap=bootstrap,
        seed=seed,
        percent_agreement=percent_agreement,
        fleiss_kappa=fleiss,
        gwet_ac1=ac1,
        mean_cohen_kappa=mean_kappa,
        cohen_kappa=pair_kappas,
        raters=raters,
        labels=labels,
        confusion=confusion,
        groups=group_figures,
        sites=site_figures,
        items=items,
        flags=flags,
        notes=list(dict.fromkeys(notes)),
        expected_agreement=expected,
        p_below_threshold=p_below,
        interval_method="bca",
        undefined_resamples=undefined,
    )


def _alpha_interval(
    resampling: _Resampling,
    stat: int,
    alpha: float | None,
    n_pairable: int,
    bootstrap: int,
    minimums: Minimums,
    notes: list[str] | None = None,
    what: str = "alpha",
) -> tuple[float, float] | None:
    """Alpha's BCa interval, or None (with a note for the headline) when it would lie.

    Below ``minimums.shared_cases`` pairable cases even BCa intervals cover the true
    alpha far less often than 95% (59-87% at 10 cases x 3 raters in our simulations,
    ``benchmarks/diagnosis.py``), so none is given; nor when more than
    ``minimums.undefined_share`` of the resamples are undefined, since dropping them
    would bias the interval towards perfect agreement.
    """
    if alpha is None or bootstrap == 0:
        if notes is not None and bootstrap == 0:
            notes.append("The bootstrap was turned off, so no interval is given for alpha.")
        return None
    if n_pairable < minimums.shared_cases:
        if notes is not None:
            notes.append(
                f"No interval is given for {what}: only {n_pairable} cases were labelled by "
                f"two or more raters, and below {minimums.shared_cases} a bootstrap interval "
                "would claim more certainty than the cases carry."
            )
        return None
    if resampling.undefined(stat) > minimums.undefined_share * bootstrap:
        if notes is not None:
            notes.append(
                f"No interval is given for {what}: {resampling.undefined(stat)} of {bootstrap} "
                "resamples had no variation, too many to leave out without bias."
            )
        return None
    interval = resampling.interval(stat)
    if interval is None and notes is not None:
        notes.append("No bootstrap resample had any variation, so alpha has no interval.")
    return interval


def _missing_evidence(
    subset: _Subset, has_golden: bool, minimums: Minimums, *, label: str
) -> list[str]:
    """Sentences saying what a vendor or site lacks for a trustworthy figure (none: enough)."""
    figures = subset.figures
    missing = []
    if figures["n_raters"] < 2:
        missing.append(
            f"{subset.name} has one rater: add a second QA lead, since agreement needs two."
        )
    elif figures["n_pairable"] < minimums.shared_cases:
        more = minimums.shared_cases - figures["n_pairable"]
        missing.append(
            f"{subset.name} has {figures['n_pairable']} cases labelled by two of its raters: "
            f"label {more} more shared cases (at least {minimums.shared_cases})."
        )
    if has_golden and figures["n_golden"] < minimums.golden_cases:
        more = minimums.golden_cases - figures["n_golden"]
        missing.append(
            f"{subset.name} labelled {figures['n_golden']} cases with a golden answer: "
            f"label {more} more golden cases (at least {minimums.golden_cases})."
        )
    return missing


def _check_categories(categories: list[str], level: str) -> np.ndarray:
    _check_level(level)
    if not categories:
        raise AgreementInputError("the label domain (categories) is empty")
    repeated = sorted({c for c in categories if categories.count(c) > 1})
    if repeated:
        raise AgreementInputError(f"labels appear twice in the domain: {', '.join(repeated)}")
    values = label_values(categories, level)
    if level == "ratio":
        negative = [c for c, v in zip(categories, values, strict=True) if v < 0]
        if negative:
            raise AgreementInputError(
                f"labels {', '.join(negative)} are negative; the ratio level measures from a "
                "true zero, so its labels must be 0 or more (use --level interval)"
            )
    return values


# Spellings that usually mean "no label" rather than a label of their own.
_MISSING_LOOKING = {"", "nan", "null", "n/a", "na", "#n/a"}


def _check_label_spelling(categories: list[str], data: _ReliabilityData, notes: list[str]) -> None:
    """Notes for labels that look like missing values, or differ only in case or Unicode form."""
    used = [c for c, total in zip(categories, data.value_counts.sum(0), strict=True) if total]
    used += [c for c, total in zip(categories, data.golden.sum(0), strict=True) if total]
    used = list(dict.fromkeys(used))
    missing = [label for label in used if label.strip().lower() in _MISSING_LOOKING]
    if missing:
        notes.append(
            "Labels that look like missing values are counted as labels of their own: "
            + ", ".join(repr(label) for label in missing)
            + ". Leave such rows out if they mean 'not labelled'."
        )
    spellings: dict[str, list[str]] = {}
    for label in used:
        key = unicodedata.normalize("NFKC", label).casefold().strip()
        spellings.setdefault(key, []).append(label)
    for variants in spellings.values():
        if len(variants) > 1:
            notes.append(
                "Labels "
                + ", ".join(repr(label) for label in variants)
                + " differ only in letter case, spacing or Unicode form, and are counted as "
                "different labels; write each label one way."
            )


def _as_number(text: str) -> float | None:
    """The label as a finite number, or None when it is not one."""
    try:
        number = float(text)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@dataclass
class _ReliabilityData:
    """The ratings as index arrays (one entry per rating) and per-case label counts.

    No cases x raters array is ever built: every per-rater and per-group figure is a
    bincount over the ratings, so memory follows the number of labels.
    """

    cases: list[str]
    raters: list[str]
    categories: list[str]
    case_index: np.ndarray  # per rating
    rater_index: np.ndarray  # per rating
    label_index: np.ndarray  # per rating
    value_counts: np.ndarray  # (cases, labels)
    golden: np.ndarray  # (cases, labels), one-hot golden label, zero rows without golden
    golden_index: np.ndarray  # (cases,), the golden label's position or -1

    @classmethod
    def build(
        cls, ratings: Iterable[Rating], categories: list[str], golden: Mapping[str, str]
    ) -> _ReliabilityData:
        rows = ratings if isinstance(ratings, list) else list(ratings)
        if not rows:
            raise AgreementInputError("there are no ratings to analyse")
        label_position = {label: position for position, label in enumerate(categories)}
        unknown = set(map(itemgetter(2), rows)) - label_position.keys()
        if unknown:
            raise AgreementInputError(
                f"labels not in the domain {categories}: {', '.join(sorted(map(str, unknown)))}"
            )
        # map/itemgetter keep the per-rating work in C: this loop sees every rating.
        cases = list(dict.fromkeys(map(itemgetter(0), rows)))
        raters = list(dict.fromkeys(map(itemgetter(1), rows)))
        case_position = {case: position for position, case in enumerate(cases)}
        rater_position = {rater: position for position, rater in enumerate(raters)}
        count = len(rows)
        case_index = np.fromiter(
            map(case_position.__getitem__, map(itemgetter(0), rows)), np.int64, count
        )
        rater_index = np.fromiter(
            map(rater_position.__getitem__, map(itemgetter(1), rows)), np.int64, count
        )
        label_index = np.fromiter(
            map(label_position.__getitem__, map(itemgetter(2), rows)), np.int64, count
        )
        cell = case_index * len(raters) + rater_index
        order = np.sort(cell)
        repeated = np.flatnonzero(order[1:] == order[:-1])
        if len(repeated):
            twice = int(order[repeated[0]])
            raise AgreementInputError(
                f"rater {raters[twice % len(raters)]!r} labelled case "
                f"{cases[twice // len(raters)]!r} more than once"
            )
        value_counts = np.bincount(
            case_index * len(categories) + label_index, minlength=len(cases) * len(categories)
        ).reshape(len(cases), len(categories))

        unknown_golden = set(golden.values()) - label_position.keys()
        if unknown_golden:
            raise AgreementInputError(
                f"golden labels not in the domain {categories}: "
                f"{', '.join(sorted(map(str, unknown_golden)))}"
            )
        # Golden labels of cases nobody rated cannot be compared with anything; skip them.
        golden_index = np.full(len(cases), -1, dtype=np.int64)
        for case, label in golden.items():
            position = case_position.get(case)
            if position is not None:
                golden_index[position] = label_position[label]
        golden_one_hot = np.zeros((len(cases), len(categories)))
        judged = golden_index >= 0
        golden_one_hot[np.flatnonzero(judged), golden_index[judged]] = 1.0
        return cls(
            cases=cases,
            raters=raters,
            categories=categories,
            case_index=case_index,
            rater_index=rater_index,
            label_index=label_index,
            value_counts=value_counts.astype(np.float64),
            golden=golden_one_hot,
            golden_index=golden_index,
        )

    @property
    def has_golden(self) -> bool:
        return bool((self.golden_index >= 0).any())

    def counts_of(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The cases the masked ratings touch, and their label counts on them."""
        case_index = self.case_index[mask]
        cases, local = np.unique(case_index, return_inverse=True)
        n_labels = len(self.categories)
        counts = np.bincount(
            local * n_labels + self.label_index[mask], minlength=len(cases) * n_labels
        ).reshape(len(cases), n_labels)
        return cases, counts.astype(np.float64)


def _headline_alpha(
    pairable_counts: np.ndarray,
    categories: list[str],
    values: np.ndarray,
    level: str,
    notes: list[str],
) -> float | None:
    """Alpha from the krippendorff package, or None with a note saying why it is undefined."""
    if len(pairable_counts) == 0:
        notes.append(
            "Alpha, percent agreement and the kappas are undefined: no case has labels from "
            "two raters, so there is nothing to compare."
        )
        return None
    used = np.flatnonzero(pairable_counts.sum(0))
    if len(used) < 2:
        notes.append(
            f"Alpha is undefined: every label on the cases that two raters labelled is "
            f"{categories[used[0]]!r}, so there is no variation to tell agreement from chance; "
            "percent agreement is 1.0."
        )
        return None
    # value_domain: the labels themselves where only identity or order matters, the
    # numbers where distances are differences; always explicit, as the package's default
    # would be the sorted distinct values, which need not be our domain's order.
    domain = np.asarray(categories) if level in ("nominal", "ordinal") else values
    alpha = krippendorff.alpha(
        value_counts=pairable_counts.astype(np.int64),
        value_domain=domain,
        level_of_measurement=level,
    )
    return _number(alpha)


def _subsets(
    data: _ReliabilityData,
    membership: Mapping[str, str],
    values: np.ndarray,
    level: str,
) -> list[_Subset]:
    """Vendors or sites that have at least one rater in the data, sorted by name.

    Their figures are complete except the intervals, which the shared bootstrap fills in.
    """
    members: dict[str, list[int]] = {}
    for position, rater in enumerate(data.raters):
        name = membership.get(rater)
        if name is not None:
            members.setdefault(name, []).append(position)
    if not members:
        return []
    belongs_to = np.full(len(data.raters), -1, dtype=np.int64)
    names = sorted(members)
    for column, name in enumerate(names):
        belongs_to[members[name]] = column
    subset_of_rating = belongs_to[data.rater_index]
    golden_of_rating = data.golden_index[data.case_index]
    n_labels = len(data.categories)
    subsets = []
    for column, name in enumerate(names):
        mask = subset_of_rating == column
        cases, counts = data.counts_of(mask)
        outside = data.value_counts[cases] - counts
        local = np.searchsorted(cases, data.case_index[mask])
        gold = golden_of_rating[mask]
        hits = np.bincount(
            local, weights=(data.label_index[mask] == gold) & (gold >= 0), minlength=len(cases)
        )
        judged = np.bincount(local, weights=gold >= 0, minlength=len(cases))
        confusion = np.bincount(
            gold[gold >= 0] * n_labels + data.label_index[mask][gold >= 0],
            minlength=n_labels * n_labels,
        ).reshape(n_labels, n_labels)
        per_case = _row_sums(counts)
        own_majority, _ = _majorities(counts)
        other_majority, _ = _majorities(outside)
        both = (own_majority >= 0) & (other_majority >= 0)
        compared = int(both.sum())
        differ = int((both & (own_majority != other_majority)).sum())
        labelled_by_both = _row_sums(outside) > 0
        n_golden = int((data.golden_index[cases] >= 0).sum())
        figures = {
            "n_raters": len(members[name]),
            "n_items": len(cases),
            "alpha": coincidence_alpha(counts, values=values, level=level) if len(cases) else None,
            "alpha_ci": None,
            "percent_agreement": _percent_agreement(counts),
            "accuracy": float(hits.sum() / judged.sum()) if judged.sum() else None,
            "majority_deviation": differ / compared if compared else None,
            "n_pairable": int((per_case >= 2).sum()),
            "n_golden": n_golden,
            "accuracy_ci": None,
            "p_below_threshold": None,
            "evidence": "insufficient",
            "evidence_missing": [],
            "explained_by": None,
            "confusion": confusion.tolist() if data.has_golden else None,
        }
        subset = _Subset(
            name=name,
            rater_positions=np.asarray(members[name]),
            cases=cases,
            value_counts=counts,
            outside=outside,
            hits=hits,
            judged=judged,
            confusion=confusion,
            figures=figures,
            ties=int((labelled_by_both & ~both).sum()),
        )
        subset.misreads = _misread_candidates(subset, data, own_majority, other_majority)
        subsets.append(subset)
    return subsets


def _misread_candidates(
    subset: _Subset, data: _ReliabilityData, own_majority: np.ndarray, other_majority: np.ndarray
) -> list[Misread]:
    """Pairs (reference label A, given label B) that the subset may be misreading.

    The reference is golden where the session has it, otherwise the majority of the
    raters outside the subset. Only pairs the subset gives markedly more often than the
    others are kept as candidates; the flags decide on their evidence.
    """
    n_labels = len(data.categories)
    candidates = []
    if data.has_golden:
        golden = data.golden_index[subset.cases]
        everyone = data.golden.T @ data.value_counts
        others = everyone - subset.confusion
        reference_of_case = golden
    else:
        reference_of_case = other_majority
        others = np.zeros((n_labels, n_labels))
        mine = np.zeros((n_labels, n_labels))
        for reference in range(n_labels):
            on = reference_of_case == reference
            mine[reference] = subset.value_counts[on].sum(0)
            others[reference] = subset.outside[on].sum(0)
        subset_confusion = mine
    confusion = subset.confusion if data.has_golden else subset_confusion
    for reference in range(n_labels):
        on = reference_of_case == reference
        n_cases = int(on.sum())
        own_total = confusion[reference].sum()
        other_total = others[reference].sum()
        if n_cases == 0 or own_total == 0 or other_total == 0:
            continue
        for given in range(n_labels):
            if given == reference:
                continue
            share = float(confusion[reference, given] / own_total)
            others_share = float(others[reference, given] / other_total)
            if share < MISREAD_MIN_SHARE or share - others_share < MISREAD_MIN_EXCESS:
                continue
            candidates.append(
                Misread(
                    reference="golden" if data.has_golden else "majority",
                    golden=data.categories[reference],
                    given=data.categories[given],
                    share=share,
                    others_share=others_share,
                    n=n_cases,
                    on_cases=on,
                    reference_index=reference,
                    given_index=given,
                )
            )
    return candidates


def _subset_without(
    subset: _Subset, data: _ReliabilityData, names: Iterable[str], values: np.ndarray, level: str
) -> tuple[float | None, float | None]:
    """The subset's alpha and accuracy with the named raters' labels left out."""
    excluded = {data.raters.index(name) for name in names}
    keep = [p for p in subset.rater_positions.tolist() if p not in excluded]
    mask = np.isin(data.rater_index, keep)
    if not mask.any():
        return None, None
    _, counts = data.counts_of(mask)
    gold = data.golden_index[data.case_index[mask]]
    judged = gold >= 0
    accuracy = (
        float((data.label_index[mask][judged] == gold[judged]).mean()) if judged.any() else None
    )
    return coincidence_alpha(counts, values=values, level=level), accuracy


def _session_without(
    data: _ReliabilityData, names: Iterable[str], values: np.ndarray, level: str
) -> float | None:
    """Alpha of everyone but the named raters."""
    excluded = [data.raters.index(name) for name in names]
    mask = ~np.isin(data.rater_index, excluded)
    if not mask.any():
        return None
    _, counts = data.counts_of(mask)
    return coincidence_alpha(counts, values=values, level=level)


def _rater_accuracy_without(
    data: _ReliabilityData, name: str, golden_labels: Iterable[str]
) -> float | None:
    """One rater's accuracy on golden cases whose golden label is none of ``golden_labels``."""
    left_out = [data.categories.index(label) for label in golden_labels]
    mask = data.rater_index == data.raters.index(name)
    gold = data.golden_index[data.case_index[mask]]
    judged = (gold >= 0) & ~np.isin(gold, left_out)
    if not judged.any():
        return None
    return float((data.label_index[mask][judged] == gold[judged]).mean())


def _labels_without(data: _ReliabilityData, excluded: Iterable[str]) -> dict[str, Any]:
    """Per label, one-versus-rest alpha and recall with the named raters left out."""
    positions = [data.raters.index(name) for name in excluded]
    mask = ~np.isin(data.rater_index, positions)
    cases, counts = data.counts_of(mask)
    golden = data.golden_index[cases]
    per_case = counts.sum(-1)
    result = {}
    for position, label in enumerate(data.categories):
        two = np.column_stack([counts[:, position], per_case - counts[:, position]])
        one_vs_rest = coincidence_alpha(two, values=np.array([0.0, 1.0]), level="nominal")
        on = golden == position
        recall = float(counts[on, position].sum() / per_case[on].sum()) if on.any() else None
        result[label] = (one_vs_rest, recall)
    return result


class _Resampling:
    """Every figure that gets an interval, resampled together with the same case draws.

    A figure is a function of sums of per-case contributions over one or more *blocks*
    (a block: the global positions of the cases it reads, or all cases, and their
    contribution rows). One pass over the bootstrap draws fills every block's sums, so
    intervals of the headline alpha, each vendor, site, label and rater are comparable
    and cost one multiplication per block. The jackknife (each case left out) that BCa
    needs comes from the same sums minus one case's row.
    """

    def __init__(self, n_cases: int) -> None:
        self.n_cases = n_cases
        self.blocks: list[tuple[np.ndarray | None, np.ndarray]] = []
        self.statistics: list[tuple[list[int], Callable[[list[np.ndarray]], np.ndarray]]] = []
        self.sums: list[np.ndarray] | None = None
        self._cache: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}

    @property
    def ran(self) -> bool:
        return self.sums is not None

    def block(self, positions: np.ndarray | None, contributions: np.ndarray) -> int:
        """Add a block of contributions; returns its number."""
        self.blocks.append((positions, np.ascontiguousarray(contributions, dtype=np.float64)))
        return len(self.blocks) - 1

    def statistic(
        self, blocks: list[int], evaluate: Callable[[list[np.ndarray]], np.ndarray]
    ) -> int:
        """Add a figure computed by ``evaluate`` from its blocks' sums (rows = resamples)."""
        self.statistics.append((blocks, evaluate))
        return len(self.statistics) - 1

    def alpha(
        self, value_counts: np.ndarray, positions: np.ndarray | None, values: np.ndarray, level: str
    ) -> int:
        """Add alpha of these value counts (rows: the cases at ``positions``, or all)."""
        block = self.block(positions, _case_contributions(value_counts, values, level))
        return self.statistic(
            [block], lambda sums: _alpha_from_contribution_sums(sums[0], values, level)
        )

    def ratio(self, positions: np.ndarray | None, numerator: np.ndarray, denominator: np.ndarray):
        """Add a ratio of per-case sums (accuracy, recall, a share)."""
        block = self.block(positions, np.column_stack([numerator, denominator]))
        return self.statistic([block], _ratio)

    def run(self, n_resamples: int, rng: np.random.Generator) -> None:
        """Draw the resamples (the same draws as :func:`resample_indices`) and sum every block."""
        chunk = _chunk_size(n_resamples, self.n_cases)
        widths = [rows.shape[1] for _, rows in self.blocks]
        self.sums = [np.empty((n_resamples, width)) for width in widths]
        # Few cases: lay every block on the full case axis and multiply once per chunk,
        # far faster than one product per block. Many cases: that matrix would not fit,
        # so each block multiplies only its own cases' columns of the counts.
        dense = self.n_cases * sum(widths) <= _DENSE_ENTRIES
        if dense:
            combined = np.zeros((self.n_cases, sum(widths)))
            start = 0
            for (positions, rows), width in zip(self.blocks, widths, strict=True):
                target = slice(start, start + width)
                if positions is None:
                    combined[:, target] = rows
                else:
                    combined[positions, target] += rows
                start += width
            edges = np.cumsum([0, *widths])
        else:
            # Blocks over the same cases (a vendor's alpha, accuracy and misreadings) share
            # one gather of those cases' counts and one product.
            shared: dict[int, list[int]] = {}
            for number, (positions, _) in enumerate(self.blocks):
                shared.setdefault(id(positions), []).append(number)
            batches = []
            for numbers in shared.values():
                positions = self.blocks[numbers[0]][0]
                rows = np.hstack([self.blocks[number][1] for number in numbers])
                cuts = np.cumsum([0, *(widths[number] for number in numbers)])
                batches.append((positions, rows, numbers, cuts))
        for start in range(0, n_resamples, chunk):
            size = min(chunk, n_resamples - start)
            indices = rng.integers(0, self.n_cases, size=(size, self.n_cases))
            counts = _case_counts(indices, self.n_cases)
            if dense:
                product = counts @ combined
                for number in range(len(self.blocks)):
                    self.sums[number][start : start + size] = product[
                        :, edges[number] : edges[number + 1]
                    ]
                continue
            for positions, rows, numbers, cuts in batches:
                # np.take gathers columns several times faster than fancy indexing.
                picked = counts if positions is None else np.take(counts, positions, axis=1)
                product = picked @ rows
                for number, low, high in zip(numbers, cuts[:-1], cuts[1:], strict=True):
                    self.sums[number][start : start + size] = product[:, low:high]

    def _evaluate(self, stat: int) -> tuple[np.ndarray, np.ndarray, float]:
        """The resampled figures, the jackknife and the full-data estimate of one statistic."""
        if stat in self._cache:
            return self._cache[stat]
        blocks, evaluate = self.statistics[stat]
        totals = [self.blocks[b][1].sum(0) for b in blocks]
        estimate = float(evaluate([total[None] for total in totals])[0])
        resamples = evaluate([self.sums[b] for b in blocks]) if self.sums else np.array([])
        self._cache[stat] = (
            resamples,
            self._jackknife(blocks, evaluate, totals, estimate),
            estimate,
        )
        return self._cache[stat]

    def _jackknife(self, blocks, evaluate, totals, estimate) -> np.ndarray:
        if any(self.blocks[b][0] is None for b in blocks):
            touched = np.arange(self.n_cases)
        else:
            touched = np.unique(np.concatenate([self.blocks[b][0] for b in blocks]))
        left_out = []
        for b, total in zip(blocks, totals, strict=True):
            positions, rows = self.blocks[b]
            if positions is None:
                taken = rows[touched]
            else:
                local = np.full(self.n_cases, -1, dtype=np.int64)
                local[positions] = np.arange(len(positions))
                at = local[touched]
                taken = np.zeros((len(touched), rows.shape[1]))
                taken[at >= 0] = rows[at[at >= 0]]
            left_out.append(total[None] - taken)
        jack = evaluate(left_out)
        untouched = np.full(self.n_cases - len(touched), estimate)
        return np.concatenate([jack, untouched])

    def undefined(self, stat: int) -> int:
        """How many resamples left the figure undefined."""
        resamples = self._evaluate(stat)[0]
        return int((~np.isfinite(resamples)).sum())

    def interval(self, stat: int) -> tuple[float, float] | None:
        """The figure's 95% BCa interval, or None without resamples."""
        if not self.ran:
            return None
        resamples, jackknife, estimate = self._evaluate(stat)
        if not math.isfinite(estimate):
            return None
        return bca_interval(estimate, resamples, jackknife)

    def resamples(self, stat: int) -> np.ndarray:
        """The figure in each resample (NaN where undefined)."""
        return self._evaluate(stat)[0]

    def share_below(self, stat: int, threshold: float) -> float | None:
        """Bootstrap probability that the figure is below ``threshold``."""
        return share_below(self.resamples(stat), threshold) if self.ran else None

    def p_meets(self, stat: int, threshold: float, *, above: bool = True) -> float | None:
        """One-sided bootstrap p-value of "the figure meets ``threshold``"."""
        return bootstrap_p_meets(self.resamples(stat), threshold, above=above) if self.ran else None


def _ratio(sums: list[np.ndarray]) -> np.ndarray:
    numerator, denominator = sums[0][:, 0], sums[0][:, 1]
    return np.divide(
        numerator, denominator, out=np.full(len(numerator), np.nan), where=denominator > 0
    )


def _resampled_figures(
    resampling: _Resampling,
    data: _ReliabilityData,
    headline: int,
    subsets: list[_Subset],
    raters: list[RaterFigures],
    labels: list[LabelFigures],
    values: np.ndarray,
    level: str,
    loo_threshold: float,
) -> dict[tuple[str, str, int], int]:
    """Register every figure that gets an interval; returns their statistic numbers."""
    statistics: dict[tuple[str, str, int], int] = {}
    for subset in subsets:
        key = id(subset)
        statistics[("alpha", subset.name, key)] = resampling.alpha(
            subset.value_counts, subset.cases, values, level
        )
        statistics[("accuracy", subset.name, key)] = resampling.ratio(
            subset.cases, subset.hits, subset.judged
        )
        for misread in subset.misreads:
            own = subset.value_counts[:, misread.given_index] * misread.on_cases
            own_total = subset.value_counts.sum(-1) * misread.on_cases
            if misread.reference == "golden":
                # Golden is known on every case: the others' share reads all cases.
                on = data.golden_index == misread.reference_index
                others = data.value_counts[:, misread.given_index] * on
                others_total = data.value_counts.sum(-1) * on
                others[subset.cases] -= own
                others_total[subset.cases] -= own_total
                others_block = resampling.block(None, np.column_stack([others, others_total]))
            else:
                outside = subset.outside[:, misread.given_index] * misread.on_cases
                outside_total = subset.outside.sum(-1) * misread.on_cases
                others_block = resampling.block(
                    subset.cases, np.column_stack([outside, outside_total])
                )
            own_block = resampling.block(subset.cases, np.column_stack([own, own_total]))
            misread.share_stat = resampling.statistic([own_block], _ratio)
            misread.excess_stat = resampling.statistic(
                [own_block, others_block],
                lambda sums: _ratio(sums[:1]) - _ratio(sums[1:]),
            )
    per_case = data.value_counts.sum(-1)
    for position, label in enumerate(labels):
        two = np.column_stack(
            [data.value_counts[:, position], per_case - data.value_counts[:, position]]
        )
        statistics[("one_vs_rest", label.label, 0)] = resampling.alpha(
            two, None, np.array([0.0, 1.0]), "nominal"
        )
        on = np.flatnonzero(data.golden_index == position)
        statistics[("recall", label.label, 0)] = resampling.ratio(
            on, data.value_counts[on, position], per_case[on]
        )
    full_block = resampling.statistics[headline][0][0]
    full_rows = resampling.blocks[full_block][1]
    for rater in raters:
        if rater.loo_delta is None or rater.loo_delta < loo_threshold:
            continue
        position = data.raters.index(rater.rater)
        mask = data.rater_index == position
        cases = data.case_index[mask]
        without = data.value_counts[cases].copy()
        without[np.arange(len(cases)), data.label_index[mask]] -= 1
        change = full_rows[cases] - _case_contributions(without, values, level)
        change_block = resampling.block(cases, change)
        statistics[("loo", rater.rater, 0)] = resampling.statistic(
            [full_block, change_block],
            lambda sums: (
                _alpha_from_contribution_sums(sums[0] - sums[1], values, level)
                - _alpha_from_contribution_sums(sums[0], values, level)
            ),
        )
    return statistics


def _explain_chance_corrected(
    agreement: float | None,
    fleiss: float | None,
    ac1: float | None,
    n_labels: int,
    notes: list[str],
) -> None:
    if agreement is None:
        return
    if fleiss is None:
        notes.append(
            "Fleiss' kappa is undefined: a single label was used throughout, so chance "
            "agreement is 1."
        )
    if ac1 is None and n_labels < 2:
        notes.append("Gwet's AC1 is undefined: the label domain has a single label.")


def _expected_agreement(label_totals: np.ndarray) -> float | None:
    """The share of pairs of pairable labels that agree by chance: sum n_k (n_k - 1) / n (n - 1).

    Krippendorff's expected agreement for exact matches: what raters who drew labels at
    random, as often as they were used here, would reach.
    """
    total = float(label_totals.sum())
    if total < 2:
        return None
    return float((label_totals * (label_totals - 1)).sum() / (total * (total - 1)))


def _explain_prevalence(
    agreement: float | None,
    alpha: float | None,
    alpha_threshold: float,
    label_totals: np.ndarray,
    categories: list[str],
    label_names: Mapping[str, str] | None,
    notes: list[str],
) -> None:
    """Why raw agreement can be high while alpha is low: one label dominates."""
    if agreement is None or alpha is None or agreement < 0.8 or alpha >= alpha_threshold:
        return
    dominant = int(np.argmax(label_totals))
    share = float(label_totals[dominant] / label_totals.sum())
    name = (label_names or {}).get(categories[dominant], categories[dominant])
    expected = _expected_agreement(label_totals) or 0.0
    notes.append(
        f"Raters agree on {agreement:.0%} of pairs, yet alpha is only {alpha:.3f}: "
        f"{name!r} makes up {share:.0%} of the labels, so chance alone would give "
        f"{expected:.0%} agreement, and alpha counts only agreement beyond chance. Agreement "
        "on the rarer labels is what is missing; see Gwet's AC1, which corrects for chance "
        "less when one label dominates, and the per-label one-versus-rest figures."
    )


def _golden_only(data: _ReliabilityData) -> int:
    """How many labels of the domain appear as golden answers but were given by no rater."""
    given = data.value_counts.sum(0) > 0
    golden = data.golden.sum(0) > 0
    return int((golden & ~given).sum())


def _pair_kappas(data: _ReliabilityData, min_shared: int, notes: list[str]) -> list[PairKappa]:
    """Cohen's kappa for every pair of raters that share at least ``min_shared`` cases.

    Pairs are enumerated case by case from the ratings (grouped by how many raters a case
    has), so the work and memory follow the number of rating pairs, never raters squared
    times labels squared.
    """
    n_raters, n_labels = len(data.raters), len(data.categories)
    if len(data.cases) * n_raters * n_labels <= _DENSE_ENTRIES:
        return _dense_pair_kappas(data, min_shared, notes)
    order = np.lexsort((data.rater_index, data.case_index))
    cases = data.case_index[order]
    raters = data.rater_index[order]
    labels = data.label_index[order]
    starts = np.flatnonzero(np.r_[True, cases[1:] != cases[:-1]])
    sizes = np.diff(np.r_[starts, len(cases)])
    pair_ids, label_pairs = [], []
    for size in np.unique(sizes[sizes >= 2]).tolist():
        first = starts[sizes == size]
        block = first[:, None] + np.arange(size)[None, :]
        a, b = np.triu_indices(size, k=1)
        rater_a, rater_b = raters[block[:, a]].ravel(), raters[block[:, b]].ravel()
        pair_ids.append(rater_a * n_raters + rater_b)
        label_pairs.append(labels[block[:, a]].ravel() * n_labels + labels[block[:, b]].ravel())
    n_possible = n_raters * (n_raters - 1) // 2
    if not pair_ids:
        if n_possible:
            notes.append(
                f"Cohen's kappa is left out for {n_possible} rater pair(s) sharing fewer than "
                f"{min_shared} cases."
            )
        return []
    pair_id = np.concatenate(pair_ids)
    label_pair = np.concatenate(label_pairs)
    if n_raters * n_raters <= 4_000_000:
        # Few enough raters to count every possible pair directly, without sorting.
        every = np.bincount(pair_id, minlength=n_raters * n_raters)
        unique_pairs = np.flatnonzero(every)
        shared = every[unique_pairs]
        position_of = np.zeros(n_raters * n_raters, dtype=np.int64)
        position_of[unique_pairs] = np.arange(len(unique_pairs))
        local = position_of[pair_id]
    else:
        unique_pairs, local, shared = np.unique(pair_id, return_inverse=True, return_counts=True)
    enough = shared >= min_shared
    kept = np.full(len(unique_pairs), -1, dtype=np.int64)
    kept[enough] = np.arange(int(enough.sum()))
    chosen = kept[local] >= 0
    tables = np.bincount(
        kept[local][chosen] * n_labels * n_labels + label_pair[chosen],
        minlength=int(enough.sum()) * n_labels * n_labels,
    ).reshape(-1, n_labels, n_labels)
    kappas, counts = _cohen_kappas(tables.astype(np.float64))
    pairs = unique_pairs[enough]
    return _kappa_list(
        data,
        pairs // n_raters,
        pairs % n_raters,
        counts,
        kappas,
        n_possible - int(enough.sum()),
        min_shared,
        notes,
    )


def _dense_pair_kappas(
    data: _ReliabilityData, min_shared: int, notes: list[str]
) -> list[PairKappa]:
    """:func:`_pair_kappas` for small sessions: one product of the one-hot ratings gives
    every pair's contingency table at once."""
    n_cases, n_raters, n_labels = len(data.cases), len(data.raters), len(data.categories)
    flat = np.zeros((n_cases, n_raters * n_labels))
    flat[data.case_index, data.rater_index * n_labels + data.label_index] = 1.0
    tables = (flat.T @ flat).reshape(n_raters, n_labels, n_raters, n_labels).transpose(0, 2, 1, 3)
    kappas, shared = _cohen_kappas(tables)
    first, second = np.triu_indices(n_raters, k=1)
    enough = shared[first, second] >= min_shared
    return _kappa_list(
        data,
        first[enough],
        second[enough],
        shared[first, second][enough],
        kappas[first, second][enough],
        len(first) - int(enough.sum()),
        min_shared,
        notes,
    )


def _kappa_list(data, first, second, shared, kappas, too_few, min_shared, notes):
    """The PairKappa entries, with notes on the pairs left out or undefined."""
    if too_few:
        notes.append(
            f"Cohen's kappa is left out for {too_few} rater pair(s) sharing fewer than "
            f"{min_shared} cases."
        )
    pairs = [
        PairKappa(rater_a=data.raters[a], rater_b=data.raters[b], n=int(n), kappa=_number(k))
        for a, b, n, k in zip(
            first.tolist(), second.tolist(), shared.tolist(), kappas.tolist(), strict=True
        )
    ]
    undefined = sum(pair.kappa is None for pair in pairs)
    if undefined:
        notes.append(
            f"Cohen's kappa is null for {undefined} rater pair(s) who both used one and the "
            "same label on all their shared cases (chance agreement is 1)."
        )
    return pairs


def _rater_figures(
    data: _ReliabilityData,
    alpha: float | None,
    values: np.ndarray,
    level: str,
    rater_groups: Mapping[str, str],
    rater_sites: Mapping[str, str],
    model_raters: set[str],
) -> list[RaterFigures]:
    """Per-rater figures, the raters who pull agreement down the most first."""
    n_raters, n_labels = len(data.raters), len(data.categories)
    value_counts = data.value_counts
    per_case = value_counts.sum(-1)
    case, rater, label = data.case_index, data.rater_index, data.label_index
    # Agreement with the others, pooled over pairs: on each case the rater agrees with
    # (count of their label - 1) of the (labels on the case - 1) others.
    agreeing_pairs = np.bincount(rater, weights=value_counts[case, label] - 1, minlength=n_raters)
    all_pairs = np.bincount(rater, weights=per_case[case] - 1, minlength=n_raters)
    agreement = np.divide(
        agreeing_pairs, all_pairs, out=np.full(n_raters, np.nan), where=all_pairs > 0
    )
    gold = data.golden_index[case]
    judged_rating = gold >= 0
    golden_tables = np.bincount(
        (rater[judged_rating] * n_labels + label[judged_rating]) * n_labels + gold[judged_rating],
        minlength=n_raters * n_labels * n_labels,
    ).reshape(n_raters, n_labels, n_labels)
    hits = np.trace(golden_tables, axis1=1, axis2=2)
    judged = golden_tables.sum((1, 2))
    accuracy = np.divide(hits, judged, out=np.full(n_raters, np.nan), where=judged > 0)
    kappa_vs_golden, _ = _cohen_kappas(golden_tables.astype(np.float64))
    alpha_without = _alphas_without_each_rater(data, values, level)
    rated = np.bincount(rater, minlength=n_raters)

    figures = []
    for position, name in enumerate(data.raters):
        left_out = _number(alpha_without[position])
        figures.append(
            RaterFigures(
                rater=name,
                group=rater_groups.get(name),
                site=rater_sites.get(name),
                n=int(rated[position]),
                agreement=_number(agreement[position]),
                accuracy=_number(accuracy[position]),
                kappa_vs_golden=_number(kappa_vs_golden[position]),
                alpha_without=left_out,
                loo_delta=None if left_out is None or alpha is None else left_out - alpha,
                n_golden=int(judged[position]),
                accuracy_ci=wilson_interval(int(hits[position]), int(judged[position])),
                model=name in model_raters,
            )
        )
    figures.sort(key=lambda f: (f.loo_delta is None, -(f.loo_delta or 0.0), f.rater))
    return figures


# Largest cases x contribution-columns matrix the bootstrap lays out densely (64 MB).
_DENSE_ENTRIES = 8_000_000

# Ratings handled at once when leaving each rater out: bounds the per-rating work arrays.
_RATING_CHUNK = 100_000


def _alphas_without_each_rater(
    data: _ReliabilityData, values: np.ndarray, level: str
) -> np.ndarray:
    """Alpha with each rater left out, from the change each of their ratings makes.

    Alpha is a function of summed case contributions; leaving a rater out changes only the
    cases they labelled, by (contribution with their label) - (contribution without it).
    Those changes are computed per rating and summed per rater with bincount.
    """
    n_raters = len(data.raters)
    full_rows = _case_contributions(data.value_counts, values, level)
    total = full_rows.sum(0)
    change = np.zeros((n_raters, full_rows.shape[1]))
    for start in range(0, len(data.case_index), _RATING_CHUNK):
        cases = data.case_index[start : start + _RATING_CHUNK]
        labels = data.label_index[start : start + _RATING_CHUNK]
        raters = data.rater_index[start : start + _RATING_CHUNK]
        without = data.value_counts[cases].copy()
        without[np.arange(len(cases)), labels] -= 1
        delta = full_rows[cases] - _case_contributions(without, values, level)
        for column in range(delta.shape[1]):
            change[:, column] += np.bincount(raters, weights=delta[:, column], minlength=n_raters)
    return np.atleast_1d(_alpha_from_contribution_sums(total[None] - change, values, level))


def _label_figures(
    data: _ReliabilityData, pairable: np.ndarray, notes: list[str]
) -> tuple[list[LabelFigures], list[list[int]] | None]:
    """Per-label figures in domain order, and the pooled golden x rater-label confusion."""
    value_counts = data.value_counts
    counts = value_counts[pairable]
    per_case = counts.sum(-1)
    weight = 1.0 / (per_case - 1) if len(per_case) else per_case
    # One label against the rest is a two-label nominal alpha; with a = labels of k on a
    # case and b the others, the off-diagonal coincidence is a * b / (m - 1), and alpha =
    # 1 - (n - 1) * o_kr / (n_k * n_r).
    rest = per_case[:, None] - counts
    cross = (counts * rest * weight[:, None]).sum(0)
    with_label = counts.sum(0)
    without_label = rest.sum(0)
    spread = with_label * without_label
    one_vs_rest = 1.0 - np.divide(
        (per_case.sum() - 1) * cross,
        spread,
        out=np.full(len(data.categories), np.nan),
        where=spread > 0,
    )
    undefined = [c for c, a in zip(data.categories, one_vs_rest, strict=True) if np.isnan(a)]
    if undefined and len(counts):
        notes.append(
            "One-versus-rest alpha is null for labels that were never, or always, used on "
            f"cases two raters labelled: {', '.join(undefined)}."
        )

    support = value_counts.sum(0)
    n_golden = data.golden.sum(0)
    confusion = data.golden.T @ value_counts if data.has_golden else None
    figures = []
    for position, label in enumerate(data.categories):
        scores = _golden_scores(confusion, position)
        figures.append(
            LabelFigures(
                label=label,
                support=int(support[position]),
                n_golden=int(n_golden[position]),
                alpha_one_vs_rest=_number(one_vs_rest[position]),
                **scores,
            )
        )
    if confusion is None:
        return figures, None
    never_given = [f.label for f in figures if f.precision is None]
    never_golden = [f.label for f in figures if f.recall is None]
    if never_given:
        notes.append(
            "Precision is null for labels no rater gave on a case with a golden label: "
            + ", ".join(never_given)
            + "."
        )
    if never_golden:
        notes.append(
            "Recall, F1 and the false-negative rate are null for labels that are no case's "
            "golden label: " + ", ".join(never_golden) + "."
        )
    return figures, confusion.astype(int).tolist()


def _golden_scores(confusion: np.ndarray | None, position: int) -> dict[str, float | None]:
    """Precision, recall, F1 and error rates of one label from the pooled confusion matrix."""
    if confusion is None:
        return dict.fromkeys(("precision", "recall", "f1", "fpr", "fnr"))
    hits = confusion[position, position]
    given = confusion[:, position].sum()
    expected = confusion[position, :].sum()
    negatives = confusion.sum() - expected
    precision = hits / given if given else None
    recall = hits / expected if expected else None
    if precision is None or recall is None:
        f1 = None
    else:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": None if precision is None else float(precision),
        "recall": None if recall is None else float(recall),
        "f1": None if f1 is None else float(f1),
        "fpr": float((given - hits) / negatives) if negatives else None,
        "fnr": float((expected - hits) / expected) if expected else None,
    }


def _case_figures(data: _ReliabilityData) -> list[CaseFigures]:
    """Per-case figures, the most contested case (highest entropy) first."""
    value_counts = data.value_counts
    per_case = value_counts.sum(-1)
    shares = value_counts / per_case[:, None]
    logs = np.log(shares, out=np.zeros_like(shares), where=shares > 0)
    entropy = 0.0 - (shares * logs).sum(-1)  # 0.0 - x turns -0.0 into 0.0
    n_labels = len(data.categories)
    # Normalised by log(number of labels in the domain): 1 means labels spread evenly
    # over every option, 0 means everyone agreed.
    entropy = entropy / math.log(n_labels) if n_labels > 1 else np.zeros_like(entropy)
    majority, top = _majorities(value_counts)
    majority_share = top / per_case
    golden = np.where(data.golden.any(-1), data.golden.argmax(-1), -1)
    # Rounded keys so that equal splits sort together regardless of float summation order.
    order = np.lexsort(
        (
            np.arange(len(data.cases)),
            -per_case,
            np.round(majority_share, 12),
            -np.round(entropy, 12),
        )
    )
    # Name lookups through plain lists: 50,000 cases make numpy scalar access too slow.
    categories: list[str | None] = [*data.categories, None]  # position -1 means "none"
    rows = value_counts[order].astype(np.int64).tolist()
    case_names = [data.cases[case] for case in order.tolist()]
    columns = zip(
        case_names,
        per_case[order].astype(np.int64).tolist(),
        rows,
        majority[order].tolist(),
        majority_share[order].tolist(),
        entropy[order].tolist(),
        golden[order].tolist(),
        strict=True,
    )
    # Many cases share the same split; build each split's {label: count} once and copy it.
    splits: dict[tuple[int, ...], dict[str, int]] = {}
    figures = []
    for item, n, row, top_label, share, spread, golden_label in columns:
        key = tuple(row)
        split = splits.get(key)
        if split is None:
            split = splits[key] = {c: k for c, k in zip(data.categories, row, strict=True) if k}
        figures.append(
            CaseFigures(
                item,
                n,
                split.copy(),
                categories[top_label],
                share,
                spread,
                categories[golden_label],
            )
        )
    return figures


def _explain(
    data: _ReliabilityData,
    pairable: np.ndarray,
    raters: list[RaterFigures],
    pair_kappas: list[PairKappa],
    items: list[CaseFigures],
    groups: list[_Subset],
    sites: list[_Subset],
    level: str,
    notes: list[str],
) -> None:
    """Notes for every figure the report leaves null, and for the choices behind others."""
    single = int((~pairable).sum())
    if single:
        notes.append(
            f"{single} case(s) have a label from only one rater; they are listed but left out "
            "of alpha, agreement and the kappas."
        )
    if len(data.raters) == 1:
        notes.append("Only one rater labelled these cases, so there is no one to agree with.")
    if level != "nominal":
        notes.append(
            f"Alpha uses the {level} distance; percent agreement, Fleiss' kappa, Gwet's AC1, "
            "the Cohen's kappas and one-versus-rest alpha count exact matches only."
        )
    if not data.has_golden:
        notes.append(
            "No golden labels were given, so accuracy, kappa against golden, precision, "
            "recall, F1, the error rates and the confusion matrix are null."
        )
    else:
        unjudged = [r.rater for r in raters if r.accuracy is None]
        if unjudged:
            notes.append(
                "Accuracy is null for raters who labelled no case with a golden label: "
                + ", ".join(unjudged)
                + "."
            )
    constant = [r.rater for r in raters if r.accuracy is not None and r.kappa_vs_golden is None]
    if constant:
        notes.append(
            "Kappa against golden is null where the rater and golden both used one and the "
            "same label on all the rater's golden cases (chance agreement is 1): "
            + ", ".join(constant)
            + "."
        )
    tied_cases = sum(item.majority is None for item in items)
    if tied_cases:
        notes.append(
            f"A case's majority is null when its most frequent labels tie ({tied_cases} "
            "case(s)); majority_share is then the share of each tied label."
        )
    no_alpha_without = [r.rater for r in raters if r.alpha_without is None]
    if no_alpha_without and any(r.alpha_without is not None for r in raters):
        notes.append(
            "alpha_without is null where leaving the rater out leaves no case with two labels "
            "or no variation: " + ", ".join(no_alpha_without) + "."
        )
    if len(pair_kappas) == 0 and len(data.raters) > 1:
        notes.append("No rater pair shares enough cases for Cohen's kappa, so its mean is null.")
    for kind, subsets in (("vendor", groups), ("site", sites)):
        if not subsets:
            continue
        tied = ", ".join(f"{s.name}: {s.ties}" for s in subsets if s.ties)
        for figure, reason in (
            ("alpha", "no case has labels from two of its raters, or they used one label only"),
            ("accuracy", "none of its raters labelled a case with a golden label"),
        ):
            missing = [s.name for s in subsets if s.figures[figure] is None]
            if missing:
                notes.append(
                    f"{figure.capitalize()} is null for {kind}(s) {', '.join(missing)}: {reason}."
                )
        notes.append(
            f"Per {kind}, “differs from others' majority” (majority_deviation) compares the "
            f"{kind}'s most frequent label with "
            "that of everyone else on cases both labelled; a tie counts as no majority and "
            "leaves the case out" + (f" ({tied})." if tied else ".")
        )
        if len(subsets) == 1 and len(subsets[0].rater_positions) == len(data.raters):
            notes.append(
                f"Every rater belongs to the same {kind}, so there is no one outside it to "
                "compare with (“differs from others' majority” is null)."
            )
