"""``--format csv``: one row per stage (and per breakdown value and stage), safe to open in a
spreadsheet."""

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


BREAKDOWN_COLUMNS = (
    "breakdown",
    "value",
    "against",
    "test",
    "p_value",
    "q_value",
    "significant",
    "conversion_low",
    "conversion_high",
)


def render_csv(result: AnalysisResult) -> str:
    """One row per stage; with breakdowns, then one row per breakdown value and stage, the
    stage columns for that value plus the breakdown, the value and the step's test."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    extra = BREAKDOWN_COLUMNS if result.breakdowns else ()
    writer.writerow([*COLUMNS, "pain_point_reasons", *extra])
    for stage in result.stages:
        row = stage.model_dump()
        reasons = cell("; ".join(stage.pain_point_reasons))
        writer.writerow([cell(row[c]) for c in COLUMNS] + [reasons] + [""] * len(extra))
    for breakdown in result.breakdowns:
        for value in breakdown.values:
            for step in value.stages:
                row = step.model_dump()
                test = step.significance
                interval = test.interval if test is not None and test.interval is not None else (None, None)
                tested = (
                    [test.against, test.test, test.p_value, test.q_value, test.significant]
                    if test is not None
                    else [None] * 5
                )
                writer.writerow(
                    [cell(row.get(c)) for c in COLUMNS]
                    + [""]
                    + [cell(v) for v in (breakdown.column, value.value, *tested, *interval)]
                )
    return out.getvalue()


def render_user_ids(ids: list[str]) -> str:
    """A one-column ``user_id`` CSV of ``ids`` (in the given order), formula-guarded."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["user_id"])
    writer.writerows([cell(user)] for user in ids)
    return out.getvalue()
