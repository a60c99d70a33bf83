"""Calendar periods (day, ISO week from Monday, month) cut in the journey's time zone.

A period is the half-open range [start, end) of local midnights; it is *complete* when the
conversion window of its last possible entry has closed by the end of the observed data
(``end + window <= observed_until``), so its funnel can no longer change.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from journeyctl.errors import InputError
from journeyctl.result import Frozen

PeriodKind = Literal["day", "week", "month"]


class Period(Frozen):
    kind: PeriodKind
    label: str  # 2026-10-05, 2026-W41, 2026-10
    start: datetime  # local midnight, aware
    end: datetime  # exclusive

    def shifted(self, periods: int) -> Period:
        """The period ``periods`` calendar periods later (negative: earlier)."""
        return period_of_day(_add(self.start.date(), self.kind, periods), self.kind, self.start.tzinfo)


def period_of_day(day: date, kind: PeriodKind, tz: object) -> Period:
    """The period containing the local calendar ``day``."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(str(tz))
    if kind == "day":
        first, label = day, day.isoformat()
    elif kind == "week":
        first = day - timedelta(days=day.weekday())
        year, week, _ = first.isocalendar()
        label = f"{year}-W{week:02d}"
    else:
        first, label = day.replace(day=1), f"{day:%Y-%m}"
    return Period(
        kind=kind,
        label=label,
        start=datetime.combine(first, time(), zone),
        end=datetime.combine(_add(first, kind, 1), time(), zone),
    )


def period_containing(moment: datetime, kind: PeriodKind, timezone: str) -> Period:
    """The period of an aware ``moment``, in ``timezone``'s calendar."""
    zone = ZoneInfo(timezone)
    return period_of_day(moment.astimezone(zone).date(), kind, zone)


def last_complete_period(kind: PeriodKind, timezone: str, until: datetime) -> Period:
    """The last period that has ended at or before the aware moment ``until``."""
    period = period_containing(until, kind, timezone)
    return period if period.end <= until else period.shifted(-1)


def window_closed(period: Period, window: timedelta, observed_until: datetime) -> bool:
    """True when an entry at the very end of ``period`` had its whole window observed (never
    when the window would close after the last date a calendar holds)."""
    try:
        return period.end + window <= observed_until
    except OverflowError:
        return False


def _add(first: date, kind: PeriodKind, n: int) -> date:
    try:
        if kind == "day":
            return first + timedelta(days=n)
        if kind == "week":
            return first + timedelta(weeks=n)
        months = first.year * 12 + first.month - 1 + n
        return date(months // 12, months % 12 + 1, 1)
    except (OverflowError, ValueError):
        span = f"{abs(n):,} {kind}{'s' if abs(n) != 1 else ''} {'after' if n > 0 else 'before'} {first}"
        raise InputError(
            f"{span} is outside the calendar (years 1 to 9999)",
            hint="look for timestamps near year 1 or 9999 in the data, or ask for fewer or nearer periods",
        ) from None
