"""KPI thresholds → ``CheckReport``: one verdict per KPI and the exit code of the run.

Metric paths name numbers of the analysis result as ``--format json`` prints it, so every
numeric field is addressable without a hand-kept list: ``overall_conversion`` is a
top-level field, ``stages.<id>.<field>`` finds a stage by its id, and
``by.<column>.<value>.<path>`` finds one value of a breakdown and applies ``<path>`` there.
"""

from __future__ import annotations

import difflib
import math
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel

from journeyctl.breakdown import listing
from journeyctl.config.durations import format_duration
from journeyctl.config.models import SEPARATOR, Bound, JourneyConfig, Kpi, Severity
from journeyctl.errors import ExitCode
from journeyctl.result import AnalysisResult, BreakdownValue, DataQuality, Frozen, StageResult

CHECK_SCHEMA_VERSION = 1
Unit = Literal["rate", "count", "duration"]
NOT_METRICS = {"schema_version"}


class Status(StrEnum):
    passed = "PASS"
    warned = "WARN"
    failed = "FAIL"
    error = "ERROR"  # the metric cannot be computed on this data: it fails the run


class Uncomputable(Exception):
    """A metric path that names nothing, or nothing defined, in this result (with the reason)."""


def _numeric_fields(model: type[BaseModel]) -> dict[str, Unit]:
    """The numeric fields of a result model with their unit: ``_s`` durations, ints counts,
    other floats rates."""
    fields: dict[str, Unit] = {}
    for name, field in model.model_fields.items():
        kinds = (
            set(typing.get_args(field.annotation))
            if isinstance(field.annotation, types.UnionType)
            else {field.annotation}
        )
        kinds.discard(type(None))
        if name in NOT_METRICS or not kinds or not kinds <= {int, float}:
            continue
        fields[name] = "duration" if name.endswith("_s") else "count" if kinds == {int} else "rate"
    return fields


TOP_LEVEL = _numeric_fields(AnalysisResult)
STAGE_FIELDS = _numeric_fields(StageResult)
VALUE_FIELDS = _numeric_fields(BreakdownValue)
UNITS: dict[str, Unit] = STAGE_FIELDS | TOP_LEVEL | VALUE_FIELDS


def unit_of(metric: str) -> Unit:
    """The unit of a metric path, from its last field name (``rate`` for unknown ones)."""
    return UNITS.get(metric.rsplit(".", 1)[-1], "rate")


def static_paths(journey: JourneyConfig) -> list[str]:
    """Every metric path outside breakdowns that a result of ``journey`` has."""
    stage_paths = [f"stages.{s.id}.{f}" for s in journey.stages for f in STAGE_FIELDS]
    return [*TOP_LEVEL, *stage_paths]


def path_problem(metric: str, journey: JourneyConfig) -> tuple[str, str] | None:
    """``(message, hint)`` when ``metric`` is not a valid path for ``journey``, else None.

    ``by.<column>.<value>.<path>`` is checked for form only: the column must be a mapped
    property and ``<path>`` a valid path; whether the value occurs is known only from data.
    """
    valid = static_paths(journey)
    if metric in valid:
        return None
    by = breakdown_path(metric)
    if by is not None:
        columns, rest = by
        column = SEPARATOR.join(columns)
        properties = journey.columns.properties
        unknown = [c for c in columns if c not in properties]
        if unknown:
            mapped = ", ".join(properties) if properties else "none: columns.properties is empty"
            return f"{unknown[0]!r} is not a mapped property column", f"breakdown columns: {mapped}"
        if _split_breakdown(rest, [*valid, *VALUE_FIELDS]) is None:
            return (
                f"{metric!r} does not end in a value and a metric path",
                f"write by.{column}.<value>.<path>, e.g. by.{column}.email.overall_conversion",
            )
        return None
    close = difflib.get_close_matches(metric, valid, n=3, cutoff=0.6)
    ids = ", ".join(s.id for s in journey.stages)
    listing = (
        f"valid: {', '.join(TOP_LEVEL)}; stages.<id>.<field> with ids {ids} and fields "
        f"{', '.join(STAGE_FIELDS)}; by.<column>.<value>.<path>"
    )
    hint = f"did you mean {' or '.join(f'`{c}`' for c in close)}? {listing}" if close else listing
    return f"unknown metric path {metric!r}", hint


def breakdown_path(metric: str) -> tuple[list[str], str] | None:
    """``by.channel/segment.email/new.users`` → ``(["channel", "segment"], "email/new.users")``:
    the columns of the breakdown a ``by.`` path reads and the value and path within it; None
    for a path outside breakdowns. A column has no dot, a value may have dots."""
    if not metric.startswith("by."):
        return None
    column, _, rest = metric.removeprefix("by.").partition(".")
    return column.split(SEPARATOR), rest


def breakdowns_named(kpis: Iterable[Kpi]) -> list[list[str]]:
    """The breakdowns (their columns) that the ``by.`` metrics of ``kpis`` read, in order."""
    return [by[0] for kpi in kpis if (by := breakdown_path(kpi.metric)) is not None]


def _split_breakdown(rest: str, valid: Sequence[str]) -> tuple[str, str] | None:
    """``"email.overall_conversion"`` → ``("email", "overall_conversion")``; a value may contain
    dots, so the path is the shortest valid suffix."""
    for index, char in enumerate(rest):
        if char == "." and index and rest[index + 1 :] in valid:
            return rest[:index], rest[index + 1 :]
    return None


def resolve(data: Mapping[str, Any], metric: str) -> float:
    """The number at ``metric`` in a result dump (``model_dump(mode="json")``).

    Raises ``Uncomputable`` with the reason in words when the path names nothing in this
    result, or a metric that is undefined here (``None``: nobody to compute it from).
    """
    node: Any = data
    parts = metric.split(".")
    by = breakdown_path(metric)
    if by is not None and "." in by[1]:  # by.<column>.<value>.<path>
        column, rest = SEPARATOR.join(by[0]), by[1]
        breakdowns = [b for b in data.get("breakdowns") or [] if b.get("column") == column]
        if not breakdowns:
            raise Uncomputable(f"the result has no breakdown by {column}")
        values = breakdowns[0].get("values", [])
        match = next((v for v in values if rest.startswith(f"{v.get('value')}.")), None)
        if match is None:
            present = listing([str(v.get("value")) for v in values])
            named = re.fullmatch(r"(.*?)\.(stages\.[^.]+\.[^.]+|[^.]+)", rest)
            value = named.group(1) if named else rest
            raise Uncomputable(f"no user has {column} {value!r} in this data; values present: {present}")
        node, parts = match, rest.removeprefix(f"{match['value']}.").split(".")
        data = match
    for part in parts:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and all(isinstance(item, Mapping) and "id" in item for item in node):
            found = next((item for item in node if item["id"] == part), None)
            if found is None:
                raise Uncomputable(f"there is no stage {part!r} in the result")
            node = found
        else:
            raise Uncomputable(f"{metric!r} names no number in the result")
    if node is None:
        raise Uncomputable(_undefined_reason(data, parts))
    if isinstance(node, bool) or not isinstance(node, int | float):
        raise Uncomputable(f"{metric!r} is not a number")
    return float(node)


def _undefined_reason(data: Mapping[str, Any], parts: Sequence[str]) -> str:
    stages = data.get("stages") or []
    if len(parts) == 3 and parts[0] == "stages" and stages and stages[0].get("id") == parts[1]:
        return f"undefined: {parts[1]!r} is the first stage, there is no step into it"
    if unit_of(parts[-1]) == "duration":
        return "undefined: nobody reached this stage, so there is no time to convert"
    return "undefined: its denominator is 0 (nobody to convert, e.g. zero users entered)"


class Verdict(Frozen):
    metric: str
    description: str | None
    source: Literal["config", "command line"]
    unit: Unit
    actual: float | None  # None when the metric cannot be computed (status ERROR)
    fail: Bound | None
    warn: Bound | None
    status: Status
    message: str  # the breach ("actual 0.8% < min 2.0%") or the reason for ERROR; "" on PASS

    @property
    def severity(self) -> str:
        return "/".join(s for s, b in (("warn", self.warn), ("fail", self.fail)) if b is not None)


class CheckReport(Frozen):
    """What ``journeyctl check --format json`` prints; ``CHECK_SCHEMA_VERSION`` changes when a
    field changes meaning or disappears."""

    schema_version: int = CHECK_SCHEMA_VERSION
    journey: str
    fail_on: Severity
    passed: int
    warned: int
    failed: int
    errors: int
    exit_code: int
    verdicts: list[Verdict]
    data_quality: DataQuality  # what loading found (bad rows skipped, duplicates)


def evaluate(
    result: AnalysisResult,
    kpis: Iterable[Kpi],
    *,
    extra: Iterable[Kpi] = (),
    fail_on: Severity = "fail",
) -> CheckReport:
    """Verdicts for the config's ``kpis`` and the command line's ``extra`` ones.

    A breached fail bound is FAIL; otherwise a breached warn bound is WARN; a metric that
    cannot be computed is ERROR. Exit code 1 when anything is FAIL or ERROR (or WARN with
    ``fail_on="warn"``), else 0.
    """
    data = result.model_dump(mode="json")
    verdicts = [_verdict(data, kpi, "config") for kpi in kpis]
    verdicts += [_verdict(data, kpi, "command line") for kpi in extra]
    count = {status: sum(v.status is status for v in verdicts) for status in Status}
    breaking = count[Status.failed] + count[Status.error] + (count[Status.warned] if fail_on == "warn" else 0)
    return CheckReport(
        journey=result.journey,
        fail_on=fail_on,
        passed=count[Status.passed],
        warned=count[Status.warned],
        failed=count[Status.failed],
        errors=count[Status.error],
        exit_code=ExitCode.KPI_FAILED if breaking else ExitCode.OK,
        verdicts=verdicts,
        data_quality=result.data_quality,
    )


def _verdict(data: Mapping[str, Any], kpi: Kpi, source: Literal["config", "command line"]) -> Verdict:
    bounds = kpi.bounds()
    unit = unit_of(kpi.metric)
    common = {
        "metric": kpi.metric,
        "description": kpi.description,
        "source": source,
        "unit": unit,
        "fail": bounds.get("fail"),
        "warn": bounds.get("warn"),
    }
    try:
        actual = resolve(data, kpi.metric)
    except Uncomputable as err:
        return Verdict(**common, actual=None, status=Status.error, message=str(err))
    for severity, status in (("fail", Status.failed), ("warn", Status.warned)):
        bound = bounds.get(severity)  # type: ignore[call-overload]
        breach = next((b for b in bound.limits() if not _holds(actual, *b)), None) if bound else None
        if breach is not None:
            message = _breach_text(actual, breach[0], breach[1], unit)
            return Verdict(**common, actual=actual, status=status, message=message)
    return Verdict(**common, actual=actual, status=Status.passed, message="")


def _holds(actual: float, op: str, limit: float) -> bool:
    """Whether ``actual op limit``; values equal up to float rounding count as equal."""
    equal = math.isclose(actual, limit, rel_tol=1e-9, abs_tol=1e-12)
    if op == ">=":
        return equal or actual > limit
    if op == "<=":
        return equal or actual < limit
    if op == ">":
        return not equal and actual > limit
    return not equal and actual < limit


NEGATION = {">=": "<", "<=": ">", ">": "<=", "<": ">="}
LIMIT_WORD = {">=": "min ", "<=": "max ", ">": "> ", "<": "< "}


def _breach_text(actual: float, op: str, limit: float, unit: Unit) -> str:
    digits = _digits(limit, unit)
    shown = format_value(actual, unit, digits)
    apart = not math.isclose(actual, limit, rel_tol=1e-9, abs_tol=1e-12)
    while apart and shown == format_value(limit, unit, digits) and digits < 4:  # not "0.2% < min 0.2%"
        digits += 1
        shown = format_value(actual, unit, digits)
    word = LIMIT_WORD[op] if op in ("<=", ">=") else ""
    return f"actual {shown} {NEGATION[op]} {word}{format_value(limit, unit, digits)}"


def _digits(value: float, unit: Unit) -> int:
    """Enough decimals to show a threshold as written (``0.15%``, not ``0.1%``)."""
    scale = 100 if unit == "rate" else 1
    return next((d for d in range(1, 4) if math.isclose(round(value * scale, d), value * scale)), 4)


def format_value(value: float | None, unit: Unit, digits: int = 1) -> str:
    """A metric value in its unit: ``2.0%``, ``1,234``, ``2h``; ``–`` when undefined."""
    if value is None:
        return "–"
    if unit == "rate":
        return f"{value * 100:.{digits}f}%"
    if unit == "count":
        return f"{value:,.0f}" if value == int(value) else f"{value:,.{digits}f}"
    return format_duration(value)


def bound_text(verdict: Verdict) -> str:
    """The bounds in words: ``min 2.0%``, or ``fail min 2.0% · warn min 3.0%`` with both."""
    parts = []
    for severity, bound in (("fail", verdict.fail), ("warn", verdict.warn)):
        if bound is None:
            continue
        unit = verdict.unit
        if bound.min is not None and bound.min == bound.max and bound.gt is None and bound.lt is None:
            limits = f"= {format_value(bound.min, unit, _digits(bound.min, unit))}"
        else:
            limits = ", ".join(
                f"{LIMIT_WORD[op]}{format_value(v, unit, _digits(v, unit))}" for op, v in bound.limits()
            )
        parts.append(f"{severity} {limits}" if verdict.fail and verdict.warn else limits)
    return " · ".join(parts)
