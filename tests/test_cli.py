"""The real command, end to end: exit codes, exact stderr, nothing on stdout on error."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from journeyctl.cli import app

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
TINY = str(DATA / "tiny_store.csv")
TINY_YAML = str(DATA / "tiny_store.yaml")
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_analyze_prints_the_funnel_with_pain_points() -> None:
    code, out, err = run("analyze", TINY, "-c", TINY_YAML, "--width", "120")
    assert (code, err) == (0, "")
    assert re.search(r"Interest\s+2 .*66\.7%", out)
    assert "Pain points" in out and "Interest → Consideration: 50.0% drop off, above the 40% limit" in out
    assert "\x1b[" not in out  # not a terminal: plain text


def test_json_output_follows_the_schema() -> None:
    code, out, _ = run("analyze", TINY, "-c", TINY_YAML, "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["schema_version"] == 1
    assert [s["users"] for s in data["stages"]] == [3, 2, 1, 1]
    assert data["overall_conversion"] == pytest.approx(1 / 3)
    for key in ("bounce_rate", "cart_abandonment_rate", "checkout_abandonment_rate", "repeat_purchase_rate"):
        assert key in data
    assert {"id", "label", "users", "conversion", "from_start", "lost", "drop_off", "pain_point"} <= set(
        data["stages"][0]
    )


def test_output_file_is_written_and_stdout_stays_empty(tmp_path: Path) -> None:
    target = tmp_path / "funnel.csv"
    code, out, _ = run("analyze", TINY, "-c", TINY_YAML, "-f", "csv", "-o", str(target))
    assert (code, out) == (0, "")
    assert target.read_text().splitlines()[0].startswith("id,label,users,conversion")


def test_an_output_file_gets_the_umask_permissions_or_keeps_its_own(tmp_path: Path) -> None:
    # written through a private temporary file, the result still reads as any new file does
    fresh, kept = tmp_path / "fresh.json", tmp_path / "kept.json"
    kept.write_text("old")
    kept.chmod(0o640)
    previous = os.umask(0o022)
    try:
        for target in (fresh, kept):
            assert run("analyze", TINY, "-c", TINY_YAML, "-f", "json", "-o", str(target))[0] == 0
    finally:
        os.umask(previous)
    assert (stat.S_IMODE(fresh.stat().st_mode), stat.S_IMODE(kept.stat().st_mode)) == (0o644, 0o640)


def test_failed_run_leaves_the_existing_output_untouched(tmp_path: Path) -> None:
    target = tmp_path / "funnel.json"
    target.write_text("previous result")
    code, _, err = run(
        "analyze", str(tmp_path / "missing.csv"), "-c", TINY_YAML, "-f", "json", "-o", str(target)
    )
    assert code == 2 and err.startswith("error:")
    assert target.read_text() == "previous result"
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left behind


def test_output_may_not_overwrite_an_input(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text(Path(TINY).read_text())
    code, out, err = run("analyze", str(events), "-c", TINY_YAML, "-o", str(events))
    assert (code, out) == (2, "")
    assert err == f"error: {events}: the output file is one of the inputs\n  hint: choose another -o FILE\n"
    assert events.read_text() == Path(TINY).read_text()


def test_glob_of_several_files_reads_them_all(tmp_path: Path) -> None:
    lines = Path(TINY).read_text().splitlines()
    (tmp_path / "a.csv").write_text("\n".join(lines[:4]) + "\n")
    (tmp_path / "b.csv").write_text("\n".join([lines[0], *lines[4:]]) + "\n")
    code, out, _ = run("analyze", str(tmp_path / "*.csv"), "-c", TINY_YAML, "-f", "json")
    assert code == 0 and [s["users"] for s in json.loads(out)["stages"]] == [3, 2, 1, 1]


def test_misspelled_key_names_its_line(tmp_path: Path) -> None:
    typo = tmp_path / "journey.yaml"
    typo.write_text(
        "stages:\n  - id: a\n    match: [{events: [x]}]\n  - id: b\n    matches: [{events: [y]}]\n"
    )
    code, out, err = run("analyze", TINY, "-c", str(typo))
    assert (code, out) == (2, "")
    assert err == (
        f"error: {typo}:5: stages[1].matches: Extra inputs are not permitted\n  hint: did you mean `match`?\n"
    )


def test_missing_column_lists_the_columns_the_file_has(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text("uid,timestamp,event\nu1,2026-01-01T00:00:00Z,landing_view\n")
    code, out, err = run("analyze", str(events), "-c", TINY_YAML)
    assert (code, out) == (2, "")
    assert err.startswith(
        f"error: {events}:1: no column 'user_id', 'channel'; the file has: uid, timestamp, event"
    )


def test_unparseable_timestamp_quotes_file_and_line(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text(
        "user_id,timestamp,event,channel\nu1,2026-01-01T00:00:00Z,landing_view,ad\nu2,yesterday,landing_view,ad\n"
    )
    code, out, err = run("analyze", str(events), "-c", TINY_YAML)
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {events}:3: timestamp 'yesterday' does not parse\n  (1 bad row in all)\n")


@pytest.mark.parametrize(
    ("path", "message"),
    [("nope.csv", "no such file"), ("nope/*.csv", "no file matches this pattern")],
)
def test_missing_inputs_are_named(path: str, message: str, tmp_path: Path) -> None:
    code, out, err = run("analyze", str(tmp_path / path), "-c", TINY_YAML)
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {tmp_path / path}: {message}\n  hint:")


def test_empty_file_is_refused(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text("")
    code, _, err = run("analyze", str(events), "-c", TINY_YAML)
    assert code == 2 and err.startswith(f"error: {events}: the file is empty")


def test_internal_errors_say_they_are_bugs(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("oops")

    monkeypatch.setattr("journeyctl.api.analyze", broken)
    code, out, err = run("analyze", TINY, "-c", TINY_YAML)
    assert (code, out) == (3, "")
    assert err.startswith(
        "internal error: ZeroDivisionError: oops\n  this is a bug in journeyctl; rerun with --debug"
    )


def test_every_command_has_help_and_appears_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for command in app.registered_commands:
        name = command.name or (command.callback.__name__ if command.callback else "")
        code, out, _ = run(name, "--help")
        assert code == 0 and "Example:" in out
        assert f"journeyctl {name}" in readme


def test_mixed_timestamp_layouts_in_one_file_all_parse(tmp_path: Path) -> None:
    # the detected layout (ISO with Z) misses the later rows; the full parser takes them
    events = tmp_path / "events.csv"
    rows = [f"u{i},2026-01-01T10:00:0{i}Z,landing_view,ad" for i in range(5)]
    rows += ["v1,2026-01-01 11:00:00,landing_view,ad", "v1,2026-01-01T12:00:00.5+01:00,product_view,ad"]
    events.write_text("user_id,timestamp,event,channel\n" + "\n".join(rows) + "\n")
    code, out, err = run("analyze", str(events), "-c", TINY_YAML, "-f", "json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert [s["users"] for s in data["stages"]][:2] == [6, 1]
    assert data["stages"][1]["median_time_to_convert_s"] == 0.5  # 11:00:00 → 12:00:00.5+01:00


def test_order_and_count_override_the_config(tmp_path: Path) -> None:
    # u2's product view comes a day after its landing: a second session without an entry
    code, out, _ = run("analyze", TINY, "-c", TINY_YAML, "--count", "sessions", "-f", "json")
    data = json.loads(out)
    assert (code, data["unit"], [s["users"] for s in data["stages"]]) == (0, "sessions", [3, 1, 1, 1])
    # a help_view between landing and product view breaks the strict order only
    events = tmp_path / "events.csv"
    events.write_text(
        "user_id,timestamp,event,channel\nu,2026-01-01T10:00:00Z,landing_view,ad\n"
        "u,2026-01-01T10:01:00Z,help_view,ad\nu,2026-01-01T10:02:00Z,product_view,ad\n"
    )
    for order, expected, kpi_code in (("ordered", [1, 1, 0, 0], 0), ("strict", [1, 0, 0, 0], 1)):
        code, out, _ = run("analyze", str(events), "-c", TINY_YAML, "--order", order, "-f", "json")
        data = json.loads(out)
        assert (code, data["order"], [s["users"] for s in data["stages"]]) == (0, order, expected)
        kpi = ["--kpi", "stages.interest.users>=1"]
        assert run("check", str(events), "-c", TINY_YAML, "--order", order, *kpi)[0] == kpi_code


def test_an_unknown_order_is_a_usage_error() -> None:
    code, out, err = run("analyze", TINY, "-c", TINY_YAML, "--order", "sorted")
    assert (code, out) == (2, "")
    assert "Invalid value for '--order'" in err


WHERE_HINT = (
    "  hint: write COLUMN OP VALUE with OP one of = != < <= > >=, "
    "or COLUMN in (A, B) / COLUMN not in (A, B); "
    "quote values with spaces or commas: --where \"plan = 'pro plus'\"\n"
)


def test_where_filters_rows_and_says_so_above_the_table() -> None:
    # only email rows: u1 alone enters and converts all the way
    code, out, err = run("analyze", TINY, "-c", TINY_YAML, "--where", "channel = email", "-f", "json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert [s["users"] for s in data["stages"]] == [1, 1, 1, 1]
    assert data["filters"] == {"where": ["channel = email"], "since": None, "until": None}
    code, out, _ = run(
        "analyze", TINY, "-c", TINY_YAML, "--where", "channel in (email, social)", "--width", "120"
    )
    assert code == 0 and "Filtered: where channel in (email, social)\n" in out


def test_where_parse_error_points_a_caret_at_the_problem() -> None:
    code, out, err = run("analyze", TINY, "-c", TINY_YAML, "--where", "channel in (email")
    assert (code, out) == (2, "")
    assert err == (
        "error: --where: expected `,` or `)` after a value\n    channel in (email\n                     ^\n"
        + WHERE_HINT
    )


def test_where_on_an_unmapped_column_lists_the_mapped_ones() -> None:
    code, out, err = run("analyze", TINY, "-c", TINY_YAML, "--where", "segment = vip")
    assert (code, out) == (2, "")
    assert err == (
        "error: --where 'segment = vip': 'segment' is not a mapped property column\n"
        "  hint: mapped properties: channel; add the column to columns.properties to filter on it\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2026-13-01"], "error: --since '2026-13-01': expected a date YYYY-MM-DD or a date-time"),
        (["--until", "2026-01-01T25:00"], "error: --until '2026-01-01T25:00': expected a date YYYY-MM-DD"),
        (
            ["--since", "2026-01-02", "--until", "2026-01-01"],
            "error: --until 2026-01-02T00:00:00+00:00 is not after --since 2026-01-02T00:00:00+00:00",
        ),
    ],
)
def test_bad_entry_ranges_are_refused(args: list[str], message: str) -> None:
    code, out, err = run("analyze", TINY, "-c", TINY_YAML, *args)
    assert (code, out) == (2, "") and err.startswith(message)


def test_since_and_until_limit_the_entries() -> None:
    # entries on 2026-01-01 from 11:00 on: u2 (11:00) and u3 (12:00); u2's step the next day counts
    code, out, _ = run(
        "analyze", TINY, "-c", TINY_YAML, "--since", "2026-01-01T11:00", "--until", "2026-01-01", "-f", "csv"
    )
    assert code == 0
    assert [line.split(",")[2] for line in out.splitlines()[1:]] == ["2", "1", "0", "0"]


def test_pending_shows_in_csv_and_exclude_pending_changes_the_rates() -> None:
    # u3 (level 1) and u2 (level 2) entered within 30 days of the data's end: pending at
    # interest and consideration; without them interest converts 2/2 and consideration 1/1
    _, plain, _ = run("analyze", TINY, "-c", TINY_YAML, "-f", "csv")
    code, excluded, _ = run("analyze", TINY, "-c", TINY_YAML, "-f", "csv", "--exclude-pending")
    assert code == 0
    cols = plain.splitlines()[0].split(",")
    pending, conversion, lost = cols.index("pending"), cols.index("conversion"), cols.index("lost")
    plain_rows = [line.split(",") for line in plain.splitlines()[1:]]
    excluded_rows = [line.split(",") for line in excluded.splitlines()[1:]]
    assert [r[pending] for r in plain_rows] == [r[pending] for r in excluded_rows] == ["0", "1", "1", "0"]
    assert [r[conversion] for r in plain_rows][1:3] == ["0.6666666666666666", "0.5"]
    assert [(r[conversion], r[lost]) for r in excluded_rows][1:3] == [("1.0", "0"), ("1.0", "0")]


def test_check_exclude_pending_judges_the_rates_without_pending_users() -> None:
    kpi = "stages.interest.conversion>=0.9"
    assert run("check", TINY, "-c", TINY_YAML, "--kpi", kpi)[0] == 1
    assert run("check", TINY, "-c", TINY_YAML, "--kpi", kpi, "--exclude-pending")[0] == 0


def test_after_drop_off_is_in_the_json() -> None:
    code, out, _ = run("analyze", TINY, "-c", TINY_YAML, "--after-drop-off", "awareness", "-f", "json")
    # the only unit at awareness alone, u3, is pending: nobody dropped off yet
    assert code == 0
    assert json.loads(out)["after_drop_off"] == {
        "stage": "awareness",
        "next_stage": "interest",
        "units": 0,
        "pending": 1,
        "next_events": [],
    }


@pytest.mark.parametrize(
    ("stage", "problem"),
    [
        ("purchase", "'purchase' is the last stage: nobody drops off after it"),
        ("cart", "'cart' is not a stage id"),
    ],
)
def test_after_drop_off_names_the_valid_stages(stage: str, problem: str) -> None:
    code, out, err = run("analyze", TINY, "-c", TINY_YAML, "--after-drop-off", stage)
    assert (code, out) == (2, "")
    hint = "  hint: stages with a next stage: awareness, interest, consideration\n"
    assert err == f"error: --after-drop-off: {problem}\n{hint}"


def test_export_users_writes_sorted_ids_and_says_so(tmp_path: Path) -> None:
    reached, pending = tmp_path / "reached.csv", tmp_path / "pending.csv"
    code, out, err = run(
        "analyze", TINY, "-c", TINY_YAML, "-f", "json",
        "--export-users", f"interest={reached}", "--export-users", f"pending:interest={pending}",
    )  # fmt: skip
    assert code == 0
    assert reached.read_text() == "user_id\nu1\nu2\n"
    assert pending.read_text() == "user_id\nu2\n"  # reached interest, window still open
    assert err == (
        f"wrote 2 user ids (reached interest) to {reached}\n"
        f"wrote 1 user id (pending after interest) to {pending}\n"
    )
    assert json.loads(out)["user_exports"][1] == {
        "kind": "pending",
        "stage": "interest",
        "path": str(pending),
        "users": 1,
    }


def test_export_users_never_overwrites_an_input_or_the_output(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text(Path(TINY).read_text())
    code, out, err = run("analyze", str(events), "-c", TINY_YAML, "--export-users", f"interest={events}")
    assert (code, out) == (2, "")
    assert err == (
        f"error: {events}: this --export-users file is an input or another list's file\n"
        "  hint: give each user list a file of its own\n"
    )
    assert events.read_text() == Path(TINY).read_text()
    target = tmp_path / "out.csv"
    code, _, err = run(
        "analyze", TINY, "-c", TINY_YAML, "-o", str(target), "--export-users", f"interest={target}"
    )
    assert code == 2 and err.startswith(f"error: {target}: --export-users and -o name the same file")
    assert not target.exists()


def test_bad_export_spec_is_refused_with_the_syntax() -> None:
    code, out, err = run("analyze", TINY, "-c", TINY_YAML, "--export-users", "lost:interest=x.csv")
    assert (code, out) == (2, "")
    assert err == (
        "error: --export-users 'lost:interest=x.csv': "
        "unknown list 'lost': expected reached, dropped or pending\n"
        "  hint: write [reached|dropped|pending:]STAGE=FILE, e.g. --export-users reached:purchase=buyers.csv "
        "or --export-users dropped:consideration=lost.csv\n"
    )


# --- the same input options on every command that reads events --------------------------------

OVERALL_AT_LEAST_90 = "overall_conversion>=0.9"


@pytest.mark.parametrize(
    ("options", "code"),
    [
        # u1 (email, 10:00) purchases; u2 (social, 11:00) and u3 (ad, 12:00) do not: 1/3 overall
        ((), 1),
        # only u1's rows remain: 1/1
        (("--where", "channel = email"), 0),
        # entries before 11:00 (exclusive) leave u1 alone: 1/1
        (("--until", "2026-01-01T11:00"), 0),
        # entries from 10:30 on are u2 and u3, who convert 0/2
        (("--since", "2026-01-01T10:30"), 1),
    ],
)
def test_check_takes_the_input_filters_of_analyze(options: tuple[str, ...], code: int) -> None:
    assert run("check", TINY, "-c", TINY_YAML, "--kpi", OVERALL_AT_LEAST_90, *options)[0] == code


def test_check_takes_bad_rows_and_dedupe() -> None:
    hostile = DATA / "hostile"
    # 4 rows, 3 of them bad: refused by default, one event left with skip (and a warning)
    bad = str(hostile / "bad_rows.csv")
    assert run("check", bad, "-c", TINY_YAML, "--kpi", "events<=1")[0] == 2
    code, out, err = run("check", bad, "-c", TINY_YAML, "--kpi", "events<=1", "--bad-rows", "skip")
    assert (code, err) == (0, "warning: 3 bad rows left out (skip)\n")
    assert "1 passed · 0 warnings · 0 failed · 0 errors → exit 0" in out
    # u1's landing_view appears twice: 4 events, 3 once the copy is dropped
    twice = str(hostile / "duplicates_and_odd_times.csv")
    assert run("check", twice, "-c", TINY_YAML, "--kpi", "events<=3")[0] == 1
    code, out, _ = run("check", twice, "-c", TINY_YAML, "--kpi", "events<=3", "--dedupe", "-f", "json")
    assert code == 0
    assert json.loads(out)["data_quality"]["duplicates_dropped"] == 1


def test_validate_takes_delimiter_and_encoding_over_the_config() -> None:
    messy = DATA / "messy"
    # forced to ',' the semicolon file is one column, so the mapped ones are missing
    code, out, err = run("validate", str(messy / "semicolon.csv"), "-c", TINY_YAML, "--delimiter", ",")
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {messy / 'semicolon.csv'}: no column 'user_id', 'timestamp', 'event'")
    assert run("validate", str(messy / "semicolon.csv"), "-c", TINY_YAML, "--delimiter", ";")[0] == 0
    # the Latin-1 file reads only with its encoding
    assert run("validate", str(messy / "latin1.csv"), "-c", TINY_YAML)[0] == 2
    code, out, _ = run("validate", str(messy / "latin1.csv"), "-c", TINY_YAML, "--encoding", "latin-1")
    assert code == 0 and out.startswith("7 rows")


def test_a_width_below_20_is_refused() -> None:
    result = CliRunner().invoke(app, ["report", "sample_data/store_events.csv", "--width", "-5"])
    assert result.exit_code == 2 and "--width" in result.stderr
