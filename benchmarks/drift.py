"""Drift detection by simulation: honest sites stay quiet, planted drops are named.

Prints, for the EWMA chart in ``calibration/drift.py`` with its default settings:

- false alarms: the share of honest sites (accuracy steady, sessions of varying size and
  difficulty) flagged at their last session, and at any of their sessions;
- detection: the share of sites whose accuracy falls by a planted amount over six
  sessions that are flagged at the last session, and the sessions it took;
- the same for alpha, from intervals of the width sessions of that size give.

Run: ``python benchmarks/drift.py [--sites N] [--seed S]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from calibration.drift import ACCURACY, ALPHA, Point, detect  # noqa: E402


def accuracy_history(rng, *, sessions, level, drop_over_last, drop, difficulty_sd):
    points = []
    for index in range(sessions):
        fall = 0.0
        start = sessions - drop_over_last
        if drop and index >= start:
            fall = drop * (index - start + 1) / drop_over_last
        p = float(np.clip(level - fall + rng.normal(0, difficulty_sd), 0.01, 0.999))
        n = int(rng.integers(40, 121))  # golden labels: a few raters on 20–60 cases
        hits = int(rng.binomial(n, p))
        points.append(Point(session_id=index, name=f"round {index + 1}", value=hits / n, n=n))
    return points


def alpha_history(rng, *, sessions, level, drop_over_last, drop, difficulty_sd):
    points = []
    for index in range(sessions):
        fall = 0.0
        start = sessions - drop_over_last
        if drop and index >= start:
            fall = drop * (index - start + 1) / drop_over_last
        se = float(rng.uniform(0.03, 0.06))  # what 40–100 shared cases give
        value = level - fall + rng.normal(0, difficulty_sd) + rng.normal(0, se)
        points.append(
            Point(
                session_id=index,
                name=f"round {index + 1}",
                value=value,
                interval=(value - 1.96 * se, value + 1.96 * se),
            )
        )
    return points


def run(metric, history, rng, sites, **planted):
    last = anywhere = 0
    delays = []
    for _ in range(sites):
        points = history(rng, **planted)
        verdict = detect(points, metric, subject="Site")
        last += verdict.drifting
        flagged_at = None
        for end in range(4, len(points) + 1):
            if detect(points[:end], metric, subject="Site").drifting:
                flagged_at = end
                break
        anywhere += flagged_at is not None
        if flagged_at is not None and planted.get("drop"):
            delays.append(flagged_at - (len(points) - planted["drop_over_last"]))
    return last / sites, anywhere / sites, delays


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"EWMA drift chart, {args.sites} simulated sites per row, 12 sessions each")
    print(f"{'figure':<10} {'planted':<38} {'flagged at last':>15} {'ever':>6} {'delay':>6}")
    rows = [
        (ACCURACY, accuracy_history, "honest, 92%, sessions vary ±1 pt", dict(drop=0.0)),
        (ACCURACY, accuracy_history, "honest, 92%, sessions vary ±3 pt", dict(drop=0.0, sd=0.03)),
        (ACCURACY, accuracy_history, "falls 8 pts over the last 6 sessions", dict(drop=0.08)),
        (ACCURACY, accuracy_history, "falls 15 pts over the last 6 sessions", dict(drop=0.15)),
        (ALPHA, alpha_history, "honest, alpha 0.78", dict(drop=0.0)),
        (ALPHA, alpha_history, "falls 0.15 over the last 6 sessions", dict(drop=0.15)),
    ]
    for metric, history, label, planted in rows:
        level = 0.92 if metric == ACCURACY else 0.78
        last, ever, delays = run(
            metric,
            history,
            rng,
            args.sites,
            sessions=12,
            level=level,
            drop_over_last=6,
            drop=planted["drop"],
            difficulty_sd=planted.get("sd", 0.01),
        )
        delay = f"{np.median(delays):.0f}" if delays else "—"
        print(f"{metric:<10} {label:<38} {last:>15.1%} {ever:>6.1%} {delay:>6}")
    print(
        "'flagged at last': share flagged at the 12th session; 'ever': at any session from"
        " the 4th; 'delay': median sessions after the fall began until the first alarm."
    )


if __name__ == "__main__":
    main()
