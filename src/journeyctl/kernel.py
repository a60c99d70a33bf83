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
# operations each), which would cost more than the funnel itself with many small arrays, so
# the helpers called per group or step are also inlined. A unit reads only what it wrote,
# so nothing is cleared between units. A row holds a value per row of the unit (its rows are
# copied in, from 0), or per step, stage or exclusion span. Each kernel allocates the rows it
# uses: ``ANY_ROWS``, ``ORDERED_ROWS``, or ``CONSTRAINED_ROWS`` and a ``DEADLINE`` row per
# exclusion span.
ROW_TS, ROW_MASK = 0, 1  # per row: time, stage bits
BEST_ROW, BEST_TS = 2, 3  # per step: the unit's reported path
# Matching the steps that share a timestamp to the rows of their group:
ROW_STEP = 4  # per row: the step it fills (-1 none)
ROW_SEEN = 5  # per row: 1 when the current augmenting-path search reached it
ROW_FROM = 6  # per row: the step whose search reached it
STEP_ROW = 7  # per step: its row
QUEUE = 8  # the steps waiting in the search
# Any order matches no groups and uses these rows instead: per stage, the row matched to it
# and the depth-first search; per step, its row.
MATCHED_ROW, STAGE_SEEN, STACK_STAGE, STACK_NEXT, KEPT = 4, 5, 6, 7, 8
ANY_ROWS = 9
# The ordered funnel, per step: the time of the path being built; per stage i: the first row
# ≥ SCAN_FROM matching i is SCAN_TO.
STEP_TS, SCAN_FROM, SCAN_TO = 9, 10, 11
ORDERED_ROWS = 12
# The constrained programme: per row, exclusion bits; per timestamp group (rows
# G_START[g]:G_START[g+1]) its time, stage and exclusion bits; per step, the rules, the
# arrivals in the current group and the sliding-window deques; per exclusion span, its steps
# and (``_deadlines``) a row of deadlines per group.
ROW_EXCL, G_START, G_TS, G_MASK, G_EXCL = 12, 13, 14, 15, 16
WITHIN, AFTER, OPEN_AFTER = 17, 18, 19
ARRIVE, DQ_HEAD, DQ_TAIL, PUSHED = 20, 21, 22, 23
OPENS, CLOSES = 24, 25
DEADLINE = CONSTRAINED_ROWS = 26
# The constrained programme's tables, per (step, group):
REACH, RUN_START, ARRIVE_FROM, DQ = 0, 1, 2, 3
TABLES = 4


@nb.njit(cache=True, nogil=True)
def _scratch(starts, n_rows, n_stages):
    """The scratch array for the units ``starts[u]:starts[u+1]``: ``n_rows`` rows, a column
    per row of the longest unit and one more (group starts end with the row count), at
    least one per step and one more (a search queue holds every step)."""
    width = n_stages
    for u in range(len(starts) - 1):
        width = max(width, starts[u + 1] - starts[u])
    return np.empty((n_rows, width + 1), dtype=np.int64)


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
    work = _scratch(starts, ORDERED_ROWS, n_stages)
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


@nb.njit(cache=True, nogil=True, inline="always")
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
        while ts[gs - 1] == ts[q]:  # group may serve later stages (ts[ge - 1] < ts[q] stops this)
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


@nb.njit(cache=True, nogil=True, inline="always")
def _place(stage, gs, ge, work):
    """Give ``stage`` a row of the group ``gs:ge`` (``STEP_ROW``), re-assigning earlier
    steps if needed (an augmenting path); False when the group's rows cannot fill one more
    step. ``ROW_STEP`` is -1 on the group's rows before its first step."""
    if ge - gs == 1:
        if work[ROW_STEP, gs] == -1 and (work[ROW_MASK, gs] >> stage) & 1:
            work[ROW_STEP, gs] = stage
            work[STEP_ROW, stage] = gs
            return True
        return False
    for r in range(gs, ge):
        work[ROW_SEEN, r] = 0
    work[STEP_ROW, stage] = -1
    head = 0
    tail = 1
    work[QUEUE, 0] = stage
    while head < tail:
        s = work[QUEUE, head]
        head += 1
        for r in range(gs, ge):
            if not work[ROW_SEEN, r] and (work[ROW_MASK, r] >> s) & 1:
                work[ROW_SEEN, r] = 1
                work[ROW_FROM, r] = s
                if work[ROW_STEP, r] == -1:  # free: shift the steps along the path back to `stage`
                    while True:
                        s2 = work[ROW_FROM, r]
                        old = work[STEP_ROW, s2]
                        work[STEP_ROW, s2] = r
                        work[ROW_STEP, r] = s2
                        if s2 == stage:
                            return True
                        r = old
                work[QUEUE, tail] = work[ROW_STEP, r]
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
    n_excl = len(rules.opens)
    work = _scratch(starts, CONSTRAINED_ROWS + n_excl, n_stages)
    tables = np.empty((TABLES, n_stages, work.shape[1]), dtype=np.int64)
    _load_rules(rules, n_stages, work)
    for u in range(len(starts) - 1):
        a = starts[u]
        b = starts[u + 1]
        _load(ts, mask, a, b, work)
        _load_excluded(rules.excluded, a, b, work)
        level[u], last_entry[u] = _constrained_unit(
            work, tables, b - a, n_stages, n_excl, rules.strict, window_us
        )
        _store(work, level[u], a, u, path, rows)


@nb.njit(cache=True, nogil=True)
def _load_rules(rules, n_stages, work):
    """Copy the per-step gaps and the exclusion spans into their scratch rows."""
    for k in range(n_stages):
        work[WITHIN, k] = rules.within_us[k]
        work[AFTER, k] = rules.after_us[k]
        work[OPEN_AFTER, k] = rules.open_after[k]
    for x in range(len(rules.opens)):
        work[OPENS, x] = rules.opens[x]
        work[CLOSES, x] = rules.closes[x]


@nb.njit(cache=True, nogil=True)
def _load_excluded(excluded, a, b, work):
    """Copy the exclusion bits of rows ``a:b`` (none when ``excluded`` is empty)."""
    for r in range(b - a):
        work[ROW_EXCL, r] = excluded[a + r] if len(excluded) else 0


@nb.njit(cache=True, nogil=True)
def _groups(work, m):
    """Split the unit's ``m`` rows into timestamp groups (``G_*`` rows), each with the stages
    and exclusions its rows match; returns the number of groups."""
    n_groups = 0
    for r in range(m):
        if r == 0 or work[ROW_TS, r] != work[ROW_TS, r - 1]:
            work[G_START, n_groups] = r
            work[G_TS, n_groups] = work[ROW_TS, r]
            work[G_MASK, n_groups] = 0
            work[G_EXCL, n_groups] = 0
            n_groups += 1
        work[G_MASK, n_groups - 1] |= work[ROW_MASK, r]
        work[G_EXCL, n_groups - 1] |= work[ROW_EXCL, r]
    work[G_START, n_groups] = m
    return n_groups


@nb.njit(cache=True, nogil=True)
def _deadlines(work, n_groups, n_excl):
    """``DEADLINE[x, g]``: the time of the first group after g holding a row of exclusion x."""
    for x in range(n_excl):
        nxt = INF
        for h in range(n_groups - 1, -1, -1):
            work[DEADLINE + x, h] = nxt
            if (work[G_EXCL, h] >> x) & 1:
                nxt = work[G_TS, h]


@nb.njit(cache=True, nogil=True)
def _constrained_unit(work, tables, m, n_stages, n_excl, strict, window_us):
    """The level and latest entry (``NOT_REACHED`` if none) of the unit's ``m`` rows; the
    reported path is left in ``BEST_TS``/``BEST_ROW``."""
    entered = 0
    for r in range(m):
        entered |= work[ROW_MASK, r] & 1
    if not entered:  # common when counting sessions: nothing to run
        return 0, NOT_REACHED
    n_groups = _groups(work, m)
    _deadlines(work, n_groups, n_excl)
    best = 0
    best_last = INF
    last_entry = NOT_REACHED
    for g0 in range(n_groups):
        if not work[G_MASK, g0] & 1:
            continue
        last_entry = work[G_TS, g0]
        reached, first_g = _constrained_entry(work, tables, g0, n_groups, n_stages, strict, window_us)
        if reached == 0:
            continue
        t_last = work[G_TS, first_g]
        # entries come in time order, so `<=` keeps the latest entry on a tie
        if reached > best or (reached == best and t_last <= best_last):
            best = reached
            best_last = t_last
            _constrained_path(work, tables, reached, first_g)
    return best, last_entry


@nb.njit(cache=True, nogil=True)
def _constrained_entry(work, tables, g0, n_groups, n_stages, strict, window_us):
    """Run the programme from the entry group ``g0``: the steps reached and the first group
    reaching that many."""
    horizon = work[G_TS, g0] + window_us
    g_end = g0
    while g_end < n_groups and work[G_TS, g_end] <= horizon:
        g_end += 1
    for k in range(n_stages):
        work[DQ_HEAD, k] = 0
        work[DQ_TAIL, k] = 0
        work[PUSHED, k] = g0
        for h in range(g0, g_end):
            tables[REACH, k, h] = NOT_REACHED
    reached = 0
    first_g = -1
    for g in range(g0, g_end):
        for k in range(n_stages):
            work[ARRIVE, k] = NOT_REACHED
        if g == g0:
            work[ARRIVE, 0] = INF
        else:
            _arrivals(work, tables, g, n_stages, strict)
        for j in range(n_stages):
            if work[ARRIVE, j] != NOT_REACHED:
                k = _run(work, tables, g, j, n_stages)
                if k > reached:
                    reached = k
                    first_g = g
    return reached, first_g


@nb.njit(cache=True, nogil=True, inline="always")
def _arrivals(work, tables, g, n_stages, strict):
    """``ARRIVE[k]``: the best deadline of a path whose step k-1 lies in an earlier group
    allowed before group g (``ARRIVE_FROM[k, g]`` that group); ``NOT_REACHED`` if none."""
    t = work[G_TS, g]
    for k in range(1, n_stages):
        if not (work[G_MASK, g] >> k) & 1:
            continue
        # candidates for step k-1: groups h < g with after ≤ t - t[h] ≤ within
        hi = t - work[AFTER, k]
        while work[PUSHED, k] < g and work[G_TS, work[PUSHED, k]] <= hi:
            h = work[PUSHED, k]
            work[PUSHED, k] += 1
            value = tables[REACH, k - 1, h]
            if value == NOT_REACHED:
                continue
            # strictly smaller only: among equal deadlines the earliest step stays in front
            while (
                work[DQ_TAIL, k] > work[DQ_HEAD, k]
                and tables[REACH, k - 1, tables[DQ, k, work[DQ_TAIL, k] - 1]] < value
            ):
                work[DQ_TAIL, k] -= 1
            tables[DQ, k, work[DQ_TAIL, k]] = h
            work[DQ_TAIL, k] += 1
        lo = NOT_REACHED if work[WITHIN, k] == INF else t - work[WITHIN, k]
        while work[DQ_TAIL, k] > work[DQ_HEAD, k]:
            h = tables[DQ, k, work[DQ_HEAD, k]]
            if work[G_TS, h] >= lo and not (strict and h < g - 1):
                break
            work[DQ_HEAD, k] += 1
        if work[DQ_TAIL, k] == work[DQ_HEAD, k]:
            continue
        h = tables[DQ, k, work[DQ_HEAD, k]]
        if strict and h != g - 1:
            continue
        work[ARRIVE, k] = tables[REACH, k - 1, h]
        tables[ARRIVE_FROM, k, g] = h


@nb.njit(cache=True, nogil=True, inline="always")
def _run(work, tables, g, j, n_stages):
    """Fill steps j, j+1, … in group g after arriving at step j, as long as the group's
    rows match them and no gap or exclusion forbids it (``REACH``, ``RUN_START``); returns
    one past the last step filled."""
    t = work[G_TS, g]
    gs = work[G_START, g]
    ge = work[G_START, g + 1]
    arrive = work[ARRIVE, j]
    for r in range(gs, ge):
        work[ROW_STEP, r] = -1
    k = j
    while k < n_stages:
        if k > j and work[AFTER, k] > 0:
            return k
        x = work[OPEN_AFTER, k - 1] if k > 0 else -1
        if x >= 0 and work[CLOSES, x] == k and work[OPENS, x] < j and arrive < t:
            return k  # an excluded row lies strictly between the span's steps
        if not _place(k, gs, ge, work):
            return k
        x = work[OPEN_AFTER, k]
        if x < 0:
            value = INF
        elif work[OPENS, x] >= j:
            value = work[DEADLINE + x, g]
        else:
            value = arrive
        if value > tables[REACH, k, g]:
            tables[REACH, k, g] = value
            tables[RUN_START, k, g] = j
        k += 1
    return k


@nb.njit(cache=True, nogil=True)
def _constrained_path(work, tables, reached, g):
    """Follow ``RUN_START`` and ``ARRIVE_FROM`` back from step ``reached - 1`` in group g
    into ``BEST_TS``/``BEST_ROW``, matching each run to its group's rows again."""
    k = reached - 1
    while k >= 0:
        j = tables[RUN_START, k, g]
        gs = work[G_START, g]
        ge = work[G_START, g + 1]
        for r in range(gs, ge):
            work[ROW_STEP, r] = -1
        for s in range(j, k + 1):
            _place(s, gs, ge, work)
            work[BEST_TS, s] = work[G_TS, g]
        for s in range(j, k + 1):
            work[BEST_ROW, s] = work[STEP_ROW, s]
        if j > 0:
            g = tables[ARRIVE_FROM, j, g]
        k = j - 1


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
    work = _scratch(starts, ANY_ROWS, n_stages)
    for u in range(len(starts) - 1):
        a = starts[u]
        b = starts[u + 1]
        _load(ts, mask, a, b, work)
        level[u], last_entry[u] = _any_unit(work, b - a, n_stages, window_us)
        _store(work, level[u], a, u, path, rows)


@nb.njit(cache=True, nogil=True)
def _any_unit(work, m, n_stages, window_us):
    """The level and latest anchor (``NOT_REACHED`` if none) of the unit's ``m`` rows; the
    reported path is left in ``BEST_TS``/``BEST_ROW``."""
    best = 0
    best_last = INF
    last_anchor = NOT_REACHED
    g = 0
    while g < m:
        t0 = work[ROW_TS, g]
        ge = g + 1  # the timestamp group g:ge
        anchor = work[ROW_MASK, g] != 0
        while ge < m and work[ROW_TS, ge] == t0:
            anchor |= work[ROW_MASK, ge] != 0
            ge += 1
        if anchor:
            last_anchor = t0
            for s in range(n_stages):
                work[MATCHED_ROW, s] = -1
            n_kept = 0
            matched = 0  # the stages matched to kept rows, as bits
            r = g
            while r < m and work[ROW_TS, r] - t0 <= window_us and n_kept < n_stages:
                # Which rows are kept depends only on whether the matching can grow, not on
                # which maximum matching is held: a row matching a free stage takes it.
                free = work[ROW_MASK, r] & ((1 << n_stages) - 1) & ~matched
                if free:
                    s = _first_bit(free)
                    work[MATCHED_ROW, s] = r
                else:
                    s = _augment(r, n_stages, work) if work[ROW_MASK, r] else -1
                if s >= 0:
                    matched |= 1 << s
                    work[KEPT, n_kept] = r
                    n_kept += 1
                r += 1
            t_last = work[ROW_TS, work[KEPT, n_kept - 1]] if n_kept else INF
            # anchors come in time order, so `<=` keeps the latest anchor on a tie
            if n_kept and (n_kept > best or (n_kept == best and t_last <= best_last)):
                best = n_kept
                best_last = t_last
                for i in range(n_kept):
                    work[BEST_TS, i] = work[ROW_TS, work[KEPT, i]]
                    work[BEST_ROW, i] = work[KEPT, i]
        g = ge
    return best, last_anchor


@nb.njit(cache=True, nogil=True)
def _augment(r0, n_stages, work):
    """Match row ``r0`` to a stage (``MATCHED_ROW``), moving matched rows along an augmenting
    path (Kuhn's depth-first search, iterative); returns the stage newly matched, -1 when no
    stage can be freed for the row."""
    for s in range(n_stages):
        work[STAGE_SEEN, s] = 0
    depth = 0
    row = r0
    work[STACK_NEXT, 0] = 0
    while depth >= 0:
        s = work[STACK_NEXT, depth]  # the next stage to try for `row`
        while s < n_stages and not ((work[ROW_MASK, row] >> s) & 1 and not work[STAGE_SEEN, s]):
            s += 1
        if s == n_stages:
            depth -= 1  # dead end: back to the row that sent us here
            if depth >= 0:
                row = r0 if depth == 0 else work[MATCHED_ROW, work[STACK_STAGE, depth - 1]]
            continue
        work[STACK_NEXT, depth] = s + 1
        work[STAGE_SEEN, s] = 1
        work[STACK_STAGE, depth] = s
        if work[MATCHED_ROW, s] == -1:
            for d in range(depth, -1, -1):  # flip the path: each row takes its stage
                st = work[STACK_STAGE, d]
                work[MATCHED_ROW, st] = r0 if d == 0 else work[MATCHED_ROW, work[STACK_STAGE, d - 1]]
            return s
        depth += 1
        row = work[MATCHED_ROW, s]
        work[STACK_NEXT, depth] = 0
    return -1


@nb.njit(cache=True, nogil=True)
def _first_bit(bits):
    """The index of the lowest set bit of ``bits`` (not 0)."""
    i = 0
    while not (bits >> i) & 1:
        i += 1
    return i


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
    n_excl = len(rules.opens)
    n_rows = ORDERED_ROWS if kind == GREEDY else ANY_ROWS if kind == ANY_ORDER else CONSTRAINED_ROWS + n_excl
    work = _scratch(starts, n_rows, n_stages)
    tables = np.empty((TABLES, n_stages, work.shape[1] if kind == CONSTRAINED else 0), dtype=np.int64)
    if kind == CONSTRAINED:
        _load_rules(rules, n_stages, work)
    count = 0
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
            if kind == CONSTRAINED:
                _load_excluded(rules.excluded, lo, hi, work)
            m = hi - lo
            if kind != ANY_ORDER:
                for r in range(m):
                    if work[ROW_TS, r] != t_entry:
                        work[ROW_MASK, r] &= ~np.int64(1)  # this attempt's only entry is its own
            if kind == GREEDY:
                level[count], _ = _ordered_unit(work, m, n_stages, window_us)
            elif kind == CONSTRAINED:
                level[count], _ = _constrained_unit(
                    work, tables, m, n_stages, n_excl, rules.strict, window_us
                )
            else:
                level[count], _ = _any_unit(work, m, n_stages, window_us)
            _store(work, level[count], lo, count, path, rows)
            last_entry[count] = t_entry
            unit_of[count] = u
            end = path[count, n_stages - 1] if level[count] == n_stages else t_entry + window_us
            count += 1
            while e < b and ts[e] <= end:
                e += 1
    return count
