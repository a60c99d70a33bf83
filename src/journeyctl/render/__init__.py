"""Renderers: an ``AnalysisResult`` → text in one format. They only format; they never compute."""

from __future__ import annotations

from enum import StrEnum

from journeyctl.result import AnalysisResult


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


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
