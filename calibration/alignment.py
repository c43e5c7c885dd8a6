"""Cross-market alignment: how one policy is read on each market's cases, and in each region.

Cases carry their market. For a revealed session this module groups the human ratings by
the case's market — all vendors together, and each vendor apart — and by the market's
region, and gives each group its alpha and its accuracy against golden with 95% BCa
intervals over cases (the same bootstrap and jackknife as the agreement engine), stored
as :class:`QualityPoint` rows (``"m<id>"``, ``"m<id>v<vendor id>"``, ``"r<region>"``).
Below 30 shared cases alpha has no interval, and below 30 golden cases accuracy has
none: the same minimums as the findings.

:func:`misreads` reads the stored confusion: a market misreads golden label A as B when,
on that market's cases, at least ``MISREAD_SHARE`` of the ratings of A-cases gave B and
that share is at least ``MISREAD_GAP`` above the other markets' share (and at least
``MISREAD_MIN`` ratings of A-cases were given there). It describes; it raises no flag.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from calibration.agreement import coincidence_alpha, label_values, resampled_alphas
from calibration.evidence import bca_interval
from calibration.findings import Minimums
from calibration.models import Case, Label, QualityPoint, Rater, RaterKind
from rollcal.extensions import db
from rollcal.org.models import Market

BOOTSTRAP = 1_000
MISREAD_SHARE = 0.20
MISREAD_GAP = 0.15
MISREAD_MIN = 5
MINIMUMS = Minimums()


@dataclass
class GroupFigures:
    """One group's figures: alpha and accuracy with their intervals, and the confusion."""

    alpha: float | None
    alpha_ci: tuple[float, float] | None
    accuracy: float | None
    accuracy_ci: tuple[float, float] | None
    n_shared: int
    n_golden: int
    n_raters: int
    confusion: list[list[int]]


def _jackknife(statistic, n_cases: int) -> np.ndarray:
    keep = np.ones(n_cases, dtype=bool)
    values = np.empty(n_cases)
    for index in range(n_cases):
        keep[index] = False
        values[index] = statistic(keep)
        keep[index] = True
    return values


def group_figures(
    value_counts: np.ndarray,
    golden: np.ndarray,
    *,
    categories: list[str],
    level: str,
    n_raters: int,
    seed: int,
    minimums: Minimums = MINIMUMS,
) -> GroupFigures:
    """Figures of one group from its cases × labels counts and each case's golden label
    index (-1 for none)."""
    values = label_values(categories, level)
    counts = np.asarray(value_counts, dtype=np.float64)
    n_cases = counts.shape[0]
    per_case = counts.sum(axis=1)
    n_shared = int((per_case >= 2).sum())
    alpha = coincidence_alpha(counts, values=values, level=level) if n_cases else None
    alpha_ci = None
    if alpha is not None and n_shared >= minimums.shared_cases:
        resamples = resampled_alphas(
            counts, n_resamples=BOOTSTRAP, seed=seed, values=values, level=level
        )
        jack = _jackknife(
            lambda keep: coincidence_alpha(counts[keep], values=values, level=level) or np.nan,
            n_cases,
        )
        undefined = int(np.isnan(resamples).sum())
        if undefined <= minimums.undefined_share * BOOTSTRAP:
            alpha_ci = bca_interval(alpha, resamples, jack)

    has_golden = golden >= 0
    hits = np.where(has_golden, counts[np.arange(n_cases), np.maximum(golden, 0)], 0.0)
    ratings = np.where(has_golden, per_case, 0.0)
    n_golden = int((has_golden & (per_case > 0)).sum())
    accuracy = float(hits.sum() / ratings.sum()) if ratings.sum() else None
    accuracy_ci = None
    if accuracy is not None and n_golden >= minimums.golden_cases:
        rng = np.random.default_rng(seed + 1)
        draws = rng.integers(0, n_cases, size=(BOOTSTRAP, n_cases))
        drawn_ratings = ratings[draws].sum(axis=1)
        resamples = np.divide(
            hits[draws].sum(axis=1),
            drawn_ratings,
            out=np.full(BOOTSTRAP, np.nan),
            where=drawn_ratings > 0,
        )

        def leave_out(keep):
            total = ratings[keep].sum()
            return hits[keep].sum() / total if total else np.nan

        accuracy_ci = bca_interval(accuracy, resamples, _jackknife(leave_out, n_cases))

    confusion = np.zeros((len(categories), len(categories)), dtype=int)
    for row, label in zip(counts, golden, strict=True):
        if label >= 0:
            confusion[label] += row.astype(int)
    return GroupFigures(
        alpha=alpha,
        alpha_ci=alpha_ci,
        accuracy=accuracy,
        accuracy_ci=accuracy_ci,
        n_shared=n_shared,
        n_golden=n_golden,
        n_raters=n_raters,
        confusion=confusion.tolist(),
    )


def market_points(session, policy_id: int | None, revealed_at) -> list[QualityPoint]:
    """The market, market × vendor and region rows of a revealed session's human ratings."""
    categories = [str(option["key"]) for option in session.label_options or []]
    if not categories:
        return []
    index = {key: position for position, key in enumerate(categories)}
    rows = db.session.execute(
        sa.select(
            Case.id,
            Case.market_id,
            Case.golden_label,
            Rater.id.label("rater_id"),
            Rater.vendor_id,
            Label.option_key,
        )
        .join(Label, Label.case_id == Case.id)
        .join(Rater, Rater.id == Label.rater_id)
        .where(
            Case.session_id == session.id,
            Case.market_id.is_not(None),
            Rater.kind == RaterKind.HUMAN,
        )
    ).all()
    if not rows:
        return []
    regions = dict(
        db.session.execute(
            sa.select(Market.id, Market.region).where(
                Market.id.in_({row.market_id for row in rows})
            )
        ).all()
    )
    # group key -> (market_id, region, vendor_id) and its ratings
    groups: dict[str, tuple] = {}
    ratings: dict[str, list] = defaultdict(list)
    for row in rows:
        if row.option_key not in index:
            continue
        region = str(regions[row.market_id])
        keys = [
            (f"m{row.market_id}", (row.market_id, None, None)),
            (f"r{region}", (None, region, None)),
        ]
        if row.vendor_id is not None:
            keys.append((f"m{row.market_id}v{row.vendor_id}", (row.market_id, None, row.vendor_id)))
        for key, facts in keys:
            groups[key] = facts
            ratings[key].append(row)
    names = {str(o["key"]): o["name"] for o in session.label_options}
    points = []
    for key, (market_id, region, vendor_id) in sorted(groups.items()):
        group = ratings[key]
        case_ids = sorted({row.id for row in group})
        position = {case_id: n for n, case_id in enumerate(case_ids)}
        counts = np.zeros((len(case_ids), len(categories)))
        golden = np.full(len(case_ids), -1)
        for row in group:
            counts[position[row.id], index[row.option_key]] += 1
            if row.golden_label in index:
                golden[position[row.id]] = index[row.golden_label]
        figures = group_figures(
            counts,
            golden,
            categories=categories,
            level=session.label_level.value,
            n_raters=len({row.rater_id for row in group}),
            seed=session.id,
        )
        alpha_low, alpha_high = figures.alpha_ci or (None, None)
        accuracy_low, accuracy_high = figures.accuracy_ci or (None, None)
        points.append(
            QualityPoint(
                session_id=session.id,
                subject=key,
                vendor_id=vendor_id,
                market_id=market_id,
                region=region,
                policy_id=policy_id,
                revealed_at=revealed_at,
                alpha=figures.alpha,
                alpha_low=alpha_low,
                alpha_high=alpha_high,
                accuracy=figures.accuracy,
                accuracy_low=accuracy_low,
                accuracy_high=accuracy_high,
                n_golden=figures.n_golden,
                n_raters=figures.n_raters,
                evidence=figures.n_golden >= MINIMUMS.golden_cases and figures.n_raters >= 2,
                details={
                    "confusion": figures.confusion,
                    "categories": categories,
                    "names": names,
                    "shared_cases": figures.n_shared,
                },
            )
        )
    return points


def misreads(rows) -> dict[str, list[dict]]:
    """The labels each market misreads, from its rows' confusion against the other
    markets' (``rows``: market rows of one session, as stored)."""
    if not rows:
        return {}
    total = None
    for row in rows:
        confusion = np.asarray(row.details["confusion"])
        total = confusion if total is None else total + confusion
    found: dict[str, list[dict]] = {}
    for row in rows:
        confusion = np.asarray(row.details["confusion"])
        others = total - confusion
        categories, names = row.details["categories"], row.details.get("names", {})
        for golden, line in enumerate(confusion):
            given_total = line.sum()
            if given_total < MISREAD_MIN:
                continue
            for given, count in enumerate(line):
                if given == golden:
                    continue
                share = count / given_total
                other_total = others[golden].sum()
                other_share = others[golden][given] / other_total if other_total else 0.0
                if share >= MISREAD_SHARE and share - other_share >= MISREAD_GAP:
                    found.setdefault(row.subject, []).append(
                        {
                            "golden": names.get(categories[golden], categories[golden]),
                            "given": names.get(categories[given], categories[given]),
                            "share": float(share),
                            "others_share": float(other_share),
                            "n": int(given_total),
                        }
                    )
    return found
