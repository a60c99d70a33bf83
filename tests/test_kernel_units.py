"""The kernels on many units in one call: the scratch they reuse between units never leaks
one unit's state into the next, so each unit gets exactly what it gets alone."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from journeyctl.kernel import (
    ANY_ORDER,
    CONSTRAINED,
    GREEDY,
    INF,
    NOT_REACHED,
    Constraints,
    Levels,
    any_order_levels,
    attempt_levels,
    constrained_levels,
    ordered_levels,
)

NR = NOT_REACHED


def arrays(units: list[list[tuple[int, int]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``starts``, ``ts`` and ``mask`` of units given as (time, stage bits) rows, sorted by time."""
    rows = [sorted(unit) for unit in units]
    starts = np.cumsum([0] + [len(unit) for unit in rows]).astype(np.int64)
    ts = np.array([t for unit in rows for t, _ in unit], dtype=np.int64)
    mask = np.array([m for unit in rows for _, m in unit], dtype=np.int64)
    return starts, ts, mask


def no_rules(n_stages: int) -> Constraints:
    none = np.zeros(0, dtype=np.int64)
    return Constraints(
        np.full(n_stages, INF), np.zeros(n_stages, np.int64), False, none, np.full(n_stages, -1), none, none
    )


def test_a_unit_after_a_long_one_is_computed_alone() -> None:
    # 3 stages, window 10. Unit 0: entry at 0; at t=5 row 1 matches stage 2 only and row 2
    # stages 1 and 2; row 3 (t=9) stage 3. From the entry at 0 the chain is 0, 5 (row 1), 9;
    # from the entry at 5 (row 2) it is 5, 5 (row 1), 9: the same last step, so the later
    # entry is reported. Unit 1 only enters (t=20); unit 2 never enters.
    starts, ts, mask = arrays(
        [[(0, 0b001), (5, 0b010), (5, 0b011), (9, 0b100)], [(20, 0b001)], [(30, 0b010)]]
    )
    levels = ordered_levels(starts, ts, mask, n_stages=3, window_us=10)
    assert levels.level.tolist() == [3, 1, 0]
    assert levels.path.tolist() == [[5, 5, 9], [20, NR, NR], [NR, NR, NR]]
    assert levels.rows.tolist() == [[2, 1, 3], [4, -1, -1], [-1, -1, -1]]
    assert levels.last_entry.tolist() == [5, 20, NR]


def test_a_later_entry_reaches_the_step_too_late_for_the_earlier_one() -> None:
    # 2 stages, window 3: the entry at 0 finds stage 2 only at t=6, too late; the entry at 5
    # reaches it (rows 1 and 2): level 2, the path of the later entry.
    starts, ts, mask = arrays([[(0, 0b01), (5, 0b01), (6, 0b10)]])
    levels = ordered_levels(starts, ts, mask, n_stages=2, window_us=3)
    assert levels.level.tolist() == [2]
    assert levels.rows.tolist() == [[1, 2]]


units_strategy = st.lists(
    st.lists(st.tuples(st.integers(0, 8), st.integers(0, 15)), max_size=9), min_size=1, max_size=5
)


@st.composite
def constraints(draw: st.DrawFn, n_stages: int) -> Constraints:
    """Random ``within``/``after`` gaps from step 2 on, strict or not, no exclusions."""
    later = {"min_size": n_stages - 1, "max_size": n_stages - 1}
    within = [INF, *draw(st.lists(st.one_of(st.just(INF), st.integers(0, 4)), **later))]
    after = [0, *draw(st.lists(st.integers(0, 2), **later))]
    return no_rules(n_stages)._replace(
        within_us=np.array(within, dtype=np.int64),
        after_us=np.array(after, dtype=np.int64),
        strict=draw(st.booleans()),
    )


def alone(levels: list[Levels]) -> Levels:
    return Levels(*(np.concatenate(parts) for parts in zip(*levels, strict=True)))


def same(a: Levels, b: Levels) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@given(units=units_strategy, n_stages=st.integers(1, 4), window=st.integers(0, 6), data=st.data())
def test_every_kernel_gives_each_unit_what_it_gets_alone(
    units: list[list[tuple[int, int]]], n_stages: int, window: int, data: st.DataObject
) -> None:
    starts, ts, mask = arrays(units)
    mask &= (1 << n_stages) - 1
    rules = data.draw(constraints(n_stages))
    kernels = [
        lambda s: ordered_levels(s, ts, mask, n_stages=n_stages, window_us=window),
        lambda s: constrained_levels(s, ts, mask, rules, n_stages=n_stages, window_us=window),
        lambda s: any_order_levels(s, ts, mask, n_stages=n_stages, window_us=window),
    ]
    for kernel in kernels:
        each = [kernel(starts[u : u + 2]) for u in range(len(units))]
        assert same(kernel(starts), alone(each))
    for kind in (GREEDY, CONSTRAINED, ANY_ORDER):
        together, unit_of = attempt_levels(
            starts, ts, mask, rules, kind=kind, n_stages=n_stages, window_us=window
        )
        parts = [
            attempt_levels(starts[u : u + 2], ts, mask, rules, kind=kind, n_stages=n_stages, window_us=window)
            for u in range(len(units))
        ]
        assert same(together, alone([levels for levels, _ in parts]))
        assert unit_of.tolist() == [u for u, (_, of) in enumerate(parts) for _ in of]
