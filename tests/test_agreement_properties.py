"""Properties of the agreement engine that must hold for any ratings (hypothesis)."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from calibration.agreement import (
    LEVELS,
    Rating,
    bootstrap_alphas,
    coincidence_alpha,
    compute_report,
    label_values,
)

CATEGORIES = ["1", "2", "3", "4"]
# No example database: these runs should leave nothing behind in the working tree.
FAST = settings(max_examples=40, deadline=None, database=None)


@st.composite
def rating_tables(draw, min_cases: int = 2, max_cases: int = 12):
    """A cases x raters table of label positions, -1 for missing."""
    n_cases = draw(st.integers(min_cases, max_cases))
    n_raters = draw(st.integers(2, 5))
    cells = st.lists(st.integers(-1, len(CATEGORIES) - 1), min_size=n_raters, max_size=n_raters)
    return draw(st.lists(cells, min_size=n_cases, max_size=n_cases))


def to_ratings(table, labels=CATEGORIES, case_names=None, rater_names=None) -> list[Rating]:
    case_names = case_names or [f"case{i}" for i in range(len(table))]
    rater_names = rater_names or [f"rater{j}" for j in range(len(table[0]))]
    return [
        Rating(case_names[i], rater_names[j], labels[cell])
        for i, row in enumerate(table)
        for j, cell in enumerate(row)
        if cell >= 0
    ]


def value_counts(table) -> np.ndarray:
    counts = np.zeros((len(table), len(CATEGORIES)))
    for i, row in enumerate(table):
        for cell in row:
            if cell >= 0:
                counts[i, cell] += 1
    return counts


def has_variation(counts: np.ndarray) -> bool:
    """Alpha is defined: some case has two labels and two labels occur on such cases."""
    pairable = counts[counts.sum(1) >= 2]
    return bool((pairable.sum(0) > 0).sum() >= 2)


def alpha_of(ratings, level="nominal", categories=CATEGORIES):
    return compute_report(ratings, categories=categories, level=level, bootstrap=0).alpha


@FAST
@given(rating_tables(), st.permutations(range(len(CATEGORIES))))
def test_nominal_alpha_is_unchanged_by_relabelling(table, permutation):
    assume(has_variation(value_counts(table)))
    renamed = [CATEGORIES[p] for p in permutation]

    original = alpha_of(to_ratings(table))
    relabelled = alpha_of(to_ratings(table, labels=renamed))

    assert relabelled == pytest.approx(original, abs=1e-12)


@FAST
@given(rating_tables(), st.randoms(use_true_random=False), st.sampled_from(LEVELS))
def test_alpha_is_unchanged_by_permuting_raters(table, random, level):
    assume(has_variation(value_counts(table)))
    ratings = to_ratings(table)
    rater_names = [f"rater{j}" for j in range(len(table[0]))]
    shuffled_names = rater_names[:]
    random.shuffle(shuffled_names)
    shuffled = to_ratings(table, rater_names=shuffled_names)
    random.shuffle(shuffled)

    assert alpha_of(shuffled, level) == pytest.approx(alpha_of(ratings, level), abs=1e-12)


@FAST
@given(rating_tables(), st.randoms(use_true_random=False), st.sampled_from(LEVELS))
def test_alpha_is_unchanged_by_permuting_cases(table, random, level):
    assume(has_variation(value_counts(table)))
    shuffled_table = table[:]
    random.shuffle(shuffled_table)

    assert alpha_of(to_ratings(shuffled_table), level) == pytest.approx(
        alpha_of(to_ratings(table), level), abs=1e-12
    )


@FAST
@given(
    st.lists(st.integers(0, len(CATEGORIES) - 1), min_size=2, max_size=15),
    st.integers(2, 5),
    st.sampled_from(LEVELS),
    st.data(),
)
def test_perfect_agreement_with_variation_gives_alpha_one(truth, n_raters, level, data):
    assume(len(set(truth)) >= 2)
    # Every case gets its true label from at least two raters, the others may skip it.
    table = [
        [label if j < 2 or data.draw(st.booleans()) else -1 for j in range(n_raters)]
        for label in truth
    ]

    report = compute_report(to_ratings(table), categories=CATEGORIES, level=level, bootstrap=0)

    assert report.alpha == pytest.approx(1.0, abs=1e-12)
    assert report.percent_agreement == 1.0


@FAST
@given(rating_tables(min_cases=3), st.sampled_from(LEVELS), st.integers(0, 2**32 - 1))
def test_vectorised_bootstrap_equals_the_krippendorff_loop(table, level, seed):
    counts = value_counts(table)
    values = label_values(CATEGORIES, level)
    indices = np.random.default_rng(seed).integers(0, len(counts), size=(8, len(counts)))

    vectorised = bootstrap_alphas(counts, indices, values=values, level=level)

    for resample, alpha in zip(indices, vectorised, strict=True):
        resampled = counts[resample]
        if not has_variation(resampled):
            assert np.isnan(alpha)
            continue
        expected = krippendorff.alpha(
            value_counts=resampled.astype(int), value_domain=values, level_of_measurement=level
        )
        assert alpha == pytest.approx(expected, abs=1e-9)


@FAST
@given(rating_tables(), st.sampled_from(LEVELS))
def test_coincidence_alpha_equals_the_krippendorff_package(table, level):
    counts = value_counts(table)
    assume(has_variation(counts))
    values = label_values(CATEGORIES, level)

    expected = krippendorff.alpha(
        value_counts=counts.astype(int), value_domain=values, level_of_measurement=level
    )

    assert coincidence_alpha(counts, values=values, level=level) == pytest.approx(
        expected, abs=1e-9
    )
    assert alpha_of(to_ratings(table), level) == pytest.approx(expected, abs=1e-9)
