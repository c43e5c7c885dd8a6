"""Charts drawn on the server as SVG, the same for web pages and PDF reports.

WeasyPrint runs no JavaScript, so charts are finished SVG. pygal draws them; its
tooltip script is left out (``js=[]``). Pages and PDFs both show a chart as an ``<img>``
of a ``data:`` URI: its internal stylesheet then never meets the page's
Content-Security-Policy, and WeasyPrint draws it with its SVG renderer rather than
reading pygal's SVG styles as HTML CSS.
"""

from __future__ import annotations

import base64
import hashlib
import sys
from dataclasses import dataclass

import pygal
from pygal.style import Style

from rollcal.config import ALPHA_RELIABLE, DEFAULT_ALPHA_THRESHOLD

# pygal appends a legacy import hook (for its map plug-ins, unused here) to sys.meta_path;
# it has no find_spec, so every failed import anywhere afterwards warns, and on newer
# Pythons misbehaves. Take it out again.
sys.meta_path[:] = [
    finder for finder in sys.meta_path if type(finder).__name__ != "PluginImportFixer"
]

RELIABLE, TENTATIVE = ALPHA_RELIABLE, DEFAULT_ALPHA_THRESHOLD
COLOURS = {
    "reliable": "#1f7a46",
    "tentative": "#c08a00",
    "misaligned": "#b3261e",
    "none": "#9aa3ad",
}


@dataclass(frozen=True)
class AlphaBar:
    """One bar: a group's alpha and its 95% interval (either may be unknown).

    ``reason`` says why an unknown alpha could not be computed; the chart writes it
    beside the group instead of drawing a bar.
    """

    label: str
    alpha: float | None
    low: float | None = None
    high: float | None = None
    reason: str | None = None

    @classmethod
    def of(cls, entry: dict, label: str) -> AlphaBar:
        """The bar of a vendor or site entry of a stored agreement report."""
        reason = None
        if entry["alpha"] is None:
            reason = (
                "one rater, nothing to agree with"
                if entry.get("n_raters", 2) < 2
                else "no shared cases with variation"
            )
        low, high = entry.get("alpha_ci") or (None, None)
        return cls(label, entry["alpha"], low, high, reason)


def band(alpha: float | None, threshold: float = TENTATIVE) -> str:
    """Krippendorff's reading of an alpha: reliable, tentative or misaligned."""
    if alpha is None:
        return "none"
    if alpha >= RELIABLE:
        return "reliable"
    if alpha >= threshold:
        return "tentative"
    return "misaligned"


def alpha_chart(
    bars: list[AlphaBar], *, title: str, threshold: float = TENTATIVE, width: int = 760
) -> str:
    """A horizontal bar chart of alpha per group with 95% interval whiskers, as SVG.

    Bars are coloured by band (reliable, tentative, misaligned) so the chart reads in
    grey print as well through its labels and the table beside it. The threshold is a
    dashed red line, distinct from the light dotted grid lines; a group whose alpha could
    not be computed gets no bar (a 0.000 bar would read as a measured zero) but "—" and
    the reason beside its name.
    """
    style = Style(
        background="white",
        plot_background="white",
        foreground="#1d232b",
        foreground_strong="#1d232b",
        foreground_subtle="#c9ced6",
        font_family="DejaVu Sans, Helvetica, Arial, sans-serif",
        title_font_size=14,
        label_font_size=11,
        major_label_font_size=11,
        value_font_size=10,
        colors=("#2457c5",),
        guide_stroke_color="#e3e6ea",
        guide_stroke_dasharray="1,3",
        major_guide_stroke_color=COLOURS["misaligned"],
        major_guide_stroke_dasharray="6,3",
    )
    low_end = min(0.0, *(b.low or b.alpha or 0 for b in bars)) if bars else 0.0
    grid = {round(low_end + step * 0.2, 3) for step in range(int((1.0 - low_end) / 0.2) + 1)}
    height = 90 + 28 * max(len(bars), 1)
    chart = pygal.HorizontalBar(
        style=style,
        width=width,
        height=height,
        js=[],
        show_legend=False,
        range=(low_end, 1.0),
        title=f"{title} (threshold {threshold:.3f})",
        print_values=True,
        value_formatter=lambda value: f"{value:.3f}",
        margin=8,
        show_y_guides=True,
        y_labels=sorted(grid | {1.0, threshold}),
        y_labels_major=[threshold],
        x_title="Krippendorff's alpha, bars with 95% bootstrap interval",
    )
    # pygal names each chart with a random uuid4 (its element id and the scope of its
    # stylesheet); a reproducible one keeps equal reports byte-equal, so a report's
    # content hash, the key of the report cache, depends on its content only.
    chart.uuid = chart_id(bars, title=title, threshold=threshold, width=width)
    ordered = list(reversed(bars))  # pygal draws the first bar at the bottom
    chart.x_labels = [
        bar.label if bar.alpha is not None else f"{bar.label}: — {bar.reason or 'not computable'}"
        for bar in ordered
    ]
    values = []
    for bar in ordered:
        if bar.alpha is None:
            values.append(None)
            continue
        value: dict = {
            "value": bar.alpha,
            "color": COLOURS[band(bar.alpha, threshold)],
        }
        if bar.low is not None and bar.high is not None:
            value["ci"] = {"low": bar.low, "high": bar.high}
        values.append(value)
    chart.add("alpha", values)
    return chart.render(is_unicode=True)


def chart_id(bars: list[AlphaBar], *, title: str, threshold: float, width: int) -> str:
    """An id for a chart made from what it shows: the same chart always gets the same id,
    and two different charts on one page (almost surely) different ones."""
    digest = hashlib.sha256(repr((title, threshold, width, bars)).encode())
    return digest.hexdigest()[:32]


def data_uri(svg: str) -> str:
    """An SVG as a ``data:`` URI for an ``<img src>``."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
