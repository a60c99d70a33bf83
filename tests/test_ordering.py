"""The row order the kernel needs: grouped by user fingerprint, in time order inside a user."""

from __future__ import annotations

import itertools

import numpy as np

from journeyctl.ordering import SMALL_GROUP, user_time_order

TOP = np.uint64(1 << 63)


def fingerprints(*pairs: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    return np.array([p[0] for p in pairs], dtype=np.uint64), np.array([p[1] for p in pairs], dtype=np.uint64)


def test_rows_are_grouped_by_fingerprint_then_ordered_by_time() -> None:
    # users A = (1, 5), B = (1, 6) — same high half, different low half — and C = (2⁶³, 0):
    # A: rows 4 (t=1), 1 (t=3); B: row 3; C: rows 2 (t=1), 0 (t=5)
    high, low = fingerprints((int(TOP), 0), (1, 5), (int(TOP), 0), (1, 6), (1, 5))
    ts = np.array([5, 3, 1, 2, 1], dtype=np.int64)
    ordered = user_time_order(high, low, ts)
    assert ordered.order.tolist() == [4, 1, 3, 2, 0]
    assert ordered.ts.tolist() == [1, 3, 2, 1, 5]
    assert ordered.rows_per_user.tolist() == [2, 1, 2]
    assert user_time_order(high, low, ts, threads=2).order.tolist() == [4, 1, 3, 2, 0]


def test_a_bucket_larger_than_an_insertion_sort_holds_several_users() -> None:
    rng = np.random.default_rng(1)
    n = 5 * SMALL_GROUP
    # all rows share the top bits, so they land in one bucket: three users and time ties
    high = rng.choice(np.array([7, 9], dtype=np.uint64), n)
    low = rng.choice(np.array([0, 2**64 - 1], dtype=np.uint64), n)
    low[high == 9] = 0
    ts = rng.integers(0, 20, n).astype(np.int64)
    ordered = user_time_order(high, low, ts, threads=3)
    assert sorted(ordered.order.tolist()) == list(range(n))
    keys = [(int(high[r]), int(low[r]), int(ts[r])) for r in ordered.order]
    users = [k[:2] for k in keys]
    runs = [u for i, u in enumerate(users) if i == 0 or u != users[i - 1]]
    assert len(runs) == len(set(runs)) == 3  # each user's rows together
    assert [k[2] for k in keys] == ordered.ts.tolist()
    assert all(a[2] <= b[2] for a, b in itertools.pairwise(keys) if a[:2] == b[:2])
    assert ordered.rows_per_user.tolist() == [users.count(u) for u in runs]


def test_no_rows_no_order() -> None:
    empty = np.empty(0, np.uint64)
    ordered = user_time_order(empty, empty, np.empty(0, np.int64), threads=2)
    assert ordered.order.tolist() == [] and ordered.rows_per_user.tolist() == []


def test_many_rows_sort_like_a_lexicographic_sort() -> None:
    # enough rows for both radix levels (2,048 buckets, then groups of about 8 rows)
    rng = np.random.default_rng(7)
    ids = rng.integers(0, 2**64 - 1, 5_000, dtype=np.uint64, endpoint=True)
    user = rng.integers(0, len(ids), 70_000)
    high, low, ts = ids[user], ids[user] ^ np.uint64(0x5555), rng.integers(0, 1_000, len(user))
    ordered = user_time_order(high, low, ts.astype(np.int64), threads=2)
    assert sorted(ordered.order.tolist()) == list(range(len(user)))
    got = np.stack([user[ordered.order], ts[ordered.order]])
    runs = np.flatnonzero(np.diff(got[0])) + 1
    assert len(runs) + 1 == len(np.unique(user)) == len(ordered.rows_per_user)  # one run per user
    assert ordered.rows_per_user.tolist() == np.diff([0, *runs, len(user)]).tolist()
    same_user = got[0, 1:] == got[0, :-1]
    assert (got[1, 1:][same_user] >= got[1, :-1][same_user]).all()
    assert (ordered.ts == ts[ordered.order]).all()
