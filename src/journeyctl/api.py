"""The library entry points: ``analyze`` runs the pipeline once and returns a typed result."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

from journeyctl.aggregate import levels_frame, stage_counts
from journeyctl.columns import LINE, SESSION, SOURCE, STAGE_MASK, TS, USER
from journeyctl.commerce import basket_counts, repeat_counts
from journeyctl.config.durations import duration_text
from journeyctl.config.loading import load_config
from journeyctl.config.models import JourneyConfig
from journeyctl.errors import InputError
from journeyctl.kernel import Levels, ordered_levels
from journeyctl.load import RAW_TS, bad_rows_expr, describe_bad_rows, expand_sources, load_events
from journeyctl.painpoints import find_pain_points
from journeyctl.result import AnalysisResult, BounceGroup, StageResult, rate
from journeyctl.sessions import session_facts, sessionize
from journeyctl.stages import assign_stages

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
    bad = frame.filter(bad_rows_expr())
    if bad.height:
        raise describe_bad_rows(bad, files, bad.height)
    return frame.drop(RAW_TS, SOURCE, LINE)


def analyze_frame(frame: pl.DataFrame, journey: JourneyConfig) -> AnalysisResult:
    """The whole analysis of canonical events (any row order)."""
    stage_ids = [stage.id for stage in journey.stages]
    window_us = _micros(journey.funnel.window.total_seconds())
    events = frame.lazy().sort(USER, TS).pipe(assign_stages, journey.stages)
    if SESSION not in frame.columns:
        events = events.pipe(sessionize, timeout_us=_micros(journey.sessions.timeout.total_seconds()))
    events_df = events.collect()
    data_end = events_df[TS].max() if events_df.height else None

    levels = user_levels(events_df, n_stages=len(stage_ids), window_us=window_us)
    data_end_us = _timestamp_us(data_end) if isinstance(data_end, datetime) else 0
    counts = stage_counts(levels_frame(levels), journey.stages, window_us=window_us, data_end_us=data_end_us)
    pain = find_pain_points(counts, max_drop_off=journey.pain_points.max_drop_off)
    flagged = {p.stage: p for p in pain}

    channel = "channel" if "channel" in journey.property_columns else None
    sessions = session_facts(
        events_df.lazy(), bounce=journey.bounce, stage_ids=stage_ids, channel=channel
    ).collect()
    basket = (
        basket_counts(events_df.lazy(), cart=journey.cart, window_us=window_us).collect().row(0, named=True)
    )
    end_expr = pl.lit(data_end, dtype=pl.Datetime("us", "UTC"))
    repeat = (
        repeat_counts(events_df.lazy(), cart=journey.cart, data_end=end_expr).collect().row(0, named=True)
    )

    leak = next((p.stage for p in pain if "biggest_leak" in p.kinds), None)
    stages = [
        StageResult(
            id=c.id,
            label=c.label,
            users=c.users,
            conversion=c.conversion,
            from_start=c.from_start,
            lost=c.lost,
            drop_off=c.drop_off,
            pending=c.pending,
            pain_point=c.id in flagged,
            pain_point_reasons=flagged[c.id].reasons if c.id in flagged else [],
            **c.times,
        )
        for c in counts
    ]
    n_sessions = sessions.height
    bounced = int(sessions["bounced"].sum()) if n_sessions else 0
    within = journey.cart.repeat_within
    return AnalysisResult(
        journey=journey.name,
        unit=journey.funnel.count,
        order=journey.funnel.order,
        window_s=journey.funnel.window.total_seconds(),
        events=events_df.height,
        users=events_df[USER].n_unique(),
        first_event_at=events_df[TS].min() if events_df.height else None,
        last_event_at=data_end,
        stages=stages,
        overall_conversion=rate(counts[-1].users, counts[0].users),
        biggest_leak=leak,
        sessions=n_sessions,
        bounced_sessions=bounced,
        bounce_rate=rate(bounced, n_sessions),
        bounce_rule=journey.bounce.rule,
        bounce_by_landing_channel=_bounce_groups(sessions, "landing_channel") if channel else [],
        bounce_by_landing_stage=_bounce_groups(sessions, "landing_stage"),
        carts=basket["carts"],
        purchased_carts=basket["purchased_carts"],
        cart_abandonment_rate=_abandonment(basket["purchased_carts"], basket["carts"]),
        checkouts=basket["checkouts"],
        purchased_checkouts=basket["purchased_checkouts"],
        checkout_abandonment_rate=_abandonment(basket["purchased_checkouts"], basket["checkouts"]),
        buyers=repeat["buyers"],
        repeat_buyers=repeat["repeat_buyers"],
        repeat_purchase_rate=rate(repeat["repeat_buyers"], repeat["buyers"]),
        repeat_rule=(
            "buyers with 2 or more purchases"
            if within is None
            else f"first-time buyers who bought again within {duration_text(within)}"
        ),
        pain_points=pain,
    )


def user_levels(events: pl.DataFrame, *, n_stages: int, window_us: int) -> Levels:
    """Run the kernel on ``events`` sorted by user and ts with a ``stage_mask`` column."""
    users = events[USER]
    new_user = (users != users.shift(1)).fill_null(True).to_numpy()
    starts = np.append(np.flatnonzero(new_user), len(users)).astype(np.int64)
    ts = events[TS].dt.epoch("us").to_numpy().astype(np.int64, copy=False)
    mask = events[STAGE_MASK].to_numpy().astype(np.int64, copy=False)
    return ordered_levels(starts, ts, mask, n_stages=n_stages, window_us=window_us)


def funnel_levels(frame: pl.DataFrame, journey: JourneyConfig) -> pl.DataFrame:
    """Per user: ``level`` and the reported path's step times ``t0``… (µs since the epoch).

    A library view of the kernel's answer, for checks and for lists of users behind a number.
    """
    events = frame.lazy().sort(USER, TS).pipe(assign_stages, journey.stages).collect()
    window_us = _micros(journey.funnel.window.total_seconds())
    levels = user_levels(events, n_stages=len(journey.stages), window_us=window_us)
    users = events[USER].filter((events[USER] != events[USER].shift(1)).fill_null(True))
    return levels_frame(levels).insert_column(0, users)


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


def _bounce_groups(sessions: pl.DataFrame, column: str) -> list[BounceGroup]:
    grouped = (
        sessions.group_by(column)
        .agg(pl.len().alias("sessions"), pl.col("bounced").sum().alias("bounced"))
        .sort(["sessions", column], descending=[True, False])
    )
    return [
        BounceGroup(value=str(value), sessions=n, bounced_sessions=b, bounce_rate=rate(b, n))
        for value, n, b in grouped.iter_rows()
    ]


def _abandonment(purchased: int, started: int) -> float | None:
    return rate(started - purchased, started)


def _micros(seconds: float) -> int:
    return round(seconds * 1_000_000)


def _timestamp_us(moment: datetime) -> int:
    return int(pl.Series([moment]).dt.epoch("us")[0])


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
