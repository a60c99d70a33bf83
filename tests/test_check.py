"""KPI thresholds: metric paths, the --kpi grammar, verdicts, exit codes, JUnit and GitHub output.

The hand-worked log: four users enter at ``a``; u1 reaches ``b`` 60 s later and u4 180 s
later, so overall conversion is 2/4 = 50% and the median time into s2 is 120 s (2m).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from journeyctl import api
from journeyctl.check import (
    CheckReport,
    Uncomputable,
    breakdown_path,
    breakdowns_named,
    path_problem,
    resolve,
)
from journeyctl.cli import app
from journeyctl.config.models import JourneyConfig, Kpi
from journeyctl.errors import ConfigError, UsageError
from journeyctl.kpi_expr import parse_kpi
from journeyctl.render.github import escape_data, escape_property, render_annotations, render_step_summary
from journeyctl.render.junit import render_junit
from tests.events import funnel, log

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"
TINY = str(DATA / "tiny_store.csv")  # users per stage 3, 2, 1, 1: overall conversion 1/3
TINY_YAML = str(DATA / "tiny_store.yaml")
runner = CliRunner()

HALF = log(
    ("u1", 0, "a"),
    ("u1", 60, "b"),
    ("u2", 0, "a"),
    ("u3", 0, "a"),
    ("u4", 0, "a"),
    ("u4", 180, "b"),
)


def with_kpis(kpis: str) -> JourneyConfig:
    return funnel("a", "b", extra=f"kpis:\n{kpis}")


def statuses(report: CheckReport) -> list[str]:
    return [v.status.value for v in report.verdicts]


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


# verdicts


def test_kpi_within_its_bound_passes_with_exit_0() -> None:
    report = api.check(HALF, with_kpis("  - {metric: overall_conversion, min: 0.4}"))
    assert statuses(report) == ["PASS"] and report.exit_code == 0
    assert report.verdicts[0].actual == 0.5 and report.verdicts[0].message == ""


def test_breached_warn_kpi_warns_but_exits_0() -> None:
    report = api.check(HALF, with_kpis("  - {metric: overall_conversion, min: 0.6, severity: warn}"))
    assert statuses(report) == ["WARN"] and report.exit_code == 0
    assert report.verdicts[0].message == "actual 50.0% < min 60.0%"


def test_breached_fail_kpi_fails_with_exit_1() -> None:
    report = api.check(HALF, with_kpis("  - {metric: stages.s2.users, max: 1}"))
    assert statuses(report) == ["FAIL"] and report.exit_code == 1
    assert report.verdicts[0].message == "actual 2 > max 1"
    assert (report.passed, report.warned, report.failed, report.errors) == (0, 0, 1, 0)


def test_fail_on_warn_makes_warnings_fail() -> None:
    journey = with_kpis("  - {metric: overall_conversion, min: 0.6, severity: warn}")
    report = api.check(HALF, journey, fail_on="warn")
    assert statuses(report) == ["WARN"] and report.exit_code == 1


@pytest.mark.parametrize(
    ("fail_min", "expected"),
    [(0.4, "WARN"), (0.55, "FAIL")],
)
def test_fail_bound_is_judged_before_the_warn_bound(fail_min: float, expected: str) -> None:
    journey = with_kpis(
        f"  - metric: overall_conversion\n    warn: {{min: 0.6}}\n    fail: {{min: {fail_min}}}"
    )
    report = api.check(HALF, journey)
    assert statuses(report) == [expected]
    assert report.exit_code == (1 if expected == "FAIL" else 0)


@pytest.mark.parametrize(
    ("expr", "status"),
    [
        ("overall_conversion>=0.5", "PASS"),
        ("overall_conversion>=50.1%", "FAIL"),
        ("overall_conversion<=0.5", "PASS"),
        ("overall_conversion<=0.499", "FAIL"),
        ("overall_conversion>0.5", "FAIL"),
        ("overall_conversion>0.499", "PASS"),
        ("overall_conversion<0.5", "FAIL"),
        ("overall_conversion<0.501", "PASS"),
        ("overall_conversion==50%", "PASS"),
        ("overall_conversion==0.51", "FAIL"),
        ("stages.s2.median_time_to_convert_s<=2m", "PASS"),
        ("stages.s2.median_time_to_convert_s<2m", "FAIL"),
        ("stages.s2.median_time_to_convert_s>=120", "PASS"),
    ],
)
def test_each_operator_at_its_boundary(expr: str, status: str) -> None:
    report = api.check(HALF, funnel("a", "b"), kpis=[expr])
    assert statuses(report) == [status]


def test_breach_messages_show_the_unit_and_enough_digits() -> None:
    report = api.check(
        HALF,
        funnel("a", "b"),
        kpis=["overall_conversion>=50.1%", "stages.s2.median_time_to_convert_s<2m", "overall_conversion>0.5"],
    )
    assert [v.message for v in report.verdicts] == [
        "actual 50.0% < min 50.1%",
        "actual 2m >= 2m",
        "actual 50.0% <= 50.0%",
    ]


def test_duration_thresholds_in_yaml_are_seconds() -> None:
    report = api.check(HALF, with_kpis("  - {metric: stages.s2.median_time_to_convert_s, max: 1m}"))
    assert report.verdicts[0].fail is not None and report.verdicts[0].fail.max == 60
    assert report.verdicts[0].message == "actual 2m > max 1m"


def test_metric_nobody_entered_for_is_an_error_that_fails() -> None:
    nobody = log(("u1", 0, "x"))
    journey = with_kpis(
        "  - {metric: overall_conversion, min: 0.1, severity: warn}\n"
        "  - {metric: stages.s2.median_time_to_convert_s, max: 1h}"
    )
    report = api.check(nobody, journey)
    assert statuses(report) == ["ERROR", "ERROR"] and report.exit_code == 1
    assert [v.message for v in report.verdicts] == [
        "undefined: its denominator is 0 (nobody to convert, e.g. zero users entered)",
        "undefined: nobody reached this stage, so there is no time to convert",
    ]
    assert report.verdicts[0].actual is None


def test_step_conversion_of_the_first_stage_is_an_error_in_words() -> None:
    report = api.check(HALF, funnel("a", "b"), kpis=["stages.s1.conversion>0"])
    assert report.verdicts[0].message == "undefined: 's1' is the first stage, there is no step into it"


def test_no_kpis_at_all_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="no KPIs to check"):
        api.check(HALF, funnel("a", "b"))


# metric paths


BREAKDOWN = {
    "overall_conversion": 0.5,
    "stages": [{"id": "s1", "users": 4}, {"id": "s2", "users": 2}],
    "breakdowns": [
        {
            "column": "channel",
            "attribution": "first_touch",
            "values": [
                {
                    "value": "email",
                    "users": 3,
                    "overall_conversion": 1 / 3,
                    "stages": [{"id": "s2", "users": 1}],
                },
                {"value": "news.example.com", "users": 1, "overall_conversion": None, "stages": []},
            ],
        }
    ],
}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("overall_conversion", 0.5),
        ("stages.s2.users", 2),
        ("by.channel.email.overall_conversion", 1 / 3),
        ("by.channel.email.stages.s2.users", 1),
        ("by.channel.email.users", 3),
    ],
)
def test_paths_resolve_generically_over_the_result(path: str, value: float) -> None:
    assert resolve(BREAKDOWN, path) == value


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("by.channel.social.overall_conversion", "no user has channel 'social' in this data"),
        ("by.segment.vip.overall_conversion", "the result has no breakdown by segment"),
        ("by.channel.news.example.com.overall_conversion", "undefined: its denominator is 0"),
        ("stages.s3.users", "there is no stage 's3' in the result"),
    ],
)
def test_paths_that_cannot_be_computed_say_why(path: str, reason: str) -> None:
    with pytest.raises(Uncomputable, match=reason.replace("(", r"\(")):
        resolve(BREAKDOWN, path)


def test_breakdown_paths_are_checked_for_form_only() -> None:
    journey = funnel("a", "b", extra="columns: {properties: [channel]}")
    assert path_problem("by.channel.news.example.com.stages.s2.conversion", journey) is None
    assert path_problem("by.chanel.email.users", journey) == (
        "'chanel' is not a mapped property column",
        "breakdown columns: channel",
    )
    assert path_problem("by.channel.email.userz", journey) == (
        "'by.channel.email.userz' does not end in a value and a metric path",
        "write by.channel.<value>.<path>, e.g. by.channel.email.overall_conversion",
    )


def test_a_breakdown_path_splits_at_its_first_dot_and_its_columns_at_the_slash() -> None:
    # the column has no dot, so everything after the first dot is value and path
    assert breakdown_path("by.channel/segment.news.example.com/new.users") == (
        ["channel", "segment"],
        "news.example.com/new.users",
    )
    assert breakdown_path("stages.by.users") is None
    kpis = [Kpi(metric=m, min=0) for m in ("by.channel.a.users", "bounce_rate", "by.a/b.x/y.users")]
    assert breakdowns_named(kpis) == [["channel"], ["a", "b"]]


def test_unknown_path_in_the_config_names_its_line_and_the_nearest_match() -> None:
    with pytest.raises(ConfigError) as caught:
        with_kpis(
            "  - metric: overall_conversion\n    min: 0.1\n  - metric: stages.s2.conversoin\n    min: 0.1"
        )
    err = caught.value
    assert (err.where, err.message) == (
        "test.yaml:10",
        "kpis[1].metric: unknown metric path 'stages.s2.conversoin'",
    )
    assert err.hint is not None and err.hint.startswith("did you mean `stages.s2.conversion`")
    assert "stages.<id>.<field> with ids s1, s2 and fields users, conversion," in err.hint


@pytest.mark.parametrize(
    ("kpi", "message"),
    [
        (
            "{metric: bounce_rate, max: 2h}",
            "'2h' is not a threshold for bounce_rate; write a number or a percentage",
        ),
        ("{metric: bounce_rate}", "a KPI needs a bound"),
        ("{metric: bounce_rate, max: .inf}", "inf is not a threshold for bounce_rate; write a finite number"),
        ("{metric: bounce_rate, max: 0.5, warn: {max: 0.4}}", "give either `min`/`max` with a `severity`"),
        ("{metric: bounce_rate, min: 0.6, max: 0.5}", "the lower limit 0.6 is above the upper limit 0.5"),
        ("{metric: bounce_rate, max: 0.5, severity: error}", "Input should be 'fail' or 'warn'"),
    ],
)
def test_inconsistent_kpis_are_config_errors(kpi: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        with_kpis(f"  - {kpi}")


# the --kpi grammar


def test_kpi_expressions_become_kpis() -> None:
    journey = funnel("a", "b")
    kpi = parse_kpi(" warn: overall_conversion >= 2% ", journey)
    assert (kpi.metric, kpi.warn, kpi.fail) == ("overall_conversion", kpi.warn, None)
    assert kpi.warn is not None and kpi.warn.limits() == [(">=", 0.02)]
    assert parse_kpi("stages.s2.median_time_to_convert_s<2h", journey).bounds()["fail"].limits() == [
        ("<", 7200.0)
    ]
    assert parse_kpi("stages.s2.users==3", journey).bounds()["fail"].limits() == [(">=", 3.0), ("<=", 3.0)]


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("overall_conversion=>0.02", "--kpi 'overall_conversion=>0.02': not a KPI expression"),
        ("overall_conversion>=", "--kpi 'overall_conversion>=': not a KPI expression"),
        ("__import__('os')>=1", "--kpi \"__import__('os')>=1\": unknown metric path \"__import__('os')\""),
        (
            "overall_convresion>=0.1",
            "--kpi 'overall_convresion>=0.1': unknown metric path 'overall_convresion'",
        ),
        (
            "overall_conversion>=nan",
            "--kpi 'overall_conversion>=nan': 'nan' is not a threshold for overall_conversion; "
            "write a finite number",
        ),
        (
            "overall_conversion>=1h",
            "--kpi 'overall_conversion>=1h': '1h' is not a threshold for overall_conversion",
        ),
    ],
)
def test_bad_kpi_expressions_are_usage_errors(expr: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_kpi(expr, funnel("a", "b"))
    assert str(caught.value).startswith(message)


# CI formats


def mixed_report(fail_on: str = "fail") -> CheckReport:
    return api.check(
        HALF,
        funnel("a", "b"),
        kpis=[
            "overall_conversion>=0.4",
            "warn:overall_conversion>=0.6",
            "stages.s2.users<=1",
            "stages.s1.conversion>0",
        ],
        fail_on=fail_on,  # type: ignore[arg-type]
    )


def test_junit_has_one_case_per_kpi_and_failures_for_fail_and_error() -> None:
    root = ET.fromstring(render_junit(mixed_report()))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "journeyctl KPIs"
    assert (suite.get("tests"), suite.get("failures")) == ("4", "2")
    cases = suite.findall("testcase")
    assert [c.get("classname") for c in cases] == ["Journey"] * 4
    assert [c.find("failure") is not None for c in cases] == [False, False, True, True]
    failure = cases[2].find("failure")
    assert failure is not None and failure.get("message") == "actual 2 > max 1"
    error = cases[3].find("failure")
    assert error is not None and error.get("type") == "ERROR"
    assert error.get("message", "").startswith("cannot compute stages.s1.conversion: undefined")
    warning = cases[1].find("system-out")
    assert warning is not None and (warning.text or "").startswith("warning: overall_conversion: WARN")


def test_junit_counts_warnings_as_failures_with_fail_on_warn() -> None:
    suite = ET.fromstring(render_junit(mixed_report("warn"))).find("testsuite")
    assert suite is not None and suite.get("failures") == "3"


def test_github_escaping_follows_the_workflow_command_rules() -> None:
    assert escape_data("50% of\r\nusers: a, b") == "50%25 of%0D%0Ausers: a, b"
    assert escape_property("50% of\nusers: a, b") == "50%25 of%0Ausers%3A a%2C b"


def test_github_annotations_for_everything_that_did_not_pass() -> None:
    assert render_annotations(mixed_report()) == (
        "::warning title=KPI WARN%3A overall_conversion::actual 50.0%25 < min 60.0%25\n"
        "::error title=KPI FAIL%3A stages.s2.users::actual 2 > max 1\n"
        "::error title=KPI ERROR%3A stages.s1.conversion::cannot compute: "
        "undefined: 's1' is the first stage, there is no step into it\n"
    )


def test_step_summary_is_a_markdown_table_with_inert_cells() -> None:
    journey = funnel("a", "b", extra="name: 'A|B <b>'")
    summary = render_step_summary(api.check(HALF, journey, kpis=["stages.s2.users<=1"]))
    assert summary.splitlines()[:5] == [
        "### KPI check: A\\|B \\<b\\>",
        "",
        "| KPI | actual | bound | severity | verdict | why |",
        "|---|---:|---|---|---|---|",
        "| stages.s2.users | 2 | max 1 | fail | ❌ FAIL | actual 2 \\> max 1 |",
    ]
    assert "**0 passed · 0 warnings · 1 failed · 0 errors → exit 1**" in summary


# the real command


def test_check_prints_the_verdict_table_and_exits_1_on_a_failed_kpi() -> None:
    code, out, err = run(
        "check",
        TINY,
        "-c",
        TINY_YAML,
        "--kpi",
        "overall_conversion>=0.3",
        "--kpi",
        "stages.purchase.users>=2",
    )
    assert (code, err) == (1, "")
    assert "overall_conversion" in out and "33.3%" in out and "PASS" in out
    assert "FAIL" in out and "actual 1 < min 2" in out
    assert out.rstrip().endswith("1 passed · 0 warnings · 1 failed · 0 errors → exit 1")


def test_check_exit_codes_through_the_cli() -> None:
    assert run("check", TINY, "-c", TINY_YAML, "--kpi", "warn:overall_conversion>=0.5")[0] == 0
    assert (
        run("check", TINY, "-c", TINY_YAML, "--kpi", "warn:overall_conversion>=0.5", "--fail-on", "warn")[0]
        == 1
    )


def test_bad_kpi_expression_exits_2_with_one_message() -> None:
    code, out, err = run("check", TINY, "-c", TINY_YAML, "--kpi", "overall_conversion=>1")
    assert (code, out) == (2, "")
    assert err == (
        "error: --kpi 'overall_conversion=>1': not a KPI expression\n"
        "  hint: write METRIC OP VALUE with OP one of >= <= > < ==, e.g. --kpi 'overall_conversion>=0.02'\n"
    )


def test_unknown_metric_in_the_config_exits_2_naming_its_line(tmp_path: Path) -> None:
    config = tmp_path / "journey.yaml"
    config.write_text(Path(TINY_YAML).read_text() + "kpis:\n  - metric: bounce_rat\n    max: 0.5\n")
    code, out, err = run("check", TINY, "-c", str(config))
    assert (code, out) == (2, "")
    assert err.startswith(
        f"error: {config}:11: kpis[0].metric: unknown metric path 'bounce_rat'\n"
        "  hint: did you mean `bounce_rate`?"
    )


def test_json_report_and_junit_file_are_written(tmp_path: Path) -> None:
    report_file, junit_file = tmp_path / "kpi.json", tmp_path / "kpi.xml"
    code, out, err = run(
        "check", TINY, "-c", TINY_YAML, "--kpi", "overall_conversion>=0.3",
        "-f", "json", "-o", str(report_file), "--junit", str(junit_file),
    )  # fmt: skip
    assert (code, out, err) == (0, "", "")
    data: dict[str, Any] = json.loads(report_file.read_text())
    assert (data["schema_version"], data["exit_code"], data["passed"]) == (1, 0, 1)
    assert data["verdicts"][0] | {"actual": None} == {
        "metric": "overall_conversion",
        "description": None,
        "source": "command line",
        "unit": "rate",
        "actual": None,
        "fail": {"min": 0.3, "max": None, "gt": None, "lt": None},
        "warn": None,
        "status": "PASS",
        "message": "",
    }
    suite = ET.parse(junit_file).getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("1", "0")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kpi.json", "kpi.xml"]  # no temporary files


def test_github_actions_gets_annotations_and_a_step_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, out, err = run("check", TINY, "-c", TINY_YAML, "--kpi", "stages.purchase.users>=2")
    assert (code, err) == (1, "")
    assert out.endswith("::error title=KPI FAIL%3A stages.purchase.users::actual 1 < min 2\n")
    assert summary.read_text().startswith("earlier step\n### KPI check: Test store\n")


def test_a_step_summary_that_is_a_directory_is_refused_before_the_analysis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path))
    code, out, err = run("check", TINY, "-c", TINY_YAML, "--kpi", "stages.purchase.users>=2")
    assert (code, out) == (2, "")  # no verdict table printed before the refusal
    assert err == (
        f"error: {tmp_path}: GITHUB_STEP_SUMMARY is a directory\n"
        "  hint: point GITHUB_STEP_SUMMARY at a file, or unset it\n"
    )


def test_github_annotations_leave_json_on_stdout_parseable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    code, out, err = run("check", TINY, "-c", TINY_YAML, "--kpi", "stages.purchase.users>=2", "-f", "json")
    assert code == 1 and json.loads(out)["failed"] == 1
    assert err == "::error title=KPI FAIL%3A stages.purchase.users::actual 1 < min 2\n"


def test_no_annotations_outside_github_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "false")
    code, out, err = run("check", TINY, "-c", TINY_YAML, "--kpi", "stages.purchase.users>=2")
    assert code == 1 and "::error" not in out + err


# the sample configs


@pytest.mark.parametrize(
    ("events", "config"),
    [("store_events.csv", "ecommerce.yaml"), ("saas_events.csv", "saas.yaml")],
)
def test_sample_kpis_pass_on_the_sample_data(events: str, config: str) -> None:
    code, out, err = run("check", str(ROOT / "sample_data" / events), "-c", str(ROOT / "configs" / config))
    assert (code, err) == (0, "")
    assert "0 warnings · 0 failed · 0 errors → exit 0" in out


def test_a_breached_sample_kpi_turns_the_exit_code_to_1(tmp_path: Path) -> None:
    config = tmp_path / "ecommerce.yaml"
    text = (ROOT / "configs" / "ecommerce.yaml").read_text()
    config.write_text(
        text.replace("  - metric: bounce_rate\n    max: 0.55", "  - metric: bounce_rate\n    max: 0.40")
    )
    code, out, _ = run("check", str(ROOT / "sample_data" / "store_events.csv"), "-c", str(config))
    assert code == 1 and "actual 45.5% > max 40.0%" in out


def test_annotation_text_from_the_config_cannot_inject_workflow_commands() -> None:
    journey = with_kpis('  - {metric: stages.s2.users, max: 1, description: "100%\\n::error::injected"}')
    assert render_annotations(api.check(HALF, journey)) == (
        "::error title=KPI FAIL%3A stages.s2.users::actual 2 > max 1 (100%25%0A::error::injected)\n"
    )


def test_config_without_kpis_exits_2() -> None:
    code, out, err = run("check", TINY, "-c", TINY_YAML)
    assert (code, out) == (2, "")
    assert err == (
        "error: kpis: no KPIs to check\n"
        "  hint: add a `kpis:` list to the journey YAML or pass --kpi 'overall_conversion>=0.02'\n"
    )


def test_junit_and_report_may_not_share_a_file(tmp_path: Path) -> None:
    target = tmp_path / "kpi.out"
    code, out, err = run(
        "check", TINY, "-c", TINY_YAML, "--kpi", "users>=1", "-o", str(target), "--junit", str(target)
    )
    assert (code, out) == (2, "")
    assert err == f"error: {target}: --junit and -o name the same file\n  hint: give each its own file\n"
    assert not target.exists()
