"""Order modes, counting units, gaps and exclusions against the brute-force reference."""

from __future__ import annotations

import itertools
from datetime import datetime

import polars as pl
import pytest
from hypothesis import given, settings

from journeyctl import analyze
from journeyctl.columns import ROW, SESSION
from journeyctl.config.models import JourneyConfig
from journeyctl.facts import ATTEMPT, prepare_events, unit_columns, unit_levels
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
    "hold_exclude_drop_user": modes_journey(
        "hold: [p], on_exclusion: drop_user, exclude: [{events: [c], between: [s1, s2]}]", ", after: 1s"
    ),
    "sessions_strict": modes_journey("order: strict, count: sessions", extra="sessions: {timeout: 4s}"),
    "exclude_keep_best": modes_journey(
        "exclude: [{events: [d], between: [s1, s3]}, {events: [c], where: {p: y}, between: [s3, s4]}]"
    ),
    "exclude_drop_user": modes_journey(
        "on_exclusion: drop_user, exclude: [{events: [d, b], between: [s2, s4]}]", ", within: 5s"
    ),
    "any": modes_journey("order: any"),
    "any_hold": modes_journey("order: any, hold: [p]"),
    "entries": modes_journey("count: entries"),
    "entries_strict_gaps": modes_journey("order: strict, count: entries", ", within: 4s"),
    "entries_any": modes_journey("order: any, count: entries"),
    "exclude_same_steps_strict": modes_journey(
        "order: strict, exclude: [{events: [d], between: [s1, s2]}, {events: [c], between: [s1, s2]}]"
    ),
}


def users_per_stage(events: pl.DataFrame, config: JourneyConfig) -> list[int]:
    return [stage.users for stage in analyze(events, config).stages]


@pytest.mark.parametrize("name", JOURNEYS)
@settings(max_examples=settings.default.max_examples // 4)  # fifteen journeys: a quarter each
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
@settings(max_examples=settings.default.max_examples // 5)
@given(events=event_logs(max_users=3, max_events=10, span_s=20))
def test_reported_paths_are_valid_and_earliest(name: str, events: pl.DataFrame) -> None:
    config = JOURNEYS[name]
    prepared = prepare_events(events, config)
    units = unit_levels(prepared, config)
    keys = unit_columns(events, prepared, units, config)
    columns = [c for c in keys.columns if c != ATTEMPT]
    # each prepared row as the original row, with the unit key it belongs to
    original = events.rows(named=True)
    rows = [original[r] for r in prepared[ROW]]
    row_keys = [
        tuple(original[r].get(c, session) for c in columns)
        for r, session in zip(prepared[ROW], prepared[SESSION], strict=True)
    ]
    expected: dict[tuple[object, ...], list[tuple[int, datetime, datetime | None]]] = {}
    for unit, level in enumerate(units.levels.level):
        filled = [int(r) for r in units.levels.rows[unit]]
        assert all(r == -1 for r in filled[level:])
        path = [rows[r] for r in filled[:level]]
        assert len(set(filled[:level])) == level  # one row fills at most one step
        key = tuple(keys.select(columns).row(unit))
        assert all(row_keys[r] == key for r in filled[:level])
        unit_rows = [row for row, row_key in zip(rows, row_keys, strict=True) if row_key == key]
        assert [int(r["ts"].timestamp() * 1_000_000) for r in path] == list(units.levels.path[unit, :level])
        if config.funnel.order == "any":  # the k-th row is when the k-th distinct stage was done
            assert level == reference.any_order_best(path, config)[0]
        else:
            assert reference.path_is_valid(path, unit_rows, config, range(len(config.funnel.exclude)))
            assert all(step in reference.stages_of(row, config) for step, row in enumerate(path))
        t_first, t_last = (path[0]["ts"], path[-1]["ts"]) if level else (None, None)
        if config.funnel.count == "entries":
            expected.setdefault(key, reference.attempts(unit_rows, config))
            ref_level, ref_entry, ref_last = expected[key][keys[ATTEMPT][unit] - 1]
            assert (level, t_last) == (ref_level, ref_last)
            assert units.levels.last_entry[unit] == int(ref_entry.timestamp() * 1_000_000)
        elif reference.unit_level(unit_rows, config) == 0:  # never entered, or removed (drop_user)
            assert (level, t_first, t_last) == (0, None, None)
        else:
            assert (level, t_first, t_last) == reference.best_path(unit_rows, config)
