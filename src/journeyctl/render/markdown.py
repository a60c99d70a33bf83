"""``report --format markdown``: tables and a short summary that read well on code hosts and
in chat tools. Deterministic: the same report renders to the same bytes (no clock)."""

from __future__ import annotations

import html
import re

from journeyctl.check import bound_text
from journeyctl.check import format_value as unit_value
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
    sparkline,
    trend_rows,
    verdict,
)
from journeyctl.report import Report

_MARKDOWN = re.compile(r"([\\`*_{}\[\]#|~])")


def md(text: str) -> str:
    """Text from the data or the config, inert in Markdown: no markup, no HTML, no table break."""
    return _MARKDOWN.sub(r"\\\1", html.escape(safe(text), quote=False))


def render_markdown(report: Report) -> str:
    now, before = report.current, report.comparison
    lines = [
        f"# {md(report.journey)}: {report.period_kind} {now.period.label}",
        "",
        f"Compared with {before.period.label} ({report.compare_to}); calendar periods in "
        f"{md(report.timezone)}; data up to {report.observed_until:%Y-%m-%d %H:%M} UTC; "
        f"window {format_duration(now.result.window_s)}, counting {md(now.result.unit)}.",
        "",
    ]
    lines += ["## Headlines", "", *[f"- {h}" for h in headlines(report, md)], ""]
    if report.kpis:
        lines += ["## KPIs", "", f"| KPI | Bound | {now.period.label} | Verdict |", "|---|---|--:|---|"]
        for kpi in report.kpis:
            status = kpi.status.value if kpi.status == "PASS" else bold(kpi.status.value)
            actual = unit_value(kpi.actual, kpi.unit)
            lines.append(f"| {md(kpi.metric)} | {md(bound_text(kpi))} | {actual} | {status} |")
        lines.append("")
    lines += [
        "## Changes",
        "",
        "| Metric | " + f"{now.period.label} | {before.period.label} | Change | | Verdict |",
    ]
    lines.append("|---|--:|--:|--:|:-:|---|")
    for c in report.changes:
        lines.append(
            f"| {md(c.label)} | {format_value(c.current, c.kind)} | {format_value(c.previous, c.kind)} "
            f"| {format_change(c.change, c.relative_change, c.kind)} | {arrow(c.direction, c.change)} "
            f"| {bold(verdict(c)) if c.significant else verdict(c)} |"
        )
    lines += [
        "",
        "## Funnel",
        "",
        f"| Stage | {md(now.result.unit.capitalize())} | Step | From start | Lost |",
    ]
    lines.append("|---|--:|--:|--:|--:|")
    for s in now.result.stages:
        lost = "–" if s.lost is None else f"{s.lost:,}"
        lines.append(
            f"| {md(s.label)} | {s.users:,} | {percent(s.conversion)} | {percent(s.from_start)} | {lost} |"
        )
    if report.pain_points:
        lines += ["", "## Pain points", ""]
        labels = {s.id: s.label for s in now.result.stages}
        for pain in report.pain_points:
            lines.append(
                f"- **{md(labels[pain.from_stage])} → {md(labels[pain.stage])}**: "
                + "; ".join(md(r) for r in pain.reasons)
            )
    if now.result.breakdowns:
        lines += ["", "## Breakdowns", *breakdown_tables(report)]
    lines += ["", "## Trend", "", *trend_table(report), ""]
    return "\n".join(lines)


def bold(text: str) -> str:
    return f"**{text}**"


def breakdown_tables(report: Report) -> list[str]:
    """Per breakdown: the value's units entered and reaching the last stage, its conversion in
    both periods with the change, and its test against the rest; the overall row last."""
    lines = []
    for breakdown, rows in breakdown_rows(report):
        lines += ["", f"### By {md(breakdown.column)}", "", breakdown_intro(report, breakdown, md), ""]
        lines.append(
            "|"
            + "|".join(f" {title} " if title else " " for title in breakdown_header(report, breakdown, md))
            + "|"
        )
        lines.append("|---|--:|--:|--:|--:|--:|--:|:-:|---|")
        for row in rows:
            value = bold("overall") if row.value is None else md(row.value)
            lines.append(f"| {' | '.join([value, *breakdown_cells(breakdown, row)])} |")
        if note := missing_value_note(rows):
            lines += ["", note]
    return lines


def trend_table(report: Report) -> list[str]:
    rows = [f"| Metric | {' | '.join(p.label + ('' if p.complete else '*') for p in report.trend)} | Trend |"]
    rows.append("|---|" + "--:|" * len(report.trend) + "---|")
    for label, values, kind in trend_rows(report):
        cells = " | ".join(format_value(v, kind) for v in values)
        rows.append(f"| {md(label)} | {cells} | {sparkline(values)} |")
    if any(not p.complete for p in report.trend):
        rows += ["", "\\* window still open: the numbers may still rise."]
    return rows
