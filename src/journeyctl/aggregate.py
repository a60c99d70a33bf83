"""Per-user facts → the metrics of an ``AnalysisResult``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from journeyctl.breakdown import breakdown_results, segment_pain_points
from journeyctl.commerce import repeat_counts
from journeyctl.config.durations import duration_text
from journeyctl.config.models import JourneyConfig, Stage
from journeyctl.facts import Facts, micros
from journeyctl.painpoints import find_pain_points, merge_pain_points
from journeyctl.result import AnalysisResult, BounceGroup, BreakdownStage, StageResult, rate

US = 1e6


@dataclass(frozen=True)
class StageCounts:
    """One stage's numbers before pain points are judged."""

    id: str
    label: str
    users: int
    conversion: float | None
    from_start: float | None
    lost: int | None
    drop_off: float | None
    pending: int
    times: dict[str, float | None]

    def metrics(self) -> dict[str, object]:
        """The fields of a ``StageMetrics``."""
        return {
            "id": self.id,
            "label": self.label,
            "users": self.users,
            "conversion": self.conversion,
            "from_start": self.from_start,
            "lost": self.lost,
            "drop_off": self.drop_off,
            "pending": self.pending,
            **self.times,
        }


def open_window_expr(*, window_us: int, data_end_us: int) -> pl.Expr:
    """True for units whose latest entry's window is still open at the end of the data
    (entry + window later than the last timestamp): they may still convert."""
    return (pl.col("last_entry") + window_us) > data_end_us


def stage_counts(
    levels: pl.DataFrame,
    stages: Sequence[Stage],
    *,
    window_us: int,
    data_end_us: int,
    exclude_pending: bool = False,
) -> list[StageCounts]:
    """Users reaching each stage and the step rates between them (docs/metrics.md).

    Times to convert use each unit's reported path: ``t[k] - t[k-1]`` for units reaching k;
    the median averages the two middle values, p90 interpolates linearly. ``pending`` counts
    units stuck before stage k whose latest entry's window is still open at the data's end.
    With ``exclude_pending`` a pending unit counts in no denominator it has not left yet:
    ``conversion[k] = users[k] / (users[k-1] - pending[k])``, ``lost`` leaves them out, and
    ``from_start[k] = users[k] / (users[1] - pending[2] - … - pending[k])``.
    """
    n = len(stages)
    open_window = open_window_expr(window_us=window_us, data_end_us=data_end_us)
    aggs: list[pl.Expr] = []
    for k in range(1, n + 1):
        reached = pl.col("level") >= k
        aggs.append(reached.sum().alias(f"users{k}"))
        aggs.append(((pl.col("level") == k - 1) & (k > 1) & open_window).sum().alias(f"pending{k}"))
        if k > 1:
            step = ((pl.col(f"t{k - 1}") - pl.col(f"t{k - 2}")) / US).filter(reached)
            from_entry = ((pl.col(f"t{k - 1}") - pl.col("t0")) / US).filter(reached)
            aggs += [
                step.median().alias(f"median{k}"),
                step.quantile(0.9, interpolation="linear").alias(f"p90{k}"),
                step.mean().alias(f"mean{k}"),
                step.min().alias(f"min{k}"),
                step.max().alias(f"max{k}"),
                from_entry.median().alias(f"entry{k}"),
            ]
    row = levels.select(aggs).row(0, named=True)
    counts: list[StageCounts] = []
    first = row["users1"]
    for k, stage in enumerate(stages, start=1):
        users = row[f"users{k}"]
        left_out = row[f"pending{k}"] if exclude_pending else 0
        first -= left_out  # units pending before k are neither in nor out of stage k
        before = row[f"users{k - 1}"] - left_out if k > 1 else None
        conversion = rate(users, before) if before is not None else None
        times = {
            name: (row[f"{key}{k}"] if k > 1 else None)
            for name, key in (
                ("median_time_to_convert_s", "median"),
                ("p90_time_to_convert_s", "p90"),
                ("mean_time_to_convert_s", "mean"),
                ("min_time_to_convert_s", "min"),
                ("max_time_to_convert_s", "max"),
                ("median_time_from_entry_s", "entry"),
            )
        }
        counts.append(
            StageCounts(
                id=stage.id,
                label=stage.title,
                users=users,
                conversion=conversion,
                from_start=rate(users, first),
                lost=before - users if before is not None else None,
                drop_off=1 - conversion if conversion is not None else None,
                pending=row[f"pending{k}"],
                times=times,
            )
        )
    return counts


def summarize(facts: Facts, journey: JourneyConfig, *, exclude_pending: bool = False) -> AnalysisResult:
    """Every metric of the result from the facts of all users; ``exclude_pending`` takes
    pending units out of the denominators (see ``stage_counts``)."""
    window_us = micros(journey.funnel.window.total_seconds())
    data_end_us = data_end_micros(facts)
    counts = stage_counts(
        facts.funnel,
        journey.stages,
        window_us=window_us,
        data_end_us=data_end_us,
        exclude_pending=exclude_pending,
    )

    def counts_of(units: pl.DataFrame) -> list[BreakdownStage]:
        found = stage_counts(
            units,
            journey.stages,
            window_us=window_us,
            data_end_us=data_end_us,
            exclude_pending=exclude_pending,
        )
        return [BreakdownStage.model_validate({**c.metrics(), "significance": None}) for c in found]

    breakdowns = breakdown_results(facts.funnel, journey, counts, counts_of=counts_of)
    stage_ids = [stage.id for stage in journey.stages]
    pain = merge_pain_points(
        find_pain_points(counts, max_drop_off=journey.pain_points.max_drop_off),
        segment_pain_points(breakdowns, stage_ids),
        stage_ids,
    )
    flagged = {p.stage: p for p in pain}
    stages = [
        StageResult.model_validate(
            {
                **c.metrics(),
                "pain_point": c.id in flagged,
                "pain_point_reasons": flagged[c.id].reasons if c.id in flagged else [],
            }
        )
        for c in counts
    ]
    sessions = facts.sessions
    bounced = int(sessions["bounced"].sum())
    basket = facts.baskets.select(pl.exclude("started").sum()).row(0, named=True)
    buyers, repeat_buyers = repeat_counts(facts.buyers, cart=journey.cart, data_end=facts.last_ts)
    within = journey.cart.repeat_within
    return AnalysisResult(
        journey=journey.name,
        unit=journey.funnel.count,
        order=journey.funnel.order,
        window_s=journey.funnel.window.total_seconds(),
        events=facts.events,
        users=facts.users,
        first_event_at=facts.first_ts,
        last_event_at=facts.last_ts,
        stages=stages,
        overall_conversion=counts[-1].from_start,
        exclude_pending=exclude_pending,
        biggest_leak=next((p.stage for p in pain if "biggest_leak" in p.kinds), None),
        sessions=sessions.height,
        bounced_sessions=bounced,
        bounce_rate=rate(bounced, sessions.height),
        bounce_rule=journey.bounce.rule,
        bounce_by_landing_channel=(
            _bounce_groups(sessions, "landing_channel") if "channel" in journey.property_columns else []
        ),
        bounce_by_landing_stage=_bounce_groups(sessions, "landing_stage"),
        carts=basket["carts"] or 0,
        purchased_carts=basket["purchased_carts"] or 0,
        cart_abandonment_rate=_abandonment(basket["purchased_carts"] or 0, basket["carts"] or 0),
        checkouts=basket["checkouts"] or 0,
        purchased_checkouts=basket["purchased_checkouts"] or 0,
        checkout_abandonment_rate=_abandonment(basket["purchased_checkouts"] or 0, basket["checkouts"] or 0),
        buyers=buyers,
        repeat_buyers=repeat_buyers,
        repeat_purchase_rate=rate(repeat_buyers, buyers),
        repeat_rule=(
            "buyers with 2 or more purchases"
            if within is None
            else f"first-time buyers who bought again within {duration_text(within)}"
        ),
        pain_points=pain,
        breakdowns=breakdowns,
    )


def data_end_micros(facts: Facts) -> int:
    """The end of the data (its last timestamp) in µs since the epoch; 0 without events."""
    return micros(facts.last_ts.timestamp()) if facts.last_ts else 0


def _bounce_groups(sessions: pl.DataFrame, column: str) -> list[BounceGroup]:
    grouped = (
        sessions.group_by(column)
        .agg(pl.len().alias("sessions"), pl.col("bounced").sum().alias("bounced"))
        .sort(["sessions", column], descending=[True, False])
    )
    return [
        BounceGroup(value=str(value), sessions=n, bounced_sessions=b, bounce_rate=rate(b, n))
        for value, n, b in grouped.iter_rows()
    ]


def _abandonment(purchased: int, started: int) -> float | None:
    return rate(started - purchased, started)
