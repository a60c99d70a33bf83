"""The library entry points: ``analyze`` runs the pipeline once and returns a typed result;
``check`` judges its KPIs."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl

from journeyctl.aggregate import summarize
from journeyctl.check import CheckReport, evaluate
from journeyctl.columns import LINE, SOURCE, TS, USER
from journeyctl.config.loading import load_config
from journeyctl.config.models import JourneyConfig, Severity
from journeyctl.errors import InputError, UsageError
from journeyctl.facts import user_facts
from journeyctl.kpi_expr import parse_kpi
from journeyctl.load import (
    RAW_TS,
    bad_rows_expr,
    describe_bad_rows,
    expand_sources,
    load_events,
    repair_timestamps,
)
from journeyctl.periods import PeriodKind
from journeyctl.report import Report, build_report
from journeyctl.result import AnalysisResult

Events = Sequence[str | Path] | pl.DataFrame


def analyze(events: Events, config: JourneyConfig | str | Path) -> AnalysisResult:
    """Analyse event files (paths or globs) or an in-memory canonical frame against a journey.

    A canonical frame has ``user_id`` (str), ``ts`` (datetime), ``event`` (str), optionally
    ``session_id``, and the property columns the config names. Raises ``JourneyctlError``
    subclasses for anything the user can fix.
    """
    journey = config if isinstance(config, JourneyConfig) else load_config(config)
    frame = read_events(events, journey)
    return analyze_frame(frame, journey)


def report(
    events: Events,
    config: JourneyConfig | str | Path,
    *,
    period: PeriodKind = "week",
    compare: str = "previous",
    periods: int = 8,
    as_of: date | None = None,
) -> Report:
    """The period-over-period report (see ``journeyctl.report``); ``as_of`` is a calendar day
    in the journey's time zone: the current period is the last one ending by its midnight."""
    journey = config if isinstance(config, JourneyConfig) else load_config(config)
    frame = read_events(events, journey)
    moment = None if as_of is None else datetime.combine(as_of, time(), ZoneInfo(journey.timezone))
    return build_report(frame, journey, period=period, compare=compare, periods=periods, as_of=moment)


def read_events(events: Events, journey: JourneyConfig) -> pl.DataFrame:
    """The canonical events, collected once and checked: every row has a user, an event and a
    timestamp, or ``InputError`` quotes the first bad rows with file and line."""
    if isinstance(events, pl.DataFrame):
        return _canonical_frame(events, journey)
    files = expand_sources(events)
    lazy = load_events(
        files,
        journey.columns,
        properties=journey.property_columns,
        time_format=journey.time_format,
        timezone=journey.timezone,
    )
    with polars_errors(files):
        frame = lazy.collect()
    if journey.time_format == "auto":
        frame = repair_timestamps(frame, timezone=journey.timezone)
    bad = frame.filter(bad_rows_expr())
    if bad.height:
        raise describe_bad_rows(bad, files, bad.height)
    return frame.drop(RAW_TS, SOURCE, LINE)


def analyze_frame(frame: pl.DataFrame, journey: JourneyConfig) -> AnalysisResult:
    """The whole analysis of canonical events (any row order)."""
    return summarize(user_facts(frame, journey), journey)


def funnel_levels(frame: pl.DataFrame, journey: JourneyConfig) -> pl.DataFrame:
    """Per user: ``user_id``, ``level`` and the reported path's step times ``t0``… (µs since
    the epoch): the kernel's answer, for checks and for lists of users behind a number."""
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
    if frame.schema[TS] == pl.Datetime or getattr(frame.schema[TS], "time_zone", None) is None:
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
            hint="check that every file is CSV with the same header and consistent quoting",
        ) from None


def check(
    events: Events,
    config: JourneyConfig | str | Path,
    *,
    kpis: Sequence[str] = (),
    fail_on: Severity = "fail",
) -> CheckReport:
    """Analyse ``events`` and judge the config's KPIs plus ``kpis`` expressions
    (``"overall_conversion>=0.02"``); the report carries the verdicts and the exit code.

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
    return evaluate(analyze(events, journey), journey.kpis, extra=extra, fail_on=fail_on)
