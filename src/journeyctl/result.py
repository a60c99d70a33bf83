"""The typed result of an analysis: what ``--format json`` prints, field for field.

Rates are fractions in [0, 1]; ``None`` (JSON null) means undefined, e.g. nobody was there
to convert. Durations are seconds. ``SCHEMA_VERSION`` changes when a field changes meaning
or disappears; new fields may be added within a version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

SCHEMA_VERSION = 1

PainKind = Literal["drop_off_limit", "biggest_leak", "slowest_transition", "conversion_fell", "segment_worse"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def rate(part: int, whole: int) -> float | None:
    """A fraction in [0, 1], or None when nobody was there to convert (undefined, not 0%)."""
    return part / whole if whole else None


class StageMetrics(Frozen):
    id: str
    label: str
    users: int  # units reaching the stage (AnalysisResult.unit says what a unit is)
    conversion: float | None  # users / users of the previous stage; None for the first stage
    from_start: float | None  # users / users of the first stage
    lost: int | None  # users of the previous stage who did not reach this one
    drop_off: float | None  # 1 - conversion
    pending: int  # of the lost, those whose window is still open at the end of the data
    median_time_to_convert_s: float | None  # from the previous step
    p90_time_to_convert_s: float | None
    mean_time_to_convert_s: float | None
    min_time_to_convert_s: float | None
    max_time_to_convert_s: float | None
    median_time_from_entry_s: float | None


class StageResult(StageMetrics):
    pain_point: bool
    pain_point_reasons: list[str]


class SegmentTest(Frozen):
    """A breakdown value's conversion against its comparison group (docs/metrics.md)."""

    against: str  # "rest" (every other unit) or "control" (the control value's units)
    rate: float | None
    interval: tuple[float, float] | None  # 95% Wilson
    other_rate: float | None
    other_interval: tuple[float, float] | None
    difference: float | None  # rate - other_rate
    direction: Literal["better", "worse", "same", "n/a"]
    test: Literal["z", "fisher"] | None  # None: a group is below the minimum sample
    p_value: float | None
    q_value: float | None  # Benjamini–Hochberg over every test of the breakdown
    significant: bool  # q_value < 0.05


class BreakdownStage(StageMetrics):
    significance: SegmentTest | None  # the step conversion into this stage; None when not tested


class BreakdownValue(Frozen):
    value: str  # the property value, "(none)", "(not reached)" or "(other)"
    users: int  # units entered (reached stage 1) attributed to this value
    share: float | None  # of all units entered
    overall_conversion: float | None
    overall_significance: SegmentTest | None
    stages: list[BreakdownStage]


class Breakdown(Frozen):
    column: str  # the property, or two joined by "/" (their combinations are the values)
    columns: list[str]
    attribution: str  # first_touch, last_touch or a stage id
    against: Literal["rest", "control"]
    control: str | None
    top: int
    min_sample: int
    folded_values: int  # distinct values beyond the top folded into "(other)"
    values: list[BreakdownValue]


class PainPoint(Frozen):
    stage: str  # the stage users fail to reach
    from_stage: str
    kinds: list[PainKind]
    reasons: list[str]


class BounceGroup(Frozen):
    value: str
    sessions: int
    bounced_sessions: int
    bounce_rate: float | None


class ExclusionResult(Frozen):
    """One ``funnel.exclude`` rule and the units it touched: those whose level this rule
    alone lowers (under ``drop_user``, the units it alone would remove)."""

    events: list[str]
    between: list[str]  # [stage id, stage id]
    units_touched: int


class DataQuality(Frozen):
    """What loading found: nothing is dropped without being counted here."""

    rows_read: int = 0
    bad_rows: int = 0  # no user, no event or an unparseable timestamp (skipped or quarantined)
    bad_rows_policy: str = "fail"
    duplicate_events: int = 0  # rows identical to an earlier one in every analysed column
    duplicates_dropped: int = 0  # with --dedupe
    events_in_future: int = 0  # later than the time of the analysis (kept)
    events_before_plausible_epoch: int = 0  # before 2000-01-01 UTC (kept)

    @property
    def has_findings(self) -> bool:
        return bool(
            self.bad_rows
            or self.duplicate_events
            or self.events_in_future
            or self.events_before_plausible_epoch
        )


class Filters(Frozen):
    """What the analysis was limited to (``--where``, ``--since``, ``--until``)."""

    where: list[str] = []  # property filters on event rows, all of which a row passes
    since: datetime | None = None  # funnel entries at or after (in the journey's time zone)
    until: datetime | None = None  # funnel entries before

    @property
    def applied(self) -> bool:
        return bool(self.where) or self.since is not None or self.until is not None


class NextEvent(Frozen):
    """One line of what units did after dropping off: an event, none, or the rest folded."""

    kind: Literal["event", "none", "other"]  # none: no further events; other: the rarer ones
    event: str | None  # the event name (kind event only)
    units: int
    share: float | None  # of the units that dropped off


class AfterDropOff(Frozen):
    """The next event after the last step of units that reached ``stage`` but not
    ``next_stage`` and are not pending (their window closed)."""

    stage: str
    next_stage: str
    units: int  # units that dropped off there
    pending: int  # left out: their window is still open
    next_events: list[NextEvent]  # most frequent first (ties by name), then other


class UserExport(Frozen):
    """A list of the user ids behind a number, written for follow-up (``--export-users``)."""

    kind: Literal["reached", "dropped", "pending"]
    stage: str
    path: str
    users: int

    @property
    def selection(self) -> str:
        """Who is on the list, in words: "dropped off after consideration"."""
        verb = {"reached": "reached", "dropped": "dropped off after", "pending": "pending after"}
        return f"{verb[self.kind]} {self.stage}"


class AnalysisResult(Frozen):
    schema_version: int = SCHEMA_VERSION
    journey: str
    unit: str  # what one count is: users, sessions, or "<hold columns> values"
    order: str  # ordered, strict
    window_s: float
    events: int  # rows analysed
    users: int  # distinct users in the data
    first_event_at: datetime | None
    last_event_at: datetime | None
    stages: list[StageResult]
    overall_conversion: float | None
    biggest_leak: str | None  # id of the stage whose transition loses the most users
    sessions: int
    bounced_sessions: int
    bounce_rate: float | None
    bounce_rule: str
    bounce_by_landing_channel: list[BounceGroup]
    bounce_by_landing_stage: list[BounceGroup]
    carts: int
    purchased_carts: int
    cart_abandonment_rate: float | None
    checkouts: int
    purchased_checkouts: int
    checkout_abandonment_rate: float | None
    buyers: int
    repeat_buyers: int
    repeat_purchase_rate: float | None
    repeat_rule: str
    pain_points: list[PainPoint]
    breakdowns: list[Breakdown] = []
    data_quality: DataQuality = DataQuality()
    filters: Filters = Filters()
    exclude_pending: bool = False  # pending units left out of conversion, lost and drop-off
    after_drop_off: AfterDropOff | None = None
    user_exports: list[UserExport] = []
    exclusions: list[ExclusionResult] = []
    on_exclusion: str | None = None  # keep_best or drop_user, when there are exclusions
    excluded_units: int = 0  # units the exclusions lowered (keep_best) or removed (drop_user)

    def stage(self, stage_id: str) -> StageResult:
        return next(s for s in self.stages if s.id == stage_id)
