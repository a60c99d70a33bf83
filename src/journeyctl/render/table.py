"""The terminal view: a Rich funnel table, a block of session and cart metrics, a headline."""

from __future__ import annotations

import io
from datetime import datetime

from rich import box
from rich.console import Console, Group
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from journeyctl.check import bound_text
from journeyctl.check import format_value as unit_value
from journeyctl.render.text import (
    against_text,
    arrow,
    attribution_text,
    breakdown_cells,
    breakdown_header,
    breakdown_intro,
    breakdown_rows,
    control_absent,
    format_change,
    format_duration,
    format_value,
    headlines,
    missing_value_note,
    percent,
    plural,
    safe,
    sparkline,
    text_console,
    trend_rows,
    units_text,
    verdict,
)
from journeyctl.report import Report
from journeyctl.result import AnalysisResult, Breakdown, SegmentTest

BAR_WIDTH = 12
SHORT = {
    "drop_off_limit": "drop-off",
    "biggest_leak": "biggest leak",
    "slowest_transition": "slowest",
    "conversion_fell": "conversion fell",
    "segment_worse": "segment worse",
}
SIGNIFICANT = {"better": "▲", "worse": "▼"}


def moved_style(direction: str, *, significant: bool) -> str:
    """Green for better, red for worse, bold when significant; no style otherwise."""
    colour = {"better": "green", "worse": "red"}.get(direction, "")
    return f"{colour} bold" if colour and significant else colour


def render_table(result: AnalysisResult, *, width: int | None = None, color: bool = False) -> str:
    out = io.StringIO()
    console = text_console(out, width=width, color=color)
    parts: list[Text | Table | Group] = [_title(result)]
    if result.filters.applied:
        parts.append(_scope(result))
    parts.append(_funnel(result, width or 120))
    if any(s.pending for s in result.stages):
        parts.append(_pending_note(result))
    if result.pain_points:
        parts.append(_pain_points(result))
    if result.exclusions:
        parts.append(_exclusions(result))
    for index, breakdown in enumerate(result.breakdowns):
        parts += [Text("")] if index else []
        parts += _breakdown(result, breakdown)
    if result.after_drop_off is not None:
        parts.append(_after_drop_off(result))
    parts += [_metrics(result), _headline(result)]
    if result.data_quality.has_findings:
        parts.append(_data_quality(result))
    console.print(Group(*parts))
    return out.getvalue()


def _title(result: AnalysisResult) -> Text:
    span = ""
    if result.first_event_at and result.last_event_at:
        span = f" · {result.first_event_at:%Y-%m-%d} → {result.last_event_at:%Y-%m-%d}"
    title = Text(safe(result.journey), style="bold")
    title.append(
        f" — {plural(result.users, 'user')} · {plural(result.events, 'event')}{span}"
        f" · {result.order} funnel, window {format_duration(result.window_s)}, counting {safe(result.unit)}",
        style="dim",
    )
    if result.order == "any":
        title.append(
            "\nany order: row k counts the units that did k of the stages, in any order", style="dim"
        )
    return title


def _funnel(result: AnalysisResult, width: int) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1, 0, 0))
    show_bar = width >= 112
    show_flags = width >= 90  # narrower: the pain-point block below the table says it all
    has_pending = any(s.pending for s in result.stages)
    table.add_column("Stage", no_wrap=True, max_width=28)
    table.add_column(Text(safe(result.unit.capitalize())), justify="right", no_wrap=True)
    if show_bar:
        table.add_column("", no_wrap=True)
    for header in ("Step", "From start", "Lost"):
        table.add_column(header, justify="right", no_wrap=True)
    if has_pending:
        table.add_column("Pending", justify="right", no_wrap=True)
    for header in ("Drop-off", "Median"):
        table.add_column(header, justify="right", no_wrap=True)
    if show_flags:
        table.add_column("Pain point", min_width=10)
    top = max((s.users for s in result.stages), default=0)
    kinds = {p.stage: p.kinds for p in result.pain_points}
    for stage in result.stages:
        filled = round(BAR_WIDTH * stage.users / top) if top else 0
        row: list[str | Text] = [
            Text(safe(stage.label), style="bold red" if stage.pain_point else "bold"),
            f"{stage.users:,}",
        ]
        if show_bar:
            row.append(Text("█" * filled + "·" * (BAR_WIDTH - filled), style="cyan"))
        row += [
            percent(stage.conversion),
            percent(stage.from_start),
            "–" if stage.lost is None else f"{stage.lost:,}",
        ]
        if has_pending:
            row.append(f"{stage.pending:,}" if stage.pending else "")
        row += [percent(stage.drop_off), format_duration(stage.median_time_to_convert_s)]
        if show_flags:
            flags = dict.fromkeys(kinds.get(stage.id, []))  # one word per kind, however many segments
            row.append(Text(", ".join(SHORT[k] for k in flags), style="bold red"))
        table.add_row(*row)
    return table


def _scope(result: AnalysisResult) -> Text:
    """One line naming what the numbers are limited to (--where, --since, --until)."""
    filters, facts = result.filters, []
    if filters.where:
        facts.append("where " + " and ".join(safe(w) for w in filters.where))
    bounds = [f"from {_moment(filters.since)}"] if filters.since is not None else []
    bounds += [f"before {_moment(filters.until)}"] if filters.until is not None else []
    if bounds:
        facts.append("entries " + ", ".join(bounds))
    return Text("Filtered: " + " · ".join(facts), style="dim")


def _moment(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} {moment.tzname() or ''}".rstrip()


def _pending_note(result: AnalysisResult) -> Text:
    use = (
        "left out of Step, From start, Lost and Drop-off (--exclude-pending)"
        if result.exclude_pending
        else "counted in Lost; --exclude-pending leaves them out"
    )
    end = "" if result.last_event_at is None else f" ({result.last_event_at:%Y-%m-%d %H:%M})"
    text = Text("Pending", style="bold")
    text.append(
        f" = {safe(result.unit)} not at the stage yet whose window is still open at the end of the data{end},"
        f" so they may still convert: {use}.",
        style="dim",
    )
    return text


def _after_drop_off(result: AnalysisResult) -> Group:
    after = result.after_drop_off
    assert after is not None
    stage, next_stage = result.stage(after.stage), result.stage(after.next_stage)
    gap = "" if result.pain_points and not result.breakdowns else "\n"  # pain points end with one
    title = Text(f"{gap}After {safe(stage.label)}, not {safe(next_stage.label)}", style="bold")
    dropped = units_text(after.units, safe(result.unit))
    title.append(f": the next event of {dropped} who dropped off" if after.units else ": nobody dropped off")
    if after.pending:
        title.append(f" ({after.pending:,} pending left out)", style="dim")
    if not after.units:
        return Group(title, Text(""))
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1, 0, 0))
    table.add_column("Next event", max_width=40)
    table.add_column(Text(safe(result.unit.capitalize())), justify="right", no_wrap=True)
    table.add_column("Share", justify="right", no_wrap=True)
    for line in after.next_events:
        label = {
            "event": Text(safe(line.event or "")),
            "none": Text("(no further events)", style="italic"),
            "other": Text("(other events)", style="italic"),
        }[line.kind]
        table.add_row(label, f"{line.units:,}", percent(line.share))
    return Group(title, table, Text(""))


def _pain_points(result: AnalysisResult) -> Text:
    lines = Text("Pain points\n", style="bold")
    for pain in result.pain_points:
        stage, before = result.stage(pain.stage), result.stage(pain.from_stage)
        lines.append("  ▲ ", style="red")
        lines.append(f"{safe(before.label)} → {safe(stage.label)}", style="bold")
        lines.append(f": {safe('; '.join(pain.reasons))}\n")
    return lines


def _breakdown(result: AnalysisResult, breakdown: Breakdown) -> list[Text | Table]:
    """A breakdown as a compact table: a row per value and the overall row, a column per
    stage with units and conversion from the start, ▼/▲ on a significant step."""
    rule = attribution_text(result, breakdown, safe)
    against = against_text(breakdown)
    title = Text(f"By {safe(breakdown.column)}", style="bold")
    title.append(f" ({rule}; ▼/▲ significantly worse/better than {safe(against)})", style="dim")
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1, 0, 0))
    table.add_column(Text(safe(breakdown.column)), max_width=28, overflow="fold")
    for stage in result.stages:
        table.add_column(Text(safe(stage.label)), justify="right")  # narrow: "units" over "%"
    for index, value in enumerate(breakdown.values):
        cells = [_cell(s.users, s.from_start, s.significance) for s in value.stages]
        cells[0] = Text(f"{value.users:,}")  # every row starts at 100%
        last = index == len(breakdown.values) - 1
        table.add_row(Text(safe(value.value), style="bold"), *cells, end_section=last)
    overall = [_cell(s.users, s.from_start, None) for s in result.stages]
    table.add_row(Text("overall", style="bold"), Text(f"{result.stages[0].users:,}"), *overall[1:])
    parts: list[Text | Table] = [title, table]
    notes = []
    if breakdown.folded_values:
        notes.append(f"{plural(breakdown.folded_values, 'value')} beyond the top {breakdown.top} in (other)")
    if control_absent(breakdown):
        notes.append(f"{safe(against)} does not occur: nothing is tested")
    else:
        notes.append(f"no test below {breakdown.min_sample} {safe(result.unit)} per group")
    parts.append(Text(" · ".join(notes), style="dim"))
    return parts


def _cell(units: int, from_start: float | None, test: SegmentTest | None) -> Text:
    cell = Text(f"{units:,} {percent(from_start)}")
    if test is not None and test.significant:
        cell.append(SIGNIFICANT[test.direction], style=moved_style(test.direction, significant=True))
    return cell


def _metrics(result: AnalysisResult) -> Text:
    lines = Text()
    lines.append("Sessions ", style="bold")
    lines.append(f"{result.sessions:,} · bounce rate {percent(result.bounce_rate)} ({result.bounce_rule})\n")
    if result.carts or result.checkouts:
        lines.append("Carts ", style="bold")
        lines.append(
            f"{result.carts:,} · {percent(result.cart_abandonment_rate)} abandoned"
            f" · checkouts {result.checkouts:,} · {percent(result.checkout_abandonment_rate)} abandoned\n"
        )
    if result.buyers:
        lines.append("Repeat purchase ", style="bold")
        buyers = plural(result.buyers, "buyer")
        lines.append(f"{percent(result.repeat_purchase_rate)} of {buyers} ({result.repeat_rule})\n")
    return lines


def _headline(result: AnalysisResult) -> Text:
    first, last = result.stages[0], result.stages[-1]
    text = Text("Overall conversion ", style="bold")
    text.append(f"{percent(result.overall_conversion)}", style="bold green")
    text.append(f" ({safe(first.label)} → {safe(last.label)})")
    if result.biggest_leak:
        leak = result.stage(result.biggest_leak)
        index = result.stages.index(leak)
        before = result.stages[index - 1]
        text.append(" · biggest leak: ", style="bold")
        text.append(f"{safe(before.label)} → {safe(leak.label)}", style="bold red")
        text.append(f", {units_text(leak.lost or 0, safe(result.unit))} lost ({percent(leak.drop_off)})")
    return text


def _exclusions(result: AnalysisResult) -> Text:
    unit = safe(result.unit)
    text = Text("Exclusions ", style="bold")
    if result.on_exclusion == "drop_user":
        text.append(f"(drop_user): {units_text(result.excluded_units, unit)} removed from every stage")
    else:
        text.append(f"(keep_best): {units_text(result.excluded_units, unit)} kept a lower, clean level")
    for rule in result.exclusions:
        events = ", ".join(safe(e) for e in rule.events)
        between = " and ".join(safe(b) for b in rule.between)
        text.append(f"\n  {events} between {between}: touched {units_text(rule.units_touched, unit)}")
    return text


def _data_quality(result: AnalysisResult) -> Text:
    quality = result.data_quality
    facts = []
    if quality.bad_rows:
        facts.append(f"{plural(quality.bad_rows, 'bad row')} left out ({quality.bad_rows_policy})")
    if quality.duplicate_events:
        dropped = "dropped" if quality.duplicates_dropped else "kept; --dedupe drops them"
        facts.append(f"{plural(quality.duplicate_events, 'duplicate event')} ({dropped})")
    if quality.events_in_future:
        facts.append(f"{plural(quality.events_in_future, 'event')} in the future")
    if quality.events_before_plausible_epoch:
        facts.append(f"{plural(quality.events_before_plausible_epoch, 'event')} before 2000-01-01")
    text = Text("\nData quality ", style="bold yellow")
    text.append(f"{plural(quality.rows_read, 'row')} read · " + " · ".join(facts))
    return text


def _report_breakdowns(report: Report, console: Console) -> list[Text | Table]:
    """As in Markdown: per breakdown the sentence saying what its columns count, a row per value
    and the overall row, the conversion change green or red (bold when significant, which only
    the overall row can be), a significant test against the rest in its colour."""
    parts: list[Text | Table] = []
    for index, (breakdown, rows) in enumerate(breakdown_rows(report)):
        gap = [] if index == 0 and report.pain_points else [Text("")]  # pain points end with one
        parts += [*gap, Text(f"By {safe(breakdown.column)}", style="bold")]
        parts.append(Text(breakdown_intro(report, breakdown, safe), style="dim"))
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1, 0, 0))
        column, entered, reached, reached_change, *rates, against = breakdown_header(report, breakdown, safe)
        table.add_column(Text(column), max_width=28, overflow="fold")
        table.add_column(Text(entered), justify="right", no_wrap=True)
        for header in (reached, reached_change):  # a long stage label, "+1 (+100.0%)": may wrap
            table.add_column(Text(header), justify="right")
        for header in rates:  # the conversions, their change, the arrow: never wrap
            table.add_column(Text(header), justify="right", no_wrap=True)
        table.add_column(Text(against), overflow="fold")
        for number, row in enumerate(rows):
            *cells, change, moved, tested = breakdown_cells(breakdown, row)
            style = moved_style(row.conversion.direction, significant=row.conversion.significant)
            test = row.against
            verdict_style = moved_style(test.direction, significant=True) if test and test.significant else ""
            value = Text("overall", style="bold") if row.value is None else Text(safe(row.value))
            table.add_row(
                value,
                *cells,
                Text(change, style=style),
                Text(moved, style=style),
                Text(tested, style=verdict_style),
                end_section=number == len(rows) - 2,  # a rule above overall
            )
        parts.append(fit_columns(table, console))
        if note := missing_value_note(rows):
            parts.append(Text(note, style="dim"))
    return [*parts, Text("")] if parts else []


FOLD_WIDTH = 8  # the narrowest a folding column gets: a long value or "variant=control" breaks


def fit_columns(table: Table, console: Console) -> Table:
    """``table`` (compact: a blank divider and one space of padding between columns, none at
    the edges) fitted to a console it is too wide for, when its wrapping columns fit at their
    longest word (a folding column at FOLD_WIDTH): they grow to their longest word, then to
    their full width, the narrowest first; the padding goes when the longest words need it.
    Rich alone shrinks the widest columns first, below their longest word, which it cuts with
    an ellipsis. A table that fits as it is, or cannot fit, is left to Rich."""
    full, words, least = [], [], []
    for column in table.columns:
        sizes = [Measurement.get(console, console.options, c) for c in (column.header, *column.cells)]
        full.append(min(max(m.maximum for m in sizes), column.max_width or console.width))
        words.append(full[-1] if column.no_wrap else min(max(m.minimum for m in sizes), full[-1]))
        least.append(min(words[-1], FOLD_WIDTH) if column.overflow == "fold" else words[-1])

    def room(padding: int) -> int:
        return console.width - (1 + padding) * (len(table.columns) - 1)

    if sum(full) <= room(1) or sum(least) > room(0):
        return table
    padding = 1 if sum(words) <= room(1) else 0
    widths = least
    for target in (words, full):
        growing = [i for i, width in enumerate(widths) if width < target[i]]
        while growing and sum(widths) < room(padding):
            widths[min(growing, key=lambda i: widths[i])] += 1
            growing = [i for i in growing if widths[i] < target[i]]
    for column, width in zip(table.columns, widths, strict=True):
        column.width = None if column.no_wrap else width
    table.padding = (0, padding, 0, 0)
    return table


def _trend(report: Report, console: Console) -> list[Text | Table]:
    """The trend table of the latest periods that fit the console without cutting a number
    (all of them when they fit; at least two), and a line naming the periods left out.
    Row labels wrap at words; the numbers, period headers and sparklines never do."""
    rows = trend_rows(report)
    labels = [Text(safe(label)) for label, _, _ in rows]
    headers = [point.label + ("" if point.complete else "*") for point in report.trend]
    cells = [[format_value(v, kind) for v in values] for _, values, kind in rows]
    word = max(Measurement.get(console, console.options, label).minimum for label in labels)
    widths = [
        max(Measurement.get(console, console.options, cell).maximum for cell in (header, *column))
        for header, column in zip(headers, zip(*cells, strict=True), strict=True)
    ]
    for shown in range(len(headers), 1, -1):  # label, periods, sparkline: two spaces apart
        if min(word, 30) + sum(widths[-shown:]) + shown + 2 * (shown + 1) <= console.width:
            break
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1, 0, 0))
    table.add_column("Trend", max_width=30)
    for header in headers[-shown:]:
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    for label, row, (_, values, _) in zip(labels, cells, rows, strict=True):
        table.add_row(label, *row[-shown:], sparkline(values[-shown:]))
    left_out = [point.label for point in report.trend[: len(headers) - shown]]
    if not left_out:
        return [table]
    periods = left_out[0] if len(left_out) == 1 else f"{left_out[0]} to {left_out[-1]}"
    note = f"{periods} left out of the trend to fit {console.width} columns (see --width)"
    return [table, Text(note, style="dim")]


def render_report_table(report: Report, *, width: int | None = None, color: bool = False) -> str:
    """The report for a terminal: headlines, the changes (green better, red worse, bold when
    significant), pain points and the trend with sparklines."""
    out = io.StringIO()
    console = text_console(out, width=width, color=color)
    now, before = report.current, report.comparison
    title = Text(f"{safe(report.journey)}: {report.period_kind} {now.period.label}", style="bold")
    title.append(f" — against {before.period.label} ({report.compare_to})", style="dim")
    parts: list[Text | Table] = [title]
    parts.append(Text("\n".join(f"• {line}" for line in headlines(report, safe))))
    changes = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1, 0, 0))
    changes.add_column("Metric", no_wrap=True, max_width=44)
    for header in (now.period.label, before.period.label, "Change", ""):
        changes.add_column(header, justify="right", no_wrap=True)
    changes.add_column("Verdict", no_wrap=True)
    for c in report.changes:
        style = moved_style(c.direction, significant=c.significant)
        changes.add_row(
            Text(safe(c.label)),
            format_value(c.current, c.kind),
            format_value(c.previous, c.kind),
            format_change(c.change, c.relative_change, c.kind),
            Text(arrow(c.direction, c.change), style=style),
            Text(verdict(c), style=style),
        )
    parts.append(changes)
    if report.kpis:
        kpis = Text("KPIs\n", style="bold")
        for kpi in report.kpis:
            style = {"PASS": "green", "WARN": "yellow"}.get(kpi.status, "bold red")
            kpis.append(f"  {safe(kpi.metric)} {unit_value(kpi.actual, kpi.unit)} ({bound_text(kpi)}): ")
            kpis.append(f"{kpi.status}\n", style=style)
        parts.append(kpis)
    if report.pain_points:
        parts.append(_pain_points(now.result.model_copy(update={"pain_points": report.pain_points})))
    parts += _report_breakdowns(report, console)
    parts += _trend(report, console)
    if any(not p.complete for p in report.trend):
        parts.append(Text("* window still open: the numbers may still rise.", style="dim"))
    console.print(Group(*parts))
    return out.getvalue()
