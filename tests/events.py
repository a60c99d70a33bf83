"""Tiny event logs for hand-worked tests: rows as (user, seconds after START, event, props)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from journeyctl.config.loading import parse_config
from journeyctl.config.models import JourneyConfig

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


def log(*rows: tuple[Any, ...], properties: tuple[str, ...] = ()) -> pl.DataFrame:
    """A canonical event frame; each row is (user, seconds, event, *property values)."""
    data: dict[str, list[Any]] = {"user_id": [], "ts": [], "event": []}
    data |= {p: [] for p in properties}
    for user, seconds, event, *values in rows:
        data["user_id"].append(user)
        data["ts"].append(START + timedelta(seconds=seconds))
        data["event"].append(event)
        for prop, value in zip(properties, values + [None] * (len(properties) - len(values)), strict=True):
            data[prop].append(value)
    schema = {"user_id": pl.String, "ts": pl.Datetime("us", "UTC"), "event": pl.String}
    schema |= {p: pl.String for p in properties}
    return pl.DataFrame(data, schema=schema)


def journey(yaml_text: str) -> JourneyConfig:
    return parse_config(yaml_text, "test.yaml")


def funnel(*events: str | list[str], window: str = "30d", extra: str = "") -> JourneyConfig:
    """A journey whose stage i matches ``events[i]`` (a name or a list of names)."""
    stages = "\n".join(
        f"  - id: s{i + 1}\n    match: [{{events: {e if isinstance(e, list) else [e]}}}]"
        for i, e in enumerate(events)
    )
    return journey(f"funnel: {{window: {window}}}\nstages:\n{stages}\n{extra}")
