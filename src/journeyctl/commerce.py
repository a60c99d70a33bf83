"""Cart, checkout and repeat-purchase facts and counts (definitions in docs/metrics.md)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import polars as pl

from journeyctl.columns import EVENT, SESSION, TS, USER
from journeyctl.config.models import Cart


def basket_facts(
    events: pl.LazyFrame, *, cart: Cart, window_us: int, contiguous: bool = False
) -> pl.LazyFrame:
    """One row per unit with an add or checkout: ``started`` (its first add or checkout),
    ``carts``, ``purchased_carts``,
    ``checkouts``, ``purchased_checkouts`` (booleans).

    A cart is a unit (session, or user) with an add event; it is purchased when a purchase
    event comes at or after its first add in that unit (equal timestamps count); with the
    user unit, the purchase must also fall within the conversion window of that first add.
    Checkouts are the same, started by a checkout event. ``contiguous``: session ids are
    unique across users and ascending (see ``sessions.session_facts``).
    """
    purchase = pl.col(EVENT).is_in(cart.purchase)
    starts = pl.col(EVENT).is_in([*cart.add, *cart.checkout])
    relevant = events.filter(starts | purchase)  # no other row changes a cart
    columns = ["started", "carts", "purchased_carts", "checkouts", "purchased_checkouts"]
    if cart.unit == "session":
        # a session cart is bought when its last purchase is at or after its first add:
        # plain minimums and maximums, no per-group filtering
        unit = [SESSION] if contiguous else [USER, SESSION]
        when = {"add": cart.add, "checkout": cart.checkout, "purchase": cart.purchase}
        grouped = (
            relevant.with_columns(
                pl.when(pl.col(EVENT).is_in(names)).then(pl.col(TS)).alias(name)
                for name, names in when.items()
            )
            .group_by(unit)
            .agg(
                pl.min_horizontal("add", "checkout").min().alias("started"),
                pl.col("add").min(),
                pl.col("checkout").min(),
                pl.col("purchase").max(),
            )
            .filter(pl.col("started").is_not_null())
        )
        bought = {name: (pl.col("purchase") >= pl.col(name)).fill_null(False) for name in ("add", "checkout")}
        return grouped.select(
            "started",
            pl.col("add").is_not_null().alias("carts"),
            bought["add"].alias("purchased_carts"),
            pl.col("checkout").is_not_null().alias("checkouts"),
            bought["checkout"].alias("purchased_checkouts"),
        )

    def started_and_bought(names: Sequence[str], name: str) -> list[pl.Expr]:
        first = pl.col(TS).filter(pl.col(EVENT).is_in(list(names))).min()
        bought = purchase & (pl.col(TS) >= first)
        bought &= (pl.col(TS) - first).dt.total_microseconds() <= window_us
        return [
            first.is_not_null().alias(name),
            (first.is_not_null() & bought.any()).alias(f"purchased_{name}"),
        ]

    return (
        relevant.group_by(USER)
        .agg(
            pl.col(TS).filter(starts).min().alias("started"),
            *started_and_bought(cart.add, "carts"),
            *started_and_bought(cart.checkout, "checkouts"),
        )
        .filter(pl.col("started").is_not_null())
        .select(columns)
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
