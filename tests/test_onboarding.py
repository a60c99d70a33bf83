"""`journeyctl events` on files that do not look like a journey yet: what it still profiles, and
the one clear line that says what it could not recognise and which `columns:` key maps it (#5)."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from journeyctl.cli import app
from journeyctl.onboarding import profile_events
from tests import reference

HOSTILE = Path(__file__).parent / "data" / "hostile"
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def profiled(*sources: str) -> list[str]:
    """The lines `journeyctl events` prints, once it has exited 0 with nothing on stderr."""
    code, out, err = run("events", *sources)
    assert (code, err) == (0, "")
    return out.splitlines()


def refused(*sources: str) -> str:
    """What `journeyctl events` says on stderr, once it has exited 2 with nothing on stdout."""
    code, out, err = run("events", *sources)
    assert (code, out) == (2, "")
    return err


def export(tmp_path: Path, text: str, name: str = "export.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_file_without_a_user_column_is_profiled_and_says_how_to_map_one(tmp_path: Path) -> None:
    # once an internal error (exit 3, no column "user_id"); open on rows 1 and 3, buy on row 2,
    # the span runs from row 1 (Jan 1 10:00) to row 2 (Jan 2 10:00), and nobody can be counted
    path = export(
        tmp_path,
        "timestamp,event\n2026-01-01T10:00:00Z,open\n2026-01-02T10:00:00Z,buy\n2026-01-01T11:00:00Z,open\n",
    )
    code, out, err = run("events", str(path))
    assert (code, err) == (0, "")
    assert out == (
        "3 rows in 1 file, from 2026-01-01 10:00 to 2026-01-02 10:00 UTC\n"
        "Columns\n"
        "Column      Role    Distinct   Empty   Example             \n"
        "───────────────────────────────────────────────────────────\n"
        "timestamp   time           3       0   2026-01-01T10:00:00Z\n"
        "event       event          2       0   open                \n"
        "No user column recognised; the file has: timestamp, event\n"
        "  Map the column that holds user ids with `columns.user` in the journey YAML.\n"
        "Events (2)\n"
        "Event   Rows   Users         First seen          Last seen\n"
        "──────────────────────────────────────────────────────────\n"
        "open       2       –   2026-01-01 10:00   2026-01-01 11:00\n"
        "buy        1       –   2026-01-02 10:00   2026-01-02 10:00\n"
    )
    profile = profile_events([path])
    assert (profile.users, profile.unrecognised) == (None, ["user"])
    assert [(e.event, e.rows, e.users) for e in profile.events] == [("open", 2, None), ("buy", 1, None)]


def test_a_file_without_a_time_column_lists_users_and_no_times(tmp_path: Path) -> None:
    # u1 and u2 did one event each; nothing parses as a time, so no span and no first/last seen
    path = export(tmp_path, "user_id,event\nu1,open\nu2,buy\n")
    lines = profiled(str(path))
    assert lines[0] == "2 rows in 1 file, 2 users"
    assert lines[6:8] == [
        "No time column recognised; the file has: user_id, event",
        "  Map the column that holds event times with `columns.time` in the journey YAML.",
    ]
    assert lines[-2:] == [
        "buy        1       1            –           –",
        "open       1       1            –           –",
    ]


def test_a_file_without_an_event_column_profiles_users_and_time_span(tmp_path: Path) -> None:
    # both columns are named for their roles, so nothing is left to be the event
    path = export(tmp_path, "user_id,timestamp\nu1,2026-01-01T10:00:00Z\nu2,2026-01-02T10:00:00Z\n")
    lines = profiled(str(path))
    assert lines[0] == "2 rows in 1 file, 2 users, from 2026-01-01 10:00 to 2026-01-02 10:00 UTC"
    assert lines[-2:] == [  # and no events table: there is no event to list
        "No event column recognised; the file has: user_id, timestamp",
        "  Map the column that holds event names with `columns.event` in the journey YAML.",
    ]
    profile = profile_events([path])
    assert (profile.events, profile.distinct_events, profile.unrecognised) == ([], 0, ["event"])


def test_a_file_with_one_column_takes_it_as_the_event_and_names_both_missing_roles(tmp_path: Path) -> None:
    # "foo" is no role's name and does not parse as time; the fewest distinct values make the event
    path = export(tmp_path, "foo\na\nb\na\n")
    lines = profiled(str(path))
    assert lines[0] == "3 rows in 1 file"
    assert lines[4] == "foo      event          2       0   a      "
    assert lines[5:9] == [
        "Only one column: if its lines hold more fields, give their delimiter with --delimiter.",
        "No user or time column recognised; the file has: foo",
        "  Map the column that holds user ids with `columns.user` in the journey YAML.",
        "  Map the column that holds event times with `columns.time` in the journey YAML.",
    ]
    assert lines[-2:] == [
        "a          2       –            –           –",
        "b          1       –            –           –",
    ]


def test_columns_without_values_take_no_role(tmp_path: Path) -> None:
    # neither name says a role and neither has a value to recognise one by
    lines = profiled(str(export(tmp_path, "foo,bar\n,\n,\n")))
    assert lines[0] == "2 rows in 1 file"
    assert lines[6:] == [
        "No user, time or event column recognised; the file has: foo, bar",
        "  Map the column that holds user ids with `columns.user` in the journey YAML.",
        "  Map the column that holds event times with `columns.time` in the journey YAML.",
        "  Map the column that holds event names with `columns.event` in the journey YAML.",
    ]


def test_a_file_whose_time_column_has_another_name_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a.csv's "timestamp" is the time over both files; b.csv calls it "time", a property here, so
    # b.csv's row has no first or last seen and the span is a.csv's row alone
    export(tmp_path, "user_id,timestamp,event\nu1,2026-01-01T10:00:00Z,open\n", "a.csv")
    export(tmp_path, "user_id,time,event\nu2,2026-01-05T10:00:00Z,buy\n", "b.csv")
    monkeypatch.chdir(tmp_path)  # short names, so no line wraps
    lines = profiled("*.csv")
    assert lines[0] == "2 rows in 2 files, 2 users, from 2026-01-01 10:00 to 2026-01-01 10:00 UTC"
    assert lines[4:8] == [
        "user_id     user              2       0   u1                  ",
        "timestamp   time              1       1   2026-01-01T10:00:00Z",
        "event       event             2       0   open                ",
        "time        property          1       1   2026-01-05T10:00:00Z",
    ]
    assert lines[8:10] == [
        "b.csv has no timestamp column: its rows are profiled without it",
        "  A journey maps the same column names in every file: rename them in the export.",
    ]
    assert lines[-2:] == [
        "buy        1       1                  –                  –",
        "open       1       1   2026-01-01 10:00   2026-01-01 10:00",
    ]


def test_an_entirely_empty_user_column_counts_no_users_and_says_so(tmp_path: Path) -> None:
    # user_id is named for the role but holds nothing: 0 users, not 1 user "empty"
    path = export(
        tmp_path, "user_id,timestamp,event\n,2026-01-01T10:00:00Z,open\n,2026-01-02T10:00:00Z,buy\n"
    )
    lines = profiled(str(path))
    assert lines[0] == "2 rows in 1 file, 0 users, from 2026-01-01 10:00 to 2026-01-02 10:00 UTC"
    assert lines[4] == "user_id     user           0       2                       "
    assert lines[7:9] == [
        "The user column user_id is empty on every row",
        "  Map the column that holds user ids with `columns.user` in the journey YAML.",
    ]
    assert [(e.event, e.users) for e in profile_events([path]).events] == [("buy", 0), ("open", 0)]


def test_an_empty_column_is_never_guessed_for_a_role(tmp_path: Path) -> None:
    # "notes" has no value: with one distinct value (the empty one) counted, it was taken as the
    # event; now "what" (2 distinct) is the event and "who" (3) the user
    path = export(
        tmp_path,
        "who,when,what,notes\na,1767261600,open,\nb,1767261601,open,\nc,1767261602,buy,\n",
    )
    roles = [(c.column, c.role) for c in profile_events([path]).columns]
    assert roles == [("who", "user"), ("when", "time"), ("what", "event"), ("notes", "property")]


def test_time_values_that_do_not_parse_are_counted_with_the_time_format_hint(tmp_path: Path) -> None:
    # rows 1 and 3 are day/month text that `auto` does not read; only row 2 gives a time
    path = export(
        tmp_path,
        "user_id,date,event\nu1,01/02/2026 10:00,open\n"
        "u2,2026-01-03T10:00:00Z,buy\nu1,13/02/2026 10:00,buy\n",
    )
    lines = profiled(str(path))
    assert lines[0] == "3 rows in 1 file, 2 users, from 2026-01-03 10:00 to 2026-01-03 10:00 UTC"
    assert lines[7:9] == [
        "The time column date does not parse on 2 of 3 rows",
        "  If those rows hold times, set `time_format` in the journey YAML to their strftime layout,"
        " e.g. '%d/%m/%Y %H:%M'.",
    ]
    assert lines[-2:] == [
        "buy        2       2   2026-01-03 10:00   2026-01-03 10:00",
        "open       1       1                  –                  –",
    ]


def test_a_parquet_file_with_typed_columns_is_profiled_like_text(tmp_path: Path) -> None:
    # integer ids, naive datetimes (read as UTC) and a float with one null, as Parquet stores them
    path = tmp_path / "events.parquet"
    pl.DataFrame(
        {
            "user_id": [1, 2, 2],
            "timestamp": [datetime(2026, 1, 1, 10), datetime(2026, 1, 2), datetime(2026, 1, 3)],
            "event": ["open", "buy", "open"],
            "amount": [1.5, None, 3.0],
        }
    ).write_parquet(path)
    lines = profiled(str(path))
    assert lines[0] == "3 rows in 1 file, 2 users, from 2026-01-01 10:00 to 2026-01-03 00:00 UTC"
    assert lines[4:8] == [
        "user_id     user              2       0   1                         ",
        "timestamp   time              3       0   2026-01-01 10:00:00.000000",
        "event       event             2       0   open                      ",
        "amount      property          2       1   1.5                       ",
    ]
    profile = profile_events([path])
    assert (profile.first_seen, profile.last_seen) == (
        datetime(2026, 1, 1, 10, tzinfo=UTC),
        datetime(2026, 1, 3, tzinfo=UTC),
    )
    assert [(e.event, e.rows, e.users) for e in profile.events] == [("open", 2, 2), ("buy", 1, 1)]


def test_list_and_struct_columns_are_profiled_as_json(tmp_path: Path) -> None:
    # once "cannot read the events: cannot cast List type" (exit 2) for a column no role needs
    path = tmp_path / "events.parquet"
    pl.DataFrame(
        {
            "user_id": ["u1", "u2"],
            "timestamp": ["2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z"],
            "event": ["open", "buy"],
            "tags": [["a", "b"], None],
            "device": [None, {"category": "mobile", "beta": True}],
        }
    ).write_parquet(path)
    assert [line.rstrip() for line in profiled(str(path))[7:9]] == [
        'tags        property          1       1   ["a","b"]',
        'device      property          1       1   {"category":"mobile","beta":true}',
    ]


def test_an_empty_file_is_refused_with_one_message() -> None:
    assert refused(str(HOSTILE / "empty.csv")) == (
        f"error: {HOSTILE / 'empty.csv'}: the file is empty\n"
        "  hint: export the events again, with a header row\n"
    )


def test_a_header_only_file_is_refused_with_one_message() -> None:
    assert refused(str(HOSTILE / "header_only.csv")) == (
        f"error: {HOSTILE / 'header_only.csv'}: the file has a header but no event rows\n"
        "  hint: export the events again, with their rows\n"
    )


def test_several_header_only_files_are_refused_together(tmp_path: Path) -> None:
    export(tmp_path, "timestamp,event\n", "a.csv")
    export(tmp_path, "timestamp,event\n", "b.csv")
    assert refused(str(tmp_path / "*.csv")) == (
        f"error: {tmp_path / 'a.csv'}, {tmp_path / 'b.csv'}: the 2 files have a header but no event rows\n"
        "  hint: export the events again, with their rows\n"
    )


def test_text_that_is_not_utf8_is_refused_with_the_encoding_hint(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("user_id,timestamp,event\nu1,2026-01-01T10:00:00Z,café\n".encode("latin-1"))
    assert refused(str(path)) == (
        f"error: {path}: cannot read the events: invalid utf-8 sequence\n"
        "  hint: check the quoting and the delimiter (--delimiter); "
        "for text that is not UTF-8 pass --encoding (e.g. latin-1)\n"
    )
    assert profiled(str(path), "--encoding", "latin-1")[-1].startswith("café ")


def test_a_glob_matching_nothing_is_refused_with_one_message(tmp_path: Path) -> None:
    pattern = str(tmp_path / "exports" / "*.csv")
    assert refused(pattern) == (
        f"error: {pattern}: no file matches this pattern\n  hint: check the path and quote the glob\n"
    )


def test_init_comments_on_the_roles_it_could_not_recognise(tmp_path: Path) -> None:
    # the starter YAML keeps the default name for the missing role, and says to replace it
    code, out, _ = run("init", str(export(tmp_path, "foo\na\nb\n")))
    assert code == 0
    assert out.splitlines()[2:7] == [
        '# No user column recognised among "foo": set `columns.user` to the column that holds user ids.',
        '# No time column recognised among "foo": set `columns.time` to the column that holds event times.',
        "name: Export",
        "columns:",
        "  user: user_id",
    ]


def test_init_leaves_out_a_column_named_like_journeyctls_own(tmp_path: Path) -> None:
    # "timestamp" is the time, so "ts" stays free: as a property the YAML would be refused (it was
    # an internal error, exit 3); "session" is a property, "session_id" the session
    path = export(
        tmp_path, "user_id,timestamp,ts,event,session_id,session\nu1,2026-01-01T10:00:00Z,x,a,s1,s\n"
    )
    code, out, _ = run("init", str(path))
    assert code == 0
    assert out.splitlines()[2] == (
        '# Not kept as a property: "ts" is a name journeyctl gives its own columns'
        " (rename it in the file to keep it)."
    )
    assert "  properties: [session]" in out.splitlines()
    config = tmp_path / "journey.yaml"
    config.write_text(out)
    assert run("validate", "-c", str(config), str(path))[0] == 0


def test_an_early_year_keeps_four_digits(tmp_path: Path) -> None:
    # a default date such as 0001-01-01 is what a profile should make easy to spot
    path = export(tmp_path, "user_id,timestamp,event\nu1,0001-01-01T00:00:00Z,a\nu2,2026-01-01T10:00:00Z,b\n")
    assert (
        profiled(str(path))[0] == "2 rows in 1 file, 2 users, from 0001-01-01 00:00 to 2026-01-01 10:00 UTC"
    )


_START = datetime(2026, 1, 1, 10, tzinfo=UTC)
# a time cell: one of four instants (ties are common), empty, or text that does not parse
_TIMES = st.one_of(
    st.integers(0, 3).map(lambda h: _START + timedelta(hours=h)), st.sampled_from([None, "soon"])
)


@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {
                "user_id": st.sampled_from(["u1", "u2", "u3", None]),
                "timestamp": _TIMES,
                "event": st.sampled_from(["a", "b", None]),
            }
        ),
        min_size=1,
        max_size=8,
    ),
    dropped=st.sampled_from([(), ("user_id",), ("timestamp",), ("user_id", "timestamp")]),
)
def test_the_event_listing_agrees_with_the_definition(
    rows: list[dict[str, Any]], dropped: tuple[str, ...]
) -> None:
    header = [c for c in ("user_id", "timestamp", "event") if c not in dropped]

    def cell(value: datetime | str | None) -> str:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(value, datetime) else (value or "")

    text = ",".join(header) + "\n" + "".join(",".join(cell(r[c]) for c in header) + "\n" for r in rows)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.csv"
        path.write_text(text)
        profile = profile_events([path])
    # the rows as the reference reads them: the file's columns only, "soon" does not parse
    kept = [{c: r[c] for c in header} for r in rows]
    for row in kept:
        if "timestamp" in row:
            time = row.pop("timestamp")
            row["ts"] = time if isinstance(time, datetime) else None
    expected = reference.event_profile(kept)
    assert {e.event: (e.rows, e.users, e.first_seen, e.last_seen) for e in profile.events} == expected
    assert [e.event for e in profile.events] == sorted(expected, key=lambda e: (-expected[e][0], e))
    assert (profile.rows, profile.distinct_events) == (len(rows), len(expected))
    assert profile.unrecognised == [
        role for role, c in (("user", "user_id"), ("time", "timestamp")) if c in dropped
    ]
    times = [r["ts"] for r in kept if r.get("ts") is not None]
    assert (profile.first_seen, profile.last_seen) == ((min(times), max(times)) if times else (None, None))
