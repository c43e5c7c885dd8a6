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


def _style(**sizes_and_colours) -> Style:
    """The charts' common look — white, dark ink, light dotted grid, the target as a
    dashed red major guide — with each chart's sizes and colours."""
    return Style(
        background="white",
        plot_background="white",
        foreground="#1d232b",
        foreground_strong="#1d232b",
        foreground_subtle="#c9ced6",
        font_family="DejaVu Sans, Helvetica, Arial, sans-serif",
        title_font_size=14,
        guide_stroke_color="#e3e6ea",
        guide_stroke_dasharray="1,3",
        major_guide_stroke_color=COLOURS["misaligned"],
        major_guide_stroke_dasharray="6,3",
        **sizes_and_colours,
    )


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
    style = _style(
        label_font_size=11, major_label_font_size=11, value_font_size=10, colors=("#2457c5",)
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


@dataclass(frozen=True)
class TrendLine:
    """One line of a trend chart: a value per x label (None where unknown), with optional
    95% intervals (None each where unknown). ``dashed`` draws it as a limit, not data."""

    name: str
    values: tuple[float | None, ...]
    intervals: tuple[tuple[float, float] | None, ...] = ()
    dashed: bool = False


def trend_chart(
    lines: list[TrendLine],
    *,
    x_labels: list[str],
    title: str,
    target: float | None = None,
    percent: bool = False,
    width: int = 760,
    height: int = 300,
) -> str:
    """A line chart of figures across sessions (oldest left), as SVG.

    The target is the dashed red major guide, as on the alpha chart; intervals are
    whiskers on each point. Percent charts label the axis 0–100%.
    """
    style = _style(
        label_font_size=10,
        major_label_font_size=10,
        legend_font_size=11,
        colors=("#2457c5", "#1f7a46", "#8a4fbf", "#c08a00", "#6b7280", "#b3261e"),
    )
    known = [v for line in lines for v in line.values if v is not None]
    known += [i[0] for line in lines for i in line.intervals if i]
    low_end = min([0.0 if percent else min(known or [0.0]), *known, target or 1.0])
    low_end = max(0.0, (int(low_end * 10) - 1) / 10) if percent else min(0.0, low_end)
    grid = {round(low_end + step * 0.1, 2) for step in range(int(round((1.0 - low_end) / 0.1)) + 1)}
    if target is not None:
        # A grid label right beside the target's would print over it.
        grid = {value for value in grid if abs(value - target) >= 0.04 or value == 1.0}
    chart = pygal.Line(
        style=style,
        width=width,
        height=height,
        js=[],
        range=(low_end, 1.0),
        title=title,
        margin=8,
        dots_size=3,
        legend_at_bottom=True,
        legend_at_bottom_columns=max(1, min(len(lines), 4)),
        show_x_guides=False,
        x_label_rotation=30 if len(x_labels) > 8 else 0,
        truncate_label=24,
        y_labels=sorted(grid | ({target} if target is not None else set())),
        y_labels_major=[target] if target is not None else [],
        value_formatter=(lambda v: f"{v:.0%}") if percent else (lambda v: f"{v:.3f}"),
    )
    chart.uuid = hashlib.sha256(repr((title, x_labels, lines, target)).encode()).hexdigest()[:32]
    chart.x_labels = x_labels
    for line in lines:
        values = []
        for index, value in enumerate(line.values):
            if value is None:
                values.append(None)
                continue
            point: dict = {"value": value}
            interval = line.intervals[index] if index < len(line.intervals) else None
            if interval:
                point["ci"] = {"low": interval[0], "high": interval[1]}
            values.append(point)
        chart.add(
            line.name,
            values,
            allow_interruptions=True,
            stroke_style={"dasharray": "4,4", "width": 1.5} if line.dashed else {"width": 2},
            show_dots=not line.dashed,
        )
    return chart.render(is_unicode=True)
