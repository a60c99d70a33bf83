"""Calendar periods in the journey's time zone: ISO weeks from Monday, months, days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from journeyctl.periods import last_complete_period, period_containing, window_closed


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "timezone", "label"),
    [
        (utc(2026, 3, 29, 23, 59, 59), "UTC", "2026-W13"),  # Sunday night: still the week of Monday 23rd
        (utc(2026, 3, 30, 0, 0, 0), "UTC", "2026-W14"),  # Monday midnight starts the next week
        (utc(2026, 3, 29, 22, 30), "Europe/Berlin", "2026-W14"),  # already Monday 00:30 in Berlin
        (utc(2026, 3, 30, 3, 0), "America/New_York", "2026-W13"),  # still Sunday 23:00 in New York
        (utc(2026, 12, 31, 12, 0), "UTC", "2026-W53"),  # 2026 has 53 ISO weeks
        (utc(2027, 1, 3, 12, 0), "UTC", "2026-W53"),  # a Sunday in January belongs to the old ISO year
        (utc(2027, 1, 4, 0, 0), "UTC", "2027-W01"),
    ],
)
def test_week_runs_from_monday_in_the_journey_time_zone(moment: datetime, timezone: str, label: str) -> None:
    period = period_containing(moment, "week", timezone)
    assert period.label == label
    assert period.start.weekday() == 0 and (period.start.hour, period.start.minute) == (0, 0)


@pytest.mark.parametrize(
    ("moment", "timezone", "label"),
    [
        (utc(2026, 1, 31, 23, 30), "UTC", "2026-01"),
        (utc(2026, 1, 31, 23, 30), "Europe/Berlin", "2026-02"),  # 00:30 on 1 February there
        (utc(2026, 2, 1, 3, 0), "America/New_York", "2026-01"),  # 22:00 on 31 January there
        (utc(2026, 12, 31, 23, 59, 59), "UTC", "2026-12"),
    ],
)
def test_month_is_cut_at_local_midnight(moment: datetime, timezone: str, label: str) -> None:
    assert period_containing(moment, "month", timezone).label == label


def test_day_and_shifts_across_year_ends() -> None:
    day = period_containing(utc(2026, 3, 1, 23, 0), "day", "Europe/Berlin")
    assert day.label == "2026-03-02"
    assert period_containing(utc(2026, 1, 15), "month", "UTC").shifted(-1).label == "2025-12"
    assert period_containing(utc(2026, 1, 15), "month", "UTC").shifted(-12).label == "2025-01"
    assert period_containing(utc(2026, 1, 1), "week", "UTC").shifted(-52).label == "2025-W01"


def test_a_week_with_the_clocks_going_forward_is_an_hour_short() -> None:
    week = period_containing(utc(2026, 3, 25), "week", "Europe/Berlin")
    assert (week.start.astimezone(UTC), week.end.astimezone(UTC)) == (
        utc(2026, 3, 22, 23),
        utc(2026, 3, 29, 22),
    )
    assert week.end.astimezone(UTC) - week.start.astimezone(UTC) == timedelta(days=7, hours=-1)


def test_last_complete_period_has_ended_by_the_moment() -> None:
    assert last_complete_period("week", "UTC", utc(2026, 3, 30)).label == "2026-W13"  # ends exactly then
    assert last_complete_period("week", "UTC", utc(2026, 3, 29, 23, 59)).label == "2026-W12"
    assert last_complete_period("month", "UTC", utc(2026, 11, 1)).label == "2026-10"
    assert last_complete_period("month", "Europe/Berlin", utc(2026, 10, 31, 23, 30)).label == "2026-10"


def test_window_closes_inclusively_after_the_period_end() -> None:
    week = period_containing(utc(2026, 3, 25), "week", "UTC")  # ends Monday 30 March 00:00
    assert window_closed(week, timedelta(days=7), utc(2026, 4, 6))
    assert not window_closed(week, timedelta(days=7), utc(2026, 4, 5, 23, 59, 59))
