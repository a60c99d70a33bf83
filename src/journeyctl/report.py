"""The weekly report: the current calendar period against a comparison period, and a trend.

A unit belongs to the period of its funnel entry (its path may finish after the period
ends); a session to the period of its first event; a cart or checkout to the period of its
first add or checkout; a buyer to the period of their first purchase. Events at or after
``as_of`` are ignored, so a report for a given ``as_of`` is reproducible from the same files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

import polars as pl

from journeyctl.aggregate import summarize
from journeyctl.check import Verdict, evaluate
from journeyctl.columns import TS
from journeyctl.compare import MetricChange, compare_results, conversion_fell
from journeyctl.config.durations import duration_text
from journeyctl.config.models import JourneyConfig
from journeyctl.errors import InputError, UsageError
from journeyctl.facts import Facts, Prepared, funnel_facts, prepare
from journeyctl.painpoints import merge_pain_points
from journeyctl.periods import Period, PeriodKind, last_complete_period, window_closed
from journeyctl.result import AnalysisResult, Frozen, PainPoint

REPORT_SCHEMA_VERSION = 1
CompareTo = Literal["previous", "year"]


class PeriodResult(Frozen):
    """One period's analysis; ``complete`` is False while its conversion window is open."""

    period: Period
    complete: bool
    result: AnalysisResult


class TrendPoint(Frozen):
    label: str
    start: datetime
    complete: bool
    entered: int  # units entering the funnel in the period
    conversion: dict[str, float | None]  # stage id -> step conversion
    overall_conversion: float | None
    sessions: int
    bounce_rate: float | None
    carts: int
    cart_abandonment_rate: float | None
    checkout_abandonment_rate: float | None


class Report(Frozen):
    schema_version: int = REPORT_SCHEMA_VERSION
    journey: str
    period_kind: PeriodKind
    timezone: str
    compare_to: str  # "previous", "year", or "N periods ago"
    observed_until: datetime  # the end of the data used (as-of, or the last event)
    current: PeriodResult
    comparison: PeriodResult
    changes: list[MetricChange]
    pain_points: list[PainPoint]  # the current period's, plus significant conversion falls
    kpis: list[Verdict]  # the config's KPIs judged on the current period (as `check` does)
    trend: list[TrendPoint]  # oldest first, ending with the last period that has ended


def build_report(
    frame: pl.DataFrame,
    journey: JourneyConfig,
    *,
    period: PeriodKind,
    compare: str = "previous",
    periods: int = 8,
    as_of: datetime | None = None,
) -> Report:
    """The report on canonical events ``frame`` (events at or after the aware ``as_of`` are
    ignored; see ``plan_report`` for the periods)."""
    if as_of is not None:
        frame = frame.filter(pl.col(TS) < as_of)
    first: datetime | None = frame[TS].min()  # type: ignore[assignment]
    last: datetime | None = frame[TS].max()  # type: ignore[assignment]
    plan = plan_report(journey, first, last, period=period, compare=compare, periods=periods, as_of=as_of)
    results = [summarize(facts, journey) for facts in plan_facts(frame, journey, plan)]
    return assemble_report(plan, journey, results)


def plan_facts(frame: pl.DataFrame, journey: JourneyConfig, plan: ReportPlan) -> list[Facts]:
    """The facts of each of ``plan.periods`` on canonical events ``frame``."""
    prepared = prepare(frame, journey)  # once: every period runs the funnel on the same events
    return [period_facts(prepared, journey, p) for p in plan.periods]


@dataclass(frozen=True)
class ReportPlan:
    """Which periods a report analyses, from the span of the data (``plan_report``)."""

    period: PeriodKind
    compare: str
    observed_until: datetime  # the end of the data used (as-of, or the last event)
    current: Period
    comparison: Period
    trend: list[Period]  # oldest first

    @property
    def periods(self) -> list[Period]:
        """Every period to analyse, once: the current, the comparison, then the trend's others."""
        seen = {self.current.label, self.comparison.label}
        return [self.current, self.comparison, *(p for p in self.trend if p.label not in seen)]


def plan_report(
    journey: JourneyConfig,
    first_event: datetime | None,
    last_event: datetime | None,
    *,
    period: PeriodKind,
    compare: str = "previous",
    periods: int = 8,
    as_of: datetime | None = None,
) -> ReportPlan:
    """The periods of a report on events from ``first_event`` to ``last_event`` (None: no
    events before ``as_of``). The current period is the last *complete* one: its conversion
    window closed by the end of the observed data (``as_of`` or the last event, whichever is
    earlier), so its numbers can no longer change and comparing it is fair. The trend runs up
    to the last period that has ended, and marks the periods whose window is still open."""
    back = periods_back(compare, period, periods=periods)
    if first_event is None or last_event is None:
        raise InputError("no events before the report date", hint="check --as-of against the data's dates")
    observed_until = min(as_of, last_event) if as_of is not None else last_event
    window = journey.funnel.window
    latest = last_complete_period(period, journey.timezone, as_of or last_event)
    current = last_complete_period(period, journey.timezone, observed_until - window)
    if current.end <= first_event:
        raise InputError(
            f"no {period} is complete yet: the data runs from {first_event:%Y-%m-%d} to "
            f"{observed_until:%Y-%m-%d}, and a {period}'s conversion window "
            f"({duration_text(window)}) must close before it can be compared",
            hint="use a shorter --period, a later --as-of or more data",
        )
    return ReportPlan(
        period=period,
        compare=compare,
        observed_until=observed_until,
        current=current,
        comparison=current.shifted(-back),
        trend=[latest.shifted(-i) for i in range(periods - 1, -1, -1)],
    )


def assemble_report(plan: ReportPlan, journey: JourneyConfig, results: Sequence[AnalysisResult]) -> Report:
    """The report from the analyses of ``plan.periods``, in that order."""
    done = {
        p.label: PeriodResult(
            period=p, complete=window_closed(p, journey.funnel.window, plan.observed_until), result=r
        )
        for p, r in zip(plan.periods, results, strict=True)
    }
    now, before = done[plan.current.label], done[plan.comparison.label]
    changes = compare_results(now.result, before.result, complete=now.complete and before.complete)
    return Report(
        journey=journey.name,
        period_kind=plan.period,
        timezone=journey.timezone,
        compare_to=plan.compare,
        observed_until=plan.observed_until,
        current=now,
        comparison=before,
        changes=changes,
        pain_points=merge_pain_points(
            now.result.pain_points,
            conversion_fell(changes, now.result.stages, before.period.label),
            [s.id for s in now.result.stages],
        ),
        kpis=evaluate(now.result, journey.kpis).verdicts,
        trend=[trend_point(done[p.label]) for p in plan.trend],
    )


def periods_back(compare: str, period: PeriodKind, *, periods: int = 2) -> int:
    """How many periods back the comparison period lies: ``previous`` 1, ``year`` 12 months,
    52 weeks or 364 days (same weekday), or a number N; ``UsageError`` for other text, or a
    trend of fewer than 2 ``periods``."""
    if periods < 2:
        raise UsageError(f"--periods {periods}: a trend needs at least 2 periods", hint="try --periods 8")
    if compare == "previous":
        return 1
    if compare == "year":
        return {"day": 364, "week": 52, "month": 12}[period]
    if compare.isdigit() and int(compare) > 0:
        return int(compare)
    raise UsageError(
        f"--compare {compare!r}: expected previous, year or a number of periods",
        hint="e.g. --compare previous, --compare year, --compare 4",
    )


def period_facts(prepared: Prepared, journey: JourneyConfig, period: Period) -> Facts:
    """The facts of ``period``: the units entering inside it (only those: a report on
    buckets keeps every period's), the rest assigned by their start."""
    start, end = period.start.astimezone(UTC), period.end.astimezone(UTC)
    facts = funnel_facts(prepared, journey, entries_since=start, entries_until=end)
    facts = replace(facts, funnel=facts.funnel.filter(pl.col("level") >= 1))
    return facts_in_period(facts, start, end)


def facts_in_period(facts: Facts, start: datetime | None, end: datetime | None) -> Facts:
    """The facts of units entering in [start, end) (``funnel_facts`` limited the entries), and
    only the sessions, carts and buyers starting
    there (a session by its first event, a cart by its first add or checkout, a buyer by
    the first purchase); a missing bound leaves that side open."""

    def inside(column: str) -> pl.Expr:
        after = pl.lit(True) if start is None else pl.col(column) >= start
        return after & (pl.lit(True) if end is None else pl.col(column) < end)

    return replace(
        facts,
        sessions=facts.sessions.filter(inside("start")),
        baskets=facts.baskets.filter(inside("started")),
        buyers=facts.buyers.filter(inside("first")),
    )


def trend_point(period: PeriodResult) -> TrendPoint:
    result = period.result
    return TrendPoint(
        label=period.period.label,
        start=period.period.start,
        complete=period.complete,
        entered=result.stages[0].users,
        conversion={s.id: s.conversion for s in result.stages[1:]},
        overall_conversion=result.overall_conversion,
        sessions=result.sessions,
        bounce_rate=result.bounce_rate,
        carts=result.carts,
        cart_abandonment_rate=result.cart_abandonment_rate,
        checkout_abandonment_rate=result.checkout_abandonment_rate,
    )
