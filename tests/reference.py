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

from journeyctl.config.models import Condition, Exclusion, JourneyConfig, Matcher

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


def excluded_by(row: Row, rule: Exclusion) -> bool:
    return row["event"] in rule.events and all(
        condition_holds(row.get(column), cond) for column, cond in rule.where.items()
    )


def path_is_valid(
    path: Sequence[Row], unit: Sequence[Row], journey: JourneyConfig, rules: Sequence[int]
) -> bool:
    """The constraints on consecutive steps (gaps, strict order) and exclusions ``rules``
    (indices into funnel.exclude) whose two steps both lie on ``path``."""
    ids = [stage.id for stage in journey.stages]
    for k in range(1, len(path)):
        stage, gap = journey.stages[k], path[k]["ts"] - path[k - 1]["ts"]
        if stage.within is not None and gap > stage.within:
            return False
        if stage.after is not None and gap < stage.after:
            return False
        if journey.funnel.order == "strict" and any(
            path[k - 1]["ts"] < row["ts"] < path[k]["ts"] for row in unit
        ):
            return False
    for x in rules:
        rule = journey.funnel.exclude[x]
        a, b = ids.index(rule.between[0]), ids.index(rule.between[1])
        if b < len(path) and any(
            path[a]["ts"] < row["ts"] < path[b]["ts"] and excluded_by(row, rule) for row in unit
        ):
            return False
    return True


def best_path(
    rows: Sequence[Row],
    journey: JourneyConfig,
    rules: Sequence[int] | None = None,
    entry_at: datetime | None = None,
) -> tuple[int, datetime | None, datetime | None]:
    """(level, entry time, time of the last step) of the valid path that reaches the unit's
    level earliest, ties broken by the latest entry; found by trying every path. ``rules``:
    the exclusions applied (default: all of funnel.exclude); ``entry_at``: only entries at
    that time. In order ``any``, see ``any_order_best``."""
    if journey.funnel.order == "any":
        return any_order_best(rows, journey, entry_at)
    if rules is None:
        rules = range(len(journey.funnel.exclude))
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

    def extend(path: list[Row], used: frozenset[int]) -> None:
        # constraints only ever fail on a longer path, so extending valid paths finds them all
        nonlocal best
        if not path_is_valid(path, rows, journey, rules):
            return
        k, t1, prev = len(path), path[0]["ts"], path[-1]["ts"]
        if better(k, t1, prev):
            best = (k, t1, prev)
        if k == n:
            return
        for i, row in enumerate(rows):
            ts = row["ts"]
            if i not in used and k in matched[i] and ts >= prev and ts - t1 <= window:
                extend([*path, row], used | {i})

    for i, row in enumerate(rows):
        if 0 in matched[i] and entry_at in (None, row["ts"]):
            extend([row], frozenset({i}))
    return best


def any_order_best(
    rows: Sequence[Row], journey: JourneyConfig, entry_at: datetime | None = None
) -> tuple[int, datetime | None, datetime | None]:
    """Order ``any``: the most distinct stages matched by distinct rows spanning at most the
    window, then the earliest last row, then the latest first row, by trying every choice
    of stages and rows. ``entry_at``: only rows in [entry_at, entry_at + window]."""
    window = journey.funnel.window
    if entry_at is not None:
        rows = [r for r in rows if entry_at <= r["ts"] <= entry_at + window]
    matched = [stages_of(row, journey) for row in rows]
    for k in range(len(journey.stages), 0, -1):
        spans = [
            (max(rows[i]["ts"] for i in chosen), min(rows[i]["ts"] for i in chosen))
            for stages in itertools.combinations(range(len(journey.stages)), k)
            for chosen in itertools.permutations(range(len(rows)), k)
            if all(stage in matched[i] for stage, i in zip(stages, chosen, strict=True))
            and max(rows[i]["ts"] for i in chosen) - min(rows[i]["ts"] for i in chosen) <= window
        ]
        if spans:
            last = min(t_last for t_last, _ in spans)
            return k, max(t1 for t_last, t1 in spans if t_last == last), last
    return 0, None, None


def attempts(rows: Sequence[Row], journey: JourneyConfig) -> list[tuple[int, datetime, datetime | None]]:
    """``count: entries``: (level, entry time, last step time) of each attempt of a unit. The
    first enters at the earliest entry; an attempt ends at its full conversion (the last
    step of its earliest full path) or entry + window; the next enters strictly after."""
    n, window = len(journey.stages), journey.funnel.window
    out: list[tuple[int, datetime, datetime | None]] = []
    end: datetime | None = None
    for row in sorted(rows, key=lambda r: r["ts"]):
        matched = stages_of(row, journey)
        enters = bool(matched) if journey.funnel.order == "any" else 0 in matched
        if not enters or (end is not None and row["ts"] <= end):
            continue
        level, _, t_last = best_path(rows, journey, entry_at=row["ts"])
        out.append((level, row["ts"], t_last))
        end = t_last if level == n else row["ts"] + window
    return out


def units(rows: Sequence[Row], journey: JourneyConfig) -> dict[tuple[Any, ...], list[Row]]:
    """The rows of each counting unit: a user, a session, or a user × non-null hold values."""
    if journey.funnel.hold:
        out: dict[tuple[Any, ...], list[Row]] = defaultdict(list)
        for row in rows:
            values = tuple(row.get(column) for column in journey.funnel.hold)
            if None not in values:
                out[(row["user_id"], *values)].append(row)
        return out
    if journey.funnel.count == "sessions":
        return {(s[0]["user_id"], i): s for i, s in enumerate(sessions(rows, journey.sessions.timeout))}
    return {(user,): user_rows for user, user_rows in by_user(rows).items()}


def unit_level(rows: Sequence[Row], journey: JourneyConfig) -> int:
    """The unit's level: its best clean path, or 0 under drop_user when the exclusions
    lower it."""
    level = best_path(rows, journey)[0]
    if journey.funnel.on_exclusion == "drop_user" and level < best_path(rows, journey, rules=())[0]:
        return 0
    return level


def users_per_stage(rows: Sequence[Row], journey: JourneyConfig) -> list[int]:
    if journey.funnel.count == "entries":
        levels = [level for unit in units(rows, journey).values() for level, _, _ in attempts(unit, journey)]
    else:
        levels = [unit_level(unit_rows, journey) for unit_rows in units(rows, journey).values()]
    return [sum(level >= k for level in levels) for k in range(1, len(journey.stages) + 1)]


def excluded_by_rule(rows: Sequence[Row], journey: JourneyConfig) -> list[int]:
    """Per exclusion rule: units whose level that rule alone lowers."""
    all_units = list(units(rows, journey).values())
    return [
        sum(best_path(u, journey, rules=[x])[0] < best_path(u, journey, rules=())[0] for u in all_units)
        for x in range(len(journey.funnel.exclude))
    ]


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


def event_profile(rows: Sequence[Row]) -> dict[str, tuple[int, int | None, datetime | None, datetime | None]]:
    """``journeyctl events``: per event name (an empty one is no event), its rows, distinct
    non-empty users (None when the rows have no user column at all) and its first and last
    time (None when none is known). A row is a dict holding only the file's columns; ``ts``
    is a datetime, or None when it is empty or does not parse."""
    profile: dict[str, tuple[int, int | None, datetime | None, datetime | None]] = {}
    for name in {row["event"] for row in rows if row.get("event") is not None}:
        mine = [row for row in rows if row.get("event") == name]
        users = {row["user_id"] for row in mine if row.get("user_id") is not None}
        times = [row["ts"] for row in mine if row.get("ts") is not None]
        profile[name] = (
            len(mine),
            len(users) if "user_id" in mine[0] else None,
            min(times) if times else None,
            max(times) if times else None,
        )
    return profile
