"""The definitions of docs/metrics.md written naively: slow, obviously right, for comparison.

Nothing here is shared with the implementation: matchers, the funnel and the metrics are
re-derived from the rows (dicts with user_id, ts, event and properties).
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from journeyctl.config.models import Condition, JourneyConfig, Matcher

Row = dict[str, Any]


def condition_holds(value: Any, condition: Condition) -> bool:
    if value is None:
        return False

    def number(v: Any) -> float | None:
        try:
            return float(v)
        except (TypeError, ValueError):
            return None

    def equals(expected: Any) -> bool:
        if isinstance(expected, bool):
            return str(value).lower() == str(expected).lower()
        if isinstance(expected, int | float):
            return number(value) == float(expected)
        return bool(value == expected)

    checks = []
    if condition.equals is not None:
        checks.append(equals(condition.equals))
    if condition.in_ is not None:
        checks.append(any(equals(v) for v in condition.in_))
    if condition.not_ is not None:
        checks.append(not equals(condition.not_))
    if condition.not_in is not None:
        checks.append(not any(equals(v) for v in condition.not_in))
    n = number(value)
    for bound, test in (
        (condition.gt, lambda a, b: a > b),
        (condition.gte, lambda a, b: a >= b),
        (condition.lt, lambda a, b: a < b),
        (condition.lte, lambda a, b: a <= b),
    ):
        if bound is not None:
            checks.append(n is not None and test(n, bound))
    if condition.regex is not None:
        checks.append(re.search(condition.regex, str(value)) is not None)
    return all(checks)


def matches(row: Row, matcher: Matcher) -> bool:
    return row["event"] in matcher.events and all(
        condition_holds(row.get(column), cond) for column, cond in matcher.where.items()
    )


def stages_of(row: Row, journey: JourneyConfig) -> set[int]:
    return {i for i, stage in enumerate(journey.stages) if any(matches(row, m) for m in stage.match)}


def by_user(rows: Sequence[Row]) -> dict[str, list[Row]]:
    users: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        users[row["user_id"]].append(row)
    return users


def best_path(rows: Sequence[Row], journey: JourneyConfig) -> tuple[int, datetime | None, datetime | None]:
    """(level, entry time, time of the last step) of the path that reaches the user's level
    earliest, ties broken by the latest entry; found by trying every path."""
    n = len(journey.stages)
    window = journey.funnel.window
    matched = [stages_of(row, journey) for row in rows]
    best: tuple[int, datetime | None, datetime | None] = (0, None, None)

    def better(level: int, t1: datetime, t_last: datetime) -> bool:
        b_level, b_t1, b_last = best
        if level != b_level:
            return level > b_level
        assert b_t1 is not None and b_last is not None
        return t_last < b_last or (t_last == b_last and t1 > b_t1)

    def extend(k: int, t1: datetime, prev: datetime, used: frozenset[int]) -> None:
        nonlocal best
        if better(k, t1, prev):
            best = (k, t1, prev)
        if k == n:
            return
        for i, row in enumerate(rows):
            ts = row["ts"]
            if i not in used and k in matched[i] and ts >= prev and ts - t1 <= window:
                extend(k + 1, t1, ts, used | {i})

    for i, row in enumerate(rows):
        if 0 in matched[i]:
            extend(1, row["ts"], row["ts"], frozenset({i}))
    return best


def users_per_stage(rows: Sequence[Row], journey: JourneyConfig) -> list[int]:
    levels = [best_path(user_rows, journey)[0] for user_rows in by_user(rows).values()]
    return [sum(level >= k for level in levels) for k in range(1, len(journey.stages) + 1)]


def sessions(rows: Sequence[Row], timeout: timedelta) -> list[list[Row]]:
    """Inactivity sessions: a gap longer than ``timeout`` starts a new one."""
    out: list[list[Row]] = []
    for user_rows in by_user(rows).values():
        ordered = sorted(user_rows, key=lambda r: r["ts"])
        current = [ordered[0]]
        for prev, row in itertools.pairwise(ordered):
            if row["ts"] - prev["ts"] > timeout:
                out.append(current)
                current = []
            current.append(row)
        out.append(current)
    return out


def bounce_rate(rows: Sequence[Row], journey: JourneyConfig) -> float | None:
    all_sessions = sessions(rows, journey.sessions.timeout)
    bounced = sum(len(s) <= journey.bounce.max_events for s in all_sessions)
    return bounced / len(all_sessions) if all_sessions else None


def cart_abandonment(rows: Sequence[Row], journey: JourneyConfig) -> float | None:
    """Session carts: abandoned unless a purchase comes at or after the first add."""
    carts = purchased = 0
    for session in sessions(rows, journey.sessions.timeout):
        adds = [r["ts"] for r in session if r["event"] in journey.cart.add]
        if adds:
            carts += 1
            purchased += any(r["ts"] >= min(adds) for r in session if r["event"] in journey.cart.purchase)
    return (carts - purchased) / carts if carts else None


def passes(row: Row, filters: Sequence[tuple[str, Condition]]) -> bool:
    """``--where``: a row is kept when its property passes every (column, condition)."""
    return all(condition_holds(row.get(column), condition) for column, condition in filters)


def pending_at(rows: Sequence[Row], journey: JourneyConfig, level: int, data_end: datetime) -> bool:
    """A user at ``level`` (≥ 1) is pending at the next stage when their latest entry's window
    is still open at the end of the data."""
    latest = max(r["ts"] for r in rows if 0 in stages_of(r, journey))
    return level >= 1 and latest + journey.funnel.window > data_end


def stage_table(
    rows: Sequence[Row], journey: JourneyConfig, *, data_end: datetime, exclude_pending: bool
) -> list[dict[str, Any]]:
    """Per stage: users, lost, pending, conversion and from_start, counting each user's fate
    at each stage: reached, pending (never reached it, window open at ``data_end``) or lost."""
    fates: list[tuple[int, bool]] = []  # (level, pending at the next stage)
    for user_rows in by_user(rows).values():
        level = best_path(user_rows, journey)[0]
        fates.append((level, level > 0 and pending_at(user_rows, journey, level, data_end)))
    out = []
    for k in range(1, len(journey.stages) + 1):
        users = sum(level >= k for level, _ in fates)
        pending = sum(level == k - 1 and waiting for level, waiting in fates) if k > 1 else 0
        # users whose fate at k is unknown: pending at some stage up to k
        unknown = sum(waiting and 1 <= level < k for level, waiting in fates) if exclude_pending else 0
        before = sum(level >= k - 1 for level, _ in fates) - (pending if exclude_pending else 0)
        first = sum(level >= 1 for level, _ in fates) - unknown
        out.append(
            {
                "users": users,
                "pending": pending,
                "lost": before - users if k > 1 else None,
                "conversion": (users / before if before else None) if k > 1 else None,
                "from_start": users / first if first else None,
            }
        )
    return out


def next_events(rows: Sequence[Row], journey: JourneyConfig, stage: int) -> dict[str | None, int]:
    """For users at level ``stage`` whose window closed: the event at the earliest time
    strictly after the last step of their reported path (the smallest name at that time), or
    None; counted."""
    data_end = max(r["ts"] for r in rows)
    counts: dict[str | None, int] = defaultdict(int)
    for user_rows in by_user(rows).values():
        level, _, t_last = best_path(user_rows, journey)
        if level != stage or pending_at(user_rows, journey, level, data_end):
            continue
        assert t_last is not None
        later = sorted((r["ts"], r["event"]) for r in user_rows if r["ts"] > t_last)
        counts[later[0][1] if later else None] += 1
    return dict(counts)


def all_paths(rows: Sequence[Row], journey: JourneyConfig) -> list[tuple[int, ...]]:
    """Every path as row indices: distinct rows filling steps 1..k in time order, the last
    within the window of the first."""
    n = len(journey.stages)
    window = journey.funnel.window
    matched = [stages_of(row, journey) for row in rows]
    found: list[tuple[int, ...]] = []

    def extend(path: tuple[int, ...]) -> None:
        found.append(path)
        if len(path) == n:
            return
        t1, prev = rows[path[0]]["ts"], rows[path[-1]]["ts"]
        for i, row in enumerate(rows):
            if i not in path and len(path) in matched[i] and row["ts"] >= prev and row["ts"] - t1 <= window:
                extend((*path, i))

    for i in range(len(rows)):
        if 0 in matched[i]:
            extend((i,))
    return found


def reported_paths(rows: Sequence[Row], journey: JourneyConfig) -> list[tuple[int, ...]]:
    """The paths that may be the reported one: the user's level, the earliest last step,
    then the latest entry, then every step at its earliest time (one time vector; rows
    sharing a timestamp may fill it in several ways)."""
    paths = all_paths(rows, journey)
    if not paths:
        return []
    level = max(len(p) for p in paths)

    def times(path: tuple[int, ...]) -> list[datetime]:
        return [rows[i]["ts"] for i in path]

    best = [p for p in paths if len(p) == level]
    best = [p for p in best if times(p)[-1] == min(times(q)[-1] for q in best)]
    best = [p for p in best if times(p)[0] == max(times(q)[0] for q in best)]
    earliest = min(times(p) for p in best)
    return [p for p in best if times(p) == earliest]


def attributed(rows: Sequence[Row], journey: JourneyConfig, column: str, attribution: str) -> set[str]:
    """The values a user may be attributed to: read on the entry row (``first_touch``), the
    last step's row (``last_touch``) or a stage's row of any admissible reported path;
    ``(none)`` for an empty value, ``(not reached)`` below the stage; empty when the user
    never entered."""
    ids = [stage.id for stage in journey.stages]
    values: set[str] = set()
    for path in reported_paths(rows, journey):
        step = {"first_touch": 0, "last_touch": len(path) - 1}.get(attribution)
        if step is None:
            step = ids.index(attribution)
        if step >= len(path):
            values.add("(not reached)")
            continue
        value = rows[path[step]].get(column)
        values.add("(none)" if value is None else str(value))
    return values


def users_per_stage_entering_in(
    rows: Sequence[Row], journey: JourneyConfig, since: datetime | None, until: datetime | None
) -> list[int]:
    """``--since``/``--until``: a user's level over the paths whose entry row lies in
    [since, until); later steps may lie outside."""

    def inside(ts: datetime) -> bool:
        return (since is None or ts >= since) and (until is None or ts < until)

    levels = []
    for user_rows in by_user(rows).values():
        paths = [p for p in all_paths(user_rows, journey) if inside(user_rows[p[0]]["ts"])]
        levels.append(max((len(p) for p in paths), default=0))
    return [sum(level >= k for level in levels) for k in range(1, len(journey.stages) + 1)]
