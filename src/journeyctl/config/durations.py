"""Durations as people write them in YAML and on the command line: ``90s``, ``30m``, ``1h30m``."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(us|ms|s|m|h|d|w)")
MAX_DURATION = timedelta(days=36_500)
_WHOLE = re.compile(r"(?:\s*\d+(?:\.\d+)?\s*(?:us|ms|s|m|h|d|w))+\s*")


def parse_duration(value: object) -> timedelta:
    """A ``timedelta`` from ``"30m"``, ``"1h30m"``, ``"2.5d"``, or a number of seconds.

    Raises ``ValueError`` with the accepted forms for anything else (booleans included), and
    for a negative duration or one longer than ``MAX_DURATION`` (100 years: time spans beyond
    it would reach past the dates a timestamp can hold).
    """
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and _WHOLE.fullmatch(value):
        seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(value))
    else:
        raise ValueError(
            f"{value!r} is not a duration; write a number and a unit such as 90s, 30m, 2h, 14d, 1w"
        )
    if not 0 <= seconds <= MAX_DURATION.total_seconds():  # also refuses nan
        raise ValueError(f"{value!r} is not a duration from 0s to {duration_text(MAX_DURATION)} (100 years)")
    return value if isinstance(value, timedelta) else timedelta(seconds=seconds)


def format_duration(seconds: float | None) -> str:
    """A short human form (``"2h 5m"``, ``"45s"``, ``"1.5s"``); ``"–"`` for undefined."""
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.0f}s" if seconds == int(seconds) or seconds >= 10 else f"{seconds:.1f}s"
    parts: list[str] = []
    rest = round(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
        if len(parts) == 2:
            break
    return " ".join(parts)


def duration_text(delta: timedelta) -> str:
    """The compact YAML form of a duration, e.g. ``30m`` or ``14d``."""
    micros = round(delta.total_seconds() * 1e6)
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1), ("ms", 1e-3)):
        step = round(size * 1e6)
        if micros and micros % step == 0:
            return f"{micros // step}{unit}"
    return f"{micros}us"
