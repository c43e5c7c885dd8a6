"""The agreement engine: published values, hand-checked figures, degenerate input, flags."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import krippendorff
import numpy as np
import pytest

from calibration.agreement import (
    LEVELS,
    AgreementInputError,
    AgreementReport,
    Rating,
    bootstrap_alphas,
    coincidence_alpha,
    compute_report,
    label_values,
    resample_indices,
    resampled_alphas,
)
from calibration.evidence import bca_interval

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the example with
# 4 coders (A-D) x 12 units and missing values; unit 12 has a single value.
KRIPPENDORFF_2011 = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
}
KRIPPENDORFF_2011_LABELS = ["1", "2", "3", "4", "5"]
PUBLISHED_2011 = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}


def ratings_from_columns(columns: dict[str, list[object]]) -> list[Rating]:
    """Ratings from {rater: [label of case 1, case 2, ...]}, None meaning not labelled."""
    return [
        Rating(str(case), rater, str(label))
        for rater, labels in columns.items()
        for case, label in enumerate(labels, start=1)
        if label is not None
    ]


def report_2011(level: str, **options: object) -> AgreementReport:
    return compute_report(
        ratings_from_columns(KRIPPENDORFF_2011),
        categories=KRIPPENDORFF_2011_LABELS,
        level=level,
        seed=7,
        **options,
    )


def random_ratings(
    n_cases: int,
    n_raters: int,
    n_labels: int,
    seed: int,
    missing: float = 0.2,
    faithful: float = 0.7,
) -> list[Rating]:
    """Raters who give a hidden true label with probability ``faithful`` (else any label),
    with a share ``missing`` of labels left out."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_labels, n_cases)
    ratings = []
    for case in range(n_cases):
        for rater in range(n_raters):
            if rng.random() < missing:
                continue
            label = truth[case] if rng.random() < faithful else rng.integers(0, n_labels)
            ratings.append(Rating(f"case{case}", f"rater{rater}", str(label + 1)))
    return ratings


def value_counts_of(ratings: list[Rating], categories: list[str]) -> np.ndarray:
    """Cases (in order of first appearance) x labels counts, as the engine builds them."""
    cases = list(dict.fromkeys(r.case for r in ratings))
    counts = np.zeros((len(cases), len(categories)))
    for rating in ratings:
        counts[cases.index(rating.case), categories.index(rating.label)] += 1
    return counts


def reliability_data(ratings: list[Rating], categories: list[str], level: str) -> np.ndarray:
    """Raters x cases matrix of label values with NaN for missing, for krippendorff.alpha."""
    values = label_values(categories, level)
    cases = list(dict.fromkeys(r.case for r in ratings))
    raters = list(dict.fromkeys(r.rater for r in ratings))
    data = np.full((len(raters), len(cases)), np.nan)
    for rating in ratings:
        data[raters.index(rating.rater), cases.index(rating.case)] = values[
            categories.index(rating.label)
        ]
    return data


def package_alpha(ratings: list[Rating], categories: list[str], level: str) -> float:
    return krippendorff.alpha(
        reliability_data=reliability_data(ratings, categories, level),
        value_domain=label_values(categories, level),
        level_of_measurement=level,
    )


def flags_of(report: AgreementReport, kind: str) -> list:
    return [flag for flag in report.flags if flag.kind == kind]


# --- Alpha -------------------------------------------------------------------------------


@pytest.mark.parametrize(("level", "published"), PUBLISHED_2011.items())
def test_alpha_matches_krippendorff_2011_published_values(level, published):
    assert round(report_2011(level).alpha, 3) == published


def test_krippendorff_2011_unit_with_one_value_is_left_out_and_noted():
    report = report_2011("nominal")

    assert report.n_items == 12
    assert report.n_pairable_items == 11
    assert any(
        note.startswith("1 case(s) have a label from only one rater") for note in report.notes
    )


@pytest.mark.parametrize("level", LEVELS)
def test_coincidence_alpha_equals_krippendorff_package_at_every_level(level):
    categories = ["1", "2", "3", "4", "5"]
    ratings = random_ratings(60, 6, 5, seed=3)

    ours = coincidence_alpha(
        value_counts_of(ratings, categories),
        values=label_values(categories, level),
        level=level,
    )
    report = compute_report(ratings, categories=categories, level=level, bootstrap=0)

    assert ours == pytest.approx(package_alpha(ratings, categories, level), abs=1e-9)
    assert report.alpha == pytest.approx(ours, abs=1e-9)


@pytest.mark.parametrize("n_cases", [40, 300])  # both ways of counting resampled cases
@pytest.mark.parametrize("level", LEVELS)
def test_vectorised_bootstrap_equals_krippendorff_loop_for_the_same_resamples(level, n_cases):
    categories = ["1", "2", "3", "4"]
    counts = value_counts_of(random_ratings(n_cases, 5, 4, seed=11), categories)
    values = label_values(categories, level)
    indices = resample_indices(len(counts), 30, seed=5)

    vectorised = bootstrap_alphas(counts, indices, values=values, level=level)
    loop = [
        krippendorff.alpha(
            value_counts=counts[resample].astype(int),
            value_domain=values,
            level_of_measurement=level,
        )
        for resample in indices
    ]

    np.testing.assert_allclose(vectorised, loop, rtol=0, atol=1e-9)


def test_interval_is_the_bca_interval_of_the_seeded_resamples():
    categories = ["1", "2", "3"]
    ratings = random_ratings(50, 4, 3, seed=2, missing=0.0)
    report = compute_report(ratings, categories=categories, bootstrap=300, seed=42)

    counts = value_counts_of(ratings, categories)
    values = label_values(categories, "nominal")
    alphas = bootstrap_alphas(
        counts, resample_indices(len(counts), 300, seed=42), values=values, level="nominal"
    )
    jackknife = np.array(
        [
            coincidence_alpha(np.delete(counts, case, axis=0), values=values, level="nominal")
            for case in range(len(counts))
        ]
    )
    expected = bca_interval(report.alpha, alphas, jackknife)

    assert report.interval_method == "bca"
    assert report.alpha_ci == pytest.approx(expected, abs=1e-9)
    assert report.alpha_ci[0] <= report.alpha <= report.alpha_ci[1]
    assert report.p_below_threshold == pytest.approx(float((alphas < 0.667).mean()))


def test_interval_is_withheld_below_thirty_shared_cases_and_says_so():
    report = compute_report(
        random_ratings(29, 3, 3, seed=4, missing=0.0), categories=["1", "2", "3"], seed=1
    )

    assert report.alpha is not None
    assert report.alpha_ci is None and report.p_below_threshold is None
    assert any("No interval is given for alpha: only 29 cases" in note for note in report.notes)


def test_chunked_resampling_draws_the_same_resamples_as_resample_indices():
    categories = ["1", "2", "3"]
    counts = value_counts_of(random_ratings(30, 4, 3, seed=6), categories)
    values = label_values(categories, "ordinal")

    chunked = resampled_alphas(counts, n_resamples=250, seed=9, values=values, level="ordinal")
    explicit = bootstrap_alphas(
        counts, resample_indices(len(counts), 250, seed=9), values=values, level="ordinal"
    )

    np.testing.assert_allclose(chunked, explicit, rtol=0, atol=1e-12)


def test_same_seed_gives_the_same_interval_and_another_seed_a_different_one():
    ratings = random_ratings(50, 4, 3, seed=2)
    first = compute_report(ratings, categories=["1", "2", "3"], bootstrap=200, seed=1)
    again = compute_report(ratings, categories=["1", "2", "3"], bootstrap=200, seed=1)
    other = compute_report(ratings, categories=["1", "2", "3"], bootstrap=200, seed=2)

    assert first.alpha_ci == again.alpha_ci
    assert first.alpha_ci != other.alpha_ci


def test_bootstrap_zero_gives_no_interval_and_says_so():
    report = report_2011("nominal", bootstrap=0)

    assert report.alpha_ci is None
    assert "The bootstrap was turned off, so no interval is given for alpha." in report.notes


# --- Other coefficients, hand-checked ----------------------------------------------------

# Three cases, labels a/b: {a, a, a}, {a, a, b}, {a, b}.
#   percent agreement: mean(1, 1/3, 0) = 4/9
#   pi_a = mean(3/3, 2/3, 1/2) = 13/18, pi_b = 5/18
#   Fleiss: chance = (13/18)^2 + (5/18)^2 = 97/162, kappa = (4/9 - 97/162) / (65/162) = -5/13
#   AC1: chance = 2 * (13/18)(5/18) / (2 - 1) = 65/162, AC1 = (72 - 65) / (162 - 65) = 7/97
SMALL = [
    Rating("1", "x", "a"),
    Rating("1", "y", "a"),
    Rating("1", "z", "a"),
    Rating("2", "x", "a"),
    Rating("2", "y", "a"),
    Rating("2", "z", "b"),
    Rating("3", "x", "a"),
    Rating("3", "y", "b"),
]


def test_percent_agreement_is_the_mean_share_of_agreeing_pairs_per_case():
    report = compute_report(SMALL, categories=["a", "b"], bootstrap=0)

    assert report.percent_agreement == pytest.approx(float(Fraction(4, 9)))


def test_fleiss_kappa_with_varying_raters_per_case_matches_hand_calculation():
    report = compute_report(SMALL, categories=["a", "b"], bootstrap=0)

    assert report.fleiss_kappa == pytest.approx(float(Fraction(-5, 13)))


def test_gwet_ac1_with_missing_ratings_matches_hand_calculation():
    report = compute_report(SMALL, categories=["a", "b"], bootstrap=0)

    assert report.gwet_ac1 == pytest.approx(float(Fraction(7, 97)))


def test_cohen_kappa_per_pair_matches_hand_calculation_and_skips_pairs_with_few_cases():
    # A and B share 6 cases: 2 (a,a), 1 (a,b), 2 (b,b), 1 (b,a): observed 4/6, chance 1/2,
    # kappa = (2/3 - 1/2) / (1/2) = 1/3. C shares only 4 cases with each of them.
    ratings = ratings_from_columns(
        {
            "A": ["a", "a", "b", "b", "a", "b"],
            "B": ["a", "b", "b", "b", "a", "a"],
            "C": ["a", "a", "b", "b", None, None],
        }
    )
    report = compute_report(ratings, categories=["a", "b"], bootstrap=0)

    assert [(p.rater_a, p.rater_b, p.n) for p in report.cohen_kappa] == [("A", "B", 6)]
    assert report.cohen_kappa[0].kappa == pytest.approx(1 / 3)
    assert report.mean_cohen_kappa == pytest.approx(1 / 3)
    assert any("2 rater pair(s) sharing fewer than 5 cases" in note for note in report.notes)


# --- Per rater ---------------------------------------------------------------------------

GOLDEN_4 = {"1": "a", "2": "a", "3": "b", "4": "b"}
RATERS_4 = {
    "perfect": ["a", "a", "b", "b"],
    "half": ["a", "b", "b", "a"],
    "three_quarters": ["a", "a", "b", "a"],
}


def test_rater_agreement_accuracy_and_kappa_against_golden_match_hand_calculation():
    report = compute_report(
        ratings_from_columns(RATERS_4), categories=["a", "b"], golden=GOLDEN_4, bootstrap=0
    )
    perfect, half, three_quarters = (report.rater(name) for name in RATERS_4)

    # "perfect" agrees with 2 of 2 others on cases 1 and 3, 1 of 2 on case 2, 0 on case 4.
    assert perfect.agreement == pytest.approx(5 / 8)
    assert (perfect.accuracy, perfect.kappa_vs_golden) == (1.0, 1.0)
    # half: observed 1/2 and chance 1/2 against golden, so kappa 0.
    assert half.accuracy == 0.5
    assert half.kappa_vs_golden == pytest.approx(0.0)
    # three_quarters: observed 3/4; marginals rater a3 b1, golden a2 b2: chance 1/2.
    assert three_quarters.accuracy == 0.75
    assert three_quarters.kappa_vs_golden == pytest.approx(0.5)
    assert [r.n for r in report.raters] == [4, 4, 4]


def test_alpha_without_a_rater_equals_krippendorff_on_the_data_without_them():
    categories = ["1", "2", "3"]
    ratings = random_ratings(40, 5, 3, seed=8)
    report = compute_report(ratings, categories=categories, bootstrap=0)

    for figures in report.raters:
        others = [r for r in ratings if r.rater != figures.rater]
        expected = package_alpha(others, categories, "nominal")
        assert figures.alpha_without == pytest.approx(expected, abs=1e-9)
        assert figures.loo_delta == pytest.approx(expected - report.alpha, abs=1e-9)


def test_ordinal_alpha_without_a_rater_equals_krippendorff():
    report = report_2011("ordinal")
    ratings = ratings_from_columns(KRIPPENDORFF_2011)

    for figures in report.raters:
        others = [r for r in ratings if r.rater != figures.rater]
        expected = package_alpha(others, KRIPPENDORFF_2011_LABELS, "ordinal")
        assert figures.alpha_without == pytest.approx(expected, abs=1e-9)


def test_raters_are_listed_with_the_one_pulling_alpha_down_most_first():
    report = report_2011("nominal")

    deltas = [r.loo_delta for r in report.raters]
    assert deltas == sorted(deltas, reverse=True)
    assert report.raters[0].rater == "C"


def test_simulated_raters_with_known_accuracy_rank_as_expected():
    rng = np.random.default_rng(20)
    categories = ["ok", "spam", "abuse", "fraud"]
    accuracies = {"careful": 0.97, "good": 0.88, "shaky": 0.7, "guessing": 0.4}
    golden = {f"case{i}": categories[rng.integers(0, 4)] for i in range(400)}
    ratings = []
    for case, expected in golden.items():
        for rater, accuracy in accuracies.items():
            wrong = [c for c in categories if c != expected]
            label = expected if rng.random() < accuracy else wrong[rng.integers(0, 3)]
            ratings.append(Rating(case, rater, label))

    report = compute_report(ratings, categories=categories, golden=golden, bootstrap=200, seed=1)

    by_accuracy = sorted(report.raters, key=lambda r: r.accuracy, reverse=True)
    assert [r.rater for r in by_accuracy] == list(accuracies)
    for figures in report.raters:
        assert figures.accuracy == pytest.approx(accuracies[figures.rater], abs=0.06)
    assert report.raters[0].rater == "guessing"
    assert report.raters[0].loo_delta > 0.05
    flagged = {f.subject for f in report.flags if f.kind == "low_accuracy"}
    assert flagged == {"good", "shaky", "guessing"}
    assert "careful" not in {f.subject for f in report.flags}
    # Pulling agreement down is the same cause as missing golden: one flag per rater.
    assert flags_of(report, "pulls_down_agreement") == []
    guessing = next(f for f in flags_of(report, "low_accuracy") if f.subject == "guessing")
    assert "Leaving them out also raises alpha" in guessing.message


# --- Per label ---------------------------------------------------------------------------


def test_one_versus_rest_alpha_equals_krippendorff_on_binarised_labels():
    categories = ["1", "2", "3", "4"]
    ratings = random_ratings(50, 5, 4, seed=4)
    report = compute_report(ratings, categories=categories, bootstrap=0)

    for figures in report.labels:
        binary = [
            Rating(r.case, r.rater, "yes" if r.label == figures.label else "no") for r in ratings
        ]
        expected = package_alpha(binary, ["yes", "no"], "nominal")
        assert figures.alpha_one_vs_rest == pytest.approx(expected, abs=1e-9)


def test_label_precision_recall_and_error_rates_match_hand_calculation():
    # Pooled ratings on golden cases: golden a -> a 5, b 1; golden b -> a 2, b 4.
    report = compute_report(
        ratings_from_columns(RATERS_4), categories=["a", "b"], golden=GOLDEN_4, bootstrap=0
    )
    label_a, label_b = report.labels

    assert report.confusion == [[5, 1], [2, 4]]
    assert (label_a.support, label_a.n_golden) == (7, 2)
    assert label_a.precision == pytest.approx(5 / 7)
    assert label_a.recall == pytest.approx(5 / 6)
    assert label_a.f1 == pytest.approx(10 / 13)
    assert label_a.fpr == pytest.approx(2 / 6)
    assert label_a.fnr == pytest.approx(1 / 6)
    assert label_b.precision == pytest.approx(4 / 5)
    assert label_b.recall == pytest.approx(4 / 6)
    assert label_b.f1 == pytest.approx(8 / 11)
    assert label_b.fpr == pytest.approx(1 / 6)
    assert label_b.fnr == pytest.approx(2 / 6)


def test_label_figures_on_six_cases_are_too_thin_to_flag():
    report = compute_report(
        ratings_from_columns(RATERS_4), categories=["a", "b"], golden=GOLDEN_4, bootstrap=0
    )

    assert flags_of(report, "low_recall") == flags_of(report, "label_misaligned") == []


def test_label_read_inconsistently_is_flagged_with_its_interval():
    rng = np.random.default_rng(5)
    golden = {f"c{case}": "abc"[case % 3] for case in range(150)}
    ratings = []
    for case, answer in golden.items():
        for rater in range(4):
            label = answer
            if answer == "c" and rng.random() < 0.45:
                label = "ab"[rng.integers(2)]
            ratings.append(Rating(case, f"r{rater}", label))

    report = compute_report(ratings, categories=list("abc"), golden=golden, seed=2)

    (misaligned,) = flags_of(report, "label_misaligned")
    assert misaligned.subject == "c" and misaligned.severity == "high"
    assert misaligned.interval[1] < 0.667 and misaligned.n == 150
    (recall,) = flags_of(report, "low_recall")
    assert recall.subject == "c" and recall.interval[1] < 0.9


# --- Per vendor and site -----------------------------------------------------------------

# Vendor X is x1, x2; vendor Y is y1, y2. Case 1: both sides say a. Case 2: X says a, Y b.
# Case 3: X is split a/b (a tie: no majority), Y says b.
VENDOR_COLUMNS = {
    "x1": ["a", "a", "a"],
    "x2": ["a", "a", "b"],
    "y1": ["a", "b", "b"],
    "y2": ["a", "b", "b"],
}
VENDORS = {"x1": "X", "x2": "X", "y1": "Y", "y2": "Y"}
SITES = {"x1": "Manila", "x2": "Manila", "y1": "Lisbon", "y2": "Lisbon"}


def vendor_report() -> AgreementReport:
    return compute_report(
        ratings_from_columns(VENDOR_COLUMNS),
        categories=["a", "b"],
        golden={"1": "a", "2": "a", "3": "b"},
        rater_groups=VENDORS,
        rater_sites=SITES,
        bootstrap=200,
        seed=3,
    )


def test_group_majority_deviation_counts_cases_where_majorities_differ_ignoring_ties():
    report = vendor_report()
    x, y = report.group("X"), report.group("Y")

    assert (x.n_raters, x.n_items) == (2, 3)
    # Each vendor is compared on cases 1 and 2 (case 3 has X tied) and differs on case 2.
    assert x.majority_deviation == 0.5
    assert y.majority_deviation == 0.5
    assert any("a tie counts as no majority" in n and "(X: 1, Y: 1)" in n for n in report.notes)


def test_group_alpha_and_accuracy_are_computed_on_the_groups_own_raters():
    report = vendor_report()
    ratings = ratings_from_columns(VENDOR_COLUMNS)
    x, y = report.group("X"), report.group("Y")

    x_only = [r for r in ratings if VENDORS[r.rater] == "X"]
    assert x.alpha == pytest.approx(package_alpha(x_only, ["a", "b"], "nominal"), abs=1e-9)
    assert x.accuracy == pytest.approx(5 / 6)
    assert y.accuracy == pytest.approx(4 / 6)
    # Y always agrees within itself but used both labels, so its alpha is 1.
    assert y.alpha == 1.0
    assert y.percent_agreement == 1.0


def test_sites_carry_the_same_figures_as_vendors_for_the_readiness_gate():
    report = vendor_report()

    manila, lisbon = report.site("Manila"), report.site("Lisbon")
    x, y = report.group("X"), report.group("Y")
    assert [s.site for s in report.sites] == ["Lisbon", "Manila"]
    for site, vendor in ((manila, x), (lisbon, y)):
        assert (site.alpha, site.accuracy, site.majority_deviation) == (
            vendor.alpha,
            vendor.accuracy,
            vendor.majority_deviation,
        )
        assert site.alpha_ci == vendor.alpha_ci
    assert report.site("Nowhere") is None


def test_one_rater_site_has_no_alpha_and_no_interval():
    report = compute_report(
        ratings_from_columns(KRIPPENDORFF_2011),
        categories=KRIPPENDORFF_2011_LABELS,
        rater_sites={"A": "solo", "B": "pair", "C": "pair"},
        seed=1,
    )

    solo = report.site("solo")
    assert (solo.alpha, solo.alpha_ci, solo.percent_agreement) == (None, None, None)
    assert solo.evidence == "insufficient" and "has one rater" in solo.evidence_missing[0]
    # Ten shared cases are too few for an honest interval.
    assert report.site("pair").alpha is not None and report.site("pair").alpha_ci is None


# --- Per case ----------------------------------------------------------------------------


def test_cases_are_listed_most_contested_first_with_majority_share_and_entropy():
    ratings = ratings_from_columns(
        {"r1": ["a", "a", "a"], "r2": ["a", "a", "b"], "r3": ["a", "b", "c"]}
    )
    report = compute_report(ratings, categories=["a", "b", "c"], golden={"2": "a"}, bootstrap=0)

    split, lean, agreed = report.items
    assert (split.item, split.majority, split.majority_share) == ("3", None, pytest.approx(1 / 3))
    assert split.entropy == pytest.approx(1.0)
    assert split.labels == {"a": 1, "b": 1, "c": 1}
    assert (lean.item, lean.majority, lean.golden) == ("2", "a", "a")
    expected = -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3)) / math.log(3)
    assert lean.entropy == pytest.approx(expected)
    assert (agreed.item, agreed.n, agreed.majority_share, agreed.entropy) == ("1", 3, 1.0, 0.0)


# --- Flags -------------------------------------------------------------------------------


def test_alpha_below_0667_is_flagged_misaligned_with_high_severity():
    noisy = random_ratings(60, 4, 4, seed=9, missing=0.0, faithful=0.3)
    report = compute_report(noisy, categories=["1", "2", "3", "4"], seed=1)

    assert report.alpha < 0.667
    (flag,) = [f for f in report.flags if f.scope == "session" and f.kind == "misaligned"]
    assert (flag.severity, flag.threshold, flag.value) == ("high", 0.667, report.alpha)
    assert flag.interval == report.alpha_ci and flag.n == 60
    assert "below 0.667" in flag.message


def test_alpha_between_0667_and_0800_is_flagged_tentative():
    ratings = random_ratings(300, 4, 3, seed=3, missing=0.0, faithful=0.85)
    report = compute_report(ratings, categories=["1", "2", "3"], seed=1)

    (flag,) = [f for f in report.flags if f.kind == "tentative"]
    assert (flag.scope, flag.severity, flag.threshold) == ("session", "medium", 0.8)
    assert flag.interval[1] < 0.8


def test_alpha_below_the_threshold_whose_interval_reaches_above_it_is_only_a_low_note():
    ratings = random_ratings(300, 4, 3, seed=3, missing=0.0, faithful=0.8)
    report = compute_report(ratings, categories=["1", "2", "3"], seed=1)

    assert report.alpha < 0.667 < report.alpha_ci[1]
    (flag,) = report.flags
    assert (flag.kind, flag.severity) == ("not_enough_evidence", "low")


def test_rater_who_pulls_agreement_down_is_flagged():
    rng = np.random.default_rng(8)
    truth = rng.integers(0, 3, 120)
    ratings = [
        Rating(str(case), rater, "abc"[truth[case] if rng.random() < accuracy else rng.integers(3)])
        for case in range(120)
        for rater, accuracy in (("p", 0.95), ("q", 0.95), ("r", 0.95), ("s", 0.95), ("C", 0.2))
    ]
    report = compute_report(ratings, categories=list("abc"), seed=3)

    (flag,) = flags_of(report, "pulls_down_agreement")
    assert flag.subject == "C"
    assert flag.value == pytest.approx(report.rater("C").loo_delta)
    assert flag.interval == report.rater("C").loo_delta_ci and flag.interval[0] > 0


def test_too_few_cases_flag_says_how_many_more_are_needed():
    report = report_2011("nominal")

    (flag,) = flags_of(report, "too_few_cases")
    assert flag.severity == "low"
    assert flag.value == 11
    assert flag.threshold > 11
    assert f"about {flag.threshold - 11} more" in flag.message


def test_flags_are_ordered_most_severe_first():
    report = report_2011("nominal")

    order = ["high", "medium", "low"]
    assert [order.index(f.severity) for f in report.flags] == sorted(
        order.index(f.severity) for f in report.flags
    )


def test_vendor_below_accuracy_target_on_three_cases_only_gets_an_evidence_note():
    report = vendor_report()

    assert flags_of(report, "low_accuracy") == []
    noted = {(f.scope, f.subject) for f in flags_of(report, "not_enough_evidence")}
    # Each vendor is one site here; the site (which the gate reads) carries the note.
    assert noted == {("site", "Manila"), ("site", "Lisbon")}


# --- Degenerate input --------------------------------------------------------------------


def test_no_variation_gives_null_alpha_full_agreement_and_a_note():
    ratings = ratings_from_columns({"r1": ["a", "a", "a"], "r2": ["a", "a", "a"]})
    report = compute_report(ratings, categories=["a", "b"], seed=1)

    assert report.alpha is None
    assert report.alpha_ci is None
    assert report.percent_agreement == 1.0
    assert report.fleiss_kappa is None
    assert report.gwet_ac1 == 1.0
    assert any(
        "no variation" in note and "percent agreement is 1.0" in note for note in report.notes
    )
    assert any("Fleiss' kappa is undefined" in note for note in report.notes)
    assert not [f for f in report.flags if f.scope == "session"]
    assert all(r.alpha_without is None and r.loo_delta is None for r in report.raters)


def test_single_label_domain_gives_defined_answers():
    ratings = ratings_from_columns({"r1": ["a", "a"], "r2": ["a", "a"]})
    report = compute_report(ratings, categories=["a"], seed=1)

    assert (report.alpha, report.gwet_ac1, report.percent_agreement) == (None, None, 1.0)
    assert "Gwet's AC1 is undefined: the label domain has a single label." in report.notes


def test_single_rater_gives_null_agreement_and_a_note():
    ratings = ratings_from_columns({"only": ["a", "b", "a"]})
    report = compute_report(ratings, categories=["a", "b"], seed=1)

    assert report.n_raters == 1
    assert report.n_pairable_items == 0
    assert (report.alpha, report.alpha_ci, report.percent_agreement) == (None, None, None)
    assert (report.fleiss_kappa, report.gwet_ac1, report.mean_cohen_kappa) == (None, None, None)
    assert report.cohen_kappa == []
    assert "Only one rater labelled these cases, so there is no one to agree with." in report.notes
    assert any("no case has labels from two raters" in note for note in report.notes)


def test_cases_with_one_label_are_left_out_of_pairable_counts_and_counted_in_a_note():
    ratings = ratings_from_columns(
        {"r1": ["a", "b", "a", "b", "a"], "r2": ["a", "b", "b", None, None]}
    )
    with_singles = compute_report(ratings, categories=["a", "b"], bootstrap=0)
    pairs_only = compute_report(
        [r for r in ratings if r.case in {"1", "2", "3"}], categories=["a", "b"], bootstrap=0
    )

    assert (with_singles.n_items, with_singles.n_pairable_items) == (5, 3)
    assert with_singles.alpha == pairs_only.alpha
    assert with_singles.percent_agreement == pairs_only.percent_agreement
    assert any(
        note.startswith("2 case(s) have a label from only one rater") for note in with_singles.notes
    )


def test_without_golden_golden_figures_are_null_and_noted():
    report = report_2011("nominal")

    assert report.confusion is None
    assert all(r.accuracy is None and r.kappa_vs_golden is None for r in report.raters)
    assert all(x.precision is None and x.recall is None and x.fnr is None for x in report.labels)
    assert any(note.startswith("No golden labels were given") for note in report.notes)


def test_undefined_figures_are_null_never_nan():
    reports = [
        compute_report(
            ratings_from_columns({"r1": ["a", "a"], "r2": ["a", "a"]}), categories=["a", "b"]
        ),
        compute_report(ratings_from_columns({"only": ["a", "b"]}), categories=["a", "b"]),
        vendor_report(),
    ]

    def numbers(value):
        if isinstance(value, dict):
            for item in value.values():
                yield from numbers(item)
        elif isinstance(value, list):
            for item in value:
                yield from numbers(item)
        elif isinstance(value, float):
            yield value

    for report in reports:
        assert all(math.isfinite(number) for number in numbers(report.to_dict()))
        json.dumps(report.to_dict(), allow_nan=False)


def test_empty_input_is_an_error():
    with pytest.raises(AgreementInputError, match="no ratings"):
        compute_report([], categories=["a", "b"])


def test_unknown_label_is_an_error():
    with pytest.raises(AgreementInputError, match="labels not in the domain"):
        compute_report([Rating("1", "r1", "maybe")], categories=["a", "b"])


def test_unknown_golden_label_is_an_error():
    with pytest.raises(AgreementInputError, match="golden labels not in the domain"):
        compute_report(SMALL, categories=["a", "b"], golden={"1": "c"})


def test_rater_labelling_a_case_twice_is_an_error():
    with pytest.raises(AgreementInputError, match="'x' labelled case '1' more than once"):
        compute_report([*SMALL, Rating("1", "x", "b")], categories=["a", "b"])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"level": "circular"}, "level must be one of"),
        ({"level": "interval", "categories": ["low", "high"]}, "'low' is not a number"),
        ({"categories": ["a", "b", "a"]}, "labels appear twice"),
        ({"categories": []}, "is empty"),
        ({"bootstrap": -1}, "bootstrap must be 0 or more"),
    ],
)
def test_invalid_options_are_errors(options, message):
    arguments = {"categories": ["a", "b"], **options}
    with pytest.raises(AgreementInputError, match=message):
        compute_report(SMALL, **arguments)


# --- The report as data ------------------------------------------------------------------


def test_report_round_trips_through_json():
    report = vendor_report()

    stored = json.loads(json.dumps(report.to_dict()))

    assert stored == report.to_dict()
    assert AgreementReport.from_dict(stored) == report


def test_report_dict_has_the_documented_keys():
    data = vendor_report().to_dict()

    assert {
        "n_items",
        "n_raters",
        "n_labels",
        "level",
        "categories",
        "alpha",
        "alpha_ci",
        "percent_agreement",
        "fleiss_kappa",
        "gwet_ac1",
        "mean_cohen_kappa",
        "cohen_kappa",
        "raters",
        "labels",
        "confusion",
        "groups",
        "items",
        "flags",
        "notes",
    } <= data.keys()
    assert {
        "rater",
        "group",
        "n",
        "agreement",
        "accuracy",
        "kappa_vs_golden",
        "alpha_without",
        "loo_delta",
    } <= data["raters"][0].keys()
    assert {
        "label",
        "support",
        "alpha_one_vs_rest",
        "precision",
        "recall",
        "f1",
        "fpr",
        "fnr",
    } <= data["labels"][0].keys()
    assert {"group", "n_raters", "alpha", "accuracy", "majority_deviation"} <= data["groups"][
        0
    ].keys()
    assert {"site", "n_raters", "alpha", "alpha_ci", "accuracy"} <= data["sites"][0].keys()
    assert {"item", "n", "majority", "majority_share", "entropy"} <= data["items"][0].keys()
    assert {"scope", "subject", "kind", "severity", "value", "threshold", "message"} <= data[
        "flags"
    ][0].keys()
