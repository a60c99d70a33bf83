"""What an analysis looks at: ``--where`` property filters on event rows and the
``--since``/``--until`` range of funnel entries.

A ``--where`` expression is read by a small grammar, never evaluated::

    filter := column op value | column ["not"] "in" "(" value {"," value} ")"
    op     := "=" | "==" | "!=" | "<" | "<=" | ">" | ">="
    value  := bare | 'quoted' | "quoted"      (a backslash escapes the quote inside quotes)

A bare value that reads as a number compares numerically (``value = 5`` matches ``5`` and
``5.0``); a quoted one is text (``code = '007'``). ``<``, ``<=``, ``>``, ``>=`` compare
numbers. Each filter becomes a config ``Condition``, so a filter means exactly what the same
condition means under a stage's ``where:``; a null property fails every test, ``!=`` and
``not in`` included.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import polars as pl

from journeyctl.config.models import Condition, JourneyConfig, Scalar
from journeyctl.errors import UsageError
from journeyctl.stages import condition_expr

WHERE_HINT = (
    "write COLUMN OP VALUE with OP one of = != < <= > >=, or COLUMN in (A, B) / COLUMN not in (A, B); "
    "quote values with spaces or commas: --where \"plan = 'pro plus'\""
)
_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<quoted>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<op><=|>=|!=|==|=|<|>)
      | (?P<punct>[(),])
      | (?P<word>[^\s'"(),=!<>]+)""",
    re.VERBOSE,
)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_BOUND = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}


@dataclass(frozen=True)
class Token:
    kind: str  # quoted, op, punct, word, end
    text: str  # the value: quotes removed and escapes resolved for ``quoted``
    at: int  # position in the expression, for the caret


@dataclass(frozen=True)
class RowFilter:
    """One ``--where`` expression: event rows whose ``column`` passes ``condition`` are kept."""

    text: str
    column: str
    condition: Condition


def parse_where(text: str, journey: JourneyConfig) -> RowFilter:
    """The filter ``text`` states, its column checked against the mapped properties.

    Raises ``UsageError`` quoting the expression with a caret under the problem.
    """
    column, condition = _Parser(text).filter()
    properties = journey.property_columns
    if column not in properties:
        close = difflib.get_close_matches(column, properties, n=1, cutoff=0.6)
        mapped = ", ".join(properties) if properties else "none (columns.properties is empty)"
        guess = f"did you mean {close[0]}? " if close else ""
        raise UsageError(
            f"{column!r} is not a mapped property column",
            where=f"--where {text!r}",
            hint=f"{guess}mapped properties: {mapped}; add the column to columns.properties to filter on it",
        )
    return RowFilter(text=text, column=column, condition=Condition.model_validate(condition))


def where_expr(filters: Sequence[RowFilter]) -> pl.Expr:
    """True for the rows passing every filter (filters are ANDed); null properties fail."""
    tests = [condition_expr(pl.col(f.column), f.condition).fill_null(False) for f in filters]
    return pl.all_horizontal(tests or [pl.lit(True)])


class _Parser:
    """Recursive descent over the tokens of one expression; errors point at a token."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.at = 0

    def take(self) -> Token:
        self.at += 1
        return self.tokens[self.at - 1]

    def fail(self, message: str, token: Token) -> UsageError:
        return _problem(self.text, message, token.at)

    def filter(self) -> tuple[str, dict[str, object]]:
        """The column and the ``Condition`` fields the expression states."""
        column = self.take()
        if column.kind not in ("word", "quoted"):
            raise self.fail("expected a property column name", column)
        op = self.take()
        condition: dict[str, object]
        if op.kind == "word" and op.text.lower() == "not":
            negated = self.take()
            if negated.kind != "word" or negated.text.lower() != "in":
                raise self.fail("expected `in` after `not`", negated)
            condition = {"not_in": self.values()}
        elif op.kind == "word" and op.text.lower() == "in":
            condition = {"in": self.values()}
        elif op.kind == "op":
            value = self.value()
            if op.text in _BOUND:
                if not _NUMBER.fullmatch(value.text.strip()):
                    raise self.fail(f"{op.text} compares numbers; {value.text!r} is not a number", value)
                condition = {_BOUND[op.text]: float(value.text)}
            else:
                condition = {"equals" if op.text in ("=", "==") else "not": _scalar(value)}
        else:
            raise self.fail("expected an operator: = != < <= > >= in or not in", op)
        rest = self.take()
        if rest.kind != "end":
            raise self.fail("unexpected text after the filter", rest)
        return column.text, condition

    def value(self) -> Token:
        value = self.take()
        if value.kind not in ("word", "quoted"):
            raise self.fail("expected a value", value)
        return value

    def values(self) -> list[Scalar]:
        """``( a, b, … )`` after ``in``: one or more values."""
        opening = self.take()
        if (opening.kind, opening.text) != ("punct", "("):
            raise self.fail("expected `(` to open the list of values", opening)
        values = [_scalar(self.value())]
        while True:
            after = self.take()
            if (after.kind, after.text) == ("punct", ")"):
                return values
            if (after.kind, after.text) != ("punct", ","):
                raise self.fail("expected `,` or `)` after a value", after)
            values.append(_scalar(self.value()))


def _tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    at = 0
    while at < len(text):
        found = _TOKEN.match(text, at)
        if found is None:
            if text[at] in "'\"":
                raise _problem(text, "this quote is never closed", at)
            raise _problem(text, f"unexpected character {text[at]!r}", at)
        kind = found.lastgroup or "space"
        if kind == "quoted":
            tokens.append(Token(kind, re.sub(r"\\(.)", r"\1", found.group()[1:-1]), at))
        elif kind != "space":
            tokens.append(Token(kind, found.group(), at))
        at = found.end()
    return [*tokens, Token("end", "", len(text))]


def _scalar(token: Token) -> Scalar:
    """A bare number compares numerically; anything quoted, and other words, is text."""
    if token.kind == "word" and _NUMBER.fullmatch(token.text):
        return int(token.text) if token.text.lstrip("+-").isdigit() else float(token.text)
    return token.text


def _problem(text: str, message: str, at: int) -> UsageError:
    return UsageError(f"{message}\n    {text}\n    {' ' * at}^", where="--where", hint=WHERE_HINT)


def entry_bound(value: str | date | datetime | None, *, option: str, timezone: str) -> datetime | None:
    """The moment ``value`` names, aware in ``timezone``: a date is its local midnight (for
    ``--until``, the next midnight: the whole day is inside); a date-time without an offset
    is read in ``timezone`` (a time skipped by a daylight-saving change is refused; a
    repeated one means its first occurrence); one with an offset is that instant.
    """
    if value is None:
        return None
    zone = ZoneInfo(timezone)
    if isinstance(value, str):
        value = _parse_moment(value, option=option)
    if not isinstance(value, datetime):
        day = value + timedelta(days=1) if option == "--until" else value
        return datetime.combine(day, time(), zone)
    if value.tzinfo is not None:
        return value.astimezone(zone)
    local = value.replace(tzinfo=zone)
    if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != value:
        raise UsageError(
            f"{option} {value.isoformat(sep=' ')}: this local time does not exist in {timezone} "
            "(clocks skip it for daylight saving)",
            hint="give a time outside the gap, or an offset such as +01:00",
        )
    return local


def _parse_moment(text: str, *, option: str) -> date | datetime:
    """A date when the text is one (``2026-10-01``, ``20261001``), else an ISO date-time."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{option} {text!r}: expected a date YYYY-MM-DD or a date-time YYYY-MM-DDTHH:MM[:SS][+HH:MM]",
            hint="e.g. --since 2026-10-01 --until 2026-10-31 (until a date includes that whole day)",
        ) from None


def entry_range(
    since: str | date | datetime | None, until: str | date | datetime | None, *, timezone: str
) -> tuple[datetime | None, datetime | None]:
    """``[since, until)`` as aware moments in ``timezone``; refuses an empty range."""
    start = entry_bound(since, option="--since", timezone=timezone)
    end = entry_bound(until, option="--until", timezone=timezone)
    if start is not None and end is not None and end <= start:
        raise UsageError(
            f"--until {end.isoformat()} is not after --since {start.isoformat()}: no entry can fall between",
            hint="--since is inclusive; --until a date includes that whole day, a date-time is exclusive",
        )
    return start, end
