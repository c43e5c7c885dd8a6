"""Flags a POM can trust: planted causes are named, honest sessions stay quiet."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.agreement import AgreementInputError, Rating, compute_report
from calibration.evidence import benjamini_hochberg, binomial_p_below, wilson_interval

LABELS = ["none", "ipr", "counterfeit", "scam", "spam", "other"]
NAMES = {"ipr": "IPR", "counterfeit": "Counterfeit"}
SHARES = [0.35, 0.15, 0.15, 0.15, 0.1, 0.1]


def planted_session(
    *, n_cases=240, vendors=4, raters_per_vendor=4, accuracy=0.95, seed=0, plant=None
):
    """Raters of ``vendors`` vendors (two sites each) label ``n_cases`` golden cases.

    Each rater gives the golden label with probability ``accuracy``, else any label.
    ``plant``: ``"vendor"`` — vendor V3 labels IPR cases as Counterfeit 80% of the time;
    ``"site"`` — site V2-S1 does; ``"guess"`` — rater V2-r1 is right 30% of the time.
    """
    rng = np.random.default_rng(seed)
    truth = rng.choice(len(LABELS), n_cases, p=SHARES)
    ratings, groups, sites = [], {}, {}
    for vendor in range(1, vendors + 1):
        for number in range(1, raters_per_vendor + 1):
            rater = f"V{vendor}-r{number}"
            groups[rater] = f"V{vendor}"
            sites[rater] = f"V{vendor}-S{1 + number % 2}"
            own = 0.3 if plant == "guess" and rater == "V2-r1" else accuracy
            for case in range(n_cases):
                label = truth[case] if rng.random() < own else rng.integers(len(LABELS))
                misreads = (plant == "vendor" and vendor == 3) or (
                    plant == "site" and sites[rater] == "V2-S1"
                )
                if misreads and truth[case] == 1 and rng.random() < 0.8:
                    label = 2
                ratings.append(Rating(f"c{case}", rater, LABELS[label]))
    golden = {f"c{case}": LABELS[truth[case]] for case in range(n_cases)}
    return compute_report(
        ratings,
        categories=LABELS,
        golden=golden,
        rater_groups=groups,
        rater_sites=sites,
        seed=seed,
        label_names=NAMES,
    )


def serious(report):
    return [f for f in report.flags if f.severity in ("high", "medium")]


def test_vendor_that_misreads_one_label_gets_a_misreads_flag_naming_the_labels():
    report = planted_session(plant="vendor")

    (flag,) = serious(report)
    assert (flag.scope, flag.subject, flag.kind) == ("group", "V3", "misreads")
    assert (flag.golden, flag.given) == ("ipr", "counterfeit")
    assert flag.share > 0.7 and flag.others_share < 0.05
    assert flag.interval[0] > flag.others_share and flag.n >= 20
    assert flag.message.startswith("Vendor V3 labels IPR cases as Counterfeit")
    assert "other vendors" in flag.message
    # The label is not blamed for everyone: its flag, if any, points at the vendor.
    for label_flag in (f for f in report.flags if f.scope == "label"):
        assert label_flag.severity == "low" and "V3" in label_flag.explained_by
    # Its raters share the vendor's cause and are not flagged one by one.
    assert not [f for f in report.flags if f.scope == "rater"]
    assert report.group("V3").confusion[1][2] > report.group("V3").confusion[1][1]


def test_one_site_that_misreads_is_named_and_its_vendor_is_explained_by_it():
    report = planted_session(plant="site")

    (flag,) = serious(report)
    assert (flag.scope, flag.subject, flag.kind) == ("site", "V2-S1", "misreads")
    assert flag.message.startswith("Site V2-S1 labels IPR cases as Counterfeit")
    assert report.group("V2").explained_by == ["V2-S1"]


def test_guessing_rater_in_a_good_vendor_carries_the_finding_not_the_vendor():
    report = planted_session(plant="guess")

    (flag,) = serious(report)
    assert (flag.scope, flag.subject, flag.kind) == ("rater", "V2-r1", "low_accuracy")
    assert flag.interval[1] < 0.9 and flag.n == 240
    assert "Leaving them out also raises alpha" in flag.message
    assert report.group("V2").explained_by == ["V2-r1"]
    assert not [f for f in report.flags if f.subject == "V2" and f.scope == "group"]


@pytest.mark.parametrize("seed", range(6))
def test_honest_session_where_every_rater_meets_the_targets_stays_quiet(seed):
    report = planted_session(n_cases=120, accuracy=0.93, seed=seed)

    assert serious(report) == []


def test_flags_carry_interval_n_and_q_value_and_json_has_the_documented_keys():
    data = planted_session(plant="vendor").to_dict()

    flag = next(f for f in data["flags"] if f["kind"] == "misreads")
    assert {
        "scope",
        "subject",
        "kind",
        "severity",
        "value",
        "threshold",
        "interval",
        "n",
        "explained_by",
        "message",
        "golden",
        "given",
        "share",
    } <= flag.keys()
    assert {"evidence", "p_below_threshold", "evidence_missing", "explained_by"} <= data["groups"][
        0
    ].keys()
    assert {"expected_agreement", "p_below_threshold", "undefined_resamples"} <= data.keys()


def test_prevalence_paradox_is_explained_with_the_dominant_label():
    rng = np.random.default_rng(3)
    ratings = []
    for case in range(200):
        rare = case % 12 == 0
        for rater in range(4):
            if rare:
                label = "scam" if rng.random() < 0.5 else "none"
            else:
                label = "none" if rng.random() < 0.95 else "scam"
            ratings.append(Rating(f"c{case}", f"r{rater}", label))

    report = compute_report(ratings, categories=["none", "scam"], seed=1)

    assert report.percent_agreement > 0.8 and report.alpha < 0.667
    assert report.expected_agreement == pytest.approx(
        report.percent_agreement - report.alpha * (1 - report.expected_agreement), abs=0.02
    )
    (note,) = [n for n in report.notes if "chance alone" in n]
    assert "'none' makes up" in note and "AC1" in note and "one-versus-rest" in note


def test_eight_case_site_in_perfect_agreement_has_insufficient_evidence_not_a_perfect_interval():
    ratings = [
        Rating(f"c{case}", rater, "a" if case % 2 else "b")
        for case in range(8)
        for rater in ("x1", "x2")
    ]
    ratings += [Rating(f"c{case}", "y1", "a") for case in range(8)]
    report = compute_report(
        ratings,
        categories=["a", "b"],
        golden={f"c{case}": "a" if case % 2 else "b" for case in range(8)},
        rater_sites={"x1": "Cebu", "x2": "Cebu", "y1": "Bogotá"},
        seed=1,
    )

    cebu, bogota = report.site("Cebu"), report.site("Bogotá")
    assert cebu.alpha == 1.0 and cebu.alpha_ci is None
    assert cebu.evidence == "insufficient"
    assert cebu.evidence_missing == [
        "Cebu has 8 cases labelled by two of its raters: label 22 more shared cases (at least 30).",
        "Cebu labelled 8 cases with a golden answer: label 22 more golden cases (at least 30).",
    ]
    assert bogota.evidence_missing[0] == (
        "Bogotá has one rater: add a second QA lead, since agreement needs two."
    )
    assert not serious(report)
    assert {(f.subject, f.kind, f.severity) for f in report.flags if f.scope == "site"} == {
        ("Cebu", "not_enough_evidence", "low"),
        ("Bogotá", "not_enough_evidence", "low"),
    }


def test_golden_only_label_is_not_an_ac1_category():
    ratings = [
        Rating(str(c), r, "a" if (c + (r == "y")) % 3 else "b")
        for c in range(30)
        for r in ("x", "y")
    ]
    without = compute_report(ratings, categories=["a", "b", "c"], bootstrap=0)
    golden_only = compute_report(
        ratings, categories=["a", "b", "c"], golden={"0": "c"}, bootstrap=0
    )
    two_labels = compute_report(ratings, categories=["a", "b"], bootstrap=0)

    assert golden_only.gwet_ac1 == pytest.approx(two_labels.gwet_ac1)
    assert without.gwet_ac1 != pytest.approx(two_labels.gwet_ac1)


def test_model_raters_get_wording_for_a_model():
    rng = np.random.default_rng(1)
    golden = {f"c{case}": ["a", "b", "c"][case % 3] for case in range(120)}
    ratings = []
    for case, answer in golden.items():
        for rater in ("ana", "ben", "classifier-v2"):
            accuracy = 0.5 if rater == "classifier-v2" else 0.97
            label = answer if rng.random() < accuracy else ["a", "b", "c"][rng.integers(3)]
            ratings.append(Rating(case, rater, label))

    report = compute_report(
        ratings, categories=["a", "b", "c"], golden=golden, model_raters=["classifier-v2"]
    )

    (flag,) = [f for f in report.flags if f.scope == "rater"]
    assert flag.message.startswith("Model classifier-v2 matches golden")
    assert "prompt, rules or training data" in flag.message
    assert "with them" not in flag.message


def test_ratio_level_refuses_negative_labels():
    with pytest.raises(AgreementInputError, match="negative"):
        compute_report(
            [Rating("1", "x", "-1"), Rating("1", "y", "2")], categories=["-1", "2"], level="ratio"
        )


@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_seed_must_be_a_whole_number_zero_or_more(seed):
    with pytest.raises(AgreementInputError, match="seed must be a whole number"):
        compute_report(
            [Rating("1", "x", "a"), Rating("1", "y", "b")], categories=["a", "b"], seed=seed
        )


def test_labels_that_look_missing_or_differ_only_in_case_get_a_note():
    ratings = [
        Rating("1", "x", "NULL"),
        Rating("1", "y", "Spam"),
        Rating("2", "x", "spam"),
        Rating("2", "y", "spam"),
    ]
    report = compute_report(ratings, categories=["NULL", "Spam", "spam"], bootstrap=0)

    assert any("look like missing values" in note and "'NULL'" in note for note in report.notes)
    assert any("'Spam', 'spam' differ only" in note for note in report.notes)


def test_pair_kappas_and_rater_figures_do_not_need_a_cases_by_raters_matrix():
    # 20,000 raters over 40,000 cases would be 800 million cells dense; as counts it is tiny.
    rng = np.random.default_rng(0)
    ratings = [
        Rating(f"c{case}", f"r{rater}", "ab"[int(rng.random() < 0.3)])
        for case in range(40_000)
        for rater in rng.choice(20_000, 2, replace=False).tolist()
    ]
    report = compute_report(ratings, categories=["a", "b"], bootstrap=20, seed=1)

    assert report.n_raters > 19_000 and report.n_items == 40_000
    assert report.cohen_kappa == []


def test_wilson_binomial_and_benjamini_hochberg_match_hand_calculations():
    low, high = wilson_interval(9, 10)
    assert (round(low, 4), round(high, 4)) == (0.5958, 0.9821)
    assert binomial_p_below(8, 10, 0.9) == pytest.approx(1 - 0.9**10 - 10 * 0.9**9 * 0.1)
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.5]) == pytest.approx(
        [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5]
    )
