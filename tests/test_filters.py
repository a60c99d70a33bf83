"""``--where`` property filters and the ``--since``/``--until`` entry range, by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeyctl import UsageError, analyze
from journeyctl.filters import entry_range, parse_where
from tests import reference
from tests.events import journey, log
from tests.strategies import event_logs
from tests.test_funnel_property import OVERLAPPING

DAY = 86400
STORE = journey(
    """
timezone: Europe/Berlin
columns: {properties: [channel, value, "utm source"]}
stages:
  - {id: visit, match: [{events: [a]}]}
  - {id: buy, match: [{events: [b]}]}
"""
)


def stage_users(events: pl.DataFrame, **options: Any) -> list[int]:
    return [s.users for s in analyze(events, STORE, **options).stages]


def condition(text: str) -> dict[str, object]:
    return parse_where(text, STORE).condition.model_dump(exclude_none=True, by_alias=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("channel = email", {"equals": "email"}),
        ("channel == email", {"equals": "email"}),
        ("channel != email", {"not": "email"}),
        ("channel in (email, social)", {"in": ["email", "social"]}),
        ("channel IN(email)", {"in": ["email"]}),
        ("channel not in ('paid search', \"a,b\")", {"not_in": ["paid search", "a,b"]}),
        ("channel = 'it\\'s'", {"equals": "it's"}),
        ("value=5", {"equals": 5}),
        ("value = '5'", {"equals": "5"}),
        ("value = 2.50", {"equals": 2.5}),
        ("value > -1", {"gt": -1.0}),
        ("value >= 100", {"gte": 100.0}),
        ("value < 1e3", {"lt": 1000.0}),
        ("value <= '7'", {"lte": 7.0}),
        ("'utm source' = google", {"equals": "google"}),
    ],
)
def test_where_grammar_builds_the_config_condition(text: str, expected: dict[str, object]) -> None:
    assert condition(text) == expected


@pytest.mark.parametrize(
    ("text", "message", "at"),
    [
        ("", "expected a property column name", 0),
        ("channel", "expected an operator: = != < <= > >= in or not in", 7),
        ("channel email", "expected an operator: = != < <= > >= in or not in", 8),
        ("channel =", "expected a value", 9),
        ("channel = a b", "unexpected text after the filter", 12),
        ("channel ! email", "unexpected character '!'", 8),
        ("channel = 'email", "this quote is never closed", 10),
        ("channel in email", "expected `(` to open the list of values", 11),
        ("channel in (email", "expected `,` or `)` after a value", 17),
        ("channel in ()", "expected a value", 12),
        ("channel in (a,)", "expected a value", 14),
        ("channel not email", "expected `in` after `not`", 12),
        ("value < ten", "< compares numbers; 'ten' is not a number", 8),
        ("value >= nan", ">= compares numbers; 'nan' is not a number", 9),
    ],
)
def test_where_parse_errors_point_at_the_problem(text: str, message: str, at: int) -> None:
    with pytest.raises(UsageError) as caught:
        parse_where(text, STORE)
    assert str(caught.value).splitlines()[:3] == [
        f"--where: {message}",
        f"    {text}",
        "    " + " " * at + "^",
    ]
    assert caught.value.hint is not None and "COLUMN OP VALUE" in caught.value.hint


def test_where_on_an_unmapped_column_lists_the_mapped_properties() -> None:
    with pytest.raises(UsageError) as caught:
        parse_where("chanel = email", STORE)
    assert str(caught.value) == (
        "--where 'chanel = email': 'chanel' is not a mapped property column\n"
        "  hint: did you mean channel? mapped properties: channel, value, utm source; "
        "add the column to columns.properties to filter on it"
    )


def test_where_keeps_the_rows_passing_before_stages_are_matched() -> None:
    # u's purchase came from social: filtered out, u stays at level 1;
    # v has no channel on its purchase: a null fails even `!=`; w passes both rows
    events = log(
        ("u", 0, "a", "email"),
        ("u", 5, "b", "social"),
        ("v", 0, "a", "email"),
        ("v", 5, "b", None),
        ("w", 0, "a", "email"),
        ("w", 5, "b", "email"),
        ("x", 0, "a", "ad"),
        ("x", 5, "b", "ad"),
        properties=("channel",),
    )
    assert stage_users(events) == [4, 4]
    assert stage_users(events, where=["channel = email"]) == [3, 1]
    assert stage_users(events, where=["channel != social"]) == [4, 2]  # v's null row fails
    assert stage_users(events, where=["channel not in (social, ad)"]) == [3, 1]
    assert stage_users(events, where=["channel in (email, social)", "channel != email"]) == [0, 0]  # ANDed


def test_where_compares_numbers_numerically_and_text_as_text() -> None:
    events = log(
        ("u", 0, "a", "100"),
        ("v", 0, "a", "99.99"),
        ("w", 0, "a", "1e2"),
        ("x", 0, "a", "abc"),
        ("y", 0, "a", None),
        ("z", 0, "a", "100.0"),
        properties=("value",),
    )
    result = analyze(events, STORE, where=["value >= 100"])
    assert result.stages[0].users == 3  # 100, 1e2, 100.0; text and null fail
    assert stage_users(events, where=["value = 100"]) == [3, 0]
    assert stage_users(events, where=["value = '100'"]) == [1, 0]  # quoted: only the text 100
    assert stage_users(events, where=["value < 100"]) == [1, 0]


def test_sessions_are_cut_from_the_filtered_rows() -> None:
    # u: email, social, email 10 min apart: one session unfiltered, two without the social row
    # (gap of 20 minutes is still under 30 min, so one) — w has rows 40 min apart via social
    events = log(
        ("u", 0, "a", "email"),
        ("u", 20 * 60, "x", "social"),
        ("u", 40 * 60, "b", "email"),
        properties=("channel",),
    )
    assert analyze(events, STORE).sessions == 1
    assert analyze(events, STORE, where=["channel = email"]).sessions == 2  # 40 min gap > 30 min


def test_pending_is_judged_at_the_end_of_all_data_not_of_the_filtered_rows() -> None:
    # window 30d; u enters at 0 by email; the data ends at day 40 with a social event, so u's
    # window closed: lost, not pending, even though the email rows end at 0
    events = log(("u", 0, "a", "email"), ("z", 40 * DAY, "x", "social"), properties=("channel",))
    result = analyze(events, STORE, where=["channel = email"])
    assert (result.stages[1].lost, result.stages[1].pending) == (1, 0)
    assert result.users == 1 and result.events == 1
    assert result.last_event_at == log(("z", 40 * DAY, "x"))["ts"][0]  # the data's span, not the rows kept
    assert result.filters.where == ["channel = email"]


def test_a_filter_nothing_passes_gives_an_empty_funnel() -> None:
    result = analyze(log(("u", 0, "a", "email"), properties=("channel",)), STORE, where=["channel = ad"])
    assert [s.users for s in result.stages] == [0, 0] and result.overall_conversion is None


BERLIN_EVENTS = pl.DataFrame(
    {
        "user_id": ["before", "first", "first", "last", "after"],
        "ts": [
            datetime(2026, 10, 24, 21, 59, 59, tzinfo=UTC),  # 23:59:59 CEST on the 24th
            datetime(2026, 10, 24, 22, 0, 0, tzinfo=UTC),  # 00:00 CEST on the 25th
            datetime(2026, 10, 26, 10, 0, 0, tzinfo=UTC),  # its step, after the range
            datetime(2026, 10, 25, 22, 59, 59, tzinfo=UTC),  # 23:59:59 CET on the 25th (25 h day)
            datetime(2026, 10, 25, 23, 0, 0, tzinfo=UTC),  # 00:00 CET on the 26th
        ],
        "event": ["a", "a", "b", "a", "a"],
    }
)


@pytest.mark.parametrize(
    ("since", "until", "users"),
    [
        ("2026-10-25", "2026-10-25", [2, 1]),  # the whole 25-hour day: first and last
        (date(2026, 10, 25), date(2026, 10, 25), [2, 1]),
        ("2026-10-25", None, [3, 1]),  # since is inclusive at local midnight
        ("20261025", "20261025", [2, 1]),  # the basic ISO form is a date too: the whole day
        (None, "2026-10-24", [1, 0]),  # until a date: through the end of that day
        ("2026-10-25T00:00:01", None, [2, 0]),  # one second after local midnight: not `first`
        (None, "2026-10-25T23:59:59", [2, 1]),  # a date-time is exclusive: not `last`
        (None, "2026-10-25 23:59:59.000001", [3, 1]),
        ("2026-10-24T22:00:00Z", "2026-10-24T22:00:01+00:00", [1, 1]),  # offsets are honoured
        (datetime(2026, 10, 25, 23, 59, 59), None, [2, 0]),  # naive: read in the config's zone
    ],
)
def test_entry_range_boundaries_on_a_daylight_saving_day(since: Any, until: Any, users: list[int]) -> None:
    assert stage_users(BERLIN_EVENTS, since=since, until=until) == users


def test_entry_range_limits_sessions_to_those_starting_inside() -> None:
    # sessions of `first` (two: 22:00 and the step 36 hours later) and `last`; only those
    # starting on the 25th local count: first's first session and last's
    result = analyze(BERLIN_EVENTS, STORE, since="2026-10-25", until="2026-10-25")
    assert result.sessions == 2
    assert result.filters.since == datetime(2026, 10, 24, 22, tzinfo=UTC)
    assert result.filters.until == datetime(2026, 10, 25, 23, tzinfo=UTC)
    assert result.users == 4  # users in the data; only entries are limited


def test_spring_forward_day_is_23_hours_long() -> None:
    start, end = entry_range("2026-03-29", "2026-03-29", timezone="Europe/Berlin")
    assert start is not None and end is not None
    assert (start.astimezone(UTC), end.astimezone(UTC)) == (
        datetime(2026, 3, 28, 23, tzinfo=UTC),
        datetime(2026, 3, 29, 22, tzinfo=UTC),
    )
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=23)


def test_a_repeated_local_time_means_its_first_occurrence() -> None:
    start, _ = entry_range("2026-10-25T02:30", None, timezone="Europe/Berlin")
    assert start is not None and start.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        (
            "2026-03-29T02:30",
            None,
            "--since 2026-03-29 02:30:00: this local time does not exist in Europe/Berlin",
        ),
        ("2026-13-01", None, "--since '2026-13-01': expected a date YYYY-MM-DD or a date-time"),
        (None, "last week", "--until 'last week': expected a date YYYY-MM-DD or a date-time"),
        (
            "2026-10-02",
            "2026-10-01",
            "--until 2026-10-02T00:00:00+02:00 is not after --since 2026-10-02T00:00:00",
        ),
        ("2026-10-01T12:00", "2026-10-01T12:00", "--until 2026-10-01T12:00:00+02:00 is not after --since"),
    ],
)
def test_entry_range_refuses_bad_and_empty_ranges(since: Any, until: Any, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        entry_range(since, until, timezone="Europe/Berlin")
    assert str(caught.value).startswith(message)


@settings(max_examples=60)
@given(events=event_logs(max_users=4, max_events=10), data=st.data())
def test_entry_range_agrees_with_the_definition(events: pl.DataFrame, data: st.DataObject) -> None:
    # bounds on entry times (and one second past them) put entries right on the boundaries
    entries = events.filter(pl.col("event") == "a")["ts"]
    moments = sorted({*entries, *(t + timedelta(seconds=1) for t in entries)})
    since = data.draw(st.none() | st.sampled_from(moments or [None]))
    later = [m for m in moments if since is None or m > since] or [None]
    until = data.draw(st.sampled_from(later) if since is None else st.none() | st.sampled_from(later))
    result = analyze(events, OVERLAPPING, since=since, until=until)
    expected = reference.users_per_stage_entering_in(events.rows(named=True), OVERLAPPING, since, until)
    assert [s.users for s in result.stages] == expected


def test_the_entry_range_is_reported_in_the_journeys_time_zone() -> None:
    result = analyze(BERLIN_EVENTS, STORE, since="2026-10-25", until="2026-10-25", where=["value != 0"])
    assert result.model_dump(mode="json")["filters"] == {
        "where": ["value != 0"],
        "since": "2026-10-25T00:00:00+02:00",
        "until": "2026-10-26T00:00:00+01:00",
    }
