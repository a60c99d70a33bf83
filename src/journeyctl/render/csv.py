"""``--format csv``: one row per stage, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io

from journeyctl.render.text import safe
from journeyctl.result import AnalysisResult

COLUMNS = (
    "id",
    "label",
    "users",
    "conversion",
    "from_start",
    "lost",
    "drop_off",
    "pending",
    "median_time_to_convert_s",
    "p90_time_to_convert_s",
    "mean_time_to_convert_s",
    "min_time_to_convert_s",
    "max_time_to_convert_s",
    "median_time_from_entry_s",
    "pain_point",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> object:
    """Text loses control characters, and text a spreadsheet would run as a formula gets a
    leading ``'``; numbers pass unchanged."""
    if isinstance(value, str):
        return "'" + safe(value) if value.startswith(FORMULA_STARTS) else safe(value)
    return "" if value is None else value


def render_csv(result: AnalysisResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*COLUMNS, "pain_point_reasons"])
    for stage in result.stages:
        row = stage.model_dump()
        writer.writerow([cell(row[c]) for c in COLUMNS] + [cell("; ".join(stage.pain_point_reasons))])
    return out.getvalue()


def render_user_ids(ids: list[str]) -> str:
    """A one-column ``user_id`` CSV of ``ids`` (in the given order), formula-guarded."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["user_id"])
    writer.writerows([cell(user)] for user in ids)
    return out.getvalue()
