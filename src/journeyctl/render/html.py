"""``report --format html``: one self-contained page (inline CSS and SVG charts, no script, no
network). Every value from the data or the config goes through ``html.escape``."""

from __future__ import annotations

from html import escape

from journeyctl.check import bound_text
from journeyctl.check import format_value as unit_value
from journeyctl.compare import MetricChange
from journeyctl.render.charts import funnel_svg, trend_svg
from journeyctl.render.text import (
    arrow,
    breakdown_cells,
    breakdown_header,
    breakdown_intro,
    breakdown_rows,
    format_change,
    format_duration,
    format_value,
    headlines,
    missing_value_note,
    percent,
    safe,
    trend_rows,
    verdict,
)
from journeyctl.report import Report

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{padding:.2em .7em;border-bottom:1px solid #ddd}
td.n,th.n{text-align:right}.better{color:#1a7f37}.worse{color:#cf222e}.sig{font-weight:bold}
.note{background:#fff8c5;border-left:4px solid #d4a72c;padding:.5em 1em}.chart svg{max-width:100%;height:auto}
"""


def _moved(change: MetricChange) -> list[str]:
    """The row classes of a change: better or worse, and sig when significant."""
    if change.direction not in ("better", "worse"):
        return []
    return [change.direction, *(["sig"] if change.significant else [])]


def e(text: str) -> str:
    return escape(safe(text))


def render_html(report: Report) -> str:
    now, before = report.current, report.comparison
    result = now.result
    title = f"{report.journey}: {report.period_kind} {now.period.label}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p>Compared with {e(before.period.label)} ({e(report.compare_to)}); calendar periods in "
        f"{e(report.timezone)}; data up to {report.observed_until:%Y-%m-%d %H:%M} UTC; window "
        f"{format_duration(result.window_s)}, counting {e(result.unit)}.</p>",
    ]
    parts.append("<h2>Headlines</h2><ul>")
    parts += [f"<li>{line}</li>" for line in headlines(report, e)]
    parts.append("</ul>")
    if report.kpis:
        parts.append(
            "<h2>KPIs</h2><table><tr><th>KPI</th><th>Bound</th><th class=n>Actual</th><th>Verdict</th></tr>"
        )
        for kpi in report.kpis:
            css = {"PASS": "better", "WARN": "worse", "FAIL": "worse sig", "ERROR": "worse sig"}[kpi.status]
            parts.append(
                f'<tr class="{css}"><td>{e(kpi.metric)}</td><td>{e(bound_text(kpi))}</td>'
                f"<td class=n>{unit_value(kpi.actual, kpi.unit)}</td><td>{kpi.status}</td></tr>"
            )
        parts.append("</table>")
    parts.append('<h2>Funnel</h2><div class="chart" id="funnel-chart">')
    parts.append(funnel_svg(result.stages, result.unit))
    parts.append("</div>")
    parts.append(
        f"<table><tr><th>Stage</th><th class=n>{e(result.unit.capitalize())}</th>"
        "<th class=n>Step</th><th class=n>From start</th><th class=n>Lost</th></tr>"
    )
    for s in result.stages:
        lost = "–" if s.lost is None else f"{s.lost:,}"
        parts.append(
            f"<tr><td>{e(s.label)}</td><td class=n>{s.users:,}</td><td class=n>{percent(s.conversion)}"
            f"</td><td class=n>{percent(s.from_start)}</td><td class=n>{lost}</td></tr>"
        )
    parts.append("</table>")
    if report.pain_points:
        labels = {s.id: s.label for s in result.stages}
        parts.append("<h2>Pain points</h2><ul>")
        for pain in report.pain_points:
            reasons = "; ".join(e(r) for r in pain.reasons)
            parts.append(f"<li><b>{e(labels[pain.from_stage])} → {e(labels[pain.stage])}</b>: {reasons}</li>")
        parts.append("</ul>")
    parts.append(
        f"<h2>Changes</h2><table><tr><th>Metric</th><th class=n>{e(now.period.label)}</th>"
        f"<th class=n>{e(before.period.label)}</th><th class=n>Change</th><th></th><th>Verdict</th></tr>"
    )
    for c in report.changes:
        css = " ".join(_moved(c))
        parts.append(
            f'<tr class="{css}"><td>{e(c.label)}</td><td class=n>{format_value(c.current, c.kind)}</td>'
            f"<td class=n>{format_value(c.previous, c.kind)}</td>"
            f"<td class=n>{format_change(c.change, c.relative_change, c.kind)}</td>"
            f"<td>{arrow(c.direction, c.change)}</td><td>{verdict(c)}</td></tr>"
        )
    parts.append("</table>")
    if result.breakdowns:
        parts.append("<h2>Breakdowns</h2>")
        parts += _breakdown_tables(report)
    parts.append('<h2>Trend</h2><div class="chart" id="trend-chart">')
    rates = [(label, values) for label, values, kind in trend_rows(report) if kind == "rate"]
    conversions = [(label, values) for label, values in rates if label.startswith("→ ")]
    others = [(label, values) for label, values in rates if not label.startswith("→ ")]
    parts.append(trend_svg(report.trend, conversions, "step conversion (%)"))
    parts.append('</div><div class="chart" id="rates-chart">')
    parts.append(trend_svg(report.trend, others, "rate (%)"))
    parts.append("</div>")
    parts.append(_trend_table(report))
    if result.bounce_by_landing_channel:
        parts.append(
            "<h2>Bounce by landing channel</h2><table><tr><th>Channel</th><th class=n>Sessions</th>"
            "<th class=n>Bounce rate</th></tr>"
        )
        parts += [
            f"<tr><td>{e(g.value)}</td><td class=n>{g.sessions:,}</td>"
            f"<td class=n>{percent(g.bounce_rate)}</td></tr>"
            for g in result.bounce_by_landing_channel
        ]
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _breakdown_tables(report: Report) -> list[str]:
    """As in Markdown: per breakdown a row per value and the overall row, the conversion change
    coloured better or worse (bold when significant, which only the overall row can be)."""
    parts = []
    head = ["", *[" class=n"] * 6, "", ""]  # the numbers right-aligned
    for breakdown, rows in breakdown_rows(report):
        parts += [f"<h3>By {e(breakdown.column)}</h3>", f"<p>{breakdown_intro(report, breakdown, e)}</p>"]
        titles = breakdown_header(report, breakdown, e)
        parts.append(
            "<table><tr>" + "".join(f"<th{a}>{t}</th>" for a, t in zip(head, titles, strict=True)) + "</tr>"
        )
        for row in rows:
            conversion = row.conversion
            css = _moved(conversion)
            moved = f' class="{" ".join(css)}"' if css else ""
            cells = [" class=n"] * 5 + [f' class="{" ".join(["n", *css])}"', moved, ""]
            value = "<b>overall</b>" if row.value is None else e(row.value)
            parts.append(
                f"<tr><td>{value}</td>"
                + "".join(
                    f"<td{a}>{c}</td>" for a, c in zip(cells, breakdown_cells(breakdown, row), strict=True)
                )
                + "</tr>"
            )
        parts.append("</table>")
        if note := missing_value_note(rows):
            parts.append(f"<p>{note}</p>")
    return parts


def _trend_table(report: Report) -> str:
    head = "".join(f"<th class=n>{e(p.label)}{'' if p.complete else '*'}</th>" for p in report.trend)
    rows = [f"<table><tr><th>Metric</th>{head}</tr>"]

    def row(label: str, values: list[float | None], kind: str) -> None:
        cells = "".join(f"<td class=n>{format_value(v, kind)}</td>" for v in values)
        rows.append(f"<tr><td>{e(label)}</td>{cells}</tr>")

    for label, values, kind in trend_rows(report):
        row(label, values, kind)
    rows.append("</table>")
    if any(not p.complete for p in report.trend):
        rows.append("<p>* window still open: the numbers may still rise.</p>")
    return "\n".join(rows)
