"""Following up on a stage: what units did after dropping off there (``--after-drop-off``),
and the ids of the users behind a stage's numbers (``--export-users``).

Both select units by their level once the funnel is known: *reached* stage k (level ≥ k),
*dropped* after it (level = k and the window of the latest entry closed by the end of the
data), or *pending* after it (level = k, window still open). A pending unit has not
dropped off, so it is in neither the next events nor a ``dropped`` list.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numba as nb
import numpy as np
import polars as pl

from journeyctl.columns import EVENT, TS, USER
from journeyctl.config.models import JourneyConfig
from journeyctl.errors import UsageError
from journeyctl.kernel import Levels
from journeyctl.result import AfterDropOff, NextEvent, rate

TOP_NEXT_EVENTS = 10
NEXT_EVENT = "next_event"
ListKind = Literal["reached", "dropped", "pending"]
KINDS: tuple[ListKind, ...] = ("reached", "dropped", "pending")


def drop_off_stage(journey: JourneyConfig, stage_id: str, *, where: str = "--after-drop-off") -> int:
    """The 1-based number of the stage ``stage_id`` names, which must have a next stage."""
    ids = [s.id for s in journey.stages]
    if stage_id not in ids[:-1]:
        why = "is the last stage: nobody drops off after it" if stage_id == ids[-1] else "is not a stage id"
        raise UsageError(
            f"{stage_id!r} {why}", where=where, hint=f"stages with a next stage: {', '.join(ids[:-1])}"
        )
    return ids.index(stage_id) + 1


def units_expr(kind: ListKind, stage: int, *, open_window: pl.Expr) -> pl.Expr:
    """True for the units of a funnel facts frame that a ``kind`` list of stage ``stage``
    (1-based) selects."""
    if kind == "reached":
        return pl.col("level") >= stage
    at_stage = pl.col("level") == stage
    return at_stage & open_window if kind == "pending" else at_stage & ~open_window


def next_event_column(events: pl.DataFrame, levels: Levels) -> pl.Series:
    """Per unit, the event that followed the last step of its reported path: the user's first
    event at a time strictly later than that step (rows sharing the step's timestamp are
    simultaneous with it, and which of them came first is unknown), the alphabetically first
    event name among several rows at that time. Null when the unit never entered or nothing
    followed. ``events`` is the prepared frame the kernel ran on (sorted by user and time)."""
    users = events[USER].to_numpy()  # dense codes, ascending
    user_end = np.cumsum(np.bincount(users))[users]  # per row: the first row after its user's rows
    rows = _next_rows(
        events[TS].dt.epoch("us").to_numpy().astype(np.int64, copy=False),
        user_end,
        events[EVENT].to_physical().to_numpy().astype(np.int64),  # its Enum is in name order
        levels.rows,
        levels.level,
    )
    picked = pl.Series(rows, dtype=pl.Int64)
    return events[EVENT].gather(picked.set(picked < 0, None)).alias(NEXT_EVENT)


@nb.njit(cache=True, nogil=True)
def _next_rows(ts, user_end, rank, rows, level):  # type: ignore[no-untyped-def]
    out = np.full(len(level), -1, dtype=np.int64)
    for u in range(len(level)):
        if level[u] == 0:
            continue
        last = rows[u, level[u] - 1]
        end = user_end[last]
        q = last + 1
        while q < end and ts[q] == ts[last]:
            q += 1
        best = -1
        while q < end and (best < 0 or ts[q] == ts[best]):
            if best < 0 or rank[q] < rank[best]:
                best = q
            q += 1
        out[u] = best
    return out


def after_drop_off(
    funnel: pl.DataFrame, journey: JourneyConfig, stage: int, *, open_window: pl.Expr
) -> AfterDropOff:
    """The next events of the units that dropped off after stage ``stage`` (1-based), counted
    from the ``next_event`` fact: the ``TOP_NEXT_EVENTS`` most frequent (ties by name), "no
    further events" when any, and the rest folded into "other"."""
    dropped = funnel.filter(units_expr("dropped", stage, open_window=open_window))
    pending = funnel.filter(units_expr("pending", stage, open_window=open_window)).height
    counts = (
        dropped.group_by(NEXT_EVENT)
        .len("units")
        .sort(["units", NEXT_EVENT], descending=[True, False], nulls_last=True)
    )
    named = counts.filter(pl.col(NEXT_EVENT).is_not_null())
    none = int(counts.filter(pl.col(NEXT_EVENT).is_null())["units"].sum())
    rest = int(named["units"][TOP_NEXT_EVENTS:].sum())
    lines = [
        NextEvent(kind="event", event=event, units=n, share=rate(n, dropped.height))
        for event, n in named.head(TOP_NEXT_EVENTS).iter_rows()
    ]
    if none:
        lines.append(NextEvent(kind="none", event=None, units=none, share=rate(none, dropped.height)))
    lines.sort(key=lambda line: -line.units)  # stable: names stay in order, "none" after a tie
    if rest:
        lines.append(NextEvent(kind="other", event=None, units=rest, share=rate(rest, dropped.height)))
    stages = journey.stages
    return AfterDropOff(
        stage=stages[stage - 1].id,
        next_stage=stages[stage].id,
        units=dropped.height,
        pending=pending,
        next_events=lines,
    )


@dataclass(frozen=True)
class ExportSpec:
    """``--export-users [KIND:]STAGE=FILE``: the users who ``kind`` (reached, dropped after,
    are pending after) the stage numbered ``stage`` (1-based), written to ``path``."""

    kind: ListKind
    stage_id: str
    stage: int
    path: Path


EXPORT_HINT = (
    "write [reached|dropped|pending:]STAGE=FILE, e.g. --export-users reached:purchase=buyers.csv "
    "or --export-users dropped:consideration=lost.csv"
)


def export_target(text: str) -> Path:
    """The FILE of ``[KIND:]STAGE=FILE`` (the text after the first ``=``)."""
    return Path(text.partition("=")[2].strip())


def parse_export(text: str, journey: JourneyConfig) -> ExportSpec:
    """The list ``text`` asks for; ``KIND:`` defaults to ``reached``."""
    where = f"--export-users {text!r}"
    target, eq, path = text.partition("=")
    kind, colon, stage_id = target.strip().rpartition(":")
    kind = kind.strip() if colon else "reached"
    if not eq or not path.strip() or not stage_id.strip():
        raise UsageError("expected STAGE=FILE", where=where, hint=EXPORT_HINT)
    if kind not in KINDS:
        raise UsageError(
            f"unknown list {kind!r}: expected reached, dropped or pending", where=where, hint=EXPORT_HINT
        )
    ids = [s.id for s in journey.stages]
    stage_id = stage_id.strip()
    if kind == "reached":
        if stage_id not in ids:
            raise UsageError(
                f"{stage_id!r} is not a stage id", where=where, hint=f"stage ids: {', '.join(ids)}"
            )
        stage = ids.index(stage_id) + 1
    else:
        stage = drop_off_stage(journey, stage_id, where=where)
    return ExportSpec(kind=kind, stage_id=stage_id, stage=stage, path=export_target(text))


def user_ids(funnel: pl.DataFrame, spec: ExportSpec, *, open_window: pl.Expr) -> list[str]:
    """The distinct user ids owning a unit the list selects, sorted (by code point)."""
    selected = funnel.filter(units_expr(spec.kind, spec.stage, open_window=open_window))
    return selected[USER].unique().sort().to_list()
