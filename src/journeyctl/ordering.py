"""Row order for the per-user kernel: rows grouped by user, in time order within a user.

A counting sort on dense integer user codes followed by a time sort inside each user costs
about as much as one pass over the rows, where a general two-key sort costs several. The
code range is split between threads (the loops release the GIL).
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numba as nb
import numpy as np
import numpy.typing as npt

SMALL_GROUP = 32  # groups up to this size are insertion-sorted in place


class Ordered(NamedTuple):
    """``order``: the row permutation; ``ts``: the timestamps in that order; ``rows_per_code``:
    how many rows each code 0…max has (codes without rows count 0)."""

    order: npt.NDArray[np.int64]
    ts: npt.NDArray[np.int64]
    rows_per_code: npt.NDArray[np.int64]


def balanced_bounds(starts: npt.NDArray[np.int64], parts: int) -> list[int]:
    """Cut the groups ``starts[g]:starts[g+1]`` into at most ``parts`` contiguous runs of
    about the same number of rows: the group indices where the runs begin, then the end."""
    groups = len(starts) - 1
    cuts = np.searchsorted(starts, np.linspace(0, int(starts[-1]), parts + 1)[1:-1])
    return [0, *sorted(set(cuts.tolist()) - {0, groups}), groups]


def user_time_order(codes: npt.NDArray[np.uint32], ts: npt.NDArray[np.int64], *, threads: int = 1) -> Ordered:
    """Rows in (user code, ts) order: every row of a code together, codes ascending, ts
    ascending inside a code (ties in any order)."""
    counts = np.bincount(codes, minlength=1).astype(np.int64) if len(codes) else np.zeros(0, np.int64)
    starts = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    order = np.empty(len(codes), dtype=np.int64)
    ordered_ts = np.empty(len(codes), dtype=np.int64)
    ranges = list(itertools.pairwise(balanced_bounds(starts, threads)))
    if len(ranges) == 1:
        _fill(codes, ts, starts, 0, len(counts), order, ordered_ts)
    else:
        with ThreadPoolExecutor(len(ranges)) as pool:
            list(pool.map(lambda r: _fill(codes, ts, starts, r[0], r[1], order, ordered_ts), ranges))
    return Ordered(order, ordered_ts, counts)


@nb.njit(cache=True, nogil=True)
def _fill(codes, ts, starts, lo, hi, order, ordered_ts):  # type: ignore[no-untyped-def]
    """Place the rows of codes [lo, hi) and sort each code's rows by time."""
    position = starts[lo:hi].copy()
    for i in range(len(codes)):
        c = codes[i]
        if lo <= c < hi:
            p = position[c - lo]
            order[p] = i
            ordered_ts[p] = ts[i]
            position[c - lo] = p + 1
    for g in range(lo, hi):
        a = starts[g]
        b = starts[g + 1]
        if b - a <= SMALL_GROUP:
            for i in range(a + 1, b):  # insertion sort by ts, on consecutive memory
                row = order[i]
                key = ordered_ts[i]
                j = i - 1
                while j >= a and ordered_ts[j] > key:
                    order[j + 1] = order[j]
                    ordered_ts[j + 1] = ordered_ts[j]
                    j -= 1
                order[j + 1] = row
                ordered_ts[j + 1] = key
        else:
            by_time = np.argsort(ordered_ts[a:b], kind="mergesort")
            order[a:b] = order[a:b][by_time]
            ordered_ts[a:b] = ordered_ts[a:b][by_time]
