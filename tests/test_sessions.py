"""Sessions, bounce rate, and the cart, checkout and repeat-purchase rates, worked by hand."""

from __future__ import annotations

import polars as pl
from hypothesis import given

from journeyctl import analyze
from tests import reference
from tests.events import journey, log
from tests.strategies import event_logs

MIN = 60
STORE = journey(
    """
columns: {properties: [channel]}
sessions: {timeout: 30m}
stages:
  - {id: visit, match: [{events: [view]}]}
  - {id: cart, match: [{events: [add]}]}
cart: {add: [add], checkout: [checkout], purchase: [buy]}
"""
)


def test_inactivity_longer_than_the_timeout_starts_a_session() -> None:
    # gaps: 10m (same session), 35m (new), 30m exactly (same session)
    events = log(("u", 0, "view"), ("u", 10 * MIN, "view"), ("u", 45 * MIN, "view"), ("u", 75 * MIN, "add"))
    result = analyze(events, STORE)
    assert (result.sessions, result.bounced_sessions, result.bounce_rate) == (2, 0, 0.0)


def test_single_event_sessions_bounce() -> None:
    events = log(
        ("u", 0, "view"), ("v", 0, "view"), ("v", 60, "add"), ("w", 0, "view"), ("w", 3 * 3600, "view")
    )
    result = analyze(events, STORE)
    assert (result.sessions, result.bounced_sessions, result.bounce_rate) == (4, 3, 0.75)


def test_mapped_session_column_wins_over_inactivity() -> None:
    # one session id spanning a 2-hour gap stays one session; two ids a second apart are two
    events = log(
        ("u", 0, "view", "s1"),
        ("u", 2 * 3600, "view", "s1"),
        ("v", 0, "view", "s2"),
        ("v", 1, "add", "s3"),
        properties=("session_id",),
    )
    result = analyze(events, STORE)
    assert (result.sessions, result.bounced_sessions) == (3, 2)


def test_engaged_rule_counts_duration_events_or_key_events() -> None:
    config = journey(
        """
stages: [{id: visit, match: [{events: [view]}]}]
bounce: {engaged: {min_duration: 10s, min_events: 3, key_events: [add]}}
"""
    )
    events = log(
        ("long", 0, "view"),
        ("long", 10, "view"),  # lasts 10 s: engaged
        ("short", 0, "view"),
        ("short", 9, "view"),  # 9 s, 2 events: bounced
        ("many", 0, "view"),
        ("many", 1, "view"),
        ("many", 2, "view"),  # 3 events: engaged
        ("key", 0, "add"),  # one key event: engaged
    )
    result = analyze(events, config)
    assert (result.sessions, result.bounced_sessions) == (4, 1)
    assert "engaged session" in result.bounce_rule


def test_bounce_by_landing_channel_and_stage() -> None:
    events = log(
        ("u", 0, "view", "email"),
        ("u", 5, "add", "email"),
        ("v", 0, "view", "social"),
        ("w", 0, "other", "social"),
        properties=("channel",),
    )
    result = analyze(events, STORE)
    by_channel = {g.value: (g.sessions, g.bounced_sessions) for g in result.bounce_by_landing_channel}
    by_stage = {g.value: (g.sessions, g.bounced_sessions) for g in result.bounce_by_landing_stage}
    assert by_channel == {"email": (1, 0), "social": (2, 2)}
    assert by_stage == {"visit": (2, 1), "(none)": (1, 1)}


def test_cart_is_purchased_by_a_purchase_at_or_after_its_first_add() -> None:
    events = log(
        ("same_time", 0, "add"),
        ("same_time", 0, "buy"),  # equal timestamps count: purchased
        ("before", 0, "buy"),
        ("before", 5, "add"),  # purchase before the add: abandoned
        ("later", 0, "add"),
        ("later", 20 * MIN, "buy"),  # same session: purchased
        ("next_visit", 0, "add"),
        ("next_visit", 5 * 3600, "buy"),  # other session: abandoned
    )
    result = analyze(events, STORE)
    assert (result.carts, result.purchased_carts, result.cart_abandonment_rate) == (4, 2, 0.5)


def test_user_cart_unit_spans_sessions_within_the_window() -> None:
    config = journey(
        """
funnel: {window: 1d}
stages: [{id: visit, match: [{events: [view]}]}]
cart: {add: [add], purchase: [buy], unit: user}
"""
    )
    events = log(
        ("next_visit", 0, "add"),
        ("next_visit", 5 * 3600, "buy"),
        ("too_late", 0, "add"),
        ("too_late", 86400 + 1, "buy"),
        ("boundary", 0, "add"),
        ("boundary", 86400, "buy"),
    )
    result = analyze(events, config)
    assert (result.carts, result.purchased_carts) == (3, 2)


def test_checkout_abandonment() -> None:
    events = log(("u", 0, "checkout"), ("u", 60, "buy"), ("v", 0, "checkout"), ("w", 0, "checkout"))
    result = analyze(events, STORE)
    assert (result.checkouts, result.purchased_checkouts) == (3, 1)
    assert result.checkout_abandonment_rate == 2 / 3
    assert result.cart_abandonment_rate is None  # no carts: undefined, not 0%


def test_repeat_purchase_rate_period_form() -> None:
    events = log(("u", 0, "buy"), ("u", 9, "buy"), ("v", 0, "buy"), ("w", 0, "view"))
    result = analyze(events, STORE)
    assert (result.buyers, result.repeat_buyers, result.repeat_purchase_rate) == (2, 1, 0.5)


def test_repeat_purchase_rate_cohort_form_ignores_buyers_without_the_full_time() -> None:
    config = journey(
        """
stages: [{id: visit, match: [{events: [view]}]}]
cart: {purchase: [buy], repeat_within: 10d}
"""
    )
    day = 86400
    events = log(
        ("again", 0, "buy"),
        ("again", 10 * day, "buy"),  # bought again on day 10: repeat
        ("late", 0, "buy"),
        ("late", 11 * day, "buy"),  # too late: not a repeat
        ("once", 0, "buy"),
        ("recent", 25 * day, "buy"),  # first bought 5 days before the end: not yet eligible
        ("end", 30 * day, "view"),
    )
    result = analyze(events, config)
    assert (result.buyers, result.repeat_buyers) == (3, 1)


@given(events=event_logs(max_users=4, max_events=16, span_s=4000))
def test_bounce_and_cart_agree_with_the_definition(events: pl.DataFrame) -> None:
    config = journey(
        """
sessions: {timeout: 20m}
stages: [{id: s1, match: [{events: [a]}]}]
cart: {add: [b], purchase: [c]}
"""
    )
    result = analyze(events, config)
    rows = events.rows(named=True)
    assert result.bounce_rate == reference.bounce_rate(rows, config)
    assert result.cart_abandonment_rate == reference.cart_abandonment(rows, config)
