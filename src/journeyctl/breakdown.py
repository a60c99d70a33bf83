"""Breakdowns: every stage metric split by a property, with each value tested against the rest
(or against a control value) at every step (docs/metrics.md, Breakdowns).

A unit is attributed to one value of the property, read from a row of its reported path:
the entry row (``first_touch``), the row of the last step reached (``last_touch``) or the row
filling a named stage. ``attributed_values`` reads those values per unit while the events of
its users are at hand, so facts stay per-user and concatenable; ``breakdown_results`` turns
the facts of all units into one ``Breakdown`` per requested column (or pair of columns).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import polars as pl

from journeyctl.compare import ALPHA, direction
from journeyctl.config.models import SEPARATOR, Breakdowns, JourneyConfig, breakdown_problems
from journeyctl.errors import UsageError
from journeyctl.kernel import Levels
from journeyctl.result import (
    Breakdown,
    BreakdownStage,
    BreakdownValue,
    PainKind,
    PainPoint,
    SegmentTest,
    rate,
)
from journeyctl.stats import MIN_SAMPLE, benjamini_hochberg, compare_rates

NONE = "(none)"  # the property is empty on the attributed row
NOT_REACHED = "(not reached)"  # attribution at a stage the unit never reached
OTHER = "(other)"  # values beyond the top N
PREFIX = "by:"  # facts column holding a property's attributed value
UNFOLDED = 2**31  # a top that keeps every value
StageCountsFn = Callable[[pl.DataFrame], list[BreakdownStage]]


class Reached(Protocol):
    """A stage's units reaching it and lost on the way (``StageCounts``, ``StageMetrics``)."""

    @property
    def users(self) -> int: ...

    @property
    def lost(self) -> int | None: ...


def breakdown_settings(
    journey: JourneyConfig,
    *,
    by: Sequence[str | Sequence[str]] | None = None,
    attribution: str | None = None,
    top: int | None = None,
    control: str | None = None,
) -> Breakdowns:
    """The config's ``breakdowns:`` with the caller's choices applied: ``by`` replaces the
    default list (an entry is a column or two columns to combine), the others override.

    Raises ``UsageError`` naming the option for a breakdown of more than two columns, an
    option with no breakdown to apply to, a problem ``breakdown_problems`` finds (the checks
    of the config's ``breakdowns:``), ``top`` below 1, or a ``control`` without exactly one
    breakdown to apply to.
    """
    settings = journey.breakdowns
    entries = settings.by if by is None else [[b] if isinstance(b, str) else list(b) for b in by]
    for columns in entries:
        if not 1 <= len(columns) <= 2:
            raise UsageError(
                f"a breakdown has one or two columns, not {len(columns)}",
                where="--by",
                hint="repeat --by at most twice: --by channel --by segment",
            )
    if not entries and (attribution is not None or top is not None):
        option = "--attribution" if attribution is not None else "--top"
        raise UsageError(
            f"{option} has no breakdown to apply to",
            where=option,
            hint="name a column with --by COLUMN, or list `breakdowns:` in the config",
        )
    keys = {SEPARATOR.join(columns) for columns in entries}
    controls = {key: value for key, value in settings.control.items() if key in keys}
    if control is not None and len(entries) == 1:
        controls = {SEPARATOR.join(entries[0]): control}
    chosen = settings.model_copy(
        update={
            "by": entries,
            "attribution": attribution or settings.attribution,
            "top": settings.top if top is None else top,
            "control": controls,
        }
    )
    for loc, message, hint in breakdown_problems(chosen, journey):
        raise UsageError(message, where=f"--{loc[0]}", hint=hint)
    if top is not None and top < 1:
        raise UsageError(f"--top {top}: keep at least 1 value", hint="e.g. --top 10")
    if control is not None and len(entries) != 1:
        raise UsageError(
            "--control needs exactly one breakdown to apply to",
            where="--control",
            hint="name its column: --by variant --control A",
        )
    return chosen


def breakdown_columns(journey: JourneyConfig) -> list[str]:
    """The property columns whose attributed values the facts must carry."""
    return list(dict.fromkeys(c for columns in journey.breakdowns.by for c in columns))


def attribution_step(journey: JourneyConfig) -> int | None:
    """The stage index whose row gives the value; None for last touch."""
    rule = journey.breakdowns.attribution
    if rule == "last_touch":
        return None
    if rule == "first_touch":
        return 0
    return [stage.id for stage in journey.stages].index(rule)


def attributed_values(
    events: pl.DataFrame, source_rows: pl.Series, levels: Levels, journey: JourneyConfig
) -> pl.DataFrame:
    """Per unit (in the kernel's order), one ``by:<column>`` text column per breakdown column:
    the value on the attributed row of the unit's reported path, null when it is empty or the
    unit has no such row (never entered, or did not reach the attribution stage).
    ``levels.rows`` index the prepared events; ``source_rows`` maps them to rows of ``events``."""
    columns = breakdown_columns(journey)
    units = len(levels.level)
    if not columns:
        return pl.DataFrame()
    step = attribution_step(journey)
    if step is None:
        steps = np.maximum(levels.level.astype(np.int64) - 1, 0)
    else:
        steps = np.full(units, step, dtype=np.int64)
    rows = levels.rows[np.arange(units), steps] if units else np.empty(0, dtype=np.int64)
    index = source_rows.cast(pl.Int64).gather(pl.Series(rows, dtype=pl.Int64).replace(-1, None))
    return pl.DataFrame(
        {f"{PREFIX}{c}": events[c].gather(index).cast(pl.String) for c in columns},
        schema={f"{PREFIX}{c}": pl.String for c in columns},
    )


def label_expr(columns: Sequence[str], *, step: int | None) -> pl.Expr:
    """A unit's breakdown value: its attributed value (``a/b`` for two columns, an empty
    component shown as ``(none)``), ``(none)`` when every component is empty, and
    ``(not reached)`` when the attribution stage lies beyond the unit's level."""
    parts = [pl.col(f"{PREFIX}{c}") for c in columns]
    joined = pl.concat_str([p.fill_null(NONE) for p in parts], separator=SEPARATOR)
    label = pl.when(pl.all_horizontal(p.is_null() for p in parts)).then(pl.lit(NONE)).otherwise(joined)
    if step is not None and step > 0:
        label = pl.when(pl.col("level") <= step).then(pl.lit(NOT_REACHED)).otherwise(label)
    return label


def breakdown_results(
    funnel: pl.DataFrame,
    journey: JourneyConfig,
    overall: Sequence[Reached],
    *,
    counts_of: StageCountsFn,
) -> list[Breakdown]:
    """One breakdown per entry of ``journey.breakdowns.by``; ``overall`` is the whole
    funnel's stages and ``counts_of`` computes the stage metrics of a subset of ``funnel``."""
    overall_left_out = pending_left_out(overall)
    overall_units = [s.users for s in overall]
    settings = journey.breakdowns
    step = attribution_step(journey)
    entered = funnel.filter(pl.col("level") >= 1)
    results = []
    for columns in settings.by:
        column = SEPARATOR.join(columns)
        labelled = entered.with_columns(label_expr(columns, step=step).alias("value"))
        control = settings.control.get(column)
        keep, folded = _kept_values(labelled, top=settings.top, control=control)
        value = pl.col("value")
        labelled = labelled.with_columns(pl.when(value.is_in(keep)).then(value).otherwise(pl.lit(OTHER)))
        names = keep + ([OTHER] if folded else [])
        parts = labelled.partition_by("value", as_dict=True)
        metrics = {name: counts_of(parts[(name,)]) for name in names}
        tests = segment_tests(
            {name: [s.users for s in stages] for name, stages in metrics.items()},
            overall_units,
            left_out={name: pending_left_out(stages) for name, stages in metrics.items()}
            | {"": overall_left_out},
            control=control,
            first_tested=1 if step is None else step + 1,
            overall_tested=step is None or step == 0,
            min_sample=settings.min_sample,
        )
        results.append(
            Breakdown(
                column=column,
                columns=list(columns),
                attribution=settings.attribution,
                against="rest" if control is None else "control",
                control=control,
                top=settings.top,
                min_sample=settings.min_sample,
                folded_values=folded,
                values=_values(metrics, tests, overall_units[0] if overall else 0),
            )
        )
    return results


def _kept_values(labelled: pl.DataFrame, *, top: int, control: str | None) -> tuple[list[str], int]:
    """The values shown, in order: the ``top`` values by entered units (ties: by value) and the
    control, then ``(none)`` and ``(not reached)``, which are never folded; and how many
    distinct values were folded into ``(other)``."""
    sizes = labelled.group_by("value").len().sort(["len", "value"], descending=[True, False])
    special = (NONE, NOT_REACHED)
    ranked = [v for v in sizes["value"].to_list() if v not in special]
    kept = ranked[:top]
    if control in ranked[top:]:
        kept.append(control)
    present = set(sizes["value"].to_list())
    return kept + [v for v in special if v in present], len(ranked) - len(kept)


def segment_tests(
    units: dict[str, list[int]],
    overall: Sequence[int],
    *,
    left_out: dict[str, list[int]] | None = None,
    control: str | None = None,
    first_tested: int = 1,
    overall_tested: bool = True,
    min_sample: int = MIN_SAMPLE,
) -> dict[tuple[str, int], SegmentTest]:
    """The tests of one breakdown, keyed by (value, stage index; -1 for overall conversion).

    ``units[value][k]`` is the value's units reaching stage k, ``overall[k]`` everyone's;
    ``left_out[value][k]`` (and ``left_out[""]`` for everyone) the pending units that
    ``--exclude-pending`` takes out of the denominator of the step into k. The step
    conversion into each stage from index ``first_tested`` on, and (when ``overall_tested``
    and there are more than two stages, else it is the one step) the overall conversion, of
    each value against every other unit (everyone minus the value) or against ``control``'s
    units (nothing is tested when the control has no units). ``(other)`` and the control are
    not tested. The family of the Benjamini–Hochberg adjustment is every test returned here.
    """
    n = len(overall)
    if control is not None and control not in units:
        return {}
    out = left_out or {}
    everyone_out = out.get("", [0] * n)
    tests: list[tuple[str, int, tuple[int, int, int, int]]] = []
    for name, mine in units.items():
        if name in (OTHER, control):
            continue
        mine_out = out.get(name, [0] * n)
        if control is not None:
            others, others_out = units[control], out.get(control, [0] * n)
        else:
            others = [t - m for t, m in zip(overall, mine, strict=True)]
            others_out = [t - m for t, m in zip(everyone_out, mine_out, strict=True)]
        for k in range(max(first_tested, 1), n):
            trials = (mine[k - 1] - mine_out[k], others[k - 1] - others_out[k])
            tests.append((name, k, (mine[k], trials[0], others[k], trials[1])))
        if overall_tested and n > 2:
            trials = (mine[0] - sum(mine_out[1:]), others[0] - sum(others_out[1:]))
            tests.append((name, -1, (mine[-1], trials[0], others[-1], trials[1])))
    compared = [compare_rates(*counts, min_sample=min_sample) for _, _, counts in tests]
    q_values = benjamini_hochberg([c.p_value for c in compared])
    found: dict[tuple[str, int], SegmentTest] = {}
    for (name, k, _), c, q in zip(tests, compared, q_values, strict=True):
        found[(name, k)] = SegmentTest(
            against="rest" if control is None else "control",
            rate=c.rate_a,
            interval=c.interval_a,
            other_rate=c.rate_b,
            other_interval=c.interval_b,
            difference=c.difference,
            direction=direction(c.difference, "up"),
            test=c.test,
            p_value=c.p_value,
            q_value=q,
            significant=q is not None and q < ALPHA and bool(c.difference),
        )
    if overall_tested and n == 2:
        found |= {(name, -1): test for (name, k), test in list(found.items()) if k == 1}
    return found


def pending_left_out(stages: Sequence[Reached]) -> list[int]:
    """Per stage k, the units left out of the denominator of the step into k: those pending
    there under ``--exclude-pending`` (``users[k-1] - users[k] - lost[k]``), else 0."""
    return [0] + [
        before.users - stage.users - (stage.lost or 0) for before, stage in itertools.pairwise(stages)
    ]


def _values(
    metrics: dict[str, list[BreakdownStage]], tests: dict[tuple[str, int], SegmentTest], entered: int
) -> list[BreakdownValue]:
    return [
        BreakdownValue(
            value=name,
            users=stages[0].users,
            share=rate(stages[0].users, entered),
            overall_conversion=stages[-1].from_start,  # as the funnel's (pending left out or not)
            overall_significance=tests.get((name, -1)),
            stages=[
                s.model_copy(update={"significance": tests.get((name, k))}) for k, s in enumerate(stages)
            ],
        )
        for name, stages in metrics.items()
    ]


def segment_pain_points(breakdowns: Sequence[Breakdown], stage_ids: Sequence[str]) -> list[PainPoint]:
    """A ``segment_worse`` pain point on each transition where a breakdown value converts
    significantly worse than its comparison group, the reason naming the value."""
    flags: dict[int, list[str]] = {}
    for breakdown in breakdowns:
        than = "" if breakdown.control is None else f" than {breakdown.column}={breakdown.control}"
        for value in breakdown.values:
            for k, stage in enumerate(value.stages):
                test = stage.significance
                if test is None or not test.significant or test.direction != "worse":
                    continue
                assert test.rate is not None and test.other_rate is not None and test.q_value is not None
                flags.setdefault(k, []).append(
                    f"{breakdown.column}={value.value} converts significantly worse here{than}"
                    f" ({test.rate:.1%} vs {test.other_rate:.1%}, {q_text(test.q_value)})"
                )
    kind: PainKind = "segment_worse"
    return [
        PainPoint(stage=stage_ids[k], from_stage=stage_ids[k - 1], kinds=[kind] * len(r), reasons=r)
        for k, r in sorted(flags.items())
    ]


def q_text(q: float) -> str:
    """``q=0.003``; ``q<0.001`` below that (more digits would claim precision the test lacks)."""
    return "q<0.001" if q < 0.001 else f"q={q:.2g}"


def require_control(breakdowns: Sequence[Breakdown], control: str) -> None:
    """Raise ``UsageError`` when a control asked for by name does not occur, listing the values."""
    for breakdown in breakdowns:
        present = [v.value for v in breakdown.values]
        if control not in present:
            raise UsageError(
                f"the control {control!r} is not a value of {breakdown.column} in this data",
                where="--control",
                hint=f"values present: {listing(present)}",
            )


def listing(values: Sequence[str], *, most: int = 20) -> str:
    """``a, b, c``, at most ``most`` of them and then how many more; ``none`` when empty."""
    more = f" and {len(values) - most} more" if len(values) > most else ""
    return ", ".join(values[:most]) + more if values else "none"
