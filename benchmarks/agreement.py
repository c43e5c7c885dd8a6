"""Measure the agreement engine against one ``krippendorff.alpha`` call and a naive loop.

Run with ``python benchmarks/agreement.py``. For 100 x 5, 2,000 x 30 and 50,000 x 10
(cases x raters; 6 labels, 20% of labels missing, golden labels, 3 vendors and 6 sites)
it prints:

- one ``krippendorff.alpha`` call on the reliability matrix (the baseline, this run);
- the full report with 1,000 bootstrap resamples, and its ratio to the baseline;
- the bootstrap alone (1,000 resamples), vectorised against the naive loop of
  ``krippendorff.alpha`` on resampled matrices; the loop runs fewer resamples and is
  extrapolated to 1,000, as the output says;
- the peak memory the full report allocates (tracemalloc, which sees numpy's buffers).

Times are the median of a few runs after a warm-up. On a shared machine, OpenBLAS's two
threads can stall for seconds while other processes hold a core; running with
``OPENBLAS_NUM_THREADS=1`` gives steadier figures. Targets (issue "Agreement engine"):
full report at 2,000 x 30 within 0.25 s and 50x the baseline; vectorised bootstrap at
least 50x faster than the loop; 50,000 x 10 within 2 s and 600 MB.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, Python puts benchmarks/ first on sys.path, where calibration.py would
# stand in for the calibration package: the repository root takes its place.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import os
import resource
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import krippendorff
import numpy as np

from calibration.agreement import Rating, compute_report, label_values, resampled_alphas

SIZES = [(100, 5, 1000), (2_000, 30, 200), (50_000, 10, 20)]  # cases, raters, loop resamples
N_LABELS = 6
MISSING = 0.20
RESAMPLES = 1000


@dataclass
class Simulation:
    """Simulated calibration data in the engine's input form and krippendorff's."""

    ratings: list[Rating]
    categories: list[str]
    golden: dict[str, str]
    vendors: dict[str, str]
    sites: dict[str, str]
    reliability_data: np.ndarray  # raters x cases, NaN where missing


def simulate(n_cases: int, n_raters: int, seed: int = 0) -> Simulation:
    """Raters of varying accuracy labelling cases with a known golden label."""
    rng = np.random.default_rng(seed)
    categories = [f"label{k}" for k in range(N_LABELS)]
    golden = rng.integers(0, N_LABELS, n_cases)
    accuracy = np.linspace(0.95, 0.6, n_raters)
    correct = rng.random((n_cases, n_raters)) < accuracy
    labels = np.where(correct, golden[:, None], rng.integers(0, N_LABELS, (n_cases, n_raters)))
    missing = rng.random((n_cases, n_raters)) < MISSING
    cases = [f"case{i}" for i in range(n_cases)]
    raters = [f"rater{j}" for j in range(n_raters)]
    ratings = [
        Rating(cases[i], raters[j], categories[labels[i, j]])
        for i, j in zip(*np.nonzero(~missing), strict=True)
    ]
    return Simulation(
        ratings=ratings,
        categories=categories,
        golden={case: categories[g] for case, g in zip(cases, golden, strict=True)},
        vendors={rater: f"vendor{j % 3}" for j, rater in enumerate(raters)},
        sites={rater: f"site{j % 6}" for j, rater in enumerate(raters)},
        reliability_data=np.where(missing, np.nan, labels).T.astype(np.float64),
    )


def median_seconds(action: Callable[[], object], runs: int) -> float:
    """Median wall time of ``runs`` calls, after one warm-up call."""
    action()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_megabytes(action: Callable[[], object]) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        action()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def measure(n_cases: int, n_raters: int, loop_resamples: int) -> dict[str, float]:
    simulation = simulate(n_cases, n_raters)
    domain = np.arange(N_LABELS, dtype=np.float64)
    runs = 3 if n_cases > 10_000 else 7

    def baseline() -> float:
        return krippendorff.alpha(
            reliability_data=simulation.reliability_data,
            value_domain=domain,
            level_of_measurement="nominal",
        )

    def full_report() -> object:
        return compute_report(
            simulation.ratings,
            categories=simulation.categories,
            golden=simulation.golden,
            rater_groups=simulation.vendors,
            rater_sites=simulation.sites,
            bootstrap=RESAMPLES,
            seed=1,
        )

    counts = np.stack([(simulation.reliability_data == k).sum(0) for k in range(N_LABELS)], 1)
    pairable_counts = counts[counts.sum(1) >= 2].astype(np.float64)
    values = label_values(simulation.categories, "nominal")

    def vectorised_bootstrap() -> np.ndarray:
        return resampled_alphas(
            pairable_counts, n_resamples=RESAMPLES, seed=1, values=values, level="nominal"
        )

    pairable_columns = simulation.reliability_data[:, counts.sum(1) >= 2]

    def naive_loop() -> list[float]:
        rng = np.random.default_rng(1)
        n = pairable_columns.shape[1]
        return [
            krippendorff.alpha(
                reliability_data=pairable_columns[:, rng.integers(0, n, n)],
                value_domain=domain,
                level_of_measurement="nominal",
            )
            for _ in range(loop_resamples)
        ]

    baseline_seconds = median_seconds(baseline, runs * 3)
    report_seconds = median_seconds(full_report, runs)
    vectorised_seconds = median_seconds(vectorised_bootstrap, runs)
    loop_seconds = median_seconds(naive_loop, 1) * RESAMPLES / loop_resamples
    return {
        "ratings": len(simulation.ratings),
        "baseline": baseline_seconds,
        "report": report_seconds,
        "ratio": report_seconds / baseline_seconds,
        "vectorised": vectorised_seconds,
        "loop": loop_seconds,
        "loop_resamples": loop_resamples,
        "speedup": loop_seconds / vectorised_seconds,
        "peak_mb": peak_megabytes(full_report),
    }


def main() -> None:
    """Measure every size and print the figures and the targets."""
    print(
        f"agreement engine benchmark: {N_LABELS} labels, {MISSING:.0%} missing, "
        f"{RESAMPLES} resamples, golden, 3 vendors, 6 sites; {os.cpu_count()} CPUs, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}"
    )
    header = (
        f"{'cases x raters':>15} {'ratings':>8} {'alpha call':>11} {'full report':>12} "
        f"{'ratio':>6} {'bootstrap':>10} {'naive loop':>11} {'speedup':>8} {'peak MB':>8}"
    )
    print(header)
    results = {}
    for n_cases, n_raters, loop_resamples in SIZES:
        figures = measure(n_cases, n_raters, loop_resamples)
        results[n_cases, n_raters] = figures
        print(
            f"{f'{n_cases:,} x {n_raters}':>15} {figures['ratings']:>8,} "
            f"{figures['baseline'] * 1000:>9.2f}ms {figures['report']:>11.3f}s "
            f"{figures['ratio']:>5.1f}x {figures['vectorised']:>9.3f}s "
            f"{figures['loop']:>10.2f}s* {figures['speedup']:>7.0f}x "
            f"{figures['peak_mb']:>8.1f}"
        )
    print(
        "* naive loop: krippendorff.alpha on each resampled matrix, timed on "
        + ", ".join(f"{s[2]:,}" for s in SIZES)
        + f" resamples respectively and extrapolated to {RESAMPLES:,}."
    )
    print(
        f"process peak RSS (inputs and all runs included): "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    middle, large = results[2_000, 30], results[50_000, 10]
    targets = [
        ("2,000 x 30 full report <= 0.25 s", middle["report"] <= 0.25),
        ("2,000 x 30 full report <= 50x one alpha call", middle["ratio"] <= 50),
        (
            "vectorised bootstrap >= 50x the naive loop (every size)",
            all(figures["speedup"] >= 50 for figures in results.values()),
        ),
        ("50,000 x 10 full report <= 2 s", large["report"] <= 2.0),
        ("50,000 x 10 peak memory <= 600 MB", large["peak_mb"] <= 600),
    ]
    print("targets:")
    for name, met in targets:
        print(f"  {'met ' if met else 'MISS'}  {name}")


if __name__ == "__main__":
    main()
