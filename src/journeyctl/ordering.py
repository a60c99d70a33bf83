"""Row order for the per-user kernel: rows grouped by user, in time order within a user.

A counting sort on dense integer user codes followed by a time sort inside each user costs
about as much as one pass over the rows, where a general two-key sort costs several.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import numpy.typing as npt

SMALL_GROUP = 32  # groups up to this size are insertion-sorted in place


def user_time_order(codes: npt.NDArray[np.uint32], ts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The permutation putting rows in (user code, ts) order: every row of a code together,
    codes ascending, ts ascending inside a code (ties in any order)."""
    if len(codes) == 0:
        return np.empty(0, dtype=np.int64)
    order: npt.NDArray[np.int64] = _user_time_order(codes, int(codes.max()) + 1, ts)
    return order


@nb.njit(cache=True, nogil=True)
def _user_time_order(codes, n_codes, ts):  # type: ignore[no-untyped-def]
    starts = np.zeros(n_codes + 1, dtype=np.int64)
    for c in codes:
        starts[c + 1] += 1
    for g in range(n_codes):
        starts[g + 1] += starts[g]
    position = starts[:-1].copy()
    order = np.empty(len(codes), dtype=np.int64)
    for i in range(len(codes)):
        c = codes[i]
        order[position[c]] = i
        position[c] += 1
    for g in range(n_codes):
        a = starts[g]
        b = starts[g + 1]
        if b - a <= SMALL_GROUP:
            for i in range(a + 1, b):  # insertion sort by ts
                row = order[i]
                key = ts[row]
                j = i - 1
                while j >= a and ts[order[j]] > key:
                    order[j + 1] = order[j]
                    j -= 1
                order[j + 1] = row
        else:
            group = order[a:b].copy()
            order[a:b] = group[np.argsort(ts[group], kind="mergesort")]
    return order
