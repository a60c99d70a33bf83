"""Sessions: by the mapped session column, or by inactivity; per-session facts for bounce."""

from __future__ import annotations

import numba as nb
import numpy as np
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
        per_session = session_runs(events.collect(), bounce=bounce, channel=channel)
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
        per_session = events.with_columns(rows).group_by(keys).agg(aggs)
    return per_session.with_columns(
        pl.col("landing_channel").cast(pl.Categorical).fill_null(NONE_VALUE),
        _landing_stage_expr(stage_ids).alias("landing_stage"),
        bounced_expr(bounce).alias("bounced"),
    )


def session_runs(events: pl.DataFrame, *, bounce: Bounce, channel: str | None) -> pl.LazyFrame:
    """``session_facts`` when sessions are runs of rows (ids ascending, as ``sessionize``
    numbers them on rows sorted by user and time): one pass over the rows."""
    key_events = bounce.engaged.key_events if bounce.engaged is not None else []
    if channel is not None:
        enum = events.schema[channel]
        assert isinstance(enum, pl.Enum)  # as ``facts.prepare_events`` makes it
        values = enum.categories.cast(pl.Categorical)  # gathered per session: codes, not text
        channels = events[channel].to_physical().cast(pl.Int64).fill_null(-1).to_numpy()
    else:
        values = pl.Series([], dtype=pl.Categorical)
        channels = np.full(events.height, -1, dtype=np.int64)
    runs = _session_runs(
        events[SESSION].to_numpy(),
        events[TS].dt.epoch("us").to_numpy(),
        events[STAGE_MASK].to_numpy().astype(np.int64, copy=False),
        channels,
        events[EVENT].is_in(key_events).to_numpy() if key_events else np.zeros(events.height, np.bool_),
    )
    count, start, end, landing_mask, landing, key_event = runs
    landing_channel = pl.Series(landing, dtype=pl.Int64)
    return pl.DataFrame(
        {
            "events": pl.Series(count, dtype=pl.UInt32),
            "start": pl.Series(start, dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
            "duration_us": end - start,
            "landing_mask": landing_mask,
            "landing_channel": values.gather(landing_channel.set(landing_channel < 0, None)),
            "key_event": key_event,
        }
    ).lazy()


@nb.njit(cache=True, nogil=True)
def _session_runs(session, ts, mask, channel, key):  # type: ignore[no-untyped-def]
    n = len(session)
    runs = 0
    for r in range(n):
        if r == 0 or session[r] != session[r - 1]:
            runs += 1
    count = np.zeros(runs, dtype=np.int64)
    start = np.zeros(runs, dtype=np.int64)
    end = np.zeros(runs, dtype=np.int64)
    landing_mask = np.zeros(runs, dtype=np.int64)
    landing = np.full(runs, -1, dtype=np.int64)
    key_event = np.zeros(runs, dtype=np.bool_)
    s = -1
    for r in range(n):
        if r == 0 or session[r] != session[r - 1]:
            s += 1
            start[s] = ts[r]
        count[s] += 1
        end[s] = ts[r]
        key_event[s] |= key[r]
        if ts[r] == start[s]:  # a row at the session's first timestamp: a landing row
            landing_mask[s] |= mask[r]
            if channel[r] >= 0 and (landing[s] < 0 or channel[r] < landing[s]):
                landing[s] = channel[r]
    return count, start, end, landing_mask, landing, key_event


def _landing_stage_expr(stage_ids: list[str]) -> pl.Expr:
    """The id of the lowest stage bit set in ``landing_mask``; "(none)" when none is."""
    names = pl.Series([*stage_ids, NONE_VALUE], dtype=pl.Categorical)
    lowest = pl.col("landing_mask").bitwise_trailing_zeros().clip(upper_bound=len(stage_ids))
    return pl.lit(names).gather(lowest)


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
