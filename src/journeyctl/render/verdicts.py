"""The terminal view of a KPI check: one row per KPI with its verdict, then a summary line."""

from __future__ import annotations

import io

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from journeyctl.check import CheckReport, Status, Verdict, bound_text, format_value
from journeyctl.render.text import safe, text_console

STYLE = {
    Status.passed: "bold green",
    Status.warned: "bold yellow",
    Status.failed: "bold red",
    Status.error: "bold red",
}


def render_verdicts(report: CheckReport, *, width: int | None = None, color: bool = False) -> str:
    out = io.StringIO()
    console = text_console(out, width=width, color=color)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1, 0, 0))
    table.add_column("KPI", overflow="fold", min_width=20)
    table.add_column("Actual", justify="right", no_wrap=True)
    table.add_column("Bound", no_wrap=True)
    table.add_column("Severity", no_wrap=True)
    table.add_column("Verdict", no_wrap=True)
    table.add_column("Why", overflow="fold", ratio=1)
    for verdict in report.verdicts:
        table.add_row(
            kpi_label(verdict),
            format_value(verdict.actual, verdict.unit),
            bound_text(verdict),
            verdict.severity,
            Text(verdict.status.value, style=STYLE[verdict.status]),
            Text(safe(verdict.message)),
        )
    title = Text(safe(report.journey), style="bold")
    title.append(" — KPI check", style="dim")
    console.print(Group(title, table, Text(summary_line(report), style="bold")))
    return out.getvalue()


def kpi_label(verdict: Verdict) -> Text:
    label = Text(safe(verdict.metric))
    if verdict.description:
        label.append(f"\n{safe(verdict.description)}", style="dim")
    return label


def summary_line(report: CheckReport) -> str:
    """``3 passed · 1 warning · 1 failed · 0 errors → exit 1``."""
    warnings = "warning" if report.warned == 1 else "warnings"
    errors = "error" if report.errors == 1 else "errors"
    strict = " (warnings fail)" if report.fail_on == "warn" else ""
    return (
        f"{report.passed} passed · {report.warned} {warnings} · {report.failed} failed · "
        f"{report.errors} {errors}{strict} → exit {report.exit_code}"
    )
