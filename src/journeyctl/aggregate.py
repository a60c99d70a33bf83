"""Per-unit funnel levels → per-stage counts, rates and times to convert."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from journeyctl.config.models import Stage
from journeyctl.kernel import Levels
from journeyctl.result import rate

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


def levels_frame(levels: Levels) -> pl.DataFrame:
    """``level``, ``last_entry`` and ``t0``…``t{N-1}`` (µs) as columns, one row per unit."""
    columns = {"level": levels.level, "last_entry": levels.last_entry}
    columns |= {f"t{i}": levels.path[:, i] for i in range(levels.path.shape[1])}
    return pl.DataFrame(columns)


def stage_counts(
    levels: pl.DataFrame, stages: Sequence[Stage], *, window_us: int, data_end_us: int
) -> list[StageCounts]:
    """Users reaching each stage and the step rates between them (docs/metrics.md).

    Times to convert use each unit's reported path: ``t[k] - t[k-1]`` for units reaching k;
    the median averages the two middle values, p90 interpolates linearly. ``pending`` counts
    units stuck before stage k whose latest entry's window is still open at the data's end.
    """
    n = len(stages)
    open_window = (pl.col("last_entry") + window_us) > data_end_us
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
        before = row[f"users{k - 1}"] if k > 1 else None
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
