"""The AI-rater evaluation (calibration/model_eval.py), on planted models and humans."""

import random

import pytest

from calibration.model_eval import (
    LabelOption,
    Share,
    TrendPoint,
    compare_versions,
    error_profile,
    evaluate_version,
    mcnemar_p,
    model_gate,
    version_trend,
)

OPTIONS = [
    LabelOption("allow", "Allow", severity=0.0, enforcement=0),
    LabelOption("restrict", "Age-restrict", severity=1.0, enforcement=1),
    LabelOption("remove", "Remove", severity=3.0, enforcement=2),
]
KEYS = [option.key for option in OPTIONS]


def _golden(n=240):
    # Equal thirds, so every label has plenty of golden cases.
    return {f"C{i:03d}": KEYS[i % 3] for i in range(n)}


def _labeller(golden, accuracy, seed, *, miss=None):
    """Labels right with ``accuracy``, else another label; ``miss`` = {golden: (rate, given)}."""
    rng = random.Random(seed)
    labels = {}
    for case, answer in golden.items():
        if miss and answer in miss and rng.random() < miss[answer][0]:
            labels[case] = miss[answer][1]
        elif rng.random() < accuracy:
            labels[case] = answer
        else:
            labels[case] = rng.choice([key for key in KEYS if key != answer])
    return labels


def _humans(golden):
    return {f"QA {i}": _labeller(golden, 0.9, seed=i) for i in range(5)}


def test_a_model_that_labels_like_the_humans_is_inside_the_band():
    golden = _golden()
    humans = _humans(golden)
    model = _labeller(golden, 0.9, seed=99)

    evaluation = evaluate_version("Guard 1", model, humans, golden, OPTIONS)

    assert evaluation.verdict_golden.key == "inside"
    assert evaluation.verdict_golden.text == "Inside the human band"
    assert evaluation.verdict_majority.key == "inside"
    assert evaluation.band_golden.n_humans == 5
    low, high = evaluation.golden.interval
    assert low < evaluation.band_golden.median < high
    assert all(human.calibrated for human in evaluation.humans)


def test_a_model_that_misses_a_high_severity_label_is_below_the_weakest_human():
    golden = _golden()
    humans = _humans(golden)
    model = _labeller(golden, 0.95, seed=7, miss={"remove": (0.6, "allow")})

    evaluation = evaluate_version("Guard 1", model, humans, golden, OPTIONS)

    assert evaluation.verdict_golden.key == "below"
    assert evaluation.verdict_golden.reason.startswith("It agrees with golden on")
    remove = evaluation.errors.label("remove")
    assert remove.fnr.value > 0.5 and remove.fnr.interval[0] > 0.4
    # The misses are "allow" for "remove": under-enforcement, weighted by remove's harm.
    assert evaluation.errors.under.hits > evaluation.errors.over.hits
    assert evaluation.errors.under_weighted > evaluation.errors.over_weighted

    gate = model_gate(evaluation, min_severity=2.0, fnr_target=0.10)
    assert not gate.passes
    assert [check.label for check in gate.checks if not check.passes] == ["remove", None]
    assert gate.reasons[0].startswith("Remove: misses")


def test_a_model_better_than_every_human_is_above_the_median_and_passes_the_gate():
    golden = _golden()
    model = _labeller(golden, 0.99, seed=3)

    evaluation = evaluate_version("Guard 2", model, _humans(golden), golden, OPTIONS)

    assert evaluation.verdict_golden.key == "above"
    gate = model_gate(evaluation, min_severity=2.0, fnr_target=0.10)
    assert gate.passes, gate.reasons


def test_a_newer_version_better_on_one_label_and_worse_on_another_is_named_per_label():
    golden = _golden()
    older = _labeller(golden, 0.97, seed=11, miss={"restrict": (0.5, "allow")})
    newer = _labeller(golden, 0.97, seed=12, miss={"remove": (0.5, "restrict")})

    comparison = compare_versions("1.0", older, "2.0", newer, golden, OPTIONS)

    by_label = {entry.label: entry for entry in comparison.labels}
    assert by_label["restrict"].fnr_change == "better"
    assert by_label["remove"].fnr_change == "worse"
    assert by_label["remove"].fpr_change == "no clear difference"
    assert by_label["remove"].fnr_q <= 0.05
    # Overall the two trade errors: accuracy does not differ beyond chance.
    assert comparison.change == "no clear difference"
    assert comparison.differing and all(c.label_a != c.label_b for c in comparison.differing)
    newer_gate = model_gate(
        evaluate_version("2.0", newer, _humans(golden), golden, OPTIONS),
        min_severity=2.0,
        fnr_target=0.10,
    )
    older_gate = model_gate(
        evaluate_version("1.0", older, _humans(golden), golden, OPTIONS),
        min_severity=2.0,
        fnr_target=0.10,
    )
    assert older_gate.passes is False  # below the weakest human overall
    assert newer_gate.passes is False
    assert "remove" in [check.label for check in newer_gate.checks if not check.passes]
    assert "remove" not in [check.label for check in older_gate.checks if not check.passes]


def test_too_few_cases_or_humans_place_nothing_and_fail_the_gate_with_what_is_missing():
    golden = dict(list(_golden().items())[:12])
    model = dict(golden)
    humans = {"QA 0": dict(golden)}

    evaluation = evaluate_version("Guard 1", model, humans, golden, OPTIONS)

    assert evaluation.verdict_golden.key == "insufficient"
    assert "at least 20" in evaluation.verdict_golden.reason
    gate = model_gate(evaluation, min_severity=2.0, fnr_target=0.10)
    assert not gate.passes
    assert "needs at least 10" in gate.reasons[0]


def test_over_and_under_enforcement_follow_the_order_of_enforcement():
    ratings = [
        ("a", "allow", "remove"),  # over, weighs remove's 3
        ("b", "remove", "allow"),  # under, weighs remove's 3
        ("c", "restrict", "allow"),  # under, weighs 1
        ("d", "restrict", "restrict"),
    ]
    profile = error_profile(ratings, OPTIONS)

    assert (profile.over.hits, profile.under.hits, profile.lateral.hits) == (1, 2, 0)
    assert profile.over_weighted == pytest.approx(3 / (4 * 3))
    assert profile.under_weighted == pytest.approx(4 / (4 * 3))
    assert profile.label("restrict").recall.value == 0.5
    assert profile.label("allow").fpr.value == pytest.approx(2 / 3)


def test_a_vendors_pooled_ratings_get_intervals_over_cases():
    golden = _golden(60)
    ratings = [
        (case, answer, label)
        for seed in range(3)
        for case, label in _labeller(golden, 0.8, seed=seed).items()
        for answer in [golden[case]]
    ]
    profile = error_profile(ratings, OPTIONS)

    assert profile.n == 180 and profile.n_cases == 60
    low, high = profile.correct.interval
    assert low < profile.correct.value < high


def test_mcnemar_exact_p_values():
    assert mcnemar_p(0, 0) is None
    assert mcnemar_p(5, 5) == 1.0
    assert mcnemar_p(0, 6) == pytest.approx(2 / 64)


def test_a_trend_moves_only_beyond_chance():
    def point(session, hits):
        return TrendPoint(session, "2.0", Share.wilson(hits, 100), "inside")

    assert version_trend([point("S1", 70), point("S2", 95)]).direction == "improving"
    assert version_trend([point("S1", 90), point("S2", 88)]).direction == "steady"
    assert version_trend([point("S1", 90)]).direction == "too few sessions"


def test_a_label_outside_the_options_is_refused():
    with pytest.raises(ValueError, match="Labels not among"):
        evaluate_version("Guard", {"C1": "delete"}, {}, {"C1": "allow"}, OPTIONS)
