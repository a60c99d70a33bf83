"""Row order for the per-user kernel: rows grouped by user, in time order within a user.

Users are grouped by a 128-bit fingerprint of their id (two independently seeded 64-bit
hashes): building dense codes for millions of ids through a table of the texts costs seconds,
hashing them milliseconds. Two different ids share a fingerprint with probability about
n²/2¹²⁹ — below 10⁻²² for 100 million users.

The sort is a two-level radix sort on the fingerprint's top bits: one pass scatters the rows
into 2,048 buckets (2,048 sequential write streams, where a single-level scatter into millions
of buckets would miss the cache on every row), then each bucket, small enough for the CPU's
cache, is counting-sorted by the next bits into groups of a few rows, and each group is
insertion-sorted by (fingerprint, time). The buckets are split between threads (the loops
release the GIL).
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numba as nb
import numpy as np
import numpy.typing as npt

COARSE_BITS = 11  # the first pass's buckets: 2,048
ROWS_PER_GROUP = 8  # the second pass's groups hold about this many rows
SMALL_GROUP = 32  # groups up to this size are insertion-sorted, larger ones merge-sorted
HIGH, LOW, TIME, ROW = range(4)  # the columns of the packed rows


class Ordered(NamedTuple):
    """``order``: the row permutation; ``ts``: the timestamps in that order; ``rows_per_user``:
    how many rows each user (distinct fingerprint) has, in the order of ``order``."""

    order: npt.NDArray[np.uint32]
    ts: npt.NDArray[np.int64]
    rows_per_user: npt.NDArray[np.int64]


def balanced_bounds(starts: npt.NDArray[np.int64], parts: int) -> list[int]:
    """Cut the groups ``starts[g]:starts[g+1]`` into at most ``parts`` contiguous runs of
    about the same number of rows: the group indices where the runs begin, then the end."""
    groups = len(starts) - 1
    cuts = np.searchsorted(starts, np.linspace(0, int(starts[-1]), parts + 1)[1:-1])
    return [0, *sorted(set(cuts.tolist()) - {0, groups}), groups]


def user_time_order(
    high: npt.NDArray[np.uint64], low: npt.NDArray[np.uint64], ts: npt.NDArray[np.int64], *, threads: int = 1
) -> Ordered:
    """Rows in (fingerprint, ts) order, the fingerprint of row i being (high[i], low[i]):
    every row of a user together, ts ascending inside a user (ties in any order)."""
    n = len(ts)
    fine_bits = max(0, (n // ROWS_PER_GROUP).bit_length() - COARSE_BITS)
    coarse_shift = np.uint64(64 - COARSE_BITS)
    starts = np.zeros((1 << COARSE_BITS) + 1, dtype=np.int64)
    packed = np.empty((n, 4), dtype=np.int64)
    _scatter(high, low, ts, coarse_shift, starts, packed)
    fine_shift = np.uint64(64 - COARSE_BITS - fine_bits)

    def refine(bounds: tuple[int, int]) -> None:
        _refine(packed, starts, bounds[0], bounds[1], fine_shift, fine_bits)

    ranges = list(itertools.pairwise(balanced_bounds(starts, threads)))
    if len(ranges) == 1:
        refine(ranges[0])
    else:
        with ThreadPoolExecutor(len(ranges)) as pool:
            list(pool.map(refine, ranges))
    order = np.empty(n, dtype=np.uint32)
    ordered_ts = np.empty(n, dtype=np.int64)
    new_user = np.empty(n, dtype=np.bool_)
    _unpack(packed, order, ordered_ts, new_user)
    rows_per_user = np.diff(np.append(np.flatnonzero(new_user), n)).astype(np.int64)
    return Ordered(order, ordered_ts, rows_per_user)


@nb.njit(cache=True, nogil=True)
def _unpack(packed, order, ts, new_user):  # type: ignore[no-untyped-def]
    """The row order and times out of the sorted packed rows, and where each user starts."""
    for i in range(len(order)):
        order[i] = packed[i, ROW]
        ts[i] = packed[i, TIME]
        new_user[i] = i == 0 or packed[i, HIGH] != packed[i - 1, HIGH] or packed[i, LOW] != packed[i - 1, LOW]


@nb.njit(cache=True, nogil=True)
def _scatter(high, low, ts, shift, starts, packed):  # type: ignore[no-untyped-def]
    """Count the rows of each coarse bucket into ``starts`` (as offsets) and place the rows
    (high, low, ts, row index) bucket by bucket into ``packed``."""
    buckets = len(starts) - 1
    counts = np.zeros(buckets, dtype=np.int64)
    for i in range(len(high)):
        counts[high[i] >> shift] += 1
    for b in range(buckets):
        starts[b + 1] = starts[b] + counts[b]
    position = starts[:-1].copy()
    for i in range(len(high)):
        p = position[high[i] >> shift]
        position[high[i] >> shift] = p + 1
        packed[p, HIGH] = np.int64(high[i])
        packed[p, LOW] = np.int64(low[i])
        packed[p, TIME] = ts[i]
        packed[p, ROW] = i


@nb.njit(cache=True, nogil=True)
def _refine(packed, starts, lo, hi, shift, bits):  # type: ignore[no-untyped-def]
    """Sort the rows of coarse buckets [lo, hi) by (high, low, ts): a counting sort on the
    next ``bits`` bits below the coarse ones (through a bucket-sized scratch), then each
    group in place."""
    mask = (1 << bits) - 1
    counts = np.zeros(1 << bits, dtype=np.int64)
    group_starts = np.zeros((1 << bits) + 1, dtype=np.int64)
    widest = 0
    for g in range(lo, hi):
        widest = max(widest, starts[g + 1] - starts[g])
    scratch = np.empty((widest, 4), dtype=np.int64)
    for g in range(lo, hi):
        a = starts[g]
        b = starts[g + 1]
        if b - a <= SMALL_GROUP:
            _sort_group(packed, a, b)
            continue
        counts[:] = 0
        for r in range(a, b):
            counts[(np.uint64(packed[r, HIGH]) >> shift) & mask] += 1
        group_starts[0] = 0
        for k in range(1 << bits):
            group_starts[k + 1] = group_starts[k] + counts[k]
        position = group_starts[:-1].copy()
        for r in range(a, b):
            k = (np.uint64(packed[r, HIGH]) >> shift) & mask
            p = position[k]
            position[k] = p + 1
            for c in range(4):
                scratch[p, c] = packed[r, c]
        packed[a:b] = scratch[: b - a]
        for k in range(1 << bits):
            if group_starts[k + 1] - group_starts[k] > 1:
                _sort_group(packed, a + group_starts[k], a + group_starts[k + 1])


@nb.njit(cache=True, nogil=True)
def _sort_group(packed, a, b):  # type: ignore[no-untyped-def]
    """Sort rows a:b of ``packed`` by (high, low, ts): insertion sort on a few rows, else
    three stable merge sorts, least significant key first."""
    if b - a > SMALL_GROUP:
        by_key = np.arange(b - a)
        for k in (TIME, LOW, HIGH):
            by_key = by_key[np.argsort(packed[a:b, k][by_key], kind="mergesort")]
        packed[a:b] = packed[a:b][by_key]
        return
    for i in range(a + 1, b):
        k0 = packed[i, HIGH]
        k1 = packed[i, LOW]
        k2 = packed[i, TIME]
        k3 = packed[i, ROW]
        j = i - 1
        while j >= a and _after(packed[j, HIGH], packed[j, LOW], packed[j, TIME], k0, k1, k2):
            for c in range(4):
                packed[j + 1, c] = packed[j, c]
            j -= 1
        packed[j + 1, HIGH] = k0
        packed[j + 1, LOW] = k1
        packed[j + 1, TIME] = k2
        packed[j + 1, ROW] = k3


@nb.njit(cache=True, nogil=True, inline="always")
def _after(h0, l0, t0, h1, l1, t1):  # type: ignore[no-untyped-def]
    """(h0, l0, t0) > (h1, l1, t1), lexicographically."""
    return h0 > h1 or (h0 == h1 and (l0 > l1 or (l0 == l1 and t0 > t1)))
