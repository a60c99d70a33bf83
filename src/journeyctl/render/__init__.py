"""Renderers: an ``AnalysisResult``, a ``CheckReport`` or a period ``Report`` → text in one
format. They only format; they never compute."""

from __future__ import annotations

from enum import StrEnum

from journeyctl.check import CheckReport
from journeyctl.report import Report
from journeyctl.result import AnalysisResult


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class CheckFormat(StrEnum):
    table = "table"
    json = "json"


def render(result: AnalysisResult, fmt: Format, *, width: int | None = None, color: bool = False) -> str:
    """The result as text in ``fmt``; ``width`` and ``color`` only affect the table."""
    if fmt is Format.json:
        from journeyctl.render.json import render_json

        return render_json(result)
    if fmt is Format.csv:
        from journeyctl.render.csv import render_csv

        return render_csv(result)
    from journeyctl.render.table import render_table

    return render_table(result, width=width, color=color)


class ReportFormat(StrEnum):
    table = "table"
    markdown = "markdown"
    html = "html"
    json = "json"


def render_period_report(
    report: Report, fmt: ReportFormat, *, width: int | None = None, color: bool = False
) -> str:
    """The report as text in ``fmt``; ``width`` and ``color`` only affect the table."""
    if fmt is ReportFormat.json:
        from journeyctl.render.json import render_json

        return render_json(report)
    if fmt is ReportFormat.markdown:
        from journeyctl.render.markdown import render_markdown

        return render_markdown(report)
    if fmt is ReportFormat.html:
        from journeyctl.render.html import render_html

        return render_html(report)
    from journeyctl.render.table import render_report_table

    return render_report_table(report, width=width, color=color)


def render_report(
    report: CheckReport, fmt: CheckFormat, *, width: int | None = None, color: bool = False
) -> str:
    """A KPI check as text in ``fmt``; ``width`` and ``color`` only affect the table."""
    if fmt is CheckFormat.json:
        from journeyctl.render.json import render_report_json

        return render_report_json(report)
    from journeyctl.render.verdicts import render_verdicts

    return render_verdicts(report, width=width, color=color)
