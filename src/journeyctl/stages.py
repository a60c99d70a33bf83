"""Stage matchers → one bit per stage in ``stage_mask`` (a row may match several stages)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import polars as pl

from journeyctl.columns import EVENT, EXCLUDED, STAGE_MASK, TS
from journeyctl.config.models import Condition, Exclusion, Matcher, Scalar, Stage

MAX_STAGES = 62  # stage bits live in one Int64


def assign_stages(events: pl.LazyFrame, stages: Sequence[Stage], names: Sequence[str]) -> pl.LazyFrame:
    """Add ``stage_mask``: bit ``i`` is set when the row matches stage ``i`` (0-based)
    (``event`` an ``Enum`` of ``names``, see ``bit_mask``)."""
    return events.with_columns(bit_mask([stage.match for stage in stages], names).alias(STAGE_MASK))


def mark_exclusions(
    events: pl.LazyFrame, exclusions: Sequence[Exclusion], names: Sequence[str]
) -> pl.LazyFrame:
    """Add ``excluded_mask``: bit ``x`` is set when the row matches ``funnel.exclude[x]``
    (``event`` an ``Enum`` of ``names``, see ``bit_mask``)."""
    if not exclusions:
        return events
    return events.with_columns(bit_mask([[rule] for rule in exclusions], names).alias(EXCLUDED))


def bit_mask(rules: Sequence[Sequence[Matcher | Exclusion]], names: Sequence[str]) -> pl.Expr:
    """An Int64 whose bit ``i`` is set when the row matches any matcher of ``rules[i]``.
    ``event`` is an ``Enum`` of ``names``: matchers that test only the event name become one
    table of bits per event code, looked up once per row; matchers with ``where``
    conditions are evaluated per row."""
    table = [0] * len(names)
    conditional: list[pl.Expr] = []
    for i, matchers in enumerate(rules):
        for c, name in enumerate(names):
            if any(name in m.events for m in matchers if not m.where):
                table[c] |= 1 << i
        tested = [m for m in matchers if m.where]
        if tested:
            hit = pl.any_horizontal([matcher_expr(m, names) for m in tested])
            conditional.append(pl.when(hit).then(pl.lit(1 << i, pl.Int64)).otherwise(pl.lit(0, pl.Int64)))
    mask = pl.lit(pl.Series(table, dtype=pl.Int64)).gather(pl.col(EVENT).to_physical())
    for bit in conditional:
        mask = mask | bit
    return mask


def restrict_entries(
    events: pl.LazyFrame, *, since: datetime | None = None, until: datetime | None = None
) -> pl.LazyFrame:
    """Let only rows with ``since <= ts < until`` be funnel entries (stage 1); rows outside
    keep their other stage bits, so a path entered inside the range may finish after it."""
    if since is None and until is None:
        return events
    inside = pl.lit(True)
    if since is not None:
        inside &= pl.col(TS) >= since
    if until is not None:
        inside &= pl.col(TS) < until
    return events.with_columns(
        pl.when(inside).then(pl.col(STAGE_MASK)).otherwise(pl.col(STAGE_MASK) & ~1).alias(STAGE_MASK)
    )


def any_matcher_expr(matchers: Sequence[Matcher]) -> pl.Expr:
    """True for rows any of ``matchers`` accepts."""
    return pl.any_horizontal([matcher_expr(m) for m in matchers])


def matcher_expr(matcher: Matcher | Exclusion, names: Sequence[str] | None = None) -> pl.Expr:
    """True for the event rows this matcher accepts; a missing property never matches.
    ``event`` is text, or with ``names`` an ``Enum`` of them (tested by code)."""
    if names is None:
        expr = pl.col(EVENT).is_in(matcher.events)
    else:
        codes = [c for c, name in enumerate(names) if name in matcher.events]
        expr = pl.col(EVENT).to_physical().is_in(pl.Series(codes, dtype=pl.UInt32))
    for column, condition in matcher.where.items():
        expr &= condition_expr(pl.col(column), condition).fill_null(False)
    return expr


def condition_expr(column: pl.Expr, condition: Condition) -> pl.Expr:
    """A property test on text values; numbers compare numerically, null never passes.

    ``equals: 5`` matches "5" and "5.0"; ``equals: "5"`` matches only the text "5".
    """
    tests: list[pl.Expr] = [column.is_not_null()]
    number = column.cast(pl.Float64, strict=False)
    if condition.equals is not None:
        tests.append(_equals(column, number, condition.equals))
    if condition.in_ is not None:
        tests.append(
            pl.any_horizontal([_equals(column, number, v) for v in condition.in_] or [pl.lit(False)])
        )
    if condition.not_ is not None:
        tests.append(~_equals(column, number, condition.not_))
    if condition.not_in is not None:
        tests.append(
            ~pl.any_horizontal([_equals(column, number, v) for v in condition.not_in] or [pl.lit(False)])
        )
    for bound, op in (("gt", "__gt__"), ("gte", "__ge__"), ("lt", "__lt__"), ("lte", "__le__")):
        value = getattr(condition, bound)
        if value is not None:
            tests.append(getattr(number, op)(value).fill_null(False))
    if condition.regex is not None:
        tests.append(column.str.contains(condition.regex))
    return pl.all_horizontal(tests)


def _equals(column: pl.Expr, number: pl.Expr, value: Scalar) -> pl.Expr:
    if isinstance(value, bool):
        return column.str.to_lowercase() == str(value).lower()
    if isinstance(value, int | float):
        return (number == float(value)).fill_null(False)
    return column == value
