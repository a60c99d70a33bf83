"""Formatting shared by the text renderers: percentages, counts, safe terminal text."""

from __future__ import annotations

import re
from typing import TextIO

from rich.console import Console

from journeyctl.config.durations import format_duration

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

__all__ = ["format_duration", "percent", "plural", "safe", "text_console"]


def safe(text: str) -> str:
    """Text from the data or the config with control and escape characters removed, so a
    value can never move the cursor, recolour or retitle the reader's terminal."""
    return _CONTROL.sub("", text.replace("\t", " ").replace("\n", " "))


def percent(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun if count == 1 else noun + 's'}"


def text_console(out: TextIO, *, width: int | None, color: bool) -> Console:
    """A Rich console writing to ``out`` at a fixed width (120 by default); colour only when
    asked, and no highlighting or emoji codes that would reinterpret data."""
    return Console(
        file=out,
        width=width or 120,
        force_terminal=color,
        color_system="standard" if color else None,
        no_color=not color,
        highlight=False,
        emoji=False,
    )
