"""How far the findings can be trusted: interval coverage, false flags, causes named, cost.

Run with ``python benchmarks/diagnosis.py`` (``--quick`` for fewer sessions). It prints:

1. **Interval coverage**: how often alpha's 95% interval covers the true alpha, over
   simulated sessions at 10 x 3, 20 x 4 (binary, one label 90%), 40 x 5 and 100 x 5
   (cases x raters), and how often the interval is withheld. The true alpha of each
   design is alpha on 200,000 cases from the same raters (the population value).
   Goal: at least 90% where an interval is given; from 30 cases it is always given.
2. **False high flags**: the share of sessions with any high flag, where 20 raters (five
   vendors, two sites each) all truly meet the targets (93% accuracy against 90%; every
   label's one-versus-rest alpha above 0.75). Goal: at most 5% of sessions.
3. **Planted causes named**: the share of sessions (240 cases) whose flags name the
   planted cause — a vendor that misreads one label, one site that misreads it, a
   guessing rater inside a good vendor — with the right scope, subject and kind, and how
   many other high flags came with it. Goal: 100%.
4. **Sparse counts**: 1,000,000 labels over 250,000 cases x 2,000 raters, the full report
   with 1,000 resamples: time and peak memory (of a child process, against a child that
   only builds the same ratings). Goal: within 1 GB.
5. **CLI process**: ``rollcal agreement`` on a 2,000 x 30 CSV as a whole process, against
   a plain Python process that loads the CSV and calls ``krippendorff.alpha`` once.
   Goal: within 3x.

Figures, not assertions: each is printed beside its goal.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, Python puts benchmarks/ first on sys.path, where calibration.py would
# stand in for the calibration package: the repository root takes its place.
ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

import argparse
import statistics
import subprocess
import tempfile
import time

import numpy as np

from calibration.agreement import Rating, coincidence_alpha, compute_report, label_values


def _ratings(truth, raters, rng, *, accuracy, n_labels, prevalence=None):
    """Each rater gives the true label with probability ``accuracy``, else a label drawn
    from ``prevalence`` (uniform when None)."""
    ratings = []
    for case, true_label in enumerate(truth.tolist()):
        for rater in raters:
            if rng.random() < accuracy:
                label = true_label
            else:
                label = int(rng.choice(n_labels, p=prevalence))
            ratings.append(Rating(f"c{case}", rater, str(label)))
    return ratings


def _population_alpha(n_raters, n_labels, prevalence, accuracy, rng, n_cases=200_000):
    truth = rng.choice(n_labels, n_cases, p=prevalence)
    counts = np.zeros((n_cases, n_labels))
    for _ in range(n_raters):
        right = rng.random(n_cases) < accuracy
        noise = rng.choice(n_labels, n_cases, p=prevalence)
        counts[np.arange(n_cases), np.where(right, truth, noise)] += 1
    values = label_values([str(i) for i in range(n_labels)], "nominal")
    return coincidence_alpha(counts, values=values, level="nominal")


COVERAGE_DESIGNS = [
    # name, cases, raters, labels, prevalence, accuracy
    ("10 x 3", 10, 3, 3, None, 0.75),
    ("20 x 4, binary 90%", 20, 4, 2, [0.9, 0.1], 0.85),
    ("40 x 5", 40, 5, 3, None, 0.75),
    ("100 x 5", 100, 5, 3, None, 0.75),
]


def coverage(sessions: int) -> None:
    print("1. Interval coverage (95% BCa; withheld below 30 shared cases)")
    rng = np.random.default_rng(1)
    for name, n_cases, n_raters, n_labels, prevalence, accuracy in COVERAGE_DESIGNS:
        true_alpha = _population_alpha(n_raters, n_labels, prevalence, accuracy, rng)
        covered = given = 0
        raters = [f"r{i}" for i in range(n_raters)]
        for seed in range(sessions):
            truth = rng.choice(n_labels, n_cases, p=prevalence)
            ratings = _ratings(
                truth, raters, rng, accuracy=accuracy, n_labels=n_labels, prevalence=prevalence
            )
            report = compute_report(
                ratings, categories=[str(i) for i in range(n_labels)], seed=seed
            )
            if report.alpha_ci is not None:
                given += 1
                covered += report.alpha_ci[0] <= true_alpha <= report.alpha_ci[1]
        shown = f"{covered / given:.1%} of {given}" if given else "n/a"
        print(
            f"   {name:<20} true alpha {true_alpha:.3f}: covered {shown:<14} "
            f"withheld {1 - given / sessions:.0%} of {sessions} sessions (goal >= 90% where given)"
        )


LABELS = ["none", "ipr", "counterfeit", "scam", "spam", "other"]
SHARES = [0.35, 0.15, 0.15, 0.15, 0.1, 0.1]


def planted_session(seed, *, n_cases, vendors, raters_per_vendor, accuracy, plant=None):
    """Vendors V1.. with two sites each; ``plant`` as in the module docstring."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(len(LABELS), n_cases, p=SHARES)
    ratings, groups, sites = [], {}, {}
    for vendor in range(1, vendors + 1):
        for number in range(1, raters_per_vendor + 1):
            rater = f"V{vendor}-r{number}"
            groups[rater] = f"V{vendor}"
            sites[rater] = f"V{vendor}-S{1 + number % 2}"
            own = 0.3 if plant == "guess" and rater == "V2-r1" else accuracy
            misreads = (plant == "vendor" and vendor == 3) or (
                plant == "site" and sites[rater] == "V2-S1"
            )
            for case in range(n_cases):
                label = truth[case] if rng.random() < own else rng.integers(len(LABELS))
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
    )


def false_flags(sessions: int) -> None:
    print("2. False high flags: 20 raters who all meet the targets (93% accuracy)")
    flagged = 0
    kinds: dict[str, int] = {}
    for seed in range(sessions):
        report = planted_session(seed, n_cases=100, vendors=5, raters_per_vendor=4, accuracy=0.93)
        high = [f for f in report.flags if f.severity == "high"]
        flagged += bool(high)
        for flag in high:
            kinds[flag.kind] = kinds.get(flag.kind, 0) + 1
    detail = ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items())) or "none"
    print(
        f"   {flagged / sessions:.1%} of {sessions} sessions (100 cases) had a high flag "
        f"(goal <= 5%); high flags by kind: {detail}"
    )


PLANTS = [
    ("a vendor's misreading", "vendor", ("group", "V3", "misreads")),
    ("a site's misreading", "site", ("site", "V2-S1", "misreads")),
    ("a guessing rater in a good vendor", "guess", ("rater", "V2-r1", "low_accuracy")),
]


def causes(sessions: int) -> None:
    print("3. Planted causes named (240 cases, 4 vendors x 4 raters, 95% accuracy)")
    for title, plant, expected in PLANTS:
        named = others = 0
        for seed in range(sessions):
            report = planted_session(
                seed, n_cases=240, vendors=4, raters_per_vendor=4, accuracy=0.95, plant=plant
            )
            found = {(f.scope, f.subject, f.kind) for f in report.flags if f.severity == "high"}
            named += expected in found
            others += len(found - {expected})
        print(
            f"   {title:<36} named in {named / sessions:.0%} of {sessions} sessions "
            f"(goal 100%); other high flags per session: {others / sessions:.2f}"
        )


SPARSE_CHILD = """
import resource, sys, time
sys.path.insert(0, {root!r})
import numpy as np
from calibration.agreement import Rating, compute_report
rng = np.random.default_rng(0)
n_cases, n_raters, per_case = 250_000, 2_000, 4
cases = [f"c{{i}}" for i in range(n_cases)]
raters = [f"r{{i}}" for i in range(n_raters)]
labels = ["a", "b", "c", "d"]
truth = rng.integers(0, 4, n_cases)
chosen = np.argsort(rng.random((n_cases, n_raters // 50)), axis=1)[:, :per_case]
right = rng.random((n_cases, per_case)) < 0.85
noise = rng.integers(0, 4, (n_cases, per_case))
given = np.where(right, truth[:, None], noise)
ratings = [
    Rating(cases[case], raters[block * 50 + slot], labels[label])
    for case, (slots, row) in enumerate(zip(chosen.tolist(), given.tolist()))
    for block, (slot, label) in enumerate(zip(slots, row))
]
golden = {{cases[i]: labels[truth[i]] for i in range(0, n_cases, 5)}}
vendors = {{r: f"V{{i % 10}}" for i, r in enumerate(raters)}}
sites = {{r: f"V{{i % 10}}-S{{i % 20 // 10}}" for i, r in enumerate(raters)}}
start = time.perf_counter()
if {run_report}:
    report = compute_report(ratings, categories=labels, golden=golden, rater_groups=vendors,
                            rater_sites=sites, seed=1)
elapsed = time.perf_counter() - start
print(len(ratings), elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def sparse() -> None:
    print("4. Sparse counts: 1,000,000 labels over 250,000 cases x 2,000 raters")
    figures = {}
    for name, run_report in (("ratings only", False), ("full report", True)):
        output = subprocess.run(
            [sys.executable, "-c", SPARSE_CHILD.format(root=str(ROOT), run_report=run_report)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        figures[name] = (int(output[0]), float(output[1]), int(output[2]) / 1024)
    labels, _, base_memory = figures["ratings only"]
    _, seconds, memory = figures["full report"]
    print(
        f"   {labels:,} labels: report {seconds:.1f} s; peak memory {memory:.0f} MB "
        f"(process that only builds the ratings: {base_memory:.0f} MB; the report adds "
        f"{memory - base_memory:.0f} MB; goal: within 1,024 MB)"
    )


BASELINE_PROCESS = """
import csv, sys
import numpy as np, krippendorff
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
cases = {{}}; raters = {{}}
for row in rows:
    cases.setdefault(row["item"], len(cases)); raters.setdefault(row["rater"], len(raters))
data = np.full((len(raters), len(cases)), np.nan)
for row in rows:
    data[raters[row["rater"]], cases[row["item"]]] = float(row["label"])
print(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))
"""


def _process_seconds(command: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cli(repeats: int) -> None:
    print("5. CLI process: rollcal agreement on 2,000 cases x 30 raters (6 labels, golden)")
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 6, 2000)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "labels.csv"
        lines = ["item,rater,label,golden,vendor,site"]
        for case in range(2000):
            for rater in range(30):
                label = truth[case] if rng.random() < 0.85 else rng.integers(6)
                lines.append(
                    f"c{case},r{rater},{label},{truth[case]},V{rater % 5},V{rater % 5}-S{rater % 2}"
                )
        path.write_text("\n".join(lines) + "\n")
        script = Path(sys.executable).parent / "rollcal"
        command = (
            [str(script)]
            if script.exists()
            else [sys.executable, "-c", "from calibration.console import main; main()"]
        )
        ours = _process_seconds([*command, "agreement", str(path), "--seed", "1"], repeats)
        baseline = _process_seconds(
            [sys.executable, "-c", BASELINE_PROCESS.format(), str(path)], repeats
        )
    print(
        f"   rollcal agreement {ours:.2f} s; plain process with one krippendorff.alpha "
        f"{baseline:.2f} s; ratio {ours / baseline:.1f}x (goal: within 3x)"
    )


def main() -> None:
    """Run every measurement and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer simulated sessions")
    parser.add_argument(
        "--only", choices=["coverage", "false", "causes", "sparse", "cli"], action="append"
    )
    options = parser.parse_args()
    scale = 1 if options.quick else 4
    parts = {
        "coverage": lambda: coverage(50 * scale),
        "false": lambda: false_flags(25 * scale),
        "causes": lambda: causes(5 * scale),
        "sparse": sparse,
        "cli": lambda: cli(3 if options.quick else 5),
    }
    for name, run in parts.items():
        if options.only and name not in options.only:
            continue
        run()


if __name__ == "__main__":
    main()
