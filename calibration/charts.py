"""The charts of a session's stored results, drawn once when the results are stored."""

from __future__ import annotations

from rollcal.reports.charts import AlphaBar, alpha_chart

# The headline figures a page can show without loading the whole report.
SUMMARY_KEYS = (
    "level",
    "alpha",
    "alpha_ci",
    "percent_agreement",
    "fleiss_kappa",
    "gwet_ac1",
    "mean_cohen_kappa",
    "n_items",
    "n_pairable_items",
    "n_raters",
)


def vendor_chart(report: dict, threshold: float) -> str | None:
    """The alpha-by-vendor chart of a stored report (SVG), or None without vendors."""
    if not report["groups"]:
        return None
    bars = [AlphaBar.of(g, g["group"]) for g in report["groups"]]
    return alpha_chart(bars, title="Alpha by vendor", threshold=threshold)


def stored_charts(report: dict, subjects: dict, threshold: float) -> dict[str, str]:
    """Every chart a reader of the results may be shown: ``"all"`` for those who see
    every vendor, and one per vendor id with that vendor's bar only (its QA leads)."""
    charts = {}
    everyone = vendor_chart(report, threshold)
    if everyone is not None:
        charts["all"] = everyone
    vendor_ids = {name: facts["id"] for name, facts in subjects.get("groups", {}).items()}
    for group in report["groups"]:
        vendor_id = vendor_ids.get(group["group"])
        if vendor_id is None:
            continue
        chart = vendor_chart({**report, "groups": [group]}, threshold)
        if chart is not None:
            charts[str(vendor_id)] = chart
    return charts


# What the results page and the reports show beyond the headline, none of which grows
# with the number of cases: the per-vendor, per-site, per-rater, pairwise and per-label
# tables, the golden confusion matrix and the notes. Per-case figures are kept for the
# most contested cases only.
SUMMARY_TABLES = (
    "n_labels",
    "categories",
    "labels",
    "confusion",
    "groups",
    "sites",
    "raters",
    "cohen_kappa",
    "notes",
)
CONTESTED_KEPT = 15


def summary_of(report: dict) -> dict:
    """The stored summary of a report: the headline figures, the tables whose size
    depends on raters, sites and labels but not on cases, and the ``contested`` cases
    (the most split first, ``CONTESTED_KEPT`` at most, those everyone agreed on left
    out)."""
    summary = {key: report.get(key) for key in (*SUMMARY_KEYS, *SUMMARY_TABLES)}
    summary["contested"] = [item for item in report.get("items", []) if item["entropy"] > 0][
        :CONTESTED_KEPT
    ]
    return summary


def has_tables(summary: dict | None) -> bool:
    """Whether a stored summary holds the tables (summaries stored before them hold the
    headline only)."""
    return summary is not None and "contested" in summary
