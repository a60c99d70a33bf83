"""Hypothesis strategies: small event logs dense in the funnel's edge cases (equal
timestamps, repeated events, overlapping stages, rows in any order)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl
from hypothesis import strategies as st

from tests.events import START

EVENTS = ("a", "b", "c", "d")


@st.composite
def event_logs(
    draw: st.DrawFn, *, max_users: int = 5, max_events: int = 14, span_s: int = 30
) -> pl.DataFrame:
    """Canonical frames with users u0…, seconds in [0, span_s] (so ties are common),
    events a–d and a property ``p`` in {x, y, null}."""
    rows: list[dict[str, Any]] = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "user_id": st.sampled_from([f"u{i}" for i in range(max_users)]),
                    "ts": st.integers(0, span_s).map(lambda s: START + timedelta(seconds=s)),
                    "event": st.sampled_from(EVENTS),
                    "p": st.sampled_from(["x", "y", None]),
                }
            ),
            min_size=1,
            max_size=max_events,
        )
    )
    schema = {"user_id": pl.String, "ts": pl.Datetime("us", "UTC"), "event": pl.String, "p": pl.String}
    return pl.DataFrame(rows, schema=schema)
