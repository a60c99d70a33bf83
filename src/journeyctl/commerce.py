"""Cart, checkout and repeat-purchase facts (see docs/metrics.md for the definitions)."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from journeyctl.columns import EVENT, SESSION, TS, USER
from journeyctl.config.models import Cart


def basket_counts(events: pl.LazyFrame, *, cart: Cart, window_us: int) -> pl.LazyFrame:
    """One row: carts, purchased_carts, checkouts, purchased_checkouts.

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
        return [first.is_not_null().alias(name), bought.any().alias(f"purchased_{name}")]

    per_unit = events.group_by(unit).agg(
        *started_and_bought(cart.add, "carts"), *started_and_bought(cart.checkout, "checkouts")
    )
    return per_unit.select(
        pl.col("carts").sum(),
        (pl.col("carts") & pl.col("purchased_carts")).sum().alias("purchased_carts"),
        pl.col("checkouts").sum(),
        (pl.col("checkouts") & pl.col("purchased_checkouts")).sum().alias("purchased_checkouts"),
    )


def repeat_counts(events: pl.LazyFrame, *, cart: Cart, data_end: pl.Expr) -> pl.LazyFrame:
    """One row: buyers, repeat_buyers.

    Period form: buyers have ≥ 1 purchase event, repeat buyers ≥ 2. Cohort form (with
    ``repeat_within``): buyers are first-time buyers whose first purchase lies at least
    ``repeat_within`` before the end of the data (so each had the full time to come back),
    and repeat buyers those with another purchase within that time (inclusive).
    """
    purchases = events.filter(pl.col(EVENT).is_in(cart.purchase))
    if cart.repeat_within is None:
        per_user = purchases.group_by(USER).agg(pl.len().alias("purchases"))
        return per_user.select(
            pl.len().alias("buyers"), (pl.col("purchases") >= 2).sum().alias("repeat_buyers")
        )
    within_us = round(cart.repeat_within.total_seconds() * 1e6)
    first = pl.col(TS).min()
    per_user = purchases.group_by(USER).agg(
        first.alias("first"),
        ((pl.col(TS) - first).dt.total_microseconds() <= within_us).sum().alias("in_time"),
    )
    eligible = per_user.filter((data_end - pl.col("first")).dt.total_microseconds() >= within_us)
    return eligible.select(pl.len().alias("buyers"), (pl.col("in_time") >= 2).sum().alias("repeat_buyers"))
