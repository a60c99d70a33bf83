"""Static SVG charts for the HTML report, drawn by matplotlib (the ``report`` extra).

The SVG is deterministic (fixed ``svg.hashsalt``, no date metadata) and needs no script or
network to display. Text is drawn as paths, so labels are never markup in the page.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from journeyctl.errors import UsageError
from journeyctl.report import TrendPoint
from journeyctl.result import StageResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]


def _figure(width: float, height: float) -> Figure:
    try:
        import matplotlib

        matplotlib.use("svg")
        from matplotlib.figure import Figure
    except ImportError:
        raise UsageError(
            "the HTML report draws its charts with matplotlib, which is not installed",
            hint="pip install 'journeyctl[report]'",
        ) from None
    matplotlib.rcParams.update({"svg.hashsalt": "journeyctl", "svg.fonttype": "path", "font.size": 9})
    return Figure(figsize=(width, height))


def _svg(figure: Figure) -> str:
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    text = out.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and doctype: the SVG is inlined


def _plain(text: str) -> str:
    """A label matplotlib shows as written ($ would start mathtext)."""
    return text.replace("$", r"\$")


def funnel_svg(stages: list[StageResult], unit: str) -> str:
    """Horizontal bars: units reaching each stage, labelled with the count and % from start."""
    figure = _figure(7, 0.45 * len(stages) + 0.8)
    axes = figure.subplots()
    names = [_plain(s.label) for s in stages][::-1]
    values = [s.users for s in stages][::-1]
    axes.barh(names, values, color="#1f77b4")
    top = max(values, default=0) or 1
    for y, stage in enumerate(stages[::-1]):
        share = "" if stage.from_start is None else f" ({stage.from_start:.1%})"
        axes.text(stage.users + top * 0.01, y, f"{stage.users:,}{share}", va="center")
    axes.set_xlim(0, top * 1.25)
    axes.set_xlabel(unit)
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure)


def trend_svg(trend: list[TrendPoint], series: list[tuple[str, list[float | None]]], ylabel: str) -> str:
    """One line per series of rates (shown in %) over the trend's periods; periods whose
    window is still open get hollow points and a ``*`` on their label."""
    figure = _figure(7, 3.2)
    axes = figure.subplots()
    x = list(range(len(trend)))
    for index, (label, values) in enumerate(series):
        colour = COLOURS[index % len(COLOURS)]
        ys = [float("nan") if v is None else v * 100 for v in values]
        axes.plot(x, ys, color=colour, label=_plain(label))
        for xi, y, point in zip(x, ys, trend, strict=True):
            axes.plot([xi], [y], "o", color=colour, markerfacecolor=colour if point.complete else "white")
    axes.set_xticks(x, [_plain(p.label + ("" if p.complete else "*")) for p in trend], rotation=30)
    axes.set_ylabel(ylabel)
    axes.set_ylim(bottom=0)
    axes.grid(axis="y", alpha=0.3)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(loc="upper left", bbox_to_anchor=(1, 1), frameon=False)
    return _svg(figure)
