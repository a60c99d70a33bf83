"""Plain tables for ``journeyctl events`` and ``journeyctl validate`` (data text made safe)."""

from __future__ import annotations

import io
from datetime import datetime

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from journeyctl.onboarding import MAPPED_ROLES, EventsProfile, Validation
from journeyctl.render.text import percent, plural, safe, text_console


def _when(moment: datetime | None) -> str:
    return "–" if moment is None else moment.isoformat(sep=" ", timespec="minutes")[:16]


def _map_hint(role: str) -> Text:
    return Text(
        f"  Map the column that holds {MAPPED_ROLES[role]} with `columns.{role}` in the journey YAML."
    )


def _either(names: list[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    *rest, last = names
    return f"{', '.join(rest)} or {last}" if rest else last


def _rows(part: int, rows: int) -> str:
    return "every row" if part == rows else f"{part:,} of {plural(rows, 'row')}"


def _overview(profile: EventsProfile) -> Text:
    parts = [f"{plural(profile.rows, 'row')} in {plural(len(profile.files), 'file')}"]
    if profile.users is not None:
        parts.append(plural(profile.users, "user"))
    if profile.first_seen is not None:
        parts.append(f"from {_when(profile.first_seen)} to {_when(profile.last_seen)} UTC")
    return Text(", ".join(parts), style="bold")


def _notes(profile: EventsProfile) -> list[Text]:
    """What the profile could not recognise or read, each with the key that fixes it."""
    notes: list[Text] = []
    if len(profile.columns) == 1:
        notes.append(
            Text("Only one column: if its lines hold more fields, give their delimiter with --delimiter.")
        )
    if profile.unrecognised:
        roles = _either(profile.unrecognised)
        has = "the file has" if len(profile.files) == 1 else "the files have"
        names = ", ".join(safe(c.column) for c in profile.columns)
        notes.append(Text(f"No {roles} column recognised; {has}: {names}"))
        notes += [_map_hint(role) for role in profile.unrecognised]
    for gap in profile.files_lacking_columns:
        missing = _either([safe(c) for c in gap.missing])
        them = "it" if len(gap.missing) == 1 else "them"
        notes.append(Text(f"{safe(gap.file)} has no {missing} column: its rows are profiled without {them}"))
    if profile.files_lacking_columns:
        notes.append(Text("  A journey maps the same column names in every file: rename them in the export."))
    for col in profile.empty_role_columns():
        where = _rows(col.empty, profile.rows)
        notes += [Text(f"The {col.role} column {safe(col.column)} is empty on {where}"), _map_hint(col.role)]
    if profile.unparsed_times:
        time = next(safe(c.column) for c in profile.columns if c.role == "time")
        notes += [
            Text(f"The time column {time} does not parse on {_rows(profile.unparsed_times, profile.rows)}"),
            Text(
                "  If those rows hold times, set `time_format` in the journey YAML to their strftime"
                " layout, e.g. '%d/%m/%Y %H:%M'."
            ),
        ]
    return notes


def _event_listing(profile: EventsProfile) -> list[Text | Table]:
    """The Events heading and table, and a line counting the events not listed."""
    events = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for header in ("Event", "Rows", "Users", "First seen", "Last seen"):
        events.add_column(header, justify="left" if header == "Event" else "right", no_wrap=True)
    for event in profile.events:
        events.add_row(
            Text(safe(event.event)),
            f"{event.rows:,}",
            "–" if event.users is None else f"{event.users:,}",
            _when(event.first_seen),
            _when(event.last_seen),
        )
    more = profile.distinct_events - len(profile.events)
    unlisted = [Text(f"… and {plural(more, 'less frequent event')}, not listed")] if more else []
    return [Text(f"Events ({profile.distinct_events:,})", style="bold"), events, *unlisted]


def render_events(profile: EventsProfile, *, width: int = 120) -> str:
    """The overview line, the columns with their roles, the notes on what was not recognised,
    and the events (left out when there is no event column)."""
    columns = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for header, justify in (
        ("Column", "left"),
        ("Role", "left"),
        ("Distinct", "right"),
        ("Empty", "right"),
        ("Example", "left"),
    ):
        columns.add_column(header, justify=justify, no_wrap=True, max_width=40)  # type: ignore[arg-type]
    for col in profile.columns:
        example = Text(safe(col.example or ""))
        columns.add_row(Text(safe(col.column)), col.role, f"{col.distinct:,}", f"{col.empty:,}", example)
    listing = [] if "event" in profile.unrecognised else _event_listing(profile)
    out = io.StringIO()
    text_console(out, width=width, color=False).print(
        Group(_overview(profile), Text("Columns", style="bold"), columns, *_notes(profile), *listing)
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
