"""The row order the kernel needs: grouped by user code, in time order inside a user."""

from __future__ import annotations

import numpy as np

from journeyctl.ordering import SMALL_GROUP, user_time_order


def test_rows_are_grouped_by_code_then_ordered_by_time() -> None:
    codes = np.array([2, 0, 2, 1, 0], dtype=np.uint32)
    ts = np.array([5, 3, 1, 2, 1], dtype=np.int64)
    # code 0: rows 4 (t=1), 1 (t=3); code 1: row 3; code 2: rows 2 (t=1), 0 (t=5)
    assert user_time_order(codes, ts).tolist() == [4, 1, 3, 2, 0]


def test_large_groups_and_absent_codes_sort_the_same_way() -> None:
    rng = np.random.default_rng(1)
    n = 5 * SMALL_GROUP
    codes = rng.choice(np.array([0, 3], dtype=np.uint32), n)  # codes 1 and 2 have no rows
    ts = rng.integers(0, 20, n).astype(np.int64)
    order = user_time_order(codes, ts)
    assert sorted(order.tolist()) == list(range(n))
    keys = list(zip(codes[order].tolist(), ts[order].tolist(), strict=True))
    assert keys == sorted(keys)


def test_no_rows_no_order() -> None:
    assert user_time_order(np.empty(0, np.uint32), np.empty(0, np.int64)).tolist() == []
