"""Per-user facts: everything the metrics need, computed from the events of a set of users.

``user_facts`` sees the events of some users and nothing else, so it can run on all users
at once or on user partitions whose facts are concatenated (``concat_facts``) before
``aggregate`` turns them into metrics. No fact depends on other users or on the end of the
data; what does (pending users, the repeat-purchase cohort) is decided at aggregation.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt
import polars as pl

from journeyctl.breakdown import attributed_values
from journeyctl.columns import EVENT, EXCLUDED, ROW, SESSION, STAGE_MASK, TS, USER
from journeyctl.commerce import basket_facts, buyer_facts
from journeyctl.config.models import JourneyConfig
from journeyctl.errors import ConfigError
from journeyctl.followup import next_event_column
from journeyctl.kernel import (
    ANY_ORDER,
    CONSTRAINED,
    GREEDY,
    INF,
    NOT_REACHED,
    Constraints,
    Levels,
    any_order_levels,
    attempt_levels,
    constrained_levels,
    ordered_levels,
)
from journeyctl.ordering import balanced_bounds, user_time_order
from journeyctl.sessions import session_facts, sessionize
from journeyctl.stages import assign_stages, mark_exclusions, restrict_entries

ATTEMPT = "attempt"  # with count: entries, the attempt's number within its unit (1, 2, …)
UnitOf = npt.NDArray[np.int64] | None  # with count: entries, the unit of each attempt
FINGERPRINT_SEEDS = (0, 0x9E3779B97F4A7C15)  # two independent hashes of the user id (``ordering``)
FINGERPRINT_LOW = "_user_low"


@dataclass(frozen=True)
class Facts:
    # per unit: user_id, session/hold columns or attempt, level, last_entry, t0… (µs),
    # by:<column> (breakdowns)[, next_event]
    funnel: pl.DataFrame
    sessions: pl.DataFrame  # per session: events, start, landing_channel, landing_stage, bounced
    baskets: pl.DataFrame  # per cart unit: started, carts, purchased_carts, checkouts, purchased_checkouts
    buyers: pl.DataFrame  # per buyer: purchases, first, in_time
    events: int
    users: int
    first_ts: datetime | None
    last_ts: datetime | None
    excluded_by: list[int] = field(default_factory=list)  # per funnel.exclude rule: units it alone lowers
    excluded_units: int = 0  # units lowered (keep_best) or removed (drop_user) by all the rules


def micros(seconds: float) -> int:
    return round(seconds * 1_000_000)


def prepare_events(frame: pl.DataFrame, journey: JourneyConfig) -> pl.DataFrame:
    """The columns the facts need, sorted by user and time: ``user_id`` as dense integer
    codes (users in fingerprint order, see ``ordering``), ``ts``, ``event`` and the channel
    property as ``Enum``s of their values in code-point order (so the smallest code is the
    smallest text), ``stage_mask``, ``session_id`` (per user), ``excluded_mask`` (with
    exclusions), the hold columns (with a hold), and ``_row``, each row's index in ``frame``
    to fetch any other column.

    Only these narrow columns are reordered, never the text.
    """
    channel = landing_channel_column(journey)
    text = [EVENT, *([channel] if channel else [])]
    enums = {c: pl.Enum(frame[c].cast(pl.String).unique().drop_nulls().sort()) for c in text}
    names = enums[EVENT].categories.to_list()
    narrow = [
        pl.col(USER).cast(pl.String).hash(FINGERPRINT_SEEDS[0]).alias(USER),
        pl.col(USER).cast(pl.String).hash(FINGERPRINT_SEEDS[1]).alias(FINGERPRINT_LOW),
        pl.col(TS),
        *text,
        pl.col(STAGE_MASK),
        *([pl.col(EXCLUDED)] if journey.funnel.exclude else []),
        *(pl.col(c).cast(pl.String) for c in journey.funnel.hold),
    ]
    if SESSION in frame.columns:
        narrow.append(pl.col(SESSION).cast(pl.String).cast(pl.Categorical(pl.Categories.random())))
    unsorted = (
        frame.lazy()
        .with_columns(pl.col(c).cast(pl.String).cast(enums[c]) for c in text)
        .pipe(assign_stages, journey.stages, names)
        .pipe(mark_exclusions, journey.funnel.exclude, names)
        .select(narrow)
        .collect()
    )
    ts = unsorted[TS].dt.epoch("us").to_numpy()
    high, low = unsorted[USER].to_numpy(), unsorted[FINGERPRINT_LOW].to_numpy()
    ordered = user_time_order(high, low, ts, threads=pl.thread_pool_size())
    users = np.arange(len(ordered.rows_per_user), dtype=np.uint32)
    rest = [unsorted[c] for c in unsorted.columns if c not in (USER, FINGERPRINT_LOW, TS)]
    with ThreadPoolExecutor(pl.thread_pool_size()) as pool:  # numpy's take releases the GIL
        taken = list(pool.map(lambda series: take(series, ordered.order), rest))
    columns = [
        pl.Series(ROW, ordered.order),
        pl.Series(USER, np.repeat(users, ordered.rows_per_user)),
        pl.Series(TS, ordered.ts).cast(unsorted.schema[TS]),
        *taken,
    ]
    events = pl.DataFrame(columns).lazy()
    if SESSION not in frame.columns:
        events = events.pipe(sessionize, timeout_us=micros(journey.sessions.timeout.total_seconds()))
    return events.collect()


def take(series: pl.Series, order: npt.NDArray[np.uint32]) -> pl.Series:
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


@dataclass(frozen=True)
class Prepared:
    """The events of some users made ready once (``prepare_events``) with the facts that do
    not depend on the funnel's entry range — sessions, carts, buyers — so that
    ``funnel_facts`` can run the funnel for one range after another (a report's periods)."""

    frame: pl.DataFrame  # the canonical events
    events: pl.DataFrame  # ``prepare_events`` of ``frame``
    sessions: pl.DataFrame
    baskets: pl.DataFrame
    buyers: pl.DataFrame

    @property
    def sessions_are_runs(self) -> bool:
        """Inactivity sessions (no session column): their ids ascend along the sorted rows."""
        return SESSION not in self.frame.columns


def prepare(frame: pl.DataFrame, journey: JourneyConfig) -> Prepared:
    """``Prepared`` facts of the users in ``frame`` (canonical events, any order)."""
    require_supported(journey)
    events = prepare_events(frame, journey)
    window_us = micros(journey.funnel.window.total_seconds())
    lazy = events.lazy()
    contiguous = SESSION not in frame.columns  # sessionize numbers sessions across users
    stage_ids = [stage.id for stage in journey.stages]
    sessions, baskets, buyers = pl.collect_all(
        [
            session_facts(
                lazy,
                bounce=journey.bounce,
                stage_ids=stage_ids,
                channel=landing_channel_column(journey),
                contiguous=contiguous,
            ),
            basket_facts(lazy, cart=journey.cart, window_us=window_us, contiguous=contiguous),
            buyer_facts(lazy, cart=journey.cart),
        ]
    )
    sessions = sessions.select("events", "start", "landing_channel", "landing_stage", "bounced")
    return Prepared(frame, events, sessions, baskets, buyers)


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
    return funnel_facts(
        prepare(frame, journey),
        journey,
        entries_since=entries_since,
        entries_until=entries_until,
        next_events=next_events,
    )


def funnel_facts(
    prepared: Prepared,
    journey: JourneyConfig,
    *,
    entries_since: datetime | None = None,
    entries_until: datetime | None = None,
    next_events: bool = False,
) -> Facts:
    """``user_facts`` of prepared events: the funnel with entries in [entries_since,
    entries_until), beside the prepared sessions, carts and buyers (a range limits those by
    their start, see ``report.facts_in_period``)."""
    frame, events = prepared.frame, prepared.events
    if entries_since is not None or entries_until is not None:
        events = events.lazy().pipe(restrict_entries, since=entries_since, until=entries_until).collect()
    units = unit_levels(events, journey, sessions_are_runs=prepared.sessions_are_runs)
    levels = units.levels
    users = int(events[USER][-1]) + 1 if events.height else 0  # codes are dense and ascending
    keys = unit_columns(frame, events, units, journey)
    # attributed values are read from ``frame``: the prepared events carry no property text
    attributed = attributed_values(frame, events[ROW], levels, journey)
    funnel = pl.concat([keys, levels_frame(levels), attributed], how="horizontal")
    if next_events:
        funnel = funnel.with_columns(next_event_column(events, levels).cast(pl.String))
    return Facts(
        funnel=funnel,
        sessions=prepared.sessions,
        baskets=prepared.baskets,
        buyers=prepared.buyers,
        events=events.height,
        users=users,
        first_ts=events[TS].min() if events.height else None,  # type: ignore[arg-type]
        last_ts=events[TS].max() if events.height else None,  # type: ignore[arg-type]
        excluded_by=units.excluded_by,
        excluded_units=units.excluded_units,
    )


def require_supported(journey: JourneyConfig) -> None:
    """Refuse combinations whose semantics this version does not compute, rather than
    silently ignoring a key: gaps or exclusions in any order, exclusions when counting
    entries, and exclusion spans the kernel cannot combine exactly."""
    funnel = journey.funnel
    gaps = [i for i, s in enumerate(journey.stages) if s.within is not None or s.after is not None]
    if funnel.order == "any" and gaps:
        raise ConfigError(
            f"stages[{gaps[0]}]: within/after gaps have no previous step in order any",
            hint="remove the gap or use order ordered or strict",
        )
    if funnel.order == "any" and funnel.exclude:
        raise ConfigError(
            "funnel.exclude: exclusions between two steps have no meaning in order any",
            hint="remove the exclusions or use order ordered or strict",
        )
    if funnel.count == "entries" and funnel.exclude:
        raise ConfigError(
            "funnel.exclude: exclusions are not supported with count entries by this version",
            hint="count users, sessions or a hold to use exclusions",
        )
    spans = sorted(set(exclusion_spans(journey)))
    for (a1, b1), (a2, b2) in itertools.combinations(spans, 2):
        if a2 < b1 and a1 < b2:
            ids = [stage.id for stage in journey.stages]
            raise ConfigError(
                f"funnel.exclude: the spans {ids[a1]}–{ids[b1]} and {ids[a2]}–{ids[b2]} overlap",
                hint="exclusions may share both steps or touch end to start; split or merge the others",
            )


def exclusion_spans(journey: JourneyConfig) -> list[tuple[int, int]]:
    """The (0-based) steps each ``funnel.exclude`` rule lies between."""
    index = {stage.id: i for i, stage in enumerate(journey.stages)}
    return [(index[rule.between[0]], index[rule.between[1]]) for rule in journey.funnel.exclude]


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
        excluded_by=[sum(counts) for counts in zip(*(p.excluded_by for p in parts), strict=True)],
        excluded_units=sum(p.excluded_units for p in parts),
    )


def user_levels(events: pl.DataFrame, *, n_stages: int, window_us: int) -> Levels:
    """Run the ordered kernel on ``events`` sorted by user and ts with a ``stage_mask``
    column (see ``in_parallel``)."""
    ts, mask = kernel_columns(events)

    def run(starts: npt.NDArray[np.int64]) -> tuple[Levels, UnitOf]:
        return ordered_levels(starts, ts, mask, n_stages=n_stages, window_us=window_us), None

    return in_parallel(unit_starts(events, [USER]), run)[0]


def in_parallel(
    starts: npt.NDArray[np.int64], run: Callable[[npt.NDArray[np.int64]], tuple[Levels, UnitOf]]
) -> tuple[Levels, UnitOf]:
    """``run`` (a kernel on the units ``starts[u]:starts[u+1]``) on as many threads as Polars
    uses (the kernels release the GIL), each on a contiguous run of units holding about the
    same number of rows; the parts' levels (and units of attempts) joined in order."""
    bounds = balanced_bounds(starts, pl.thread_pool_size())
    parts = [starts[a : b + 1] for a, b in itertools.pairwise(bounds)]
    if len(parts) == 1:
        return run(starts)
    with ThreadPoolExecutor(len(parts)) as pool:
        done = list(pool.map(run, parts))
    levels = Levels(*(np.concatenate([getattr(d, f) for d, _ in done]) for f in Levels._fields))
    units_of = [u for _, u in done if u is not None]
    if not units_of:
        return levels, None
    return levels, np.concatenate([u + first for u, first in zip(units_of, bounds, strict=False)])


@dataclass(frozen=True)
class UnitLevels:
    first_rows: npt.NDArray[np.int64]  # per unit, its first row in the prepared events frame
    attempt: npt.NDArray[np.int64] | None  # with count: entries, each attempt's number in its unit
    levels: Levels  # rows index the prepared events frame (sorted by user, ts)
    excluded_by: list[int]
    excluded_units: int


def unit_keys(journey: JourneyConfig) -> list[str]:
    """The columns whose values make one counting unit."""
    if journey.funnel.hold:
        return [USER, *journey.funnel.hold]
    return [USER, SESSION] if journey.funnel.count == "sessions" else [USER]


def unit_levels(
    events: pl.DataFrame, journey: JourneyConfig, *, sessions_are_runs: bool = False
) -> UnitLevels:
    """The funnel of every unit of ``prepare_events`` output, under the journey's order,
    gaps and exclusions; ``sessions_are_runs`` (inactivity sessions) spares sorting the rows
    by session when sessions are counted.

    A unit is a user, a user's session, or a user × hold value (rows with a null hold
    value belong to no unit); its events are its own rows only. With ``count: entries``
    each attempt is a unit. With exclusions, the level counts only clean paths;
    ``drop_user`` removes (level 0) every unit whose clean level is below its level without
    exclusions.
    """
    keys = unit_keys(journey)
    frame, order = events, None
    if keys != [USER] and not (keys == [USER, SESSION] and sessions_are_runs):
        columns = [*keys, TS, STAGE_MASK, *([EXCLUDED] if EXCLUDED in events.columns else [])]
        indexed = events.select(columns).with_row_index("_prepared")
        frame = indexed.drop_nulls(keys).sort([*keys, "_prepared"])
        order = frame["_prepared"].to_numpy().astype(np.int64)
    starts = unit_starts(frame, keys)
    ts, mask = kernel_columns(frame)
    excluded = frame[EXCLUDED].to_numpy().astype(np.int64) if EXCLUDED in frame.columns else None

    def run(rules: list[int]) -> tuple[Levels, UnitOf]:
        kernel = kernel_for(journey, rules, excluded)
        levels, unit_of = in_parallel(starts, lambda part: kernel(part, ts, mask))
        if order is not None:  # back to rows of the prepared frame
            levels = levels._replace(rows=np.where(levels.rows >= 0, order[np.maximum(levels.rows, 0)], -1))
        return levels, unit_of

    first_rows = starts[:-1] if order is None else order[starts[:-1]]
    base, unit_of = run([])
    if unit_of is not None:  # count: entries, one unit per attempt
        attempt = np.arange(len(unit_of)) - np.searchsorted(unit_of, unit_of) + 1
        return UnitLevels(first_rows[unit_of], attempt, base, [], 0)
    n_rules = len(journey.funnel.exclude)
    if not n_rules:
        return UnitLevels(first_rows, None, base, [], 0)
    alone = [run([x])[0] for x in range(n_rules)]
    clean = alone[0] if n_rules == 1 else run(list(range(n_rules)))[0]
    lowered = clean.level < base.level
    if journey.funnel.on_exclusion == "drop_user":
        clean = Levels(
            np.where(lowered, 0, clean.level).astype(np.int32),
            np.where(lowered[:, None], NOT_REACHED, clean.path),
            np.where(lowered[:, None], -1, clean.rows),
            clean.last_entry,
        )
    excluded_by = [int((levels.level < base.level).sum()) for levels in alone]
    return UnitLevels(first_rows, None, clean, excluded_by, int(lowered.sum()))


def unit_columns(
    frame: pl.DataFrame, events: pl.DataFrame, units: UnitLevels, journey: JourneyConfig
) -> pl.DataFrame:
    """One row per unit: ``user_id``, then ``session_id``, the hold columns or ``attempt``,
    as text read from ``frame`` (the inactivity session number from ``events``)."""
    source = events[ROW].gather(units.first_rows).to_numpy()
    columns = [frame[USER].gather(source).cast(pl.String)]
    for key in unit_keys(journey)[1:]:
        if key in frame.columns:
            columns.append(frame[key].gather(source).cast(pl.String))
        else:  # sessions from inactivity exist only in the prepared events
            columns.append(events[key].gather(units.first_rows))
    if units.attempt is not None:
        columns.append(pl.Series(ATTEMPT, units.attempt, dtype=pl.Int64))
    return pl.DataFrame(columns)


def unit_starts(frame: pl.DataFrame, keys: list[str]) -> npt.NDArray[np.int64]:
    """Row offsets where each unit starts, plus the row count (rows grouped by unit)."""
    if keys == [USER]:  # the common case, straight on the codes
        codes = frame[USER].to_numpy()
        first = np.ones(len(codes), dtype=np.bool_)
        first[1:] = codes[1:] != codes[:-1]
    else:
        new_unit = pl.any_horizontal([pl.col(k).ne_missing(pl.col(k).shift(1)) for k in keys])
        first = frame.select(new_unit.fill_null(True).alias("new"))["new"].to_numpy()
        first[:1] = True
    return np.append(np.flatnonzero(first), len(first)).astype(np.int64)


def kernel_columns(frame: pl.DataFrame) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The kernel's inputs: timestamps (µs) and stage masks, as int64 arrays."""
    ts = frame[TS].dt.epoch("us").to_numpy().astype(np.int64, copy=False)
    mask = frame[STAGE_MASK].to_numpy().astype(np.int64, copy=False)
    return ts, mask


def kernel_for(
    journey: JourneyConfig, rules: list[int], excluded: npt.NDArray[np.int64] | None
) -> Callable[[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]], tuple[Levels, UnitOf]]:
    """The kernel for the journey's order, gaps and counting, as ``kernel(starts, ts, mask)``
    returning the levels of every unit (with ``count: entries``, of every attempt, and the
    unit of each attempt). The greedy kernel when nothing tightens the ordered funnel, else
    the exact programme; ``rules`` are the ``funnel.exclude`` indices applied (rules with the
    same steps share one span), ``excluded`` the rows' exclusion bits."""
    n_stages = len(journey.stages)
    window_us = micros(journey.funnel.window.total_seconds())
    within = [INF if s.within is None else micros(s.within.total_seconds()) for s in journey.stages]
    after = [0 if s.after is None else micros(s.after.total_seconds()) for s in journey.stages]
    strict = journey.funnel.order == "strict"
    spans = exclusion_spans(journey)
    slots = sorted({spans[x] for x in rules})
    slot_rows = np.zeros(len(excluded) if slots and excluded is not None else 0, dtype=np.int64)
    open_after = np.full(n_stages, -1, dtype=np.int64)
    for s, (a, b) in enumerate(slots):
        rule_bits = sum(1 << x for x in rules if spans[x] == (a, b))
        assert excluded is not None
        slot_rows |= ((excluded & rule_bits) != 0).astype(np.int64) << s
        open_after[a:b] = s
    constraints = Constraints(
        within_us=np.array(within, dtype=np.int64),
        after_us=np.array(after, dtype=np.int64),
        strict=strict,
        excluded=slot_rows,
        open_after=open_after,
        opens=np.array([a for a, _ in slots], dtype=np.int64),
        closes=np.array([b for _, b in slots], dtype=np.int64),
    )
    if journey.funnel.order == "any":
        kind = ANY_ORDER
    elif rules or strict or set(within[1:]) != {INF} or set(after[1:]) != {0}:
        kind = CONSTRAINED
    else:
        kind = GREEDY
    entries = journey.funnel.count == "entries"

    def kernel(
        starts: npt.NDArray[np.int64], ts: npt.NDArray[np.int64], mask: npt.NDArray[np.int64]
    ) -> tuple[Levels, UnitOf]:
        if entries:
            return attempt_levels(
                starts, ts, mask, constraints, kind=kind, n_stages=n_stages, window_us=window_us
            )
        if kind == GREEDY:
            return ordered_levels(starts, ts, mask, n_stages=n_stages, window_us=window_us), None
        if kind == ANY_ORDER:
            return any_order_levels(starts, ts, mask, n_stages=n_stages, window_us=window_us), None
        return constrained_levels(starts, ts, mask, constraints, n_stages=n_stages, window_us=window_us), None

    return kernel


def levels_frame(levels: Levels) -> pl.DataFrame:
    """``level``, ``last_entry`` and ``t0``…``t{N-1}`` (µs) as columns, one row per unit."""
    columns = {"level": levels.level, "last_entry": levels.last_entry}
    columns |= {f"t{i}": levels.path[:, i] for i in range(levels.path.shape[1])}
    return pl.DataFrame(columns)
