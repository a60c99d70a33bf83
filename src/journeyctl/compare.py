"""Period-over-period comparison of every stage metric and KPI-able rate of two results.

Each metric knows whether it is better up (conversion) or down (bounce, abandonment, time to
convert). Rates are tested with ``stats.compare_rates`` (z-test, Fisher's exact test below an
expected count of 5, nothing below the minimum sample) and the p-values of one comparison are
adjusted together (Benjamini–Hochberg): a change is *significant* when its q-value is below
0.05 and both periods are complete. Breakdown values are compared too (``breakdown_changes``),
untested.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from journeyctl.result import (
    AnalysisResult,
    Breakdown,
    BreakdownValue,
    Frozen,
    PainPoint,
    SegmentTest,
    StageResult,
)
from journeyctl.stats import MIN_SAMPLE, benjamini_hochberg, compare_rates

ALPHA = 0.05
Better = Literal["up", "down"]
Direction = Literal["better", "worse", "same", "n/a"]
Counts = Callable[[AnalysisResult], tuple[int, int] | None]  # (successes, trials) of a rate


class MetricChange(Frozen):
    metric: str  # the KPI path: overall_conversion, stages.<id>.conversion, bounce_rate, …
    label: str
    kind: Literal["rate", "count", "duration_s"]
    better: Better
    current: int | float | None
    previous: int | float | None
    change: int | float | None  # current - previous (rates: in fractions, i.e. percentage points / 100)
    relative_change: float | None  # change / previous; None when previous is 0 or undefined
    direction: Direction
    test: Literal["z", "fisher"] | None
    p_value: float | None
    q_value: float | None  # Benjamini–Hochberg over the rate tests of this comparison
    significant: bool
    interval_current: tuple[float, float] | None  # 95% Wilson, rates only
    interval_previous: tuple[float, float] | None


@dataclass(frozen=True)
class MetricSpec:
    metric: str
    label: str
    kind: Literal["rate", "count", "duration_s"]
    better: Better
    value: Callable[[AnalysisResult], int | float | None]
    counts: Counts | None = None


def metric_specs(result: AnalysisResult) -> list[MetricSpec]:
    """The compared metrics, in report order: per stage users, conversion and median time to
    convert; then overall conversion, sessions, bounce, cart, checkout and repeat purchase."""
    specs: list[MetricSpec] = []
    for index, stage in enumerate(result.stages):
        sid = stage.id
        specs.append(
            MetricSpec(
                f"stages.{sid}.users",
                f"{stage.label}: {result.unit}",
                "count",
                "up",
                stage_field(sid, "users"),
            )
        )
        if index == 0:
            continue
        before = result.stages[index - 1].id
        specs.append(
            MetricSpec(
                f"stages.{sid}.conversion",
                f"{stage.label}: conversion",
                "rate",
                "up",
                stage_field(sid, "conversion"),
                step_counts(sid, before),
            )
        )
        specs.append(
            MetricSpec(
                f"stages.{sid}.median_time_to_convert_s",
                f"{stage.label}: median time to convert",
                "duration_s",
                "down",
                stage_field(sid, "median_time_to_convert_s"),
            )
        )
    first, last = result.stages[0].id, result.stages[-1].id
    specs += [
        MetricSpec(
            "overall_conversion",
            "Overall conversion",
            "rate",
            "up",
            lambda r: r.overall_conversion,
            step_counts(last, first),
        ),
        MetricSpec("sessions", "Sessions", "count", "up", lambda r: r.sessions),
        MetricSpec(
            "bounce_rate",
            "Bounce rate",
            "rate",
            "down",
            lambda r: r.bounce_rate,
            lambda r: (r.bounced_sessions, r.sessions),
        ),
        MetricSpec(
            "cart_abandonment_rate",
            "Cart abandonment",
            "rate",
            "down",
            lambda r: r.cart_abandonment_rate,
            lambda r: (r.carts - r.purchased_carts, r.carts),
        ),
        MetricSpec(
            "checkout_abandonment_rate",
            "Checkout abandonment",
            "rate",
            "down",
            lambda r: r.checkout_abandonment_rate,
            lambda r: (r.checkouts - r.purchased_checkouts, r.checkouts),
        ),
        MetricSpec(
            "repeat_purchase_rate",
            "Repeat purchase",
            "rate",
            "up",
            lambda r: r.repeat_purchase_rate,
            lambda r: (r.repeat_buyers, r.buyers),
        ),
    ]
    return specs


def stage_field(stage_id: str, field: str) -> Callable[[AnalysisResult], int | float | None]:
    def value(result: AnalysisResult) -> int | float | None:
        number: int | float | None = getattr(result.stage(stage_id), field)
        return number

    return value


def step_counts(stage_id: str, from_stage: str) -> Counts:
    """(units reaching ``stage_id``, units reaching ``from_stage``): a conversion's counts."""
    return lambda result: (result.stage(stage_id).users, result.stage(from_stage).users)


def direction(change: float | None, better: Better) -> Direction:
    """Whether a change is good news: up is better for ``better="up"``, down otherwise."""
    if change is None:
        return "n/a"
    if change == 0:
        return "same"
    return "better" if (change > 0) == (better == "up") else "worse"


def change_fields(
    now: int | float | None, before: int | float | None, better: Better
) -> dict[str, int | float | str | None]:
    """The ``change``, ``relative_change`` and ``direction`` of a ``MetricChange``: undefined
    when either number is, the relative change also when ``before`` is 0."""
    change = now - before if now is not None and before is not None else None
    relative = change / before if change is not None and before else None
    return {"change": change, "relative_change": relative, "direction": direction(change, better)}


def compare_results(
    current: AnalysisResult, previous: AnalysisResult, *, complete: bool, min_sample: int = MIN_SAMPLE
) -> list[MetricChange]:
    """Every metric of ``current`` against ``previous``. With ``complete=False`` (a period whose
    window is still open) the numbers are shown but no change is called significant."""
    rows: list[dict[str, object]] = []
    for spec in metric_specs(current):
        now, before = spec.value(current), spec.value(previous)
        test = p_value = interval_now = interval_before = None
        if spec.counts is not None:
            x1, n1 = spec.counts(current) or (0, 0)
            x2, n2 = spec.counts(previous) or (0, 0)
            rates = compare_rates(x1, n1, x2, n2, min_sample=min_sample)
            test, p_value = rates.test, rates.p_value
            interval_now, interval_before = rates.interval_a, rates.interval_b
        rows.append(
            {
                "metric": spec.metric,
                "label": spec.label,
                "kind": spec.kind,
                "better": spec.better,
                "current": now,
                "previous": before,
                **change_fields(now, before, spec.better),
                "test": test,
                "p_value": p_value,
                "interval_current": interval_now,
                "interval_previous": interval_before,
            }
        )
    q_values = benjamini_hochberg([row["p_value"] for row in rows])  # type: ignore[misc]
    return [
        MetricChange(
            **row,
            q_value=q,
            significant=complete and q is not None and q < ALPHA and row["direction"] != "same",
        )
        for row, q in zip(rows, q_values, strict=True)
    ]


def conversion_fell(changes: list[MetricChange], stages: list[StageResult], against: str) -> list[PainPoint]:
    """A pain point for each stage whose step conversion fell significantly against the
    comparison period ``against`` (its label), with the change in words."""
    fell = {c.metric: c for c in changes if c.significant and c.direction == "worse"}
    pains = []
    for before, stage in itertools.pairwise(stages):
        change = fell.get(f"stages.{stage.id}.conversion")
        if change is None or change.current is None or change.previous is None:
            continue
        pains.append(
            PainPoint(
                stage=stage.id,
                from_stage=before.id,
                kinds=["conversion_fell"],
                reasons=[
                    f"conversion fell significantly: {change.current:.1%} against {change.previous:.1%}"
                    f" in {against} (q = {change.q_value:.3g})"
                ],
            )
        )
    return pains


@dataclass(frozen=True)
class ValueChange:
    """A breakdown value in the current period against the same value in the comparison
    period; ``value`` None is the row of every unit."""

    value: str | None
    entered: int | None  # units entered with this value; None: not among the period's values
    reached: MetricChange  # units reaching the last stage
    conversion: MetricChange  # overall conversion: last stage / entered
    against: SegmentTest | None  # the current period's overall conversion against the rest or control


def breakdown_changes(
    current: Breakdown, previous: Breakdown | None, *, last_stage: str
) -> list[ValueChange]:
    """A row per value of ``current`` in its order, then per value only ``previous`` has: the
    units reaching ``last_stage`` and the overall conversion in both periods and their
    change. A value missing from one period's values (none of its units entered there, or it
    was folded into ``(other)``) has None there, and so no change. Each metric is named by
    its KPI path (``by.channel.email.overall_conversion``); none is tested across periods."""
    before = {} if previous is None else {v.value: v for v in previous.values}
    now = {v.value: v for v in current.values}
    rows = []
    for name in [*now, *(name for name in before if name not in now)]:
        pair = (now.get(name), before.get(name))
        path = f"by.{current.column}.{name}"
        rows.append(
            ValueChange(
                value=name,
                entered=None if pair[0] is None else pair[0].users,
                reached=_untested(
                    f"{path}.stages.{last_stage}.users", name, "count", pair, lambda v: v.stages[-1].users
                ),
                conversion=_untested(
                    f"{path}.overall_conversion", name, "rate", pair, lambda v: v.overall_conversion
                ),
                against=None if pair[0] is None else pair[0].overall_significance,
            )
        )
    return rows


def _untested(
    metric: str,
    label: str,
    kind: Literal["rate", "count"],
    pair: tuple[BreakdownValue | None, BreakdownValue | None],
    value: Callable[[BreakdownValue], int | float | None],
) -> MetricChange:
    """A better-up metric of a value in the current and the comparison period, not tested."""
    now, before = (None if v is None else value(v) for v in pair)
    return MetricChange(
        metric=metric,
        label=label,
        kind=kind,
        better="up",
        current=now,
        previous=before,
        **change_fields(now, before, "up"),
        test=None,
        p_value=None,
        q_value=None,
        significant=False,
        interval_current=None,
        interval_previous=None,
    )
