"""Bad rows, duplicate events and implausible timestamps: the policy and the counts.

A row is *bad* when it has no user, no event, or a timestamp that does not parse. The
policy decides what happens to bad rows: ``fail`` (the default) stops with the first ones
quoted, ``skip`` drops and counts them, ``quarantine=FILE`` also writes them to a CSV with
the reason per row. Nothing is dropped silently: every count lands in ``DataQuality``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from journeyctl.columns import EVENT, LINE, SOURCE, TS, USER
from journeyctl.errors import InputError, UsageError
from journeyctl.load import RAW_TS, bad_rows_expr, describe_bad_rows, reason_expr
from journeyctl.output import write_output
from journeyctl.render.csv import cell
from journeyctl.result import DataQuality, Frozen

PLAUSIBLE_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # earlier: a unit or parsing mistake


class BadRowPolicy(Frozen):
    action: Literal["fail", "skip", "quarantine"] = "fail"
    quarantine: Path | None = None

    def __str__(self) -> str:
        return f"quarantine={self.quarantine}" if self.quarantine else self.action


def parse_bad_rows(bad_rows: BadRowPolicy | str) -> BadRowPolicy:
    """``fail``, ``skip`` or ``quarantine=FILE`` → a policy (a policy is returned as it is);
    ``UsageError`` otherwise. The one place the text of ``--bad-rows`` is read."""
    if isinstance(bad_rows, BadRowPolicy):
        return bad_rows
    action, _, target = bad_rows.partition("=")
    if action == "quarantine" and target:
        return BadRowPolicy(action="quarantine", quarantine=Path(target))
    if action in ("fail", "skip") and not target:
        return BadRowPolicy(action=action)
    raise UsageError(
        f"--bad-rows {bad_rows!r} is not a policy",
        hint="use fail, skip or quarantine=FILE (e.g. quarantine=bad_rows.csv)",
    )


def apply_quality(
    frame: pl.DataFrame,
    files: Sequence[Path],
    *,
    policy: BadRowPolicy,
    dedupe: bool,
    now: datetime | None = None,
) -> tuple[pl.DataFrame, DataQuality]:
    """The analysable rows of ``frame`` (still with ``_source``/``_line``/``_raw_ts``) and the
    counts: bad rows handled by ``policy``, identical duplicate events (dropped if ``dedupe``),
    and events after ``now`` or before 2000-01-01 UTC (kept, only counted)."""
    bad_mask = bad_row_mask(frame)
    handle_bad_rows(frame.filter(bad_mask), files, policy=policy)
    return split_quality(frame, bad_mask, policy=policy, dedupe=dedupe, now=now)


def bad_row_mask(frame: pl.DataFrame) -> pl.Series:
    """True for the rows of ``frame`` that cannot be analysed (``load.bad_rows_expr``)."""
    return frame.select(bad_rows_expr()).to_series()


def split_quality(
    frame: pl.DataFrame,
    bad_mask: pl.Series,
    *,
    policy: BadRowPolicy,
    dedupe: bool,
    now: datetime | None = None,
) -> tuple[pl.DataFrame, DataQuality]:
    """The good rows of ``frame`` (``bad_mask`` its bad rows) and its counts, leaving the bad
    rows to ``handle_bad_rows``. Duplicates share their user, so the counts of user
    partitions add up (``add_quality``)."""
    bad_count = int(bad_mask.sum())
    good = frame.filter(~bad_mask) if bad_count else frame
    repeated = repeated_rows(good.select(c for c in good.columns if c not in (SOURCE, LINE, RAW_TS)))
    duplicates = int(repeated.sum())
    if dedupe and duplicates:
        good = good.filter(~repeated)
    moment = now or datetime.now(UTC)
    quality = DataQuality(
        rows_read=frame.height,
        bad_rows=bad_count,
        bad_rows_policy=str(policy),
        duplicate_events=duplicates,
        duplicates_dropped=duplicates if dedupe else 0,
        events_in_future=int((good[TS] > moment).sum()),
        events_before_plausible_epoch=int((good[TS] < PLAUSIBLE_EPOCH).sum()),
    )
    return good, quality


def handle_bad_rows(bad: pl.DataFrame, files: Sequence[Path], *, policy: BadRowPolicy) -> None:
    """Apply ``policy`` to the bad rows (in file and line order): ``fail`` raises quoting the
    first ones, ``quarantine`` writes them all to its file, ``skip`` does nothing."""
    if bad.height and policy.action == "fail":
        raise describe_bad_rows(bad, files, bad.height)
    if bad.height and policy.quarantine is not None:
        write_output(_quarantine_csv(bad, files), policy.quarantine, inputs=files)


def add_quality(parts: Sequence[DataQuality]) -> DataQuality:
    """The counts of disjoint parts of the rows, as if counted at once."""
    counts = [p.model_dump(exclude={"bad_rows_policy"}) for p in parts]
    summed = {key: sum(c[key] for c in counts) for key in counts[0]}
    return DataQuality(bad_rows_policy=parts[0].bad_rows_policy, **summed)


def repeated_rows(events: pl.DataFrame) -> pl.Series:
    """True for each row identical in every column to an earlier row (nulls equal nulls).

    Only rows sharing a hash of their user, time and event with another row can be repeats
    (equal rows hash equally), so the exact comparison of every column runs on those few
    candidates instead of on every row; hashing three columns instead of all costs a third.
    Shared hashes are found by sorting them, which is cheaper than a hash table of every row.
    """
    keys = [c for c in (USER, TS, EVENT) if c in events.columns] or events.columns
    hashes = events.select(pl.struct(keys).hash()).to_series()
    ordered = np.sort(hashes.to_numpy())
    shared = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    repeated = np.zeros(events.height, dtype=np.bool_)
    if len(shared):
        index = hashes.is_in(pl.Series(shared)).arg_true()
        exact = events[index].select(~pl.struct(pl.all()).is_first_distinct()).to_series()
        repeated[index.filter(exact).to_numpy()] = True
    return pl.Series("repeated", repeated)


def _quarantine_csv(bad: pl.DataFrame, files: Sequence[Path]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["file", "line", "reason", USER, "timestamp", EVENT])
    rows = bad.select(SOURCE, LINE, reason_expr().alias("reason"), USER, RAW_TS, EVENT)
    for source, line, reason, user, raw_ts, event in rows.iter_rows():
        writer.writerow([cell(v) for v in (str(files[source]), line, reason, user, raw_ts, event)])
    return out.getvalue()


def refuse_empty_files(frame: pl.DataFrame, files: Sequence[Path]) -> None:
    """``InputError`` naming the first file that has a header but no event rows."""
    present = set(frame[SOURCE].unique().to_list())
    for index, path in enumerate(files):
        if index not in present:
            raise InputError(
                "the file has a header but no event rows",
                where=str(path),
                hint="export the events again, or leave this file out",
            )
