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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from statistics import NormalDist
from typing import Any, NamedTuple

import krippendorff
import numpy as np

LEVELS = ("nominal", "ordinal", "interval", "ratio")

SEVERITIES = ("high", "medium", "low")

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
    shared cases that gave the same label; ``accuracy`` and ``kappa_vs_golden`` (Cohen's)
    on the rater's cases that have a golden label; ``alpha_without`` alpha with this
    rater left out, and ``loo_delta = alpha_without - alpha``: large and positive means
    the rater pulls agreement down.
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


@dataclass
class LabelFigures:
    """How consistently one label is used, and how well it matches golden.

    ``support`` ratings that gave this label, ``n_golden`` cases whose golden label it is;
    ``alpha_one_vs_rest`` nominal alpha of "this label or not". Precision, recall, F1 and
    the false-positive and false-negative rates pool every rating on a golden case.
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


@dataclass
class GroupFigures:
    """Agreement among the raters of one vendor, and how the vendor compares to the rest.

    ``alpha``, ``alpha_ci`` and ``percent_agreement`` use only the vendor's own raters;
    ``accuracy`` pools their ratings on golden cases; ``majority_deviation`` is the share
    of cases where the vendor's most frequent label differs from that of everyone
    outside it, among cases where both sides have one (a tie is no majority).
    """

    group: str
    n_raters: int
    n_items: int
    alpha: float | None
    alpha_ci: tuple[float, float] | None
    percent_agreement: float | None
    accuracy: float | None
    majority_deviation: float | None


@dataclass
class SiteFigures:
    """The same figures as :class:`GroupFigures`, for the raters of one site.

    Rollout readiness gates each site on ``alpha`` (or the lower end of ``alpha_ci``)
    and ``accuracy``.
    """

    site: str
    n_raters: int
    n_items: int
    alpha: float | None
    alpha_ci: tuple[float, float] | None
    percent_agreement: float | None
    accuracy: float | None
    majority_deviation: float | None


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
class Flag:
    """A misalignment worth acting on, with the figure behind it and what to do.

    ``scope`` is overall, group (vendor), site, rater or label and ``subject`` names which
    (None overall). ``kind``: misaligned, tentative, not_enough_evidence, too_few_cases,
    low_accuracy, pulls_down_agreement, label_misaligned or low_recall. ``severity``:
    high, medium or low. ``value`` is the figure compared with ``threshold``.
    """

    scope: str
    subject: str | None
    kind: str
    severity: str
    value: float | None
    threshold: float | None
    message: str


@dataclass
class AgreementReport:
    """Everything the engine found; ``to_dict`` gives the JSON snapshot.

    ``n_pairable_items`` counts cases labelled by two or more raters, the only ones that
    enter alpha and the kappas. ``alpha_ci`` is the 95% percentile interval from
    ``bootstrap`` resamples of cases drawn with ``seed``. ``percent_agreement`` is the mean,
    over pairable cases, of the share of rater pairs that agree. ``confusion`` has golden
    labels as rows and rater labels as columns, both in ``categories`` order. Raters come
    most disagreement-driving first, labels in domain order, vendors and sites by name,
    cases most contested first, flags most severe first. Every None has a note saying why.
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

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data (lists, dicts, str, int, float, None)."""
        return _plain(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AgreementReport:
        """Rebuild a report from :meth:`to_dict` output (e.g. a stored JSON snapshot)."""
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
    """Build one list entry of a report from its JSON form."""
    values = {f.name: data[f.name] for f in dataclasses.fields(cls)}
    if "alpha_ci" in values:
        values["alpha_ci"] = _interval(values["alpha_ci"])
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


def _gwet_ac1(value_counts: np.ndarray, agreement: float | None) -> float | None:
    """Gwet's AC1 with missing ratings (Gwet 2014): chance = sum(pi_k (1 - pi_k)) / (q - 1)."""
    n_labels = value_counts.shape[-1]
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
    """A vendor or site: its raters, value counts, figures and majority ties."""

    name: str
    rater_positions: np.ndarray
    value_counts: np.ndarray
    figures: dict[str, Any]
    ties: int


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
) -> AgreementReport:
    """Analyse who labelled which case how, and return the full :class:`AgreementReport`.

    ``categories`` is the ordered label domain; ``golden`` maps cases to their golden
    label; ``rater_groups`` and ``rater_sites`` map raters to their vendor and site.
    ``bootstrap`` resamples of cases (0 disables) give the 95% interval of every alpha;
    ``seed`` makes them repeatable. Thresholds: alpha below ``alpha_threshold`` is
    misaligned, below ``alpha_reliable`` tentative; accuracy and recall below
    ``accuracy_target`` are flagged, and so is a rater whose removal raises alpha by
    ``loo_threshold`` or more. Cohen's kappa needs ``min_shared_cases`` shared cases.

    Raises :class:`AgreementInputError` for empty input, unknown labels, a rater labelling
    a case twice, an unknown level, or non-numeric labels at the interval or ratio level.
    """
    categories = list(categories)
    values = _check_categories(categories, level)
    if bootstrap < 0:
        raise AgreementInputError("bootstrap must be 0 or more resamples")
    data = _ReliabilityData.build(ratings, categories, golden or {})
    notes: list[str] = []
    rater_groups = rater_groups or {}
    rater_sites = rater_sites or {}
    value_counts = data.value_counts
    per_case = value_counts.sum(-1)
    pairable = per_case >= 2
    n_pairable = int(pairable.sum())
    rng = np.random.default_rng(seed)

    alpha = _headline_alpha(value_counts[pairable], categories, values, level, notes)
    label_totals = value_counts[pairable].sum(0)

    golden_tables = _golden_tables(data)
    groups = _subsets(data, rater_groups, golden_tables, values, level)
    sites = _subsets(data, rater_sites, golden_tables, values, level)
    subsets = groups + sites
    # Only alphas that exist get an interval; a one-rater site has nothing to resample.
    intervals = _intervals(
        data,
        [
            value_counts if alpha is not None else None,
            *(s.value_counts if s.figures["alpha"] is not None else None for s in subsets),
        ],
        values,
        level,
        bootstrap,
        rng,
    )
    alpha_ci = intervals[0]
    for subset, interval in zip(subsets, intervals[1:], strict=True):
        subset.figures["alpha_ci"] = interval
    if bootstrap == 0:
        notes.append("The bootstrap was turned off, so no interval is given for alpha.")
    elif alpha is not None and alpha_ci is None:
        notes.append("No bootstrap resample had any variation, so alpha has no interval.")

    percent_agreement = _percent_agreement(value_counts)
    fleiss = _fleiss_kappa(value_counts, percent_agreement)
    ac1 = _gwet_ac1(value_counts, percent_agreement)
    _explain_chance_corrected(percent_agreement, fleiss, ac1, len(categories), notes)

    pair_kappas = _pair_kappas(data, min_shared_cases, notes)
    defined_kappas = [pair.kappa for pair in pair_kappas if pair.kappa is not None]
    mean_kappa = float(np.mean(defined_kappas)) if defined_kappas else None

    raters = _rater_figures(data, golden_tables, alpha, values, level, rater_groups, rater_sites)
    labels, confusion = _label_figures(data, pairable, notes)
    group_figures = [GroupFigures(group=s.name, **s.figures) for s in groups]
    site_figures = [SiteFigures(site=s.name, **s.figures) for s in sites]
    items = _case_figures(data)

    _explain(data, pairable, raters, pair_kappas, items, groups, sites, level, notes)
    flags = _flags(
        alpha=alpha,
        alpha_ci=alpha_ci,
        raters=raters,
        labels=labels,
        groups=group_figures,
        sites=site_figures,
        n_pairable=n_pairable,
        sample_size=_sample_size(label_totals, categories, alpha_threshold, significance),
        accuracy_target=accuracy_target,
        alpha_threshold=alpha_threshold,
        alpha_reliable=alpha_reliable,
        loo_threshold=loo_threshold,
        significance=significance,
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
    )


def _check_categories(categories: list[str], level: str) -> np.ndarray:
    _check_level(level)
    if not categories:
        raise AgreementInputError("the label domain (categories) is empty")
    repeated = sorted({c for c in categories if categories.count(c) > 1})
    if repeated:
        raise AgreementInputError(f"labels appear twice in the domain: {', '.join(repeated)}")
    return label_values(categories, level)


def _as_number(text: str) -> float | None:
    """The label as a finite number, or None when it is not one."""
    try:
        number = float(text)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@dataclass
class _ReliabilityData:
    """The ratings as arrays: cases x raters x labels, one-hot."""

    cases: list[str]
    raters: list[str]
    categories: list[str]
    one_hot: np.ndarray  # (cases, raters, labels), 1.0 where the rater gave the label
    value_counts: np.ndarray  # (cases, labels)
    golden: np.ndarray  # (cases, labels), one-hot golden label, zero rows without golden

    @classmethod
    def build(
        cls, ratings: Iterable[Rating], categories: list[str], golden: Mapping[str, str]
    ) -> _ReliabilityData:
        rows = list(ratings)
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
        cell_counts = np.bincount(cell, minlength=len(cases) * len(raters))
        if cell_counts.max() > 1:
            twice = int(np.flatnonzero(cell_counts > 1)[0])
            raise AgreementInputError(
                f"rater {raters[twice % len(raters)]!r} labelled case "
                f"{cases[twice // len(raters)]!r} more than once"
            )
        one_hot = np.zeros((len(cases), len(raters), len(categories)))
        one_hot[case_index, rater_index, label_index] = 1.0
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
        judged = [
            (case_position[case], label_position[label])
            for case, label in golden.items()
            if case in case_position
        ]
        golden_one_hot = np.zeros((len(cases), len(categories)))
        if judged:
            golden_rows, golden_columns = zip(*judged, strict=True)
            golden_one_hot[list(golden_rows), list(golden_columns)] = 1.0
        return cls(
            cases=cases,
            raters=raters,
            categories=categories,
            one_hot=one_hot,
            value_counts=value_counts.astype(np.float64),
            golden=golden_one_hot,
        )

    @property
    def has_golden(self) -> bool:
        return bool(self.golden.any())


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
    golden_tables: np.ndarray,
    values: np.ndarray,
    level: str,
) -> list[_Subset]:
    """Vendors or sites that have at least one rater in the data, sorted by name.

    Their figures are complete except ``alpha_ci``, which the shared bootstrap fills in.
    All subsets are computed together on a (subsets, cases, labels) stack.
    """
    members: dict[str, list[int]] = {}
    for position, rater in enumerate(data.raters):
        name = membership.get(rater)
        if name is not None:
            members.setdefault(name, []).append(position)
    if not members:
        return []
    names = sorted(members)
    n_cases, n_raters, n_labels = data.one_hot.shape
    belongs = np.zeros((n_raters, len(names)))
    for column, name in enumerate(names):
        belongs[members[name], column] = 1.0
    # (cases * labels, raters) @ (raters, subsets): every subset's value counts in one product.
    stacked = data.one_hot.transpose(0, 2, 1).reshape(n_cases * n_labels, n_raters) @ belongs
    counts = np.ascontiguousarray(stacked.reshape(n_cases, n_labels, len(names)).transpose(2, 0, 1))
    outside = data.value_counts[None] - counts

    alphas = np.atleast_1d(_alpha_from_coincidences(coincidence_matrix(counts), values, level))
    agreements = np.atleast_1d(_percent_agreements(counts))
    hits = np.trace(golden_tables, axis1=1, axis2=2) @ belongs
    judged = golden_tables.sum((1, 2)) @ belongs
    own_majority, _ = _majorities(counts)
    other_majority, _ = _majorities(outside)
    both = (own_majority >= 0) & (other_majority >= 0)
    differ = (both & (own_majority != other_majority)).sum(-1)
    compared = both.sum(-1)
    labelled = _row_sums(counts) > 0
    labelled_by_both = labelled & (_row_sums(outside) > 0)
    ties = (labelled_by_both & ~both).sum(-1)

    subsets = []
    for column, name in enumerate(names):
        figures = {
            "n_raters": len(members[name]),
            "n_items": int(labelled[column].sum()),
            "alpha": _number(alphas[column]),
            "alpha_ci": None,
            "percent_agreement": _number(agreements[column]),
            "accuracy": float(hits[column] / judged[column]) if judged[column] else None,
            "majority_deviation": (
                float(differ[column] / compared[column]) if compared[column] else None
            ),
        }
        subsets.append(
            _Subset(
                name=name,
                rater_positions=np.asarray(members[name]),
                value_counts=counts[column],
                figures=figures,
                ties=int(ties[column]),
            )
        )
    return subsets


def _intervals(
    data: _ReliabilityData,
    value_count_sets: list[np.ndarray | None],
    values: np.ndarray,
    level: str,
    bootstrap: int,
    rng: np.random.Generator,
) -> list[tuple[float, float] | None]:
    """95% percentile intervals for the alpha of each value-count set, from one bootstrap.

    A set given as None (its alpha is undefined) gets no interval.

    Every set (everyone, each vendor, each site) is resampled with the same draws of
    cases, so one matrix product serves them all and their intervals are comparable.
    Resampling runs over the cases that two raters labelled overall; a case that a vendor
    did not pair up contributes zero to that vendor's sums.
    """
    intervals: list[tuple[float, float] | None] = [None] * len(value_count_sets)
    pairable = data.value_counts.sum(-1) >= 2
    wanted = [i for i, counts in enumerate(value_count_sets) if counts is not None]
    if bootstrap == 0 or not wanted:
        return intervals
    blocks = [_case_contributions(value_count_sets[i][pairable], values, level) for i in wanted]
    sums = _bootstrap_sums(np.concatenate(blocks, axis=1), bootstrap, rng)
    start = 0
    for position, block in zip(wanted, blocks, strict=True):
        alphas = _alpha_from_contribution_sums(
            sums[:, start : start + block.shape[1]], values, level
        )
        start += block.shape[1]
        defined = alphas[np.isfinite(alphas)]
        if len(defined):
            low, high = np.percentile(defined, [2.5, 97.5])
            intervals[position] = (float(low), float(high))
    return intervals


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


def _pair_kappas(data: _ReliabilityData, min_shared: int, notes: list[str]) -> list[PairKappa]:
    """Cohen's kappa for every pair of raters that share at least ``min_shared`` cases."""
    n_cases, n_raters, n_labels = data.one_hot.shape
    flat = data.one_hot.reshape(n_cases, n_raters * n_labels)
    # One product gives every pair's contingency table on the cases both labelled.
    tables = (flat.T @ flat).reshape(n_raters, n_labels, n_raters, n_labels).transpose(0, 2, 1, 3)
    kappas, shared = _cohen_kappas(tables)
    first, second = np.triu_indices(n_raters, k=1)
    enough = shared[first, second] >= min_shared
    too_few = int((~enough).sum())
    if too_few:
        notes.append(
            f"Cohen's kappa is left out for {too_few} rater pair(s) sharing fewer than "
            f"{min_shared} cases."
        )
    pairs = [
        PairKappa(
            rater_a=data.raters[a],
            rater_b=data.raters[b],
            n=int(shared[a, b]),
            kappa=_number(kappas[a, b]),
        )
        for a, b in zip(first[enough].tolist(), second[enough].tolist(), strict=True)
    ]
    undefined = sum(pair.kappa is None for pair in pairs)
    if undefined:
        notes.append(
            f"Cohen's kappa is null for {undefined} rater pair(s) who both used one and the "
            "same label on all their shared cases (chance agreement is 1)."
        )
    return pairs


def _golden_tables(data: _ReliabilityData) -> np.ndarray:
    """Per rater, the contingency table rater label x golden label: (raters, V, V)."""
    n_cases, n_raters, n_labels = data.one_hot.shape
    flat = data.one_hot.reshape(n_cases, n_raters * n_labels)
    return (flat.T @ data.golden).reshape(n_raters, n_labels, n_labels)


def _rater_figures(
    data: _ReliabilityData,
    golden_tables: np.ndarray,
    alpha: float | None,
    values: np.ndarray,
    level: str,
    rater_groups: Mapping[str, str],
    rater_sites: Mapping[str, str],
) -> list[RaterFigures]:
    """Per-rater figures, the raters who pull agreement down the most first."""
    one_hot = data.one_hot
    value_counts = data.value_counts
    per_case = value_counts.sum(-1)
    rated = one_hot.sum(-1)  # (cases, raters)
    # Agreement with the others, pooled over pairs: on each case the rater agrees with
    # (count of their label - 1) of the (labels on the case - 1) others.
    agreeing_pairs = ((one_hot * value_counts[:, None, :]).sum(-1) - rated).sum(0)
    all_pairs = (rated * (per_case[:, None] - 1)).sum(0)
    agreement = np.divide(
        agreeing_pairs, all_pairs, out=np.full(len(data.raters), np.nan), where=all_pairs > 0
    )
    hits = np.trace(golden_tables, axis1=1, axis2=2)
    judged = golden_tables.sum((1, 2))
    accuracy = np.divide(hits, judged, out=np.full(len(data.raters), np.nan), where=judged > 0)
    kappa_vs_golden, _ = _cohen_kappas(golden_tables)

    # Leave each rater out in turn: subtract their labels from the value counts and take
    # every rater's coincidence matrix in one batched product.
    without = value_counts[None, :, :] - one_hot.transpose(1, 0, 2)
    alpha_without = np.atleast_1d(
        _alpha_from_coincidences(coincidence_matrix(without), values, level)
    )

    figures = []
    for position, rater in enumerate(data.raters):
        left_out = _number(alpha_without[position])
        figures.append(
            RaterFigures(
                rater=rater,
                group=rater_groups.get(rater),
                site=rater_sites.get(rater),
                n=int(rated[:, position].sum()),
                agreement=_number(agreement[position]),
                accuracy=_number(accuracy[position]),
                kappa_vs_golden=_number(kappa_vs_golden[position]),
                alpha_without=left_out,
                loo_delta=None if left_out is None or alpha is None else left_out - alpha,
            )
        )
    figures.sort(key=lambda f: (f.loo_delta is None, -(f.loo_delta or 0.0), f.rater))
    return figures


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
            f"Per {kind}, majority_deviation compares the {kind}'s most frequent label with "
            "that of everyone else on cases both labelled; a tie counts as no majority and "
            "leaves the case out" + (f" ({tied})." if tied else ".")
        )
        if len(subsets) == 1 and len(subsets[0].rater_positions) == len(data.raters):
            notes.append(
                f"Every rater belongs to the same {kind}, so there is no one outside it to "
                "compare with (majority_deviation is null)."
            )


# ---------------------------------------------------------------------------------------
# Flags
# ---------------------------------------------------------------------------------------


def _pair(value: float, threshold: float, *, percent: bool = False) -> tuple[str, str]:
    """Format a figure and its threshold so that they never read as equal.

    0.6666 against 0.667 would show as "0.667 is below 0.667"; add digits until they differ.
    """
    scale, digits, suffix = (100, 0, "%") if percent else (1, 3, "")
    while round(value * scale, digits) == round(threshold * scale, digits) and digits < 6:
        digits += 1
    return f"{value * scale:.{digits}f}{suffix}", f"{threshold * scale:.{digits}f}{suffix}"


def _flags(
    *,
    alpha: float | None,
    alpha_ci: tuple[float, float] | None,
    raters: list[RaterFigures],
    labels: list[LabelFigures],
    groups: list[GroupFigures],
    sites: list[SiteFigures],
    n_pairable: int,
    sample_size: _SampleSize | None,
    accuracy_target: float,
    alpha_threshold: float,
    alpha_reliable: float,
    loo_threshold: float,
    significance: float,
) -> list[Flag]:
    """Every flag the figures raise, the most severe first."""
    thresholds = (alpha_threshold, alpha_reliable)
    flags = _alpha_flags("overall", None, "The raters", alpha, alpha_ci, *thresholds)
    if alpha is not None and sample_size is not None and n_pairable < sample_size.needed:
        minimum = sample_size.needed
        flags.append(
            Flag(
                scope="overall",
                subject=None,
                kind="too_few_cases",
                severity="medium",
                value=n_pairable,
                threshold=minimum,
                message=(
                    f"Only {n_pairable} cases were labelled by two or more raters; about "
                    f"{minimum - n_pairable} more (at least {minimum} in all) are needed to "
                    f"tell whether alpha clears {alpha_threshold:.3f} at {significance:.0%} "
                    f"significance, because the rarest label, {sample_size.rarest_label!r}, "
                    f"makes up only {sample_size.rarest_share:.0%} of the labels."
                ),
            )
        )
    subsets = [(g, "group", g.group, f"Vendor {g.group}") for g in groups]
    subsets += [(s, "site", s.site, f"Site {s.site}") for s in sites]
    for entry, scope, name, who in subsets:
        flags += _alpha_flags(
            scope, name, f"{who}'s raters", entry.alpha, entry.alpha_ci, *thresholds
        )
        if entry.accuracy is not None and entry.accuracy < accuracy_target:
            shown, target = _pair(entry.accuracy, accuracy_target, percent=True)
            flags.append(
                Flag(
                    scope=scope,
                    subject=name,
                    kind="low_accuracy",
                    severity="high",
                    value=entry.accuracy,
                    threshold=accuracy_target,
                    message=(
                        f"{who}'s labels match golden {shown} of the time, below the {target} "
                        "target; go through the misses with its QA lead."
                    ),
                )
            )
    for rater in raters:
        if rater.loo_delta is not None and alpha is not None and rater.loo_delta >= loo_threshold:
            flags.append(
                Flag(
                    scope="rater",
                    subject=rater.rater,
                    kind="pulls_down_agreement",
                    severity="medium",
                    value=rater.loo_delta,
                    threshold=loo_threshold,
                    message=(
                        f"Leaving {rater.rater} out raises alpha from {alpha:.3f} to "
                        f"{rater.alpha_without:.3f}; compare their labels with the majority "
                        "and with golden, and go through the cases where they differ."
                    ),
                )
            )
        if rater.accuracy is not None and rater.accuracy < accuracy_target:
            shown, target = _pair(rater.accuracy, accuracy_target, percent=True)
            flags.append(
                Flag(
                    scope="rater",
                    subject=rater.rater,
                    kind="low_accuracy",
                    severity="high",
                    value=rater.accuracy,
                    threshold=accuracy_target,
                    message=(
                        f"{rater.rater} matches golden on {shown} of their cases, below the "
                        f"{target} target; go through their misses with them before they "
                        "label production cases."
                    ),
                )
            )
    for label in labels:
        one_vs_rest = label.alpha_one_vs_rest
        if one_vs_rest is not None and one_vs_rest < alpha_threshold:
            shown, threshold = _pair(one_vs_rest, alpha_threshold)
            flags.append(
                Flag(
                    scope="label",
                    subject=label.label,
                    kind="label_misaligned",
                    severity="high",
                    value=one_vs_rest,
                    threshold=alpha_threshold,
                    message=(
                        f"Raters do not agree on when to use {label.label!r}: its "
                        f"one-versus-rest alpha is {shown}, below {threshold}; sharpen its "
                        "definition and add examples to the guidelines."
                    ),
                )
            )
        if label.recall is not None and label.recall < accuracy_target:
            shown, target = _pair(label.recall, accuracy_target, percent=True)
            flags.append(
                Flag(
                    scope="label",
                    subject=label.label,
                    kind="low_recall",
                    severity="medium",
                    value=label.recall,
                    threshold=accuracy_target,
                    message=(
                        f"Cases whose golden label is {label.label!r} got that label only "
                        f"{shown} of the time (target {target}); add such cases to the "
                        "training set and review what raters chose instead."
                    ),
                )
            )
    return sorted(flags, key=lambda flag: SEVERITIES.index(flag.severity))


def _alpha_flags(
    scope: str,
    subject: str | None,
    who: str,
    alpha: float | None,
    interval: tuple[float, float] | None,
    alpha_threshold: float,
    alpha_reliable: float,
) -> list[Flag]:
    """Flags for one alpha: misaligned, tentative, or clearing a threshold on thin evidence."""
    if alpha is None:
        return []
    flags = []
    if alpha < alpha_threshold:
        shown, threshold = _pair(alpha, alpha_threshold)
        flags.append(
            Flag(
                scope=scope,
                subject=subject,
                kind="misaligned",
                severity="high",
                value=alpha,
                threshold=alpha_threshold,
                message=(
                    f"{who} agree too little to rely on their labels: alpha {shown} is below "
                    f"{threshold}. Recalibrate on the most contested cases and clarify the "
                    "policy before go-live."
                ),
            )
        )
    elif alpha < alpha_reliable:
        shown, threshold = _pair(alpha, alpha_reliable)
        flags.append(
            Flag(
                scope=scope,
                subject=subject,
                kind="tentative",
                severity="medium",
                value=alpha,
                threshold=alpha_reliable,
                message=(
                    f"{who} agree only tentatively: alpha {shown} is below {threshold}. "
                    "Review the flagged labels and raters before relying on these results."
                ),
            )
        )
    # The point estimate clears a threshold but the interval dips below it: the evidence
    # does not yet show the raters are there. Name the lowest threshold the interval
    # misses, since missing the misaligned line matters more than missing the reliable one.
    missed = [t for t in (alpha_threshold, alpha_reliable) if interval and alpha >= t > interval[0]]
    if interval is not None and missed:
        shown, threshold = _pair(interval[0], missed[0])
        flags.append(
            Flag(
                scope=scope,
                subject=subject,
                kind="not_enough_evidence",
                severity="medium" if missed[0] == alpha_threshold else "low",
                value=interval[0],
                threshold=missed[0],
                message=(
                    f"{who} reach alpha {alpha:.3f}, but its 95% interval reaches down to "
                    f"{shown}, below {threshold}; label more shared cases before treating "
                    "this as settled."
                ),
            )
        )
    return flags
