"""The ordered funnel on hand-worked event logs: each test names the rule it checks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from journeyctl import analyze
from journeyctl.api import funnel_levels
from tests.events import funnel, journey, log

DAY = 86400


def users(events, config) -> list[int]:  # type: ignore[no-untyped-def]
    return [stage.users for stage in analyze(events, config).stages]


def test_equal_timestamps_count_as_in_order() -> None:
    assert users(log(("u", 5, "a"), ("u", 5, "b"), ("u", 5, "c")), funnel("a", "b", "c")) == [1, 1, 1]


@pytest.mark.parametrize(("last_step_s", "reached"), [(30 * DAY - 1, 1), (30 * DAY, 1), (30 * DAY + 1, 0)])
def test_window_is_inclusive_to_the_second(last_step_s: int, reached: int) -> None:
    events = log(("u", 0, "a"), ("u", 10, "b"), ("u", last_step_s, "c"))
    assert users(events, funnel("a", "b", "c", window="30d")) == [1, 1, reached]


def test_one_row_fills_at_most_one_step() -> None:
    config = funnel("a", ["a", "b"])
    assert users(log(("u", 0, "a")), config) == [1, 0]
    assert users(log(("u", 0, "a"), ("u", 0, "a")), config) == [1, 1]


def test_row_matching_two_stages_serves_the_one_that_completes_the_path() -> None:
    # stage 2 takes a or b, stage 3 only b: at t=5 the a must go to stage 2, whatever the row order
    config = funnel("s", ["a", "b"], "b")
    assert users(log(("u", 0, "s"), ("u", 5, "b"), ("u", 5, "a")), config) == [1, 1, 1]
    assert users(log(("u", 0, "s"), ("u", 5, "a"), ("u", 5, "b")), config) == [1, 1, 1]


def test_repeated_step_needs_a_second_occurrence() -> None:
    config = funnel("view", "purchase", "purchase")  # purchase, then loyalty = a second purchase
    one = log(("u", 0, "view"), ("u", 60, "purchase"))
    two = log(("u", 0, "view"), ("u", 60, "purchase"), ("u", 3 * DAY, "purchase"))
    assert users(one, config) == [1, 1, 0]
    assert users(two, config) == [1, 1, 1]


def test_unsorted_rows_give_the_same_funnel() -> None:
    rows = [("u", 0, "a"), ("u", 7, "b"), ("v", 3, "a"), ("u", 9, "c"), ("v", 1, "b")]
    config = funnel("a", "b", "c")
    assert users(log(*rows), config) == users(log(*reversed(rows)), config) == [2, 1, 1]


def test_re_entry_after_an_expired_window_counts() -> None:
    events = log(("u", 0, "a"), ("u", 40 * DAY, "a"), ("u", 41 * DAY, "b"))
    assert users(events, funnel("a", "b", window="30d")) == [1, 1]


def test_level_is_the_best_entry_not_the_first() -> None:
    # entry at 0 reaches b but its window closes before c; the entry at day 20 reaches c
    events = log(("u", 0, "a"), ("u", 20 * DAY, "a"), ("u", 25 * DAY, "b"), ("u", 31 * DAY, "c"))
    assert users(events, funnel("a", "b", "c", window="30d")) == [1, 1, 1]


def test_level_is_the_best_entry_not_the_latest() -> None:
    events = log(("u", 0, "a"), ("u", 1, "b"), ("u", 2, "c"), ("u", 3, "a"))
    assert users(events, funnel("a", "b", "c")) == [1, 1, 1]


def test_steps_before_the_entry_do_not_count() -> None:
    assert users(log(("u", 0, "b"), ("u", 5, "a")), funnel("a", "b")) == [1, 0]


def test_reported_path_is_the_earliest_to_reach_the_level_and_its_latest_entry() -> None:
    # entries at 0 and 10 both reach c at 20: the tie goes to the latest entry (10)
    events = log(("u", 0, "a"), ("u", 10, "a"), ("u", 15, "b"), ("u", 20, "c"))
    row = funnel_levels(events, funnel("a", "b", "c")).row(0, named=True)
    base = row["t0"] - 10_000_000
    assert (row["level"], row["t0"] - base, row["t1"] - base, row["t2"] - base) == (
        3,
        10_000_000,
        15_000_000,
        20_000_000,
    )


def test_time_to_convert_statistics_by_hand() -> None:
    # step a→b takes 60 s, 120 s and 600 s for three users
    events = log(
        ("u1", 0, "a"), ("u1", 60, "b"), ("u2", 0, "a"), ("u2", 120, "b"), ("u3", 0, "a"), ("u3", 600, "b")
    )
    stage = analyze(events, funnel("a", "b")).stages[1]
    assert stage.median_time_to_convert_s == 120
    assert stage.p90_time_to_convert_s == pytest.approx(504)  # 120 + 0.8 × (600 − 120)
    assert stage.mean_time_to_convert_s == 260
    assert (stage.min_time_to_convert_s, stage.max_time_to_convert_s) == (60, 600)


def test_stage_rates_by_hand() -> None:
    events = log(
        *[(f"u{i}", 0, "a") for i in range(10)],
        *[(f"u{i}", 5, "b") for i in range(4)],
        *[(f"u{i}", 9, "c") for i in range(1)],
    )
    result = analyze(events, funnel("a", "b", "c"))
    second, third = result.stages[1], result.stages[2]
    assert [s.users for s in result.stages] == [10, 4, 1]
    assert (second.conversion, second.from_start, second.lost, second.drop_off) == (0.4, 0.4, 6, 0.6)
    assert (third.conversion, third.from_start, third.lost, third.drop_off) == (0.25, 0.1, 3, 0.75)
    assert result.overall_conversion == 0.1
    assert result.stages[0].conversion is None and result.stages[0].from_start == 1.0


def test_nobody_entered_gives_undefined_rates() -> None:
    result = analyze(log(("u", 0, "x")), funnel("a", "b"))
    assert [s.users for s in result.stages] == [0, 0]
    assert result.overall_conversion is None
    assert result.stages[1].conversion is None and result.stages[0].from_start is None


def test_pending_users_are_those_whose_window_is_still_open() -> None:
    # data ends at day 10; u entered at day 0 with a 30-day window: still open
    # v entered 40 days before the end: its window closed, so v is lost, not pending
    events = log(("v", 0, "a"), ("u", 30 * DAY, "a"), ("w", 40 * DAY, "x"))
    stage = analyze(events, funnel("a", "b", window="30d")).stages[1]
    assert (stage.lost, stage.pending) == (2, 1)


def test_property_conditions_select_rows() -> None:
    config = journey(
        """
columns: {properties: [page, value]}
stages:
  - {id: visit, match: [{events: [page_view], where: {page: {regex: '^/shop'}}}]}
  - {id: big_buy, match: [{events: [purchase], where: {value: {gte: 100}}}]}
"""
    )
    events = log(
        ("u", 0, "page_view", "/shop/shoes", None),
        ("u", 5, "purchase", None, "100.0"),
        ("v", 0, "page_view", "/help", None),
        ("w", 0, "page_view", "/shop", None),
        ("w", 5, "purchase", None, "99.99"),
        properties=("page", "value"),
    )
    assert users(events, config) == [2, 1]


def test_entries_limited_to_a_range_may_finish_after_it() -> None:
    from journeyctl.facts import user_facts
    from tests.events import START

    # u enters before the range (not counted) and inside it at 100 s, converting at 200 s,
    # after the range ends; v's only entry lies before the range
    events = log(("u", 0, "a"), ("u", 100, "a"), ("u", 200, "b"), ("v", 0, "a"), ("v", 150, "b"))
    facts = user_facts(
        events,
        funnel("a", "b"),
        entries_since=START + timedelta(seconds=50),
        entries_until=START + timedelta(seconds=150),
    )
    levels = dict(zip(facts.funnel["user_id"], facts.funnel["level"], strict=True))
    assert levels == {"u": 2, "v": 0}
