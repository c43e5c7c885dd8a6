"""The drift chart: a site that falls is named with its figures; honest noise stays quiet."""

import numpy as np

from calibration.drift import ACCURACY, ALPHA, DriftRule, Point, detect


def _accuracy(values, n=80):
    return [
        Point(session_id=i + 1, name=f"Round {i + 1}", value=round(v * n) / n, n=n)
        for i, v in enumerate(values)
    ]


def test_a_site_whose_accuracy_falls_over_six_sessions_is_flagged_with_the_figures():
    history = _accuracy([0.93, 0.92, 0.94, 0.92, 0.93, 0.92, 0.89, 0.86, 0.84, 0.81, 0.79, 0.76])

    verdict = detect(history, ACCURACY, subject="Cebu")

    assert verdict.drifting
    assert verdict.baseline_sessions == [1, 2, 3]
    assert round(verdict.baseline, 3) == 0.929
    assert verdict.current == 0.7625
    assert verdict.statistic <= -DriftRule().limit
    assert verdict.sessions == [8, 9, 10, 11, 12]  # clearly below the baseline (7 is not)
    assert verdict.sentence.startswith(
        "Cebu's accuracy against golden fell from 93% (its baseline, Round 1 to Round 3) "
        "to 76% in Round 12: smoothed, "
    )
    assert "below the baseline over 5 sessions to Round 12," in verdict.sentence


def test_a_site_whose_accuracy_only_wobbles_within_chance_stays_quiet():
    history = _accuracy([0.93, 0.90, 0.94, 0.91, 0.89, 0.93, 0.90, 0.92, 0.88, 0.91, 0.93, 0.89])

    verdict = detect(history, ACCURACY, subject="Dublin")

    assert not verdict.drifting
    assert verdict.enough_evidence
    assert "holds" in verdict.sentence and "within chance" in verdict.sentence


def test_honest_sites_are_rarely_flagged_and_planted_falls_usually_are():
    rng = np.random.default_rng(2026)

    def site(fall):
        values = [0.92 - fall * max(0, i - 5) / 6 + rng.normal(0, 0.01) for i in range(12)]
        return [
            Point(i, f"R{i}", rng.binomial(n, min(v, 0.999)) / n, n)
            for i, (v, n) in enumerate(zip(values, rng.integers(40, 121, size=12), strict=True))
        ]

    honest = sum(detect(site(0.0), ACCURACY, subject="S").drifting for _ in range(300))
    falling = sum(detect(site(0.2), ACCURACY, subject="S").drifting for _ in range(300))

    assert honest <= 3  # at most 1%
    assert falling >= 240  # at least 80%


def test_a_site_that_improves_is_no_alarm():
    history = _accuracy([0.80, 0.81, 0.79, 0.85, 0.90, 0.95, 0.97, 0.98])

    assert not detect(history, ACCURACY, subject="Cebu").drifting


def test_thin_sessions_do_not_count_and_too_little_history_says_so():
    history = _accuracy([0.95, 0.95, 0.95], n=80) + _accuracy([0.5, 0.4], n=10)

    verdict = detect(history, ACCURACY, subject="Cebu")

    assert not verdict.drifting and not verdict.enough_evidence
    assert verdict.sentence == (
        "Not enough history to judge drift in Cebu's accuracy against golden: 3 revealed "
        "sessions with enough evidence, 4 needed."
    )


def test_a_one_point_drop_is_no_alarm_however_large_the_site():
    # Sessions differ by more than a point in how hard their cases are.
    history = _accuracy([0.95] * 4 + [0.94] * 6, n=20_000)

    assert not detect(history, ACCURACY, subject="Big site").drifting


def test_alpha_drift_reads_each_session_interval():
    def alpha(i, value, half=0.08):
        return Point(i, f"Round {i}", value, interval=(value - half, value + half))

    falling = [alpha(i, v) for i, v in enumerate([0.80, 0.78, 0.81, 0.79, 0.70, 0.62, 0.55], 1)]
    steady = [alpha(i, v) for i, v in enumerate([0.80, 0.78, 0.81, 0.79, 0.76, 0.80, 0.77], 1)]
    no_interval = [Point(i, f"R{i}", 0.8) for i in range(1, 8)]

    assert detect(falling, ALPHA, subject="Cebu").drifting
    assert not detect(steady, ALPHA, subject="Cebu").drifting
    assert not detect(no_interval, ALPHA, subject="Cebu").enough_evidence
