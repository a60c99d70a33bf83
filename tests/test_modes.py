"""Order modes, counting units, per-stage gaps and exclusions on hand-worked event logs."""

from __future__ import annotations

import polars as pl
import pytest

from journeyctl import analyze, check
from journeyctl.api import funnel_levels, with_funnel_mode
from journeyctl.config.models import JourneyConfig
from journeyctl.errors import ConfigError, UsageError
from journeyctl.render import Format, render
from tests.events import funnel, journey, log

HOUR = 3600


def users(events: pl.DataFrame, config: JourneyConfig) -> list[int]:
    return [stage.users for stage in analyze(events, config).stages]


def gaps(within: str = "", after: str = "", *, order: str = "ordered") -> JourneyConfig:
    """a → b → c, the gap rules on stage c."""
    rules = "".join(f", {key}: {value}" for key, value in (("within", within), ("after", after)) if value)
    return journey(
        f"""
funnel: {{window: 1h, order: {order}}}
stages:
  - {{id: a, match: [{{events: [a]}}]}}
  - {{id: b, match: [{{events: [b]}}]}}
  - {{id: c, match: [{{events: [c]}}]{rules}}}
"""
    )


# --- per-stage within / after ---------------------------------------------------------


@pytest.mark.parametrize(("c_at", "reached"), [(19, 1), (20, 1), (21, 0)])
def test_within_is_inclusive_from_the_previous_step(c_at: int, reached: int) -> None:
    events = log(("u", 0, "a"), ("u", 10, "b"), ("u", c_at, "c"))  # gap b→c = c_at − 10
    assert users(events, gaps(within="10s")) == [1, 1, reached]


@pytest.mark.parametrize(("c_at", "reached"), [(19, 0), (20, 1), (21, 1)])
def test_after_is_inclusive_from_the_previous_step(c_at: int, reached: int) -> None:
    events = log(("u", 0, "a"), ("u", 10, "b"), ("u", c_at, "c"))
    assert users(events, gaps(after="10s")) == [1, 1, reached]


def test_within_needs_a_later_step_than_the_earliest() -> None:
    # the earliest b (t=1) leaves c 13 s later, over the 5 s gap; the b at t=10 is 4 s before c
    events = log(("u", 0, "a"), ("u", 1, "b"), ("u", 10, "b"), ("u", 14, "c"))
    assert users(events, gaps(within="5s")) == [1, 1, 1]
    row = funnel_levels(events, gaps(within="5s")).row(0, named=True)
    assert (row["t1"] - row["t0"], row["t2"] - row["t1"]) == (10_000_000, 4_000_000)


def test_after_skips_a_step_too_close() -> None:
    # c at 12 is 2 s after b: too soon for after 5s; the c at 20 is 10 s after
    events = log(("u", 0, "a"), ("u", 10, "b"), ("u", 12, "c"), ("u", 20, "c"))
    row = funnel_levels(events, gaps(after="5s")).row(0, named=True)
    assert (row["level"], row["t2"] - row["t0"]) == (3, 20_000_000)


def test_after_forbids_equal_timestamps_and_within_allows_them() -> None:
    events = log(("u", 0, "a"), ("u", 5, "b"), ("u", 5, "c"))
    assert users(events, gaps(after="1s")) == [1, 1, 0]
    assert users(events, gaps(within="1s")) == [1, 1, 1]


def test_gap_and_window_both_bound_the_path() -> None:
    # within 1h per step, but the window (1h) still ends the path: c at 3601 s is out
    events = log(("u", 0, "a"), ("u", 1800, "b"), ("u", 3601, "c"))
    assert users(events, gaps(within="1h")) == [1, 1, 0]


# --- strict order ---------------------------------------------------------------------


def test_strict_vs_ordered_on_the_same_log() -> None:
    # u: an unrelated x between b and c breaks strictness, not the ordered funnel
    # v: the x shares the timestamp of a and of b, so it never breaks strictness
    # w: entry at 0 is broken by y at 1; the re-entry at 3 is followed directly by b at 4
    events = log(
        ("u", 0, "a"),
        ("u", 5, "b"),
        ("u", 7, "x"),
        ("u", 9, "c"),
        ("v", 0, "a"),
        ("v", 0, "x"),
        ("v", 3, "b"),
        ("v", 3, "x"),
        ("v", 4, "c"),
        ("w", 0, "a"),
        ("w", 1, "y"),
        ("w", 2, "b"),
        ("w", 3, "a"),
        ("w", 4, "b"),
    )
    assert users(events, gaps()) == [3, 3, 2]
    assert users(events, gaps(order="strict")) == [3, 3, 1]
    assert users(events.reverse(), gaps(order="strict")) == [3, 3, 1]  # row order never matters


def test_strict_counts_events_matching_no_stage_and_repeated_steps() -> None:
    # a second a between a and b breaks the path from the first a, but is itself an entry
    events = log(("u", 0, "a"), ("u", 1, "a"), ("u", 2, "b"))
    row = funnel_levels(events, gaps(order="strict")).row(0, named=True)
    assert (row["level"], row["t0"] - row["t1"]) == (2, -1_000_000)


def test_strict_with_steps_sharing_a_timestamp() -> None:
    # a, b and c at one timestamp fill three steps, whatever else happens at that moment
    events = log(("u", 5, "c"), ("u", 5, "z"), ("u", 5, "b"), ("u", 5, "a"))
    assert users(events, gaps(order="strict")) == [1, 1, 1]


# --- any order ------------------------------------------------------------------------


def test_strict_vs_ordered_vs_any_on_the_same_log() -> None:
    # u: a, b, x, c: ordered 3, strict 2 (x between b and c), any 3
    # p: c, b, a: ordered and strict stop at the late entry (1), any finds three stages
    # q: c, then a two hours later: never two stages in one 1 h window
    events = log(
        ("u", 0, "a"),
        ("u", 5, "b"),
        ("u", 7, "x"),
        ("u", 9, "c"),
        ("p", 0, "c"),
        ("p", 1, "b"),
        ("p", 2, "a"),
        ("q", 0, "c"),
        ("q", 2 * HOUR, "a"),
    )
    assert users(events, gaps()) == [3, 1, 1]
    assert users(events, gaps(order="strict")) == [3, 1, 0]
    assert users(events, gaps(order="any")) == [3, 2, 2]
    text = render(analyze(events, gaps(order="any")), Format.table, width=150, color=False)
    assert "any order: row k counts the units that did k of the stages" in text


def test_any_order_window_is_anchored_at_the_earliest_row() -> None:
    # b at 0 and c at 3600 fit one window (inclusive); a at 3601 is one second too late
    # for that anchor, but c and a (anchored at c) are two stages as well
    events = log(("u", 0, "b"), ("u", HOUR, "c"), ("u", HOUR + 1, "a"))
    assert users(events, gaps(order="any")) == [1, 1, 0]
    assert users(log(("u", 0, "b"), ("u", HOUR, "c"), ("u", HOUR, "a")), gaps(order="any")) == [1, 1, 1]


def test_any_order_one_row_is_one_stage() -> None:
    # stage 2 also takes a: one a row still counts once; two a rows are two stages
    config = with_funnel_mode(funnel("a", ["a", "b"]), order="any")
    assert users(log(("u", 0, "a")), config) == [1, 0]
    assert users(log(("u", 0, "a"), ("u", 9, "a")), config) == [1, 1]


def test_any_order_times_are_between_distinct_stages_done() -> None:
    # c at 0, b at 10, a at 40: 10 s from the first stage done to the second, 30 s to the third
    events = log(("u", 40, "a"), ("u", 10, "b"), ("u", 0, "c"))
    result = analyze(events, gaps(order="any"))
    assert [s.median_time_to_convert_s for s in result.stages] == [None, 10, 30]
    assert result.stages[2].median_time_from_entry_s == 40


def test_gaps_and_exclusions_are_refused_in_any_order() -> None:
    with pytest.raises(ConfigError, match=r"stages\[2\]: within/after gaps have no previous step"):
        analyze(log(("u", 0, "a")), gaps(within="1m", order="any"))
    with pytest.raises(ConfigError, match="exclusions between two steps have no meaning in order any"):
        analyze(log(("u", 0, "view")), with_funnel_mode(refunds(), order="any"))


# --- counting units -------------------------------------------------------------------


def test_sessions_count_each_session_from_inactivity() -> None:
    # u: session 1 (a, b), then 3 h later session 2 (a only); v: a and b 2 h apart
    events = log(("u", 0, "a"), ("u", 60, "b"), ("u", 3 * HOUR, "a"), ("v", 0, "a"), ("v", 2 * HOUR, "b"))
    config = funnel("a", "b", window="1d")
    assert users(events, config) == [2, 2]
    sessions = with_funnel_mode(config, count="sessions")
    result = analyze(events, sessions)
    assert [s.users for s in result.stages] == [3, 1]  # u's two sessions and v's first; v's b is alone
    assert result.unit == "sessions" and result.users == 2


def test_a_mapped_session_column_wins() -> None:
    # within 30 minutes, one inactivity session; the mapped ids split a from b
    events = log(("u", 0, "a", "s1"), ("u", 60, "b", "s2"), ("u", 30, "a", "s2"), properties=("session_id",))
    config = with_funnel_mode(funnel("a", "b"), count="sessions")
    assert users(events, config) == [2, 1]  # s1: a only; s2: a at 30 then b at 60
    levels = funnel_levels(events, config)
    assert levels.columns[:3] == ["user_id", "session_id", "level"]
    assert sorted(levels.select("session_id", "level").rows()) == [("s1", 1), ("s2", 2)]


CART = """
columns: {properties: [cart]}
funnel: {window: 1d, hold: [cart]}
stages:
  - {id: add, match: [{events: [add_to_cart]}]}
  - {id: checkout, match: [{events: [checkout]}]}
  - {id: purchase, match: [{events: [purchase]}]}
"""


def test_hold_needs_the_same_value_on_every_step() -> None:
    # by user, u adds c1, checks out c2 and buys c1: all three stages; by cart,
    # c1 = add, purchase (no checkout of c1) and c2 = add, checkout; the checkout without a
    # cart belongs to no unit, and w's rows have no cart at all
    events = log(
        ("u", 0, "add_to_cart", "c1"),
        ("u", 10, "add_to_cart", "c2"),
        ("u", 15, "checkout", None),
        ("u", 20, "checkout", "c2"),
        ("u", 30, "purchase", "c1"),
        ("w", 0, "add_to_cart", None),
        properties=("cart",),
    )
    config = journey(CART)
    by_user = config.model_copy(update={"funnel": config.funnel.model_copy(update={"hold": []})})
    assert users(events, by_user) == [2, 1, 1]
    result = analyze(events, config)
    assert [s.users for s in result.stages] == [2, 1, 0]
    assert result.unit == "cart values"
    levels = funnel_levels(events, config)
    assert sorted(levels.select("user_id", "cart", "level").rows()) == [("u", "c1", 1), ("u", "c2", 2)]


def test_the_unit_names_the_table_heading() -> None:
    events = log(("u", 0, "add_to_cart", "c1"), ("u", 5, "checkout", "c1"), properties=("cart",))
    text = render(analyze(events, journey(CART)), Format.table, width=150, color=False)
    assert "counting cart values" in text
    assert "Cart values" in text
    assert "1 cart value lost" in text


def test_count_override_refuses_a_hold() -> None:
    with pytest.raises(UsageError, match="--count sessions cannot be combined"):
        with_funnel_mode(journey(CART), count="sessions")


def test_entries_count_every_attempt() -> None:
    # window 10 s. attempt 1: a at 0 converts at 5 (ends at 5; the a at 5 is not after it);
    # attempt 2: a at 6, no b within 10 s: expires at 16 (the a at 12 is inside it);
    # attempt 3: a at 17, b at 20
    events = log(
        ("u", 0, "a"),
        ("u", 5, "b"),
        ("u", 5, "a"),
        ("u", 6, "a"),
        ("u", 12, "a"),
        ("u", 17, "a"),
        ("u", 20, "b"),
    )
    config = funnel("a", "b", window="10s")
    assert users(events, config) == [1, 1]
    entries = with_funnel_mode(config, count="entries")
    result = analyze(events, entries)
    assert ([s.users for s in result.stages], result.unit, result.users) == ([3, 2], "entries", 1)
    levels = funnel_levels(events, entries)
    assert levels.select("user_id", "attempt", "level").rows() == [("u", 1, 2), ("u", 2, 1), ("u", 3, 2)]
    text = render(result, Format.table, width=150, color=False)
    assert "counting entries" in text and "1 entry lost" in text


def test_entries_judge_each_attempt_from_its_own_entry() -> None:
    # strict: attempt 1 (a at 0) is broken by x at 1 and expires at 10; the a at 5 lies
    # inside it, so no second attempt starts there and b at 6 is never reached
    events = log(("u", 0, "a"), ("u", 1, "x"), ("u", 5, "a"), ("u", 6, "b"))
    config = with_funnel_mode(funnel("a", "b", window="10s"), order="strict", count="entries")
    assert users(events, config) == [1, 0]
    assert users(events, with_funnel_mode(config, count="users")) == [1, 1]


def test_entries_with_exclusions_are_refused() -> None:
    with pytest.raises(ConfigError, match="exclusions are not supported with count entries"):
        analyze(log(("u", 0, "view")), with_funnel_mode(refunds(), count="entries"))


# --- exclusions -----------------------------------------------------------------------


def refunds(on_exclusion: str = "keep_best") -> JourneyConfig:
    return journey(
        f"""
funnel:
  window: 30d
  on_exclusion: {on_exclusion}
  exclude:
    - {{events: [refund], between: [purchase, loyalty]}}
stages:
  - {{id: view, match: [{{events: [view]}}]}}
  - {{id: purchase, match: [{{events: [purchase]}}]}}
  - {{id: loyalty, match: [{{events: [purchase]}}]}}
"""
    )


REFUND_LOG = log(
    # u: the only path to loyalty has a refund strictly between its purchases: clean level 2
    ("u", 0, "view"),
    ("u", 10, "purchase"),
    ("u", 20, "refund"),
    ("u", 30, "purchase"),
    # v: the refund shares the first purchase's timestamp: not strictly between, clean
    ("v", 0, "view"),
    ("v", 10, "purchase"),
    ("v", 10, "refund"),
    ("v", 20, "purchase"),
    # w: purchases at 10 and 20 straddle the refund, but 20 and 30 are a clean path
    ("w", 0, "view"),
    ("w", 10, "purchase"),
    ("w", 15, "refund"),
    ("w", 20, "purchase"),
    ("w", 30, "purchase"),
    # x: the refund shares the second purchase's timestamp: clean
    ("x", 0, "view"),
    ("x", 10, "purchase"),
    ("x", 20, "refund"),
    ("x", 20, "purchase"),
)


def test_exclusion_keep_best_keeps_the_best_clean_level() -> None:
    result = analyze(REFUND_LOG, refunds())
    assert [s.users for s in result.stages] == [4, 4, 3]  # only u loses loyalty
    assert [(r.between, r.units_touched) for r in result.exclusions] == [(["purchase", "loyalty"], 1)]
    assert (result.on_exclusion, result.excluded_units) == ("keep_best", 1)
    assert users(REFUND_LOG, funnel("view", "purchase", "purchase")) == [4, 4, 4]


def test_exclusion_drop_user_removes_the_unit_from_every_stage() -> None:
    result = analyze(REFUND_LOG, refunds("drop_user"))
    assert [s.users for s in result.stages] == [3, 3, 3]  # u is gone, even from view
    assert (result.exclusions[0].units_touched, result.excluded_units) == (1, 1)


def test_exclusions_only_matter_when_the_path_reaches_the_second_step() -> None:
    # a refund after the first purchase, and no second one: level 2 either way, untouched
    events = log(("u", 0, "view"), ("u", 10, "purchase"), ("u", 20, "refund"))
    result = analyze(events, refunds("drop_user"))
    assert [s.users for s in result.stages] == [1, 1, 0] and result.excluded_units == 0


def test_exclusion_with_a_where_and_a_count_per_rule() -> None:
    config = journey(
        """
columns: {properties: [reason]}
funnel:
  exclude:
    - {events: [refund], where: {reason: fraud}, between: [a, b]}
    - {events: [complaint], between: [b, c]}
stages:
  - {id: a, match: [{events: [a]}]}
  - {id: b, match: [{events: [b]}]}
  - {id: c, match: [{events: [c]}]}
"""
    )
    events = log(
        ("u", 0, "a"), ("u", 1, "refund", "fraud"), ("u", 2, "b"), ("u", 3, "c"),  # rule 1 → level 1
        ("v", 0, "a"), ("v", 1, "refund", "late"), ("v", 2, "b"), ("v", 3, "c"),  # other reason: clean
        ("w", 0, "a"), ("w", 1, "b"), ("w", 2, "complaint"), ("w", 3, "c"),  # rule 2 → level 2
        properties=("reason",),
    )  # fmt: skip
    result = analyze(events, config)
    assert [s.users for s in result.stages] == [3, 2, 1]
    assert [r.units_touched for r in result.exclusions] == [1, 1]
    text = render(result, Format.table, width=100, color=False)
    assert "Exclusions (keep_best): 2 users kept a lower, clean level" in text
    assert "refund between a and b: touched 1 user" in text


def test_overlapping_exclusion_spans_are_refused() -> None:
    config = journey(
        """
funnel:
  exclude:
    - {events: [r], between: [a, c]}
    - {events: [q], between: [b, d]}
stages:
  - {id: a, match: [{events: [a]}]}
  - {id: b, match: [{events: [b]}]}
  - {id: c, match: [{events: [c]}]}
  - {id: d, match: [{events: [d]}]}
"""
    )
    with pytest.raises(ConfigError, match=r"funnel\.exclude: the spans a–c and b–d overlap"):
        analyze(log(("u", 0, "a")), config)


def test_excluded_units_is_a_kpi() -> None:
    # one unit (u) loses loyalty to a refund: a gate allowing none fails, one allowing one passes
    assert check(REFUND_LOG, refunds(), kpis=["excluded_units<=0"]).exit_code == 1
    assert check(REFUND_LOG, refunds(), kpis=["excluded_units<=1"]).exit_code == 0
