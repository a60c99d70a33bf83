"""GitHub Actions: ``::error``/``::warning`` workflow commands and the step-summary Markdown.

Workflow-command escaping (the runner's rules): in a message ``%`` → ``%25``, CR → ``%0D``,
LF → ``%0A``; in a property value additionally ``:`` → ``%3A`` and ``,`` → ``%2C``.
"""

from __future__ import annotations

from journeyctl.check import CheckReport, Status, bound_text, format_value
from journeyctl.render.text import safe
from journeyctl.render.verdicts import summary_line

ICON = {Status.passed: "✅ PASS", Status.warned: "⚠️ WARN", Status.failed: "❌ FAIL", Status.error: "❌ ERROR"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_annotations(report: CheckReport) -> str:
    """One line per KPI that did not pass: ``::error`` for FAIL and ERROR (and WARN when
    warnings fail), ``::warning`` for WARN; empty when every KPI passed."""
    lines = []
    for verdict in report.verdicts:
        if verdict.status is Status.passed:
            continue
        breaks = verdict.status is not Status.warned or report.fail_on == "warn"
        command = "error" if breaks else "warning"
        title = f"KPI {verdict.status.value}: {verdict.metric}"
        message = (
            verdict.message if verdict.status is not Status.error else f"cannot compute: {verdict.message}"
        )
        if verdict.description:
            message += f" ({verdict.description})"
        lines.append(f"::{command} title={escape_property(title)}::{escape_data(message)}\n")
    return "".join(lines)


def render_step_summary(report: CheckReport) -> str:
    """A Markdown verdict table for ``$GITHUB_STEP_SUMMARY`` (appended to by each step)."""
    rows = [
        f"### KPI check: {_cell(report.journey)}",
        "",
        "| KPI | actual | bound | severity | verdict | why |",
        "|---|---:|---|---|---|---|",
    ]
    for v in report.verdicts:
        kpi = _cell(v.metric) + (f"<br>{_cell(v.description)}" if v.description else "")
        cells = [
            kpi,
            format_value(v.actual, v.unit),
            bound_text(v),
            v.severity,
            ICON[v.status],
            _cell(v.message),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join([*rows, "", f"**{summary_line(report)}**", "", ""])


def _cell(text: str) -> str:
    """Text from the config or data made inert in a Markdown table cell."""
    out = safe(text)
    for char in "\\|`*_[]<>#":
        out = out.replace(char, "\\" + char)
    return out
