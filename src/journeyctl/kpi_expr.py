"""``--kpi EXPR``: an ad-hoc KPI from the command line, read by a small grammar (never eval).

    expr      := [severity ":"] metric operator threshold
    severity  := "fail" | "warn"                      (default fail)
    operator  := ">=" | "<=" | ">" | "<" | "=="
    threshold := number | number "%" | duration        (durations for ``_s`` metrics)

``overall_conversion>=0.02``, ``warn:bounce_rate<=55%``, ``stages.purchase.median_time_to_convert_s<2h``.
"""

from __future__ import annotations

import re

from pydantic import ValidationError

from journeyctl.check import path_problem
from journeyctl.config.models import Bound, JourneyConfig, Kpi, parse_threshold
from journeyctl.errors import UsageError

_EXPR = re.compile(
    r"\s*(?:(?P<severity>fail|warn)\s*:\s*)?(?P<metric>[^<>=\s](?:[^<>=]*[^<>=\s])?)"
    r"\s*(?P<op>>=|<=|==|>|<)\s*(?P<threshold>[^<>=\s](?:[^<>=]*[^<>=\s])?)\s*"
)
_BOUND_KEY = {">=": "min", "<=": "max", ">": "gt", "<": "lt"}
HINT = "write METRIC OP VALUE with OP one of >= <= > < ==, e.g. --kpi 'overall_conversion>=0.02'"


def parse_kpi(text: str, journey: JourneyConfig) -> Kpi:
    """The KPI ``text`` states, its metric path checked against ``journey``.

    Raises ``UsageError`` naming the expression, with the valid paths nearest first.
    """
    where = f"--kpi {text!r}"
    found = _EXPR.fullmatch(text)
    if found is None:
        raise UsageError("not a KPI expression", where=where, hint=HINT)
    metric, op = found["metric"], found["op"]
    problem = path_problem(metric, journey)
    if problem is not None:
        raise UsageError(problem[0], where=where, hint=problem[1])
    try:
        value = parse_threshold(found["threshold"], metric)
        limits = {"min": value, "max": value} if op == "==" else {_BOUND_KEY[op]: value}
        return Kpi(metric=metric, **{found["severity"] or "fail": Bound(**limits)})
    except (ValueError, ValidationError) as err:
        message = err.errors()[0]["msg"] if isinstance(err, ValidationError) else str(err)
        raise UsageError(message.removeprefix("Value error, "), where=where, hint=HINT) from None
