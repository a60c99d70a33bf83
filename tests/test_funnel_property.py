"""The ordered funnel against the brute-force reference on random small event logs."""

from __future__ import annotations

import itertools

import polars as pl
import pytest
from hypothesis import given

from journeyctl import analyze
from journeyctl.api import funnel_levels
from journeyctl.config.models import JourneyConfig
from journeyctl.facts import prepare_events, user_levels
from tests import reference
from tests.events import journey
from tests.strategies import event_logs

OVERLAPPING = journey(
    """
funnel: {window: 10s}
columns: {properties: [p]}
stages:
  - {id: s1, match: [{events: [a]}]}
  - {id: s2, match: [{events: [b]}, {events: [a], where: {p: x}}]}
  - {id: s3, match: [{events: [b, c]}]}
  - {id: s4, match: [{events: [c]}, {events: [d], where: {p: {not: y}}}]}
"""
)
REPEATED = journey(
    """
funnel: {window: 20s}
stages:
  - {id: first, match: [{events: [a]}]}
  - {id: again, match: [{events: [a]}]}
  - {id: third, match: [{events: [a, b]}]}
  - {id: other, match: [{events: [c]}]}
"""
)
JOURNEYS = {"overlapping": OVERLAPPING, "repeated": REPEATED}


def users_per_stage(events: pl.DataFrame, config: JourneyConfig) -> list[int]:
    return [stage.users for stage in analyze(events, config).stages]


@pytest.mark.parametrize("name", JOURNEYS)
@given(events=event_logs())
def test_funnel_agrees_with_the_definition(name: str, events: pl.DataFrame) -> None:
    config = JOURNEYS[name]
    users = users_per_stage(events, config)
    assert users == reference.users_per_stage(events.rows(named=True), config)
    assert all(a >= b for a, b in itertools.pairwise(users))  # a funnel never widens
    shuffled = events.sample(fraction=1.0, shuffle=True, seed=1)
    assert users_per_stage(shuffled, config) == users


@pytest.mark.parametrize("name", JOURNEYS)
@given(events=event_logs(max_users=3, max_events=12))
def test_reported_path_reaches_the_level_earliest_then_latest_entry(name: str, events: pl.DataFrame) -> None:
    config = JOURNEYS[name]
    levels = funnel_levels(events, config)
    for user, user_rows in reference.by_user(events.rows(named=True)).items():
        level, t1, t_last = reference.best_path(user_rows, config)
        row = levels.row(by_predicate=pl.col("user_id") == user, named=True)
        assert row["level"] == level
        if level:
            assert t1 is not None and t_last is not None
            assert row["t0"] == int(t1.timestamp() * 1_000_000)
            assert row[f"t{level - 1}"] == int(t_last.timestamp() * 1_000_000)


@pytest.mark.parametrize("name", JOURNEYS)
@given(events=event_logs(max_users=3, max_events=12))
def test_reported_rows_are_a_valid_path(name: str, events: pl.DataFrame) -> None:
    config = JOURNEYS[name]
    prepared = prepare_events(events, config)
    window_us = round(config.funnel.window.total_seconds() * 1_000_000)
    levels = user_levels(prepared, n_stages=len(config.stages), window_us=window_us)
    ts = prepared["ts"].dt.epoch("us").to_list()
    mask = prepared["stage_mask"].to_list()
    for unit, level in enumerate(levels.level):
        rows = [int(r) for r in levels.rows[unit]]
        assert all(r == -1 for r in rows[level:])
        path = rows[:level]
        assert len(set(path)) == level  # one row fills at most one step
        for step, row in enumerate(path):
            assert mask[row] >> step & 1
            assert ts[row] == levels.path[unit, step]
