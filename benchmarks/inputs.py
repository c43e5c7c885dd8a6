"""Measure what refusing deep JSON costs an API body, against parsing it.

Run with ``python benchmarks/inputs.py``. For a label batch of 50, 500 and 5,000 labels
(the API's largest, about 440 kB) it prints the median time of ``json.loads`` on the body
(the baseline, this run), of the nesting-depth check ``rollcal.inputs`` runs before it,
and their ratio. Target: the check costs at most 4x ``json.loads`` on the same body, a
small part of a request that then validates and saves the labels.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, Python puts benchmarks/ first on sys.path, where calibration.py would
# stand in for the calibration package: the repository root takes its place.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import json
import statistics
import time

from rollcal.inputs import _nesting_depth


def median_seconds(function, text: str, runs: int = 7) -> float:
    """The median wall time of ``function(text)`` over ``runs`` calls after a warm-up."""
    function(text)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function(text)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def label_batch(size: int) -> str:
    """A body as a rater's tool sends it: references, options and comments with quotes
    and brackets inside the strings."""
    labels = [
        {
            "reference": f"C-{n}",
            "option": "remove",
            "comment": 'Seller says "1:1 [AAA] {mirror}" replica' if n % 3 else None,
        }
        for n in range(size)
    ]
    return json.dumps({"labels": labels})


def main() -> None:
    """Print the figures for each batch size."""
    print(f"{'labels':>7} {'bytes':>9} {'json.loads':>11} {'depth check':>12} {'ratio':>6}")
    for size in (50, 500, 5_000):
        body = label_batch(size)
        baseline = median_seconds(json.loads, body)
        check = median_seconds(_nesting_depth, body)
        print(
            f"{size:>7,} {len(body):>9,} {baseline * 1000:>8.2f} ms {check * 1000:>9.2f} ms "
            f"{check / baseline:>5.2f}x"
        )


if __name__ == "__main__":
    main()
