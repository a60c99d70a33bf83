"""Real exports: every input format gives the same answer, hostile inputs are refused with one
clear message and nothing written, bad rows are never lost silently (issue 5)."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from journeyctl import analyze
from journeyctl.api import read_events
from journeyctl.cli import app
from journeyctl.config.loading import load_config, parse_config
from journeyctl.errors import InputError
from journeyctl.load import epoch_expr, expand_sources, file_kind, sniff_delimiter
from journeyctl.onboarding import journey_position, profile_events, starter_config, validate
from journeyctl.quality import parse_bad_rows, repeated_rows

DATA = Path(__file__).parent / "data"
MESSY = DATA / "messy"
HOSTILE = DATA / "hostile"
TINY = DATA / "tiny_store.csv"
TINY_YAML = DATA / "tiny_store.yaml"
ROOT = Path(__file__).parent.parent
runner = CliRunner()


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=stdin, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def comparable(path: Path, yaml_path: Path = TINY_YAML) -> dict[str, object]:
    return analyze([path], load_config(yaml_path)).model_dump(exclude={"data_quality"})


@pytest.mark.parametrize(
    "name",
    [
        "crlf_bom.csv",
        "semicolon.csv",
        "tabs.tsv",
        "epoch_seconds.csv",
        "epoch_millis.csv",
        "mixed_offsets.csv",
        "events.csv.gz",
        "events.csv.zst",
        "events.parquet",
        "events.ndjson",
    ],
)
def test_every_input_format_gives_the_same_result(name: str) -> None:
    assert comparable(MESSY / name) == comparable(TINY)


def test_quoted_field_with_an_embedded_newline_stays_one_row() -> None:
    result = analyze([MESSY / "multiline_quoted.csv"], load_config(TINY_YAML))
    assert (result.events, [s.users for s in result.stages]) == (7, [3, 2, 1, 1])
    assert "line one\nline two" in [g.value for g in result.bounce_by_landing_channel]


def test_microseconds_with_a_space_and_no_offset_are_read_in_the_configured_zone() -> None:
    result = analyze([MESSY / "space_micros_naive.csv"], load_config(TINY_YAML))
    assert [s.users for s in result.stages] == [3, 2, 1, 1]
    assert result.first_event_at == datetime(2026, 1, 1, 10, 0, 0, 1, tzinfo=UTC)


def test_other_encodings_are_read_with_csv_encoding(tmp_path: Path) -> None:
    config = tmp_path / "latin1.yaml"
    config.write_text("csv: {encoding: latin-1}\n" + TINY_YAML.read_text())
    result = analyze([MESSY / "latin1.csv"], load_config(config))
    assert [s.users for s in result.stages] == [3, 2, 1, 1]
    assert "publicité" in [g.value for g in result.bounce_by_landing_channel]


def test_latin1_without_the_encoding_is_refused_with_the_key_to_set() -> None:
    code, out, err = run("analyze", str(MESSY / "latin1.csv"), "-c", str(TINY_YAML))
    assert (code, out) == (2, "")
    assert err == (
        f"error: {MESSY / 'latin1.csv'}: cannot read the events: invalid utf-8 sequence\n"
        "  hint: check that every file has the same header and consistent quoting; "
        "for text that is not UTF-8 set `csv.encoding` (e.g. latin-1)\n"
    )


def test_standard_input_and_directories_are_sources(tmp_path: Path) -> None:
    code, out, _ = run("analyze", "-", "-c", str(TINY_YAML), "-f", "json", stdin=TINY.read_text())
    assert code == 0 and '"users": 3' in out
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "part.csv.gz").write_bytes(gzip.compress(TINY.read_bytes()))
    (tmp_path / "notes.md").write_text("not events")
    assert expand_sources([tmp_path]) == [tmp_path / "a" / "part.csv.gz"]
    assert comparable(tmp_path) == comparable(TINY)


def test_file_kinds_and_delimiter_sniffing() -> None:
    assert [file_kind(Path(n)) for n in ("a.csv.gz", "a.parquet", "a.jsonl", "a.csv", "a.md")] == [
        "csv",
        "parquet",
        "ndjson",
        "csv",
        None,
    ]
    assert [sniff_delimiter(h) for h in ("a;b;c", "a\tb", "a|b|c,d", "single")] == [";", "\t", "|", ","]


def test_epoch_seconds_milliseconds_microseconds_nanoseconds_and_nothing_else() -> None:
    raw = pl.DataFrame(
        {
            "t": [
                "1767261600",
                "1767261600123",
                "1767261600.5",
                "1767261600123456",  # GA4's event_timestamp
                "1767261600123456789",  # cut to the microsecond
                "12345",
                "17672616001234",  # 14 digits: neither milli- nor microseconds
                "99999999999999999999",  # 20 digits
                "2026-01-01",
            ]
        }
    )
    parsed = raw.select(epoch_expr(pl.col("t"))).to_series().to_list()
    base = datetime(2026, 1, 1, 10, tzinfo=UTC)
    exact = base.replace(microsecond=123_456)
    assert parsed == [
        base,
        base.replace(microsecond=123_000),
        base.replace(microsecond=500_000),
        exact,
        exact,
        None,
        None,
        None,
        None,
    ]


# --- hostile inputs: one file per case, exit 2, one message, no output written ---------------


@pytest.mark.parametrize(
    ("events", "config", "message"),
    [
        (
            "empty.csv",
            TINY_YAML,
            "{f}: the file is empty\n  hint: export the events again, with a header row",
        ),
        ("empty.ndjson", TINY_YAML, "{f}: the file is empty\n  hint: export the events again"),
        ("empty.parquet", TINY_YAML, "{f}: the file is empty\n  hint: export the events again"),
        (
            "header_only.csv",
            TINY_YAML,
            "{f}: the file has a header but no event rows\n"
            "  hint: export the events again, or leave this file out",
        ),
        (
            "missing_column.csv",
            TINY_YAML,
            "{f}:1: no column 'user_id'; the file has: uid, timestamp, event, channel\n"
            "  hint: map the file's column names under `columns:` in the journey YAML",
        ),
        (
            "bad_rows.csv",
            TINY_YAML,
            "{f}:3: no user id\n  {f}:4: timestamp 'yesterday' does not parse\n  {f}:5: no event name\n"
            "  (3 bad rows in all)\n  hint: fix or remove these rows; for other timestamp formats set "
            "`time_format` (a strftime pattern)",
        ),
        (
            "no_events_dir",
            TINY_YAML,
            "{f}: no event files in this directory\n"
            "  hint: journeyctl reads .csv, .csv.gz, .csv.zst, .parquet, .ndjson and .jsonl files",
        ),
        (
            str(TINY),
            HOSTILE / "config_list.yaml",
            "{c}: the config is a list, not a mapping of keys\n"
            "  hint: start from configs/ecommerce.yaml: it needs at least `stages:`",
        ),
        (
            str(TINY),
            HOSTILE / "config_alias_bomb.yaml",
            "{c}: the YAML expands to more than 100,000 values\n"
            "  hint: anchors and aliases are allowed, but not ones that multiply the document",
        ),
        (
            str(TINY),
            HOSTILE / "config_python_tag.yaml",
            "{c}:1: YAML tag not allowed: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/object/apply:os.system'\n"
            "  hint: a journey is plain YAML: remove tags such as !!python/object",
        ),
    ],
)
def test_hostile_input_is_refused_clearly(events: str, config: Path, message: str, tmp_path: Path) -> None:
    source = HOSTILE / events
    target = tmp_path / "funnel.json"
    code, out, err = run("analyze", str(source), "-c", str(config), "-f", "json", "-o", str(target))
    assert (code, out) == (2, "")
    assert err == "error: " + message.format(f=source, c=config) + "\n"
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_unknown_bad_rows_policy_is_a_usage_error() -> None:
    code, out, err = run("analyze", str(TINY), "-c", str(TINY_YAML), "--bad-rows", "ignore")
    assert (code, out) == (2, "")
    assert err == (
        "error: --bad-rows 'ignore' is not a policy\n"
        "  hint: use fail, skip or quarantine=FILE (e.g. quarantine=bad_rows.csv)\n"
    )


def test_debug_shows_the_traceback_of_an_internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("oops")

    monkeypatch.setattr("journeyctl.api.analyze", broken)
    code, out, err = run("--debug", "analyze", str(TINY), "-c", str(TINY_YAML))
    assert (code, out) == (3, "")
    assert err.startswith("Traceback (most recent call last):") and "ZeroDivisionError: oops" in err


# --- bad rows, duplicates, implausible times ---------------------------------------------------


def test_skipped_bad_rows_are_counted_and_reported() -> None:
    result = analyze([HOSTILE / "bad_rows.csv"], load_config(TINY_YAML), bad_rows="skip")
    assert [s.users for s in result.stages] == [1, 0, 0, 0]
    assert (result.data_quality.rows_read, result.data_quality.bad_rows) == (4, 3)
    code, out, err = run("analyze", str(HOSTILE / "bad_rows.csv"), "-c", str(TINY_YAML), "--bad-rows", "skip")
    assert code == 0 and err == "warning: 3 bad rows left out (skip)\n"
    assert "Data quality 4 rows read · 3 bad rows left out (skip)" in out


def test_quarantine_writes_each_bad_row_with_its_reason(tmp_path: Path) -> None:
    target = tmp_path / "bad.csv"
    code, _, _ = run(
        "analyze", str(HOSTILE / "bad_rows.csv"), "-c", str(TINY_YAML), "--bad-rows", f"quarantine={target}"
    )
    f = HOSTILE / "bad_rows.csv"
    assert code == 0
    assert target.read_text() == (
        "file,line,reason,user_id,timestamp,event\n"
        f"{f},3,no user id,,2026-01-01T10:01:00Z,landing_view\n"
        f"{f},4,timestamp does not parse,u2,yesterday,landing_view\n"
        f"{f},5,no event name,u3,2026-01-01T10:02:00Z,\n"
    )


def test_blank_lines_of_a_csv_are_no_rows_and_keep_the_line_numbers(tmp_path: Path) -> None:
    # lines 3, 5 and 6 are blank (line 6 with the delimiters only), line 4 has no user
    source = tmp_path / "blank.csv"
    source.write_text(
        "user_id,timestamp,event,channel\n"
        "u1,2026-01-01T10:00:00Z,landing_view,email\n"
        "\n"
        ",2026-01-01T10:01:00Z,landing_view,ad\n"
        "\n"
        ",,,\n"
        "u2,2026-01-01T10:02:00Z,product_view,ad\n"
        "\n"
    )
    with pytest.raises(InputError) as err:
        analyze([source], load_config(TINY_YAML))
    assert str(err.value).startswith(f"{source}:4: no user id\n  (1 bad row in all)")
    skipped = analyze([source], load_config(TINY_YAML), bad_rows="skip")
    assert (skipped.data_quality.rows_read, skipped.data_quality.bad_rows, skipped.events) == (3, 1, 2)


def test_duplicates_future_and_pre_epoch_events_are_counted() -> None:
    source = [HOSTILE / "duplicates_and_odd_times.csv"]
    kept = analyze(source, load_config(TINY_YAML)).data_quality
    assert (kept.duplicate_events, kept.duplicates_dropped) == (1, 0)
    assert (kept.events_in_future, kept.events_before_plausible_epoch) == (1, 1)
    dropped = analyze(source, load_config(TINY_YAML), dedupe=True)
    assert (dropped.events, dropped.data_quality.duplicates_dropped) == (3, 1)


def test_parse_bad_rows() -> None:
    assert str(parse_bad_rows("quarantine=x.csv")) == "quarantine=x.csv"
    assert parse_bad_rows("skip").action == "skip"
    policy = parse_bad_rows("quarantine=x.csv")
    assert parse_bad_rows(policy) is policy  # already parsed (the CLI's, for its clash check)


# --- onboarding ---------------------------------------------------------------------------------


def test_events_lists_counts_users_and_column_roles() -> None:
    profile = profile_events([TINY])
    assert [(e.event, e.rows, e.users) for e in profile.events] == [
        ("landing_view", 3, 3),
        ("product_view", 2, 2),
        ("add_to_cart", 1, 1),
        ("purchase", 1, 1),
    ]
    assert profile.events[0].first_seen == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert profile.events[0].last_seen == datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert [(c.column, c.role) for c in profile.columns] == [
        ("user_id", "user"),
        ("timestamp", "time"),
        ("event", "event"),
        ("channel", "property"),
    ]
    code, out, _ = run("events", str(TINY))
    assert code == 0 and "7 rows in 1 file" in out


def test_roles_are_inferred_from_values_when_names_do_not_say(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text(
        "who,when,what\na,1767261600,open\nb,1767261601,open\nc,1767261602,buy\nd,1767261603,open\n"
    )
    profile = profile_events([export])
    assert [(c.column, c.role) for c in profile.columns] == [
        ("who", "user"),
        ("when", "time"),
        ("what", "event"),
    ]


def test_a_file_with_no_column_left_for_the_event_lists_no_events(tmp_path: Path) -> None:
    # the only column parses as time, so nothing is left to be the user or the event
    export = tmp_path / "export.csv"
    export.write_text("timestamp\n2026-01-01T00:00:00Z\n2026-01-02T00:00:00Z\n")
    profile = profile_events([export])
    assert (profile.rows, profile.events, profile.distinct_events) == (2, [], 0)
    assert [(c.column, c.role, c.distinct) for c in profile.columns] == [("timestamp", "time", 2)]


@pytest.mark.parametrize(
    ("event", "stage"),
    [
        ("ad_impression", "awareness"),
        ("add_to_cart", "consideration"),
        ("ProductView", "interest"),
        ("begin_checkout", "checkout"),
        ("subscription_started", "purchase"),
        ("review_submitted", "advocacy"),
        ("support_contact", None),
    ],
)
def test_journey_position_of_event_names(event: str, stage: str | None) -> None:
    position = journey_position(event)
    names = ["awareness", "interest", "consideration", "checkout", "purchase", "loyalty", "advocacy"]
    assert (names[position] if position is not None else None) == stage


def test_init_then_analyze_works_on_the_sample_store(tmp_path: Path) -> None:
    store = str(ROOT / "sample_data" / "store_events.csv")
    code, text, _ = run("init", store)
    config = tmp_path / "journey.yaml"
    config.write_text(text)
    code, out, err = run("analyze", store, "-c", str(config), "-f", "json")
    assert (code, err) == (0, "")
    ids = [s["id"] for s in __import__("json").loads(out)["stages"]]
    assert ids == ["awareness", "interest", "consideration", "checkout", "purchase", "loyalty", "advocacy"]
    assert '#   "support_contact"' in text


def test_init_yaml_is_safe_against_hostile_names() -> None:
    text = starter_config([HOSTILE / "hostile_names.csv"])
    data = yaml.safe_load(text)
    assert data["columns"]["properties"] == ["!!python/object:os.system"]
    assert "injected" not in data
    config = parse_config(text, "init.yaml")
    events = {e for stage in config.stages for m in stage.match for e in m.events}
    assert events == {"landing: !!python/object/apply:os.system [ls]", "purchase\n# injected: true"}


def test_validate_reports_missing_and_unused_events_and_stage_shares(tmp_path: Path) -> None:
    config = tmp_path / "journey.yaml"
    config.write_text(TINY_YAML.read_text().replace("[purchase]}]}", "[purchase, refund]}]}", 1))
    report = validate(load_config(config), [TINY])
    assert report.missing_events == ["refund"]
    assert [(s.id, s.rows) for s in report.stages] == [
        ("awareness", 3),
        ("interest", 2),
        ("consideration", 1),
        ("purchase", 1),
    ]
    assert report.stages[0].share == pytest.approx(3 / 7)
    narrow = tmp_path / "narrow.yaml"
    narrow.write_text(
        "columns: {properties: [channel]}\nstages: [{id: a, match: [{events: [landing_view]}]}]\n"
    )
    unused = validate(load_config(narrow), [TINY]).unused_events
    assert [(e.event, e.rows) for e in unused] == [("product_view", 2), ("add_to_cart", 1), ("purchase", 1)]
    code, out, _ = run("validate", "-c", str(config), str(TINY))
    assert code == 0 and "Config events missing from the data: refund" in out


def test_terminal_escapes_from_the_data_never_reach_the_terminal() -> None:
    code, out, _ = run("events", str(HOSTILE / "terminal_escapes.csv"))
    assert code == 0 and "\x1b" not in out and "\x07" not in out
    assert "]0;pwnedlanding[31m_view" in out  # the text stays visible, inert


def test_quarantined_values_cannot_run_as_spreadsheet_formulas(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text(
        "user_id,timestamp,event,channel\nu1,2026-01-01T10:00:00Z,landing_view,ad\n=2+3,soon,x,ad\n"
    )
    target = tmp_path / "bad.csv"
    code, _, _ = run("analyze", str(events), "-c", str(TINY_YAML), "--bad-rows", f"quarantine={target}")
    assert code == 0
    assert target.read_text().splitlines()[1] == f"{events},3,timestamp does not parse,'=2+3,soon,x"


def test_a_delimiter_of_two_characters_is_a_usage_error() -> None:
    code, out, err = run("events", str(TINY), "--delimiter", ";;")
    assert (code, out) == (2, "")
    assert err == (
        "error: the delimiter is one character such as ',', ';', '|' or '\\t', or auto\n  hint: see --help\n"
    )


def test_validate_names_a_column_the_files_lack() -> None:
    code, out, err = run("validate", "-c", str(TINY_YAML), str(HOSTILE / "missing_column.csv"))
    assert (code, out) == (2, "")
    assert err == (
        f"error: {HOSTILE / 'missing_column.csv'}: no column 'user_id'; the files have: "
        "uid, timestamp, event, channel\n"
        "  hint: map the file's column names under `columns:` in the journey YAML\n"
    )


def test_repeated_rows_are_exactly_the_later_copies_of_identical_rows() -> None:
    # rows 2 and 4 repeat rows 0 and 3 (nulls equal nulls); row 5 differs from row 0 only in b
    events = pl.DataFrame({"a": [1, 2, 1, None, None, 1], "b": ["x", "y", "x", None, None, "z"]})
    assert repeated_rows(events).to_list() == [False, False, True, False, True, False]
    assert repeated_rows(events.head(0)).to_list() == []


def test_rows_sharing_user_time_and_event_repeat_only_when_every_column_is_equal() -> None:
    # all four rows are candidates (same user, ts, event); row 2 repeats row 0, row 3 repeats
    # nothing (its channel differs), row 1 differs in the page
    ts = datetime(2026, 1, 1, tzinfo=UTC)
    events = pl.DataFrame(
        {
            "user_id": ["u"] * 4,
            "ts": [ts] * 4,
            "event": ["view"] * 4,
            "channel": ["ads", "ads", "ads", "seo"],
            "page": ["/a", "/b", "/a", "/a"],
        }
    )
    assert repeated_rows(events).to_list() == [False, False, True, False]


@pytest.mark.parametrize(
    ("text", "expected_utc"),
    [
        ("2026-01-05T10:00:00Z", datetime(2026, 1, 5, 10, tzinfo=UTC)),  # Z is UTC whatever the zone
        ("2026-01-05 10:00:00Z", datetime(2026, 1, 5, 10, tzinfo=UTC)),
        ("2026-01-05T10:00:00", datetime(2026, 1, 5, 9, tzinfo=UTC)),  # naive: Berlin is UTC+1 in January
        ("2026-07-05 10:00:00", datetime(2026, 7, 5, 8, tzinfo=UTC)),  # and UTC+2 in July
        ("2026-01-05T10:00:00.5+01:00", datetime(2026, 1, 5, 9, 0, 0, 500_000, tzinfo=UTC)),
    ],
)
def test_detected_layouts_read_z_as_utc_and_naive_times_in_the_zone(
    text: str, expected_utc: datetime, tmp_path: Path
) -> None:
    source = tmp_path / "events.csv"
    source.write_text(f"user_id,timestamp,event,channel\nu1,{text},visit,ad\n")
    config = load_config(TINY_YAML).model_copy(update={"timezone": "Europe/Berlin"})
    frame = read_events([source], config)
    assert frame["ts"].to_list() == [expected_utc]


def test_a_layout_detected_on_the_sample_leaves_other_rows_to_the_full_parser(tmp_path: Path) -> None:
    # the first 256 rows fix the fast layout; the last row has an offset and is repaired
    rows = "".join(f"u1,2026-01-05T10:00:{i % 60:02d}Z,visit,ad\n" for i in range(300))
    source = tmp_path / "events.csv"
    source.write_text(f"user_id,timestamp,event,channel\n{rows}u2,2026-01-05T12:00:00+02:00,visit,ad\n")
    frame = read_events([source], load_config(TINY_YAML))
    assert frame.height == 301
    assert frame["ts"][-1] == datetime(2026, 1, 5, 10, tzinfo=UTC)


def test_in_memory_frame_keeps_aware_timestamps_and_reads_naive_ones_in_the_zone() -> None:
    # an aware 22:00 UTC stays 22:00 UTC under a Berlin config; a naive 22:00 is Berlin time
    config = parse_config("timezone: Europe/Berlin\nstages: [{id: a, match: [{events: [a]}]}]", "j.yaml")
    aware = pl.DataFrame({"user_id": ["u"], "ts": [datetime(2026, 10, 24, 22, tzinfo=UTC)], "event": ["a"]})
    naive = aware.with_columns(pl.col("ts").dt.replace_time_zone(None))
    assert analyze(aware, config).first_event_at == datetime(2026, 10, 24, 22, tzinfo=UTC)
    assert analyze(naive, config).first_event_at == datetime(2026, 10, 24, 20, tzinfo=UTC)


def test_convert_writes_a_parquet_file_the_same_config_reads_to_the_same_result(tmp_path: Path) -> None:
    store = Path(__file__).parent.parent / "sample_data" / "store_events.csv"
    config = Path(__file__).parent.parent / "configs" / "ecommerce.yaml"
    target = tmp_path / "events.parquet"
    code, out, err = run("convert", str(store), "-c", str(config), "-o", str(target))
    assert (code, out, err) == (0, "", f"wrote 38,037 events to {target}\n")
    written = pl.read_parquet(target)
    # the mapped columns under their file names; time parsed once, sorted by user and time
    assert written.columns == [
        "user_id",
        "timestamp",
        "event",
        "channel",
        "segment",
        "variant",
        "value",
        "page",
        "cart_id",
    ]
    assert written.schema["timestamp"] == pl.Datetime("us", "UTC")
    assert written.equals(written.sort("user_id", "timestamp"))
    assert analyze([target], load_config(config)) == analyze([store], load_config(config))


def test_parquet_timestamps_are_used_as_stored_naive_ones_read_in_the_zone(tmp_path: Path) -> None:
    # 22:00 aware UTC stays 22:00 UTC under a Berlin config; a naive 22:00 is Berlin time (UTC+2
    # on 24 October), so 20:00 UTC; a missing stored timestamp has no text and is "no timestamp"
    config = parse_config("timezone: Europe/Berlin\nstages: [{id: a, match: [{events: [a]}]}]", "j.yaml")
    aware = pl.DataFrame(
        {"user_id": ["u"], "timestamp": [datetime(2026, 10, 24, 22, tzinfo=UTC)], "event": ["a"]}
    )
    naive = aware.with_columns(pl.col("timestamp").dt.replace_time_zone(None))
    missing = naive.with_columns(pl.lit(None, pl.Datetime("us")).alias("timestamp"))
    for name, frame in (("aware", aware), ("naive", naive), ("missing", missing)):
        frame.write_parquet(tmp_path / f"{name}.parquet")
    first = {
        name: analyze([tmp_path / f"{name}.parquet"], config).first_event_at for name in ("aware", "naive")
    }
    assert first == {
        "aware": datetime(2026, 10, 24, 22, tzinfo=UTC),
        "naive": datetime(2026, 10, 24, 20, tzinfo=UTC),
    }
    with pytest.raises(InputError) as refused:
        analyze([tmp_path / "missing.parquet"], config)
    assert str(refused.value).startswith(
        f"{tmp_path / 'missing.parquet'}:1: no timestamp\n  (1 bad row in all)"
    )


def test_convert_refuses_to_overwrite_an_input(tmp_path: Path) -> None:
    source = tmp_path / "events.parquet"
    pl.DataFrame(
        {
            "user_id": ["u1"],
            "timestamp": ["2026-01-01T00:00:00Z"],
            "event": ["landing_view"],
            "channel": ["ad"],
        }
    ).write_parquet(source)
    code, out, err = run("convert", str(source), "-c", str(TINY_YAML), "-o", str(source))
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {source}: the output file is one of the inputs")


def test_a_list_property_of_parquet_is_analysed_as_its_json_text(tmp_path: Path) -> None:
    # the same events as tiny_store.csv, with channel as a one-element list: same funnel,
    # and the channel values read as JSON text
    frame = pl.read_csv(TINY, infer_schema=False)
    source = tmp_path / "nested.parquet"
    frame.with_columns(pl.concat_list(pl.col("channel"))).write_parquet(source)
    nested = analyze([source], load_config(TINY_YAML), by=["channel"])
    flat = analyze([TINY], load_config(TINY_YAML), by=["channel"])
    assert [s.users for s in nested.stages] == [s.users for s in flat.stages]
    values = {v.value for v in flat.breakdowns[0].values}
    assert {v.value for v in nested.breakdowns[0].values} == {f'["{value}"]' for value in values}
