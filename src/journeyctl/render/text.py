"""Formatting shared by the text renderers: percentages, counts, safe terminal text."""

from __future__ import annotations

import re

from journeyctl.config.durations import format_duration

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

__all__ = ["format_duration", "percent", "plural", "safe"]


def safe(text: str) -> str:
    """Text from the data or the config with control and escape characters removed, so a
    value can never move the cursor, recolour or retitle the reader's terminal."""
    return _CONTROL.sub("", text.replace("\t", " ").replace("\n", " "))


def percent(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun if count == 1 else noun + 's'}"
