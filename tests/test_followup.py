"""After a drop-off (the next events) and the users behind a number (exported ids), by hand."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings

from journeyctl import UsageError, analyze
from journeyctl.result import NextEvent
from tests import reference
from tests.events import funnel, log
from tests.strategies import event_logs
from tests.test_funnel_property import OVERLAPPING

DAY = 86400
END = 2 * DAY  # the data ends with zz's event
CONFIG = funnel("a", "b", "c", window="1d")
# Everyone but u7 entered at 0 (window closed at day 1 < END). Level 2 means "dropped after b".
EVENTS = log(
    ("u1", 0, "a"),
    ("u1", 10, "b"),
    ("u1", 10, "x"),  # shares the last step's timestamp: simultaneous, not after it
    ("u1", 20, "y"),
    ("u2", 0, "a"),
    ("u2", 10, "b"),  # nothing after: no further events
    ("u3", 0, "a"),
    ("u3", 10, "b"),
    ("u3", 20, "z"),
    ("u3", 20, "y"),  # two rows at the next time: the alphabetically first, y
    ("u4", 0, "a"),
    ("u4", 10, "b"),
    ("u4", 10, "b"),  # a simultaneous duplicate of the step is not after it
    ("u4", 30, "b"),  # a later b is
    ("u5", 0, "a"),
    ("u5", 10, "b"),
    ("u5", 20, "c"),  # reached c: not a drop-off
    ("u6", 0, "a"),
    ("u6", 5, "w"),  # between the steps: not after the last one
    ("u6", 10, "b"),
    ("u6", END, "v"),  # long after the window closed: still the next event
    ("u7", END - 100, "a"),
    ("u7", END - 50, "b"),  # window still open at the end: pending, left out
    ("u8", 10, "a"),
    ("u8", 10, "b"),
    ("u8", 10, "k"),  # entry, step and k share a timestamp
    ("u8", 15, "m"),
    ("u9", 10, "a"),
    ("u9", 10, "b"),
    ("u9", 10, "k"),  # only simultaneous rows: no further events
    ("zz", END, "q"),
)


def test_next_events_after_a_drop_off_by_hand() -> None:
    after = analyze(EVENTS, CONFIG, after_drop_off="s2").after_drop_off
    assert after is not None
    assert (after.stage, after.next_stage, after.units, after.pending) == ("s2", "s3", 7, 1)
    assert [(e.kind, e.event, e.units) for e in after.next_events] == [
        ("event", "y", 2),  # u1, u3
        ("none", None, 2),  # u2, u9: after a tie, "no further events" comes after the names
        ("event", "b", 1),  # u4
        ("event", "m", 1),  # u8
        ("event", "v", 1),  # u6
    ]
    assert [e.share for e in after.next_events] == [2 / 7, 2 / 7, 1 / 7, 1 / 7, 1 / 7]


def test_next_events_do_not_depend_on_row_order() -> None:
    shuffled = EVENTS.sample(fraction=1.0, shuffle=True, seed=3)
    first = analyze(EVENTS, CONFIG, after_drop_off="s2").after_drop_off
    assert analyze(shuffled, CONFIG, after_drop_off="s2").after_drop_off == first
    assert analyze(EVENTS.reverse(), CONFIG, after_drop_off="s2").after_drop_off == first


def test_drop_off_after_the_first_stage() -> None:
    # only units at level 1 with a closed window: u10 (next event: a repeated a) and u11
    events = log(
        ("u10", 0, "a"), ("u10", 50, "a"), ("u11", 0, "a"), ("u12", 0, "a"), ("u12", 9, "b"), ("zz", END, "q")
    )
    after = analyze(events, CONFIG, after_drop_off="s1").after_drop_off
    assert after is not None and (after.units, after.pending) == (2, 0)
    assert after.next_events == [
        NextEvent(kind="event", event="a", units=1, share=0.5),
        NextEvent(kind="none", event=None, units=1, share=0.5),
    ]


def test_only_the_ten_most_frequent_next_events_are_named_and_the_rest_is_other() -> None:
    # 15 drop-offs: e01 three times, e02 twice, e03…e12 once: e11 and e12 fold into other
    names = ["e01"] * 3 + ["e02"] * 2 + [f"e{i:02d}" for i in range(3, 13)]
    rows = [row for i, name in enumerate(names) for row in ((f"u{i}", 0, "a"), (f"u{i}", 1, name))]
    after = analyze(log(*rows, ("zz", END, "q")), CONFIG, after_drop_off="s1").after_drop_off
    assert after is not None and after.units == 15
    assert [(e.kind, e.event, e.units) for e in after.next_events] == [
        ("event", "e01", 3),
        ("event", "e02", 2),
        *[("event", f"e{i:02d}", 1) for i in range(3, 11)],
        ("other", None, 2),
    ]
    assert after.next_events[0].share == pytest.approx(3 / 15)
    assert sum(e.units for e in after.next_events) == 15


@pytest.mark.parametrize(
    ("stage", "message"),
    [
        ("s3", "'s3' is the last stage: nobody drops off after it"),
        ("nope", "'nope' is not a stage id"),
    ],
)
def test_after_drop_off_needs_a_stage_with_a_next_stage(stage: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        analyze(EVENTS, CONFIG, after_drop_off=stage)
    assert str(caught.value) == f"--after-drop-off: {message}\n  hint: stages with a next stage: s1, s2"


def read_ids(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_exported_user_lists_by_hand(tmp_path: Path) -> None:
    specs = {
        "reached": f"s2={tmp_path / 'reached.csv'}",
        "reached_c": f"reached:s3={tmp_path / 'buyers.csv'}",
        "dropped": f"dropped:s2={tmp_path / 'lost.csv'}",
        "pending": f" pending : s2 = {tmp_path / 'pending.csv'}",
    }
    result = analyze(EVENTS, CONFIG, export_users=list(specs.values()))
    assert read_ids(tmp_path / "reached.csv") == ["user_id", *[f"u{i}" for i in range(1, 10)]]
    assert read_ids(tmp_path / "buyers.csv") == ["user_id", "u5"]
    assert read_ids(tmp_path / "lost.csv") == ["user_id", "u1", "u2", "u3", "u4", "u6", "u8", "u9"]
    assert read_ids(tmp_path / "pending.csv") == ["user_id", "u7"]
    assert [(e.kind, e.stage, e.users) for e in result.user_exports] == [
        ("reached", "s2", 9),
        ("reached", "s3", 1),
        ("dropped", "s2", 7),
        ("pending", "s2", 1),
    ]
    # the same numbers the funnel shows: lost before s3 = dropped + pending
    assert result.stages[2].lost == 7 + 1 and result.stages[2].pending == 1


def test_exported_ids_are_sorted_and_formula_guarded(tmp_path: Path) -> None:
    events = log(("b", 0, "a"), ("=cmd|' /C calc'!A0", 0, "a"), ("A", 0, "a"), ("a,b", 0, "a"))
    analyze(events, CONFIG, export_users=[f"s1={tmp_path / 'ids.csv'}"])
    # code-point order (A < a,b < b); the formula gets a leading quote; commas are quoted
    assert (tmp_path / "ids.csv").read_text() == "user_id\n'=cmd|' /C calc'!A0\nA\n\"a,b\"\nb\n"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("s1", "--export-users 's1': expected STAGE=FILE"),
        ("=out.csv", "--export-users '=out.csv': expected STAGE=FILE"),
        ("left:s1=out.csv", "--export-users 'left:s1=out.csv': unknown list 'left'"),
        ("s9=out.csv", "--export-users 's9=out.csv': 's9' is not a stage id\n  hint: stage ids: s1, s2, s3"),
        ("dropped:s3=out.csv", "--export-users 'dropped:s3=out.csv': 's3' is the last stage"),
    ],
)
def test_export_specs_are_checked_before_reading_events(spec: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        analyze([str(tmp_path / "missing.csv")], CONFIG, export_users=[spec])
    assert str(caught.value).startswith(message)


def test_two_lists_may_not_share_a_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="this --export-users file is an input or another list's file"):
        analyze(EVENTS, CONFIG, export_users=[f"s1={tmp_path / 'a.csv'}", f"dropped:s1={tmp_path / 'a.csv'}"])
    assert not (tmp_path / "a.csv").exists()


@settings(max_examples=50)
@given(events=event_logs(max_users=4, max_events=12, span_s=40))
def test_next_events_agree_with_the_definition(events: pl.DataFrame) -> None:
    config = OVERLAPPING  # window 10s, so over 40 s some windows close and some stay open
    for stage in (1, 2, 3):
        after = analyze(events, config, after_drop_off=f"s{stage}").after_drop_off
        assert after is not None
        expected = reference.next_events(events.rows(named=True), config, stage)
        got = {(e.event if e.kind == "event" else None): e.units for e in after.next_events}
        assert got == expected  # four event names: never more than ten, so no "other"
        assert after.units == sum(expected.values())
