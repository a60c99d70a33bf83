"""Cart, checkout and repeat-purchase facts and counts (definitions in docs/metrics.md)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import polars as pl

from journeyctl.columns import EVENT, SESSION, TS, USER
from journeyctl.config.models import Cart


def basket_facts(events: pl.LazyFrame, *, cart: Cart, window_us: int) -> pl.LazyFrame:
    """One row per unit with an add or checkout: ``started`` (its first add or checkout),
    ``carts``, ``purchased_carts``,
    ``checkouts``, ``purchased_checkouts`` (booleans).

    A cart is a unit (session, or user) with an add event; it is purchased when a purchase
    event comes at or after its first add in that unit (equal timestamps count); with the
    user unit, the purchase must also fall within the conversion window of that first add.
    Checkouts are the same, started by a checkout event.
    """
    unit = [USER, SESSION] if cart.unit == "session" else [USER]
    purchase = pl.col(EVENT).is_in(cart.purchase)

    def started_and_bought(starts: Sequence[str], name: str) -> list[pl.Expr]:
        first = pl.col(TS).filter(pl.col(EVENT).is_in(list(starts))).min()
        bought = purchase & (pl.col(TS) >= first)
        if cart.unit == "user":
            bought &= (pl.col(TS) - first).dt.total_microseconds() <= window_us
        return [
            first.is_not_null().alias(name),
            (first.is_not_null() & bought.any()).alias(f"purchased_{name}"),
        ]

    starts = pl.col(EVENT).is_in([*cart.add, *cart.checkout])
    return (
        events.filter(starts.any().over(unit))
        .group_by(unit)
        .agg(
            pl.col(TS).filter(starts).min().alias("started"),
            *started_and_bought(cart.add, "carts"),
            *started_and_bought(cart.checkout, "checkouts"),
        )
        .select("started", "carts", "purchased_carts", "checkouts", "purchased_checkouts")
    )


def buyer_facts(events: pl.LazyFrame, *, cart: Cart) -> pl.LazyFrame:
    """One row per user with a purchase: ``purchases``, ``first`` purchase time, and
    ``in_time``, the purchases within ``cart.repeat_within`` of the first (inclusive)."""
    first = pl.col(TS).min()
    within_us = round(cart.repeat_within.total_seconds() * 1e6) if cart.repeat_within else 0
    return (
        events.filter(pl.col(EVENT).is_in(cart.purchase))
        .group_by(USER)
        .agg(
            pl.len().alias("purchases"),
            first.alias("first"),
            ((pl.col(TS) - first).dt.total_microseconds() <= within_us).sum().alias("in_time"),
        )
        .select("purchases", "first", "in_time")
    )


def repeat_counts(buyers: pl.DataFrame, *, cart: Cart, data_end: datetime | None) -> tuple[int, int]:
    """(buyers, repeat buyers).

    Period form: buyers have ≥ 1 purchase event, repeat buyers ≥ 2. Cohort form (with
    ``repeat_within``): buyers are first-time buyers whose first purchase lies at least
    ``repeat_within`` before the end of the data (so each had the full time to come back),
    and repeat buyers those with another purchase within that time (inclusive).
    """
    if cart.repeat_within is None:
        return buyers.height, int((buyers["purchases"] >= 2).sum())
    if data_end is None:
        return 0, 0
    eligible = buyers.filter(pl.col("first") <= data_end - cart.repeat_within)
    return eligible.height, int((eligible["in_time"] >= 2).sum())
