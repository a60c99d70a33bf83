"""Config errors speak YAML: file, line, path, and a hint; durations parse as people write them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from journeyctl.config.durations import format_duration, parse_duration
from journeyctl.config.loading import load_config
from journeyctl.errors import ConfigError

STAGE = "  - id: a\n    match: [{events: [x]}]\n"
CASES = {
    "misspelled_stage_key": (
        STAGE + "  - id: b\n    matches: [{events: [y]}]\n",
        "stages:\n",
        "5: stages[1].matches: Extra inputs are not permitted\n  hint: did you mean `match`?",
    ),
    "misspelled_matcher_key": (
        "  - id: a\n    match:\n      - event: [x]\n",
        "stages:\n",
        "4: stages[0].match[0].event: Extra inputs are not permitted\n  hint: did you mean `events`?",
    ),
    "duplicate_stage_id": (STAGE + STAGE, "stages:\n", "4: stages[1].id: stage id 'a' is used twice"),
    "window_not_positive": (
        STAGE,
        "funnel: {window: 0s}\nstages:\n",
        "1: funnel.window: the conversion window",
    ),
    "unreadable_duration": (
        STAGE,
        "funnel:\n  window: 3 days\nstages:\n",
        "2: funnel.window: '3 days' is not",
    ),
    "unknown_property": (
        "  - id: a\n    match: [{events: [x], where: {page: /x}}]\n",
        "stages:\n",
        "3: stages[0].match[0].where.page: property 'page' is not a mapped column",
    ),
    "unknown_time_zone": (
        STAGE,
        "timezone: Mars/Base\nstages:\n",
        "1: timezone: unknown time zone 'Mars/Base'",
    ),
    "empty_event_list": (
        "  - id: a\n    match: [{events: []}]\n",
        "stages:\n",
        "3: stages[0].match[0].events",
    ),
    "stage_without_matchers": ("  - id: a\n    match: []\n", "stages:\n", "3: stages[0].match: List should"),
    "exclusion_steps_in_reverse": (
        STAGE + "  - id: b\n    match: [{events: [y]}]\n",
        "funnel:\n  exclude:\n    - {events: [r], between: [b, a]}\nstages:\n",
        "3: funnel.exclude[0].between: 'b' does not come before 'a' in the stages",
    ),
    "exclusion_on_one_step": (
        STAGE,
        "funnel:\n  exclude:\n    - {events: [r], between: [a, a]}\nstages:\n",
        "3: funnel.exclude[0].between: 'a' does not come before 'a'",
    ),
    "gap_on_the_first_stage": (
        "  - id: a\n    within: 1h\n    match: [{events: [x]}]\n",
        "stages:\n",
        "3: stages[0].within: the first stage has no previous step",
    ),
    "after_longer_than_within": (
        STAGE + "  - id: b\n    within: 1h\n    after: 2h\n    match: [{events: [y]}]\n",
        "stages:\n",
        "6: stages[1].after: `after` is longer than `within`",
    ),
    "hold_with_sessions": (
        STAGE,
        "columns: {properties: [cart]}\nfunnel: {count: sessions, hold: [cart]}\nstages:\n",
        "2: funnel.hold: hold counts user × value and cannot be combined with count: sessions",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_config_error_names_line_path_and_hint(case: str, tmp_path: Path) -> None:
    stages, head, expected = CASES[case]
    path = tmp_path / "journey.yaml"
    path.write_text(head + stages)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}:{expected}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a\n- b\n", "the config is a list, not a mapping of keys"),
        ("", "the config is empty, not a mapping of keys"),
        ("stages: [\n", "not valid YAML"),
        ('name: !!python/object/apply:os.system ["echo hi"]\n', "YAML tag not allowed"),
    ],
)
def test_unusable_yaml_is_refused(text: str, expected: str, tmp_path: Path) -> None:
    path = tmp_path / "journey.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected):
        load_config(path)


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="expands to more than 100,000 values"):
        load_config(path)


def test_a_single_event_name_stands_for_a_list(tmp_path: Path) -> None:
    path = tmp_path / "journey.yaml"
    path.write_text("stages:\n  - id: a\n    match: [{events: x}]\n")
    assert load_config(path).stages[0].match[0].events == ["x"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("1h30m", 5400),
        ("2.5d", 216000),
        ("1w", 604800),
        (45, 45),
        ("250ms", 0.25),
    ],
)
def test_durations_parse(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["3 days", "m", "", "10", True, None, "-5m"])
def test_bad_durations_say_how_to_write_one(text: object) -> None:
    with pytest.raises(ValueError, match="write a number and a unit"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"), [(None, "–"), (45, "45s"), (1.5, "1.5s"), (7500, "2h 5m"), (90061, "1d 1h")]
)
def test_durations_format_for_people(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text
