"""``--junit FILE``: JUnit XML, one test case per KPI, as CI systems display test results.

One ``<testsuite name="journeyctl KPIs">``; a case's ``classname`` is the journey name.
FAIL and ERROR verdicts carry a ``<failure>`` (actual vs bound, or why the metric cannot be
computed); warnings are passing cases whose ``<system-out>`` says what was breached.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from journeyctl.check import CheckReport, Status, Verdict, bound_text, format_value

_XML_INVALID = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])


def render_junit(report: CheckReport) -> str:
    failures = sum(v.status in (Status.failed, Status.error) for v in report.verdicts)
    if report.fail_on == "warn":
        failures += report.warned
    suites = ET.Element("testsuites", name="journeyctl check", tests=str(len(report.verdicts)))
    suites.set("failures", str(failures))
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="journeyctl KPIs",
        tests=str(len(report.verdicts)),
        failures=str(failures),
        errors="0",
        skipped="0",
    )
    for verdict in report.verdicts:
        case = ET.SubElement(suite, "testcase", name=_clean(verdict.metric), classname=_clean(report.journey))
        detail = _detail(verdict)
        breaks = verdict.status in (Status.failed, Status.error) or (
            verdict.status is Status.warned and report.fail_on == "warn"
        )
        if breaks:
            failure = ET.SubElement(
                case, "failure", message=_clean(_message(verdict)), type=verdict.status.value
            )
            failure.text = _clean(detail)
        elif verdict.status is Status.warned:
            ET.SubElement(case, "system-out").text = _clean(f"warning: {detail}")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _message(verdict: Verdict) -> str:
    if verdict.status is Status.error:
        return f"cannot compute {verdict.metric}: {verdict.message}"
    return verdict.message


def _detail(verdict: Verdict) -> str:
    lines = [
        f"{verdict.metric}: {verdict.status.value}",
        f"actual: {format_value(verdict.actual, verdict.unit)}",
        f"bound: {bound_text(verdict)}",
    ]
    if verdict.message:
        lines.append(_message(verdict))
    if verdict.description:
        lines.append(verdict.description)
    return "\n".join(lines)


def _clean(text: str) -> str:
    """XML 1.0 cannot carry most control characters, even escaped: drop them."""
    return text.translate(_XML_INVALID)
