"""The bounded-memory path: users in hash buckets give exactly the in-memory result (issue 7)."""

from __future__ import annotations

import io
import json
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from rich.console import Console
from typer.testing import CliRunner

from journeyctl import analyze, buckets, check, report
from journeyctl.buckets import (
    BASE_BYTES,
    Bucket,
    Spilled,
    bucket_count,
    parse_memory,
    read_bucket,
    split_by_user,
)
from journeyctl.cli import app
from journeyctl.columns import LINE, USER
from journeyctl.config.loading import load_config
from journeyctl.config.models import JourneyConfig
from journeyctl.errors import InputError, UsageError
from journeyctl.facts import Facts
from journeyctl.load import RAW_TS, bad_rows_expr, load_journey_events
from journeyctl.progress import Progress, RichDisplay
from tests import reference
from tests.events import START

ROOT = Path(__file__).parent.parent
STORE = ROOT / "sample_data" / "store_events.csv"
ECOMMERCE = load_config(ROOT / "configs" / "ecommerce.yaml")
DATA = Path(__file__).parent / "data"
HOSTILE = DATA / "hostile"
TINY_YAML = DATA / "tiny_store.yaml"
LIMIT = 2**30


@pytest.fixture
def small_buckets(monkeypatch: pytest.MonkeyPatch) -> int:
    """Make ``LIMIT`` hold the working memory of about 2,000 events: two buckets of about
    1,000 at once (the store sample spans ~38 buckets), split in batches of 10,000 events."""
    monkeypatch.setattr("journeyctl.buckets.BYTES_PER_EVENT", (LIMIT - BASE_BYTES) // 2_000)
    monkeypatch.setattr("journeyctl.buckets.MIN_BATCH_ROWS", 10_000)
    return bucket_count([STORE], LIMIT)


def test_the_split_writes_each_bucket_in_file_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("journeyctl.buckets.MAX_BATCH_ROWS", 5_000)  # 38,037 events: 8 batches
    monkeypatch.setattr("journeyctl.buckets.MIN_BATCH_ROWS", 1)
    split_by_user([STORE], ECOMMERCE, tmp_path, buckets=7, memory_limit=LIMIT, progress=Progress())
    assert len(list((tmp_path / "_bucket=0").iterdir())) == 8
    events = load_journey_events([STORE], ECOMMERCE).collect()
    assert events.filter(bad_rows_expr()).is_empty()  # so no row keeps its text timestamp or line
    for bucket in range(7):
        expected = events.filter(pl.col(USER).hash() % 7 == bucket)
        written = read_bucket(tmp_path, bucket, ECOMMERCE)
        assert written.drop(RAW_TS, LINE).equals(expected.drop(RAW_TS, LINE))
        assert written[RAW_TS].null_count() == written[LINE].null_count() == written.height > 0


def test_the_store_sample_spans_many_buckets(small_buckets: int) -> None:
    # 38,037 events at 80 bytes a line estimated: 3.0 MB / 80 B ≈ 38k events / 2,000 ≈ 19
    assert small_buckets >= 10
    assert bucket_count([STORE], 64 * 2**30) == 1


@pytest.mark.usefixtures("small_buckets")
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"by": ["channel"], "after_drop_off": "consideration", "dedupe": True},
        {"where": ["channel in (email, social)"], "since": "2026-10-05", "until": "2026-10-20"},
    ],
)
def test_buckets_give_exactly_the_in_memory_result(options: dict[str, object]) -> None:
    in_memory = analyze([STORE], ECOMMERCE, memory_limit=64 * 2**30, **options)  # type: ignore[arg-type]
    bucketed = analyze([STORE], ECOMMERCE, memory_limit=LIMIT, **options)  # type: ignore[arg-type]
    assert bucketed == in_memory.model_copy(update={"data_quality": bucketed.data_quality})
    # events in the future are counted against "now", taken once per run
    assert bucketed.data_quality.model_dump(
        exclude={"events_in_future"}
    ) == in_memory.data_quality.model_dump(exclude={"events_in_future"})


def test_buckets_agree_with_the_definition(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # 300 users with 10 events each (the reference is exponential per user), ~200 per bucket
    monkeypatch.setattr("journeyctl.buckets.BYTES_PER_EVENT", (LIMIT - BASE_BYTES) // 200)
    order = pl.Series(range(3_000)).sample(3_000, shuffle=True, seed=3).to_list()
    names = ["landing_view", "product_view", "add_to_cart", "purchase", "review_submitted", "page_view"]
    rows = [
        (f"u{i % 300}", START + timedelta(minutes=order[i] % 97 * 7), names[order[i] % len(names)])
        for i in range(3_000)
    ]
    frame = pl.DataFrame(rows, schema=["user_id", "ts", "event"], orient="row")
    source = tmp_path / "events.csv"
    frame.with_columns(pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%SZ")).rename(
        {"ts": "timestamp"}
    ).with_columns(*(pl.lit(None, pl.String).alias(c) for c in ECOMMERCE.property_columns)).write_csv(source)
    assert bucket_count([source], LIMIT) >= 5
    result = analyze([source], ECOMMERCE, memory_limit=LIMIT)
    expected = reference.users_per_stage(frame.rows(named=True), ECOMMERCE)
    assert [s.users for s in result.stages] == expected
    assert result.bounce_rate == pytest.approx(reference.bounce_rate(frame.rows(named=True), ECOMMERCE))


@pytest.mark.usefixtures("small_buckets")
@pytest.mark.parametrize(
    "options",
    [
        {"period": "week"},
        {"period": "day", "compare": "7", "periods": 10, "as_of": date(2026, 10, 25)},
    ],
)
def test_reports_through_buckets_are_exactly_the_in_memory_reports(options: dict[str, object]) -> None:
    in_memory = report([STORE], ECOMMERCE, memory_limit=64 * 2**30, **options)  # type: ignore[arg-type]
    assert report([STORE], ECOMMERCE, memory_limit=LIMIT, **options) == in_memory  # type: ignore[arg-type]


@pytest.mark.usefixtures("small_buckets")
def test_a_report_date_before_the_data_reads_the_same_through_buckets() -> None:
    messages = []
    for limit in (64 * 2**30, LIMIT):
        with pytest.raises(InputError) as err:
            report([STORE], ECOMMERCE, as_of=date(2026, 1, 1), memory_limit=limit)
        messages.append(str(err.value))
    assert messages[0] == messages[1] and messages[0].startswith("no events before the report date")


def test_bad_rows_are_reported_in_file_order_across_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("journeyctl.buckets.BYTES_PER_EVENT", LIMIT)  # one event per bucket
    monkeypatch.setattr("journeyctl.buckets.MIN_BATCH_ROWS", 1)  # and per batch
    source = HOSTILE / "bad_rows.csv"
    with pytest.raises(InputError) as err:
        analyze([source], load_config(TINY_YAML), memory_limit=LIMIT)
    assert str(err.value).startswith(
        f"{source}:3: no user id\n  {source}:4: timestamp 'yesterday' does not parse\n"
        f"  {source}:5: no event name\n  (3 bad rows in all)"
    )
    with pytest.raises(InputError) as reported:  # before the report finds no period complete
        report([source], load_config(TINY_YAML), memory_limit=LIMIT)
    assert str(reported.value) == str(err.value)
    skipped = analyze([source], load_config(TINY_YAML), memory_limit=LIMIT, bad_rows="skip")
    assert (skipped.data_quality.rows_read, skipped.data_quality.bad_rows) == (4, 3)
    assert [s.users for s in skipped.stages] == [1, 0, 0, 0]


def test_timestamps_in_other_layouts_and_quarantined_rows_match_the_in_memory_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # 300 rows in the layout detected on the first rows, then rows it misses (offsets, a
    # space, epoch seconds, naive local time) that are parsed again from their kept text,
    # and bad rows among them, quarantined with their file, line and text
    monkeypatch.setattr("journeyctl.buckets.BYTES_PER_EVENT", (LIMIT - BASE_BYTES) // 20)
    lines = [f"u{i % 40},2026-01-01T10:{i % 60:02d}:00Z,landing_view,email" for i in range(300)]
    lines += [
        "u1,2026-01-02T09:00:00+02:00,product_view,email",
        "u2,2026-01-02 09:00:00,product_view,ad",
        "u3,1767348000,product_view,ad",
        ",2026-01-02T10:00:00Z,product_view,ad",
        "u4,next tuesday,product_view,ad",
        "u5,2026-01-02T11:00:00,,ad",
        "u6,2026-01-02T11:00:00.250+01:00,add_to_cart,ad",
    ]
    source = tmp_path / "mixed.csv"
    source.write_text("user_id,timestamp,event,channel\n" + "\n".join(lines) + "\n")
    results = {}
    for limit in (64 * 2**30, LIMIT):
        quarantine = tmp_path / f"bad-{limit}.csv"
        result = analyze(
            [source], load_config(TINY_YAML), memory_limit=limit, bad_rows=f"quarantine={quarantine}"
        )
        results[limit] = (result, quarantine.read_bytes())
    assert bucket_count([source], LIMIT) >= 10
    (in_memory, kept), (bucketed, kept_by_bucket) = results.values()
    assert (bucketed.events, bucketed.data_quality.bad_rows) == (in_memory.events, 3) == (304, 3)
    assert bucketed == in_memory.model_copy(update={"data_quality": bucketed.data_quality})
    assert kept_by_bucket == kept and kept.count(b"\n") == 4


@pytest.mark.parametrize(
    ("owner", "writer"), [(pl, "collect_all"), (pl.DataFrame, "write_ipc"), (pl, "scan_ipc")]
)
def test_a_full_disk_while_splitting_or_keeping_facts_is_one_clear_error(
    small_buckets: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, owner: object, writer: str
) -> None:
    del small_buckets

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(owner, writer, full)  # the bucket files; the facts of a bucket done, or their reading
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(InputError) as err:
        analyze([STORE], ECOMMERCE, memory_limit=LIMIT)
    detail = "[Errno 28] No space left on device"
    assert err.value.message == f"cannot write or read the temporary bucket files: {detail}"
    assert (err.value.where, list(tmp_path.iterdir())) == (str(tmp_path), [])  # and nothing left behind


def test_an_error_in_one_bucket_stops_the_buckets_not_yet_started(
    small_buckets: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    del small_buckets
    started: list[int] = []
    read = buckets.read_bucket

    def failing_second(root: Path, bucket: int, journey: JourneyConfig) -> pl.DataFrame:
        started.append(bucket)
        if bucket == 0:
            time.sleep(0.3)  # the other worker fails meanwhile
        if bucket == 1:
            raise InputError("bucket 1 cannot be read")
        return read(root, bucket, journey)

    monkeypatch.setattr(buckets, "read_bucket", failing_second)
    with pytest.raises(InputError, match="bucket 1 cannot be read"):
        analyze([STORE], ECOMMERCE, memory_limit=LIMIT)
    assert sorted(started) == [0, 1]


def test_kept_facts_that_outgrow_the_limit_are_refused_after_the_first_buckets(
    small_buckets: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the plan expects nothing of the kept facts, and the limit leaves 100 kB for them in the
    # summary: the store sample's users keep about 12 bytes an event, 450 kB in all
    del small_buckets
    monkeypatch.setattr("journeyctl.buckets.KEPT_BYTES_PER_EVENT", 0)
    monkeypatch.setattr("journeyctl.buckets.SUMMARY_BYTES", LIMIT - BASE_BYTES - 100_000)
    started: list[int] = []
    read = buckets.read_bucket

    def counted(root: Path, bucket: int, journey: JourneyConfig) -> pl.DataFrame:
        started.append(bucket)
        return read(root, bucket, journey)

    monkeypatch.setattr(buckets, "read_bucket", counted)
    with pytest.raises(UsageError) as err:
        analyze([STORE], ECOMMERCE, memory_limit=LIMIT)
    message = err.value.message
    assert message.startswith("--memory-limit 1.0 GiB is too small for these users: the facts kept")
    assert message.endswith("bytes per event; users with few events each keep the most)")
    assert err.value.hint == "give at least 2GiB"
    assert len(started) <= 4  # the two buckets projected, and at most the next one per worker
    monkeypatch.setattr("journeyctl.buckets.SUMMARY_BYTES", LIMIT - BASE_BYTES - 10_000_000)
    assert analyze([STORE], ECOMMERCE, memory_limit=LIMIT).events == 38_037  # 10 MB is room enough


def test_the_facts_of_the_buckets_done_wait_on_disk_until_the_summary(
    small_buckets: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    files = ("baskets.arrow", "buyers.arrow", "funnel.arrow", "sessions.arrow")
    seen: list[tuple[int, tuple[str, ...]]] = []  # (rows in memory, files on disk) of each bucket done
    refuse = buckets.refuse_outgrown_facts

    def inspected(done: list[Bucket], *, events: int, memory_limit: int) -> None:  # after two buckets
        for spilled in (s for outcome in done for s in outcome.facts):
            rows = sum(table.height for table in buckets.fact_tables(spilled.facts).values())
            seen.append((rows, tuple(sorted(path.name for path in spilled.folder.iterdir()))))
        refuse(done, events=events, memory_limit=memory_limit)

    monkeypatch.setattr(buckets, "refuse_outgrown_facts", inspected)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    bucketed = analyze([STORE], ECOMMERCE, memory_limit=LIMIT)
    assert seen == [(0, files), (0, files)]  # in the first two buckets, before the others started
    in_memory = analyze([STORE], ECOMMERCE, memory_limit=64 * 2**30)
    assert bucketed == in_memory.model_copy(update={"data_quality": bucketed.data_quality})
    assert small_buckets > 2 and list(tmp_path.iterdir()) == []  # the files are gone after the run


def test_the_limit_named_for_kept_facts_that_outgrow_it_holds_them() -> None:
    # the first buckets read 1,000 events and keep 100,000 bytes: 100 a event, 10 GB for 100M;
    # with the interpreter's 400 MiB and the summary's 64 MiB, 10.46 GB: 10 GiB
    empty = pl.DataFrame()
    facts = Facts(empty, empty, empty, empty, events=1_000, users=10, first_ts=None, last_ts=None)
    done = [Bucket(sources=[0], events=1_000, bad=empty, facts=[Spilled(facts, Path("."), 100_000)])]
    with pytest.raises(UsageError) as err:
        buckets.refuse_outgrown_facts(done, events=100_000_000, memory_limit=4 * 2**30)
    assert err.value.hint == "give at least 10GiB"
    buckets.refuse_outgrown_facts(done, events=100_000_000, memory_limit=10 * 2**30)


def test_the_buckets_have_the_whole_limit_however_much_the_kept_facts_take(
    small_buckets: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = buckets.estimated_events([STORE])
    most = (LIMIT - BASE_BYTES - buckets.SUMMARY_BYTES) // events  # all but the summary's room
    monkeypatch.setattr("journeyctl.buckets.KEPT_BYTES_PER_EVENT", most)
    assert bucket_count([STORE], LIMIT) == small_buckets


def test_a_bucket_holds_at_most_so_many_events_however_large_the_limit(
    small_buckets: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the store sample is estimated at 35,840 events (2,867,274 bytes / 80): 36 buckets of
    # about 1,000 by the memory, 72 of at most 500 by the cap
    assert (buckets.estimated_events([STORE]), small_buckets) == (35_840, 36)
    monkeypatch.setattr("journeyctl.buckets.MAX_BUCKET_EVENTS", 500)
    assert bucket_count([STORE], LIMIT) == 72
    assert bucket_count([STORE], 2**40) == 1  # what fits in memory at once is not split


def test_duplicates_are_counted_across_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("journeyctl.buckets.BYTES_PER_EVENT", LIMIT)
    source = [HOSTILE / "duplicates_and_odd_times.csv"]
    kept = analyze(source, load_config(TINY_YAML), memory_limit=LIMIT).data_quality
    assert (kept.duplicate_events, kept.events_in_future, kept.events_before_plausible_epoch) == (1, 1, 1)
    assert analyze(source, load_config(TINY_YAML), memory_limit=LIMIT, dedupe=True).events == 3


@pytest.mark.parametrize(
    ("text", "expected"), [("3GiB", 3 * 2**30), ("500MB", 500 * 10**6), ("1.5g", 1_500_000_000)]
)
def test_memory_limits_read_with_units(text: str, expected: int) -> None:
    assert parse_memory(text) == expected


@pytest.mark.parametrize("text", ["lots", "3 parsecs", "10MB"])
def test_memory_limits_that_are_not_amounts_or_too_small_are_refused(text: str) -> None:
    with pytest.raises(UsageError):
        parse_memory(text)


def test_nothing_but_the_result_is_written_when_stderr_is_not_a_terminal(
    small_buckets: int, tmp_path: Path
) -> None:
    del small_buckets  # the bucketed path, the one with most stages to show
    runner = CliRunner()
    config = str(ROOT / "configs" / "ecommerce.yaml")
    for quiet in ([], ["--quiet"]):
        result = runner.invoke(
            app,
            ["analyze", str(STORE), "-c", config, "-f", "json", "--memory-limit", "1GiB", *quiet],
            catch_exceptions=False,
        )
        assert (result.exit_code, result.stderr) == (0, "")
        assert json.loads(result.stdout)["events"] == 38_037
        weekly = runner.invoke(
            app,
            ["report", str(STORE), "-c", config, "-f", "json", "--memory-limit", "1GiB", *quiet],
            catch_exceptions=False,
        )
        assert (weekly.exit_code, weekly.stderr) == (0, "")
        assert json.loads(weekly.stdout)["current"]["period"]["label"] == "2026-W39"


def test_the_progress_display_shows_stage_buckets_and_events_on_a_terminal() -> None:
    screen = io.StringIO()
    display = RichDisplay(Console(file=screen, force_terminal=True, width=100))
    display.stage("analysing buckets", total=4)
    display.advance(1, events=1_234)
    display.close()
    assert display.snapshot() == ("analysing buckets", 1, 4, 1_234)


def test_a_limit_too_small_for_the_facts_kept_across_buckets_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 38k estimated events kept at 20 kB each: 760 MB, more than a 1 GiB limit leaves
    monkeypatch.setattr("journeyctl.buckets.KEPT_BYTES_PER_EVENT", 20_000)
    monkeypatch.setattr("journeyctl.buckets.BYTES_PER_EVENT", 100_000)
    with pytest.raises(UsageError, match="is too small for about"):
        bucket_count([STORE], LIMIT)


@pytest.mark.usefixtures("small_buckets")
def test_check_judges_the_same_kpis_through_buckets() -> None:
    in_memory = check([STORE], ECOMMERCE, memory_limit=64 * 2**30)
    bucketed = check([STORE], ECOMMERCE, memory_limit=LIMIT)
    assert [(v.metric, v.actual, v.status) for v in bucketed.verdicts] == [
        (v.metric, v.actual, v.status) for v in in_memory.verdicts
    ]
    assert bucketed.exit_code == in_memory.exit_code
    runner = CliRunner()
    config = str(ROOT / "configs" / "ecommerce.yaml")
    cli = runner.invoke(
        app, ["check", str(STORE), "-c", config, "-f", "json", "--memory-limit", "1GiB", "-q"]
    )
    assert (cli.exit_code, cli.stderr) == (in_memory.exit_code, "")
    assert [v["status"] for v in json.loads(cli.stdout)["verdicts"]] == [v.status for v in in_memory.verdicts]
