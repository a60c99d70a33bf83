"""Sessions: by the mapped session column, or by inactivity; per-session facts for bounce."""

from __future__ import annotations

import polars as pl

from journeyctl.columns import EVENT, SESSION, STAGE_MASK, TS, USER
from journeyctl.config.models import Bounce

NONE_VALUE = "(none)"


def sessionize(events: pl.LazyFrame, *, timeout_us: int) -> pl.LazyFrame:
    """Add ``session_id`` (per user) from inactivity: a gap longer than the timeout starts a
    new session; a gap equal to it stays in the session. Rows must be sorted by user, ts."""
    new_user = pl.col(USER) != pl.col(USER).shift(1)
    gap = (pl.col(TS) - pl.col(TS).shift(1)).dt.total_microseconds()
    starts = (new_user | (gap > timeout_us)).fill_null(True)
    return events.with_columns(starts.cum_sum().cast(pl.Int64).alias(SESSION))


def session_facts(
    events: pl.LazyFrame,
    *,
    bounce: Bounce,
    stage_ids: list[str],
    channel: str | None,
    contiguous: bool = False,
) -> pl.LazyFrame:
    """One row per session: events, start, duration, landing channel and stage, and ``bounced``.

    The landing value is the one on the session's first event; when several events share
    that first timestamp, the smallest value (and the earliest stage) is taken, so the
    order of rows in the files never matters. ``contiguous`` says that session ids are
    unique across users and ascend with the rows, as ``sessionize`` makes them on rows
    sorted by user and time: then sessions are runs, found without hashing.
    """
    if contiguous:
        keys = [SESSION]
        starts = (pl.col(SESSION) != pl.col(SESSION).shift(1)).fill_null(True)
        first = pl.col(TS) == pl.when(starts).then(pl.col(TS)).fill_null(strategy="forward")
        events = events.set_sorted(SESSION)
    else:
        keys = [USER, SESSION]
        first = pl.col(TS) == pl.col(TS).min().over(keys)
    # per-row columns first, so that the grouping only takes plain minimums, sums and ors
    rows = [pl.when(first).then(pl.col(STAGE_MASK)).otherwise(0).alias("landing_mask")]
    aggs = [
        pl.len().alias("events"),
        pl.col(TS).min().alias("start"),
        ((pl.col(TS).max() - pl.col(TS).min()).dt.total_microseconds()).alias("duration_us"),
        pl.col("landing_mask").bitwise_or(),
    ]
    if channel is not None:
        rows.append(pl.when(first).then(pl.col(channel)).alias("landing_channel"))
        aggs.append(pl.col("landing_channel").min().cast(pl.String))
    else:
        aggs.append(pl.lit(None, pl.String).alias("landing_channel"))
    if bounce.engaged is not None and bounce.engaged.key_events:
        rows.append(pl.col(EVENT).is_in(bounce.engaged.key_events).alias("key_event"))
        aggs.append(pl.col("key_event").any())
    return (
        events.with_columns(rows)
        .group_by(keys)
        .agg(aggs)
        .with_columns(
            pl.col("landing_channel").fill_null(NONE_VALUE),
            _landing_stage_expr(stage_ids).alias("landing_stage"),
            bounced_expr(bounce).alias("bounced"),
        )
    )


def _landing_stage_expr(stage_ids: list[str]) -> pl.Expr:
    """The id of the lowest stage bit set in ``landing_mask``; "(none)" when none is."""
    expr = pl.lit(NONE_VALUE)
    for bit in reversed(range(len(stage_ids))):
        expr = (
            pl.when((pl.col("landing_mask") & (1 << bit)) != 0).then(pl.lit(stage_ids[bit])).otherwise(expr)
        )
    return expr


def bounced_expr(bounce: Bounce) -> pl.Expr:
    """Classic rule: at most ``max_events`` events. Engaged rule: none of its tests pass."""
    if bounce.engaged is None:
        return pl.col("events") <= bounce.max_events
    engaged = pl.lit(False)
    if bounce.engaged.min_duration is not None:
        engaged |= pl.col("duration_us") >= round(bounce.engaged.min_duration.total_seconds() * 1e6)
    if bounce.engaged.min_events is not None:
        engaged |= pl.col("events") >= bounce.engaged.min_events
    if bounce.engaged.key_events:
        engaged |= pl.col("key_event")
    return ~engaged
