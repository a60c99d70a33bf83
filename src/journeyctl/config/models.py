"""The journey definition: what a YAML file may say, checked strictly (unknown keys are errors)."""

from __future__ import annotations

import codecs
import contextlib
import math
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from journeyctl.columns import EVENT, LINE, ROW, SESSION, SOURCE, STAGE_MASK, TS, USER
from journeyctl.config.durations import duration_text, parse_duration

Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(duration_text, return_type=str),
]
Scalar = str | int | float | bool
STAGE_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _as_list(value: object) -> object:
    """Let a single event name stand for a one-element list."""
    return [value] if isinstance(value, str) else value


NameList = Annotated[list[str], BeforeValidator(_as_list)]


class Condition(Strict):
    """A test on one property column. A missing (null) property never matches."""

    equals: Scalar | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in")
    not_: Scalar | None = Field(default=None, alias="not")
    not_in: list[Scalar] | None = None
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    regex: str | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _scalar_means_equals(cls, value: object) -> object:
        return value if isinstance(value, dict) else {"equals": value}

    @model_validator(mode="after")
    def _has_a_test(self) -> Condition:
        if not self.model_fields_set:
            raise ValueError("a condition needs one of: in, not, not_in, gt, gte, lt, lte, regex")
        if self.regex is not None:
            problem = regex_problem(self.regex)
            if problem is not None:
                raise ValueError(f"invalid regex {self.regex!r}: {problem}")
        return self


def regex_problem(pattern: str) -> str | None:
    """Why the matching engine (Rust's regex syntax: no look-around, no backreferences)
    refuses ``pattern``, or None when it compiles."""
    try:
        pl.Series([""], dtype=pl.String).str.contains(pattern)
    except pl.exceptions.PolarsError as err:
        lines = str(err).splitlines()
        return next((x.removeprefix("error: ") for x in lines if x.startswith("error: ")), lines[0])
    return None


class Matcher(Strict):
    """Event rows whose event name is one of ``events`` and whose properties pass ``where``."""

    events: NameList = Field(min_length=1)
    where: dict[str, Condition] = Field(default_factory=dict)


class Stage(Strict):
    id: str
    label: str | None = None
    match: list[Matcher] = Field(min_length=1)
    within: Duration | None = None
    after: Duration | None = None

    @field_validator("id")
    @classmethod
    def _id_is_a_name(cls, value: str) -> str:
        if not STAGE_ID.fullmatch(value):
            raise ValueError("a stage id is a name: letters, digits, _ and -, not starting with a digit")
        return value

    @property
    def title(self) -> str:
        return self.label or self.id.replace("_", " ").capitalize()


# names the loaded frame gives its own columns: a property of one of these names would be lost
RESERVED_COLUMNS = frozenset({USER, TS, EVENT, SESSION, STAGE_MASK, SOURCE, LINE, "_raw_ts", ROW})


class Columns(Strict):
    """File column names for each role; ``properties`` are kept for matching and breakdowns.

    Every file column plays one role: the roles name different columns, and a property is
    listed once and is neither a role column nor a name the loaded events use themselves.
    """

    user: str = "user_id"
    time: str = "timestamp"
    event: str = "event"
    session: str | None = None
    properties: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_role_per_column(self) -> Columns:
        roles = {"user": self.user, "time": self.time, "event": self.event, "session": self.session}
        seen: dict[str, str] = {}
        for role, column in roles.items():
            if column is not None and column in seen:
                raise ValueError(f"{seen[column]} and {role} both name the column {column!r}")
            if column is not None:
                seen[column] = role
        if len(set(self.properties)) < len(self.properties):
            twice = next(c for c in self.properties if self.properties.count(c) > 1)
            raise ValueError(f"property {twice!r} is listed twice")
        for column in self.properties:
            if column in seen:
                raise ValueError(f"property {column!r} is already the {seen[column]} column")
            if column in RESERVED_COLUMNS:
                raise ValueError(
                    f"property {column!r} has a name journeyctl gives its own columns; "
                    f"map it to a role (user, event, session) or rename it in the file"
                )
        return self


class CsvOptions(Strict):
    """How CSV files are read: ``delimiter`` (``auto`` sniffs it from the header line) and the
    text ``encoding`` (any Python codec name; UTF-8 with or without BOM is the default)."""

    delimiter: str = "auto"
    encoding: str = "utf-8"

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str) -> str:
        if value != "auto" and len(value.encode()) != 1:
            raise ValueError("the delimiter is one character such as ',', ';', '|' or '\\t', or auto")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_codec(cls, value: str) -> str:
        try:
            # bytes-to-bytes codecs such as base64 or rot13 are codecs too, but not text encodings
            text = codecs.lookup(value)._is_text_encoding
        except LookupError:
            text = False
        if not text:
            raise ValueError(f"unknown text encoding {value!r}; use a name such as utf-8, latin-1 or cp1252")
        return value


class Sessions(Strict):
    timeout: Duration = timedelta(minutes=30)

    @field_validator("timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("the session timeout must be longer than 0s")
        return value


class Exclusion(Strict):
    events: NameList = Field(min_length=1)
    where: dict[str, Condition] = Field(default_factory=dict)
    between: tuple[str, str]


Order = Literal["ordered", "strict", "any"]
Count = Literal["users", "sessions", "entries"]


class Funnel(Strict):
    window: Duration = timedelta(days=30)
    order: Order = "ordered"
    count: Count = "users"
    hold: list[str] = Field(default_factory=list)
    exclude: list[Exclusion] = Field(default_factory=list)
    on_exclusion: Literal["keep_best", "drop_user"] = "keep_best"

    @field_validator("window")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("the conversion window must be longer than 0s")
        return value


class EngagedRule(Strict):
    """GA4-style engagement: a session meeting any of these is engaged, so not bounced."""

    min_duration: Duration | None = None
    min_events: int | None = Field(default=None, ge=2)
    key_events: NameList = Field(default_factory=list)


class Bounce(Strict):
    max_events: int = Field(default=1, ge=1)
    engaged: EngagedRule | None = None

    @property
    def rule(self) -> str:
        if self.engaged is None:
            noun = "event" if self.max_events == 1 else "events"
            return f"single interaction: a session with at most {self.max_events} {noun} bounced"
        tests = []
        if self.engaged.min_duration is not None:
            tests.append(f"lasts {duration_text(self.engaged.min_duration)} or more")
        if self.engaged.min_events is not None:
            tests.append(f"has {self.engaged.min_events} or more events")
        if self.engaged.key_events:
            tests.append(f"contains {', '.join(self.engaged.key_events)}")
        return "engaged session: not bounced when it " + " or ".join(tests)


class Cart(Strict):
    add: NameList = Field(default_factory=list)
    checkout: NameList = Field(default_factory=list)
    purchase: NameList = Field(default_factory=list)
    unit: Literal["session", "user"] = "session"
    repeat_within: Duration | None = None


class PainPoints(Strict):
    max_drop_off: float | None = Field(default=None, ge=0, le=1)


def _breakdowns_form(value: object) -> object:
    """``breakdowns: [channel, [channel, segment]]`` is short for ``breakdowns: {by: [...]}``."""
    return {"by": value} if isinstance(value, list) else value


def _columns_form(value: object) -> object:
    """``channel`` stands for ``[channel]``: a breakdown by one column."""
    return [value] if isinstance(value, str) else value


BreakdownColumns = Annotated[list[str], BeforeValidator(_columns_form), Field(min_length=1, max_length=2)]


ATTRIBUTION_RULES = ("first_touch", "last_touch")  # the attributions besides a stage id
SEPARATOR = "/"  # joins the two columns of a combined breakdown (and their values)


class Breakdowns(Strict):
    """Default breakdowns of ``analyze`` (docs/metrics.md, Breakdowns): each entry of ``by``
    is a property column, or two columns whose combinations are the rows."""

    by: list[BreakdownColumns] = Field(default_factory=list)
    attribution: str = "first_touch"  # one of ATTRIBUTION_RULES or a stage id
    top: int = Field(default=10, ge=1)
    min_sample: int = Field(default=30, ge=1)
    control: dict[str, str] = Field(default_factory=dict)  # breakdown column -> control value


def breakdown_problems(
    settings: Breakdowns, journey: JourneyConfig
) -> Iterator[tuple[tuple[str | int, ...], str, str]]:
    """What is wrong with ``settings`` for ``journey``, as (path below ``breakdowns``, message,
    hint), in order: a column combined with itself or not a mapped property, an attribution
    that is neither a rule nor a stage id, a control keyed by an unmapped column. The config
    names the YAML path, the command line the option (``--by``): the messages are the same."""
    properties = journey.columns.properties
    mapped = ", ".join(properties) if properties else "none: columns.properties is empty"
    unmapped_hint = f"mapped properties: {mapped} (add others to columns.properties)"
    for index, columns in enumerate(settings.by):
        if len(set(columns)) < len(columns):
            yield ("by", index), f"{columns[0]!r} is combined with itself", "combine two different columns"
        for c_index, column in enumerate(columns):
            if column not in properties:
                loc = ("by", index, c_index) if len(columns) > 1 else ("by", index)
                yield loc, f"{column!r} is not a mapped property column", unmapped_hint
    ids = [stage.id for stage in journey.stages]
    if settings.attribution not in (*ATTRIBUTION_RULES, *ids):
        yield (
            ("attribution",),
            f"unknown attribution {settings.attribution!r}",
            f"use {', '.join(ATTRIBUTION_RULES)} or a stage id ({', '.join(ids)})",
        )
    for key in settings.control:
        unknown = [c for c in key.split(SEPARATOR) if c not in properties]
        if unknown:
            yield (
                ("control", key),
                f"{unknown[0]!r} is not a mapped property column",
                f"name a breakdown column, or two joined by {SEPARATOR}; mapped properties: {mapped}",
            )


Severity = Literal["fail", "warn"]
BOUND_KEYS = ("min", "max", "gt", "lt")
_PERCENT = re.compile(r"\s*(-?\d+(?:\.\d+)?)\s*%\s*")


def parse_threshold(value: object, metric: str) -> float:
    """A KPI threshold as a number in the metric's own unit.

    Rates take fractions (``0.02``) or percentages (``"2%"``); metrics in seconds (their
    path ends in ``_s``) also take durations (``"2h"``, ``"3d"``). Raises ``ValueError``.
    """
    is_duration = metric.endswith("_s")
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = float(value.strip())
    if number is not None:
        if not math.isfinite(number):
            raise ValueError(f"{value!r} is not a threshold for {metric}; write a finite number")
        return number
    if isinstance(value, str):
        text = value.strip()
        percent = _PERCENT.fullmatch(text)
        if percent and not is_duration:
            return float(percent.group(1)) / 100
        if is_duration:
            return parse_duration(text).total_seconds()
    unit = "a duration such as 90s, 2h, 3d" if is_duration else "a percentage such as 2%"
    raise ValueError(f"{value!r} is not a threshold for {metric}; write a number or {unit}")


class Bound(Strict):
    """Limits a metric must respect: ``min``/``max`` inclusive, ``gt``/``lt`` strict."""

    min: float | None = None
    max: float | None = None
    gt: float | None = None
    lt: float | None = None

    @model_validator(mode="after")
    def _has_a_limit(self) -> Bound:
        if all(v is None for v in (self.min, self.max, self.gt, self.lt)):
            raise ValueError("a bound needs `min`, `max` (or both)")
        low = max((v for v in (self.min, self.gt) if v is not None), default=None)
        high = min((v for v in (self.max, self.lt) if v is not None), default=None)
        if low is not None and high is not None and low > high:
            raise ValueError(f"the lower limit {low:g} is above the upper limit {high:g}")
        return self

    def limits(self) -> list[tuple[str, float]]:
        """``(operator, value)`` pairs, lower limits first."""
        ops = {"min": ">=", "gt": ">", "max": "<=", "lt": "<"}
        return [(ops[k], v) for k in ("min", "gt", "max", "lt") if (v := getattr(self, k)) is not None]


class Kpi(Strict):
    """A journey KPI: a metric path and its bounds. Either ``min``/``max`` with a ``severity``,
    or separate ``warn:`` and ``fail:`` bounds (``warn: {min: 0.03}``, ``fail: {min: 0.02}``)."""

    metric: str
    min: float | None = None
    max: float | None = None
    severity: Severity = "fail"
    warn: Bound | None = None
    fail: Bound | None = None
    description: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _thresholds_in_the_metric_unit(cls, value: object) -> object:
        if not isinstance(value, dict) or not isinstance(value.get("metric"), str):
            return value
        metric = value["metric"]
        data = dict(value)
        for key in ("min", "max"):
            if key in data and data[key] is not None:
                data[key] = parse_threshold(data[key], metric)
        for level in ("warn", "fail"):
            if isinstance(data.get(level), dict):
                data[level] = {
                    k: parse_threshold(v, metric) if k in BOUND_KEYS and v is not None else v
                    for k, v in data[level].items()
                }
        return data

    @model_validator(mode="after")
    def _one_way_to_bound(self) -> Kpi:
        shorthand = self.min is not None or self.max is not None
        split = self.warn is not None or self.fail is not None
        if shorthand and split:
            raise ValueError("give either `min`/`max` with a `severity`, or `warn:`/`fail:` bounds, not both")
        if split and "severity" in self.model_fields_set:
            raise ValueError("`severity` goes with `min`/`max`; with `warn:`/`fail:` bounds it is implied")
        if not shorthand and not split:
            raise ValueError("a KPI needs a bound: `min`, `max`, or `warn:`/`fail:` bounds")
        if shorthand:
            Bound(min=self.min, max=self.max)  # the same consistency check
        return self

    def bounds(self) -> dict[Severity, Bound]:
        """The bound of each severity, ``fail`` first."""
        if self.warn is None and self.fail is None:
            return {self.severity: Bound(min=self.min, max=self.max)}
        levels: tuple[tuple[Severity, Bound | None], ...] = (("fail", self.fail), ("warn", self.warn))
        return {s: b for s, b in levels if b is not None}


class JourneyConfig(Strict):
    name: str = "Journey"
    columns: Columns = Field(default_factory=Columns)
    time_format: str = "auto"
    timezone: str = "UTC"
    csv: CsvOptions = Field(default_factory=CsvOptions)
    sessions: Sessions = Field(default_factory=Sessions)
    funnel: Funnel = Field(default_factory=Funnel)
    stages: list[Stage] = Field(min_length=1, max_length=62)
    bounce: Bounce = Field(default_factory=Bounce)
    cart: Cart = Field(default_factory=Cart)
    pain_points: PainPoints = Field(default_factory=PainPoints)
    breakdowns: Annotated[Breakdowns, BeforeValidator(_breakdowns_form)] = Field(default_factory=Breakdowns)
    kpis: list[Kpi] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as UTC or Europe/Berlin"
            ) from None
        return value

    @property
    def property_columns(self) -> list[str]:
        return list(self.columns.properties)
