"""The ``journeyctl`` command: options → one call into ``api`` → render → exit code."""

from __future__ import annotations

import os
import shutil
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, cast

import numpy._core.multiarray
import typer

from journeyctl import __version__, api, onboarding
from journeyctl.config.loading import load_config
from journeyctl.config.models import Count, Order, Severity
from journeyctl.errors import ExitCode, JourneyctlError, UsageError
from journeyctl.followup import export_target
from journeyctl.load import STDIN
from journeyctl.output import (
    append_output,
    refuse_clashes,
    refuse_unappendable,
    refuse_unwritable,
    stdout_is_terminal,
    write_output,
)
from journeyctl.periods import PeriodKind
from journeyctl.progress import progress_display
from journeyctl.quality import BadRowPolicy, parse_bad_rows
from journeyctl.render import CheckFormat, Format, ReportFormat, render, render_period_report, render_report
from journeyctl.render.github import render_annotations, render_step_summary
from journeyctl.render.junit import render_junit
from journeyctl.render.onboarding import render_events, render_validation
from journeyctl.render.text import plural, visible
from journeyctl.result import DataQuality

# numpy asks Linux for transparent huge pages on arrays of 4 MB and more; where the kernel then
# compacts memory on the page fault (THP defrag "madvise", common on VMs) allocating a 100 MB
# array costs seconds of system time. A whole-process run at 10M events went 14.9 → 8.9 s.
_set_madvise_hugepage = getattr(numpy._core.multiarray, "_set_madvise_hugepage", None)
if _set_madvise_hugepage is not None:
    _set_madvise_hugepage(False)

app = typer.Typer(
    name="journeyctl",
    help="Funnel and drop-off analysis of customer-journey event exports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

JOURNEY_YAML = Path("journey.yaml")
EventsArgument = Annotated[
    list[str],
    typer.Argument(
        metavar="EVENTS...", help="Event files, quoted globs ('exports/*.csv'), directories, or - for stdin."
    ),
]
OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write to this file (atomically) instead of stdout."),
]
MemoryLimitOption = Annotated[
    str | None,
    typer.Option(
        "--memory-limit",
        metavar="SIZE",
        help="Working memory to stay within, e.g. 3GiB or 800MB (default: half the memory available). "
        "Inputs too large for it are analysed in user buckets through temporary Parquet files, "
        "with exactly the same result.",
    ),
]
QuietOption = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="No progress display (it only ever appears on a terminal's stderr)."),
]
OrderOption = Annotated[
    Order | None,
    typer.Option(
        "--order",
        help="Override funnel.order. ordered (default): stages in order, other events may come "
        "between; strict: no other event of the unit strictly between two consecutive steps; "
        "any: stages in any order, level = distinct stages done within one window.",
    ),
]
CountOption = Annotated[
    Count | None,
    typer.Option(
        "--count",
        help="Override funnel.count, what one number counts. users (default): each user once, "
        "at their best path; sessions: the funnel inside each session, each session counted; "
        "entries: every attempt counted (a new one starts after the last converted or expired).",
    ),
]
WidthOption = Annotated[
    int | None,
    typer.Option(
        min=20, metavar="N", help="Table width in characters, at least 20 (default: the terminal's)."
    ),
]
BadRowsOption = Annotated[
    str,
    typer.Option(
        "--bad-rows",
        help="Rows without user, event or a parseable time: fail, skip or quarantine=FILE.",
    ),
]
DedupeOption = Annotated[bool, typer.Option("--dedupe", help="Drop identical duplicate events.")]
ByOption = Annotated[
    list[str] | None,
    typer.Option(
        "--by",
        metavar="COLUMN",
        help="Break every stage down by a mapped property (replaces the config's `breakdowns:`); "
        "give it twice for the combinations of two columns.",
    ),
]
WhereOption = Annotated[
    list[str] | None,
    typer.Option(
        "--where",
        metavar="EXPR",
        help="Keep only event rows whose property passes, e.g. 'channel in (email, social)', "
        "'plan != free', 'value >= 100'; repeatable (all must pass).",
    ),
]
SinceOption = Annotated[
    str | None,
    typer.Option(
        metavar="DATE",
        help="Only funnel entries from this day's midnight (or a YYYY-MM-DDTHH:MM) on, "
        "in the config's time zone.",
    ),
]
UntilOption = Annotated[
    str | None,
    typer.Option(
        metavar="DATE",
        help="Only funnel entries through the end of this day (or before a YYYY-MM-DDTHH:MM); "
        "later steps still count.",
    ),
]
DelimiterOption = Annotated[
    str | None,
    typer.Option(help="CSV delimiter, one character, or auto to sniff it (default: the config's, or auto)."),
]
EncodingOption = Annotated[
    str | None,
    typer.Option(help="Text encoding of CSV files, e.g. latin-1 (default: the config's, else utf-8)."),
]
_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"journeyctl {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback of an internal error.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Funnel and drop-off analysis of customer-journey event exports.

    A journey YAML names the stages (awareness → interest → … → advocacy) and how event rows
    match them; journeyctl counts who reaches each stage, where they leave, and why a stage
    is a pain point. Exit codes: 0 ok, 1 a KPI failed, 2 invalid input, 3 internal error.
    """
    _state["debug"] = debug


@contextmanager
def reporting_errors() -> Iterator[None]:
    """Map errors to exit codes: ours are one plain line (+ hint) on stderr; others are bugs."""
    try:
        yield
    except JourneyctlError as err:
        typer.echo(f"error: {visible(str(err))}", err=True)  # plain text: never wrapped, never markup
        raise typer.Exit(err.exit_code) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as err:
        if _state["debug"]:
            traceback.print_exc()
        else:
            typer.echo(
                f"internal error: {type(err).__name__}: {visible(str(err))}\n"
                "  this is a bug in journeyctl; rerun with --debug for the traceback and report it",
                err=True,
            )
        raise typer.Exit(ExitCode.INTERNAL) from None


@app.command()
def analyze(
    events: EventsArgument,
    config: Annotated[
        Path, typer.Option("--config", "-c", help="Journey YAML (stages, columns, window).")
    ] = JOURNEY_YAML,
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="table for people; json or csv for tools.")
    ] = Format.table,
    output: OutputOption = None,
    width: WidthOption = None,
    bad_rows: BadRowsOption = "fail",
    dedupe: DedupeOption = False,
    by: ByOption = None,
    attribution: Annotated[
        str | None,
        typer.Option(
            help="Which row gives a user's value: first_touch (the entry, default), last_touch "
            "(the last step reached) or a stage id.",
        ),
    ] = None,
    top: Annotated[
        int | None,
        typer.Option(
            help="Show the N values with most entered users, the rest folded into (other); default 10."
        ),
    ] = None,
    control: Annotated[
        str | None,
        typer.Option(
            metavar="VALUE",
            help="Test each value against this one (an A/B control) instead of against the rest.",
        ),
    ] = None,
    where: WhereOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    exclude_pending: Annotated[
        bool,
        typer.Option(
            "--exclude-pending", help="Leave pending users (window still open) out of step conversion."
        ),
    ] = False,
    after_drop_off: Annotated[
        str | None,
        typer.Option(
            "--after-drop-off",
            metavar="STAGE",
            help="Also show what users who reached STAGE but not the next one did next.",
        ),
    ] = None,
    export_users: Annotated[
        list[str] | None,
        typer.Option(
            "--export-users",
            metavar="[KIND:]STAGE=FILE",
            help="Write the ids of the users who reached (default), dropped after, or are pending "
            "after STAGE to a CSV, e.g. dropped:consideration=lost.csv; repeatable.",
        ),
    ] = None,
    memory_limit: MemoryLimitOption = None,
    quiet: QuietOption = False,
    order: OrderOption = None,
    count: CountOption = None,
) -> None:
    """Show how many users reach each stage of the journey, and where they leave.

    Prints the funnel (users, step and cumulative conversion, users lost, pending, drop-off,
    median time to convert, pain points with reasons), then session, bounce and cart metrics.
    With --by (or `breakdowns:` in the config), a table per breakdown: stages as columns,
    values as rows, ▼/▲ where a value converts significantly worse/better than the rest at
    that step. --where filters event rows before anything is counted; --since/--until limit
    the funnel entries (later steps may fall after --until); --after-drop-off shows what
    users did after leaving at a stage; --export-users writes the users behind a number.

    Example: journeyctl analyze sample_data/store_events.csv -c configs/ecommerce.yaml --by channel

    Example: journeyctl analyze events.csv -c journey.yaml --where 'channel in (email, social)'
    --since 2026-10-01 --until 2026-10-31 --after-drop-off consideration
    """
    with reporting_errors():
        refuse_two_stdins(config, events)
        exports = [("--export-users", export_target(spec)) for spec in export_users or []]
        policy = parse_bad_rows(bad_rows)
        refuse_clashes([("-c", config), *exports, ("-o", output), quarantine_file(policy)])
        inputs = [config, *map(Path, events)]
        refuse_unwritable(output, inputs=inputs)
        with progress_display(quiet=quiet) as progress:
            result = api.analyze(
                events,
                api.with_funnel_mode(load_config(config), order=order, count=count),
                bad_rows=policy,
                dedupe=dedupe,
                by=[tuple(by)] if by else None,
                attribution=attribution,
                top=top,
                control=control,
                where=where or [],
                since=since,
                until=until,
                exclude_pending=exclude_pending,
                after_drop_off=after_drop_off,
                export_users=export_users or [],
                memory_limit=memory_limit,
                progress=progress,
            )
        to_terminal = output is None and stdout_is_terminal()
        text = render(result, fmt, width=width or _terminal_width(to_terminal), color=to_terminal)
        write_output(text, output, inputs=inputs)
        _report_skipped(result.data_quality)
        for export in result.user_exports:
            typer.echo(
                f"wrote {plural(export.users, 'user id')} ({export.selection}) to {export.path}", err=True
            )


def refuse_two_stdins(config: Path, events: list[str]) -> None:
    """Standard input holds one stream: the config or the events, not both."""
    if str(config) == STDIN and STDIN in events:
        raise UsageError(
            "-c - and the events - would both read standard input",
            where=STDIN,
            hint="give the config or the events as a file",
        )


def quarantine_file(policy: BadRowPolicy) -> tuple[str, Path | None]:
    """The file ``--bad-rows quarantine=FILE`` writes to, for ``refuse_clashes``."""
    return ("--bad-rows quarantine", policy.quarantine)


def _report_skipped(quality: DataQuality) -> None:
    if quality.bad_rows:  # never silent, even when the output goes to a file or is JSON
        typer.echo(
            f"warning: {plural(quality.bad_rows, 'bad row')} left out ({quality.bad_rows_policy})", err=True
        )


@app.command()
def check(
    events: EventsArgument,
    config: Annotated[
        Path, typer.Option("--config", "-c", help="Journey YAML with a `kpis:` list.")
    ] = JOURNEY_YAML,
    kpi: Annotated[
        list[str] | None,
        typer.Option(
            "--kpi",
            metavar="EXPR",
            help="An extra KPI, e.g. 'overall_conversion>=0.02' or 'warn:bounce_rate<=55%'; repeatable.",
        ),
    ] = None,
    fail_on: Annotated[
        Severity, typer.Option("--fail-on", help="fail: only failed KPIs fail the run; warn: warnings too.")
    ] = "fail",
    fmt: Annotated[
        CheckFormat, typer.Option("--format", "-f", help="table for people; json (versioned) for tools.")
    ] = CheckFormat.table,
    output: OutputOption = None,
    junit: Annotated[
        Path | None,
        typer.Option("--junit", metavar="FILE", help="Also write JUnit XML, one test case per KPI."),
    ] = None,
    width: WidthOption = None,
    exclude_pending: Annotated[
        bool,
        typer.Option("--exclude-pending", help="Judge rates without pending users (window still open)."),
    ] = False,
    order: OrderOption = None,
    count: CountOption = None,
    bad_rows: BadRowsOption = "fail",
    dedupe: DedupeOption = False,
    where: WhereOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    memory_limit: MemoryLimitOption = None,
    quiet: QuietOption = False,
) -> None:
    """Check the journey's KPIs against their thresholds: a CI gate.

    Exit code 0 when no KPI failed (warnings allowed), 1 when a KPI failed or cannot be
    computed, 2 for invalid input. With GITHUB_ACTIONS=true, also prints ::error/::warning
    annotations and appends a Markdown table to $GITHUB_STEP_SUMMARY. --bad-rows, --dedupe,
    --where, --since, --until and --memory-limit shape the analysis as they do for analyze.

    Example: journeyctl check exports/latest.csv -c journey.yaml --junit kpi.xml

    Example: journeyctl check events.csv -c journey.yaml --where 'channel = email' --since 2026-10-01
    """
    with reporting_errors():
        refuse_two_stdins(config, events)
        inputs = [config, *map(Path, events)]
        policy = parse_bad_rows(bad_rows)
        refuse_clashes([("-c", config), ("--junit", junit), ("-o", output), quarantine_file(policy)])
        for path in (junit, output):
            refuse_unwritable(path, inputs=inputs)
        on_github = os.environ.get("GITHUB_ACTIONS") == "true"
        summary = os.environ.get("GITHUB_STEP_SUMMARY") if on_github else None
        if summary:  # refused before the analysis, not after the verdicts are printed
            refuse_unappendable(Path(summary), name="GITHUB_STEP_SUMMARY")
        journey = api.with_funnel_mode(load_config(config), order=order, count=count)
        with progress_display(quiet=quiet) as progress:
            report = api.check(
                events,
                journey,
                kpis=kpi or [],
                fail_on=fail_on,
                exclude_pending=exclude_pending,
                bad_rows=policy,
                dedupe=dedupe,
                where=where or [],
                since=since,
                until=until,
                memory_limit=memory_limit,
                progress=progress,
            )
        to_terminal = output is None and stdout_is_terminal()
        text = render_report(report, fmt, width=width or _terminal_width(to_terminal), color=to_terminal)
        if junit is not None:
            write_output(render_junit(report), junit, inputs=inputs)
        write_output(text, output, inputs=inputs)
        _report_skipped(report.data_quality)
        if on_github:
            # workflow commands are read from stdout and stderr alike; keep stdout parseable
            stream = sys.stderr if fmt is CheckFormat.json and output is None else sys.stdout
            stream.write(render_annotations(report))
            stream.flush()
            if summary:
                append_output(render_step_summary(report), Path(summary))
    raise typer.Exit(report.exit_code)


@app.command()
def report(
    events: EventsArgument,
    config: Annotated[
        Path, typer.Option("--config", "-c", help="Journey YAML (stages, columns, window).")
    ] = JOURNEY_YAML,
    period: Annotated[
        str, typer.Option(help="Calendar period: day, week (ISO, from Monday) or month.")
    ] = "week",
    compare: Annotated[
        str, typer.Option(help="Compare with: previous, year, or a number N of periods ago.")
    ] = "previous",
    periods: Annotated[int, typer.Option("--periods", "--weeks", help="Periods in the trend.")] = 8,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="YYYY-MM-DD: ignore events from this day on (default: use all the data).",
        ),
    ] = None,
    fmt: Annotated[
        ReportFormat | None,
        typer.Option(
            "--format", "-f", help="table, markdown, html (self-contained) or json (default: by -o suffix)."
        ),
    ] = None,
    output: OutputOption = None,
    width: WidthOption = None,
    by: ByOption = None,
    memory_limit: MemoryLimitOption = None,
    quiet: QuietOption = False,
) -> None:
    """Compare the last complete calendar period with an earlier one, with trends, as a report.

    Every stage metric and rate of the current period against the comparison period (change,
    better or worse, significance), pain points, each of the config's `breakdowns:` (or
    --by) per value against the comparison period, and the last N periods as a trend. The format follows the
    -o file's extension (.md, .html, .json) unless --format is given.

    Example: journeyctl report 'exports/*.csv' -c journey.yaml --period week -o weekly.html
    """
    with reporting_errors():
        refuse_two_stdins(config, events)
        refuse_clashes([("-c", config), ("-o", output)])
        inputs = [config, *map(Path, events)]
        refuse_unwritable(output, inputs=inputs)
        kind = _period_kind(period)
        day = _as_of_day(as_of)
        if fmt is None:
            suffix = "" if output is None else output.suffix.lower()
            fmt = REPORT_SUFFIXES.get(suffix, ReportFormat.table)
        with progress_display(quiet=quiet) as progress:
            result = api.report(
                events,
                load_config(config),
                period=kind,
                compare=compare,
                periods=periods,
                as_of=day,
                by=[tuple(by)] if by else None,
                memory_limit=memory_limit,
                progress=progress,
            )
        to_terminal = output is None and stdout_is_terminal()
        text = render_period_report(
            result, fmt, width=width or _terminal_width(to_terminal), color=to_terminal
        )
        write_output(text, output, inputs=inputs)


REPORT_SUFFIXES = {
    ".md": ReportFormat.markdown,
    ".html": ReportFormat.html,
    ".htm": ReportFormat.html,
    ".json": ReportFormat.json,
}


def _period_kind(value: str) -> PeriodKind:
    if value in ("day", "week", "month"):
        return cast(PeriodKind, value)
    raise UsageError(f"--period {value!r}: expected day, week or month", hint="e.g. --period week")


def _as_of_day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"--as-of {value!r}: expected a date YYYY-MM-DD", hint="e.g. --as-of 2026-11-02"
        ) from None


def _terminal_width(to_terminal: bool) -> int:
    if "COLUMNS" in os.environ or to_terminal:
        return max(80, shutil.get_terminal_size((120, 24)).columns)
    return 120


@app.command()
def events(
    sources: EventsArgument,
    delimiter: DelimiterOption = None,
    encoding: EncodingOption = None,
) -> None:
    """Profile an export before writing its journey YAML: rows, users, time span, each column's role.

    Lists the columns with the role they are taken for (user, time, event, session,
    property) and the distinct events (rows, users, first and last seen). A user, time or
    event column it cannot recognise is named, with the `columns:` key that maps it; the
    rest is still profiled.

    Example: journeyctl events sample_data/store_events.csv
    """
    with reporting_errors():
        profile = onboarding.profile_events(
            sources, csv=api.csv_options(delimiter=delimiter, encoding=encoding)
        )
        write_output(render_events(profile, width=_terminal_width(stdout_is_terminal())), None)


@app.command()
def init(
    sources: EventsArgument,
    delimiter: DelimiterOption = None,
    encoding: EncodingOption = None,
) -> None:
    """Print a commented starter journey YAML inferred from the data (columns, stages in journey order).

    Example: journeyctl init sample_data/store_events.csv > journey.yaml
    """
    with reporting_errors():
        write_output(
            onboarding.starter_config(sources, csv=api.csv_options(delimiter=delimiter, encoding=encoding)),
            None,
        )


@app.command()
def convert(
    events: EventsArgument,
    output: Annotated[Path, typer.Option("--output", "-o", help="The Parquet file to write.")],
    config: Annotated[
        Path, typer.Option("--config", "-c", help="Journey YAML: which columns to keep and how to read time.")
    ] = JOURNEY_YAML,
    bad_rows: BadRowsOption = "fail",
    dedupe: DedupeOption = False,
) -> None:
    """Convert exports to one Parquet file that later runs read several times faster.

    Keeps the columns the journey maps (under their names, so the same YAML reads the file),
    parses the time once into UTC timestamps and sorts the rows by user and time. Use it
    when the same large export is analysed repeatedly.

    Example: journeyctl convert exports/*.csv -c journey.yaml -o events.parquet
    """
    with reporting_errors():
        refuse_two_stdins(config, events)
        policy = parse_bad_rows(bad_rows)
        refuse_clashes([("-c", config), ("-o", output), quarantine_file(policy)])
        quality = api.convert(events, load_config(config), output, bad_rows=policy, dedupe=dedupe)
        _report_skipped(quality)
        typer.echo(
            f"wrote {quality.rows_read - quality.bad_rows - quality.duplicates_dropped:,} events to {output}",
            err=True,
        )


@app.command()
def validate(
    sources: EventsArgument,
    config: Annotated[Path, typer.Option("--config", "-c", help="Journey YAML to check.")] = JOURNEY_YAML,
    delimiter: DelimiterOption = None,
    encoding: EncodingOption = None,
) -> None:
    """Check a journey YAML against the data: missing events, unused frequent events, rows per stage.

    --delimiter and --encoding override the config's `csv:` key.

    Example: journeyctl validate -c journey.yaml exports/*.csv
    """
    with reporting_errors():
        refuse_two_stdins(config, sources)
        journey = load_config(config)
        csv = api.csv_options(delimiter=delimiter, encoding=encoding, base=journey.csv)
        report = onboarding.validate(journey.model_copy(update={"csv": csv}), sources)
        write_output(render_validation(report, width=_terminal_width(stdout_is_terminal())), None)
