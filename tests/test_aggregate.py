"""Stage metrics from the funnel facts: pending units and ``--exclude-pending`` by hand."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeyctl import analyze, check
from journeyctl.filters import parse_where
from tests import reference
from tests.events import funnel, log
from tests.strategies import event_logs
from tests.test_funnel_property import OVERLAPPING

DAY = 86400
WINDOW = 10 * DAY
END = 15 * DAY  # the last timestamp of EVENTS: z's event

# window 10d, data end day 15: an entry at day 5 has its window close exactly at the end
# (entry + window = end: closed, so lost); one second later it is still open (pending)
EVENTS = log(
    ("u1", 0, "a"),
    ("u1", DAY, "b"),
    ("u1", 2 * DAY, "c"),  # level 3
    ("u2", 0, "a"),
    ("u2", DAY, "b"),  # level 2, window closed at day 10: lost before c
    ("u3", END - WINDOW, "a"),  # level 1, window closes exactly at the end: lost before b
    ("u4", END - WINDOW + 1, "a"),  # level 1, window open one second past the end: pending at b
    ("u5", END - WINDOW + 1, "a"),
    ("u5", 6 * DAY, "b"),  # level 2, window open: pending at c
    ("u6", 14 * DAY, "a"),
    ("u6", 14 * DAY, "b"),
    ("u6", 14 * DAY, "c"),  # level 3
    ("z", END, "x"),  # never enters; marks the end of the data
)
CONFIG = funnel("a", "b", "c", window="10d")


def test_pending_counts_only_windows_open_past_the_end_of_the_data() -> None:
    result = analyze(EVENTS, CONFIG)
    assert [(s.users, s.lost, s.pending) for s in result.stages] == [(6, None, 0), (4, 2, 1), (2, 2, 1)]
    # without the option pending units count as lost: conversion 4/6 and 2/4
    assert [s.conversion for s in result.stages] == [None, pytest.approx(4 / 6), 0.5]
    assert result.overall_conversion == pytest.approx(2 / 6)
    assert result.exclude_pending is False


def test_exclude_pending_takes_them_out_of_each_denominator() -> None:
    result = analyze(EVENTS, CONFIG, exclude_pending=True)
    b, c = result.stages[1], result.stages[2]
    # b: 4 / (6 − 1 pending) = 0.8; lost 6 − 1 − 4 = 1 (u3); from start 4 / (6 − 1)
    assert (b.users, b.pending, b.lost) == (4, 1, 1)
    assert (b.conversion, b.drop_off, b.from_start) == (0.8, pytest.approx(0.2), 0.8)
    # c: 2 / (4 − 1 pending) = 2/3; lost 4 − 1 − 2 = 1 (u2); from start 2 / (6 − 1 − 1) = 0.5
    assert (c.users, c.pending, c.lost) == (2, 1, 1)
    assert (c.conversion, c.drop_off, c.from_start) == (pytest.approx(2 / 3), pytest.approx(1 / 3), 0.5)
    assert result.overall_conversion == 0.5
    assert result.stages[0].from_start == 1.0 and result.exclude_pending is True


def test_exclude_pending_changes_nothing_without_pending_units() -> None:
    events = log(("u", 0, "a"), ("u", 5, "b"), ("v", 0, "a"), ("z", 20 * DAY, "x"))
    plain, excluded = analyze(events, CONFIG), analyze(events, CONFIG, exclude_pending=True)
    assert plain.stages == excluded.stages


def test_everyone_pending_leaves_the_conversion_undefined() -> None:
    # v's window is open and nobody else is in the denominator: 0 / 0
    events = log(("v", 0, "a"), ("z", DAY, "x"))
    stage = analyze(events, CONFIG, exclude_pending=True).stages[1]
    assert (stage.pending, stage.lost, stage.conversion, stage.drop_off, stage.from_start) == (
        1,
        0,
        None,
        None,
        None,
    )


def test_check_judges_kpis_without_pending_when_asked() -> None:
    kpi = ["stages.s2.conversion>=0.8"]
    assert check(EVENTS, CONFIG, kpis=kpi).exit_code == 1  # 4/6 counted with the pending unit
    assert check(EVENTS, CONFIG, kpis=kpi, exclude_pending=True).exit_code == 0  # 4/5


FILTERS = ["p = x", "p != y", "p in (x, y)", "p not in (x)"]


@settings(max_examples=60)
@given(
    events=event_logs(max_users=4, max_events=12, span_s=40),
    where=st.lists(st.sampled_from(FILTERS), max_size=2),
    exclude_pending=st.booleans(),
)
def test_stage_metrics_agree_with_the_definition(
    events: pl.DataFrame, where: list[str], exclude_pending: bool
) -> None:
    config = OVERLAPPING  # window 10s over 40 s: windows both closed and open at the end
    result = analyze(events, config, where=where, exclude_pending=exclude_pending)
    rows = events.rows(named=True)
    filters = [(f.column, f.condition) for f in (parse_where(text, config) for text in where)]
    kept = [r for r in rows if reference.passes(r, filters)]
    expected = reference.stage_table(
        kept, config, data_end=max(r["ts"] for r in rows), exclude_pending=exclude_pending
    )
    got = [
        {k: getattr(s, k) for k in ("users", "pending", "lost", "conversion", "from_start")}
        for s in result.stages
    ]
    assert got == [
        {k: v if not isinstance(v, float) else pytest.approx(v) for k, v in e.items()} for e in expected
    ]
