"""Bounded memory: the events are split by a hash of the user into buckets, the buckets
analysed two at a time, and the per-user facts of the buckets combined.

The per-user kernel sees all events of a set of users and nothing else, so the facts of
the buckets are exactly the facts of all users. One pass over the files writes the
canonical events to temporary Parquet files, one directory per bucket
(``split_into_buckets``); each bucket is then read, checked (bad rows, duplicates — a
duplicate shares its user, so it lands in the same bucket) and analysed (``Split.facts``).
The working memory is that of two buckets (of a few batches while splitting). What the
exact metrics need of each bucket, about 100 bytes per user (the funnel path, for exact
medians) and 9 per session (``kept_facts``), is written beside the buckets and read back
once all are done, to be summarised in memory (``spill_facts``, ``gather_facts``).
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from journeyctl.columns import LINE, SOURCE, TS, USER
from journeyctl.config.models import JourneyConfig
from journeyctl.errors import InputError, UsageError
from journeyctl.facts import Facts, concat_facts
from journeyctl.load import RAW_TS, bad_rows_expr, file_kind, load_journey_events, repair_timestamps
from journeyctl.progress import Progress
from journeyctl.quality import (
    BadRowPolicy,
    add_quality,
    bad_row_mask,
    handle_bad_rows,
    refuse_empty_files,
    split_quality,
)
from journeyctl.result import DataQuality

BUCKET = "_bucket"
# peak resident bytes per event of the in-memory analysis: 250–360 above the interpreter's
# own ~300 MB on the bench/ exports (10M and 1M events); 600 leaves room for wider exports
# (100M at 3 GiB: 44 buckets by this, 52 by MAX_BUCKET_EVENTS, two at a time, peak 2,438 MiB)
BYTES_PER_EVENT = 600
BASE_BYTES = 400 * 2**20
# the per-user and per-session facts summarised once the buckets are done (funnel paths for
# exact medians, sessions for the bounce breakdowns): about 13 bytes per event on bench/ exports
KEPT_BYTES_PER_EVENT = 20
# the summary's own working memory beside the kept facts of all users (medians, breakdowns)
SUMMARY_BYTES = 64 * 2**20
# once the events are split, a bucket holds about this many at most (by the estimated count),
# however much room there is: larger buckets cost more per event (the analysis of 5M events
# took 2.6× the time per event of 2.5M, its arrays mapped fresh for each bucket), and 100M
# events at the default limit (11 GiB) took 97.7 s in 11 buckets, 74.2 s in 50
MAX_BUCKET_EVENTS = 2_000_000
# buckets analysed at once: one bucket's analysis keeps about 1.3 of 2 cores busy, two
# fill them (each bucket gets half the room)
WORKERS = 2
# events parsed per batch of the split, at most 1,200 bytes a row of the limit: Polars parses
# up to about three batches ahead of the one written, which partitioning copies, so about six
# are in flight at ~200 bytes a row on the bench/ exports; 2M measured fastest (1M: 5% slower)
MIN_BATCH_ROWS, MAX_BATCH_ROWS = 50_000, 2_000_000
CSV_BYTES_PER_EVENT = 80  # a typical export line; only used to estimate the event count
PARQUET_BYTES_PER_EVENT = 15
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "kib": 2**10, "m": 10**6, "mb": 10**6, "mib": 2**20}
_UNITS |= {"g": 10**9, "gb": 10**9, "gib": 2**30, "t": 10**12, "tb": 10**12, "tib": 2**40}

FactsOf = Callable[[pl.DataFrame], Sequence[Facts]]


@dataclass(frozen=True)
class Spilled:
    """One analysis's kept facts of one bucket, written to ``folder`` (``spill_facts``):
    ``facts`` keeps the counts, its tables are empty; ``size`` is the tables' memory."""

    facts: Facts
    folder: Path
    size: int


@dataclass(frozen=True)
class Bucket:
    """What one bucket contributes: its files (``_source``), its bad rows, and the kept facts
    (one per analysis, on disk) and counts of its good rows (none when it had none, or once
    ``--bad-rows fail`` failed)."""

    sources: list[int]
    events: int  # rows read, bad ones included
    bad: pl.DataFrame
    facts: Sequence[Spilled] = ()
    quality: DataQuality | None = None


def parse_memory(text: str) -> int:
    """``"3GiB"``, ``"500MB"``, ``"2g"`` → bytes; ``UsageError`` for anything else."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise UsageError(
            f"--memory-limit {text!r} is not an amount of memory",
            hint="use a number with a unit, e.g. 3GiB, 500MB or 8G",
        )
    limit = int(float(match.group(1)) * _UNITS[unit])
    if limit < BASE_BYTES + 64 * 2**20:
        raise UsageError(
            f"--memory-limit {text} is too small to analyse anything",
            hint=f"give at least {(BASE_BYTES >> 20) + 64} MiB",
        )
    return limit


def memory_bytes(limit: int | str | None) -> int:
    """A memory limit in bytes: text as ``parse_memory`` reads it, None the default."""
    parsed = parse_memory(limit) if isinstance(limit, str) else limit
    return parsed or default_memory_limit()


def default_memory_limit() -> int:
    """Half of the memory available now (of all memory where that is unknown)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 // 2
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):
        return 4 * 2**30


def estimated_events(files: Sequence[Path]) -> int:
    """About how many events ``files`` hold: Parquet's row counts, other sizes on disk divided
    by a typical line (compressed files count four times their size)."""
    total = 0
    for path in files:
        if str(path) == "-":
            continue
        kind = file_kind(path)
        if kind == "parquet":  # an empty file holds none, and reading it says so
            total += pl.scan_parquet(path).select(pl.len()).collect().item() if path.stat().st_size else 0
            continue
        size = path.stat().st_size * (4 if path.suffix.lower() in (".gz", ".zst") else 1)
        total += size // CSV_BYTES_PER_EVENT
    return total


def bucket_count(files: Sequence[Path], memory_limit: int) -> int:
    """How many buckets keep the analysis within ``memory_limit``: the working memory of the
    ``WORKERS`` buckets analysed at once, and at most ``MAX_BUCKET_EVENTS`` events a bucket;
    1 means the events fit in memory at once.
    ``UsageError`` when the facts summarised at the end would not fit."""
    events = estimated_events(files)
    room = memory_limit - BASE_BYTES
    if events * BYTES_PER_EVENT <= room:
        return 1
    if room - events * KEPT_BYTES_PER_EVENT < SUMMARY_BYTES:
        need = BASE_BYTES + events * KEPT_BYTES_PER_EVENT + SUMMARY_BYTES
        raise UsageError(
            f"--memory-limit {memory_limit / 2**30:.1f} GiB is too small for about {events:,} events",
            hint=f"give at least {-(-need // 2**30)}GiB (the exact medians keep about "
            f"{KEPT_BYTES_PER_EVENT} bytes per event in memory)",
        )
    return max(-(-events * BYTES_PER_EVENT * WORKERS // room), -(-events // MAX_BUCKET_EVENTS))


@contextmanager
def split_into_buckets(
    files: Sequence[Path], journey: JourneyConfig, *, buckets: int, memory_limit: int, progress: Progress
) -> Iterator[Split]:
    """The events of ``files`` split into ``buckets`` by user in a temporary folder, removed
    on leaving the context."""
    with tempfile.TemporaryDirectory(prefix="journeyctl-buckets-") as tmp:
        root = Path(tmp)
        progress.stage(f"splitting {len(files)} file{'s' * (len(files) != 1)} into {buckets} buckets")
        events = split_by_user(
            files, journey, root, buckets=buckets, memory_limit=memory_limit, progress=progress
        )
        yield Split(files, journey, root, buckets=buckets, events=events, memory_limit=memory_limit)


@dataclass(frozen=True)
class Split:
    """Events split into user buckets under ``root`` (``split_into_buckets``)."""

    files: Sequence[Path]
    journey: JourneyConfig
    root: Path
    buckets: int
    events: int
    memory_limit: int

    def span(self, *, before: datetime | None = None) -> tuple[datetime | None, datetime | None]:
        """The first and last timestamp of the events (of those before ``before``); bad rows
        have none."""
        ends: list[tuple[datetime | None, datetime | None]] = []
        for bucket in range(self.buckets):
            times = read_bucket(self.root, bucket, self.journey, columns=[TS, RAW_TS])
            if times.height:
                times = times.filter(pl.col(TS) < before) if before is not None else times
                ends.append((times[TS].min(), times[TS].max()))  # type: ignore[arg-type]
        firsts = [first for first, _ in ends if first is not None]
        lasts = [last for _, last in ends if last is not None]
        return (min(firsts) if firsts else None, max(lasts) if lasts else None)

    def facts(
        self, *, policy: BadRowPolicy, dedupe: bool, facts_of: FactsOf, progress: Progress
    ) -> tuple[list[Facts], DataQuality]:
        """The facts of all users and the data-quality counts, computed bucket by bucket:
        exactly what the in-memory path gives. ``facts_of`` turns one bucket's checked events
        into a list of facts (one per analysis, or none for a bucket without any), and the
        buckets' facts are combined analysis by analysis. Bad rows are handled once all
        buckets are read, in file and line order."""
        progress.stage("analysing buckets", total=self.buckets)
        now = datetime.now(UTC)  # one moment for every bucket's "events in the future"
        failing = threading.Event()  # with --bad-rows fail, once a bad row is seen only bad rows matter
        with temporary_files():
            spill_root = Path(tempfile.mkdtemp(prefix="facts-", dir=self.root))  # one per call

        def analyse(bucket: int) -> Bucket:
            frame = read_bucket(self.root, bucket, self.journey)
            if frame.is_empty():
                return Bucket(sources=[], events=0, bad=frame)
            bad_mask = bad_row_mask(frame)
            bad = frame.filter(bad_mask)
            if policy.action == "fail" and bad.height:
                failing.set()
            sources = frame[SOURCE].unique().to_list()
            if failing.is_set():
                return Bucket(sources=sources, events=frame.height, bad=bad)
            good, quality = split_quality(frame, bad_mask, policy=policy, dedupe=dedupe, now=now)
            checked = good.drop(RAW_TS, SOURCE, LINE)
            facts = [] if good.is_empty() else [kept_facts(f) for f in facts_of(checked)]
            spilled = [spill_facts(f, spill_root / f"{bucket}-{i}") for i, f in enumerate(facts)]
            return Bucket(sources=sources, events=frame.height, bad=bad, facts=spilled, quality=quality)

        failed = threading.Event()

        def guarded(bucket: int) -> Bucket | None:
            if failed.is_set():
                return None  # an earlier error is on its way to the caller
            try:
                return analyse(bucket)
            except BaseException:
                failed.set()  # no further bucket starts
                raise

        done: list[Bucket] = []
        with ThreadPoolExecutor(WORKERS, thread_name_prefix="journeyctl-bucket") as pool:
            try:
                for outcome in pool.map(guarded, range(self.buckets)):  # in bucket order
                    if outcome is not None:
                        done.append(outcome)
                    progress.advance(1)
                    if len(done) == WORKERS:  # a random sample of the users, ~1/buckets each
                        refuse_outgrown_facts(done, events=self.events, memory_limit=self.memory_limit)
            except BaseException:
                failed.set()
                raise
        sources = {source for outcome in done for source in outcome.sources}
        bad = [outcome.bad for outcome in done if outcome.bad.height]
        counts = [outcome.quality for outcome in done if outcome.quality is not None]
        kept = [outcome for outcome in done if outcome.facts]
        refuse_empty_files(pl.DataFrame({SOURCE: sorted(sources)}, schema={SOURCE: pl.UInt32}), self.files)
        if bad:
            handle_bad_rows(pl.concat(bad).sort(SOURCE, LINE), self.files, policy=policy)
        quality = add_quality(counts) if counts else DataQuality(bad_rows_policy=str(policy))
        if quality.rows_read == quality.bad_rows:
            raise InputError(
                "no analysable event rows remain",
                hint=f"all {quality.bad_rows:,} rows were bad; see --bad-rows",
            )
        analyses = zip(*(outcome.facts for outcome in kept), strict=True)  # by analysis, buckets in order
        return [gather_facts(list(parts)) for parts in analyses], quality


def refuse_outgrown_facts(done: Sequence[Bucket], *, events: int, memory_limit: int) -> None:
    """``UsageError`` when the facts the first buckets keep, projected to all ``events``, would
    not fit in ``memory_limit`` for the summary: ``bucket_count`` checked
    ``KEPT_BYTES_PER_EVENT``, and users with few events each keep more per event than that."""
    seen = sum(outcome.events for outcome in done)
    kept = sum(spilled.size for outcome in done for spilled in outcome.facts)
    projected = kept * events // max(seen, 1)
    need = BASE_BYTES + projected + SUMMARY_BYTES
    if need <= memory_limit:
        return
    raise UsageError(
        f"--memory-limit {memory_limit / 2**30:.1f} GiB is too small for these users: the facts kept "
        f"for the exact medians would take about {projected / 2**20:,.1f} MiB "
        f"({kept / max(seen, 1):.0f} bytes per event; users with few events each keep the most)",
        hint=f"give at least {-(-need // 2**30)}GiB",
    )


def kept_facts(facts: Facts) -> Facts:
    """A bucket's facts as kept until aggregation, in a fifth of the memory for sessions:
    only what aggregation reads of them (landing channel and stage, categories already, and
    whether the session bounced; periods were applied already)."""
    sessions = facts.sessions.select("landing_channel", "landing_stage", "bounced")
    return replace(facts, sessions=sessions)


def spill_facts(facts: Facts, folder: Path) -> Spilled:
    """``facts`` with its tables written to ``folder`` (Arrow IPC, every type as it is): the
    facts of the buckets done wait on disk, so the buckets analysed have the whole limit,
    however many are done (and near the limit's capacity the number of buckets does not
    soar)."""
    tables = fact_tables(facts)
    with temporary_files():
        folder.mkdir(parents=True)
        for name, table in tables.items():
            table.write_ipc(folder / f"{name}.arrow", compression="lz4")
    size = sum(int(table.estimated_size()) for table in tables.values())
    return Spilled(with_tables(facts, {name: table.clear() for name, table in tables.items()}), folder, size)


def gather_facts(parts: list[Spilled]) -> Facts:
    """The facts of the buckets ``spill_facts`` wrote, combined as ``concat_facts`` combines
    them in memory."""
    with temporary_files():
        tables = {
            name: pl.scan_ipc([part.folder / f"{name}.arrow" for part in parts], glob=False).collect()
            for name in fact_tables(parts[0].facts)
        }
    return with_tables(concat_facts([part.facts for part in parts]), tables)


def fact_tables(facts: Facts) -> dict[str, pl.DataFrame]:
    return {
        "funnel": facts.funnel,
        "sessions": facts.sessions,
        "baskets": facts.baskets,
        "buyers": facts.buyers,
    }


def with_tables(facts: Facts, tables: dict[str, pl.DataFrame]) -> Facts:
    return replace(
        facts,
        funnel=tables["funnel"],
        sessions=tables["sessions"],
        baskets=tables["baskets"],
        buyers=tables["buyers"],
    )


def split_by_user(
    files: Sequence[Path],
    journey: JourneyConfig,
    root: Path,
    *,
    buckets: int,
    memory_limit: int,
    progress: Progress,
) -> int:
    """Write the canonical events of ``files`` to ``root/_bucket=K/`` Parquet files, K the
    user's hash modulo ``buckets``, and return how many there were. The events are parsed
    in batches (in file order) and a writer thread splits each batch and writes its part of
    every bucket while the next batch is parsed. Only bad rows keep their raw timestamp text
    and line number (nothing else reads them): the files are a third smaller.

    Polars' own partitioned sink does the same in one call, but at 100M events into 84
    buckets it took 88 s against 36 s for the analysis of the buckets, and more per event
    the more buckets it wrote."""
    bad = bad_rows_expr()
    events = load_journey_events(files, journey).with_columns(
        pl.when(bad).then(pl.col(RAW_TS)).alias(RAW_TS),
        pl.when(bad).then(pl.col(LINE)).alias(LINE),
        (pl.col(USER).hash() % buckets).alias(BUCKET),
    )
    rows = max(MIN_BATCH_ROWS, min(MAX_BATCH_ROWS, (memory_limit - BASE_BYTES) // (2 * BYTES_PER_EVENT)))
    count = 0
    with ThreadPoolExecutor(1, thread_name_prefix="journeyctl-split") as writer:
        written: Future[None] | None = None
        for index, batch in enumerate(events.collect_batches(chunk_size=rows)):
            if written is not None:
                written.result()  # at most one batch waits for the writer: memory stays bounded
            written = writer.submit(write_batch, batch, root, index)
            count += batch.height
            progress.advance(0, events=batch.height)
        if written is not None:
            written.result()
    return count


def write_batch(batch: pl.DataFrame, root: Path, index: int) -> None:
    """Each bucket's rows of one batch to ``root/_bucket=K/<index>.parquet``, in one Polars
    query (a query per file cost about 0.5 ms more per file)."""
    with temporary_files():
        sinks = []
        for (bucket,), part in batch.partition_by(BUCKET, as_dict=True, include_key=False).items():
            folder = root / f"{BUCKET}={bucket}"
            folder.mkdir(exist_ok=True)
            path = folder / f"{index:09d}.parquet"
            sinks.append(part.lazy().sink_parquet(path, compression="lz4", statistics=False, lazy=True))
        pl.collect_all(sinks, engine="streaming")


@contextmanager
def temporary_files() -> Iterator[None]:
    """A failure to write or read the temporary files (a full disk, mostly) as one
    ``InputError`` naming the temporary folder they are in."""
    try:
        yield
    except (OSError, pl.exceptions.PolarsError) as err:
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(
            f"cannot write or read the temporary bucket files: {detail}",
            where=tempfile.gettempdir(),
            hint="free some space there, or set TMPDIR to a folder on a disk with room "
            "(the temporary files take about a third of the CSV's size)",
        ) from None


def read_bucket(
    root: Path, bucket: int, journey: JourneyConfig, *, columns: list[str] | None = None
) -> pl.DataFrame:
    """One bucket's events (empty when no user hashed there), or their ``columns`` (with
    the raw timestamp text), timestamps repaired as the in-memory path does."""
    folder = root / f"{BUCKET}={bucket}"
    if not folder.is_dir():
        return pl.DataFrame()
    with temporary_files():
        frame = pl.read_parquet(sorted(folder.iterdir()), columns=columns)  # batch order is file order
    if journey.time_format == "auto":
        frame = repair_timestamps(frame, timezone=journey.timezone)
    return frame
