"""Row order for the per-user kernel: rows grouped by user, in time order within a user.

Users are grouped by a 128-bit fingerprint of their id (two independently seeded 64-bit
hashes): building dense codes for millions of ids through a table of the texts costs seconds,
hashing them milliseconds. Two different ids share a fingerprint with probability about
n²/2¹²⁹ — below 10⁻²² for 100 million users. The rows are placed by a counting sort on the
fingerprint's top bits (about four rows per bucket), then each bucket is sorted by
(fingerprint, time), which costs about one pass over the rows where a general sort costs
several. The bucket range is split between threads (the loops release the GIL).
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numba as nb
import numpy as np
import numpy.typing as npt

SMALL_GROUP = 32  # buckets up to this size are insertion-sorted in place
ROWS_PER_BUCKET = 4


class Ordered(NamedTuple):
    """``order``: the row permutation; ``ts``: the timestamps in that order; ``rows_per_user``:
    how many rows each user (distinct fingerprint) has, in the order of ``order``."""

    order: npt.NDArray[np.int64]
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
    bits = max(1, (n // ROWS_PER_BUCKET).bit_length())
    high_bits = high.view(np.int64)
    low_bits = low.view(np.int64)
    bucket = (high >> np.uint64(64 - bits)).astype(np.int64)
    counts = np.bincount(bucket, minlength=1 << bits).astype(np.int64)
    starts = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    order = np.empty(n, dtype=np.int64)
    keys = np.empty((n, 3), dtype=np.int64)  # high, low, ts of each row in the new order
    ranges = list(itertools.pairwise(balanced_bounds(starts, threads)))

    def fill(bounds: tuple[int, int]) -> None:
        _fill(bucket, high_bits, low_bits, ts, starts, bounds[0], bounds[1], order, keys)

    if len(ranges) == 1:
        fill(ranges[0])
    else:
        with ThreadPoolExecutor(len(ranges)) as pool:
            list(pool.map(fill, ranges))
    new_user = np.ones(n, dtype=np.bool_)
    new_user[1:] = (keys[1:, 0] != keys[:-1, 0]) | (keys[1:, 1] != keys[:-1, 1])
    rows_per_user = np.diff(np.append(np.flatnonzero(new_user), n)).astype(np.int64)
    return Ordered(order, np.ascontiguousarray(keys[:, 2]), rows_per_user)


@nb.njit(cache=True, nogil=True)
def _fill(bucket, high, low, ts, starts, lo, hi, order, keys):  # type: ignore[no-untyped-def]
    """Place the rows of buckets [lo, hi) and sort each bucket by (high, low, ts)."""
    position = starts[lo:hi].copy()
    for i in range(len(bucket)):
        b = bucket[i]
        if lo <= b < hi:
            p = position[b - lo]
            order[p] = i
            keys[p, 0] = high[i]
            keys[p, 1] = low[i]
            keys[p, 2] = ts[i]
            position[b - lo] = p + 1
    for g in range(lo, hi):
        a = starts[g]
        b = starts[g + 1]
        if b - a <= SMALL_GROUP:
            _insertion_sort(a, b, order, keys)
        else:
            by_key = np.arange(b - a)
            for k in range(2, -1, -1):  # stable sorts, least significant key first
                by_key = by_key[np.argsort(keys[a:b, k][by_key], kind="mergesort")]
            order[a:b] = order[a:b][by_key]
            for k in range(3):
                keys[a:b, k] = keys[a:b, k][by_key]


@nb.njit(cache=True, nogil=True)
def _insertion_sort(a, b, order, keys):  # type: ignore[no-untyped-def]
    """Sort rows a:b by (high, low, ts), on consecutive memory."""
    for i in range(a + 1, b):
        row = order[i]
        k0 = keys[i, 0]
        k1 = keys[i, 1]
        k2 = keys[i, 2]
        j = i - 1
        while j >= a and (
            keys[j, 0] > k0
            or (keys[j, 0] == k0 and (keys[j, 1] > k1 or (keys[j, 1] == k1 and keys[j, 2] > k2)))
        ):
            order[j + 1] = order[j]
            keys[j + 1, 0] = keys[j, 0]
            keys[j + 1, 1] = keys[j, 1]
            keys[j + 1, 2] = keys[j, 2]
            j -= 1
        order[j + 1] = row
        keys[j + 1, 0] = k0
        keys[j + 1, 1] = k1
        keys[j + 1, 2] = k2
