"""The per-unit kernel: for each unit (a user, or a session), the funnel level and step times.

It sees the events of one unit at a time, sorted by time, as plain arrays: the stage bit mask
of every row and its timestamp in microseconds. Nothing else crosses the boundary, so the
same kernel runs on all users at once or on user partitions (bounded memory).

The ordered funnel, exactly (``docs/metrics.md``): a unit reaches stage k from an entry at
t1 (a row matching stage 1) when distinct rows e1..ek match stages 1..k with
t1 ≤ t2 ≤ … ≤ tk and tk − t1 ≤ window. From one entry, taking every step at the earliest
possible time is optimal (``ordered_levels``); rows sharing a timestamp are assigned to
steps by bipartite matching, so one row never fills two steps and tie order in the file
never matters. The level is the best over every entry.

Per-stage gaps (``within``/``after``), the strict order and exclusions break the greedy
argument (a later step k may be the only one that lets step k+1 follow within its gap), so
``constrained_levels`` runs an exact dynamic programme per entry instead (see there).
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np
import numpy.typing as npt

Int64Array = npt.NDArray[np.int64]
NOT_REACHED = np.iinfo(np.int64).min
INF = np.iinfo(np.int64).max  # no deadline


class Levels(NamedTuple):
    """Per unit: ``level`` (0 = never entered), ``path`` (step times, µs, ``NOT_REACHED``
    beyond the level) of the path reaching the level earliest (ties: the latest entry),
    ``rows`` (the input row filling each step of that path, -1 beyond the level) and
    ``last_entry`` (time of the unit's latest entry, ``NOT_REACHED`` if none)."""

    level: npt.NDArray[np.int32]
    path: Int64Array
    rows: Int64Array
    last_entry: Int64Array


def unreached(units: int, n_stages: int) -> Levels:
    """Output arrays for ``units`` units that never entered, for a kernel to fill."""
    return Levels(
        np.zeros(units, dtype=np.int32),
        np.full((units, n_stages), NOT_REACHED, dtype=np.int64),
        np.full((units, n_stages), -1, dtype=np.int64),
        np.full(units, NOT_REACHED, dtype=np.int64),
    )


def ordered_levels(
    starts: Int64Array, ts: Int64Array, mask: Int64Array, *, n_stages: int, window_us: int
) -> Levels:
    """Run the ordered funnel on units ``starts[u]:starts[u+1]`` of rows sorted by (unit, ts)."""
    units = len(starts) - 1
    level, path, rows, last_entry = unreached(units, n_stages)
    if units > 0:
        _ordered_all(starts, ts, mask, n_stages, window_us, level, path, rows, last_entry)
    return Levels(level, path, rows, last_entry)


# The per-unit kernels keep their state in the rows of one scratch array, allocated once per
# call: a call between jitted functions reference-counts every array it passes (two atomic
# operations each), which would cost more than the funnel itself if it passed many small
# arrays. A unit reads only what it wrote, so nothing is cleared between units.
# Per row of the unit (the unit's rows are copied in, from 0):
ROW_TS, ROW_MASK = 0, 1
ROW_STEP = 2  # the step the row fills in the group being matched (-1 none)
ROW_SEEN = 3  # 1 when the current augmenting-path search reached the row
ROW_FROM = 4  # the step whose search reached it
# Per step:
STEP_ROW, STEP_TS = 5, 6  # the current path
BEST_ROW, BEST_TS = 7, 8  # the unit's reported path
QUEUE = 9  # steps waiting in an augmenting-path search
SCAN_FROM, SCAN_TO = 10, 11  # per stage i: the first row ≥ SCAN_FROM matching i is SCAN_TO
SCRATCH_ROWS = 12


@nb.njit(cache=True, nogil=True)
def _scratch(starts, n_stages):
    """The scratch array for the units ``starts[u]:starts[u+1]``, wide enough for any of them."""
    width = n_stages + 1
    for u in range(len(starts) - 1):
        width = max(width, starts[u + 1] - starts[u])
    return np.empty((SCRATCH_ROWS, width), dtype=np.int64)


@nb.njit(cache=True, nogil=True)
def _load(ts, mask, a, b, work):
    """Copy rows ``a:b`` into the scratch rows of the unit."""
    for r in range(b - a):
        work[ROW_TS, r] = ts[a + r]
        work[ROW_MASK, r] = mask[a + r]


@nb.njit(cache=True, nogil=True)
def _store(work, reached, offset, u, path, rows):
    """Write the reported path (``reached`` steps) as unit ``u``'s; later steps stay unreached."""
    for i in range(reached):
        path[u, i] = work[BEST_TS, i]
        rows[u, i] = offset + work[BEST_ROW, i]


@nb.njit(cache=True, nogil=True)
def _ordered_all(starts, ts, mask, n_stages, window_us, level, path, rows, last_entry):
    work = _scratch(starts, n_stages)
    for u in range(len(starts) - 1):
        a = starts[u]
        b = starts[u + 1]
        _load(ts, mask, a, b, work)
        level[u], last_entry[u] = _ordered_unit(work, b - a, n_stages, window_us)
        _store(work, level[u], a, u, path, rows)


@nb.njit(cache=True, nogil=True)
def _ordered_unit(work, m, n_stages, window_us):
    """The level and latest entry (``NOT_REACHED`` if none) of the unit's ``m`` rows; the
    reported path is left in ``BEST_TS``/``BEST_ROW``."""
    for i in range(n_stages):
        work[SCAN_FROM, i] = m + 1  # nothing scanned yet
    best = 0
    best_last = INF
    last_entry = NOT_REACHED
    g = 0
    while g < m:
        ge = g + 1  # the timestamp group g:ge
        entry = work[ROW_MASK, g] & 1
        while ge < m and work[ROW_TS, ge] == work[ROW_TS, g]:
            entry |= work[ROW_MASK, ge] & 1
            ge += 1
        if entry:
            last_entry = work[ROW_TS, g]
            reached = _chain(work, m, n_stages, window_us, g, ge)
            t_last = work[STEP_TS, reached - 1]
            # entries come in time order, so `<=` keeps the latest entry on a tie
            if reached > best or (reached == best and t_last <= best_last):
                best = reached
                best_last = t_last
                for i in range(reached):
                    work[BEST_TS, i] = work[STEP_TS, i]
                    work[BEST_ROW, i] = work[STEP_ROW, i]
        g = ge
    return best, last_entry


@nb.njit(cache=True, nogil=True)
def _chain(work, m, n_stages, window_us, gs, ge):
    """The number of steps reached from the entry group ``gs:ge``, each at the earliest
    possible time (``STEP_TS``, ``STEP_ROW``)."""
    ts = work[ROW_TS]
    deadline = ts[gs] + window_us
    i = 0
    fresh = True  # no step in the group gs:ge yet
    while i < n_stages:
        if ge - gs == 1:  # one row (the common case): it fills one step, no matching needed
            placed = fresh and ((work[ROW_MASK, gs] >> i) & 1) == 1
            if placed:
                work[STEP_ROW, i] = gs
        else:
            if fresh:
                for r in range(gs, ge):
                    work[ROW_STEP, r] = -1
            placed = _place(i, gs, ge, work)
        fresh = False
        if placed:
            work[STEP_TS, i] = ts[gs]
            i += 1
            continue
        q = _next_row(i, ge, m, work)
        if q >= m or ts[q] > deadline:
            return i
        gs = q  # q is the first row of its group matching stage i; earlier rows of the
        while ts[gs - 1] == ts[q]:  # group may serve later stages (gs - 1 ≥ the entry row)
            gs -= 1
        ge = q + 1
        while ge < m and ts[ge] == ts[q]:
            ge += 1
        fresh = True
    return i


@nb.njit(cache=True, nogil=True)
def _next_row(stage, p, m, work):
    """The first row ≥ ``p`` matching ``stage`` (``m`` if none). Later entries ask from
    later rows (a later entry's earliest steps are never earlier), so remembering the last
    answer per stage scans every row about once per stage and unit, and only as far as the
    chains go (no table of every row × stage)."""
    if work[SCAN_FROM, stage] <= p <= work[SCAN_TO, stage]:
        return work[SCAN_TO, stage]
    q = p
    while q < m and not (work[ROW_MASK, q] >> stage) & 1:
        q += 1
    work[SCAN_FROM, stage] = p
    work[SCAN_TO, stage] = q
    return q


@nb.njit(cache=True, nogil=True)
def _place(stage, gs, ge, work):
    """Give ``stage`` a row of the group ``gs:ge`` (``STEP_ROW``), re-assigning earlier
    steps if needed (an augmenting path); False when the group's rows cannot fill one more
    step. ``ROW_STEP`` is -1 on the group's rows before its first step."""
    mask = work[ROW_MASK]
    row_step = work[ROW_STEP]
    step_row = work[STEP_ROW]
    if ge - gs == 1:
        if row_step[gs] == -1 and (mask[gs] >> stage) & 1:
            row_step[gs] = stage
            step_row[stage] = gs
            return True
        return False
    seen = work[ROW_SEEN]
    came_from = work[ROW_FROM]
    queue = work[QUEUE]
    for r in range(gs, ge):
        seen[r] = 0
    step_row[stage] = -1
    head = 0
    tail = 1
    queue[0] = stage
    while head < tail:
        s = queue[head]
        head += 1
        for r in range(gs, ge):
            if not seen[r] and (mask[r] >> s) & 1:
                seen[r] = 1
                came_from[r] = s
                if row_step[r] == -1:
                    while True:
                        s2 = came_from[r]
                        old = step_row[s2]
                        step_row[s2] = r
                        row_step[r] = s2
                        if s2 == stage:
                            return True
                        r = old
                queue[tail] = row_step[r]
                tail += 1
    return False


class Constraints(NamedTuple):
    """What tightens the ordered funnel, per stage ``k`` (0-based):

    ``within_us[k]`` / ``after_us[k]``: the largest / smallest gap ``t[k] - t[k-1]``
    (``INF`` / 0 when unset); ``strict``: no row of the unit lies strictly between two
    consecutive steps; ``excluded``: per row, bit ``x`` set when the row matches exclusion
    ``x`` (empty without exclusions); ``open_after[k]``: the exclusion whose span is open
    after step ``k`` (-1 none); exclusion ``x`` spans steps ``opens[x]`` to ``closes[x]`` (at
    most one open at a time).
    """

    within_us: Int64Array
    after_us: Int64Array
    strict: bool
    excluded: Int64Array
    open_after: Int64Array
    opens: Int64Array
    closes: Int64Array


def constrained_levels(
    starts: Int64Array, ts: Int64Array, mask: Int64Array, rules: Constraints, *, n_stages: int, window_us: int
) -> Levels:
    """The funnel of ``ordered_levels`` under per-stage gaps, the strict order and
    exclusions, still the exact best over every entry and path.

    Per entry, a dynamic programme over (step k, timestamp group g): ``reach[k, g]`` holds
    when some valid path fills step k in group g. Steps sharing a group form a run that
    must be matchable to distinct rows of the group; the next run starts in a later group
    whose gap to the previous step is allowed (strict: the very next group). Every
    constraint depends only on the previous step, except an open exclusion, whose deadline
    (the first excluded row strictly after its opening step) is carried as the state's value:
    the latest deadline dominates, so keeping the maximum per state stays exact.
    """
    units = len(starts) - 1
    level, path, rows, last_entry = unreached(units, n_stages)
    if units > 0:
        _constrained_all(starts, ts, mask, rules, n_stages, window_us, level, path, rows, last_entry)
    return Levels(level, path, rows, last_entry)


@nb.njit(cache=True, nogil=True)
def _constrained_all(starts, ts, mask, rules, n_stages, window_us, level, path, rows, last_entry):
    work = _scratch(starts, n_stages)
    for u in range(len(starts) - 1):
        a = starts[u]
        b = starts[u + 1]
        _load(ts, mask, a, b, work)
        has_entry = False
        for r in range(a, b):
            if mask[r] & 1:
                has_entry = True
                break
        if has_entry:
            _constrained_unit(
                ts[a:b], mask[a:b], rules, n_stages, window_us, level, path, rows, last_entry, u, a, work
            )


@nb.njit(cache=True, nogil=True)
def _constrained_unit(ts, mask, rules, n_stages, window_us, level, path, rows, last_entry, u, offset, work):
    """``offset`` is the unit's first row in the arrays of ``rules`` and of the output rows."""
    m = len(ts)
    excluded = rules.excluded  # per row of all units; empty without exclusions
    within_us = rules.within_us
    after_us = rules.after_us
    strict = rules.strict
    open_after = rules.open_after
    opens = rules.opens
    closes = rules.closes
    n_groups = 0
    for r in range(m):
        if r == 0 or ts[r] != ts[r - 1]:
            n_groups += 1
    g_start = np.empty(n_groups + 1, dtype=np.int64)  # rows of group g: g_start[g]:g_start[g+1]
    g_ts = np.empty(n_groups, dtype=np.int64)
    g_mask = np.zeros(n_groups, dtype=np.int64)
    g_excl = np.zeros(n_groups, dtype=np.int64)
    g = -1
    for r in range(m):
        if r == 0 or ts[r] != ts[r - 1]:
            g += 1
            g_start[g] = r
            g_ts[g] = ts[r]
        g_mask[g] |= mask[r]
        if len(excluded):
            g_excl[g] |= excluded[offset + r]
    g_start[n_groups] = m
    n_excl = len(opens)
    # deadline[x, g]: time of the first group after g holding a row of exclusion x
    deadline = np.full((max(n_excl, 1), n_groups), INF, dtype=np.int64)
    for x in range(n_excl):
        nxt = INF
        for h in range(n_groups - 1, -1, -1):
            deadline[x, h] = nxt
            if (g_excl[h] >> x) & 1:
                nxt = g_ts[h]

    reach = np.empty((n_stages, n_groups), dtype=np.int64)  # best deadline; NOT_REACHED: none
    run_start = np.empty((n_stages, n_groups), dtype=np.int64)
    arrive = np.empty(n_stages, dtype=np.int64)
    arrive_from = np.empty((n_stages, n_groups), dtype=np.int64)
    dq = np.empty((n_stages, n_groups), dtype=np.int64)  # sliding-window maxima of reach[k-1]
    dq_head = np.empty(n_stages, dtype=np.int64)
    dq_tail = np.empty(n_stages, dtype=np.int64)
    pushed = np.empty(n_stages, dtype=np.int64)
    row_stage = work[ROW_STEP]
    stage_row = work[STEP_ROW]

    best = 0
    best_last = INF
    for g0 in range(n_groups):
        if not g_mask[g0] & 1:
            continue
        last_entry[u] = g_ts[g0]
        horizon = g_ts[g0] + window_us
        g_end = g0
        while g_end < n_groups and g_ts[g_end] <= horizon:
            g_end += 1
        for k in range(n_stages):
            dq_head[k] = 0
            dq_tail[k] = 0
            pushed[k] = g0
            for h in range(g0, g_end):
                reach[k, h] = NOT_REACHED
        reached = 0
        first_g = -1
        for g in range(g0, g_end):
            t = g_ts[g]
            for k in range(n_stages):
                arrive[k] = NOT_REACHED
            if g == g0:
                arrive[0] = INF
            else:
                for k in range(1, n_stages):
                    if not (g_mask[g] >> k) & 1:
                        continue
                    # candidates for step k-1: groups h < g with after ≤ t - t[h] ≤ within
                    hi = t - after_us[k]
                    while pushed[k] < g and g_ts[pushed[k]] <= hi:
                        h = pushed[k]
                        pushed[k] += 1
                        if reach[k - 1, h] == NOT_REACHED:
                            continue
                        # strictly smaller only: among equal deadlines the earliest step stays in front
                        while (
                            dq_tail[k] > dq_head[k] and reach[k - 1, dq[k, dq_tail[k] - 1]] < reach[k - 1, h]
                        ):
                            dq_tail[k] -= 1
                        dq[k, dq_tail[k]] = h
                        dq_tail[k] += 1
                    lo = NOT_REACHED if within_us[k] == INF else t - within_us[k]
                    while dq_tail[k] > dq_head[k] and (
                        g_ts[dq[k, dq_head[k]]] < lo or (strict and dq[k, dq_head[k]] < g - 1)
                    ):
                        dq_head[k] += 1
                    if dq_tail[k] == dq_head[k]:
                        continue
                    h = dq[k, dq_head[k]]
                    if strict and h != g - 1:
                        continue
                    arrive[k] = reach[k - 1, h]
                    arrive_from[k, g] = h
            for j in range(n_stages):
                if arrive[j] == NOT_REACHED:
                    continue
                for r in range(g_start[g], g_start[g + 1]):
                    row_stage[r] = -1
                for k in range(j, n_stages):
                    if k > j and after_us[k] > 0:
                        break
                    x = open_after[k - 1] if k > 0 else -1
                    if x >= 0 and closes[x] == k and opens[x] < j and arrive[j] < t:
                        break  # an excluded row lies strictly between the span's steps
                    if not _place(k, g_start[g], g_start[g + 1], work):
                        break
                    x = open_after[k]
                    if x < 0:
                        value = INF
                    elif opens[x] >= j:
                        value = deadline[x, g]
                    else:
                        value = arrive[j]
                    if value > reach[k, g]:
                        reach[k, g] = value
                        run_start[k, g] = j
                    if k + 1 > reached:
                        reached = k + 1
                        first_g = g
        if reached == 0:
            continue
        t_last = g_ts[first_g]
        # entries come in time order, so `<=` keeps the latest entry on a tie
        if reached > best or (reached == best and t_last <= best_last):
            best = reached
            best_last = t_last
            for i in range(n_stages):
                path[u, i] = NOT_REACHED
                rows[u, i] = -1
            k = reached - 1
            g = first_g
            while True:
                j = run_start[k, g]
                for r in range(g_start[g], g_start[g + 1]):
                    row_stage[r] = -1
                for s in range(j, k + 1):
                    _place(s, g_start[g], g_start[g + 1], work)
                for s in range(j, k + 1):
                    path[u, s] = g_ts[g]
                    rows[u, s] = offset + stage_row[s]
                if j == 0:
                    break
                g = arrive_from[j, g]
                k = j - 1
    level[u] = best


def any_order_levels(
    starts: Int64Array, ts: Int64Array, mask: Int64Array, *, n_stages: int, window_us: int
) -> Levels:
    """The funnel in any order: a unit's level is the largest number of distinct stages
    matched by distinct rows inside one window anchored at the earliest of those rows.

    Per anchor (each timestamp holding a row that matches some stage), rows up to
    anchor + window are offered in time order to a bipartite matching (rows ↔ stages,
    augmenting paths); a row is kept when the matching grows. Matchable row sets form a
    matroid, so this greedy reaches the maximum and makes the i-th kept row as early as
    possible: ``path[i]`` is when the unit had done i + 1 distinct stages, ``rows[i]`` the
    row that did it. ``last_entry`` is the latest anchor.
    """
    units = len(starts) - 1
    level, path, rows, last_entry = unreached(units, n_stages)
    if units > 0:
        _any_all(starts, ts, mask, n_stages, window_us, level, path, rows, last_entry)
    return Levels(level, path, rows, last_entry)


@nb.njit(cache=True, nogil=True)
def _any_all(starts, ts, mask, n_stages, window_us, level, path, rows, last_entry):
    for u in range(len(starts) - 1):
        a = starts[u]
        b = starts[u + 1]
        _any_unit(ts[a:b], mask[a:b], n_stages, window_us, level, path, rows, last_entry, u, a)


@nb.njit(cache=True, nogil=True)
def _any_unit(ts, mask, n_stages, window_us, level, path, rows, last_entry, u, offset):
    m = len(ts)
    row_of = np.full(n_stages, -1, dtype=np.int64)  # the row matched to each stage
    seen = np.zeros(n_stages, dtype=np.bool_)
    kept = np.empty(n_stages, dtype=np.int64)
    stack_stage = np.empty(n_stages + 1, dtype=np.int64)
    stack_next = np.empty(n_stages + 1, dtype=np.int64)
    best = 0
    best_last = INF
    g = 0
    while g < m:
        if g > 0 and ts[g] == ts[g - 1]:
            g += 1
            continue
        has_stage = False
        r = g
        while r < m and ts[r] == ts[g]:
            if mask[r] != 0:
                has_stage = True
            r += 1
        if not has_stage:
            g += 1
            continue
        last_entry[u] = ts[g]
        for s in range(n_stages):
            row_of[s] = -1
        n_kept = 0
        r = g
        while r < m and ts[r] - ts[g] <= window_us and n_kept < n_stages:
            if mask[r] != 0 and _augment(r, mask, n_stages, row_of, seen, stack_stage, stack_next):
                kept[n_kept] = r
                n_kept += 1
            r += 1
        if n_kept > 0:
            t_last = ts[kept[n_kept - 1]]
            # anchors come in time order, so `<=` keeps the latest anchor on a tie
            if n_kept > best or (n_kept == best and t_last <= best_last):
                best = n_kept
                best_last = t_last
                for i in range(n_stages):
                    if i < n_kept:
                        path[u, i] = ts[kept[i]]
                        rows[u, i] = offset + kept[i]
                    else:
                        path[u, i] = NOT_REACHED
                        rows[u, i] = -1
        g += 1
    level[u] = best


@nb.njit(cache=True, nogil=True)
def _augment(r0, mask, n_stages, row_of, seen, stack_stage, stack_next):
    """Match row ``r0`` to a stage, moving matched rows along an augmenting path (Kuhn's
    depth-first search, iterative); False when no stage can be freed for it."""
    for s in range(n_stages):
        seen[s] = False
    depth = 0
    row = r0
    stack_next[0] = 0
    while depth >= 0:
        s = stack_next[depth]
        found = -1
        while s < n_stages:
            if (mask[row] >> s) & 1 and not seen[s]:
                found = s
                break
            s += 1
        if found < 0:
            depth -= 1  # dead end: back to the row that sent us here
            if depth >= 0:
                row = r0 if depth == 0 else row_of[stack_stage[depth - 1]]
            continue
        stack_next[depth] = found + 1
        seen[found] = True
        stack_stage[depth] = found
        if row_of[found] == -1:
            for d in range(depth, -1, -1):  # flip the path: each row takes its stage
                st = stack_stage[d]
                row_of[st] = r0 if d == 0 else row_of[stack_stage[d - 1]]
            return True
        depth += 1
        row = row_of[found]
        stack_next[depth] = 0
    return False


GREEDY, CONSTRAINED, ANY_ORDER = 0, 1, 2


def attempt_levels(
    starts: Int64Array,
    ts: Int64Array,
    mask: Int64Array,
    rules: Constraints,
    *,
    kind: int,
    n_stages: int,
    window_us: int,
) -> tuple[Levels, Int64Array]:
    """Every attempt of every unit, each with its own level and path (``count: entries``),
    and the unit each attempt belongs to.

    A unit's first attempt enters at its earliest entry (a row matching stage 1; in any
    order, a row matching some stage). An attempt ends when it converts fully (at the last
    step of its earliest full path) or when its window expires (entry + window); the next
    attempt enters at the first entry strictly after that end. Each attempt is the funnel
    of ``kind`` (``GREEDY``, ``CONSTRAINED`` under ``rules``, ``ANY_ORDER``) restricted to
    its single entry and its window.
    """
    own = mask[starts[0] : starts[-1]]  # the rows of these units only
    bound = int(np.count_nonzero(own if kind == ANY_ORDER else own & 1))
    level, path, rows, last_entry = unreached(bound, n_stages)
    unit_of = np.zeros(bound, dtype=np.int64)
    count = 0
    if len(starts) > 1:
        count = _attempts_all(
            starts, ts, mask, kind, rules, n_stages, window_us, level, path, rows, last_entry, unit_of
        )
    return Levels(level[:count], path[:count], rows[:count], last_entry[:count]), unit_of[:count]


@nb.njit(cache=True, nogil=True)
def _attempts_all(starts, ts, mask, kind, rules, n_stages, window_us, level, path, rows, last_entry, unit_of):
    count = 0
    work = _scratch(starts, n_stages)
    for u in range(len(starts) - 1):
        a = starts[u]
        b = starts[u + 1]
        e = a
        while True:
            while e < b and not ((mask[e] != 0) if kind == ANY_ORDER else (mask[e] & 1)):
                e += 1
            if e >= b:
                break
            t_entry = ts[e]
            lo = e
            while lo > a and ts[lo - 1] == t_entry:
                lo -= 1
            hi = e
            while hi < b and ts[hi] - t_entry <= window_us:
                hi += 1
            _load(ts, mask, lo, hi, work)
            m = hi - lo
            if kind != ANY_ORDER:
                for r in range(m):
                    if work[ROW_TS, r] != t_entry:
                        work[ROW_MASK, r] &= ~np.int64(1)  # this attempt's only entry is its own
            if kind == GREEDY:
                level[count], _ = _ordered_unit(work, m, n_stages, window_us)
                _store(work, level[count], lo, count, path, rows)
            elif kind == CONSTRAINED:
                _constrained_unit(
                    work[ROW_TS, :m],
                    work[ROW_MASK, :m],
                    rules,
                    n_stages,
                    window_us,
                    level,
                    path,
                    rows,
                    last_entry,
                    count,
                    lo,
                    work,
                )
            else:
                _any_unit(
                    work[ROW_TS, :m],
                    work[ROW_MASK, :m],
                    n_stages,
                    window_us,
                    level,
                    path,
                    rows,
                    last_entry,
                    count,
                    lo,
                )
            last_entry[count] = t_entry
            unit_of[count] = u
            end = path[count, n_stages - 1] if level[count] == n_stages else t_entry + window_us
            count += 1
            while e < b and ts[e] <= end:
                e += 1
    return count
