"""From a raw export to a journey: ``profile_events`` (what is in the data), ``starter_config``
(a commented YAML inferred from it) and ``validate`` (a config and data checked together)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import polars as pl
import yaml

from journeyctl.columns import EVENT, LINE, TS, USER
from journeyctl.config.models import RESERVED_COLUMNS, Columns, CsvOptions, JourneyConfig
from journeyctl.errors import InputError
from journeyctl.load import expand_sources, parse_timestamps_expr, scan_table
from journeyctl.result import Frozen
from journeyctl.stages import any_matcher_expr

_ROLE_NAMES = {
    "user": ("user_id", "userid", "user", "uid", "customer_id", "visitor_id", "distinct_id", "account_id"),
    "time": ("timestamp", "ts", "time", "event_time", "created_at", "occurred_at", "datetime", "date"),
    "event": ("event", "event_name", "event_type", "action", "name", "type"),
    "session": ("session_id", "session", "sid", "visit_id"),
}
# journey position of an event name, from the first keyword it contains
_POSITIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("awareness", "Awareness", ("ad", "impression", "landing", "visit", "open", "install")),
    ("interest", "Interest", ("view", "search", "browse", "click", "signup", "sign_up", "register")),
    ("consideration", "Consideration", ("cart", "trial", "demo", "wishlist", "activat")),
    ("checkout", "Checkout", ("checkout",)),
    ("purchase", "Purchase", ("purchase", "order", "subscribe", "subscription", "pay", "buy", "upgrade")),
    ("loyalty", "Loyalty", ("repeat", "renew", "reorder")),
    ("advocacy", "Advocacy", ("review", "referral", "refer", "share", "invite", "rating")),
)
FREQUENT_SHARE = 0.01  # a data event on at least this share of rows should belong to a stage
LISTED_EVENTS = 1000  # `events` lists the most frequent ones; the rest are only counted
LISTED_UNPLACED = 100  # `init` names this many events it placed in no stage, then counts the rest


# the columns every journey maps, and what each holds
MAPPED_ROLES = {"user": "user ids", "time": "event times", "event": "event names"}


class EventSummary(Frozen):
    event: str
    rows: int
    users: int | None  # distinct non-empty user ids; None without a user column
    first_seen: datetime | None  # None without a time column or a value that parses
    last_seen: datetime | None


class ColumnRole(Frozen):
    column: str
    role: str  # user, time, event, session or property
    distinct: int  # distinct non-empty values
    empty: int  # rows without a value
    example: str | None


class FileGap(Frozen):
    file: str
    missing: list[str]  # the recognised user, time and event columns the file does not have


class EventsProfile(Frozen):
    files: list[str]
    files_lacking_columns: list[FileGap]  # of several files, those without a role column
    rows: int
    users: int | None  # distinct non-empty user ids; None without a user column
    first_seen: datetime | None  # the earliest time that parses; None without a time column
    last_seen: datetime | None
    unparsed_times: int  # rows with a time value that does not parse (``time_format: auto``)
    columns: list[ColumnRole]
    unrecognised: list[str]  # of MAPPED_ROLES, those no column was recognised for, in that order
    events: list[EventSummary]  # most frequent first, at most LISTED_EVENTS
    distinct_events: int  # listed or not

    def empty_role_columns(self) -> list[ColumnRole]:
        """The user, time or event column when it has no value on any row."""
        return [c for c in self.columns if c.role in MAPPED_ROLES and c.empty == self.rows]


class StageShare(Frozen):
    id: str
    rows: int
    share: float | None  # of all rows


class Validation(Frozen):
    rows: int
    missing_events: list[str]  # named by the config, absent from the data
    unused_events: list[EventSummary]  # frequent in the data, matched by no stage or cart key
    stages: list[StageShare]


def _read_all(
    sources: Sequence[str | Path], csv: CsvOptions
) -> tuple[list[Path], pl.DataFrame, list[list[str]]]:
    """The files, every row of every file with all columns as text (a column a file lacks is
    empty on its rows), and each file's columns; ``InputError`` when they cannot be read or
    hold no row (a profile needs rows to recognise the columns by their values)."""
    files = expand_sources(sources)
    frames = [scan_table(path, csv).drop(LINE) for path in files]
    headers = [frame.collect_schema().names() for frame in frames]
    where = ", ".join(str(f) for f in files[:3]) + (" …" if len(files) > 3 else "")
    try:
        frame = pl.concat(frames, how="diagonal_relaxed").collect()
    except pl.exceptions.PolarsError as err:
        raise InputError(
            f"cannot read the events: {str(err).strip().splitlines()[0]}",
            where=where,
            hint="check the quoting and the delimiter (--delimiter); "
            "for text that is not UTF-8 pass --encoding (e.g. latin-1)",
        ) from None
    if frame.is_empty():
        raise InputError(
            "the file has a header but no event rows"
            if len(files) == 1
            else f"the {len(files)} files have a header but no event rows",
            where=where,
            hint="export the events again, with their rows",
        )
    return files, frame, headers


def recognise_roles(frame: pl.DataFrame) -> dict[str, str]:
    """The column of each role (user, time, event, session) that ``frame`` shows; a role no
    column fits is left out. A column is recognised by its name first (``_ROLE_NAMES``, in
    any case), then, among the columns with at least one value and no role yet, by the shape
    of its first 500 values: the time column parses as timestamps (90% of them), the event
    column has the fewest distinct values, the user column the most (ties: leftmost)."""
    names = {c.lower(): c for c in frame.columns}
    roles: dict[str, str] = {}
    for role, candidates in _ROLE_NAMES.items():
        found = next((names[c] for c in candidates if c in names and names[c] not in roles.values()), None)
        if found:
            roles[role] = found
    sample = frame.head(500)
    free = [c for c in frame.columns if c not in roles.values() and frame[c].null_count() < frame.height]
    if "time" not in roles:
        time = next((c for c in free if _looks_like_time(sample[c])), None)
        if time is not None:
            roles["time"] = time
    free = [c for c in free if c != roles.get("time")]
    distinct = {c: sample[c].drop_nulls().n_unique() for c in free}
    if "event" not in roles and free:
        roles["event"] = min(free, key=lambda c: (distinct[c], free.index(c)))
    free = [c for c in free if c != roles.get("event")]
    if "user" not in roles and free:
        roles["user"] = max(free, key=lambda c: (distinct[c], -free.index(c)))
    return roles


def infer_columns(frame: pl.DataFrame, roles: dict[str, str]) -> Columns:
    """The ``columns:`` mapping of ``roles`` (``recognise_roles``); a role no column fits keeps
    its default name (``user_id``, ``timestamp``, ``event``), for the user to replace. Every
    other column is a property, except those named like journeyctl's own columns (a config
    cannot keep them: ``RESERVED_COLUMNS``)."""
    defaults = Columns()
    return Columns(
        user=roles.get("user", defaults.user),
        time=roles.get("time", defaults.time),
        event=roles.get("event", defaults.event),
        session=roles.get("session"),
        properties=[c for c in frame.columns if c not in roles.values() and c not in RESERVED_COLUMNS],
    )


def _looks_like_time(values: pl.Series) -> bool:
    parsed = values.to_frame("v").select(
        parse_timestamps_expr(pl.col("v"), time_format="auto", timezone="UTC").is_not_null().mean()
    )
    return bool((parsed.item() or 0) >= 0.9)


def _canonical(frame: pl.DataFrame, roles: dict[str, str]) -> pl.DataFrame:
    """The user, event and time columns among ``roles`` under their canonical names, the time
    parsed (``auto``, UTC); a role without a column is left out."""
    parts = {
        USER: pl.col(roles["user"]) if "user" in roles else None,
        EVENT: pl.col(roles["event"]) if "event" in roles else None,
        TS: parse_timestamps_expr(pl.col(roles["time"]), time_format="auto", timezone="UTC")
        if "time" in roles
        else None,
    }
    return frame.select(expr.alias(name) for name, expr in parts.items() if expr is not None)


def _summaries(events: pl.DataFrame, *, limit: int | None = None, min_rows: float = 0) -> list[EventSummary]:
    """One summary per distinct event name, most rows first (ties by name): the first
    ``limit`` of those with at least ``min_rows`` rows (an export can hold millions of names).
    Users and times are None when ``events`` has no user or time column."""

    def if_present(column: str, value: pl.Expr) -> pl.Expr:
        return value if column in events.columns else pl.lit(None)

    table = (
        events.filter(pl.col(EVENT).is_not_null())
        .group_by(EVENT)
        .agg(
            pl.len().alias("rows"),
            if_present(USER, pl.col(USER).drop_nulls().n_unique()).alias("users"),
            if_present(TS, pl.col(TS).min()).alias("first_seen"),
            if_present(TS, pl.col(TS).max()).alias("last_seen"),
        )
        .filter(pl.col("rows") >= min_rows)
        .sort(["rows", EVENT], descending=[True, False])
    )
    table = table if limit is None else table.head(limit)
    return [EventSummary.model_validate(row) for row in table.iter_rows(named=True)]


def _names_by_rows(events: pl.Series) -> list[str]:
    """The distinct event names, most rows first (ties by name)."""
    counts = events.drop_nulls().value_counts(name="rows")
    return counts.sort(["rows", events.name], descending=[True, False])[events.name].to_list()


def profile_events(sources: Sequence[str | Path], *, csv: CsvOptions | None = None) -> EventsProfile:
    """Rows, users and time span, each column's recognised role, and the distinct events (rows,
    users, first and last seen). A user, time or event column that is not recognised is named
    in ``unrecognised`` and what needs it is left undefined (None), the rest still profiled.
    Columns are recognised over all the files; a file without one is in ``files_lacking_columns``
    (its rows count as empty there)."""
    files, frame, headers = _read_all(sources, csv or CsvOptions())
    roles = recognise_roles(frame)
    role_of = {column: role for role, column in roles.items()}
    events = _canonical(frame, roles)
    users = events.get_column(USER) if USER in events else None
    times = events.get_column(TS) if TS in events else None
    mapped = [roles[role] for role in MAPPED_ROLES if role in roles]
    gaps = [(f, [c for c in mapped if c not in header]) for f, header in zip(files, headers, strict=True)]
    return EventsProfile(
        files=[str(f) for f in files],
        files_lacking_columns=[FileGap(file=str(f), missing=missing) for f, missing in gaps if missing],
        rows=frame.height,
        users=None if users is None else users.drop_nulls().n_unique(),
        first_seen=None if times is None else times.min(),
        last_seen=None if times is None else times.max(),
        unparsed_times=0 if times is None else (times.is_null() & frame[roles["time"]].is_not_null()).sum(),
        columns=[
            ColumnRole(
                column=name,
                role=role_of.get(name, "property"),
                distinct=frame[name].drop_nulls().n_unique(),
                empty=frame[name].null_count(),
                example=next(iter(frame[name].drop_nulls().head(1)), None),
            )
            for name in frame.columns
        ],
        unrecognised=[role for role in MAPPED_ROLES if role not in roles],
        events=_summaries(events, limit=LISTED_EVENTS) if EVENT in events else [],
        distinct_events=events[EVENT].drop_nulls().n_unique() if EVENT in events else 0,
    )


def journey_position(event: str) -> int | None:
    """Index in ``_POSITIONS`` of the first journey keyword among the event name's words (a
    word equal to a keyword, or starting with one of four letters or more), or None."""
    words = [w for w in re.split(r"[^a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", event).lower()) if w]
    for index, (_, _, keywords) in enumerate(_POSITIONS):
        if any(w == k or (len(k) >= 4 and w.startswith(k)) for w in words for k in keywords):
            return index
    return None


def starter_config(sources: Sequence[str | Path], *, csv: CsvOptions | None = None) -> str:
    """A commented journey YAML for the data: columns inferred, one stage per journey position
    found among the event names (in journey order), other events listed in a comment.

    Everything taken from the data is emitted by ``yaml.safe_dump`` (quoted as needed), and
    comments quote names as JSON strings, so no event or column name can inject YAML."""
    options = csv or CsvOptions()
    files, frame, _ = _read_all(sources, options)
    roles = recognise_roles(frame)
    columns = infer_columns(frame, roles)
    names = _names_by_rows(frame[columns.event]) if columns.event in frame.columns else []
    grouped: dict[int, list[str]] = {}
    unknown: list[str] = []
    for name in names:
        position = journey_position(name)
        if position is None:
            unknown.append(name)
        else:
            grouped.setdefault(position, []).append(name)
    stages = [
        {"id": _POSITIONS[i][0], "label": _POSITIONS[i][1], "match": [{"events": sorted(grouped[i])}]}
        for i in sorted(grouped)
    ]
    purchase = grouped.get(4, [])
    repeatable = [e for e in purchase if re.search(r"purchase|order|buy", e.lower())]
    if repeatable and 5 not in grouped:  # a second purchase is the repeat step (not a subscription)
        index = next(n for n, s in enumerate(stages) if s["id"] == "purchase") + 1
        stages.insert(
            index,
            {
                "id": "loyalty",
                "label": "Loyalty (repeat purchase)",
                "match": [{"events": sorted(repeatable)}],
            },
        )
    if not stages:
        stages = [{"id": f"step_{n + 1}", "match": [{"events": [name]}]} for n, name in enumerate(names[:3])]
    head: dict[str, object] = {
        "name": Path(files[0]).stem.replace("_", " ").capitalize() if str(files[0]) != "-" else "Journey",
        "columns": columns.model_dump(exclude_none=True),
        "time_format": "auto",
        "timezone": "UTC",
    }
    if options != CsvOptions():
        head["csv"] = options.model_dump()
    cart = {
        "add": sorted(e for e in grouped.get(2, []) if "cart" in e.lower()),
        "checkout": sorted(grouped.get(3, [])),
        "purchase": sorted(purchase),
    }
    header = ", ".join(json.dumps(c, ensure_ascii=True) for c in frame.columns)
    parts = [
        "# Starter journey inferred by `journeyctl init` from: "
        + ", ".join(json.dumps(str(f)) for f in files[:5]),
        "# Check the column roles and the stages, then run `journeyctl validate`.",
        *(
            f"# No {role} column recognised among {header}:"
            f" set `columns.{role}` to the column that holds {holds}."
            for role, holds in MAPPED_ROLES.items()
            if role not in roles
        ),
        *(
            f"# Not kept as a property: {json.dumps(c, ensure_ascii=True)} is a name journeyctl gives"
            " its own columns (rename it in the file to keep it)."
            for c in frame.columns
            if c in RESERVED_COLUMNS and c not in roles.values()
        ),
        _dump(head),
        "# A user enters at the first stage and has this long to reach the last one.",
        _dump({"funnel": {"window": "30d", "order": "ordered", "count": "users"}}),
        "# Stages in journey order (ad/landing/visit → view/search → cart/trial → checkout →",
        "# purchase/subscribe → repeat → review/referral/share); edit, merge or split them.",
        _dump({"stages": stages}),
    ]
    if cart["add"] and cart["purchase"]:
        parts += ["# Events that start a cart, a checkout, and complete them.", _dump({"cart": cart})]
    if unknown:
        parts.append("# Events not placed in a stage (add them to a stage's `events:` if they belong):")
        parts += [f"#   {json.dumps(name, ensure_ascii=True)}" for name in unknown[:LISTED_UNPLACED]]
        if len(unknown) > LISTED_UNPLACED:
            parts.append(f"#   … and {len(unknown) - LISTED_UNPLACED:,} less frequent ones")
    return "\n".join(parts) + "\n"


def _dump(data: dict[str, object]) -> str:
    return yaml.safe_dump(
        data, sort_keys=False, allow_unicode=False, default_flow_style=None, width=100
    ).rstrip("\n")


def validate(journey: JourneyConfig, sources: Sequence[str | Path]) -> Validation:
    """Config events missing from the data, frequent data events (≥ 1% of rows) used by no stage
    or cart key, and the share of rows each stage matches. Rows are read without checks."""
    files, frame, _ = _read_all(sources, journey.csv)
    wanted = [journey.columns.user, journey.columns.time, journey.columns.event, *journey.property_columns]
    missing_columns = [c for c in dict.fromkeys(wanted) if c not in frame.columns]
    if missing_columns:
        raise InputError(
            f"no column {', '.join(map(repr, missing_columns))}; the files have: {', '.join(frame.columns)}",
            where=str(files[0]),
            hint="map the file's column names under `columns:` in the journey YAML",
        )
    canonical = frame.select(
        pl.col(journey.columns.user).alias(USER),
        pl.col(journey.columns.event).alias(EVENT),
        parse_timestamps_expr(
            pl.col(journey.columns.time), time_format=journey.time_format, timezone=journey.timezone
        ).alias(TS),
        *(pl.col(p) for p in journey.property_columns if p not in (USER, EVENT, TS)),
    )
    named = {e for stage in journey.stages for m in stage.match for e in m.events}
    named |= {*journey.cart.add, *journey.cart.checkout, *journey.cart.purchase}
    present = set(canonical[EVENT].drop_nulls().unique().to_list())
    frequent = _summaries(canonical, min_rows=FREQUENT_SHARE * frame.height)
    unused = [s for s in frequent if s.event not in named]
    shares = canonical.select(
        *(any_matcher_expr(stage.match).fill_null(False).sum().alias(stage.id) for stage in journey.stages)
    ).row(0)
    return Validation(
        rows=frame.height,
        missing_events=sorted(named - present),
        unused_events=unused,
        stages=[
            StageShare(id=stage.id, rows=int(n), share=n / frame.height)
            for stage, n in zip(journey.stages, shares, strict=True)
        ],
    )
