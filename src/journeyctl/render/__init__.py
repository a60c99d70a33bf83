"""Renderers: an ``AnalysisResult`` or a ``CheckReport`` → text in one format. They only format;
they never compute."""

from __future__ import annotations

from enum import StrEnum

from journeyctl.check import CheckReport
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


def render_report(
    report: CheckReport, fmt: CheckFormat, *, width: int | None = None, color: bool = False
) -> str:
    """A KPI check as text in ``fmt``; ``width`` and ``color`` only affect the table."""
    if fmt is CheckFormat.json:
        from journeyctl.render.json import render_report_json

        return render_report_json(report)
    from journeyctl.render.verdicts import render_verdicts

    return render_verdicts(report, width=width, color=color)
