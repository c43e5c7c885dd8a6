"""How far the AI-rater verdicts can be trusted: causes named, quiet when honest, coverage.

Run with ``python benchmarks/models.py`` (``--sessions N`` to change the repetitions,
default 200). Simulated sessions have 240 golden cases in three labels (Allow, Age-restrict,
Remove; Remove the high-severity one) and five humans right 90% of the time. It prints:

1. **Planted causes named**: a model that misses Remove on 40% of its cases (labelling
   them Allow) — the share of sessions whose gate fails on Remove, and whose errors lean
   to under-enforcement; a model right 75% of the time — the share called "below the
   weakest human"; a newer version that fixes Age-restrict and breaks Remove — the share
   of paired comparisons naming both changes. Goal: at least 95%.
2. **Quiet when honest**: a model right 90% of the time, like the humans — the share of
   sessions with a verdict other than "inside the human band"; two honest versions — the
   share of comparisons claiming any change. Goal: at most 5%.
3. **Interval coverage**: how often the 95% interval covers the true value — a model's
   agreement with golden and its Remove false-negative rate (Wilson), a vendor's pooled
   accuracy over three raters (BCa over cases), and the severity-weighted under-enforcement
   rate. Goal: at least 93%.

Figures, not assertions: each is printed beside its goal.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

import argparse  # noqa: E402
import random  # noqa: E402

from calibration.model_eval import (  # noqa: E402
    LabelOption,
    compare_versions,
    error_profile,
    evaluate_version,
    model_gate,
)

OPTIONS = [
    LabelOption("allow", "Allow", severity=0.0, enforcement=0),
    LabelOption("restrict", "Age-restrict", severity=1.0, enforcement=1),
    LabelOption("remove", "Remove", severity=3.0, enforcement=2),
]
KEYS = [option.key for option in OPTIONS]
CASES = 240


def golden_of(rng: random.Random) -> dict[str, str]:
    """Golden answers in equal thirds, shuffled."""
    answers = [KEYS[i % 3] for i in range(CASES)]
    rng.shuffle(answers)
    return {f"C{i:03d}": answer for i, answer in enumerate(answers)}


def labeller(golden, accuracy, rng, miss=None):
    """Right with ``accuracy``, else another label; ``miss`` = {golden: (rate, given)}."""
    labels = {}
    for case, answer in golden.items():
        if miss and answer in miss and rng.random() < miss[answer][0]:
            labels[case] = miss[answer][1]
        elif rng.random() < accuracy:
            labels[case] = answer
        else:
            labels[case] = rng.choice([key for key in KEYS if key != answer])
    return labels


def humans_of(golden, rng):
    """Five honest humans."""
    return {f"QA {i}": labeller(golden, 0.9, rng) for i in range(5)}


def share(hits: int, total: int) -> str:
    """A share as a percentage."""
    return f"{100 * hits / total:5.1f}%"


def covers(interval, truth) -> bool:
    """Whether the interval holds the true value."""
    return interval is not None and interval[0] <= truth <= interval[1]


def main() -> None:
    """Simulate and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    n = args.sessions
    counts = dict.fromkeys(
        [
            "gate_names_remove",
            "under_leads",
            "weak_below",
            "pair_named",
            "honest_loud",
            "pair_loud",
            "cover_golden",
            "cover_fnr",
            "cover_vendor",
            "cover_under",
        ],
        0,
    )
    # True values of the honest and the missing models, by construction.
    honest_accuracy = 0.9
    # A Remove case is missed when the planted miss fires (0.4), or else when the 0.95
    # right-answer draw fails (0.05 of the rest): 0.4 + 0.6 * 0.05.
    missing_fnr = 0.4 + 0.6 * 0.05
    # Under-enforcement harm of the missing model, over n x max severity: Remove misses to
    # Allow or Age-restrict weigh 3 (a third of cases; all misses of Remove go downwards),
    # and Age-restrict cases wrongly Allowed weigh 1 (0.05 / 2 of that third).
    missing_under = (1 / 3) * missing_fnr * 3 / 3 + (1 / 3) * (0.05 / 2) * 1 / 3
    for _ in range(n):
        golden = golden_of(rng)
        humans = humans_of(golden, rng)

        missing = labeller(golden, 0.95, rng, miss={"remove": (0.4, "allow")})
        evaluation = evaluate_version("missing", missing, humans, golden, OPTIONS)
        gate = model_gate(evaluation, min_severity=2.0, fnr_target=0.10)
        counts["gate_names_remove"] += any(
            c.label == "remove" and not c.passes for c in gate.checks
        )
        counts["under_leads"] += evaluation.errors.under.hits > evaluation.errors.over.hits
        remove = evaluation.errors.label("remove")
        counts["cover_fnr"] += covers(remove.fnr.interval, missing_fnr)
        counts["cover_under"] += covers(evaluation.errors.under_weighted_interval, missing_under)

        weak = labeller(golden, 0.75, rng)
        counts["weak_below"] += (
            evaluate_version("weak", weak, humans, golden, OPTIONS).verdict_golden.key == "below"
        )

        older = labeller(golden, 0.97, rng, miss={"restrict": (0.4, "allow")})
        newer = labeller(golden, 0.97, rng, miss={"remove": (0.4, "restrict")})
        by_label = {
            c.label: c for c in compare_versions("1", older, "2", newer, golden, OPTIONS).labels
        }
        counts["pair_named"] += (
            by_label["restrict"].fnr_change == "better" and by_label["remove"].fnr_change == "worse"
        )

        honest = labeller(golden, honest_accuracy, rng)
        honest_eval = evaluate_version("honest", honest, humans, golden, OPTIONS)
        counts["honest_loud"] += honest_eval.verdict_golden.key != "inside"
        counts["cover_golden"] += covers(honest_eval.golden.interval, honest_accuracy)
        other = labeller(golden, honest_accuracy, rng)
        comparison = compare_versions("1", honest, "2", other, golden, OPTIONS)
        counts["pair_loud"] += comparison.change != "no clear difference" or any(
            c.fnr_change != "no clear difference" or c.fpr_change != "no clear difference"
            for c in comparison.labels
        )

        vendor = [
            (case, golden[case], label)
            for labels in list(humans.values())[:3]
            for case, label in labels.items()
        ]
        counts["cover_vendor"] += covers(
            error_profile(vendor, OPTIONS).correct.interval, honest_accuracy
        )

    print(f"{n} sessions of {CASES} golden cases, five humans at 90%\n")
    sections = [
        (
            "1. Planted causes named (goal >= 95%)",
            [
                ("gate fails on Remove for a model missing 40% of it", "gate_names_remove"),
                ("its errors lean to under-enforcement", "under_leads"),
                ("a 75% model is below the weakest human", "weak_below"),
                ("paired test: Age-restrict better, Remove worse", "pair_named"),
            ],
        ),
        (
            "2. Quiet when honest (goal <= 5%)",
            [
                ("honest model not inside the band", "honest_loud"),
                ("two honest versions said to differ", "pair_loud"),
            ],
        ),
        (
            "3. Interval coverage (goal >= 93%)",
            [
                ("agreement with golden (Wilson)", "cover_golden"),
                ("Remove false-negative rate (Wilson)", "cover_fnr"),
                ("vendor's pooled accuracy, 3 raters (BCa)", "cover_vendor"),
                ("severity-weighted under-enforcement (BCa)", "cover_under"),
            ],
        ),
    ]
    for title, rows in sections:
        print(title)
        for text, key in rows:
            print(f"   {text:<52} {share(counts[key], n)}")


if __name__ == "__main__":
    main()
