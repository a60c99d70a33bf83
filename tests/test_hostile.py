"""Hostile and unusual input found by driving every command with bad data, configs and
options: each is refused with one clear message and exit code 2 (never an internal error),
and nothing from the data can act on the reader's terminal."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from journeyctl.cli import app
from journeyctl.render.text import safe, visible

DATA = Path(__file__).parent / "data"
TINY = DATA / "tiny_store.csv"
TINY_YAML = DATA / "tiny_store.yaml"
STAGES = "stages:\n  - {id: a, match: [{events: [landing_view]}]}\n"
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("head", "line", "message"),
    [
        (
            "columns: {user: event, event: event}\n",
            1,
            "columns: user and event both name the column 'event'",
        ),
        (
            "columns: {properties: [channel, channel]}\n",
            1,
            "columns: property 'channel' is listed twice",
        ),
        (
            "columns: {session: sid, properties: [sid]}\n",
            1,
            "columns: property 'sid' is already the session column",
        ),
        (
            "columns: {user: uid, properties: [user_id]}\n",
            1,
            "columns: property 'user_id' has a name journeyctl gives its own columns; "
            "map it to a role (user, event, session) or rename it in the file",
        ),
        (
            "csv: {encoding: rot13}\n",
            1,
            "csv.encoding: unknown text encoding 'rot13'; use a name such as utf-8, latin-1 or cp1252",
        ),
        (
            "funnel: {window: 99999999999999999999d}\n",
            1,
            "funnel.window: '99999999999999999999d' is not a duration from 0s to 36500d (100 years)\n"
            "  hint: durations look like 90s, 30m, 2h, 14d or 1w",
        ),
        (
            "sessions: {timeout: -60}\n",
            1,
            "sessions.timeout: -60 is not a duration from 0s to 36500d (100 years)\n"
            "  hint: durations look like 90s, 30m, 2h, 14d or 1w",
        ),
    ],
)
def test_configs_that_used_to_crash_are_config_errors(
    head: str, line: int, message: str, tmp_path: Path
) -> None:
    # each of these reached Polars or the codec machinery and ended as exit 3
    config = tmp_path / "journey.yaml"
    config.write_text(head + STAGES)
    assert run("analyze", str(TINY), "-c", str(config)) == (2, "", f"error: {config}:{line}: {message}\n")


def test_a_regex_the_matching_engine_cannot_run_is_refused_when_the_config_loads(tmp_path: Path) -> None:
    # Python's re accepts look-ahead; Polars (Rust regex) refused it only while counting
    config = tmp_path / "journey.yaml"
    config.write_text(
        "columns: {properties: [channel]}\nstages:\n"
        "  - id: a\n    match: [{events: [landing_view], where: {channel: {regex: '(?=e)email'}}}]\n"
    )
    code, out, err = run("validate", str(TINY), "-c", str(config))
    assert (code, out) == (2, "")
    assert err == (
        f"error: {config}:4: stages[0].match[0].where.channel: invalid regex '(?=e)email': "
        "look-around, including look-ahead and look-behind, is not supported\n"
        "  hint: a condition is a value or {in, not, not_in, gt, gte, lt, lte, regex}; "
        "regex: no look-around\n"
    )


def test_yaml_nested_deeper_than_the_parser_recurses_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "journey.yaml"
    config.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert run("analyze", str(TINY), "-c", str(config)) == (
        2,
        "",
        f"error: {config}: the YAML nests too deeply to read\n"
        "  hint: a journey nests a few levels deep; check the brackets or pass the right file\n",
    )


def test_report_on_data_at_the_end_of_the_calendar_is_an_input_error(tmp_path: Path) -> None:
    # the week after the one holding 9999-12-31 does not exist
    events = tmp_path / "events.csv"
    events.write_text(
        "user_id,timestamp,event,channel\n"
        "u1,2026-01-01T10:00:00Z,landing_view,email\nu2,9999-12-31T23:59:59Z,landing_view,email\n"
    )
    target = tmp_path / "weekly.md"
    target.write_text("last week's report\n")
    assert run("report", str(events), "-c", str(TINY_YAML), "-o", str(target)) == (
        2,
        "",
        "error: 1 week after 9999-12-27 is outside the calendar (years 1 to 9999)\n"
        "  hint: look for timestamps near year 1 or 9999 in the data, or ask for fewer or nearer periods\n",
    )
    assert target.read_text() == "last week's report\n"


def test_control_characters_in_an_error_message_are_shown_escaped(tmp_path: Path) -> None:
    # the header is quoted in the message; its escape sequence must not reach the terminal
    events = tmp_path / "events.csv"
    events.write_text("user_id,\x1b]0;pwned\x07time,event\nu1,2026-01-01,landing_view\n")
    code, out, err = run("analyze", str(events), "-c", str(TINY_YAML))
    assert (code, out) == (2, "")
    assert err.startswith(
        f"error: {events}:1: no column 'timestamp', 'channel'; "
        "the file has: user_id, \\x1b]0;pwned\\x07time, event\n"
    )


def test_bidirectional_overrides_are_removed_from_terminal_text() -> None:
    # U+202E would show "weiv_gnidnal" as "landing_view"; Hebrew itself stays
    hebrew = "\u05e9\u05dc\u05d5\u05dd"
    assert safe(f"\u202eweiv_gnidnal {hebrew}\u2066x\u2069") == f"weiv_gnidnal {hebrew}x"
    assert visible("a\u202eb\n\x1b[2Jc") == "a\\u202eb\n\\x1b[2Jc"


def _many_names(tmp_path: Path) -> Path:
    # zeta 3 rows, eta 2, then alpha, beta, gamma 1 each: the order is rows, then name
    export = tmp_path / "export.csv"
    rows = ["zeta", "zeta", "zeta", "eta", "eta", "gamma", "beta", "alpha"]
    lines = "".join(f"u{i},2026-01-01T10:00:0{i}Z,{e}\n" for i, e in enumerate(rows))
    export.write_text("user_id,timestamp,event\n" + lines)
    return export


def test_events_lists_the_most_frequent_names_and_counts_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an export with a million distinct names once took minutes to list; now the listing is capped
    monkeypatch.setattr("journeyctl.onboarding.LISTED_EVENTS", 2)
    code, out, err = run("events", str(_many_names(tmp_path)))
    assert (code, err) == (0, "")
    listed = [line.split()[0] for line in out.split("Events (5)\n")[1].splitlines()[2:4]]
    assert listed == ["zeta", "eta"]
    assert out.endswith("… and 3 less frequent events, not listed\n")


def test_init_names_some_unplaced_events_and_counts_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("journeyctl.onboarding.LISTED_UNPLACED", 2)
    code, out, _ = run("init", str(_many_names(tmp_path)))
    assert code == 0
    assert out.endswith('#   "zeta"\n#   "eta"\n#   … and 3 less frequent ones\n')


@pytest.mark.parametrize(
    ("options", "message"),
    [
        # the config was loaded before the user list was written over it
        (("analyze", "--export-users", "awareness={c}"), "-c and --export-users name the same file"),
        (("analyze", "--bad-rows", "quarantine={c}"), "-c and --bad-rows quarantine name the same file"),
        (("check", "--kpi", "users>=1", "--junit", "{c}"), "-c and --junit name the same file"),
        (("convert", "-o", "{c}"), "-c and -o name the same file"),
        (("report", "-o", "{c}"), "-c and -o name the same file"),
    ],
)
def test_no_output_replaces_the_config(options: tuple[str, ...], message: str, tmp_path: Path) -> None:
    config = tmp_path / "journey.yaml"
    config.write_text(TINY_YAML.read_text())
    command, *rest = (o.format(c=config) for o in options)
    assert run(command, str(TINY), "-c", str(config), *rest) == (
        2,
        "",
        f"error: {config}: {message}\n  hint: give each its own file\n",
    )
    assert config.read_text() == TINY_YAML.read_text()


@pytest.mark.parametrize(
    ("command", "analysis"),
    [
        (("analyze", "-o", "{out}"), "journeyctl.api.analyze"),
        (("check", "--kpi", "users>=1", "--junit", "{out}"), "journeyctl.api.check"),
        (("report", "-o", "{out}"), "journeyctl.api.report"),
        (("convert", "-o", "{out}"), "journeyctl.api.read_checked_events"),
    ],
)
def test_an_output_that_cannot_be_written_is_refused_before_the_analysis(
    command: tuple[str, ...], analysis: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the analysis ran")

    monkeypatch.setattr(analysis, never)
    out = tmp_path / "missing" / "result.out"
    name, *rest = (part.format(out=out) for part in command)
    assert run(name, str(TINY), "-c", str(TINY_YAML), *rest) == (
        2,
        "",
        f"error: {out}: the output folder does not exist\n  hint: create the folder first\n",
    )


def test_quarantine_and_output_cannot_share_a_file(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("kept\n")
    code, out, err = run(
        "analyze", str(TINY), "-c", str(TINY_YAML), "--bad-rows", f"quarantine={target}", "-o", str(target)
    )
    assert (code, out) == (2, "")
    message = "-o and --bad-rows quarantine name the same file"
    assert err == f"error: {target}: {message}\n  hint: give each its own file\n"
    assert target.read_text() == "kept\n"


def test_a_file_named_parquet_that_is_not_parquet_is_an_input_error(tmp_path: Path) -> None:
    # its rows are counted (to size the buckets) before it is read: that failed as exit 3
    fake = tmp_path / "events.parquet"
    fake.write_text("user_id,timestamp,event\n")
    code, out, err = run("analyze", str(fake), "-c", str(TINY_YAML))
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {fake}: cannot read the events: parquet: File out of specification")


@pytest.mark.parametrize("command", ["analyze", "check", "report", "convert", "validate"])
def test_config_and_events_cannot_both_come_from_standard_input(command: str, tmp_path: Path) -> None:
    # the config would consume the stream and the events read nothing ("the file is empty")
    extra = ["-o", str(tmp_path / "out.parquet")] if command == "convert" else []
    result = runner.invoke(app, [command, "-", "-c", "-", *extra], input=TINY_YAML.read_text())
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        "error: -: -c - and the events - would both read standard input\n"
        "  hint: give the config or the events as a file\n"
    )
