"""The library entry points: ``analyze`` runs the pipeline once and returns a typed result;
``check`` judges its KPIs."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
from pydantic import ValidationError

from journeyctl.aggregate import data_end_micros, open_window_expr, summarize
from journeyctl.breakdown import UNFOLDED, breakdown_settings, require_control
from journeyctl.buckets import bucket_count, memory_bytes, split_into_buckets
from journeyctl.check import CheckReport, breakdowns_named, evaluate
from journeyctl.columns import EVENT, LINE, SESSION, SOURCE, TS, USER
from journeyctl.config.loading import load_config
from journeyctl.config.models import SEPARATOR, Count, CsvOptions, JourneyConfig, Order, Severity
from journeyctl.errors import InputError, UsageError
from journeyctl.facts import Facts, micros, user_facts
from journeyctl.filters import RowFilter, entry_range, parse_where, where_expr
from journeyctl.followup import ExportSpec, drop_off_stage, parse_export, user_ids
from journeyctl.followup import after_drop_off as drop_off_next_events
from journeyctl.kpi_expr import parse_kpi
from journeyctl.load import RAW_TS, STDIN, expand_sources, load_journey_events, repair_timestamps
from journeyctl.output import refuse_unwritable, write_output, write_parquet_output
from journeyctl.periods import PeriodKind
from journeyctl.progress import Progress
from journeyctl.quality import BadRowPolicy, apply_quality, parse_bad_rows, refuse_empty_files
from journeyctl.render.csv import render_user_ids
from journeyctl.report import (
    Report,
    assemble_report,
    build_report,
    facts_in_period,
    periods_back,
    plan_facts,
    plan_report,
)
from journeyctl.result import AnalysisResult, DataQuality, Filters, UserExport

Events = Sequence[str | Path] | pl.DataFrame


def analyze(
    events: Events,
    config: JourneyConfig | str | Path,
    *,
    bad_rows: BadRowPolicy | str = "fail",
    dedupe: bool = False,
    by: Sequence[str | Sequence[str]] | None = None,
    attribution: str | None = None,
    top: int | None = None,
    control: str | None = None,
    where: Sequence[str] = (),
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    exclude_pending: bool = False,
    after_drop_off: str | None = None,
    export_users: Sequence[str] = (),
    memory_limit: int | str | None = None,
    progress: Progress | None = None,
) -> AnalysisResult:
    """Analyse event files (paths, globs, directories, ``-``) or an in-memory canonical frame
    against a journey; ``result.data_quality`` counts what loading found.

    A canonical frame has ``user_id`` (str), ``ts`` (datetime), ``event`` (str), optionally
    ``session_id``, and the property columns the config names. ``bad_rows`` is ``fail``,
    ``skip`` or ``quarantine=FILE``; ``dedupe`` drops identical duplicate events.

    ``by`` lists breakdowns (replacing the config's ``breakdowns:``), each a property column
    or a pair of columns whose combinations are the rows: ``by=["channel", ("channel",
    "segment")]``. ``attribution`` (``first_touch``, ``last_touch`` or a stage id), ``top``
    and ``control`` (the control value of the one breakdown) override the config.

    ``where`` keeps the event rows passing every filter (``"channel in (email, social)"``);
    ``since`` (inclusive) and ``until`` (exclusive; a date includes that whole day) limit
    funnel entries, read in the journey's time zone; ``exclude_pending`` takes pending units
    out of the denominators; ``after_drop_off`` names a stage whose drop-offs' next events
    are counted; ``export_users`` writes user-id lists (``"dropped:consideration=lost.csv"``).
    Options are checked before any event is read. Raises ``JourneyctlError`` subclasses
    for anything the user can fix.

    ``memory_limit`` (bytes, or text such as ``"3GiB"``; default half the available memory)
    bounds the working memory: files too large to analyse within it at once are analysed
    in user buckets (``journeyctl.buckets``), with exactly the same result. ``progress``
    receives the stages of the work (see ``journeyctl.progress``).
    """
    journey = config if isinstance(config, JourneyConfig) else load_config(config)
    filters = [parse_where(text, journey) for text in where]
    start, end = entry_range(since, until, timezone=journey.timezone)
    drop_stage = None if after_drop_off is None else drop_off_stage(journey, after_drop_off)
    exports = [parse_export(text, journey) for text in export_users]
    inputs: list[Path] = []
    if exports and not isinstance(events, pl.DataFrame):
        events = inputs = expand_sources(events)  # once: the checks below and the reading share the list
    inputs = [*inputs, *config_file(config)]
    refuse_overwrites([spec.path for spec in exports], inputs)
    settings = breakdown_settings(journey, by=by, attribution=attribution, top=top, control=control)
    journey = journey.model_copy(update={"breakdowns": settings})
    progress = progress or Progress()
    facts, quality = checked_facts(
        events,
        journey,
        bad_rows=bad_rows,
        dedupe=dedupe,
        facts_of=lambda frame: focused_facts(
            frame, journey, filters, since=start, until=end, next_events=drop_stage is not None
        ),
        memory_limit=memory_bytes(memory_limit),
        progress=progress,
    )
    progress.stage("summarising")
    open_window = open_window_expr(
        window_us=micros(journey.funnel.window.total_seconds()), data_end_us=data_end_micros(facts)
    )
    result = summarize(facts, journey, exclude_pending=exclude_pending).model_copy(
        update={
            "data_quality": quality,
            "filters": Filters(where=list(where), since=start, until=end),
            "after_drop_off": (
                None
                if drop_stage is None
                else drop_off_next_events(facts.funnel, journey, drop_stage, open_window=open_window)
            ),
        }
    )
    if control is not None:
        require_control(result.breakdowns, control)
    written = [write_user_list(facts, spec, open_window=open_window, inputs=inputs) for spec in exports]
    return result.model_copy(update={"user_exports": written})


def checked_facts(
    events: Events,
    journey: JourneyConfig,
    *,
    bad_rows: BadRowPolicy | str,
    dedupe: bool,
    facts_of: Callable[[pl.DataFrame], Facts],
    memory_limit: int,
    progress: Progress,
) -> tuple[Facts, DataQuality]:
    """The facts (``facts_of`` the checked events) and the data-quality counts: in memory
    at once, or bucket by bucket when the files are too large for ``memory_limit``."""
    policy = parse_bad_rows(bad_rows)
    files, buckets = bucketing(events, memory_limit)
    if files is not None and buckets > 1:
        with (
            polars_errors(files),
            split_into_buckets(
                files, journey, buckets=buckets, memory_limit=memory_limit, progress=progress
            ) as split,
        ):
            facts, quality = split.facts(
                policy=policy, dedupe=dedupe, facts_of=lambda frame: [facts_of(frame)], progress=progress
            )
            return facts[0], quality
    progress.stage("reading events")
    frame, quality = read_checked_events(files or events, journey, bad_rows=policy, dedupe=dedupe)
    if frame.is_empty():
        raise InputError(
            "no analysable event rows remain", hint=f"all {quality.bad_rows:,} rows were bad; see --bad-rows"
        )
    progress.stage("analysing")
    progress.advance(0, events=frame.height)
    return facts_of(frame), quality


def bucketing(events: Events, memory_limit: int) -> tuple[list[Path] | None, int]:
    """The event files (None for a frame) and how many user buckets ``memory_limit`` needs
    for them (1: all at once; always 1 for standard input, which cannot be read twice)."""
    if isinstance(events, pl.DataFrame):
        return None, 1
    files = expand_sources(events)
    if STDIN in map(str, files):
        return files, 1
    with polars_errors(files):  # a broken Parquet footer fails already when rows are counted
        return files, bucket_count(files, memory_limit)


def config_file(config: JourneyConfig | str | Path) -> list[Path]:
    """The config's file, as an input no output may replace (none for a loaded config)."""
    return [] if isinstance(config, JourneyConfig) else [Path(config)]


def refuse_overwrites(targets: Sequence[Path], inputs: Sequence[Path]) -> None:
    """User lists go to files of their own: never an input, never the same file twice."""
    seen = {p.resolve() for p in inputs}
    for target in targets:
        if target.resolve() in seen:
            raise UsageError(
                "this --export-users file is an input or another list's file",
                where=str(target),
                hint="give each user list a file of its own",
            )
        seen.add(target.resolve())


def write_user_list(
    facts: Facts, spec: ExportSpec, *, open_window: pl.Expr, inputs: Sequence[Path]
) -> UserExport:
    """Write the ids of the users ``spec`` selects (one ``user_id`` column, sorted) atomically."""
    ids = user_ids(facts.funnel, spec, open_window=open_window)
    write_output(render_user_ids(ids), spec.path, inputs=inputs)
    return UserExport(kind=spec.kind, stage=spec.stage_id, path=str(spec.path), users=len(ids))


def focused_facts(
    frame: pl.DataFrame,
    journey: JourneyConfig,
    filters: Sequence[RowFilter] = (),
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    next_events: bool = False,
) -> Facts:
    """The facts of the event rows passing ``filters``, with funnel entries (and sessions,
    carts and buyers, by their start) in [since, until); the span of the data, whose end
    decides who is pending, stays that of all of ``frame``."""
    kept = frame.filter(where_expr(filters)) if filters else frame
    utc = [None if moment is None else moment.astimezone(UTC) for moment in (since, until)]
    facts = user_facts(kept, journey, entries_since=utc[0], entries_until=utc[1], next_events=next_events)
    if since is not None or until is not None:
        facts = facts_in_period(facts, utc[0], utc[1])
    if not filters or not frame.height:
        return facts
    span = frame.select(pl.col(TS).min().alias("first"), pl.col(TS).max().alias("last")).row(0)
    return replace(facts, first_ts=span[0], last_ts=span[1])


def csv_options(
    *, delimiter: str | None = None, encoding: str | None = None, base: CsvOptions | None = None
) -> CsvOptions:
    """CSV options from the command line, checked like the config's ``csv:`` key; an option
    not given keeps its value in ``base`` (the config's ``csv:``, or the defaults)."""
    given = {k: v for k, v in (("delimiter", delimiter), ("encoding", encoding)) if v is not None}
    try:
        return CsvOptions(**{**(base or CsvOptions()).model_dump(), **given})
    except ValidationError as err:
        raise UsageError(err.errors()[0]["msg"].removeprefix("Value error, "), hint="see --help") from None


def report(
    events: Events,
    config: JourneyConfig | str | Path,
    *,
    period: PeriodKind = "week",
    compare: str = "previous",
    periods: int = 8,
    as_of: date | None = None,
    by: Sequence[str | Sequence[str]] | None = None,
    memory_limit: int | str | None = None,
    progress: Progress | None = None,
) -> Report:
    """The period-over-period report (see ``journeyctl.report``); ``as_of`` is a calendar day
    in the journey's time zone: the current period is the last one ending by its midnight.
    ``by``, ``memory_limit`` and ``progress`` as for ``analyze``: ``by`` replaces the config's
    breakdowns, and files too large for the limit are reported on bucket by bucket, with
    exactly the same report."""
    journey = config if isinstance(config, JourneyConfig) else load_config(config)
    journey = journey.model_copy(update={"breakdowns": breakdown_settings(journey, by=by)})
    moment = None if as_of is None else datetime.combine(as_of, time(), ZoneInfo(journey.timezone))
    periods_back(compare, period, periods=periods)  # the options, before any event is read
    limit = memory_bytes(memory_limit)
    progress = progress or Progress()
    files, buckets = bucketing(events, limit)
    if files is None or buckets == 1:
        progress.stage("reading events")
        frame = read_events(files or events, journey)
        progress.stage("analysing periods")
        progress.advance(0, events=frame.height)
        return build_report(frame, journey, period=period, compare=compare, periods=periods, as_of=moment)
    fail = parse_bad_rows("fail")
    with (
        polars_errors(files),
        split_into_buckets(files, journey, buckets=buckets, memory_limit=limit, progress=progress) as split,
    ):
        first, last = split.span(before=moment)
        try:
            plan = plan_report(
                journey, first, last, period=period, compare=compare, periods=periods, as_of=moment
            )
        except InputError:  # bad rows come first, as when the events are read at once
            split.facts(policy=fail, dedupe=False, facts_of=lambda frame: [], progress=progress)
            raise

        def period_facts_of(frame: pl.DataFrame) -> list[Facts]:
            kept = frame if moment is None else frame.filter(pl.col(TS) < moment)
            return [] if kept.is_empty() else plan_facts(kept, journey, plan)

        facts, _ = split.facts(policy=fail, dedupe=False, facts_of=period_facts_of, progress=progress)
    progress.stage("summarising")
    return assemble_report(plan, journey, [summarize(f, journey) for f in facts])


def read_events(events: Events, journey: JourneyConfig) -> pl.DataFrame:
    """The canonical events, collected once and checked: every row has a user, an event and a
    timestamp, or ``InputError`` quotes the first bad rows with file and line."""
    return read_checked_events(events, journey)[0]


def read_checked_events(
    events: Events,
    journey: JourneyConfig,
    *,
    bad_rows: BadRowPolicy | str = "fail",
    dedupe: bool = False,
) -> tuple[pl.DataFrame, DataQuality]:
    """The canonical events, collected once, with bad rows handled by ``bad_rows`` (see
    ``quality``) and the data-quality counts."""
    policy = parse_bad_rows(bad_rows)
    if isinstance(events, pl.DataFrame):
        frame = _canonical_frame(events, journey).with_columns(
            pl.lit(0, pl.UInt32).alias(SOURCE),
            pl.int_range(1, pl.len() + 1, dtype=pl.UInt64).alias(LINE),
            pl.col(TS).cast(pl.String).alias(RAW_TS),
        )
        files: Sequence[Path] = [Path("<frame>")]
    else:
        files = expand_sources(events)
        with polars_errors(files):
            # the streaming engine parses timestamps on every core; in memory, on one
            frame = load_journey_events(files, journey).collect(engine="streaming")
        refuse_empty_files(frame, files)
        if journey.time_format == "auto":
            frame = repair_timestamps(frame, timezone=journey.timezone)
    good, quality = apply_quality(frame, files, policy=policy, dedupe=dedupe)
    return good.drop(RAW_TS, SOURCE, LINE), quality


def with_funnel_mode(
    journey: JourneyConfig, *, order: Order | None = None, count: Count | None = None
) -> JourneyConfig:
    """The journey with ``funnel.order`` / ``funnel.count`` replaced (command-line overrides)."""
    update: dict[str, str] = {}
    if order is not None:
        update["order"] = order
    if count is not None:
        if journey.funnel.hold and count != "users":
            raise UsageError(
                f"--count {count} cannot be combined with the config's funnel.hold",
                hint="hold already counts user × value; drop --count or the hold",
            )
        update["count"] = count
    if not update:
        return journey
    return journey.model_copy(update={"funnel": journey.funnel.model_copy(update=update)})


def convert(
    events: Sequence[str | Path],
    config: JourneyConfig | str | Path,
    output: Path,
    *,
    bad_rows: BadRowPolicy | str = "fail",
    dedupe: bool = False,
) -> DataQuality:
    """Write the events the journey maps to one Parquet file, for fast repeated analysis with
    the same config: the mapped columns under their file names, the time column as UTC
    timestamps (parsed once), rows sorted by user and time, bad rows handled by
    ``bad_rows``. Returns the data-quality counts of the conversion."""
    journey = config if isinstance(config, JourneyConfig) else load_config(config)
    files = expand_sources(events)
    inputs = [*files, *config_file(config)]
    refuse_unwritable(output, inputs=inputs)  # before the reading, not after it
    frame, quality = read_checked_events(files, journey, bad_rows=bad_rows, dedupe=dedupe)
    columns = journey.columns
    names = {USER: columns.user, TS: columns.time, EVENT: columns.event}
    if columns.session:
        names[SESSION] = columns.session
    ordered = frame.sort(USER, TS).select(
        *(pl.col(role).alias(name) for role, name in names.items()),
        *(pl.col(p) for p in journey.property_columns if p not in names.values()),
    )
    write_parquet_output(ordered, output, inputs=inputs)
    return quality


def funnel_levels(frame: pl.DataFrame, journey: JourneyConfig) -> pl.DataFrame:
    """Per counting unit: ``user_id`` (then ``session_id``, the hold columns or ``attempt``),
    ``level`` and the reported path's step times ``t0``… (µs since the epoch): the kernel's
    answer, for checks and for lists of users behind a number."""
    return user_facts(frame, journey).funnel


def _canonical_frame(frame: pl.DataFrame, journey: JourneyConfig) -> pl.DataFrame:
    """An in-memory frame checked for the canonical columns, ``ts`` made UTC microseconds;
    property columns it lacks are added as nulls (they match no condition)."""
    missing = [c for c in (USER, TS, "event") if c not in frame.columns]
    if missing:
        raise InputError(f"the frame has no column {', '.join(map(repr, missing))}", where="<frame>")
    absent = [c for c in journey.property_columns if c not in frame.columns]
    frame = frame.with_columns(pl.lit(None, pl.String).alias(c) for c in absent)
    ts = pl.col(TS).cast(pl.Datetime("us"))
    if getattr(frame.schema[TS], "time_zone", None) is None:  # naive: read in the journey's zone
        ts = ts.dt.replace_time_zone(journey.timezone).dt.convert_time_zone("UTC")
    else:
        ts = pl.col(TS).dt.convert_time_zone("UTC").cast(pl.Datetime("us", "UTC"))
    return frame.with_columns(ts.alias(TS))


@contextmanager
def polars_errors(files: Sequence[Path]) -> Iterator[None]:
    """Turn Polars' read errors into one ``InputError`` naming the files."""
    try:
        yield
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError) as err:
        names = ", ".join(str(f) for f in files[:3]) + (" …" if len(files) > 3 else "")
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(
            f"cannot read the events: {detail}",
            where=names,
            hint="check that every file has the same header and consistent quoting; "
            "for text that is not UTF-8 set `csv.encoding` (e.g. latin-1)",
        ) from None


def check(
    events: Events,
    config: JourneyConfig | str | Path,
    *,
    kpis: Sequence[str] = (),
    fail_on: Severity = "fail",
    exclude_pending: bool = False,
    bad_rows: BadRowPolicy | str = "fail",
    dedupe: bool = False,
    where: Sequence[str] = (),
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    memory_limit: int | str | None = None,
    progress: Progress | None = None,
) -> CheckReport:
    """Analyse ``events`` and judge the config's KPIs plus ``kpis`` expressions
    (``"overall_conversion>=0.02"``); the report carries the verdicts and the exit code.
    ``exclude_pending``, ``bad_rows``, ``dedupe``, ``where``, ``since``, ``until``,
    ``memory_limit`` and ``progress`` shape the analysis exactly as they do for ``analyze``.

    Expressions are parsed before any event is read, so a typo fails fast (``UsageError``).
    """
    journey = config if isinstance(config, JourneyConfig) else load_config(config)
    extra = [parse_kpi(text, journey) for text in kpis]
    if not journey.kpis and not extra:
        raise UsageError(
            "no KPIs to check",
            where="kpis",
            hint="add a `kpis:` list to the journey YAML or pass --kpi 'overall_conversion>=0.02'",
        )
    wanted = [*journey.breakdowns.by, *breakdowns_named([*journey.kpis, *extra])]
    by = list({SEPARATOR.join(c): c for c in wanted}.values())
    # no top N here: a KPI may name any value that occurs
    result = analyze(
        events,
        journey,
        by=by,
        top=UNFOLDED if by else None,
        exclude_pending=exclude_pending,
        bad_rows=bad_rows,
        dedupe=dedupe,
        where=where,
        since=since,
        until=until,
        memory_limit=memory_limit,
        progress=progress,
    )
    return evaluate(result, journey.kpis, extra=extra, fail_on=fail_on)
