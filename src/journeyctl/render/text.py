"""Formatting shared by the text renderers: percentages, counts, safe terminal text."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO, cast

from rich.console import Console

from journeyctl.breakdown import q_text
from journeyctl.check import Unit
from journeyctl.check import format_value as unit_value
from journeyctl.compare import ValueChange, breakdown_changes
from journeyctl.config.durations import format_duration

if TYPE_CHECKING:
    from journeyctl.compare import MetricChange
    from journeyctl.report import Report
    from journeyctl.result import AnalysisResult, Breakdown

# C0/C1 controls (ESC starts terminal escape sequences) and the bidirectional overrides and
# isolates, which reorder what the reader sees (U+202A-202E, U+2066-2069)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

__all__ = [
    "against_text",
    "arrow",
    "attribution_text",
    "breakdown_cells",
    "breakdown_header",
    "breakdown_intro",
    "breakdown_rows",
    "breakdown_verdict",
    "control_absent",
    "format_change",
    "format_duration",
    "format_value",
    "headlines",
    "missing_value_note",
    "percent",
    "plural",
    "safe",
    "sparkline",
    "text_console",
    "trend_rows",
    "verdict",
    "visible",
]


def safe(text: str) -> str:
    """Text from the data or the config with control and escape characters removed, so a
    value can never move the cursor, recolour or retitle the reader's terminal."""
    return _CONTROL.sub("", text.replace("\t", " ").replace("\n", " "))


def visible(text: str) -> str:
    """A message for the terminal with the control characters of ``safe`` shown as escapes
    (``\x1b``), line breaks kept: an error quoting a header or a value shows what is there
    without letting it act on the terminal."""
    return _CONTROL.sub(lambda found: found.group().encode("unicode_escape").decode(), text)


def percent(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun if count == 1 else noun + 's'}"


def units_text(count: int, unit: str) -> str:
    """A count of the result's unit (``users``, ``sessions``, ``entries``, ``cart values``)."""
    if count == 1:
        unit = unit[:-3] + "y" if unit.endswith("ies") else unit.removesuffix("s")
    return f"{count:,} {unit}"


SPARKS = "▁▂▃▄▅▆▇█"


def format_value(value: float | None, kind: str) -> str:
    """A metric as people read it: rates in %, durations as 2h 5m, counts with separators."""
    return unit_value(value, "duration" if kind == "duration_s" else cast(Unit, kind))


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


VERDICT = {"better": "better", "worse": "worse", "same": "unchanged", "n/a": "–"}


def verdict(change: MetricChange) -> str:
    """better / worse / unchanged, and whether the change is significant when it was tested."""
    word = VERDICT[change.direction]
    if change.significant:
        return f"{word}, significant"
    if change.test is not None and change.direction in ("better", "worse"):
        return f"{word}, not significant"
    return word


def headlines(report: Report, escape: Callable[[str], str]) -> list[str]:
    """Overall conversion, then every significant change (or a line saying there is none);
    labels pass through ``escape`` for the medium."""
    overall = next(c for c in report.changes if c.metric == "overall_conversion")
    out = [
        f"Overall conversion {format_value(overall.current, 'rate')} "
        f"({format_change(overall.change, None, 'rate')} against {report.comparison.period.label}, "
        f"{verdict(overall)})"
    ]
    significant = [c for c in report.changes if c.significant]
    out += [
        f"{escape(c.label)}: {format_value(c.current, c.kind)} against {format_value(c.previous, c.kind)}, "
        f"significantly {c.direction} (q = {c.q_value:.3g})"
        for c in significant
    ]
    if not significant:
        out.append("No significant change in any rate.")
    return out


def trend_rows(report: Report) -> list[tuple[str, list[float | None], str]]:
    """(label, one value per trend period, kind) for the trend tables."""
    trend, stages = report.trend, report.current.result.stages
    rows: list[tuple[str, list[float | None], str]] = [
        (f"Entered ({stages[0].label})", [p.entered for p in trend], "count")
    ]
    rows += [(f"→ {s.label}", [p.conversion[s.id] for p in trend], "rate") for s in stages[1:]]
    rows += [
        ("Overall conversion", [p.overall_conversion for p in trend], "rate"),
        ("Sessions", [p.sessions for p in trend], "count"),
        ("Bounce rate", [p.bounce_rate for p in trend], "rate"),
        ("Cart abandonment", [p.cart_abandonment_rate for p in trend], "rate"),
        ("Checkout abandonment", [p.checkout_abandonment_rate for p in trend], "rate"),
    ]
    return rows


def attribution_text(result: AnalysisResult, breakdown: Breakdown, escape: Callable[[str], str]) -> str:
    """Which row gives a unit its value: ``first touch``, ``last touch`` or ``value at <stage>``."""
    rules = {"first_touch": "first touch", "last_touch": "last touch"}
    stage = breakdown.attribution
    return rules.get(stage) or f"value at {escape(result.stage(stage).label)}"


def against_text(breakdown: Breakdown) -> str:
    """What each value is tested against: ``the rest``, or ``column=control`` (not escaped)."""
    return "the rest" if breakdown.control is None else f"{breakdown.column}={breakdown.control}"


MISSING_VALUE = (
    "A – for a period: the value is not among that period's values (nobody with it entered "
    "then, or it was folded into (other)), so it has no change."
)


def breakdown_rows(report: Report) -> list[tuple[Breakdown, list[ValueChange]]]:
    """Each breakdown of the current period with a row per value (``compare.breakdown_changes``
    against the comparison period's breakdown of the same column) and last the row of every
    unit, whose changes are the report's own (tested) ones."""
    now, before = report.current.result, report.comparison.result
    last = now.stages[-1].id
    changes = {c.metric: c for c in report.changes}
    overall = ValueChange(
        value=None,
        entered=now.stages[0].users,
        reached=changes[f"stages.{last}.users"],
        conversion=changes["overall_conversion"],
        against=None,
    )
    previous = {b.column: b for b in before.breakdowns}
    return [
        (b, [*breakdown_changes(b, previous.get(b.column), last_stage=last), overall]) for b in now.breakdowns
    ]


def breakdown_intro(report: Report, breakdown: Breakdown, escape: Callable[[str], str]) -> str:
    """The sentence above a breakdown's table in the report: what its columns count."""
    now, before = report.current, report.comparison
    stages = now.result.stages
    folded = (
        f" {plural(breakdown.folded_values, 'value')} beyond the top {breakdown.top} are in (other)."
        if breakdown.folded_values
        else ""
    )
    against = escape(against_text(breakdown))
    if control_absent(breakdown):
        tested = f"{against} does not occur in {now.period.label}: nothing is tested."
    else:
        tested = (
            f"each value's conversion in {now.period.label} tested against {against}, "
            f"no test below {breakdown.min_sample} {escape(now.result.unit)} per group."
        )
    return (
        f"{escape(now.result.unit.capitalize())} entering in {now.period.label} by "
        f"{escape(breakdown.column)} ({attribution_text(now.result, breakdown, escape)}): how many "
        f"reached {escape(stages[-1].label)}, and their conversion ({escape(stages[0].label)} → "
        f"{escape(stages[-1].label)}) against {before.period.label}; a value's changes are not "
        f"tested. Last column: {tested}{folded}"
    )


def breakdown_verdict(breakdown: Breakdown, row: ValueChange) -> str:
    """The current period's test of a value's conversion: ``worse, significant (q=0.003)``,
    ``not significant``, ``control``, or ``–`` when it was not tested."""
    test = row.against
    if breakdown.control is not None and row.value == breakdown.control and row.entered is not None:
        return "control"
    if test is None or test.test is None:
        return "–"
    if test.significant and test.q_value is not None:
        return f"{test.direction}, significant ({q_text(test.q_value)})"
    return "not significant"


def breakdown_header(report: Report, breakdown: Breakdown, escape: Callable[[str], str]) -> list[str]:
    """The head of a breakdown's table in the report: the column's name above the values, then
    a title per cell of ``breakdown_cells`` (the arrow's is empty)."""
    last, before = report.current.result.stages[-1].label, report.comparison.period.label
    return [
        escape(breakdown.column),
        "Entered",
        f"Reached {escape(last)}",
        "Change",
        "Conversion",
        escape(before),
        "Change",
        "",
        f"Against {escape(against_text(breakdown))}",
    ]


def breakdown_cells(breakdown: Breakdown, row: ValueChange) -> list[str]:
    """A value's row of a breakdown's table after the value itself: units entered, reaching the
    last stage and that change, the conversion in both periods, its change in percentage points
    with ▲/▼, and the current period's test (``breakdown_verdict``); ``–`` where undefined."""
    reached, conversion = row.reached, row.conversion
    return [
        format_value(row.entered, "count"),
        format_value(reached.current, "count"),
        format_change(reached.change, reached.relative_change, "count"),
        percent(conversion.current),
        percent(conversion.previous),
        format_change(conversion.change, None, "rate"),
        arrow(conversion.direction, conversion.change),
        breakdown_verdict(breakdown, row),
    ]


def missing_value_note(rows: list[ValueChange]) -> str | None:
    """The note under a breakdown's table when a value is missing from a period, else None."""
    if any(row.entered is None or row.conversion.previous is None for row in rows):
        return MISSING_VALUE
    return None


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


def control_absent(breakdown: Breakdown) -> bool:
    """Whether the breakdown names a control value that none of its values is: nothing tested."""
    return breakdown.control is not None and all(v.value != breakdown.control for v in breakdown.values)
