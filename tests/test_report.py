"""The report: period assignment, completeness, comparison arithmetic and its renderings."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from journeyctl import report
from journeyctl.aggregate import summarize
from journeyctl.cli import app
from journeyctl.compare import breakdown_changes, compare_results, direction
from journeyctl.errors import InputError
from journeyctl.facts import prepare
from journeyctl.periods import period_containing
from journeyctl.render import ReportFormat, render_period_report
from journeyctl.render.html import render_html
from journeyctl.render.json import render_json
from journeyctl.render.markdown import render_markdown
from journeyctl.report import Report, build_report, period_facts, periods_back

from .conftest import Golden
from .events import funnel, log

ROOT = Path(__file__).parent.parent
STORE = str(ROOT / "sample_data" / "store_events.csv")
STORE_YAML = str(ROOT / "configs" / "ecommerce.yaml")
DAY = 86_400
runner = CliRunner()

# START is Monday 2 March 2026 09:00 UTC; one-day window, days as periods.
TWO_DAYS = log(
    ("u1", 14 * 3600, "a"),  # enters on the 2nd at 23:00 ...
    ("u1", 16 * 3600, "b"),  # ... and converts on the 3rd: still the 2nd's conversion
    ("u2", 3600, "a"),  # the 2nd, lost
    ("u6", 0, "a"),  # the 2nd: b comes 25 h later, outside the window: lost on the 2nd
    ("u6", DAY + 1800, "a"),  # re-enters on the 3rd ...
    ("u6", DAY + 3600, "b"),  # ... and converts there
    ("u3", DAY, "a"),
    ("u3", DAY + 300, "b"),  # the 3rd, converted
    ("u4", DAY + 3 * 3600, "a"),  # the 3rd, lost
    ("u9", 3 * DAY, "x"),  # the data ends on Thursday the 5th at 09:00
)
AB = funnel("a", "b", window="1d")


def test_a_user_belongs_to_the_period_of_their_entry() -> None:
    second = period_containing(datetime(2026, 3, 2, 12, tzinfo=UTC), "day", "UTC")
    on_second = summarize(period_facts(prepare(TWO_DAYS, AB), AB, second), AB)
    on_third = summarize(period_facts(prepare(TWO_DAYS, AB), AB, second.shifted(1)), AB)
    assert [s.users for s in on_second.stages] == [3, 1]  # u1, u2, u6; u1 converts after midnight
    assert [s.users for s in on_third.stages] == [3, 2]  # u3, u4, u6 again (a new entry)
    # sessions by their first event: the 2nd has u1, u2, u6 (one event each, bounced);
    # the 3rd has u1's 01:00 visit (bounced), u6 and u3 (two events each) and u4 (bounced)
    assert (on_second.sessions, on_second.bounced_sessions) == (3, 3)
    assert (on_third.sessions, on_third.bounced_sessions) == (4, 2)


def test_the_current_period_is_the_last_whose_window_has_closed() -> None:
    report = build_report(TWO_DAYS, AB, period="day", periods=4)
    # data ends on the 5th 09:00: the 3rd's window closed on the 5th at 00:00, the 4th's is open
    assert (report.current.period.label, report.comparison.period.label) == ("2026-03-03", "2026-03-02")
    assert report.current.complete and report.comparison.complete
    assert [(p.label, p.complete, p.entered) for p in report.trend] == [
        ("2026-03-01", True, 0),
        ("2026-03-02", True, 3),
        ("2026-03-03", True, 3),
        ("2026-03-04", False, 0),
    ]
    change = {c.metric: c for c in report.changes}
    conversion = change["stages.s2.conversion"]
    assert (conversion.current, conversion.previous) == pytest.approx((2 / 3, 1 / 3))
    assert (conversion.change, conversion.relative_change) == pytest.approx((1 / 3, 1.0))
    assert (conversion.direction, conversion.test, conversion.significant) == ("better", None, False)
    bounce = change["bounce_rate"]
    assert (bounce.current, bounce.previous, bounce.change, bounce.direction) == (0.5, 1.0, -0.5, "better")
    assert change["stages.s1.users"].direction == "same"


def test_kpis_are_judged_on_the_current_period_as_check_judges_them() -> None:
    kpis = (
        "kpis:\n"
        "  - {metric: overall_conversion, min: 0.7}\n"  # 2/3 on the 3rd: fails
        "  - {metric: bounce_rate, max: 0.5, severity: warn}\n"  # exactly 0.5: the bound is inclusive
        "  - {metric: stages.s2.conversion, min: 0.5, severity: warn}\n"
        "  - {metric: repeat_purchase_rate, min: 0.1}\n"  # no buyers: undefined
    )
    report = build_report(TWO_DAYS, funnel("a", "b", window="1d", extra=kpis), period="day", periods=2)
    assert [(k.metric, k.actual, k.status) for k in report.kpis] == [
        ("overall_conversion", pytest.approx(2 / 3), "FAIL"),
        ("bounce_rate", 0.5, "PASS"),
        ("stages.s2.conversion", pytest.approx(2 / 3), "PASS"),
        ("repeat_purchase_rate", None, "ERROR"),
    ]


def test_events_after_as_of_are_ignored() -> None:
    as_of = datetime(2026, 3, 5, tzinfo=UTC)  # u9's event on the 5th is not seen
    report = build_report(TWO_DAYS, funnel("a", "b", window="1h"), period="day", periods=3, as_of=as_of)
    assert report.observed_until == datetime(2026, 3, 3, 12, tzinfo=UTC)  # u4 on the 3rd, the last event seen
    # the 2nd's window closed on the 3rd at 01:00; the 3rd's would close on the 4th at 01:00
    assert report.current.period.label == "2026-03-02"
    assert [(p.label, p.complete) for p in report.trend] == [
        ("2026-03-02", True),
        ("2026-03-03", False),
        ("2026-03-04", False),
    ]


def test_no_complete_period_is_an_error() -> None:
    with pytest.raises(InputError) as caught:
        build_report(TWO_DAYS, funnel("a", "b", window="7d"), period="week")
    assert str(caught.value) == (
        "no week is complete yet: the data runs from 2026-03-02 to 2026-03-05, and a week's "
        "conversion window (1w) must close before it can be compared\n"
        "  hint: use a shorter --period, a later --as-of or more data"
    )


@pytest.mark.parametrize(
    ("change", "better", "expected"),
    [
        (0.1, "up", "better"),
        (-0.1, "up", "worse"),
        (0.1, "down", "worse"),
        (-0.1, "down", "better"),
        (0.0, "up", "same"),
        (None, "down", "n/a"),
    ],
)
def test_direction_knows_which_way_is_better(change: float | None, better: str, expected: str) -> None:
    assert direction(change, better) == expected  # type: ignore[arg-type]


def _cohorts(converted_before: int, converted_now: int, n: int = 100) -> pl.DataFrame:
    rows = []
    for day, converted in ((0, converted_before), (1, converted_now)):
        for i in range(n):
            rows.append((f"d{day}u{i}", day * DAY + i, "a"))
            if i < converted:
                rows.append((f"d{day}u{i}", day * DAY + i + 60, "b"))
    rows.append(("late", 3 * DAY, "x"))
    return log(*rows)


def test_a_significant_fall_in_conversion_is_a_pain_point() -> None:
    report = build_report(_cohorts(80, 40), AB, period="day", periods=2)
    conversion = next(c for c in report.changes if c.metric == "stages.s2.conversion")
    assert (conversion.current, conversion.previous, conversion.test) == (0.4, 0.8, "z")
    assert conversion.significant and conversion.direction == "worse" and conversion.q_value is not None
    assert conversion.q_value < 1e-6
    [pain] = report.pain_points
    assert (pain.stage, pain.from_stage, pain.kinds[-1]) == ("s2", "s1", "conversion_fell")
    assert pain.reasons[-1].startswith(
        "conversion fell significantly: 40.0% against 80.0% in 2026-03-02 (q = "
    )
    unchanged = compare_results(report.current.result, report.comparison.result, complete=False)
    assert not any(c.significant for c in unchanged)  # an open window is never called significant


def test_a_significant_rise_is_not_a_pain_point() -> None:
    report = build_report(_cohorts(40, 80), AB, period="day", periods=2)
    assert next(c for c in report.changes if c.metric == "stages.s2.conversion").significant
    assert all("conversion_fell" not in p.kinds for p in report.pain_points)


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_markdown_report_of_the_sample_store(golden: Golden) -> None:
    args = ("report", STORE, "-c", STORE_YAML, "--period", "week", "--as-of", "2026-11-02", "-f", "markdown")
    code, out, err = run(*args)
    assert (code, err) == (0, "")
    golden.check("store_report.md", out)
    assert run(*args)[1] == out  # byte-identical on a second run


def test_json_report_is_deterministic_and_names_its_periods() -> None:
    args = ("report", STORE, "-c", STORE_YAML, "--period", "month", "--as-of", "2026-11-01", "-f", "json")
    code, out, _ = run(*args)
    data = json.loads(out)
    assert code == 0 and run(*args)[1] == out
    assert (data["current"]["period"]["label"], data["comparison"]["period"]["label"]) == (
        "2026-09",
        "2026-08",
    )
    assert [p["label"] for p in data["trend"]][-1] == "2026-10" and not data["trend"][-1]["complete"]


def test_output_suffix_picks_the_format(tmp_path: Path) -> None:
    target = tmp_path / "weekly.md"
    code, out, _ = run("report", STORE, "-c", STORE_YAML, "--as-of", "2026-11-02", "-o", str(target))
    assert (code, out) == (0, "")
    assert target.read_text().startswith("# Online store: week 2026-W39\n")


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (
            ("--period", "year"),
            "error: --period 'year': expected day, week or month\n  hint: e.g. --period week\n",
        ),
        (
            ("--as-of", "02/11/2026"),
            "error: --as-of '02/11/2026': expected a date YYYY-MM-DD\n  hint: e.g. --as-of 2026-11-02\n",
        ),
        (
            ("--compare", "last"),
            "error: --compare 'last': expected previous, year or a number of periods\n"
            "  hint: e.g. --compare previous, --compare year, --compare 4\n",
        ),
    ],
)
def test_bad_report_options_are_one_clear_error(option: tuple[str, str], message: str) -> None:
    code, out, err = run("report", STORE, "-c", STORE_YAML, *option)
    assert (code, out, err) == (2, "", message)


def test_html_without_the_report_extra_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if the extra were not installed
    code, out, err = run("report", STORE, "-c", STORE_YAML, "-f", "html")
    assert (code, out) == (2, "")
    assert err == (
        "error: the HTML report draws its charts with matplotlib, which is not installed\n"
        "  hint: pip install 'journeyctl[report]'\n"
    )


@pytest.mark.parametrize(
    ("compare", "period", "label"),
    [("previous", "week", "2026-W38"), ("year", "week", "2025-W39"), ("year", "month", "2025-09"),
     ("year", "day", "2025-09-23"), ("4", "week", "2026-W35")],
)  # fmt: skip
def test_comparison_period(compare: str, period: str, label: str) -> None:
    current = period_containing(datetime(2026, 9, 22, tzinfo=UTC), period, "UTC")  # a Tuesday
    assert current.shifted(-periods_back(compare, period)).label == label  # type: ignore[arg-type]


HOSTILE = "<script>alert(1)</script>"


def hostile_report() -> str:
    events = log(
        ("u1", 0, HOSTILE, "ad"),
        ("u1", 60, "b", HOSTILE),
        ("u2", 0, HOSTILE, HOSTILE),
        ("u9", 5 * DAY, "x"),
        properties=("channel",),
    )
    journey = funnel(
        HOSTILE, "b", window="1d", extra=f"name: '{HOSTILE}'\ncolumns: {{properties: [channel]}}"
    )
    return render_html(build_report(events, journey, period="day", periods=3))


def test_data_and_config_values_are_text_in_the_html() -> None:
    page = hostile_report()
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the channel from the data, the name from YAML
    assert not re.search(r"(src|href)=\"https?:", page)  # nothing to fetch


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium (installed by .ci/run)")
def test_html_report_renders_its_charts_in_a_headless_browser(tmp_path: Path) -> None:
    code, out, _ = run("report", STORE, "-c", STORE_YAML, "--as-of", "2026-11-02", "-f", "html")
    assert code == 0
    # the report has no script; the test adds one that measures the charts and records errors
    probe = (
        "<script>window.onerror=function(m){document.body.dataset.errors=(document.body.dataset.errors||'')+m};"
        "addEventListener('load',function(){var r=[];document.querySelectorAll('.chart svg').forEach("
        "function(s){var b=s.getBoundingClientRect();r.push(Math.round(b.width)+'x'+Math.round(b.height)+':'"
        "+s.querySelectorAll('path').length)});document.body.dataset.charts=r.join(' ')});</script>"
    )
    page = tmp_path / "weekly.html"
    page.write_text(out.replace("</body>", probe + "</body>"), encoding="utf-8")
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
    ]  # fmt: skip
    dom = subprocess.run(
        ["chromium", *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    charts = re.search(r'data-charts="([^"]*)"', dom.stdout)
    assert charts is not None, dom.stderr[-2000:]
    sizes = [re.fullmatch(r"(\d+)x(\d+):(\d+)", c) for c in charts.group(1).split()]
    assert len(sizes) == 3, sizes  # the funnel, the step conversions, the session and cart rates
    assert all(m and int(m[1]) > 200 and int(m[2]) > 100 and int(m[3]) > 20 for m in sizes), sizes
    assert "data-errors" not in dom.stdout and "Uncaught" not in dom.stderr
    shot = tmp_path / "report.png"
    subprocess.run(
        ["chromium", *flags, f"--screenshot={shot}", "--window-size=1000,1400", page.as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


# Days as periods, one-day window: the 2nd is the comparison period, the 3rd the current one
# (its window closes on the 5th at 00:00, before u9's last event). Channel at first touch.
BY_CHANNEL = log(
    ("p1", 0, "a", "email"),
    ("p1", 60, "b", "email"),  # the 2nd: email 2 entered (p1, p2), 1 reached b: 50%
    ("p2", 60, "a", "email"),
    ("p3", 120, "a", "ad"),
    ("p3", 180, "b"),  # the 2nd: ad 1 of 1: 100% (b has no channel; the entry row gives it)
    ("p4", 240, "a", "tv"),  # the 2nd: tv 0 of 1; tv does not occur on the 3rd
    ("c1", DAY, "a", "email"),
    ("c1", DAY + 60, "b"),  # the 3rd: email 3 entered (c1, c2, c3), 2 reached: 66.7%, +16.7 pp
    ("c2", DAY, "a", "email"),
    ("c2", DAY + 60, "b"),
    ("c3", DAY, "a", "email"),
    ("c4", DAY, "a", "ad"),  # the 3rd: ad 0 of 1: 0.0%, −100.0 pp; reached 0 against 1
    ("c5", DAY, "a", "social"),
    ("c5", DAY + 60, "b"),  # the 3rd: social 1 of 1; social does not occur on the 2nd
    ("u9", 3 * DAY, "x"),
    properties=("channel",),
)  # overall: the 3rd 3 of 5 (60.0%), the 2nd 2 of 4 (50.0%)


def by_channel(breakdowns: str = "{by: [channel]}") -> Report:
    journey = funnel(
        "a", "b", window="1d", extra=f"columns: {{properties: [channel]}}\nbreakdowns: {breakdowns}"
    )
    return build_report(BY_CHANNEL, journey, period="day", periods=2)


def section(markdown: str, heading: str) -> list[str]:
    """The lines of one ``##``/``###`` section, without its heading, up to the next heading."""
    lines = markdown.splitlines()
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("#")), len(lines))
    return lines[start:end]


def test_markdown_report_shows_each_value_against_the_comparison_period() -> None:
    # values in the current period's order (entered, ties by value), then tv, found only on
    # the 2nd; the overall row's changes are the report's own
    assert section(render_markdown(by_channel()), "### By channel") == [
        "",
        "Users entering in 2026-03-03 by channel (first touch): how many reached S2, and their "
        "conversion (S1 → S2) against 2026-03-02; a value's changes are not tested. Last column: "
        "each value's conversion in 2026-03-03 tested against the rest, no test below 30 users "
        "per group.",
        "",
        "| channel | Entered | Reached S2 | Change | Conversion | 2026-03-02 | Change | | Against the rest |",
        "|---|--:|--:|--:|--:|--:|--:|:-:|---|",
        "| email | 3 | 2 | +1 (+100.0%) | 66.7% | 50.0% | +16.7 pp | ▲ | – |",
        "| ad | 1 | 0 | −1 (−100.0%) | 0.0% | 100.0% | −100.0 pp | ▼ | – |",
        "| social | 1 | 1 | – | 100.0% | – | – |  | – |",
        "| tv | – | – | – | – | 0.0% | – |  | – |",
        "| **overall** | 5 | 3 | +1 (+50.0%) | 60.0% | 50.0% | +10.0 pp | ▲ | – |",
        "",
        "A – for a period: the value is not among that period's values (nobody with it entered "
        "then, or it was folded into (other)), so it has no change.",
        "",
    ]


def test_html_report_shows_each_value_against_the_comparison_period() -> None:
    page = render_html(by_channel())
    assert "<h2>Breakdowns</h2>\n<h3>By channel</h3>\n<p>Users entering in 2026-03-03 by channel" in page
    assert (
        "<tr><td>ad</td><td class=n>1</td><td class=n>0</td><td class=n>−1 (−100.0%)</td>"
        '<td class=n>0.0%</td><td class=n>100.0%</td><td class="n worse">−100.0 pp</td>'
        '<td class="worse">▼</td><td>–</td></tr>'
    ) in page
    assert (
        "<tr><td>tv</td><td class=n>–</td><td class=n>–</td><td class=n>–</td><td class=n>–</td>"
        '<td class=n>0.0%</td><td class="n">–</td><td></td><td>–</td></tr>'
    ) in page
    assert "<tr><td><b>overall</b></td><td class=n>5</td><td class=n>3</td>" in page
    assert page.index("<h2>Changes</h2>") < page.index("<h2>Breakdowns</h2>") < page.index("<h2>Trend</h2>")


def terminal(report: Report, width: int, heading: str = "By channel") -> list[str]:
    """The lines of the terminal report at ``width`` without colour from ``heading`` up to the
    trend, without the spaces Rich pads a table's lines with."""
    text = render_period_report(report, ReportFormat.table, width=width, color=False)
    lines = [line.rstrip() for line in text.splitlines()]
    start = lines.index(heading)
    return lines[start : next(i for i in range(start, len(lines)) if lines[i].startswith("Trend "))]


def test_terminal_report_shows_each_value_against_the_comparison_period() -> None:
    # the rows of the Markdown test above, after the pain points, and a rule above overall
    report = by_channel()
    assert terminal(report, 100) == [
        "By channel",
        "Users entering in 2026-03-03 by channel (first touch): how many reached S2, and their "
        "conversion (S1",
        "→ S2) against 2026-03-02; a value's changes are not tested. Last column: each value's conversion in",
        "2026-03-03 tested against the rest, no test below 30 users per group.",
        "channel  Entered  Reached S2        Change  Conversion  2026-03-02     Change     Against the rest",
        "──────────────────────────────────────────────────────────────────────────────────────────────────",
        "email          3           2  +1 (+100.0%)       66.7%       50.0%   +16.7 pp  ▲  –",
        "ad             1           0  −1 (−100.0%)        0.0%      100.0%  −100.0 pp  ▼  –",
        "social         1           1             –      100.0%           –          –     –",
        "tv             –           –             –           –        0.0%          –     –",
        "",
        "overall        5           3   +1 (+50.0%)       60.0%       50.0%   +10.0 pp  ▲  –",
        "A – for a period: the value is not among that period's values (nobody with it entered then, or it",
        "was folded into (other)), so it has no change.",
        "",
    ]
    text = render_period_report(report, ReportFormat.table, width=120)
    assert text.index("Pain points") < text.index("By channel") < text.index("Trend ")


def test_a_narrow_terminal_wraps_breakdown_cells_at_their_spaces() -> None:
    # 80 columns: the 98 of the table above do not fit; every column keeps its longest word
    # ("(+100.0%)", "Against"), one space between columns
    assert terminal(by_channel(), 80)[5:17] == [
        "                                                                       Against",
        "channel Entered Reached S2    Change Conversion 2026-03-02    Change   the rest",
        "────────────────────────────────────────────────────────────────────────────────",
        "email         3          2        +1      66.7%      50.0%  +16.7 pp ▲ –",
        "                           (+100.0%)",
        "ad            1          0        −1       0.0%     100.0% −100.0 pp ▼ –",
        "                           (−100.0%)",
        "social        1          1         –     100.0%          –         –   –",
        "tv            –          –         –          –       0.0%         –   –",
        "",
        "overall       5          3        +1      60.0%      50.0%  +10.0 pp ▲ –",
        "                            (+50.0%)",
    ]
    report = by_channel("{by: [channel], control: {channel: ad}}")
    for width in range(40, 141, 10):  # too narrow for every word at 40 and 50: cut, still inside
        text = render_period_report(report, ReportFormat.table, width=width)
        assert max(map(cell_len, text.splitlines())) <= width


def test_folded_values_compare_as_other() -> None:
    # top 1: email stays; on the 3rd ad and social fold into (other), 1 of 2 reached; on the
    # 2nd ad and tv, 1 of 2: unchanged; every value occurs in both periods, so no – note
    rows = section(render_markdown(by_channel("{by: [channel], top: 1}")), "### By channel")
    assert rows[1].endswith("no test below 30 users per group. 2 values beyond the top 1 are in (other).")
    assert rows[5:9] == [
        "| email | 3 | 2 | +1 (+100.0%) | 66.7% | 50.0% | +16.7 pp | ▲ | – |",
        "| (other) | 2 | 1 | ±0 (+0.0%) | 50.0% | 50.0% | ±0.0 pp | = | – |",
        "| **overall** | 5 | 3 | +1 (+50.0%) | 60.0% | 50.0% | +10.0 pp | ▲ | – |",
        "",
    ]


def test_values_are_tested_against_the_control() -> None:
    rows = section(render_markdown(by_channel("{by: [channel], control: {channel: ad}}")), "### By channel")
    assert "tested against channel=ad," in rows[1]
    assert rows[3].endswith("| Against channel=ad |")
    assert rows[6] == "| ad | 1 | 0 | −1 (−100.0%) | 0.0% | 100.0% | −100.0 pp | ▼ | control |"


def test_a_control_missing_from_the_current_period_tests_nothing() -> None:
    # tv entered only on the 2nd: its row comes last among the values, with no verdict
    rows = section(render_markdown(by_channel("{by: [channel], control: {channel: tv}}")), "### By channel")
    assert rows[1].endswith("Last column: channel=tv does not occur in 2026-03-03: nothing is tested.")
    assert rows[8] == "| tv | – | – | – | – | 0.0% | – |  | – |"


def email_against_ad() -> Report:
    """The 3rd: email 36 of 40, ad 4 of 40 (z-test, p far below 0.001); the 2nd: 20 of 40 each."""
    rows = []
    for day, (email, ad) in ((0, (20, 20)), (1, (36, 4))):
        for channel, converted in (("email", email), ("ad", ad)):
            for i in range(40):
                rows.append((f"{channel}{day}-{i}", day * DAY + i, "a", channel))
                if i < converted:
                    rows.append((f"{channel}{day}-{i}", day * DAY + i + 60, "b"))
    rows.append(("u9", 3 * DAY, "x"))
    journey = funnel("a", "b", window="1d", extra="columns: {properties: [channel]}\nbreakdowns: [channel]")
    return build_report(log(*rows, properties=("channel",)), journey, period="day", periods=2)


def test_a_value_converting_significantly_worse_says_so() -> None:
    lines = section(render_markdown(email_against_ad()), "### By channel")
    assert lines[5:7] == [  # 40 entered each: ad before email by name
        "| ad | 40 | 4 | −16 (−80.0%) | 10.0% | 50.0% | −40.0 pp | ▼ | worse, significant (q<0.001) |",
        "| email | 40 | 36 | +16 (+80.0%) | 90.0% | 50.0% | +40.0 pp | ▲ | better, significant (q<0.001) |",
    ]


def test_a_significant_value_is_coloured_in_the_terminal() -> None:
    report = email_against_ad()
    assert terminal(report, 120)[6:8] == [
        "ad            40           4  −16 (−80.0%)       10.0%       50.0%  −40.0 pp  ▼  "
        "worse, significant (q<0.001)",
        "email         40          36  +16 (+80.0%)       90.0%       50.0%  +40.0 pp  ▲  "
        "better, significant (q<0.001)",
    ]
    text = render_period_report(report, ReportFormat.table, width=120, color=True)
    # the changes between periods are not tested: coloured, not bold; the tests are both
    assert "\x1b[31m−40.0 pp\x1b[0m  \x1b[31m▼\x1b[0m  \x1b[1;31mworse, significant (q<0.001)" in text
    assert "\x1b[32m+40.0 pp\x1b[0m  \x1b[32m▲\x1b[0m  \x1b[1;32mbetter, significant (q<0.001)" in text


def test_json_report_carries_each_periods_breakdowns() -> None:
    data = json.loads(render_json(by_channel()))
    assert set(data) == set(Report.model_fields)  # nothing added: the breakdowns are in each result
    for period, expected in (("current", [("email", 3), ("ad", 1), ("social", 1)]),
                             ("comparison", [("email", 2), ("ad", 1), ("tv", 1)])):  # fmt: skip
        [breakdown] = data[period]["result"]["breakdowns"]
        assert [(v["value"], v["users"]) for v in breakdown["values"]] == expected


def test_by_replaces_the_configs_breakdowns_in_a_report() -> None:
    plain = funnel("a", "b", window="1d", extra="columns: {properties: [channel]}")
    by = report(BY_CHANNEL, plain, period="day", periods=2, by=["channel"])
    for mine, configured in ((by.current, by_channel().current), (by.comparison, by_channel().comparison)):
        assert mine.result.breakdowns == configured.result.breakdowns and mine.result.breakdowns
    assert report(BY_CHANNEL, plain, period="day", periods=2).current.result.breakdowns == []


def test_report_by_an_unmapped_column_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "never.md"
    code, out, err = run("report", STORE, "-c", STORE_YAML, "--by", "nosuch", "-o", str(target))
    assert (code, out) == (2, "")
    assert err.startswith("error: --by: 'nosuch' is not a mapped property column\n  hint: mapped properties:")
    assert not target.exists()


HOSTILE_CHANNEL = "<script>x</script>|`y`"


def test_hostile_breakdown_values_are_inert_in_markdown_and_html() -> None:
    events = log(
        ("u1", 0, "a", HOSTILE_CHANNEL),
        ("u1", 60, "b"),
        ("u2", DAY, "a", HOSTILE_CHANNEL),
        ("u9", 3 * DAY, "x"),
        properties=("channel",),
    )
    journey = funnel("a", "b", window="1d", extra="columns: {properties: [channel]}\nbreakdowns: [channel]")
    report = build_report(events, journey, period="day", periods=2)
    markdown = render_markdown(report)
    # no tag, no extra table cell, no code span: every | and ` escaped, < and > as entities
    assert "| &lt;script&gt;x&lt;/script&gt;\\|\\`y\\` | 1 | 0 | −1 (−100.0%) | 0.0% | 100.0% |" in markdown
    assert "<script" not in markdown
    page = render_html(report)
    assert "<tr><td>&lt;script&gt;x&lt;/script&gt;|`y`</td><td class=n>1</td>" in page
    assert "<script" not in page


def test_hostile_breakdown_values_are_inert_in_the_terminal() -> None:
    # Rich markup stays text, the escape character goes (no colour from the data), | is a letter
    events = log(
        ("u1", 0, "a", "[bold]x\x1b[31m|y"),
        ("u1", 60, "b"),
        ("u2", DAY, "a", "[bold]x\x1b[31m|y"),
        ("u9", 3 * DAY, "x"),
        properties=("channel",),
    )
    journey = funnel("a", "b", window="1d", extra="columns: {properties: [channel]}\nbreakdowns: [channel]")
    report = build_report(events, journey, period="day", periods=2)
    assert terminal(report, 120)[4:9] == [
        "channel        Entered  Reached S2        Change  Conversion  2026-03-02     Change     "
        "Against the rest",
        "─" * 104,
        "[bold]x[31m|y        1           0  −1 (−100.0%)        0.0%      100.0%  −100.0 pp  ▼  –",
        "",
        "overall              1           0  −1 (−100.0%)        0.0%      100.0%  −100.0 pp  ▼  –",
    ]
    assert "\x1b" not in render_period_report(report, ReportFormat.table, width=120)
    coloured = render_period_report(report, ReportFormat.table, width=120, color=True)
    assert "\n[bold]x[31m|y " in coloured and "\x1b[31m|" not in coloured


def test_value_changes_are_named_by_their_kpi_paths() -> None:
    report = by_channel()
    [breakdown] = report.current.result.breakdowns
    [previous] = report.comparison.result.breakdowns
    rows = breakdown_changes(breakdown, previous, last_stage="s2")
    assert [(r.value, r.entered, r.reached.metric, r.conversion.metric) for r in rows[::3]] == [
        ("email", 3, "by.channel.email.stages.s2.users", "by.channel.email.overall_conversion"),
        ("tv", None, "by.channel.tv.stages.s2.users", "by.channel.tv.overall_conversion"),
    ]
    email = rows[0].conversion  # 2 of 3 against 1 of 2
    assert (email.change, email.relative_change) == pytest.approx((1 / 6, 1 / 3))
    assert (email.direction, email.test, email.significant) == ("better", None, False)
    assert [r.value for r in breakdown_changes(breakdown, None, last_stage="s2")] == ["email", "ad", "social"]


def test_the_terminal_trend_leaves_out_the_earliest_periods_rather_than_cut_a_number() -> None:
    weekly = report([STORE], STORE_YAML, period="week")  # 8 weeks, 2026-W36 to 2026-W43
    labels = [point.label for point in weekly.trend]
    wide = render_period_report(weekly, ReportFormat.table, width=120)
    trend = wide[wide.index("\nTrend") :]
    assert all(label in trend for label in labels) and "left out of the trend" not in trend
    # the sparkline of the entered units keeps all 8 weeks (1,024 … 958 in the sample)
    assert next(line for line in trend.splitlines() if line.startswith("Entered")).endswith("▆▄█▆▃▂▃▁")
    narrow = render_period_report(weekly, ReportFormat.table, width=80)
    trend = narrow[narrow.index("\nTrend") :]
    header = trend.splitlines()[1]
    assert [label in header for label in labels] == [False] * 3 + [True] * 5
    assert "2026-W36 to 2026-W38 left out of the trend to fit 80 columns (see --width)" in trend
    assert "…" not in trend and max(map(len, narrow.splitlines())) <= 80
