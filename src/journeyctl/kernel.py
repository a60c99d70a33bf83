"""The per-unit kernel: for each unit (a user, or a session), the funnel level and step times.

It sees the events of one unit at a time, sorted by time, as plain arrays: the stage bit mask
of every row and its timestamp in microseconds. Nothing else crosses the boundary, so the
same kernel runs on all users at once or on user partitions (bounded memory).

The ordered funnel, exactly (``docs/metrics.md``): a unit reaches stage k from an entry at
t1 (a row matching stage 1) when distinct rows e1..ek match stages 1..k with
t1 ≤ t2 ≤ … ≤ tk and tk − t1 ≤ window. From one entry, taking every step at the earliest
possible time is optimal; rows sharing a timestamp are assigned to steps by bipartite
matching, so one row never fills two steps and tie order in the file never matters. The
level is the best over every entry.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np
import numpy.typing as npt

Int64Array = npt.NDArray[np.int64]
NOT_REACHED = np.iinfo(np.int64).min


class Levels(NamedTuple):
    """Per unit: ``level`` (0 = never entered), ``path`` (step times, µs, ``NOT_REACHED``
    beyond the level) of the path reaching the level earliest (ties: the latest entry),
    ``rows`` (the input row filling each step of that path, -1 beyond the level) and
    ``last_entry`` (time of the unit's latest entry, ``NOT_REACHED`` if none)."""

    level: npt.NDArray[np.int32]
    path: Int64Array
    rows: Int64Array
    last_entry: Int64Array


def ordered_levels(
    starts: Int64Array, ts: Int64Array, mask: Int64Array, *, n_stages: int, window_us: int
) -> Levels:
    """Run the ordered funnel on units ``starts[u]:starts[u+1]`` of rows sorted by (unit, ts)."""
    units = len(starts) - 1
    level = np.zeros(units, dtype=np.int32)
    path = np.full((units, n_stages), NOT_REACHED, dtype=np.int64)
    rows = np.full((units, n_stages), -1, dtype=np.int64)
    last_entry = np.full(units, NOT_REACHED, dtype=np.int64)
    if units > 0:
        _ordered_all(starts, ts, mask, n_stages, window_us, level, path, rows, last_entry)
    return Levels(level, path, rows, last_entry)


@nb.njit(cache=True, nogil=True)
def _ordered_all(starts, ts, mask, n_stages, window_us, level, path, rows, last_entry):
    for u in range(len(starts) - 1):
        a = starts[u]
        b = starts[u + 1]
        has_entry = False
        for r in range(a, b):
            if mask[r] & 1:
                has_entry = True
                break
        if has_entry:
            _ordered_unit(ts[a:b], mask[a:b], n_stages, window_us, level, path, rows, last_entry, u, a)


@nb.njit(cache=True, nogil=True)
def _ordered_unit(ts, mask, n_stages, window_us, level, path, rows, last_entry, u, offset):
    m = len(ts)
    group_end = np.empty(m, dtype=np.int64)  # first row after the timestamp group of row r
    end = m
    for r in range(m - 1, -1, -1):
        if r < m - 1 and ts[r] != ts[r + 1]:
            end = r + 1
        group_end[r] = end
    nxt = np.empty((n_stages, m + 1), dtype=np.int64)  # first row ≥ p matching stage i
    for i in range(n_stages):
        nxt[i, m] = m
    for p in range(m - 1, -1, -1):
        for i in range(n_stages):
            nxt[i, p] = p if (mask[p] >> i) & 1 else nxt[i, p + 1]

    row_stage = np.full(m, -1, dtype=np.int64)
    stage_row = np.full(n_stages, -1, dtype=np.int64)
    visited = np.zeros(m, dtype=np.bool_)
    prev = np.zeros(m, dtype=np.int64)
    queue = np.zeros(n_stages + 1, dtype=np.int64)
    steps = np.empty(n_stages, dtype=np.int64)

    best = 0
    best_last = np.iinfo(np.int64).max
    g = 0
    while g < m:
        ge = group_end[g]
        if nxt[0, g] < ge:  # this timestamp holds an entry
            last_entry[u] = ts[g]
            reached = _chain(
                ts,
                mask,
                n_stages,
                window_us,
                g,
                group_end,
                nxt,
                row_stage,
                stage_row,
                visited,
                prev,
                queue,
                steps,
            )
            t_last = steps[reached - 1]
            # entries come in time order, so `<=` keeps the latest entry on a tie
            if reached > best or (reached == best and t_last <= best_last):
                best = reached
                best_last = t_last
                for i in range(reached):
                    path[u, i] = steps[i]
                    rows[u, i] = offset + stage_row[i]
                for i in range(reached, n_stages):
                    path[u, i] = np.iinfo(np.int64).min
                    rows[u, i] = -1
        g = ge
    level[u] = best


@nb.njit(cache=True, nogil=True)
def _chain(
    ts,
    mask,
    n_stages,
    window_us,
    g0,
    group_end,
    nxt,
    row_stage,
    stage_row,
    visited,
    prev,
    queue,
    steps,
):
    """Steps reached from the entry group starting at row ``g0``, earliest time first."""
    deadline = ts[g0] + window_us
    gs = g0
    ge = group_end[g0]
    for r in range(gs, ge):
        row_stage[r] = -1
    i = 0
    while i < n_stages:
        if _place(i, gs, ge, mask, row_stage, stage_row, visited, prev, queue):
            steps[i] = ts[gs]
            i += 1
            continue
        q = nxt[i, ge]
        if q >= len(ts) or ts[q] > deadline:
            break
        gs = q  # q is the first row of its group matching stage i; earlier rows of the
        while gs > 0 and ts[gs - 1] == ts[q]:  # group may serve later stages
            gs -= 1
        ge = group_end[q]
        for r in range(gs, ge):
            row_stage[r] = -1
    return i


@nb.njit(cache=True, nogil=True)
def _place(stage, gs, ge, mask, row_stage, stage_row, visited, prev, queue):
    """Give ``stage`` a row of the group ``gs:ge``, re-assigning earlier steps if needed
    (an augmenting path); False when the group's rows cannot fill one more step."""
    if ge - gs == 1:
        if row_stage[gs] == -1 and (mask[gs] >> stage) & 1:
            row_stage[gs] = stage
            stage_row[stage] = gs
            return True
        return False
    for r in range(gs, ge):
        visited[r] = False
    stage_row[stage] = -1
    head = 0
    tail = 1
    queue[0] = stage
    while head < tail:
        s = queue[head]
        head += 1
        for r in range(gs, ge):
            if not visited[r] and (mask[r] >> s) & 1:
                visited[r] = True
                prev[r] = s
                if row_stage[r] == -1:
                    while True:
                        s2 = prev[r]
                        old = stage_row[s2]
                        stage_row[s2] = r
                        row_stage[r] = s2
                        if s2 == stage:
                            return True
                        r = old
                queue[tail] = row_stage[r]
                tail += 1
    return False
