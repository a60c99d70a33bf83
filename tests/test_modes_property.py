"""Order modes, counting units, gaps and exclusions against the brute-force reference."""

from __future__ import annotations

import itertools

import polars as pl
import pytest
from hypothesis import given, settings

from journeyctl import analyze
from journeyctl.config.models import JourneyConfig
from journeyctl.facts import prepare_events, unit_levels
from tests import reference
from tests.events import journey
from tests.strategies import event_logs

STAGES = """
stages:
  - {id: s1, match: [{events: [a]}]}
  - {id: s2, match: [{events: [b]}, {events: [a], where: {p: x}}]}
  - {id: s3, match: [{events: [b, c]}]%s}
  - {id: s4, match: [{events: [c]}, {events: [d], where: {p: {not: y}}}]%s}
"""


def modes_journey(funnel: str, s3: str = "", s4: str = "", extra: str = "") -> JourneyConfig:
    return journey(
        f"funnel: {{window: 12s, {funnel}}}\ncolumns: {{properties: [p]}}\n" + STAGES % (s3, s4) + extra
    )


JOURNEYS = {
    "gaps": modes_journey("order: ordered", ", within: 4s", ", after: 2s, within: 6s"),
    "strict": modes_journey("order: strict"),
    "strict_gaps": modes_journey("order: strict", ", after: 1s"),
    "sessions": modes_journey("count: sessions", extra="sessions: {timeout: 5s}"),
    "hold": modes_journey("hold: [p]"),
    "exclude_keep_best": modes_journey(
        "exclude: [{events: [d], between: [s1, s3]}, {events: [c], where: {p: y}, between: [s3, s4]}]"
    ),
    "exclude_drop_user": modes_journey(
        "on_exclusion: drop_user, exclude: [{events: [d, b], between: [s2, s4]}]", ", within: 5s"
    ),
    "exclude_same_steps_strict": modes_journey(
        "order: strict, exclude: [{events: [d], between: [s1, s2]}, {events: [c], between: [s1, s2]}]"
    ),
}


def users_per_stage(events: pl.DataFrame, config: JourneyConfig) -> list[int]:
    return [stage.users for stage in analyze(events, config).stages]


@pytest.mark.parametrize("name", JOURNEYS)
@settings(max_examples=40)  # eight journeys: keep the suite quick; HYPOTHESIS_PROFILE=deep for more
@given(events=event_logs(max_users=4, max_events=12, span_s=20))
def test_modes_agree_with_the_definition(name: str, events: pl.DataFrame) -> None:
    config = JOURNEYS[name]
    rows = events.rows(named=True)
    result = analyze(events, config)
    counts = [stage.users for stage in result.stages]
    assert counts == reference.users_per_stage(rows, config)
    assert all(a >= b for a, b in itertools.pairwise(counts))  # a funnel never widens
    assert [rule.units_touched for rule in result.exclusions] == reference.excluded_by_rule(rows, config)
    shuffled = events.sample(fraction=1.0, shuffle=True, seed=1)
    assert users_per_stage(shuffled, config) == counts


@pytest.mark.parametrize("name", JOURNEYS)
@settings(max_examples=30)
@given(events=event_logs(max_users=3, max_events=10, span_s=20))
def test_reported_paths_are_valid_and_earliest(name: str, events: pl.DataFrame) -> None:
    config = JOURNEYS[name]
    prepared = prepare_events(events, config)
    units = unit_levels(prepared, config)
    rows = prepared.rows(named=True)
    for unit, level in enumerate(units.levels.level):
        filled = [int(r) for r in units.levels.rows[unit]]
        assert all(r == -1 for r in filled[level:])
        path = [rows[r] for r in filled[:level]]
        assert len(set(filled[:level])) == level  # one row fills at most one step
        key = units.keys.row(unit)
        assert all(tuple(row[k] for k in units.keys.columns) == key for row in path)
        unit_rows = [r for r in rows if tuple(r[k] for k in units.keys.columns) == key]
        assert reference.path_is_valid(path, unit_rows, config, range(len(config.funnel.exclude)))
        for step, row in enumerate(path):
            assert step in reference.stages_of(row, config)
            assert int(row["ts"].timestamp() * 1_000_000) == units.levels.path[unit, step]
        if level:
            best = reference.best_path(unit_rows, config)
            assert (best[1], best[2]) == (path[0]["ts"], path[-1]["ts"])
