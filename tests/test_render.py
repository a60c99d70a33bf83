"""Renderings compared with reviewed golden files; data can never turn against the reader."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from journeyctl import analyze
from journeyctl.render import Format, render
from journeyctl.render.csv import render_csv
from tests.conftest import Golden
from tests.events import journey, log

DATA = Path(__file__).parent / "data"
TINY = analyze([str(DATA / "tiny_store.csv")], DATA / "tiny_store.yaml")


@pytest.mark.parametrize("fmt", list(Format))
def test_tiny_store_renders_as_before(fmt: Format, golden: Golden) -> None:
    golden.check(f"tiny_store.{fmt}", render(TINY, fmt, width=120, color=False))


def test_narrow_table_drops_the_bar_but_keeps_every_number(golden: Golden) -> None:
    golden.check("tiny_store.narrow.table", render(TINY, Format.table, width=80, color=False))


HOSTILE = journey(
    """
name: "Shop \\e]0;pwned\\a"
stages:
  - {id: a, label: "=HYPERLINK(\\"http://x\\")", match: [{events: [x]}]}
  - {id: b, label: "B \\e[31mred\\e[0m", match: [{events: [y]}]}
"""
)


def test_terminal_output_strips_escape_sequences_from_labels() -> None:
    result = analyze(log(("u", 0, "x"), ("u", 1, "y")), HOSTILE)
    text = render(result, Format.table, width=120, color=False)
    assert "\x1b" not in text and "\x07" not in text
    assert "B [31mred[0m" in text  # the visible characters stay, inert


def test_csv_cells_cannot_run_as_formulas() -> None:
    result = analyze(log(("u", 0, "x"), ("u", 1, "y")), HOSTILE)
    rows = list(csv.DictReader(io.StringIO(render_csv(result))))
    assert rows[0]["label"] == '\'=HYPERLINK("http://x")'
    assert rows[1]["label"] == "B [31mred[0m"  # no escape characters either


FOCUSED = analyze(
    log(
        ("u1", 0, "a", "email"),
        ("u1", 10, "b", "email"),
        ("u1", 20, "\x1b[31mred", "email"),  # an event name trying to recolour the terminal
        ("u2", 0, "a", "email"),
        ("u2", 10, "b", "email"),
        ("u3", 0, "a", "email"),
        ("u3", 10, "b", "email"),
        ("u3", 20, "c", "email"),
        ("u4", 0, "a", "social"),  # filtered out
        ("u5", 86400 + 5, "a", "email"),  # window open at the end: pending at b
        ("zz", 86400 + 10, "q", "email"),
        properties=("channel",),
    ),
    journey(
        """
funnel: {window: 1d}
columns: {properties: [channel]}
stages:
  - {id: visit, match: [{events: [a]}]}
  - {id: cart, match: [{events: [b]}]}
  - {id: buy, match: [{events: [c]}]}
"""
    ),
    where=["channel in (email, 'paid search')"],
    since="2026-03-02",
    exclude_pending=True,
    after_drop_off="cart",
)


def test_filters_pending_and_next_events_render_as_before(golden: Golden) -> None:
    text = render(FOCUSED, Format.table, width=100, color=False)
    golden.check("focused.table", text)
    assert "\x1b" not in text and "[31mred" in text


def test_a_breakdown_column_named_like_markup_is_shown_as_named() -> None:
    # a property called "[bold]ch" heads its breakdown's first column as it is, not as bold "ch"
    events = log(("u1", 0, "x", "web"), ("u1", 1, "y"), properties=("[bold]ch",))
    config = journey('columns: {properties: ["[bold]ch"]}\nbreakdowns: ["[bold]ch"]\nstages:\n'
                     "  - {id: a, match: [{events: [x]}]}\n  - {id: b, match: [{events: [y]}]}")  # fmt: skip
    lines = render(analyze(events, config), Format.table, width=100, color=False).splitlines()
    start = lines.index("By [bold]ch (first touch; ▼/▲ significantly worse/better than the rest)")
    assert [line.rstrip() for line in lines[start + 1 : start + 4]] == [
        "[bold]ch  A         B",
        "─────────────────────",
        "web       1  1 100.0%",
    ]


def test_a_held_property_named_like_markup_and_escapes_is_inert_wherever_the_unit_is_named() -> None:
    # the unit is "<hold column> values": the pending note, the breakdown's note and the
    # next-event table name it; u1 converts, u2 drops off (next event z), u3 is still pending
    events = log(("u1", 0, "x", "web", "k"), ("u1", 1, "y", None, "k"), ("u2", 0, "x", "web", "k"),
                 ("u2", 2, "z", None, "k"), ("u3", 86400, "x", "web", "k"),
                 properties=("ch", "[bold]c\x1b[31m"))  # fmt: skip
    config = journey(
        'funnel: {window: 1d, hold: ["[bold]c\\e[31m"]}\ncolumns: {properties: [ch, "[bold]c\\e[31m"]}\n'
        "breakdowns: [ch]\nstages:\n  - {id: a, match: [{events: [x]}]}\n  - {id: b, match: [{events: [y]}]}"
    )
    text = render(analyze(events, config, after_drop_off="a"), Format.table, width=200, color=False)
    assert "\x1b" not in text
    assert "\nPending = [bold]c[31m values not at the stage yet" in text
    assert "\nno test below 30 [bold]c[31m values per group\n" in text
    assert "\nNext event  [bold]c[31m values   Share" in text
