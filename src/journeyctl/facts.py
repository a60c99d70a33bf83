"""Per-user facts: everything the metrics need, computed from the events of a set of users.

``user_facts`` sees the events of some users and nothing else, so it can run on all users
at once or on user partitions whose facts are concatenated (``concat_facts``) before
``aggregate`` turns them into metrics. No fact depends on other users or on the end of the
data; what does (pending users, the repeat-purchase cohort) is decided at aggregation.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
import polars as pl

from journeyctl.breakdown import attributed_values
from journeyctl.columns import EVENT, ROW, SESSION, STAGE_MASK, TS, USER
from journeyctl.commerce import basket_facts, buyer_facts
from journeyctl.config.models import JourneyConfig
from journeyctl.errors import ConfigError
from journeyctl.followup import next_event_column
from journeyctl.kernel import Levels, ordered_levels
from journeyctl.ordering import user_time_order
from journeyctl.sessions import session_facts, sessionize
from journeyctl.stages import assign_stages, restrict_entries


@dataclass(frozen=True)
class Facts:
    funnel: (
        pl.DataFrame
    )  # per user: user_id, level, last_entry, t0… (µs), by:<column> (breakdowns)[, next_event]
    sessions: pl.DataFrame  # per session: events, start, landing_channel, landing_stage, bounced
    baskets: pl.DataFrame  # per cart unit: started, carts, purchased_carts, checkouts, purchased_checkouts
    buyers: pl.DataFrame  # per buyer: purchases, first, in_time
    events: int
    users: int
    first_ts: datetime | None
    last_ts: datetime | None


def micros(seconds: float) -> int:
    return round(seconds * 1_000_000)


def prepare_events(
    frame: pl.DataFrame,
    journey: JourneyConfig,
    *,
    entries_since: datetime | None = None,
    entries_until: datetime | None = None,
) -> pl.DataFrame:
    """The columns the facts need, sorted by user and time: ``user_id`` as dense integer
    codes, ``ts``, ``event`` (an ``Enum``), ``stage_mask``, ``session_id`` (per user), the
    channel property as an ``Enum`` in text order (so its minimum is the smallest text), and
    ``_row``, each row's index in ``frame`` to fetch any other column.

    Only these narrow columns are reordered, never the text. Only rows in
    [entries_since, entries_until) may be funnel entries.
    """
    channel = landing_channel_column(journey)
    text = [EVENT, *([channel] if channel else [])]
    enums = {c: pl.Enum(frame[c].cast(pl.String).unique().drop_nulls().sort()) for c in text}
    narrow = [
        pl.col(USER).cast(pl.String).cast(pl.Categorical(pl.Categories.random())).to_physical(),
        pl.col(TS),
        *(pl.col(c).cast(pl.String).cast(enums[c]) for c in text),
        pl.col(STAGE_MASK),
    ]
    if SESSION in frame.columns:
        narrow.append(pl.col(SESSION).cast(pl.String).cast(pl.Categorical(pl.Categories.random())))
    unsorted = frame.lazy().pipe(assign_stages, journey.stages).select(narrow).collect()
    codes = unsorted[USER].to_numpy()
    order = user_time_order(codes, unsorted[TS].dt.epoch("us").to_numpy())
    users = np.bincount(codes, minlength=int(codes.max(initial=0)) + 1) if len(codes) else np.zeros(0, int)
    columns = [
        pl.Series(ROW, order, dtype=pl.UInt32),
        pl.Series(USER, np.repeat(np.arange(len(users), dtype=np.uint32), users)),
        *(take(unsorted[c], order) for c in unsorted.columns if c != USER),
    ]
    events = pl.DataFrame(columns).lazy().pipe(restrict_entries, since=entries_since, until=entries_until)
    if SESSION not in frame.columns:
        events = events.pipe(sessionize, timeout_us=micros(journey.sessions.timeout.total_seconds()))
    return events.collect()


def take(series: pl.Series, order: npt.NDArray[np.int64]) -> pl.Series:
    """``series`` reordered by the permutation ``order``: through numpy when there are no
    nulls (random access on plain arrays is several times faster)."""
    if series.null_count() or not (
        series.dtype.is_numeric() or isinstance(series.dtype, pl.Datetime | pl.Enum)
    ):
        return series.gather(order)
    taken = pl.Series(series.name, np.take(series.to_physical().to_numpy(), order))
    return taken.cat.to(series.dtype) if isinstance(series.dtype, pl.Enum) else taken.cast(series.dtype)


def landing_channel_column(journey: JourneyConfig) -> str | None:
    """The property giving a session's landing channel, when the config maps one."""
    return "channel" if "channel" in journey.property_columns else None


def user_facts(
    frame: pl.DataFrame,
    journey: JourneyConfig,
    *,
    entries_since: datetime | None = None,
    entries_until: datetime | None = None,
    next_events: bool = False,
) -> Facts:
    """The facts of the users in ``frame`` (canonical events, any order); funnel entries are
    limited to [entries_since, entries_until) when given (steps may come later). With
    ``next_events`` the funnel facts gain ``next_event``: what followed each unit's last step."""
    require_supported(journey)
    events = prepare_events(frame, journey, entries_since=entries_since, entries_until=entries_until)
    window_us = micros(journey.funnel.window.total_seconds())
    levels = user_levels(events, n_stages=len(journey.stages), window_us=window_us)
    first_rows = events[ROW].filter((events[USER] != events[USER].shift(1)).fill_null(True))
    users = frame[USER].cast(pl.String).gather(first_rows)
    channel = landing_channel_column(journey)
    stage_ids = [stage.id for stage in journey.stages]
    lazy = events.lazy()
    contiguous = SESSION not in frame.columns  # sessionize numbers sessions across users
    sessions, baskets, buyers = pl.collect_all(
        [
            session_facts(
                lazy, bounce=journey.bounce, stage_ids=stage_ids, channel=channel, contiguous=contiguous
            ),
            basket_facts(lazy, cart=journey.cart, window_us=window_us, contiguous=contiguous),
            buyer_facts(lazy, cart=journey.cart),
        ]
    )
    # attributed values are read from ``frame``: the prepared events carry no property text
    source_rows = events[ROW].to_numpy().astype(np.int64)
    in_frame = levels._replace(rows=np.where(levels.rows >= 0, source_rows[levels.rows], -1))
    funnel = levels_frame(levels).insert_column(0, users).hstack(attributed_values(frame, in_frame, journey))
    if next_events:
        funnel = funnel.with_columns(next_event_column(events, levels).cast(pl.String))
    return Facts(
        funnel=funnel,
        sessions=sessions.select("events", "start", "landing_channel", "landing_stage", "bounced"),
        baskets=baskets,
        buyers=buyers,
        events=events.height,
        users=users.len(),
        first_ts=events[TS].min() if events.height else None,  # type: ignore[arg-type]
        last_ts=events[TS].max() if events.height else None,  # type: ignore[arg-type]
    )


def require_supported(journey: JourneyConfig) -> None:
    """Refuse config keys whose semantics this version does not compute yet, rather than
    silently ignoring them."""
    funnel = journey.funnel
    unsupported = [
        ("funnel.order", funnel.order != "ordered", f"order {funnel.order!r}"),
        ("funnel.count", funnel.count != "users", f"counting by {funnel.count}"),
        ("funnel.hold", bool(funnel.hold), "hold"),
        ("funnel.exclude", bool(funnel.exclude), "exclusions"),
        *(
            (f"stages[{i}]", stage.within is not None or stage.after is not None, "within/after gaps")
            for i, stage in enumerate(journey.stages)
        ),
    ]
    for path, used, what in unsupported:
        if used:
            raise ConfigError(
                f"{path}: {what} is not supported by this version",
                hint="remove it; the ordered funnel counting users is supported",
            )


def concat_facts(parts: list[Facts]) -> Facts:
    """The facts of disjoint user partitions, as if computed at once."""
    firsts = [p.first_ts for p in parts if p.first_ts is not None]
    lasts = [p.last_ts for p in parts if p.last_ts is not None]
    return Facts(
        funnel=pl.concat([p.funnel for p in parts]),
        sessions=pl.concat([p.sessions for p in parts]),
        baskets=pl.concat([p.baskets for p in parts]),
        buyers=pl.concat([p.buyers for p in parts]),
        events=sum(p.events for p in parts),
        users=sum(p.users for p in parts),
        first_ts=min(firsts, default=None),
        last_ts=max(lasts, default=None),
    )


def user_levels(events: pl.DataFrame, *, n_stages: int, window_us: int) -> Levels:
    """Run the kernel on ``events`` sorted by user and ts with a ``stage_mask`` column, on
    as many threads as Polars uses (the kernel releases the GIL), each on a contiguous run of
    users holding about the same number of rows."""
    users = events[USER]
    new_user = (users != users.shift(1)).fill_null(True).to_numpy()
    starts = np.append(np.flatnonzero(new_user), len(users)).astype(np.int64)
    ts = events[TS].dt.epoch("us").to_numpy().astype(np.int64, copy=False)
    mask = events[STAGE_MASK].to_numpy().astype(np.int64, copy=False)
    cuts = np.searchsorted(starts, np.linspace(0, len(users), pl.thread_pool_size() + 1)[1:-1])
    bounds = [0, *sorted(set(cuts.tolist()) - {0, len(starts) - 1}), len(starts) - 1]
    parts = [starts[a : b + 1] for a, b in itertools.pairwise(bounds)]
    if len(parts) == 1:
        return ordered_levels(starts, ts, mask, n_stages=n_stages, window_us=window_us)
    with ThreadPoolExecutor(len(parts)) as pool:
        done = list(
            pool.map(lambda p: ordered_levels(p, ts, mask, n_stages=n_stages, window_us=window_us), parts)
        )
    return Levels(*(np.concatenate([getattr(d, f) for d in done]) for f in Levels._fields))


def levels_frame(levels: Levels) -> pl.DataFrame:
    """``level``, ``last_entry`` and ``t0``…``t{N-1}`` (µs) as columns, one row per unit."""
    columns = {"level": levels.level, "last_entry": levels.last_entry}
    columns |= {f"t{i}": levels.path[:, i] for i in range(levels.path.shape[1])}
    return pl.DataFrame(columns)
