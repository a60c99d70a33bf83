"""Formatting shared by the text renderers: percentages, counts, safe terminal text."""

from __future__ import annotations

import re

from journeyctl.config.durations import format_duration

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

__all__ = ["arrow", "format_change", "format_duration", "format_value", "percent", "plural", "safe", "sparkline"]


def safe(text: str) -> str:
    """Text from the data or the config with control and escape characters removed, so a
    value can never move the cursor, recolour or retitle the reader's terminal."""
    return _CONTROL.sub("", text.replace("\t", " ").replace("\n", " "))


def percent(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun if count == 1 else noun + 's'}"


SPARKS = "▁▂▃▄▅▆▇█"


def format_value(value: float | None, kind: str) -> str:
    """A metric as people read it: rates in %, durations as 2h 5m, counts with separators."""
    if value is None:
        return "–"
    if kind == "rate":
        return percent(value)
    if kind == "duration_s":
        return format_duration(value)
    return f"{value:,.0f}"


def format_change(change: float | None, relative: float | None, kind: str) -> str:
    """``+1.2 pp``, ``−3h 10m``, ``+25 (+4.1%)``: rates change in percentage points."""
    if change is None:
        return "–"
    sign = "+" if change > 0 else "−" if change < 0 else "±"
    if kind == "rate":
        text = f"{sign}{abs(change) * 100:.1f} pp"
    elif kind == "duration_s":
        text = f"{sign}{format_duration(abs(change))}"
    else:
        text = f"{sign}{abs(change):,.0f}"
    return text if relative is None else f"{text} ({'+' if relative >= 0 else '−'}{abs(relative):.1%})"


def arrow(direction: str, change: float | None) -> str:
    """▲ or ▼ for the way the number moved (colour says better or worse), = when unchanged."""
    if change is None or direction == "n/a":
        return ""
    return "=" if change == 0 else "▲" if change > 0 else "▼"


def sparkline(values: list[float | None]) -> str:
    """One block character per value, scaled between the smallest and largest; · for none."""
    known = [v for v in values if v is not None]
    if not known:
        return "·" * len(values)
    low, high = min(known), max(known)
    span = high - low
    return "".join(
        "·" if v is None else SPARKS[0 if span == 0 else round((v - low) / span * (len(SPARKS) - 1))]
        for v in values
    )
