"""Plain tables for ``journeyctl events`` and ``journeyctl validate`` (data text made safe)."""

from __future__ import annotations

import io
from datetime import datetime

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from journeyctl.onboarding import EventsProfile, Validation
from journeyctl.render.text import percent, plural, safe, text_console


def _when(moment: datetime | None) -> str:
    return "–" if moment is None else f"{moment:%Y-%m-%d %H:%M}"


def render_events(profile: EventsProfile, *, width: int = 120) -> str:
    columns = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for header, justify in (("Column", "left"), ("Role", "left"), ("Distinct", "right"), ("Example", "left")):
        columns.add_column(header, justify=justify, no_wrap=True, max_width=40)  # type: ignore[arg-type]
    for col in profile.columns:
        columns.add_row(Text(safe(col.column)), col.role, f"{col.distinct:,}", Text(safe(col.example or "")))
    events = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for header in ("Event", "Rows", "Users", "First seen", "Last seen"):
        events.add_column(header, justify="left" if header == "Event" else "right", no_wrap=True)
    for event in profile.events:
        events.add_row(
            Text(safe(event.event)),
            f"{event.rows:,}",
            f"{event.users:,}",
            _when(event.first_seen),
            _when(event.last_seen),
        )
    title = Text(f"{plural(profile.rows, 'row')} in {plural(len(profile.files), 'file')}", style="bold")
    more = profile.distinct_events - len(profile.events)
    unlisted = [Text(f"… and {plural(more, 'less frequent event')}, not listed")] if more else []
    out = io.StringIO()
    text_console(out, width=width, color=False).print(
        Group(
            title,
            Text("Columns", style="bold"),
            columns,
            Text(f"Events ({profile.distinct_events:,})", style="bold"),
            events,
            *unlisted,
        )
    )
    return out.getvalue()


def render_validation(report: Validation, *, width: int = 120) -> str:
    stages = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for header in ("Stage", "Rows matched", "Share of rows"):
        stages.add_column(header, justify="left" if header == "Stage" else "right", no_wrap=True)
    for stage in report.stages:
        stages.add_row(Text(safe(stage.id)), f"{stage.rows:,}", percent(stage.share))
    lines = Text()
    if report.missing_events:
        lines.append("Config events missing from the data: ", style="bold")
        lines.append(", ".join(safe(e) for e in report.missing_events) + "\n")
    if report.unused_events:
        lines.append("Frequent data events used by no stage: ", style="bold")
        lines.append(", ".join(f"{safe(e.event)} ({e.rows:,} rows)" for e in report.unused_events) + "\n")
    if not report.missing_events and not report.unused_events:
        lines.append("Every config event occurs in the data, and every frequent event has a stage.\n")
    out = io.StringIO()
    text_console(out, width=width, color=False).print(
        Group(Text(f"{plural(report.rows, 'row')} checked", style="bold"), stages, lines)
    )
    return out.getvalue()
