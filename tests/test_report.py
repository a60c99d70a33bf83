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
from typer.testing import CliRunner

from journeyctl.cli import app
from journeyctl.compare import compare_results, direction
from journeyctl.errors import InputError
from journeyctl.facts import prepare
from journeyctl.periods import period_containing
from journeyctl.render.html import render_html
from journeyctl.report import build_report, period_result, periods_back

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
    on_second = period_result(prepare(TWO_DAYS, AB), AB, second)
    on_third = period_result(prepare(TWO_DAYS, AB), AB, second.shifted(1))
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
